"""Names to implementations across model families: :func:`load_scorer` reads a model file of either kind (once)
and returns its :class:`~hvppi.scoring.interface.Scorer`; :func:`load_embedder` returns an embedder by name,
whether a pretrained protein language model (:mod:`hvppi.pretrained`) or a part of hvppi's BiLSTM model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hvppi.registry.models import load_scorer

if TYPE_CHECKING:
    from hvppi.registry.embedders import load_embedder

__all__ = ["load_embedder", "load_scorer"]


def __getattr__(name: str) -> Any:
    if name == "load_embedder":  # PyTorch and the embedders are imported when first asked for, not for a screen
        from hvppi.registry.embedders import load_embedder

        return load_embedder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

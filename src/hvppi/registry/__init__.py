"""Names to implementations across model families: :func:`load_scorer` reads a model file of either kind (once)
and returns its :class:`~hvppi.scoring.interface.Scorer`; :func:`load_embedder` returns an embedder by name,
whether a pretrained protein language model (:mod:`hvppi.pretrained`) or a part of hvppi's BiLSTM model."""

from hvppi.registry.embedders import load_embedder
from hvppi.registry.models import load_scorer

__all__ = ["load_embedder", "load_scorer"]

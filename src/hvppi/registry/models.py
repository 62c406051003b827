"""A model file of either kind, read once, as a :class:`~hvppi.scoring.interface.Scorer`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hvppi.io.bundled import DEFAULT_MODEL, model_kind, resolve_model_path
from hvppi.scoring.interface import Scorer

if TYPE_CHECKING:
    import torch


def load_scorer(
    model: str | os.PathLike | None = None,
    *,
    threads: int = 1,
    device: str | torch.device = "cpu",
    embedding_files: dict[str, str | None] | None = None,
    vector_files: dict[str, str | None] | None = None,
) -> Scorer:
    """The scorer of a model file, or of a bundled model by name (None: ``default``, the screening model).

    ``threads``: CPU threads of the screening model's alignments; ``device``, ``embedding_files`` (side → the
    per-protein H5 the model reads) and ``vector_files`` (side → tower vectors of ``hvppi encode`` to reuse) are
    the BiLSTM model's. Options a model kind does not take are refused with a ValueError naming them.
    """
    path = resolve_model_path(model, DEFAULT_MODEL)
    if model_kind(path) == "screening":
        from hvppi.screening.modelfile import read_screening_model
        from hvppi.screening.scorer import ScreeningScorer

        if any((vector_files or {}).values()):
            raise ValueError("--human-vectors/--virus-vectors are for BiLSTM-attention models, not the screening model")
        given = [f"--{side}-embeddings" for side, p in (embedding_files or {}).items() if p]
        if given:
            raise ValueError(f"{'/'.join(given)} given, but the screening model reads no embeddings; leave it out")
        return ScreeningScorer(read_screening_model(path), threads=threads)
    from hvppi.lstm.modelfile import load_model
    from hvppi.lstm.scorer import InteractionScorer

    network, info = load_model(path, device)
    return InteractionScorer(network, info, device, embedding_files, vector_files)

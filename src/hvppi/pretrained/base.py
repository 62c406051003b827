"""The embedder interface every protein model implements, and the choice of torch device."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch

from hvppi.io.errors import HvppiError

Vectors = tuple[np.ndarray, "list[np.ndarray] | None"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """A torch device from "auto" (CUDA when PyTorch sees one, else the CPU), "cpu", "cuda", "cuda:N"..."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but PyTorch sees no CUDA device")
    return torch.device(device)


class TokenizationError(HvppiError):
    """A sequence (number ``index`` of its batch) that the tokenizer did not turn into one token per residue."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


class Embedder(ABC):
    """Turns a batch of sequences into per-protein vectors (n, dim) and, if asked, per-residue arrays
    (L, residue_dim).

    ``name`` labels the output files, ``fingerprint`` identifies the numbers it makes (a file of another
    fingerprint is never extended), ``pooling`` says how the protein vector is made, ``residue_dim`` is
    the width of a residue's vector (None: ``dim``; ProteinBERT's local track differs from its global one),
    ``max_length`` is the longest sequence it takes (None: no limit) and ``batch_residues`` its default
    batch budget.
    """

    name: str
    fingerprint: str
    dim: int
    pooling: str
    residue_dim: int | None = None
    max_length: int | None = None
    batch_residues = 65536

    @abstractmethod
    def embed(self, sequences: Sequence[str], residues: bool = False) -> Vectors:
        """float32 vectors (n, dim) and, with ``residues``, a list of float32 (L_i, residue_dim) arrays."""


def length_batches(lengths: np.ndarray, max_residues: int = 65536, max_batch: int = 256) -> list[np.ndarray]:
    """Indices grouped into batches of similar length, longest first, each within a padded-size budget."""
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = max(1, min(max_batch, max_residues // longest))
        batches.append(order[start : start + size])
        start += size
    return batches

"""Per-protein tower vectors in H5 files, so that each protein is encoded once across runs.

Layout: one file per tower. Root attributes: ``format`` = "hvppi-vectors", ``tower`` ("human" or
"virus"), ``model_sha256`` (the SHA-256 of the model file that made the vectors) and
``hvppi_version``. One float32 dataset of shape (64,) per protein, named by the protein ID ('/'
written as '%2F'), with attributes ``id`` and ``sequence_sha256``.

A file made by another model is refused; a protein whose sequence changed since it was encoded is
encoded again, never read from the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from hvppi._version import __version__
from hvppi.io.errors import InputError
from hvppi.io.h5layout import dataset_key, sequence_sha256, write_protein_array
from hvppi.ppi.model import TowerName, check_tower

FORMAT = "hvppi-vectors"


class VectorStore:
    """Read-write access to an H5 vector file for one tower of one model."""

    def __init__(self, path: str | os.PathLike, tower: TowerName, model_sha256: str, create: bool = True) -> None:
        self.path = Path(path)
        check_tower(tower)
        if not self.path.exists() and not create:
            raise InputError("vector file not found", self.path)
        try:
            self.file = h5py.File(self.path, "a")
        except OSError as exc:
            raise InputError(f"not a readable H5 file ({exc})", self.path) from None
        attrs = self.file.attrs
        if len(self.file.keys()) == 0 and "format" not in attrs:
            attrs.update({"format": FORMAT, "tower": tower, "model_sha256": model_sha256, "hvppi_version": __version__})
        found = {key: attrs.get(key) for key in ("format", "tower", "model_sha256")}
        problem = None
        if found["format"] != FORMAT:
            problem = "not an hvppi vector file"
        elif found["tower"] != tower:
            problem = f"holds {found['tower']} tower vectors, not {tower}"
        elif found["model_sha256"] != model_sha256:
            problem = "these vectors were made by another model (model SHA-256 differs); use another file or delete it"
        if problem:
            self.file.close()
            raise InputError(problem, self.path)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, sequences: dict[str, str]) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
        """Stored vectors of the proteins whose sequence is unchanged; IDs missing; IDs whose sequence changed."""
        found, missing, changed = {}, [], []
        for pid, seq in sequences.items():
            dataset = self.file.get(dataset_key(pid))
            if dataset is None:
                missing.append(pid)
            elif dataset.attrs["sequence_sha256"] != sequence_sha256(seq):
                changed.append(pid)
            else:
                found[pid] = dataset[()]
        return found, missing, changed

    def store(self, sequences: dict[str, str], vectors: dict[str, np.ndarray]) -> None:
        """Write the ``vectors`` of these proteins (with their sequences' SHA-256) and flush the file."""
        for pid, vector in vectors.items():
            write_protein_array(self.file, pid, vector, sequences[pid], id_attribute="id")
        self.file.flush()

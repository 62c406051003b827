"""Per-protein tower vectors in H5 files, so that each protein is encoded once across runs.

Layout: one file per tower. Root attributes: ``format`` = "hvppi-vectors", ``tower`` ("human" or
"virus"), ``model_sha256`` (the SHA-256 of the model file that made the vectors) and
``hvppi_version``. One float32 dataset of shape (64,) per protein, named by the protein ID ('/'
written as '%2F'), with attributes ``id`` and ``sequence_sha256``.

A file made by another model is refused; a protein whose sequence changed since it was encoded is
encoded again, never read from the file; a stored vector that is not a one-dimensional array of real
numbers of the model's width (or, with the width not given, of the width of the file's other vectors), or
not finite, is an error naming the file and the protein.

The file is never changed in place: each :meth:`VectorStore.store` writes a copy with the new vectors
beside it (``.NAME.*.part``) and renames it over the file, so a kill or a full disk leaves the vectors
already stored intact (and a new store is only created once it is complete). The output lock
(``.NAME.lock``) keeps a second process from writing the same file while a store is open.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections import Counter
from pathlib import Path

import h5py
import numpy as np

from hvppi._version import __version__
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_path, ensure_space, output_lock
from hvppi.io.h5layout import PER_DATASET_BYTES, dataset_key, sequence_sha256, write_protein_array
from hvppi.io.orphans import remove_orphaned_parts
from hvppi.lstm.model import TowerName, check_tower

FORMAT = "hvppi-vectors"


class VectorStore:
    """Read-write access to an H5 vector file for one tower of one model (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike,
        tower: TowerName,
        model_sha256: str,
        create: bool = True,
        width: int | None = None,
    ) -> None:
        """``width``: the length of the model's tower vectors (``config.protein_dim``), checked by :meth:`lookup`."""
        self.path = Path(path)
        self.width = width
        check_tower(tower)
        self.attrs = {"format": FORMAT, "tower": tower, "model_sha256": model_sha256, "hvppi_version": __version__}
        if not self.path.exists() and not create:
            raise InputError("vector file not found", self.path)
        if self.path.is_dir():
            raise InputError("is a directory, not a vector file; give the path of an .h5 file", self.path)
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(output_lock(self.path))
        remove_orphaned_parts(self.path)  # copies of the store left by a killed writer
        self.file: h5py.File | None = None
        try:
            self._open()
        except BaseException:
            self._lock.close()
            raise

    def _open(self) -> None:
        """Open the file on disk for reading (none yet: an empty store) and check whose vectors it holds."""
        if not self.path.exists():
            self.file = None
            return
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as exc:
            raise InputError(f"not a readable H5 file ({exc})", self.path) from None
        attrs = self.file.attrs
        found = {key: attrs.get(key) for key in ("format", "tower", "model_sha256")}
        problem = None
        if len(self.file.keys()) == 0 and found["format"] is None:
            return  # an empty H5 file (as h5py creates): it becomes a vector file on the first store
        if found["format"] != FORMAT:
            problem = "not an hvppi vector file"
        elif found["tower"] != self.attrs["tower"]:
            problem = f"holds {found['tower']} tower vectors, not {self.attrs['tower']}"
        elif found["model_sha256"] != self.attrs["model_sha256"]:
            problem = "these vectors were made by another model (model SHA-256 differs); use another file or delete it"
        if problem:
            self.file.close()
            self.file = None
            raise InputError(problem, self.path)

    def close(self) -> None:
        """Close the file and release the output lock; a store that stored nothing writes an empty vector file."""
        try:
            if self.file is None and not self.path.exists():
                self._write({}, {})
        finally:
            if self.file is not None:
                self.file.close()
                self.file = None
            self._lock.close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, sequences: dict[str, str]) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
        """Stored vectors of the proteins whose sequence is unchanged; IDs missing; IDs whose sequence changed.

        A stored vector that is not finite or not a one-dimensional array of real numbers of the store's ``width``
        (when not given: of the width most of the looked-up vectors have), or a dataset without its sequence
        hash, is an InputError naming the file and the protein."""
        found, missing, changed = {}, [], []
        for pid, seq in sequences.items():
            dataset = None if self.file is None else self.file.get(dataset_key(pid))
            if not isinstance(dataset, h5py.Dataset):
                missing.append(pid)
                continue
            stored_sha = dataset.attrs.get("sequence_sha256")
            if stored_sha is None:
                raise InputError(
                    "the stored vector has no sequence_sha256 attribute; delete the file and encode again",
                    self.path,
                    protein_id=pid,
                )
            if stored_sha != sequence_sha256(seq):
                changed.append(pid)
                continue
            self._check_layout(dataset, pid)  # before reading: a string or huge dataset is never read
            vector = dataset[()]
            if not np.all(np.isfinite(vector)):
                raise InputError(
                    "the stored vector is not finite (NaN or infinity); delete the file and encode again",
                    self.path,
                    protein_id=pid,
                )
            found[pid] = vector
        self._check_widths(found)
        return found, missing, changed

    def _check_layout(self, dataset: h5py.Dataset, pid: str) -> None:
        """InputError naming the file and ``pid`` unless ``dataset`` is a vector of real numbers (of ``width``)."""
        dtype, shape = dataset.dtype, dataset.shape
        problem = None
        if dtype.kind not in "fiu":
            problem = f"the stored vector is not numeric (dtype {dtype})"
        elif shape is None or len(shape) != 1 or (self.width is not None and shape != (self.width,)):
            expected = f"({self.width},)" if self.width is not None else "one dimension"
            problem = f"the stored vector has shape {shape}, not {expected}"
        if problem is not None:
            raise InputError(f"{problem}; delete the file and encode again", self.path, protein_id=pid)

    def _check_widths(self, found: dict[str, np.ndarray]) -> None:
        """Without a known width: InputError naming the first protein whose vector is not as long as most (the
        vectors of one lookup are stacked into one array)."""
        if self.width is not None or not found:
            return
        widths = Counter(len(vector) for vector in found.values())
        if len(widths) == 1:
            return
        usual = widths.most_common(1)[0][0]
        pid = next(p for p, vector in found.items() if len(vector) != usual)
        other = next(p for p, vector in found.items() if len(vector) == usual)
        raise InputError(
            f"the stored vector has {len(found[pid])} values, but the vector of {other!r} has {usual}; "
            "delete the file and encode again",
            self.path,
            protein_id=pid,
        )

    def store(self, sequences: dict[str, str], vectors: dict[str, np.ndarray]) -> None:
        """Add (or replace) the ``vectors`` of these proteins, with their sequences' SHA-256.

        Copy-on-write: the file with the new vectors is written beside the old one and renamed over it,
        so a failure at any point leaves the file as it was. A full disk is an InputError."""
        for pid, vector in vectors.items():
            if not np.all(np.isfinite(np.asarray(vector, dtype=np.float64))):
                raise ValueError(f"the vector of {pid!r} is not finite (NaN or infinity); it is not stored")
        if not vectors and self.file is not None:
            return
        self._write(sequences, vectors)

    def _write(self, sequences: dict[str, str], vectors: dict[str, np.ndarray]) -> None:
        old = self.path.stat().st_size if self.file is not None else 0
        new_bytes = sum(np.asarray(v).nbytes for v in vectors.values()) + PER_DATASET_BYTES * len(vectors)
        try:
            ensure_space(self.path, old + new_bytes)  # HDF5 meets a full disk with a crash, not an error
            with atomic_path(self.path) as tmp:
                if self.file is not None:
                    shutil.copyfile(self.path, tmp)
                with h5py.File(tmp, "a" if self.file is not None else "w") as new:
                    if "format" not in new.attrs:
                        new.attrs.update(self.attrs)
                    for pid, vector in vectors.items():
                        write_protein_array(new, pid, vector, sequences[pid], id_attribute="id")
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
        except OSError as exc:
            if exc.errno == errno.ENOSPC or "No space" in str(exc):
                raise InputError(
                    "the disk is full; the vectors already stored are kept; free some space and run again", self.path
                ) from None
            raise
        if self.file is not None:
            self.file.close()
        self._open()

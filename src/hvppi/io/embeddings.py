"""Per-protein embeddings of ``hvppi embed`` read as model inputs.

An embedding file (layout: :mod:`hvppi.io.h5layout`; root attributes ``format`` = "hvppi-embeddings",
``embedder``, ``embedder_fingerprint``, ``level``, ``dim``) is read at per-protein level only, for the
proteins asked for: a protein the file lacks, one embedded from another sequence, or a vector that is
not finite is an InputError naming the file and the ID. :class:`EmbeddingSource` names the embedder
(label and fingerprint) so a model can refuse numbers of another one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from hvppi.io.errors import InputError
from hvppi.io.h5layout import dataset_key, sequence_sha256

FORMAT = "hvppi-embeddings"
_DAMAGE = (OSError, RuntimeError, KeyError, ValueError, TypeError)


@dataclass(frozen=True)
class EmbeddingSource:
    """The embedder of a set of per-protein vectors: its label, its fingerprint and the vectors' size."""

    name: str
    fingerprint: str
    dim: int
    path: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        """'NAME (fingerprint 0123456789ab)': the label and the first 12 characters of the fingerprint."""
        return f"{self.name} (fingerprint {self.fingerprint[:12]})"

    def to_dict(self) -> dict:
        """What a model file records of it."""
        return {"embedder": self.name, "fingerprint": self.fingerprint, "dim": self.dim}

    @classmethod
    def from_dict(cls, data: object) -> EmbeddingSource:
        """From :meth:`to_dict`'s data; anything else is a ValueError."""
        if not isinstance(data, dict) or set(data) != {"embedder", "fingerprint", "dim"}:
            raise ValueError(f"an embedder entry must have exactly embedder, fingerprint and dim, got {data!r}")
        name, fingerprint, dim = data["embedder"], data["fingerprint"], data["dim"]
        if not isinstance(name, str) or not name or len(name) > 1000:
            raise ValueError(f"embedder must be a non-empty name, got {name!r}")
        if not isinstance(fingerprint, str) or not fingerprint or len(fingerprint) > 1000:
            raise ValueError(f"embedder fingerprint must be a non-empty string, got {fingerprint!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"embedding dim must be a positive integer, got {dim!r}")
        return cls(name, fingerprint, dim)


@dataclass(frozen=True)
class ProteinEmbeddings:
    """Per-protein vectors of one embedder: ``matrix`` (n, dim) float32, row i for ``ids[i]``."""

    ids: tuple[str, ...]
    matrix: np.ndarray
    source: EmbeddingSource
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.matrix.ndim != 2 or self.matrix.shape != (len(self.ids), self.source.dim):
            raise ValueError(f"matrix of shape {self.matrix.shape} for {len(self.ids)} IDs of dim {self.source.dim}")
        object.__setattr__(self, "index", {pid: i for i, pid in enumerate(self.ids)})

    def rows(self, ids: Iterable[str]) -> np.ndarray:
        """Row numbers of ``ids``; an ID without a vector is an InputError naming the file."""
        try:
            return np.fromiter((self.index[pid] for pid in ids), dtype=np.int64)
        except KeyError as exc:
            raise InputError("no embedding of this protein here", self.source.path, protein_id=exc.args[0]) from None

    def vectors(self, ids: Iterable[str]) -> np.ndarray:
        """(len(ids), dim) float32 vectors of ``ids``, in their order."""
        return self.matrix[self.rows(ids)]


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


def _open(path: Path) -> h5py.File:
    if path.is_dir():
        raise InputError("is a directory, not an embedding file; give the path of the .h5 file", path)
    if not path.is_file():
        raise InputError("embedding file not found", path)
    try:
        return h5py.File(path, "r")
    except _DAMAGE as exc:
        raise InputError(f"not a readable H5 file ({exc})", path) from None


def _source(fh: h5py.File, path: Path) -> EmbeddingSource:
    attrs = fh.attrs
    if _text(attrs.get("format")) != FORMAT:
        raise InputError(
            "not an hvppi embeddings file (no format='hvppi-embeddings'); make it with 'hvppi embed'", path
        )
    level = _text(attrs.get("level"))
    if level != "protein":
        raise InputError(
            f"a {level}-level embedding file; give the per-protein file of 'hvppi embed' (its --out)", path
        )
    name, fingerprint, dim = _text(attrs.get("embedder")), _text(attrs.get("embedder_fingerprint")), attrs.get("dim")
    if not name or not fingerprint:
        raise InputError("the file does not name its embedder (embedder, embedder_fingerprint attributes)", path)
    try:
        dim = int(dim)
    except (TypeError, ValueError):
        raise InputError(f"the file's dim attribute is {dim!r}, not a size", path) from None
    if dim < 1:
        raise InputError(f"the file's dim attribute is {dim}, not a positive size", path)
    return EmbeddingSource(name, fingerprint, dim, str(path))


def embedding_source(path: str | os.PathLike) -> EmbeddingSource:
    """The embedder of a per-protein embedding file, from its root attributes alone."""
    path = Path(path)
    with _open(path) as fh:
        return _source(fh, path)


def read_protein_embeddings(
    path: str | os.PathLike, ids: Iterable[str], sequences: Mapping[str, str] | None = None
) -> tuple[np.ndarray, EmbeddingSource]:
    """Vectors (n, dim) float32 of ``ids`` (in their order) from a per-protein embedding file, and its embedder.

    With ``sequences``, each stored ``sequence_sha256`` must match the protein's sequence."""
    path = Path(path)
    ids = list(ids)
    with _open(path) as fh:
        source = _source(fh, path)
        matrix = np.empty((len(ids), source.dim), dtype=np.float32)
        for row, pid in enumerate(ids):
            try:
                dataset = fh.get(dataset_key(pid))
                if not isinstance(dataset, h5py.Dataset):
                    raise InputError("no embedding of this protein in the file; embed it too", path, protein_id=pid)
                if dataset.shape != (source.dim,):
                    raise InputError(
                        f"the embedding has shape {dataset.shape}, the file's dim says ({source.dim},)",
                        path,
                        protein_id=pid,
                    )
                if sequences is not None and pid in sequences:
                    stored = _text(dataset.attrs.get("sequence_sha256"))
                    if stored != sequence_sha256(sequences[pid]):
                        raise InputError(
                            "embedded from another sequence than the one given (sequence SHA-256 differs); "
                            "embed it again",
                            path,
                            protein_id=pid,
                        )
                dataset.id.read(h5py.h5s.ALL, h5py.h5s.ALL, matrix[row])
            except InputError:
                raise
            except _DAMAGE as exc:
                raise InputError(f"cannot read the embedding ({exc})", path, protein_id=pid) from None
            if not np.isfinite(matrix[row]).all():
                raise InputError("the embedding holds NaN or infinite values", path, protein_id=pid)
    return matrix, source


def load_protein_embeddings(
    path: str | os.PathLike, ids: Iterable[str], sequences: Mapping[str, str] | None = None
) -> ProteinEmbeddings:
    """:func:`read_protein_embeddings` of the distinct ``ids``, as a :class:`ProteinEmbeddings`."""
    distinct = tuple(dict.fromkeys(ids))
    matrix, source = read_protein_embeddings(path, distinct, sequences)
    return ProteinEmbeddings(distinct, matrix, source)

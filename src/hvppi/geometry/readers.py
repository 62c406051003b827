"""Read embedding sets from the files users have: H5 in several layouts, NPY and NPZ.

Layouts recognised (by content, not by file name):

* **H5, one dataset per protein at the root**: UniProt's ``per-protein.h5`` (a (d,) dataset per
  accession) and ``per-residue.h5`` (an (L, d) dataset per accession); bio_embeddings' files
  (datasets named by an md5, the protein ID in the attribute ``original_id``); the files
  ``hvppi embed`` writes (the same, with root attributes ``format="hvppi-embeddings"``,
  ``embedder`` and ``level``); and hvppi's own tower vectors (``hvppi encode``, see
  :mod:`hvppi.lstm.vectors`: attribute ``id``, names with '/' written '%2F'). A protein's ID is its
  dataset's ``original_id`` attribute, else its ``id`` attribute, else the dataset name.
  Rank-1 datasets make a per-protein ("protein") file, rank-2 a per-residue ("residue") file.
* **NPY**: one 2-d array; its rows are the points ("rows" level; no protein IDs).
* **NPZ**: either exactly one 2-d array (rows, as NPY) or one array per protein ID, each (d,) or
  each (L, d).

Points of a set: ``global`` (default) is one vector per protein, the mean over residues for a
per-residue file; ``local`` is one point per residue and needs a per-residue file. Rows of NPY and
single-array NPZ files are the points either way. Points stream in chunks of bounded size, so a
per-residue H5 or NPY file of millions of residues is never held in memory (NPY is memory-mapped);
a single-array NPZ, whose member may be compressed, is read whole: convert large ones to NPY.

Errors name the file and the dataset or ID: unreadable or empty files, groups instead of datasets,
wrong rank, a dimension that differs from the first dataset's, non-numeric data, NaN or inf values,
empty per-residue datasets, duplicated IDs where IDs matter.
"""

from __future__ import annotations

import os
import tokenize
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import h5py
import numpy as np

from hvppi.io.errors import InputError
from hvppi.io.files import read_errors

if TYPE_CHECKING:
    from hvppi.geometry.isotropy import IsotropyResult

Level = Literal["protein", "residue", "rows"]
"""What one item of an embedding file is: a protein's vector, a protein's residues, or a bare row."""
Layout = Literal["hvppi-embeddings", "hvppi-vectors", "h5", "npy", "npz-rows", "npz-ids"]

_H5_DAMAGE = (OSError, RuntimeError, KeyError, ValueError, TypeError)
"""What h5py raises on a damaged file: its metadata ('bad symbol table node signature', 'addr overflow')
surfaces as any of these, on opening, listing or reading."""
_NPY_DAMAGE = (ValueError, OSError, EOFError, SyntaxError, TypeError, tokenize.TokenError, zipfile.BadZipFile)
"""What numpy raises on a damaged NPY header (parsed as a Python literal) or array."""
_REPAIR = "copy or write the file again"


@dataclass(frozen=True)
class EmbeddingFileInfo:
    """What an embedding file holds: ``items`` proteins (or rows), ``d`` dimensions."""

    path: str
    layout: Layout
    level: Level
    items: int
    d: int
    embedder: str | None = None


class EmbeddingReader:
    """An open embedding file; scans shapes up front so that errors come before long work.

    Use as a context manager; :func:`open_embeddings` is the usual entry point.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(
                "is a directory, not an embedding file; give the path of the H5, NPY or NPZ file", self.path
            )
        if not self.path.is_file():
            raise InputError("embedding file not found", self.path)
        self._h5: h5py.File | None = None
        self._npz: Any = None  # an open np.lib.npyio.NpzFile
        self._rows: np.ndarray | None = None
        self._entries: list[tuple[str, str]] = []  # (dataset name, protein ID)
        self.info: EmbeddingFileInfo
        try:
            with read_errors(self.path):
                self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        with open(self.path, "rb") as fh:
            magic = fh.read(8)
        if magic == b"\x89HDF\r\n\x1a\n":
            self._open_h5()
        elif magic.startswith(b"\x93NUMPY"):
            self._open_npy()
        elif zipfile.is_zipfile(self.path):
            self._open_npz()
        else:
            raise InputError("not an H5, NPY or NPZ file", self.path)

    # -- opening ----------------------------------------------------------------------------------

    def _fail(self, message: str, protein_id: str | None = None) -> NoReturn:
        self.close()
        raise InputError(message, self.path, protein_id=protein_id)

    def _check_shape(
        self, name: str, pid: str, shape: tuple, dtype: np.dtype, level: Level | None, d: int | None
    ) -> tuple[Level, int]:
        if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
            self._fail(f"dataset {name!r} holds {dtype}, not numbers", pid)
        if len(shape) not in (1, 2):
            self._fail(f"dataset {name!r} has shape {shape}: expected (d,) per protein or (L, d) per residue", pid)
        this_level: Level = "protein" if len(shape) == 1 else "residue"
        if level is not None and this_level != level:
            self._fail(f"dataset {name!r} has shape {shape} but earlier datasets are per-{level}", pid)
        if d is not None and shape[-1] != d:
            self._fail(f"dataset {name!r} has {shape[-1]} dimensions, earlier datasets have {d}", pid)
        if this_level == "residue" and shape[0] == 0:
            self._fail(f"dataset {name!r} has no residues", pid)
        return this_level, shape[-1]

    def _open_h5(self) -> None:
        try:
            self._scan_h5()
        except InputError:
            raise
        except _H5_DAMAGE as exc:
            self._fail(f"damaged or not a readable H5 file ({_short(exc)}); {_REPAIR}")

    def _scan_h5(self) -> None:
        h5 = self._h5 = h5py.File(self.path, "r")
        attrs = h5.attrs
        fmt = _text(attrs.get("format"))
        level: Level | None = None
        d: int | None = None
        for name in h5:
            obj = h5.get(name)
            if not isinstance(obj, h5py.Dataset):
                self._fail(f"{name!r} is a group: expected one dataset per protein at the file's root")
            pid = _text(obj.attrs.get("original_id")) or _text(obj.attrs.get("id")) or name
            level, d = self._check_shape(name, pid, obj.shape, obj.dtype, level, d)
            self._entries.append((name, pid))
        if level is None or d is None:
            self._fail("no embeddings in the file (no datasets at its root)")
        declared = _text(attrs.get("level"))
        if fmt == "hvppi-embeddings" and declared and declared != level:
            self._fail(f"the file says level={declared!r} but its datasets are per-{level}")
        layout: Layout = "h5"
        if fmt == "hvppi-embeddings":
            layout = "hvppi-embeddings"
        elif fmt == "hvppi-vectors":
            layout = "hvppi-vectors"
        self.info = EmbeddingFileInfo(
            str(self.path), layout, level, len(self._entries), d, _text(attrs.get("embedder"))
        )

    def _open_npy(self) -> None:
        try:
            rows = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except _NPY_DAMAGE as exc:
            raise InputError(f"not a readable NPY array ({_short(exc)}); {_REPAIR}", self.path) from None
        self._set_rows(rows, "npy", "the array")

    def _set_rows(self, rows: np.ndarray, layout: Layout, what: str) -> None:
        if rows.ndim != 2:
            self._fail(f"{what} has shape {rows.shape}: expected a 2-d array (points × dimensions)")
        if not (np.issubdtype(rows.dtype, np.floating) or np.issubdtype(rows.dtype, np.integer)):
            self._fail(f"{what} holds {rows.dtype}, not numbers")
        if rows.shape[0] == 0:
            self._fail(f"{what} has no rows")
        self._rows = rows
        self.info = EmbeddingFileInfo(str(self.path), layout, "rows", rows.shape[0], rows.shape[1])

    def _open_npz(self) -> None:
        try:
            self._npz = np.load(self.path, allow_pickle=False)
            headers = _npz_headers(self.path)
        except _NPY_DAMAGE as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"not a readable NPZ file ({_short(exc)}); {_REPAIR}", self.path) from None
        names = list(self._npz.files)
        if not names:
            self._fail("no arrays in the NPZ file")
        foreign = [name for name in names if name not in headers]
        if foreign:
            self._fail(f"member {foreign[0]!r} is not a .npy array")
        if len(names) == 1 and len(headers[names[0]][0]) == 2:
            try:
                rows = self._npz[names[0]]
            except _NPY_DAMAGE as exc:
                self._fail(f"array {names[0]!r} cannot be read ({_short(exc)}); {_REPAIR}")
            self._set_rows(rows, "npz-rows", f"array {names[0]!r}")
            return
        level: Level | None = None
        d: int | None = None
        for name in names:
            shape, dtype = headers[name]
            level, d = self._check_shape(name, name, shape, dtype, level, d)
            self._entries.append((name, name))
        assert level is not None and d is not None  # names is not empty
        self.info = EmbeddingFileInfo(str(self.path), "npz-ids", level, len(names), d)

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None
        if self._npz is not None:
            self._npz.close()
            self._npz = None

    def __enter__(self) -> EmbeddingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    def _array(self, name: str, pid: str, rows: slice | None = None) -> np.ndarray:
        with read_errors(self.path):  # an NPZ member is decompressed here
            try:
                source = self._h5[name] if self._h5 is not None else self._npz[name]
                array = np.asarray(source[()] if rows is None else source[rows])
            except _H5_DAMAGE + _NPY_DAMAGE as exc:
                if isinstance(exc, (InputError, UnicodeDecodeError)):
                    raise
                raise InputError(
                    f"dataset {name!r} cannot be read ({_short(exc)}); {_REPAIR}", self.path, protein_id=pid
                ) from None
        if not np.isfinite(array).all():
            raise InputError(f"dataset {name!r} has a NaN or infinite value", self.path, protein_id=pid)
        return array

    def ids(self) -> list[str]:
        """Protein IDs in file order (an error for files of bare rows)."""
        if self._rows is not None:
            raise InputError(
                "the file has no protein IDs (bare rows); use H5 or an NPZ with one array per ID", self.path
            )
        return [pid for _, pid in self._entries]

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        """(ID, array) per protein, (d,) or (L, d), in file order."""
        self.ids()
        for name, pid in self._entries:
            yield pid, self._array(name, pid)

    def protein_vectors(self, ids: Iterable[str] | None = None) -> tuple[list[str], np.ndarray]:
        """IDs and float64 (n, d) per-protein vectors (means over residues for per-residue files).

        With ``ids``, only those proteins, in that order; an ID not in the file is an error.
        """
        self.ids()
        by_id = {}
        for name, pid in self._entries:
            if pid in by_id:
                raise InputError("the protein ID occurs in two datasets", self.path, protein_id=pid)
            by_id[pid] = name
        wanted = list(by_id) if ids is None else list(ids)
        vectors = np.empty((len(wanted), self.info.d))
        for k, pid in enumerate(wanted):
            if pid not in by_id:
                raise InputError("no embedding for this protein in the file", self.path, protein_id=pid)
            array = self._array(by_id[pid], pid)
            vectors[k] = array.mean(axis=0, dtype=np.float64) if array.ndim == 2 else array
        return wanted, vectors

    def points(
        self, local: bool = False, chunk_rows: int | None = None, progress: bool = False
    ) -> Iterator[np.ndarray]:
        """The points of the set in chunks of about ``chunk_rows`` rows (``local``: one per residue).

        ``chunk_rows`` None: as many rows as fit in 64 MB of float64 (at least 1,024).
        """
        from hvppi.io.progress import iterate

        if chunk_rows is None:
            chunk_rows = default_chunk_rows(self.info.d)
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        if local and self.info.level == "protein":
            raise InputError(
                "--local needs per-residue embeddings, but the file holds one vector per protein", self.path
            )
        if self._rows is not None:
            for start in iterate(
                range(0, self._rows.shape[0], chunk_rows),
                desc=f"reading embeddings ({self.path.name})",
                unit="chunk",
                enabled=progress,
            ):
                chunk = np.asarray(self._rows[start : start + chunk_rows])
                if not np.isfinite(chunk).all():
                    row = start + int(np.argmin(np.isfinite(chunk).all(axis=1)))
                    raise InputError(f"row {row} (0-based) has a NaN or infinite value", self.path)
                yield chunk
            return
        buffer, buffered = [], 0
        for name, pid in iterate(
            self._entries, desc=f"reading embeddings ({self.path.name})", unit="protein", enabled=progress
        ):
            if local:
                whole: np.ndarray | None = None
                if self._h5 is not None:
                    try:
                        length = self._h5[name].shape[0]
                    except _H5_DAMAGE as exc:
                        raise InputError(
                            f"dataset {name!r} cannot be read ({_short(exc)}); {_REPAIR}", self.path, protein_id=pid
                        ) from None
                else:
                    whole = self._array(name, pid)  # NPZ members are read whole
                    length = len(whole)
                for start in range(0, length, chunk_rows):
                    rows = slice(start, start + chunk_rows)
                    part = self._array(name, pid, rows) if whole is None else whole[rows]
                    buffer.append(part)
                    buffered += len(part)
                    if buffered >= chunk_rows:
                        yield np.concatenate(buffer)
                        buffer, buffered = [], 0
            else:
                array = self._array(name, pid)
                buffer.append(array.mean(axis=0, dtype=np.float64)[None] if array.ndim == 2 else array[None])
                buffered += 1
                if buffered >= chunk_rows:
                    yield np.concatenate(buffer)
                    buffer, buffered = [], 0
        if buffer:
            yield np.concatenate(buffer)


def _npz_headers(path) -> dict[str, tuple[tuple, np.dtype]]:
    """Shape and dtype of each array of an NPZ file, read from the array headers only."""
    headers = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(fh)
            headers[member[:-4]] = (shape, dtype)
    return headers


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return None
    return str(value)


def _short(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def open_embeddings(path: str | os.PathLike) -> EmbeddingReader:
    """Open an H5, NPY or NPZ embedding file (see the module docstring for the layouts)."""
    return EmbeddingReader(path)


def read_protein_vectors(path: str | os.PathLike, ids: Iterable[str] | None = None) -> tuple[list[str], np.ndarray]:
    """IDs and float64 per-protein vectors of a file (see :meth:`EmbeddingReader.protein_vectors`)."""
    with open_embeddings(path) as reader:
        return reader.protein_vectors(ids)


def default_chunk_rows(d: int) -> int:
    """Rows per chunk so that a float64 chunk takes about 64 MB."""
    return max(1024, (64 << 20) // (8 * d))


def measure_isotropy(
    path: str | os.PathLike, local: bool = False, chunk_rows: int | None = None, progress: bool = False
) -> IsotropyResult:
    """Isotropy metrics (:class:`hvppi.geometry.isotropy.IsotropyResult`) of a file's global or local points, in one pass."""
    from hvppi.geometry.isotropy import IsotropyAccumulator

    accumulator = IsotropyAccumulator()
    with open_embeddings(path) as reader:
        try:
            for chunk in reader.points(local, chunk_rows, progress):
                accumulator.update(chunk)
            result = accumulator.result()
        except ValueError as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(str(exc), path) from None
        except ArithmeticError:  # OverflowError of float arithmetic on values near 1e300
            raise InputError(_TOO_LARGE, path) from None
    values = [v for v in result.to_dict().values() if isinstance(v, float)]
    if not all(np.isfinite(values)):
        raise InputError(_TOO_LARGE, path)
    return result


_TOO_LARGE = (
    "the values are too large to measure (their squares overflow float64); "
    "check the file holds embeddings, or rescale them"
)

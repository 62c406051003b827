"""The human side of a screen, kept on disk per model file and human set.

Comparing 13,655 human candidates with the model's 13,655 reference human proteins (3-mer cosines, then each
candidate's nearest partner of every reference viral protein) is most of a screen's work, and it does not depend on
the viral proteins. :class:`~hvppi.screening.features.HumanSide` holds its result; this module keeps one per
(model file, human set) in a cache folder, so the second screen against the same humans, with any viral proteins,
starts at once.

The folder is ``$HVPPI_CACHE_DIR`` if set (``off`` or empty: no cache), else ``$XDG_CACHE_HOME/hvppi``, else
``~/.cache/hvppi``. An entry is a plain ``.npz`` read without pickles, checked (names, dtypes, shapes, finite values,
indices in range, and the key it was written under) before use; a damaged or foreign entry is ignored and
rewritten. The key covers the model file, the human sequences in order, and the code that computes the side. Only sets of at least
:data:`MIN_PROTEINS` proteins are kept, and only the :data:`MAX_ENTRIES` most recently used entries (about 63 MB each
for the bundled model's universe). Nothing here changes a score: a cached side is the same arrays, bit for bit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hvppi.io.files import atomic_path
from hvppi.screening.features import HumanSide

CACHE_ENV = "HVPPI_CACHE_DIR"
LAYOUT = "hvppi-human-side-1"
"""Changes whenever :class:`HumanSide` or how it is computed changes (part of every key)."""
MIN_PROTEINS = 2000
"""Smaller human sets are computed each time (seconds at most) and not kept."""
MAX_ENTRIES = 3
_ARRAYS = ("reference_index", "reference_canonical", "log_length", "near_partner", "smoothed_popularity")


def cache_dir() -> Path | None:
    """The cache folder, or None when caching is off (``HVPPI_CACHE_DIR=off`` or empty)."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "off", "none", "0") else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hvppi"


@functools.cache
def _code_digest() -> str:
    """SHA-256 of the code that computes a human side (so an entry made by other code is never taken for it)."""
    from hvppi.align import similarity as align_similarity
    from hvppi.screening import features, similarity

    digest = hashlib.sha256()
    for module in (align_similarity, similarity, features):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


def human_side_key(model_sha256: str, human_sequences: Sequence[str]) -> str:
    """The key of a human side: the model file's SHA-256, the layout and the code that computes it, and the human
    sequences in order.

    >>> human_side_key("ab" * 32, ["MKV", "MAL"]) == human_side_key("ab" * 32, ["MKV", "MAL"])
    True
    >>> human_side_key("ab" * 32, ["MKV", "MAL"]) == human_side_key("ab" * 32, ["MAL", "MKV"])
    False
    """
    digest = hashlib.sha256(f"{LAYOUT}\n{_code_digest()}\n{model_sha256}\n".encode())
    for sequence in human_sequences:
        digest.update(sequence.encode("ascii", "replace") + b"\n")
    return digest.hexdigest()


def _entry(key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"human-side-{key[:40]}.npz"


def _checked(arrays: dict[str, np.ndarray], key: str, n_known: int, n_candidates: int, n_reference: int) -> HumanSide:
    expect = {
        "reference_index": (np.int64, (n_candidates,)),
        "reference_canonical": (np.int64, (n_reference,)),
        "log_length": (np.float32, (n_candidates,)),
        "near_partner": (np.float32, (n_known, n_candidates)),
        "smoothed_popularity": (np.float32, (n_candidates,)),
    }
    if set(arrays) != {*_ARRAYS, "key"}:
        raise ValueError(f"arrays {sorted(arrays)}")
    if arrays.pop("key").tolist() != key:  # a copy or link of another set's entry
        raise ValueError("an entry of another key")
    for name, (dtype, shape) in expect.items():
        if arrays[name].dtype != dtype or arrays[name].shape != shape:
            raise ValueError(f"{name}: {arrays[name].dtype} {arrays[name].shape}, not {np.dtype(dtype)} {shape}")
    for name in ("log_length", "near_partner", "smoothed_popularity"):
        if not np.isfinite(arrays[name]).all():
            raise ValueError(f"{name}: values not finite")
    index, canonical = arrays["reference_index"], arrays["reference_canonical"]
    if index.size and (index.min() < -1 or index.max() >= n_reference):
        raise ValueError("reference_index out of range")
    if canonical.size and (canonical.min() < 0 or canonical.max() >= n_reference):
        raise ValueError("reference_canonical out of range")
    return HumanSide(**arrays)


def load_human_side(key: str, n_known: int, n_candidates: int, n_reference: int) -> HumanSide | None:
    """The cached side of ``key`` if there is a sound one with these sizes, else None.

    Any failure to read or check an entry (damaged, truncated, of another key, unreadable, removed meanwhile) means
    "not cached": the side is computed again, and a damaged entry is removed where the folder allows it."""
    path = _entry(key)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        side = _checked(arrays, key, n_known, n_candidates, n_reference)
    except Exception:  # whatever is wrong with a cache entry, the answer is to recompute it
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        return None
    with contextlib.suppress(OSError):  # most recently used; a read-only cache is still read
        os.utime(path)
    return side


def save_human_side(key: str, side: HumanSide) -> Path | None:
    """Keep ``side`` under ``key`` (atomically; the oldest entries beyond :data:`MAX_ENTRIES` are removed).

    Returns the entry's path, or None when caching is off, the set is small, or the folder cannot be written."""
    path = _entry(key)
    if path is None or len(side.reference_index) < MIN_PROTEINS or side.reference_canonical is None:
        return None
    arrays = {name: getattr(side, name) for name in _ARRAYS}
    arrays["key"] = np.array(key)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        entries = sorted(path.parent.glob("human-side-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[MAX_ENTRIES:]:
            old.unlink(missing_ok=True)
    except OSError:
        return None
    return path


def prepare_default(threads: int = 2) -> Path | None:
    """Compare the bundled screening model's human universe with its reference once and keep it (what
    ``scripts/setup.sh`` runs, so that the first ``hvppi screen`` without ``--human`` starts at once). Returns the
    cache entry, or None when caching is off."""
    from hvppi.io.bundled import bundled_model_path
    from hvppi.screening.modelfile import read_screening_model
    from hvppi.screening.scorer import ScreeningScorer

    scorer = ScreeningScorer(read_screening_model(bundled_model_path("default")), threads=threads)
    human = scorer.reference_proteins("human")
    scorer.prepare_human(human)
    path = _entry(human_side_key(scorer.model.file_sha256, list(human.values())))
    return path if path is not None and path.is_file() else None


if __name__ == "__main__":
    import sys

    entry = prepare_default(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    folder = cache_dir()
    print(
        f"kept in {entry}"
        if entry
        else "not kept: HVPPI_CACHE_DIR=off"
        if folder is None
        else f"not kept: {folder} cannot be written"
    )

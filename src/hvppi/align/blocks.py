"""All-against-all global alignment in resumable row blocks, cached on disk.

:func:`aligned_pairs` aligns every pair i < j of a list of sequences (Needleman–Wunsch,
:mod:`hvppi.align.kernels`) and returns the condensed upper triangle, in the order of
``np.triu_indices(n, 1)``: scores only (pyopal), or scores and identities (parasail).

The pairs are aligned in blocks of ``block_rows`` first indices. With a cache path, each finished
block is saved in ``CACHE.parts/`` as it finishes, so an interrupted run resumes from the blocks
already done; at the end the whole result goes to ``CACHE`` (an ``.npz`` with ``key``, ``score`` and,
when identities were computed, ``identity``) and the blocks are removed. The caller's ``key`` says what
the result depends on (sequences, scoring): a cache or block written under another key is ignored.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hvppi.align import kernels
from hvppi.io.files import atomic_write
from hvppi.io.progress import progress as bar_or_lines

DEFAULT_BLOCK_ROWS = 64


@dataclass
class PairAlignment:
    """Condensed all-pairs alignment results and how they were obtained."""

    score: np.ndarray
    identity: np.ndarray | None
    blocks_reused: int = 0
    blocks_aligned: int = 0
    from_cache: bool = False


def aligned_pairs(
    sequences: Sequence[str],
    *,
    matrix: str,
    gap_open: int = kernels.DEFAULT_GAP_OPEN,
    gap_extend: int = kernels.DEFAULT_GAP_EXTEND,
    identities: bool = False,
    threads: int = 0,
    cache: str | os.PathLike | None = None,
    key: str | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    progress: bool = False,
) -> PairAlignment:
    """Global score (and, with ``identities``, identity) of every pair i < j, condensed (see the module docstring).

    ``cache`` (a file path) needs a ``key``; ``threads`` 0 uses every CPU.
    """
    n = len(sequences)
    if n < 2:
        raise ValueError("aligning all pairs needs at least two sequences")
    if not isinstance(block_rows, int) or isinstance(block_rows, bool) or block_rows < 1:
        raise ValueError("block_rows must be a positive integer")
    if cache is not None and not key:
        raise ValueError("a cache needs a key (what the alignments depend on)")
    if cache is not None:
        whole = _load(cache, key, identities)
        if whole is not None:
            return PairAlignment(*whole, from_cache=True)
    parts_dir = None if cache is None else Path(str(cache) + ".parts")
    offsets = kernels.pair_offsets(n)
    bounds = [*range(0, n - 1, block_rows), n - 1]
    scores: list[np.ndarray] = []
    identity: list[np.ndarray] = []
    reused = aligned = 0
    with bar_or_lines(int(offsets[-1]), "aligning", "aln", progress, unit_scale=True) as bar:
        for start, stop in zip(bounds[:-1], bounds[1:]):
            part = None if parts_dir is None else parts_dir / f"block-{start:06d}-{stop:06d}.npz"
            part_key = f"{key}:{start}:{stop}"
            block = None if part is None else _load(part, part_key, identities)
            if block is None:
                block = _align_rows(sequences, (start, stop), matrix, gap_open, gap_extend, identities, threads)
                aligned += 1
                if part is not None:
                    _save(part, part_key, *block)
            else:
                reused += 1
            scores.append(block[0])
            if block[1] is not None:
                identity.append(block[1])
            bar.update(int(offsets[stop] - offsets[start]))
    result = PairAlignment(
        np.concatenate(scores), np.concatenate(identity) if identities else None, reused, aligned, False
    )
    if cache is not None and key is not None and parts_dir is not None:
        _save(cache, key, result.score, result.identity)
        shutil.rmtree(parts_dir, ignore_errors=True)
    return result


def _align_rows(
    sequences: Sequence[str],
    rows: tuple[int, int],
    matrix: str,
    gap_open: int,
    gap_extend: int,
    identities: bool,
    threads: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    # Called through the module so that tests can stand in for the kernels.
    if identities:
        return kernels.all_pairs_stats(
            sequences, matrix=matrix, gap_open=gap_open, gap_extend=gap_extend, threads=threads, rows=rows
        )
    scores = kernels.all_pairs_scores(
        sequences, matrix=matrix, gap_open=gap_open, gap_extend=gap_extend, threads=threads, rows=rows
    )
    return scores, None


def _load(path: str | os.PathLike, key: str | None, identities: bool) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(score, identity or None) stored under ``key`` at ``path``; None if absent, unreadable or for another key."""
    if not Path(path).is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key or (identities and "identity" not in data.files):
                return None
            return data["score"], data["identity"] if identities else None
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None  # a damaged cache is recomputed


def _save(path: str | os.PathLike, key: str, score: np.ndarray, identity: np.ndarray | None) -> None:
    with atomic_write(path, "wb") as fh:
        if identity is None:
            np.savez(fh, key=np.str_(key), score=score)
        else:
            np.savez(fh, key=np.str_(key), score=score, identity=identity)

"""Needleman–Wunsch global alignment scores and identities, on SIMD libraries, for many pairs.

Scores come from pyopal (one query against a database, SIMD, threads without the GIL); scores with
identities from parasail's ``nw_stats`` kernels, which count matches and alignment columns in the same
SIMD pass instead of tracing the alignment back. Both give exactly the score of Biopython's
``PairwiseAligner`` in global mode with the same matrix and gap scores (tested).

Gap penalties are positive integers: a gap of length L costs ``gap_open + (L - 1) * gap_extend``,
which is Biopython's ``open_gap_score = -gap_open, extend_gap_score = -gap_extend``. End gaps cost
the same as inner gaps. Defaults: open 10, extend 1 (BLOSUM30 for the negative sampling, PAM250 for
the alignment correlation).

Identity = matches / alignment columns, gaps included (end gaps too), of one optimal alignment: the
one parasail's DP keeps. Where several alignments share the optimal score, their identities can
differ slightly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from hvppi.io.alphabet import ALPHABET
from hvppi.io.progress import progress as bar_or_lines

if TYPE_CHECKING:
    from Bio.Align import PairwiseAligner

DEFAULT_GAP_OPEN = 10
DEFAULT_GAP_EXTEND = 1


@cache
def scoring_matrix(name: str):
    import scoring_matrices

    try:
        return scoring_matrices.ScoringMatrix.from_name(name)
    except (ValueError, KeyError, FileNotFoundError):
        # BUILTIN_MATRICES exists at run time but is missing from scoring_matrices' stubs (lib.pyi).
        known = ", ".join(sorted(scoring_matrices.ScoringMatrix.BUILTIN_MATRICES))  # type: ignore[attr-defined]
        raise ValueError(f"unknown substitution matrix {name!r}; known: {known}") from None


def check_matrix(name: str) -> None:
    """Raise ValueError unless ``name`` is a substitution matrix the kernels know (e.g. BLOSUM30, PAM250)."""
    scoring_matrix(name)


def check_gaps(gap_open: int, gap_extend: int) -> None:
    if int(gap_open) != gap_open or int(gap_extend) != gap_extend or gap_open < 0 or gap_extend < 0:
        raise ValueError("gap_open and gap_extend are non-negative integers (penalties)")


def check_sequences(sequences: Sequence[str], alphabet: str, what: str) -> list[str]:
    """The sequences in upper case, each letter of hvppi's alphabet that the matrix lacks (selenocysteine ``U`` and
    pyrrolysine ``O`` in BLOSUM62) as ``X`` (an unknown residue); ValueError for an empty sequence or a letter
    outside both alphabets.

    >>> check_sequences(["mkuv", "OAC"], "ARNDCQEGHILKMFPSTWYVBZX*", "query")
    ['MKXV', 'XAC']
    """
    allowed = set(alphabet) - {"*"}
    as_x = {ord(a): "X" for a in ALPHABET if a not in allowed} if "X" in allowed else {}
    checked = []
    for k, sequence in enumerate(sequences):
        sequence = str(sequence).upper().translate(as_x)
        if not sequence:
            raise ValueError(f"{what} {k} is empty")
        bad = set(sequence) - allowed
        if bad:
            raise ValueError(f"{what} {k} has letters outside the matrix alphabet: {''.join(sorted(bad))}")
        checked.append(sequence)
    return checked


def resolve_threads(threads: int) -> int:
    return max(1, os.cpu_count() or 1) if threads <= 0 else threads


def biopython_aligner(
    matrix: str = "BLOSUM30", gap_open: int = DEFAULT_GAP_OPEN, gap_extend: int = DEFAULT_GAP_EXTEND
) -> PairwiseAligner:
    """Biopython's global ``PairwiseAligner`` with the same scoring (the reference; slow)."""
    from Bio.Align import PairwiseAligner, substitution_matrices

    scoring = scoring_matrix(matrix)
    array = substitution_matrices.Array(alphabet=scoring.alphabet, dims=2, data=np.array(list(scoring), dtype=float))
    return PairwiseAligner(
        mode="global", substitution_matrix=array, open_gap_score=-gap_open, extend_gap_score=-gap_extend
    )


def global_scores(
    queries: Sequence[str],
    targets: Sequence[str] | None = None,
    *,
    matrix: str = "BLOSUM30",
    gap_open: int = DEFAULT_GAP_OPEN,
    gap_extend: int = DEFAULT_GAP_EXTEND,
    threads: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Global alignment scores, float64 (len(queries), len(targets)); all against all when ``targets`` is None.

    All against all aligns each pair once (the upper triangle) and mirrors it. ``threads`` 0 uses every CPU.
    """
    import pyopal

    check_gaps(gap_open, gap_extend)
    scoring = scoring_matrix(matrix)
    symmetric = targets is None
    queries = check_sequences(queries, scoring.alphabet, "query")
    targets = queries if targets is None else check_sequences(targets, scoring.alphabet, "target")
    aligner = pyopal.Aligner(scoring, gap_open=int(gap_open), gap_extend=int(gap_extend))
    database = pyopal.Database(targets, alphabet=aligner.alphabet)
    scores = np.zeros((len(queries), len(targets)), dtype=np.float64)

    def row(i: int) -> int:
        start = i if symmetric else 0
        results = aligner.align(queries[i], database, algorithm="nw", mode="score", start=start)
        scores[i, start:] = [r.score for r in results]
        return len(targets) - start

    total = len(queries) * len(targets) // (2 if symmetric else 1)
    _run_rows(row, range(len(queries)), total, threads, progress)
    if symmetric:
        upper = np.triu(scores, 1)
        scores = upper + upper.T + np.diag(np.diag(scores))
    return scores


def all_pairs_scores(
    sequences: Sequence[str],
    *,
    matrix: str = "BLOSUM30",
    gap_open: int = DEFAULT_GAP_OPEN,
    gap_extend: int = DEFAULT_GAP_EXTEND,
    threads: int = 0,
    progress: bool = False,
    rows: tuple[int, int] | None = None,
) -> np.ndarray:
    """Global score of every pair i < j, float64, condensed in the order of ``np.triu_indices(n, 1)`` (pyopal).

    ``rows=(start, stop)`` computes only the pairs whose first index i lies in [start, stop), as
    :func:`all_pairs_stats` does.
    """
    import pyopal

    check_gaps(gap_open, gap_extend)
    scoring = scoring_matrix(matrix)
    sequences = check_sequences(sequences, scoring.alphabet, "sequence")
    n = len(sequences)
    if n < 2:
        raise ValueError("all_pairs_scores needs at least two sequences")
    offsets = pair_offsets(n)
    start, stop = _check_rows(rows, n)
    base = offsets[start]
    scores = np.empty(offsets[stop] - base, dtype=np.float64)
    aligner = pyopal.Aligner(scoring, gap_open=int(gap_open), gap_extend=int(gap_extend))
    database = pyopal.Database(sequences, alphabet=aligner.alphabet)

    def row(i: int) -> int:
        results = aligner.align(sequences[i], database, algorithm="nw", mode="score", start=i + 1)
        scores[offsets[i] - base : offsets[i + 1] - base] = [r.score for r in results]
        return n - 1 - i

    _run_rows(row, range(start, stop), len(scores), threads, progress)
    return scores


def _check_rows(rows: tuple[int, int] | None, n: int) -> tuple[int, int]:
    start, stop = (0, n - 1) if rows is None else rows
    if not 0 <= start <= stop <= n - 1:
        raise ValueError(f"rows must satisfy 0 <= start <= stop <= {n - 1}")
    return start, stop


def _run_rows(row: Callable[[int], int], indices: range, total: int, threads: int, progress: bool) -> None:
    """Run ``row(i)`` (which returns the pairs it aligned) for every index on a thread pool, with a bar."""
    with (
        ThreadPoolExecutor(resolve_threads(threads)) as pool,
        bar_or_lines(total, "aligning", "aln", progress, unit_scale=True, leave=False) as bar,
    ):
        for done in pool.map(row, indices):
            bar.update(done)


# parasail's stats kernels leave a leading gap out of the alignment length (they start the length
# count at zero along the first row and column). Prefixing both sequences with a sentinel letter that
# scores +SENTINEL with itself and -SENTINEL with anything else forces the sentinel pair into the first
# column (no other alignment comes within the few gap penalties that removing it could save), so
# every real column is counted; the sentinel's score, match and column are then taken off.
SENTINEL = "J"
SENTINEL_SCORE = 1000


@cache
def _stats_matrix(matrix: str):
    import parasail

    scoring = scoring_matrix(matrix)
    letters = scoring.alphabet + SENTINEL
    values = np.array(list(scoring), dtype=np.int64)
    table = parasail.matrix_create(letters, 0, 0)
    size = len(letters)
    for i in range(size):
        for j in range(size):
            if i < size - 1 and j < size - 1:
                value = int(values[i, j])
            else:
                value = SENTINEL_SCORE if i == j else -SENTINEL_SCORE
            table.set_value(i, j, value)
    return table


def pair_stats(
    first: Sequence[str],
    second: Sequence[str],
    *,
    matrix: str = "PAM250",
    gap_open: int = DEFAULT_GAP_OPEN,
    gap_extend: int = DEFAULT_GAP_EXTEND,
) -> tuple[np.ndarray, np.ndarray]:
    """Global score and identity of each pair (first[k], second[k]); one thread."""
    if len(first) != len(second):
        raise ValueError("first and second must have the same length")
    check_gaps(gap_open, gap_extend)
    alphabet = scoring_matrix(matrix).alphabet
    first = check_sequences(first, alphabet, "sequence")
    second = check_sequences(second, alphabet, "sequence")
    return _stats(first, second, matrix, int(gap_open), int(gap_extend))


def _stats(first: list[str], second: list[str], matrix: str, gap_open: int, gap_extend: int):
    import parasail

    table = _stats_matrix(matrix)
    scores = np.empty(len(first), dtype=np.float64)
    identity = np.empty(len(first), dtype=np.float64)
    for k, (a, b) in enumerate(zip(first, second)):
        a, b = SENTINEL + a, SENTINEL + b
        result = parasail.nw_stats_scan_16(a, b, gap_open, gap_extend, table)
        if result.saturated:
            result = parasail.nw_stats_scan_32(a, b, gap_open, gap_extend, table)
        scores[k] = result.score - SENTINEL_SCORE
        identity[k] = (result.matches - 1) / (result.length - 1)
    return scores, identity


def all_pairs_stats(
    sequences: Sequence[str],
    *,
    matrix: str = "PAM250",
    gap_open: int = DEFAULT_GAP_OPEN,
    gap_extend: int = DEFAULT_GAP_EXTEND,
    threads: int = 0,
    progress: bool = False,
    rows: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Global score and identity of every pair i < j, condensed in the order of ``np.triu_indices(n, 1)``.

    ``rows=(start, stop)`` computes only the pairs whose first index i lies in [start, stop): the slice
    ``pair_offsets(n)[start]:pair_offsets(n)[stop]`` of the full result (for work in resumable blocks).
    """
    check_gaps(gap_open, gap_extend)
    sequences = check_sequences(sequences, scoring_matrix(matrix).alphabet, "sequence")
    _stats_matrix(matrix)
    n = len(sequences)
    if n < 2:
        raise ValueError("all_pairs_stats needs at least two sequences")
    offsets = pair_offsets(n)
    start, stop = _check_rows(rows, n)
    base = offsets[start]
    scores = np.empty(offsets[stop] - base, dtype=np.float64)
    identity = np.empty_like(scores)

    def row(i: int) -> int:
        targets = sequences[i + 1 :]
        s, ident = _stats([sequences[i]] * len(targets), targets, matrix, int(gap_open), int(gap_extend))
        scores[offsets[i] - base : offsets[i + 1] - base] = s
        identity[offsets[i] - base : offsets[i + 1] - base] = ident
        return len(targets)

    _run_rows(row, range(start, stop), len(scores), threads, progress)
    return scores, identity


def pair_offsets(n: int) -> np.ndarray:
    """Where the pairs of first index i start in the condensed order of ``np.triu_indices(n, 1)`` (length n)."""
    return np.concatenate([[0], np.cumsum(np.arange(n - 1, 0, -1))]).astype(np.int64)

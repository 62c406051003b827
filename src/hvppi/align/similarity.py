"""Normalised similarities between protein sets: Smith–Waterman on SIMD kernels, and k-mer cosines.

``local_similarity`` is the homology measure of screening: the Smith–Waterman score of two
proteins divided by the geometric mean of their self-scores, so 1 for identical sequences and near 0
for unrelated ones (BLOSUM62, gap open 11, extend 1 by default, as BLAST). Scores come from pyopal
(one query against a database, SIMD, threads without the GIL).

``kmer_cosine`` is the cosine of two proteins' k-mer count vectors: a fast, alignment-free proxy
for near-identity (isoforms, orthologues) between large sets, computed as one sparse product.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from hvppi.align.kernels import check_gaps, check_sequences, resolve_threads, scoring_matrix
from hvppi.io.alphabet import STANDARD_AMINO_ACIDS
from hvppi.io.progress import progress as bar_or_lines

LOCAL_MATRIX = "BLOSUM62"
LOCAL_GAP_OPEN = 11
LOCAL_GAP_EXTEND = 1


def local_scores(
    queries: Sequence[str],
    targets: Sequence[str],
    *,
    matrix: str = LOCAL_MATRIX,
    gap_open: int = LOCAL_GAP_OPEN,
    gap_extend: int = LOCAL_GAP_EXTEND,
    threads: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Smith–Waterman scores, float64 (len(queries), len(targets)); ``threads`` 0 uses every CPU."""
    import pyopal

    check_gaps(gap_open, gap_extend)
    scoring = scoring_matrix(matrix)
    queries = check_sequences(queries, scoring.alphabet, "query")
    targets = check_sequences(targets, scoring.alphabet, "target")
    scores = np.zeros((len(queries), len(targets)), dtype=np.float64)
    if not queries or not targets:
        return scores
    aligner = pyopal.Aligner(scoring, gap_open=int(gap_open), gap_extend=int(gap_extend))
    database = pyopal.Database(targets, alphabet=aligner.alphabet)

    def row(i: int) -> None:
        scores[i] = [r.score for r in aligner.align(queries[i], database, algorithm="sw", mode="score")]

    with (
        ThreadPoolExecutor(resolve_threads(threads)) as pool,
        bar_or_lines(len(queries), "local alignment", "protein", progress, leave=False) as bar,
    ):
        for _ in pool.map(row, range(len(queries))):
            bar.update(1)
    return scores


def self_scores(sequences: Sequence[str], *, matrix: str = LOCAL_MATRIX) -> np.ndarray:
    """Each sequence's Smith–Waterman score against itself: the sum of its diagonal substitution scores."""
    scoring = scoring_matrix(matrix)
    sequences = check_sequences(sequences, scoring.alphabet, "sequence")
    alphabet = scoring.alphabet
    diagonal = np.array([scoring[a, a] for a in alphabet], dtype=np.float64)
    code = np.full(256, -1, dtype=np.int64)
    for k, letter in enumerate(alphabet):
        code[ord(letter)] = k
    return np.array([diagonal[code[np.frombuffer(s.encode("ascii"), np.uint8)]].sum() for s in sequences])


def local_similarity(
    queries: Sequence[str],
    targets: Sequence[str] | None = None,
    *,
    matrix: str = LOCAL_MATRIX,
    gap_open: int = LOCAL_GAP_OPEN,
    gap_extend: int = LOCAL_GAP_EXTEND,
    threads: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """score(a, b) / sqrt(score(a, a) · score(b, b)), float32 (len(queries), len(targets)), in [0, 1].

    All against all when ``targets`` is None (the result is made exactly symmetric). A sequence whose self-score
    is not positive (all or mostly ``X``: nothing to align) is 0 similar to every sequence, itself included.
    """
    symmetric = targets is None
    targets = queries if targets is None else targets
    raw = local_scores(
        queries, targets, matrix=matrix, gap_open=gap_open, gap_extend=gap_extend, threads=threads, progress=progress
    )
    if symmetric:
        raw = np.maximum(raw, raw.T)
    own = [np.maximum(self_scores(s, matrix=matrix), 0.0) for s in (queries, targets)]
    norm = np.sqrt(np.outer(own[0], own[1]))
    ratio = np.divide(raw, np.maximum(norm, 1e-12), out=np.zeros_like(raw), where=norm > 0)
    return np.clip(ratio, 0.0, 1.0).astype(np.float32)


def kmer_counts(sequences: Sequence[str], k: int = 3) -> sp.csr_matrix:
    """Sparse (len(sequences), 20**k) k-mer counts over the 20 standard amino acids.

    A k-mer holding any other letter is not counted.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    code = np.full(256, -1, dtype=np.int64)
    for i, letter in enumerate(STANDARD_AMINO_ACIDS):
        code[ord(letter)] = i
        code[ord(letter.lower())] = i
    rows, columns = [], []
    for r, sequence in enumerate(sequences):
        x = code[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]
        n = len(x) - k + 1
        if n <= 0:
            continue
        index = np.zeros(n, dtype=np.int64)
        valid = np.ones(n, dtype=bool)
        for j in range(k):
            window = x[j : j + n]
            index = index * 20 + np.maximum(window, 0)
            valid &= window >= 0
        columns.append(index[valid])
        rows.append(np.full(int(valid.sum()), r, dtype=np.int64))
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    column = np.concatenate(columns) if columns else np.zeros(0, np.int64)
    counts = sp.csr_matrix(
        (np.ones(row.size, dtype=np.float32), (row, column)), shape=(len(sequences), 20**k), dtype=np.float32
    )
    counts.sum_duplicates()
    return counts


def _unit_rows(counts: sp.csr_matrix) -> sp.csr_matrix:
    norm = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    return sp.diags(1.0 / np.maximum(norm, 1e-12)) @ counts


def kmer_cosine(
    first: Sequence[str], second: Sequence[str] | None = None, k: int = 3, threads: int = 1, rows: int = 512
) -> np.ndarray:
    """Cosine similarity of k-mer count vectors, float32 (len(first), len(second)); all pairs of ``first`` if None.

    The product runs in blocks of ``rows`` rows of ``first`` on ``threads`` threads (scipy's sparse kernels
    release the GIL); each row's sums are the same whatever the blocks, so the result does not depend on them.

    >>> s = kmer_cosine(["MKTAYIAKQR", "MKTAYIAKQR", "WWWWWWWWWW"])
    >>> s.round(3).tolist()
    [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    a = _unit_rows(kmer_counts(first, k)).tocsr()
    b = a if second is None else _unit_rows(kmer_counts(second, k))
    b_t = b.T.tocsr()
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.float32)

    def block(start: int) -> None:
        out[start : start + rows] = (a[start : start + rows] @ b_t).toarray()

    starts = range(0, a.shape[0], rows)
    if resolve_threads(threads) > 1 and a.shape[0] > rows:
        with ThreadPoolExecutor(resolve_threads(threads)) as pool:
            list(pool.map(block, starts))
    else:
        for start in starts:
            block(start)
    return out

"""Identity over the shorter sequence, for finding near-identical twins (isoforms, a chain inside its polyprotein).

Two proteins are twins when their Smith–Waterman alignment matches at least ``threshold`` of the shorter one's
residues (``identical residues / min(len(a), len(b))``): a mature chain of a polyprotein is a twin of the
polyprotein, an isoform of its canonical sequence, a strain's protein of another strain's. CD-HIT misses the first
kind (a short chain does not cover the long sequence's length), which is why a held-out split excludes by this
identity rather than by cluster.

All pairs are scored first (pyopal, SIMD); only pairs whose score reaches ``prefilter`` of the shorter protein's
self-score can reach the threshold, and only those are aligned in full to count identical residues.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hvppi.align.kernels import check_gaps, check_sequences, scoring_matrix
from hvppi.align.similarity import LOCAL_GAP_EXTEND, LOCAL_GAP_OPEN, LOCAL_MATRIX, local_scores, self_scores

PREFILTER = 0.5
"""Smallest score / shorter self-score a pair needs before its identity is counted: a 90%-identical local alignment
scores at least about 0.8 of the shorter protein's self-score under BLOSUM62."""


def local_identity(first: str, second: str, *, matrix: str = LOCAL_MATRIX) -> float:
    """Identical residues of the Smith–Waterman alignment of two proteins over the shorter one's length.

    >>> local_identity("MKTAYIAKQR", "GGGMKTAYIAKQRGGG")
    1.0
    """
    import pyopal

    check_gaps(LOCAL_GAP_OPEN, LOCAL_GAP_EXTEND)
    scoring = scoring_matrix(matrix)
    first, second = check_sequences([first, second], scoring.alphabet, "sequence")
    aligner = pyopal.Aligner(scoring, gap_open=LOCAL_GAP_OPEN, gap_extend=LOCAL_GAP_EXTEND)
    (result,) = aligner.align(first, pyopal.Database([second], alphabet=aligner.alphabet), algorithm="sw", mode="full")
    return result.alignment.count("M") / max(min(len(first), len(second)), 1)


def twins(
    queries: Sequence[str],
    targets: Sequence[str],
    threshold: float = 0.9,
    *,
    scores: np.ndarray | None = None,
    threads: int = 1,
) -> list[tuple[int, int, float]]:
    """(query index, target index, identity over the shorter) of every pair at least ``threshold`` identical.

    ``scores``: the pairs' Smith–Waterman scores (``local_scores(queries, targets)``) if already computed."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must lie in (0, 1], not {threshold!r}")
    if not len(queries) or not len(targets):
        return []
    raw = local_scores(queries, targets, threads=threads) if scores is None else np.asarray(scores, dtype=np.float64)
    shorter = np.minimum.outer(self_scores(queries), self_scores(targets))
    found = []
    for i, j in zip(*np.nonzero(raw >= PREFILTER * np.maximum(shorter, 1e-9))):
        identity = local_identity(queries[i], targets[j])
        if identity >= threshold:
            found.append((int(i), int(j), identity))
    return found


def twin_mask(
    queries: Sequence[str], targets: Sequence[str], threshold: float = 0.9, *, threads: int = 1
) -> np.ndarray:
    """Bool per target: at least ``threshold`` identical (over the shorter sequence) to one of ``queries``."""
    mask = np.zeros(len(targets), dtype=bool)
    for _, j, _ in twins(queries, targets, threshold, threads=threads):
        mask[j] = True
    return mask

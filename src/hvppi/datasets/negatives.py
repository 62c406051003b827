"""Dissimilarity-based negative sampling (Eid et al. 2016; Algorithm 1 of Tsukiyama et al. 2020).

Input: ``similarity``, the symmetric matrix of global alignment scores between all viral proteins,
the viral IDs in its order, and the positive (human, virus) pairs. Steps:

1. outliers: for each viral protein Vj, ``Ts_j = Q1_j − 1.5·IQR_j`` of its similarity vector
   against the other viral proteins (self excluded). Vi is an outlier when ``S(Vi, Vj) < Ts_j`` for at
   least 90% of the other Vj, i.e. when it is unusually dissimilar to almost every viral protein
   (in practice: very long or very short sequences, whose global scores are dominated by gaps).
   Outliers take no part in the sampling, neither as Vi nor as Vj; their positives are kept;
2. each remaining row is min-max normalised over the other remaining proteins (self excluded, since
   the self-score would squash every other value towards 0); distance = 1 − normalised similarity;
3. candidates: (H, Vi) for every human partner H of every Vj with distance(Vi, Vj) > T (0.8), minus
   the known positives;
4. at most n human partners per viral protein, drawn at random (seeded) when it has more;
   :func:`solve_cap` finds the smallest n that reaches a target negative:positive ratio.

Pure numpy; every function works on small hand-made matrices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

DISTANCE_THRESHOLD = 0.8
OUTLIER_FRACTION = 0.9


def _square(similarity: ArrayLike) -> np.ndarray:
    s = np.asarray(similarity, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"the similarity matrix must be square, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("the similarity matrix holds NaN or infinite values")
    return s


def self_normalised(similarity: ArrayLike) -> np.ndarray:
    """S_ij / sqrt(S_ii * S_jj): alignment scores with the length effect taken out (an option, not the
    paper's step). Raw global scores grow with length, so each row's minimum is set by the longest
    proteins and the 'far' proteins of most rows are the same few long ones."""
    s = _square(similarity)
    self_scores = np.diag(s)
    if (self_scores <= 0).any():
        raise ValueError("self-normalisation needs positive self-alignment scores")
    return s / np.sqrt(np.outer(self_scores, self_scores))


def outlier_mask(similarity: ArrayLike, fraction: float = OUTLIER_FRACTION, whisker: float = 1.5) -> np.ndarray:
    """Boolean mask of the outlier proteins (step 1 of the module docstring)."""
    s = _square(similarity)
    n = len(s)
    if not 0 < fraction <= 1:
        raise ValueError("fraction must lie in (0, 1]")
    if n < 3:
        return np.zeros(n, dtype=bool)
    off = ~np.eye(n, dtype=bool)
    columns = s.T[off.T].reshape(n, n - 1)  # row j: S(., Vj) without S(Vj, Vj)
    q1, q3 = np.percentile(columns, [25, 75], axis=1)
    cutoff = q1 - whisker * (q3 - q1)
    below = (s < cutoff[None, :]) & off
    return below.sum(axis=1) >= fraction * (n - 1)


def normalised_distance(similarity: ArrayLike) -> np.ndarray:
    """1 − row-wise min-max normalised similarity, self excluded from each row's min and max; the
    diagonal is 0, and a row whose off-diagonal values are all equal gets distance 0 (nothing is
    more dissimilar than anything else)."""
    s = _square(similarity)
    n = len(s)
    if n < 2:
        return np.zeros((n, n))
    off = ~np.eye(n, dtype=bool)
    lo = np.where(off, s, np.inf).min(axis=1, keepdims=True)
    hi = np.where(off, s, -np.inf).max(axis=1, keepdims=True)
    span = hi - lo
    scaled = np.divide(s - lo, span, out=np.ones_like(s), where=span > 0)
    distance = 1.0 - scaled
    np.fill_diagonal(distance, 0.0)
    return distance


def candidate_negatives(
    distance: ArrayLike,
    virus_ids: Sequence[str],
    partners: Mapping[str, Iterable[str]],
    known_positives: set[tuple[str, str]],
    threshold: float = DISTANCE_THRESHOLD,
) -> dict[str, list[str]]:
    """Human candidates of each viral protein (sorted): partners of the Vj farther than ``threshold``
    from Vi, minus the known (human, virus) positives."""
    d = np.asarray(distance)
    if d.shape != (len(virus_ids), len(virus_ids)):
        raise ValueError("distance must be square with one row per viral ID")
    humans = sorted({h for v in virus_ids for h in partners.get(v, ())})
    column = {h: k for k, h in enumerate(humans)}
    incidence = np.zeros((len(virus_ids), len(humans)), dtype=np.float32)
    for i, v in enumerate(virus_ids):
        incidence[i, [column[h] for h in set(partners.get(v, ()))]] = 1.0
    far = (d > threshold).astype(np.float32)
    np.fill_diagonal(far, 0.0)
    reached = (far @ incidence) > 0
    result: dict[str, list[str]] = {}
    for i, vi in enumerate(virus_ids):
        result[vi] = [humans[k] for k in np.flatnonzero(reached[i]) if (humans[k], vi) not in known_positives]
    return result


def capped_total(sizes: ArrayLike, n: int) -> int:
    """Number of negatives at a cap of ``n`` per viral protein."""
    return int(np.minimum(np.asarray(sizes, dtype=np.int64), n).sum())


def solve_cap(sizes: ArrayLike, target: float) -> int:
    """Smallest cap n whose negatives reach ``target``; the largest candidate count if none does."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if target < 0:
        raise ValueError("the target number of negatives must be non-negative")
    top = int(sizes.max(initial=0))
    lo, hi = 0, top
    while lo < hi:
        mid = (lo + hi) // 2
        if capped_total(sizes, mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def cap_per_virus(candidates: dict[str, list[str]], n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(human, virus) negatives: all candidates of a viral protein with at most ``n``, else ``n`` drawn
    without replacement. Viral proteins are visited in the dict's order, so a seed fixes the result."""
    if n < 0:
        raise ValueError("n must be non-negative")
    pairs: list[tuple[str, str]] = []
    for virus, humans in candidates.items():
        chosen = humans if len(humans) <= n else [humans[k] for k in np.sort(rng.choice(len(humans), n, replace=False))]
        pairs.extend((h, virus) for h in chosen)
    return pairs


@dataclass
class CandidatePool:
    """What steps 1–3 leave for sampling, with their counts."""

    virus_ids: list[str]
    outliers: list[str]
    candidates: dict[str, list[str]]
    far_counts: np.ndarray  # per kept viral protein: how many others lie farther than the threshold

    @property
    def sizes(self) -> np.ndarray:
        return np.array([len(h) for h in self.candidates.values()], dtype=np.int64)

    @property
    def total(self) -> int:
        return int(self.sizes.sum())

    def sample(self, n: int, seed: int | Sequence[int]) -> list[tuple[str, str]]:
        """At most ``n`` negatives per viral protein, drawn with ``np.random.default_rng(seed)``."""
        return cap_per_virus(self.candidates, n, np.random.default_rng(seed))


def candidate_pool(
    similarity: ArrayLike,
    virus_ids: Sequence[str],
    positives: Iterable[tuple[str, str]],
    known_positives: Iterable[tuple[str, str]] = (),
    threshold: float = DISTANCE_THRESHOLD,
    outlier_fraction: float = OUTLIER_FRACTION,
) -> CandidatePool:
    """Steps 1–3: drop outliers, normalise, collect the candidates of every remaining viral protein.

    ``positives`` give each viral protein's human partners; they and ``known_positives`` (e.g. every
    human–virus pair of the database, whatever its score) are never candidates.
    """
    s = _square(similarity)
    virus_ids = list(virus_ids)
    if len(virus_ids) != len(s) or len(set(virus_ids)) != len(virus_ids):
        raise ValueError("virus_ids must be unique and match the similarity matrix")
    if not 0 <= threshold < 1:
        raise ValueError("the distance threshold must lie in [0, 1)")
    positives = list(positives)
    partners: dict[str, set[str]] = {}
    for h, v in positives:
        partners.setdefault(v, set()).add(h)
    known = set(positives) | set(known_positives)
    outlier = outlier_mask(s, outlier_fraction)
    keep = np.flatnonzero(~outlier)
    kept_ids = [virus_ids[i] for i in keep]
    distance = normalised_distance(s[np.ix_(keep, keep)])
    candidates = candidate_negatives(distance, kept_ids, partners, known, threshold)
    far_counts = (distance > threshold).sum(axis=1)
    return CandidatePool(kept_ids, [virus_ids[i] for i in np.flatnonzero(outlier)], candidates, far_counts)

"""Co-partners: human proteins bound by the viral proteins that share partners with the query's nearest ones.

For a viral protein with known partners, the reference viral proteins that bind many of the same human proteins
(of its own virus or not) point at the partners still to be found: a complex pulled down whole, a pathway that
several viruses target. For query ``q`` with nearest reference viral proteins ``N(q)`` (by Smith–Waterman; for a
known protein, itself first), let ``P[Y]`` be the similarity-weighted count of the members of ``N(q)`` binding
candidate ``Y``; each other reference viral protein ``r`` weighs ``M[r] = Σ_Y A[r, Y] P[Y]`` (the overlap of its
partners with ``P``), and the candidate's co-partner evidence is ``Σ_r M[r] A[r, Y]``, raw and with each ``r``
divided by its number of partners (:data:`CO_PARTNER_FEATURES`). A candidate given one more partner never has less.

Experimental, and measured (``scripts/screening_known_protein.py``): in a model for known proteins it helps on the
known-protein split (partners drawn one by one) and not when whole publications are held out; the bundled model
does not use it (README, "Known proteins").
"""

from __future__ import annotations

import numpy as np

from hvppi.screening.features import Evidence

CO_PARTNER_FEATURES = ("co_partner_log_sum", "co_partner_log_sum_per_partner")
"""log(1 + Σ_r M[r] A[r, Y]) and log(1 + 10 Σ_r M[r] A[r, Y] / (partners of r)), r outside the query's nearest."""


def co_partner_features(evidence: Evidence, smith_waterman: np.ndarray, neighbours: int = 10) -> np.ndarray:
    """(n_queries, n_candidates, len(CO_PARTNER_FEATURES)) float32 from the queries' Smith–Waterman similarities to
    the evidence's reference viral proteins (n_queries, n_known)."""
    sw = np.asarray(smith_waterman, dtype=np.float32)
    adjacency = evidence.adjacency.astype(np.float32).tocsr()  # (n_known, n_candidates)
    out = np.zeros((sw.shape[0], adjacency.shape[1], len(CO_PARTNER_FEATURES)), dtype=np.float32)
    if sw.shape[0] == 0 or sw.shape[1] == 0:
        return out
    degree = np.maximum(np.asarray(adjacency.sum(1)).ravel(), 1.0)
    k = min(neighbours, sw.shape[1])
    top = np.argpartition(-sw, k - 1, axis=1)[:, :k]
    weights = np.zeros(sw.shape, dtype=np.float32)
    np.put_along_axis(weights, top, np.take_along_axis(sw, top, 1), 1)
    near_partners = np.asarray(adjacency.T.dot(weights.T)).T  # (n_queries, n_candidates): P
    overlap = np.asarray(adjacency.dot(near_partners.T)).T  # (n_queries, n_known): M
    np.put_along_axis(overlap, top, 0.0, 1)  # the nearest themselves are the homology evidence, not co-partners
    out[:, :, 0] = np.log1p(np.asarray(adjacency.T.dot(overlap.T)).T)
    out[:, :, 1] = np.log1p(10.0 * np.asarray(adjacency.T.dot((overlap / degree[None]).T)).T)
    return out

"""Features for a screen of a *known* viral protein: the screening features, then the evidence of the publications
behind its pairs (:mod:`~hvppi.screening.publications`) and of its co-partners (:mod:`~hvppi.screening.copartners`).

A known protein is in its own reference (similarity 1) with its pairs; what a screen of it wants is the partners no
study has reported yet. ``scripts/screening_known_protein.py`` measures trees fitted on
:func:`hvppi.screening.fitting.known_protein_rows` with these features; the bundled model does not use them (the
new evidence helps only when a known protein's held-out partners are drawn one by one: README, "Known proteins").
"""

from __future__ import annotations

import numpy as np

from hvppi.screening.copartners import CO_PARTNER_FEATURES, co_partner_features
from hvppi.screening.features import FEATURES, MONOTONE, Evidence
from hvppi.screening.publications import PUBLICATION_FEATURES, PairPublications, PublicationEvidence
from hvppi.screening.similarity import ViralSimilarities

KNOWN_FEATURES = FEATURES + PUBLICATION_FEATURES + CO_PARTNER_FEATURES
"""The screening features, then publication and co-partner evidence."""
KNOWN_MONOTONE = MONOTONE + (1,) * (len(PUBLICATION_FEATURES) + len(CO_PARTNER_FEATURES))
"""Non-decreasing in every evidence feature, the new ones included."""


def known_features(
    evidence: Evidence,
    similarities: ViralSimilarities,
    pair_virus: np.ndarray,
    pair_human: np.ndarray,
    publications: PairPublications,
    neighbours: int = 10,
) -> np.ndarray:
    """(n_queries, n_candidates, len(KNOWN_FEATURES)) float32. ``pair_virus``, ``pair_human`` and ``publications``:
    the reference pairs ``evidence`` was built from, in the same order."""
    sw = similarities.smith_waterman
    return np.concatenate(
        [
            evidence.features(similarities),
            PublicationEvidence(evidence, pair_virus, pair_human, publications).features(sw, neighbours),
            co_partner_features(evidence, sw, neighbours),
        ],
        axis=-1,
    )

"""Evidence for a screen of a known protein: publications (hvppi.screening.publications) and co-partners
(hvppi.screening.copartners) against brute-force loops over a random hand-made reference, monotone in the pairs,
publications matched to pairs by sequence; hvppi.screening.known puts them after the screening features."""

import numpy as np
import pytest

from hvppi.screening.copartners import CO_PARTNER_FEATURES, co_partner_features
from hvppi.screening.features import FEATURES, Evidence
from hvppi.screening.known import KNOWN_FEATURES, KNOWN_MONOTONE, known_features
from hvppi.screening.publications import PUBLICATION_FEATURES, PairPublications, PublicationEvidence
from hvppi.screening.similarity import Candidates, ViralSimilarities


def universe(seed: int):
    """8 viral proteins, 10 reference humans (3 and 7 share a sequence), 12 candidates, random pairs and PubMed IDs."""
    rng = np.random.default_rng(seed)
    n_viral, n_human = 8, 10
    pairs = {(int(v), int(h)) for v, h in zip(rng.integers(0, n_viral, 40), rng.integers(0, n_human, 40))}
    pair_virus, pair_human = (np.array(x, dtype=np.int64) for x in zip(*sorted(pairs)))
    pubs = PairPublications.from_lists([rng.choice([11, 22, 33, 44], rng.integers(0, 3)).tolist() for _ in pairs])
    canonical = np.arange(n_human)
    canonical[7] = 3
    reference_index = np.r_[canonical[np.r_[0:n_human]], -1, -1]  # candidates: the 10 (7 as 3), then 2 outsiders
    candidates = Candidates(
        reference_index, rng.random((12, n_human)).astype(np.float32), np.ones(12, np.float32), canonical
    )
    return pair_virus, pair_human, pubs, candidates, n_human


def brute_counts(known, pair_virus, pair_human, pubs, candidates, row):
    """For reference viral protein known[row]: per candidate, summed over the publications of its pairs, the viral
    proteins that the publication reports binding the candidate's sequence, counted by hand."""
    canonical = candidates.reference_canonical
    mine = {int(p) for k in np.flatnonzero(pair_virus == known[row]) for p in pubs.of(int(k))}
    out = np.zeros(len(candidates.reference_index))
    for c, r in enumerate(candidates.reference_index.tolist()):
        if r < 0:
            continue
        for pmid in mine:
            binders = {
                int(v)
                for k, (v, h) in enumerate(zip(pair_virus, pair_human))
                if v in known and canonical[h] == r and pmid in pubs.of(k).tolist()
            }
            out[c] += len(binders)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_and_features_match_brute_force(seed):
    pair_virus, pair_human, pubs, candidates, n_human = universe(seed)
    known = np.array([0, 1, 2, 4, 5, 7])
    evidence = Evidence(known, pair_virus, pair_human, n_human, candidates, neighbours=3)
    publications = PublicationEvidence(evidence, pair_virus, pair_human, pubs)
    for row in range(len(known)):
        np.testing.assert_array_equal(
            publications.counts(np.array([row]))[0], brute_counts(known, pair_virus, pair_human, pubs, candidates, row)
        )
    rng = np.random.default_rng(seed + 10)
    sw = rng.random((2, len(known))).astype(np.float32)
    got = publications.features(sw, neighbours=3)
    assert got.shape == (2, 12, len(PUBLICATION_FEATURES))
    for q in range(2):
        top = np.argsort(-sw[q])[:3]
        logs = np.array([np.log1p(brute_counts(known, pair_virus, pair_human, pubs, candidates, r)) for r in top])
        np.testing.assert_allclose(got[q, :, 0], (sw[q, top, None] * logs).max(0), rtol=1e-6)
        weights = np.exp((sw[q] - sw[q].max()) / 0.05)
        weights /= weights.sum()
        np.testing.assert_allclose(got[q, :, 1], weights[top] @ logs, rtol=1e-5, atol=1e-7)
    assert (got[:, 10:] == 0).all()  # candidates outside the reference have no publication evidence


def test_one_more_reported_pair_never_lowers_the_evidence():
    pair_virus, pair_human, pubs, candidates, n_human = universe(3)
    known = np.arange(8)
    sw = np.random.default_rng(4).random((3, 8)).astype(np.float32)

    def features(pv, ph, pb):
        return PublicationEvidence(Evidence(known, pv, ph, n_human, candidates, 3), pv, ph, pb).features(sw, 3)

    before = features(pair_virus, pair_human, pubs)
    missing = next(
        (v, h) for v in range(8) for h in range(n_human) if not ((pair_virus == v) & (pair_human == h)).any()
    )
    lists = [pubs.of(k).tolist() for k in range(len(pubs))] + [[11, 22]]
    after = features(np.r_[pair_virus, missing[0]], np.r_[pair_human, missing[1]], PairPublications.from_lists(lists))
    assert (after >= before - 1e-7).all()
    assert (after > before + 1e-6).any()  # and it does count


def test_pairs_are_matched_by_sequence_not_by_id():
    sequences = {"H1": "MKT", "H1-2": "MKT", "H2": "MAA", "V1": "MPP", "V1-PRO_1": "MPQ"}
    rows = [("H1-2", "V1", 5), ("H2", "V1", 6), ("H2", "V1-PRO_1", 7), ("H9", "V1", 8), ("H1", "V1", 5)]
    pubs = PairPublications.from_rows(
        rows, sequences, np.array([0, 0, 1]), np.array([0, 1, 1]), ["MPP", "MPQ"], ["MKT", "MAA"]
    )
    assert [pubs.of(k).tolist() for k in range(3)] == [[5], [6], [7]]
    assert pubs.covered == 3
    assert pubs.take(np.array([False, True, True])).pmids.tolist() == [6, 7]


@pytest.mark.parametrize(
    ("offsets", "pmids", "message"),
    [([1, 2], [5, 6], "start at 0"), ([0, 2, 1], [5, 6], "never decrease"), ([0, 3], [5, 6], "end at 3"),
     ([0, 1], [0], "positive")],
)  # fmt: skip
def test_bad_publication_arrays_are_refused(offsets, pmids, message):
    with pytest.raises(ValueError, match=message):
        PairPublications(np.array(offsets), np.array(pmids))


def test_pairs_and_publications_must_agree():
    pair_virus, pair_human, pubs, candidates, n_human = universe(0)
    evidence = Evidence(np.arange(8), pair_virus, pair_human, n_human, candidates)
    with pytest.raises(ValueError, match="publications for"):
        PublicationEvidence(evidence, pair_virus[:-1], pair_human[:-1], pubs)


def brute_co_partners(adjacency, sw_row, k):
    """Co-partner evidence of one query by loops: P over its k nearest, M over the others, then the sums."""
    n_ref, n_cand = adjacency.shape
    top = set(np.argsort(-sw_row)[:k].tolist())
    near = [sum(sw_row[r] * adjacency[r, y] for r in top) for y in range(n_cand)]
    overlap = [0.0 if r in top else sum(adjacency[r, y] * near[y] for y in range(n_cand)) for r in range(n_ref)]
    degree = [max(adjacency[r].sum(), 1) for r in range(n_ref)]
    raw = [sum(overlap[r] * adjacency[r, y] for r in range(n_ref)) for y in range(n_cand)]
    per = [sum(overlap[r] * adjacency[r, y] / degree[r] for r in range(n_ref)) for y in range(n_cand)]
    return np.log1p(raw), np.log1p(10 * np.array(per))


@pytest.mark.parametrize("seed", [0, 1])
def test_co_partners_match_brute_force_and_grow_with_a_partner(seed):
    pair_virus, pair_human, pubs, candidates, n_human = universe(seed)
    known = np.arange(8)
    evidence = Evidence(known, pair_virus, pair_human, n_human, candidates, neighbours=3)
    sw = np.random.default_rng(seed + 20).random((2, 8)).astype(np.float32)
    got = co_partner_features(evidence, sw, neighbours=3)
    assert got.shape == (2, 12, len(CO_PARTNER_FEATURES))
    dense = evidence.adjacency.toarray()
    for q in range(2):
        raw, per = brute_co_partners(dense, sw[q], 3)
        np.testing.assert_allclose(got[q, :, 0], raw, rtol=1e-5)
        np.testing.assert_allclose(got[q, :, 1], per, rtol=1e-5)
    # candidate 0 given one more partner (a viral protein that does not bind it yet): its evidence never falls
    new = next(v for v in range(8) if not ((pair_virus == v) & (candidates.reference_canonical[pair_human] == 0)).any())
    more = Evidence(known, np.r_[pair_virus, new], np.r_[pair_human, 0], n_human, candidates, neighbours=3)
    after = co_partner_features(more, sw, neighbours=3)
    assert (after[:, 0] >= got[:, 0] - 1e-6).all()


def test_known_features_are_the_screening_features_then_the_new_ones():
    pair_virus, pair_human, pubs, candidates, n_human = universe(1)
    known = np.arange(8)
    evidence = Evidence(known, pair_virus, pair_human, n_human, candidates, neighbours=3)
    rng = np.random.default_rng(5)
    n = len(known)
    sims = ViralSimilarities(
        rng.random((2, n)).astype(np.float32), rng.random((2, n)).astype(np.float32),
        rng.random((2, n)).astype(np.float32), np.ones(2, np.float32), np.zeros((2, n)), np.zeros((2, n)),
    )  # fmt: skip
    got = known_features(evidence, sims, pair_virus, pair_human, pubs, neighbours=3)
    assert got.shape == (2, 12, len(KNOWN_FEATURES)) and len(KNOWN_MONOTONE) == len(KNOWN_FEATURES)
    f = len(FEATURES)
    np.testing.assert_array_equal(got[:, :, :f], evidence.features(sims))
    pub = PublicationEvidence(evidence, pair_virus, pair_human, pubs).features(sims.smith_waterman, 3)
    np.testing.assert_array_equal(got[:, :, f : f + len(PUBLICATION_FEATURES)], pub)
    np.testing.assert_array_equal(
        got[:, :, -len(CO_PARTNER_FEATURES) :], co_partner_features(evidence, sims.smith_waterman, 3)
    )


def test_fit_trees_takes_the_constraints_of_extra_columns():
    """Labels that fall with column 1: unconstrained, the trees follow them; constrained +1 there, they cannot."""
    from hvppi.screening.config import ScreeningConfig
    from hvppi.screening.trees import fit_trees

    rng = np.random.default_rng(0)
    x = rng.random((3000, 2))
    y = (rng.random(3000) < 0.8 - 0.6 * x[:, 1]).astype(float)
    config = ScreeningConfig(max_iter=20, min_samples_leaf=20)
    grid = np.c_[np.full(50, 0.5), np.linspace(0, 1, 50)]
    free = fit_trees(x, y, np.ones(3000), config, 1, [0, 0]).decision(grid)
    rising = fit_trees(x, y, np.ones(3000), config, 1, [0, 1]).decision(grid)
    assert free[-1] < free[0] - 1.0
    assert (np.diff(rising) >= -1e-12).all()

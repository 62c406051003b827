"""The screening model (hvppi.screening.model), its files, screening with it, and its CLI.

Expected values come from independent computations: features by brute-force loops over a hand-made
universe, scikit-learn's own predictions, sets of partners counted by hand. The trained model is
fitted once per module on a synthetic universe whose only signal is built in: viral families whose
members bind the family's human proteins, plus a few popular human "hubs".
"""

import hashlib
import json
import math
import pickle
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from threadpoolctl import threadpool_limits

from hvppi.align.similarity import kmer_cosine, local_similarity
from hvppi.cli import main
from hvppi.datasets.taxonomy import VirusTaxonomy
from hvppi.io.bundled import BUNDLED_MODELS, model_kind, resolve_model_path
from hvppi.io.errors import InputError, ModelFileError
from hvppi.lstm.modelfile import load_model
from hvppi.lstm.scorer import InteractionScorer
from hvppi.registry import load_scorer
from hvppi.scoring import screen as screening
from hvppi.scoring.interface import ScreenSettings
from hvppi.scoring.screen import screen
from hvppi.screening import fitting
from hvppi.screening import model as screen_model
from hvppi.screening.calibration import IsotonicCalibration
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import DEGREE_BINS, FEATURES, Evidence
from hvppi.screening.fitting import fit_screening_model
from hvppi.screening.model import Reference, ScreeningModel
from hvppi.screening.modelfile import load_screening_model
from hvppi.screening.scorer import SCREENING_COLUMNS, ScreeningScorer
from hvppi.screening.similarity import Candidates, ViralSimilarities, composition_vectors
from hvppi.screening.taxa import ViralTaxa
from hvppi.screening.trees import TreeEnsemble, group_folds, per_virus_weights

AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
TINY = ScreeningConfig(max_iter=20, min_samples_leaf=5, negatives_per_virus=30, folds=3)
needs_cdhit = pytest.mark.skipif(shutil.which("cd-hit") is None, reason="cd-hit is not installed")
INTERACTION_MODEL = Path(screen_model.__file__).parents[1] / "models" / "lstm_phv_benchmark.safetensors"


def random_sequence(rng, n):
    return "".join(rng.choice(AA, int(n)))


def mutate(rng, sequence, rate):
    letters = np.array(list(sequence))
    changed = rng.random(len(letters)) < rate
    letters[changed] = rng.choice(AA, int(changed.sum()))
    return "".join(letters)


def quiet(message):
    pass


# --------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "values",
    [
        {"neighbours": 0},
        {"negatives_per_virus": 2.5},
        {"folds": 1},
        {"max_leaf_nodes": 1},
        {"fold_identity": 0.3},
        {"learning_rate": 0.0},
        {"learning_rate": float("nan")},
        {"l2_regularization": -1.0},
    ],
)
def test_config_rejects_bad_settings(values):
    with pytest.raises(ValueError, match=next(iter(values))):
        ScreeningConfig(**values)


def test_config_from_dict_ignores_the_threads_older_files_recorded():
    """Threads are a run-time setting (functions take ``threads``), not part of what a model file records."""
    assert ScreeningConfig.from_dict({"seed": 3, "threads": 2}) == ScreeningConfig(seed=3)
    assert "threads" not in ScreeningConfig.__dataclass_fields__


def test_config_from_dict_round_trip_and_unknown_keys():
    config = ScreeningConfig(max_iter=7, seed=3)
    assert ScreeningConfig.from_dict({k: getattr(config, k) for k in config.__dataclass_fields__}) == config
    with pytest.raises(ValueError, match="unknown screening settings: colour"):
        ScreeningConfig.from_dict({"colour": 1, "seed": 2})


# --------------------------------------------------------------------------------------- similarities


def test_composition_vectors_by_hand():
    sequences = ["ACDA", "WWKKA", "MACDEFGHIK"]
    letters = list(AA)
    rows = []
    for s in sequences:
        one = np.array([s.count(a) for a in letters]) / len(s)
        pairs = [s[i : i + 2] for i in range(len(s) - 1)]
        two = np.array([pairs.count(a + b) for a in letters for b in letters]) / len(pairs)
        rows.append(np.concatenate([one, 4 * two]))
    rows = np.array(rows)
    mean, sd = rows.mean(0), rows.std(0) + 1e-9
    z = (rows - mean) / sd
    expected = z / np.linalg.norm(z, axis=1, keepdims=True)
    got, got_mean, got_sd = composition_vectors(sequences)
    assert got.shape == (3, 420) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(got_mean, mean)
    np.testing.assert_allclose(got_sd, sd)
    # with given statistics, a new sequence is standardised by them, not by its own set
    other, _, _ = composition_vectors(["KKKKWA"], mean, sd)
    s = "KKKKWA"
    one = np.array([s.count(a) for a in letters]) / 6
    pairs = [s[i : i + 2] for i in range(5)]
    two = np.array([pairs.count(a + b) for a in letters for b in letters]) / 5
    z = (np.concatenate([one, 4 * two]) - mean) / sd
    np.testing.assert_allclose(other[0], z / np.linalg.norm(z), atol=1e-6)


def test_constant_similarities_are_the_mean_query():
    rng = np.random.default_rng(0)
    sims = ViralSimilarities(
        rng.random((4, 3)).astype(np.float32),
        rng.random((4, 3)).astype(np.float32),
        rng.random((4, 3)).astype(np.float32),
        np.log([50, 80, 120, 300]).astype(np.float32),
        (rng.random((4, 3)) < 0.5).astype(np.float32),
        (rng.random((4, 3)) < 0.5).astype(np.float32),
    )
    constant = sims.constant()
    for name in ("smith_waterman", "kmer", "composition", "same_taxon", "same_family"):
        values = getattr(constant, name)
        assert values.shape == (4, 3)
        np.testing.assert_allclose(values, np.tile(getattr(sims, name).mean(0), (4, 1)), rtol=1e-6)
    np.testing.assert_allclose(constant.log_length, np.full(4, np.log([50, 80, 120, 300]).mean()), rtol=1e-6)
    taken = sims.take(np.array([3, 1]), np.array([2, 0]))
    np.testing.assert_array_equal(taken.smith_waterman, sims.smith_waterman[[3, 1]][:, [2, 0]])
    np.testing.assert_array_equal(taken.log_length, sims.log_length[[3, 1]])


def test_candidates_map_by_identical_sequence():
    rng = np.random.default_rng(1)
    r0, r1, r3 = (random_sequence(rng, 60) for _ in range(3))
    references = [r0, r1, r0, r3]  # r0 twice: IDs differ, the sequence is the same
    novel = random_sequence(rng, 70)
    candidates = [r1, novel, r0, mutate(rng, r3, 0.1)]
    built = Candidates.build(candidates, references)
    np.testing.assert_array_equal(built.reference_index, [1, -1, 0, -1])
    cosine = kmer_cosine(candidates, references)
    expected = cosine.copy()
    expected[0, 1] = 0.0  # the candidate is not its own neighbour ...
    expected[2, [0, 2]] = 0.0  # ... under any of its reference IDs
    np.testing.assert_allclose(built.kmer, expected)
    assert cosine[2, 0] == pytest.approx(1.0) and built.kmer[3, 3] > 0.5  # a close relative is kept
    np.testing.assert_allclose(built.log_length, np.log([len(s) for s in candidates]), rtol=1e-6)


# --------------------------------------------------------------------------------------- features by hand


def brute_force_features(
    sw,
    kmer,
    composition,
    query_log_length,
    partners,
    cand_ref,
    cand_kmer,
    cand_len,
    k,
    same_taxon=None,
    same_family=None,
):
    """The features by explicit loops, from the docstring's definitions, each set by its name.

    partners[j]: reference human indices bound by known viral protein j (columns of sw/kmer/composition);
    same_taxon[q, j] / same_family[q, j]: 1 if query q and known viral protein j share the virus / family.
    """
    same_taxon = np.zeros(sw.shape) if same_taxon is None else same_taxon
    same_family = np.zeros(sw.shape) if same_family is None else same_family
    n_query, n_known = sw.shape
    n_cand, n_ref = cand_kmer.shape
    a = np.array([[cand_ref[c] >= 0 and cand_ref[c] in partners[j] for c in range(n_cand)] for j in range(n_known)])
    popularity = a.sum(0)
    reference_popularity = np.array([sum(r in p for p in partners) for r in range(n_ref)])
    near_partner = np.array(
        [[max((cand_kmer[c, r] for r in partners[j]), default=0.0) for c in range(n_cand)] for j in range(n_known)]
    )

    def top(values, n):
        n = min(n, len(values))
        return list(np.argsort(-values, kind="stable")[:n])

    def vote(values, n, c):
        chosen = top(values, n)
        return sum(a[j, c] for j in chosen) / len(chosen)

    def softmax(values, temperature):
        w = [math.exp((v - max(values)) / temperature) for v in values]
        return [x / sum(w) for x in w]

    similarity = {"sw": sw, "kmer": kmer, "composition": composition}
    degree = np.array([len(p) for p in partners])
    out = np.zeros((n_query, n_cand, len(FEATURES)))
    for q in range(n_query):
        nearest = top(sw[q], k)
        for c in range(n_cand):
            bound = [j for j in range(n_known) if a[j, c]]
            f = {}
            f["log_popularity"] = math.log1p(popularity[c])
            f["homology_max"] = max((sw[q, j] for j in bound), default=0.0)
            f["homology_sum"] = math.log1p(100 * sum(sw[q, j] ** 2 for j in bound))
            f["human_side_homology"] = max(sw[q, j] * near_partner[j, c] for j in nearest)
            neighbours = top(cand_kmer[c], 10)
            weights = cand_kmer[c, neighbours]
            f["kmer_smoothed_popularity"] = (weights * np.log1p(reference_popularity[neighbours])).sum() / max(
                weights.sum(), 1e-6
            )
            f["query_best_similarity"] = sw[q].max()
            f["homology_relative"] = f["homology_max"] / max(f["query_best_similarity"], 1e-3)
            f["kmer_homology_max"] = max((kmer[q, j] for j in bound), default=0.0)
            f["human_log_length"] = cand_len[c]
            f["virus_log_length"] = query_log_length[q]
            f["vote_sw"] = vote(sw[q], k, c)
            f["vote_composition"] = vote(composition[q], k, c)
            f["vote_composition_wide"] = vote(composition[q], 4 * k, c)
            f["vote_kmer"] = vote(kmer[q], k, c)
            for low, high in DEGREE_BINS:  # popularity among viral proteins with low..high partners
                inside = [j for j in range(n_known) if low <= degree[j] <= (high or 10**9)]
                f[f"log_popularity_degree_{low}_{high or 'up'}"] = math.log1p(sum(a[j, c] for j in inside))
            for name in ("sw", "composition"):  # softmax(sim / 0.05)-weighted log degree
                weights_q = softmax(similarity[name][q], 0.05)
                f[f"neighbour_log_degree_{name}"] = sum(w * math.log1p(degree[j]) for j, w in enumerate(weights_q))
            for name, same in (("taxon", same_taxon), ("family", same_family)):  # partners among the query's virus
                f[f"{name}_log_popularity"] = math.log1p(sum(a[j, c] for j in range(n_known) if same[q, j]))
                f[f"{name}_log_size"] = math.log1p(sum(same[q, j] for j in range(n_known)))
            assert set(f) == set(FEATURES)
            out[q, c] = [f[name] for name in FEATURES]
    return out


@pytest.fixture()
def hand_universe():
    """3 reference viral proteins, 4 reference human proteins, 5 candidates, 2 queries; no ties in any top-k."""
    partners = [{0, 1}, {1}, {2}]  # V0-R0, V0-R1, V1-R1, V2-R2; R3 has no partner
    pair_virus = np.array([0, 0, 1, 2])
    pair_human = np.array([0, 1, 1, 2])
    cand_ref = np.array([1, 3, -1, 0, 2])  # c0 = R1's sequence, c1 = R3's, c2 new, c3 = R0's, c4 = R2's
    cand_kmer = np.array(
        [
            [0.30, 0.00, 0.10, 0.55],
            [0.20, 0.45, 0.05, 0.00],
            [0.62, 0.15, 0.35, 0.25],
            [0.00, 0.40, 0.12, 0.08],
            [0.50, 0.22, 0.00, 0.33],
        ],
        dtype=np.float32,
    )
    cand_len = np.log([120, 80, 300, 95, 210]).astype(np.float32)
    sims = ViralSimilarities(
        np.array([[0.9, 0.3, 0.5], [0.2, 0.7, 0.4]], dtype=np.float32),
        np.array([[0.6, 0.1, 0.3], [0.05, 0.5, 0.2]], dtype=np.float32),
        np.array([[0.1, -0.3, 0.7], [0.8, 0.2, -0.5]], dtype=np.float32),
        np.array([4.5, 5.0], dtype=np.float32),
        np.array([[1, 0, 1], [0, 0, 0]], dtype=np.float32),  # q0 is of V0's and V2's virus; q1's is not known
        np.array([[1, 1, 1], [0, 1, 0]], dtype=np.float32),
    )
    return SimpleNamespace(
        partners=partners,
        pair_virus=pair_virus,
        pair_human=pair_human,
        candidates=Candidates(cand_ref, cand_kmer, cand_len),
        sims=sims,
    )


def test_evidence_features_equal_brute_force(hand_universe):
    u = hand_universe
    evidence = Evidence(np.arange(3), u.pair_virus, u.pair_human, 4, u.candidates, neighbours=2)
    got = evidence.features(u.sims)
    assert got.shape == (2, 5, len(FEATURES)) and got.dtype == np.float32
    expected = brute_force_features(
        u.sims.smith_waterman,
        u.sims.kmer,
        u.sims.composition,
        u.sims.log_length,
        u.partners,
        u.candidates.reference_index,
        u.candidates.kmer,
        u.candidates.log_length,
        2,
        u.sims.same_taxon,
        u.sims.same_family,
    )
    for j, name in enumerate(FEATURES):
        np.testing.assert_allclose(got[:, :, j], expected[:, :, j], atol=1e-5, err_msg=name)
    # a few values read off the hand-made universe directly
    f = {name: got[:, :, j] for j, name in enumerate(FEATURES)}
    np.testing.assert_allclose(np.expm1(f["log_popularity"][0]), [2, 0, 0, 1, 1], atol=1e-5)
    np.testing.assert_allclose(f["homology_max"][0], [0.9, 0, 0, 0.9, 0.5], atol=1e-6)  # c0: max(V0 0.9, V1 0.3)
    np.testing.assert_allclose(f["homology_max"][1], [0.7, 0, 0, 0.2, 0.4], atol=1e-6)
    # q0's two nearest are V0 (0.9) and V2 (0.5); c1 (R3's sequence) is 0.45 like R1, a partner of V0
    assert f["human_side_homology"][0, 1] == pytest.approx(0.9 * 0.45, abs=1e-6)
    np.testing.assert_allclose(f["vote_sw"][0], [0.5, 0, 0, 0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(f["vote_sw"][1], [0.5, 0, 0, 0, 0.5], atol=1e-6)  # V1 (R1) and V2 (R2) vote
    np.testing.assert_allclose(f["query_best_similarity"], [[0.9] * 5, [0.7] * 5], atol=1e-6)
    # q0's virus: V0 (R0, R1) and V2 (R2); c0 = R1, c3 = R0, c4 = R2; q1's family: V1 (R1)
    np.testing.assert_allclose(np.expm1(f["taxon_log_popularity"]), [[1, 0, 0, 1, 1], [0] * 5], atol=1e-5)
    np.testing.assert_allclose(np.expm1(f["taxon_log_size"]), [[2] * 5, [0] * 5], atol=1e-5)
    np.testing.assert_allclose(np.expm1(f["family_log_popularity"]), [[2, 0, 0, 1, 1], [1, 0, 0, 0, 0]], atol=1e-5)
    without = evidence.features(u.sims.without_taxonomy())
    taxonomy = [FEATURES.index(n) for n in FEATURES if n.startswith(("taxon_", "family_"))]
    assert not without[:, :, taxonomy].any()
    others = [j for j in range(len(FEATURES)) if j not in taxonomy]
    np.testing.assert_array_equal(without[:, :, others], got[:, :, others])


def test_evidence_features_equal_brute_force_with_every_degree_bin():
    """Viral proteins with 1, 2, 3, 4, 16 and 20 partners: every popularity-by-degree bin is filled."""
    rng = np.random.default_rng(21)
    degrees = [1, 2, 3, 4, 16, 20]
    n_ref = 24
    partners = [set(rng.choice(n_ref, d, replace=False).tolist()) for d in degrees]
    pair_virus = np.array([j for j, p in enumerate(partners) for _ in p])
    pair_human = np.array([h for p in partners for h in sorted(p)])
    cand_ref = np.r_[np.arange(n_ref), -1]
    cand_kmer = rng.random((n_ref + 1, n_ref)).astype(np.float32)
    cand_kmer[np.arange(n_ref), np.arange(n_ref)] = 0
    cand_len = np.log(rng.integers(50, 500, n_ref + 1)).astype(np.float32)
    shape = (3, len(degrees))
    sims = ViralSimilarities(
        rng.random(shape).astype(np.float32),
        rng.random(shape).astype(np.float32),
        rng.uniform(-1, 1, shape).astype(np.float32),
        np.log(rng.integers(50, 500, 3)).astype(np.float32),
        (rng.random(shape) < 0.4).astype(np.float32),
        (rng.random(shape) < 0.6).astype(np.float32),
    )
    candidates = Candidates(cand_ref, cand_kmer, cand_len)
    got = Evidence(np.arange(len(degrees)), pair_virus, pair_human, n_ref, candidates, neighbours=3).features(sims)
    expected = brute_force_features(
        sims.smith_waterman,
        sims.kmer,
        sims.composition,
        sims.log_length,
        partners,
        cand_ref,
        cand_kmer,
        cand_len,
        3,
        sims.same_taxon,
        sims.same_family,
    )
    for j, name in enumerate(FEATURES):
        np.testing.assert_allclose(got[:, :, j], expected[:, :, j], atol=1e-4, rtol=1e-5, err_msg=name)
    bins = [FEATURES.index(f"log_popularity_degree_{b}") for b in ("1_2", "3_15", "16_up")]
    assert all(got[0, :, b].max() > 0 for b in bins)
    np.testing.assert_allclose(np.expm1(got[0, :, bins]).sum(0), np.expm1(got[0, :, 0]), atol=1e-4)  # bins add up


def test_evidence_of_some_reference_viral_proteins_only(hand_universe):
    """Out-of-fold evidence: the pairs of viral proteins not in known_viral say nothing."""
    u = hand_universe
    evidence = Evidence(np.array([0, 2]), u.pair_virus, u.pair_human, 4, u.candidates, neighbours=2)
    sims = u.sims.take(slice(None), np.array([0, 2]))
    got = evidence.features(sims)
    np.testing.assert_allclose(evidence.popularity, [1, 0, 0, 1, 1])  # R1 keeps V0 only
    expected = brute_force_features(
        sims.smith_waterman,
        sims.kmer,
        sims.composition,
        sims.log_length,
        [u.partners[0], u.partners[2]],
        u.candidates.reference_index,
        u.candidates.kmer,
        u.candidates.log_length,
        2,
        sims.same_taxon,
        sims.same_family,
    )
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert got[1, 0, FEATURES.index("homology_max")] == pytest.approx(0.2)  # V1 (0.7) is not known


def test_no_queries_give_an_empty_feature_array(hand_universe):
    u = hand_universe
    evidence = Evidence(np.arange(3), u.pair_virus, u.pair_human, 4, u.candidates)
    empty = u.sims.take(np.array([], dtype=np.int64), slice(None))
    assert evidence.features(empty).shape == (0, 5, len(FEATURES))


def built_universe(rng, duplicate=False):
    viral = [random_sequence(rng, 90) for _ in range(3)]
    human = [random_sequence(rng, 70) for _ in range(4)]
    if duplicate:
        human[3] = human[1]  # R3: another ID with R1's sequence
    pairs = (np.array([0, 0, 1, 2]), np.array([0, 1, 1, 3 if duplicate else 2]))
    return viral, human, pairs


def test_candidate_inherits_the_partners_of_its_sequence():
    rng = np.random.default_rng(5)
    viral, human, (pv, ph) = built_universe(rng)
    queries = [viral[1], random_sequence(rng, 90)]
    # candidates under new IDs: R1's sequence, a protein outside the reference, R2's sequence
    outsider = random_sequence(rng, 70)
    candidates = Candidates.build([human[1], outsider, human[2]], human)
    _, mean, sd = composition_vectors(viral)
    from hvppi.screening.similarity import viral_similarities

    sims = viral_similarities(queries, viral, (mean, sd))
    evidence = Evidence(np.arange(3), pv, ph, 4, candidates, neighbours=2)
    f = evidence.features(sims)
    sw = local_similarity(queries, viral)
    np.testing.assert_allclose(evidence.popularity, [2, 0, 1])  # R1: V0 and V1; R2: V2
    np.testing.assert_allclose(f[:, 0, FEATURES.index("homology_max")], sw[:, :2].max(1), atol=1e-6)
    np.testing.assert_allclose(f[:, 2, FEATURES.index("homology_max")], sw[:, 2], atol=1e-6)
    assert f[0, 0, FEATURES.index("homology_max")] == pytest.approx(1.0)  # the query is V1, a partner of R1
    evidence_of_pairs = [
        "log_popularity",
        "homology_max",
        "homology_sum",
        "homology_relative",
        "kmer_homology_max",
        "vote_sw",
        "vote_composition",
        "vote_composition_wide",
        "vote_kmer",
    ]
    assert (f[:, 1, [FEATURES.index(n) for n in evidence_of_pairs]] == 0).all()  # the outsider: no partner, no homology


def test_candidate_inherits_the_partners_of_every_reference_copy_of_its_sequence():
    rng = np.random.default_rng(5)
    viral, human, (pv, ph) = built_universe(rng, duplicate=True)  # V0-R0, V0-R1, V1-R1, V2-R3 (= R1's sequence)
    candidates = Candidates.build([human[1]], human)
    evidence = Evidence(np.arange(3), pv, ph, 4, candidates, neighbours=2)
    assert evidence.popularity[0] == 3  # V0, V1 and V2 all bind a protein with this sequence


# --------------------------------------------------------------------------------------- trees and calibration


def _fit_hgb(x, y, **kw):
    from sklearn.ensemble import HistGradientBoostingClassifier

    with threadpool_limits(1):
        return HistGradientBoostingClassifier(random_state=0, **kw).fit(x, y)


def test_tree_ensemble_equals_sklearn_decision_function_with_missing_values():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(600, 16)).astype(np.float32)
    x[:, :8][rng.random((600, 8)) < 0.15] = np.nan  # features 0-7 have missing values in training
    signal = np.nan_to_num(x[:, 0], nan=1.5) + 0.5 * x[:, 9] - np.isnan(x[:, 3]) + rng.normal(0, 0.7, 600)
    y = (signal > 0.3).astype(int)
    model = _fit_hgb(x, y, max_iter=15, max_leaf_nodes=8, min_samples_leaf=5)
    trees = TreeEnsemble.from_sklearn(model)
    assert len(trees.roots) == 15
    internal = ~trees.leaf
    assert trees.missing_left[internal].any() and not trees.missing_left[internal].all()
    test = rng.normal(size=(800, 16)).astype(np.float32)
    test[rng.random(test.shape) < 0.2] = np.nan  # missing everywhere, also where training had none
    with threadpool_limits(1):
        expected = model.decision_function(test)
    np.testing.assert_array_equal(trees.decision(test), expected)
    # any leading shape: (queries, candidates, features) -> (queries, candidates)
    np.testing.assert_array_equal(trees.decision(test.reshape(20, 40, 16)), expected.reshape(20, 40))
    # in chunks of rows (one chunk without missing values takes the fast path)
    test[:7] = np.nan_to_num(test[:7], nan=0.25)
    expected = model.decision_function(test)
    for chunk in (7, 64, 10_000):
        np.testing.assert_array_equal(trees.decision(test, chunk=chunk), expected)
    assert trees.decision(test[:0]).shape == (0,)
    # and through the arrays a model file stores
    again = TreeEnsemble.from_arrays(trees.arrays("t"), "t", trees.baseline)
    np.testing.assert_array_equal(again.decision(test), expected)


def test_isotonic_calibration_by_hand():
    # pool adjacent violators on 0 1 0 1: the middle two pool to one block of 2 with 1 partner; then Jeffreys'
    # (k + 1/2) / (n + 1): 1 pair, 0 partners -> 0.25; 2 pairs, 1 partner -> 0.5; 1 pair, 1 partner -> 0.75
    calibration = IsotonicCalibration.fit(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 1.0, 0.0, 1.0]))
    np.testing.assert_allclose(calibration(np.array([1.0, 2.0, 3.0, 4.0])), [0.25, 0.5, 0.5, 0.75])
    np.testing.assert_allclose(calibration(np.array([-10.0, 1.5, 3.5, 99.0])), [0.25, 0.375, 0.625, 0.75])


def test_isotonic_calibration_equals_sklearn_and_is_monotone():
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(3)
    scores = rng.normal(size=2000)
    labels = (rng.random(2000) < 1 / (1 + np.exp(-2 * scores))).astype(float)
    calibration = IsotonicCalibration.fit(scores, labels)
    grid = np.linspace(-5, 5, 1001)
    got = calibration(grid)
    iso = IsotonicRegression(out_of_bounds="clip").fit(scores, labels)
    np.testing.assert_allclose(calibration.x, iso.X_thresholds_)  # the same blocks as scikit-learn's
    fitted = iso.predict(scores)  # each block's rate k/n, shrunk to (k + 1/2) / (n + 1), then a running maximum
    levels = np.unique(fitted)
    shrunk = np.maximum.accumulate([(labels[fitted == v].sum() + 0.5) / ((fitted == v).sum() + 1) for v in levels])
    for level, value in zip(levels, shrunk):
        block = fitted == level
        assert calibration(scores[block]) == pytest.approx(np.full(block.sum(), value))
    assert (np.diff(got) >= 0).all() and got.min() > 0 and got.max() < 1
    # subsampled (max_points) it is still a monotone map into [0, 1]
    small = IsotonicCalibration.fit(scores, labels, max_points=300, seed=1)
    assert len(small.x) <= 300 and (np.diff(small(grid)) >= 0).all()


def test_per_virus_weights_by_hand():
    labels = np.array([1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0], dtype=float)
    virus = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2])
    weight = per_virus_weights(labels, virus)
    assert weight.mean() == pytest.approx(1.0)
    positive = [weight[(virus == v) & (labels == 1)].sum() for v in range(3)]
    negative = [weight[(virus == v) & (labels == 0)].sum() for v in range(3)]
    assert positive == pytest.approx([positive[0]] * 3) and negative == pytest.approx([negative[0]] * 3)
    # negatives/positives weigh as the mean counts do: (3 + 1 + 6)/3 negatives per (1 + 2 + 1)/3 positives
    assert negative[0] / positive[0] == pytest.approx(10 / 4)


def test_group_folds_keep_groups_together_and_balance():
    groups = ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 3 + ["e"] * 2 + ["f"] + ["g"]
    fold = group_folds(groups, 3, seed=0)
    for g in set(groups):
        assert len({fold[i] for i, x in enumerate(groups) if x == g}) == 1
    sizes = np.bincount(fold, minlength=3)
    assert sizes.sum() == 19 and sizes.max() - sizes.min() <= 1  # 7/6/6 is reachable, and greedy finds it


# --------------------------------------------------------------------------------------- model files


def handmade_model(seed=0):
    """A ScreeningModel assembled without fitting: random reference, trees fitted on random features."""
    rng = np.random.default_rng(seed)
    viral = [random_sequence(rng, rng.integers(40, 90)) for _ in range(5)]
    human = [random_sequence(rng, rng.integers(40, 120)) for _ in range(12)]
    reference = Reference(
        [f"V{i}" for i in range(5)],
        viral,
        [f"H{i}" for i in range(12)],
        human,
        np.array([0, 0, 1, 2, 3, 4, 4]),
        np.array([0, 1, 1, 5, 7, 7, 11]),
    )
    x = rng.normal(size=(300, len(FEATURES))).astype(np.float32)
    y = (x[:, 1] + x[:, 4] + rng.normal(size=300) > 0).astype(int)
    trees = TreeEnsemble.from_sklearn(_fit_hgb(x, y, max_iter=5, max_leaf_nodes=4, min_samples_leaf=5))
    calibration = IsotonicCalibration.fit(trees.decision(x), y.astype(float))
    _, mean, sd = composition_vectors(viral)
    return ScreeningModel(reference, trees, calibration, mean, sd, ScreeningConfig(neighbours=3), {"note": "handmade"})


@pytest.fixture(scope="module")
def saved_handmade(tmp_path_factory):
    model = handmade_model()
    path = tmp_path_factory.mktemp("handmade") / "handmade.safetensors"
    model.save(path)
    return model, path


def rewrite(path, out, tensors=None, document=None, raw_metadata=None):
    """Copy a model file with some tensors and/or metadata changed."""
    arrays = load_file(str(path))
    with safe_open(str(path), framework="numpy") as fh:
        meta = dict(fh.metadata())
    doc = json.loads(meta["hvppi"])
    for key, change in (tensors or {}).items():
        arrays[key] = change(arrays[key].copy())
    if document is not None:
        doc = document(doc)
    meta["hvppi"] = raw_metadata if raw_metadata is not None else json.dumps(doc)
    save_file(arrays, str(out), metadata=meta)
    return out


def test_save_load_round_trip_gives_identical_scores(saved_handmade):
    model, path = saved_handmade
    loaded = ScreeningModel.load(path)
    assert loaded.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == model.file_sha256
    assert loaded.config == model.config and loaded.metadata == {"note": "handmade"}
    assert loaded.reference.virus_ids == model.reference.virus_ids
    assert loaded.reference.human_sequences == model.reference.human_sequences
    np.testing.assert_array_equal(loaded.reference.pair_human, model.reference.pair_human)
    rng = np.random.default_rng(9)
    viral = [random_sequence(rng, 60) for _ in range(3)] + [model.reference.virus_sequences[2]]
    human = [random_sequence(rng, 80) for _ in range(4)] + model.reference.human_sequences[:6]
    raw, probability = model.score_matrix(viral, human)
    raw2, probability2 = loaded.score_matrix(viral, human)
    np.testing.assert_array_equal(raw, raw2)
    np.testing.assert_array_equal(probability, probability2)
    assert raw.shape == (4, 10) and np.ptp(raw) > 0


def test_a_model_file_of_an_older_format_asks_to_be_retrained(saved_handmade, tmp_path):
    _, path = saved_handmade
    old = FEATURES[:16]  # format 1 had the first 16 features
    out = rewrite(path, tmp_path / "old.safetensors", document=lambda d: {**d, "format_version": 1, "features": old})
    with pytest.raises(ModelFileError, match="format version 1.*older hvppi.*retrain"):
        ScreeningModel.load(out)


def test_load_never_unpickles(saved_handmade, monkeypatch):
    _, path = saved_handmade

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(np, "load", refuse)
    assert load_screening_model(path).reference.virus_ids == [f"V{i}" for i in range(5)]
    header = int.from_bytes(path.read_bytes()[:8], "little")  # a safetensors file: length, then a JSON header
    assert json.loads(path.read_bytes()[8 : 8 + header])["__metadata__"]["hvppi"]


TAMPERED = {
    "feature index out of range": {"tensors": {"trees.feature": lambda a: np.full_like(a, 99)}},
    "child out of range": {"tensors": {"trees.left": lambda a: a + 10_000}},
    "NaN leaf value": {"tensors": {"trees.value": lambda a: np.where(np.arange(len(a)) == 1, np.nan, a)}},
    "infinite calibration": {"tensors": {"calibration.y": lambda a: np.where(np.arange(len(a)) == 0, np.inf, a)}},
    "pair outside the reference": {"tensors": {"reference.pair_human": lambda a: a + 100}},
    "pair arrays differ": {"tensors": {"reference.pair_virus": lambda a: a[:-1]}},
    "letters do not match the lengths": {"tensors": {"reference.human_sequences": lambda a: a[:-3]}},
    "metadata a JSON list": {"raw_metadata": "[1, 2, 3]"},
    "metadata not JSON": {"raw_metadata": "{not json"},
    "wrong kind": {"document": lambda d: {**d, "kind": "hvppi-something-else"}},
    "newer format": {"document": lambda d: {**d, "format_version": 99}},
    "other features": {"document": lambda d: {**d, "features": d["features"][::-1]}},
    "unknown setting": {"document": lambda d: {**d, "config": {**d["config"], "depth": 3}}},
    "invalid setting": {"document": lambda d: {**d, "config": {**d["config"], "folds": 0}}},
    "missing IDs": {"document": lambda d: {k: v for k, v in d.items() if k != "human_ids"}},
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_model_file_is_refused(case, saved_handmade, tmp_path):
    _, path = saved_handmade
    bad = rewrite(path, tmp_path / "bad.safetensors", **TAMPERED[case])
    with pytest.raises(ModelFileError, match="bad.safetensors"):
        ScreeningModel.load(bad)


@pytest.mark.parametrize(
    "case", ["negative child", "negative feature", "root out of range", "node is its own child", "short missing_left"]
)
def test_tampered_tree_structure_is_refused(case, saved_handmade, tmp_path):
    _, path = saved_handmade
    leaf = load_file(str(path))["trees.leaf"]
    first = int(np.flatnonzero(~leaf)[0])  # an internal node

    def at_first(value):
        return lambda a: np.where(np.arange(len(a)) == first, value, a)

    change = {
        "negative child": {"trees.left": at_first(-3)},
        "negative feature": {"trees.feature": at_first(-1)},
        "root out of range": {"trees.roots": lambda a: a + 10_000},
        "node is its own child": {"trees.left": at_first(first)},
        "short missing_left": {"trees.missing_left": lambda a: a[:1]},
    }[case]
    bad = rewrite(path, tmp_path / "bad.safetensors", tensors=change)
    with pytest.raises(ModelFileError):
        ScreeningModel.load(bad)  # (never scored: with a cycle, scoring would not return)


def test_not_a_model_file(tmp_path, saved_handmade):
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(saved_handmade[1].read_bytes()[:-100])
    for path in (tmp_path / "junk.safetensors", truncated):
        with pytest.raises(ModelFileError, match=path.name):
            model_kind(path)
        with pytest.raises(ModelFileError, match=path.name):
            load_screening_model(path)
    with pytest.raises(ModelFileError, match="not found"):
        load_screening_model(tmp_path / "missing.safetensors")


def test_screening_model_load_refuses_a_junk_file_with_model_file_error(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match="junk.safetensors"):
        ScreeningModel.load(tmp_path / "junk.safetensors")


def test_model_kind_and_loaders_tell_the_two_kinds_apart(saved_handmade, tmp_path):
    _, path = saved_handmade
    assert model_kind(path) == "screening"
    assert isinstance(load_scorer(path), ScreeningScorer)
    with pytest.raises(ModelFileError, match="screening model"):
        load_model(path)  # the BiLSTM loader refuses, with a hint
    listed = rewrite(path, tmp_path / "listed.safetensors", raw_metadata="[1, 2]")
    with pytest.raises(ModelFileError, match="not a JSON object"):
        model_kind(listed)
    other = rewrite(path, tmp_path / "other.safetensors", document=lambda d: {**d, "kind": "other"})
    with pytest.raises(ModelFileError, match="not a screening model"):
        load_screening_model(other)
    if INTERACTION_MODEL.exists():
        assert model_kind(INTERACTION_MODEL) == "interaction"
        with pytest.raises(ModelFileError, match="not a screening model"):
            load_screening_model(INTERACTION_MODEL)
        assert isinstance(load_scorer(INTERACTION_MODEL), InteractionScorer)


def test_bundled_names_resolve_to_the_screening_model_by_default():
    assert BUNDLED_MODELS["default"] == BUNDLED_MODELS["screening"] == "screening.safetensors"
    assert resolve_model_path(None).name == "screening.safetensors"
    assert resolve_model_path("screening") == resolve_model_path(None)
    assert resolve_model_path("lstm-phv-benchmark").name == "lstm_phv_benchmark.safetensors"


# --------------------------------------------------------------------------------------- a trained model


FAMILIES, MEMBERS, HUMANS, HUBS = 16, 3, 160, 5


def family_partners(f):
    return [HUBS + 4 * f + k for k in range(4)]


def synthetic_taxa(family):
    return ViralTaxa(
        [f"100{f}" if f % 2 == 0 else None for f in family], [f"Fam{f // 4}" if f % 2 == 0 else None for f in family]
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model fitted on a synthetic universe (records the out-of-fold evidence of its fit).

    16 viral families of 3 members (~80% identical to the family ancestor; 4 families have a 4th member
    99% identical to the first, so CD-HIT clusters have several members); each member binds 3 of its
    family's 4 human proteins, and each of 5 hub human proteins with probability 0.3. The virus of the
    even families is known (taxon "100f", family "Fam<f // 4>"); that of the odd ones is not.
    """
    if shutil.which("cd-hit") is None:
        pytest.skip("cd-hit is not installed")
    rng = np.random.default_rng(7)
    ancestors = [random_sequence(rng, rng.integers(80, 160)) for _ in range(FAMILIES)]
    virus_ids, virus_seqs, family = [], [], []
    for f, ancestor in enumerate(ancestors):
        members = [mutate(rng, ancestor, 0.2) for _ in range(MEMBERS)]
        if f < 4:
            members.append(mutate(rng, members[0], 0.01))
        for m, s in enumerate(members):
            virus_ids.append(f"V{f}_{m}")
            virus_seqs.append(s)
            family.append(f)
    human_ids = [f"H{i}" for i in range(HUMANS)]
    human_seqs = [random_sequence(rng, rng.integers(60, 200)) for _ in range(HUMANS)]
    pairs = set()
    for v, f in enumerate(family):
        pairs.update((v, int(h)) for h in rng.choice(family_partners(f), 3, replace=False))
        pairs.update((v, h) for h in range(HUBS) if rng.random() < 0.3)
    pairs = sorted(pairs)
    calls = []
    original = screen_model.Evidence

    class Recording(original):
        def __init__(self, known_viral, *args, **kwargs):
            calls.append(np.asarray(known_viral).copy())
            super().__init__(known_viral, *args, **kwargs)

    clusters = {}
    from hvppi.datasets import clustering

    cdhit = clustering.cdhit_clusters

    def recording_cdhit(sequences, identity=0.9, **kwargs):
        clusters.update(cdhit(sequences, identity, **kwargs))
        return clusters

    with pytest.MonkeyPatch.context() as mp, threadpool_limits(1):
        mp.setattr(fitting, "Evidence", Recording)
        mp.setattr(clustering, "cdhit_clusters", recording_cdhit)
        model = fit_screening_model(
            virus_ids,
            virus_seqs,
            human_ids,
            human_seqs,
            pairs,
            TINY,
            metadata={"test": 1},
            virus_taxa=synthetic_taxa(family),
            known_taxa={"Q9ALIAS": ("1006", "Fam1")},
        )
    path = tmp_path_factory.mktemp("trained") / "tiny.safetensors"
    model.save(path)
    return SimpleNamespace(
        model=model,
        path=path,
        virus_ids=virus_ids,
        virus_seqs=virus_seqs,
        family=family,
        ancestors=ancestors,
        human_ids=human_ids,
        human_seqs=human_seqs,
        pairs=pairs,
        evidence_calls=calls,
        clusters=clusters,
        rng=np.random.default_rng(8),
    )


def test_known_protein_rows_rank_hidden_partners_with_the_rest_known(trained):
    """A screen of a known protein, as training rows: the protein is in its own reference (similarity 1) with 80% of
    its pairs, and only its hidden partners are positives; proteins with fewer partners than the setting get none."""
    from dataclasses import replace

    from hvppi.screening.features import COLUMN
    from hvppi.screening.fitting import known_protein_rows
    from hvppi.screening.similarity import SimilarityBundle

    pairs = np.array(trained.pairs)
    reference = Reference(
        trained.virus_ids, trained.virus_seqs, trained.human_ids, trained.human_seqs, pairs[:, 0], pairs[:, 1]
    )
    with threadpool_limits(1):
        bundle = SimilarityBundle.compute(trained.virus_seqs, trained.human_seqs)
    training = np.arange(len(trained.virus_ids))
    fold = group_folds([str(f) for f in trained.family], TINY.folds, 0)
    config = replace(TINY, known_protein_min_partners=5)
    x, y, owner = known_protein_rows(reference, training, bundle, fold, config)
    degree = np.bincount(pairs[:, 0], minlength=len(training))
    assert set(owner.tolist()) == set(np.flatnonzero(degree >= 5).tolist()) and len(set(owner.tolist())) > 3
    for v in set(owner.tolist()):
        mine = owner == v
        assert y[mine].sum() == max(1, round(0.2 * degree[v]))  # the hidden fifth
        assert (y[mine] == 0).sum() == TINY.negatives_per_virus
    # the protein's own copy is in the reference: its best similarity is 1; a hidden partner is not seen through it
    np.testing.assert_array_equal(x[:, COLUMN["query_best_similarity"]], 1.0)
    assert (x[y == 1, COLUMN["homology_max"]] < 1.0).all()
    assert (
        len(known_protein_rows(reference, training, bundle, fold, replace(TINY, known_protein_min_partners=0))[1]) == 0
    )
    # with the pairs' publications: the same rows, then publication and co-partner evidence from the shown pairs only.
    # Every pair is in a publication of its own, so a hidden partner has publication evidence only through another
    # viral protein that binds it (similarity < 1, one report: < log 2); through its own protein (similarity 1) it
    # would be log 2, so a leak of the hidden pair would show.
    from hvppi.screening.known import KNOWN_FEATURES
    from hvppi.screening.publications import PUBLICATION_FEATURES, PairPublications

    own = PairPublications.from_lists([[k + 1] for k in range(len(pairs))])
    xp, yp, owner_p = known_protein_rows(reference, training, bundle, fold, config, own)
    assert xp.shape == (len(x), len(KNOWN_FEATURES))
    np.testing.assert_array_equal(xp[:, : x.shape[1]], x)
    np.testing.assert_array_equal(yp, y)
    publication = xp[:, x.shape[1] : x.shape[1] + len(PUBLICATION_FEATURES)]
    assert (publication[y == 1, 0] < np.log(2.0) - 1e-6).all() and (publication[y == 1, 0] > 0).any()
    shared = PairPublications.from_lists([[7]] * len(pairs))  # one study reported everything: now it counts
    assert xp.shape == known_protein_rows(reference, training, bundle, fold, config, shared)[0].shape
    assert (known_protein_rows(reference, training, bundle, fold, config, shared)[0][y == 1, x.shape[1]] > 0).any()


def test_fit_records_what_it_learned_from(trained):
    info = trained.model.metadata["training"]
    assert trained.model.metadata["test"] == 1
    assert info["viral_proteins"] == len(trained.virus_ids)
    assert info["training_positives"] == len(trained.pairs)
    # every viral protein: its positives + 30 negatives (160 candidates leave enough)
    assert info["training_rows"] == len(trained.pairs) + 30 * len(trained.virus_ids)
    assert trained.model.reference.partners()[0].tolist() == sorted(h for v, h in trained.pairs if v == 0)


def test_training_features_are_out_of_fold_by_cdhit_cluster(trained):
    """Each fold's features come from the pairs of the other folds, and no CD-HIT cluster spans two folds."""
    calls = trained.evidence_calls
    n = len(trained.virus_ids)
    assert len(calls) == TINY.folds
    inside = [np.setdiff1d(np.arange(n), known) for known in calls]
    assert sorted(np.concatenate(inside).tolist()) == list(range(n))  # the folds partition the viral proteins
    cluster = [trained.clusters[v] for v in trained.virus_ids]
    assert len(set(cluster)) < n  # the 99% copies share clusters, so the check below can fail
    for known, held in zip(calls, inside):
        assert not {cluster[i] for i in known} & {cluster[i] for i in held}


def test_identical_query_ranks_the_partners_of_its_reference_protein_first(trained):
    """Homology transfer end to end: a query with a reference viral protein's sequence (under any ID)
    ranks that protein's partners at the top of 160 human proteins."""
    model = trained.model
    order = trained.rng.permutation(HUMANS)  # candidates in another order: mapped by sequence, not position
    humans = [trained.human_seqs[i] for i in order]
    raw, probability = model.score_matrix(trained.virus_seqs, humans)
    position = np.argsort(order)
    raw, probability = raw[:, position], probability[:, position]
    partners = model.reference.partners()
    for v, f in enumerate(trained.family):
        plausible = set(range(HUBS)) | set(family_partners(f))
        rank = np.empty(HUMANS, dtype=int)
        rank[np.argsort(-raw[v], kind="stable")] = np.arange(HUMANS)
        assert set(partners[v]) <= plausible
        specific = [h for h in partners[v] if h >= HUBS]
        # its family's partners lead (9 human proteins are plausible), the popular hubs come soon after, in the
        # top 20%; in a random order the last of 3-7 partners would come near rank 130 of 160
        assert rank[specific].max() < len(plausible), trained.virus_ids[v]
        assert rank[partners[v]].max() < 32, trained.virus_ids[v]
    assert ((probability >= 0) & (probability <= 1)).all()


def test_new_family_member_ranks_its_family_partners_first(trained):
    """A viral protein the model has never seen, ~80% identical to a family's ancestor."""
    queries = [mutate(trained.rng, a, 0.2) for a in trained.ancestors]
    raw, _ = trained.model.score_matrix(queries, trained.human_seqs)
    found = [len(set(np.argsort(-raw[f])[:9]) & set(family_partners(f))) for f in range(FAMILIES)]
    # a random order finds 9 * 4/160 = 0.2 of them
    assert np.mean(found) >= 3.5 and min(found) >= 2, found


def test_constant_virus_ablation_ranks_alike_for_every_query(trained):
    model = trained.model
    queries = trained.virus_seqs[::5]
    evidence = model.evidence(model.candidates(trained.human_seqs))
    similarities = model.similarities(queries)
    ablated, _ = model.score(evidence.features(similarities.constant()))
    for row in ablated[1:]:
        np.testing.assert_array_equal(row, ablated[0])
    real, _ = model.score(evidence.features(similarities))
    assert len({tuple(np.argsort(-row)[:10]) for row in real}) > 1  # without the ablation the viral input matters


def test_score_pairs_and_chunks_agree_with_the_matrix(trained):
    model = trained.model
    viral = trained.virus_seqs[:7]
    human = trained.human_seqs[:25]
    raw, probability = model.score_matrix(viral, human, chunk_size=32)
    raw1, probability1 = model.score_matrix(viral, human, chunk_size=3)
    np.testing.assert_allclose(raw1, raw, rtol=0, atol=1e-12)
    np.testing.assert_allclose(probability1, probability, rtol=0, atol=1e-12)
    np.testing.assert_allclose(probability, model.calibration(raw))
    sequences = {f"v{i}": s for i, s in enumerate(viral)} | {f"h{j}": s for j, s in enumerate(human)}
    rng = trained.rng
    rows = np.r_[np.arange(7), rng.integers(0, 7, 33)]  # every protein at least once, then repeats in no order
    columns = np.r_[np.arange(25), rng.integers(0, 25, 15)]
    shuffle = rng.permutation(40)
    rows, columns = rows[shuffle], columns[shuffle]
    r, p = model.score_pairs([f"h{j}" for j in columns], [f"v{i}" for i in rows], sequences)
    np.testing.assert_allclose(r, raw[rows, columns], atol=1e-12)
    np.testing.assert_allclose(p, probability[rows, columns], atol=1e-12)


def test_a_pairs_score_does_not_depend_on_the_other_candidates(trained):
    model = trained.model
    viral = trained.virus_seqs[:7]
    raw_all, _ = model.score_matrix(viral, trained.human_seqs)
    raw_some, _ = model.score_matrix(viral, trained.human_seqs[:25])
    np.testing.assert_allclose(raw_some, raw_all[:, :25], atol=1e-9)


def test_probability_is_monotone_in_the_score(trained):
    raw, probability = trained.model.score_matrix(trained.virus_seqs[:10], trained.human_seqs)
    order = np.argsort(raw.ravel())
    assert (np.diff(probability.ravel()[order]) >= -1e-12).all()
    # calibrated on out-of-fold scores: partners of the reference proteins are far likelier than the rest
    labels = np.zeros_like(raw, dtype=bool)
    for v, h in trained.pairs:
        if v < 10:
            labels[v, h] = True
    assert probability[labels].mean() > 5 * probability[~labels].mean()


# --------------------------------------------------------------------------------------- screening with it


def read_tsv(path):
    lines = Path(path).read_text().splitlines()
    return lines[0].split("\t"), [dict(zip(lines[0].split("\t"), line.split("\t"))) for line in lines[1:]]


@pytest.fixture(scope="module")
def screen_inputs(trained):
    """6 queries under new IDs (2 identical to reference viral proteins, 4 new), 30 human proteins (2 new)."""
    rng = np.random.default_rng(11)
    virus = {
        "q_same_as_V2_1": trained.virus_seqs[trained.virus_ids.index("V2_1")],
        "q_same_as_V9_0": trained.virus_seqs[trained.virus_ids.index("V9_0")],
    }
    for f in (3, 5, 12):
        virus[f"q_new_family{f}"] = mutate(rng, trained.ancestors[f], 0.25)
    virus["q_unrelated"] = random_sequence(rng, 120)
    picked = list(range(HUBS)) + family_partners(2) + family_partners(9) + family_partners(3) + list(range(100, 113))
    human = {f"x{trained.human_ids[i]}": trained.human_seqs[i] for i in picked}
    human |= {"xNEW1": random_sequence(rng, 90), "xNEW2": random_sequence(rng, 150)}
    return virus, human


@pytest.fixture(scope="module")
def full_screen(trained, screen_inputs, tmp_path_factory):
    virus, human = screen_inputs
    out = tmp_path_factory.mktemp("screen") / "full.tsv"
    summary = screen(
        ScreeningScorer(trained.model), virus, human, out, ScreenSettings(chunk_size=2), progress=False, log=quiet
    )
    return summary, out


def test_screen_writes_ranked_rows_with_evidence(trained, screen_inputs, full_screen):
    virus, human = screen_inputs
    summary, out = full_screen
    assert summary["pairs_scored"] == len(virus) * len(human) and summary["model"] == "screening"
    header, rows = read_tsv(out)
    assert header == [name for name, _ in SCREENING_COLUMNS]
    assert len(rows) == len(virus) * len(human)
    assert [r["virus_id"] for r in rows[:: len(human)]] == list(virus)  # grouped in input order
    raw, probability = trained.model.score_matrix(list(virus.values()), list(human.values()))
    human_ids = list(human)
    for i in range(len(virus)):
        block = rows[i * len(human) : (i + 1) * len(human)]
        assert [int(r["rank"]) for r in block] == list(range(1, len(human) + 1))
        assert sorted(r["human_id"] for r in block) == sorted(human_ids)
        scores = [float(r["score"]) for r in block]
        assert scores == sorted(scores, reverse=True)
        for r in block:
            j = human_ids.index(r["human_id"])
            assert float(r["score"]) == pytest.approx(raw[i, j], rel=1e-6, abs=1e-9)
            assert float(r["probability"]) == pytest.approx(probability[i, j], rel=1e-6, abs=1e-9)
            assert 0 <= float(r["probability"]) <= 1


def test_screen_evidence_columns_agree_with_the_reference(trained, screen_inputs, full_screen):
    virus, human = screen_inputs
    _, rows = read_tsv(full_screen[1])
    reference = trained.model.reference
    sw = local_similarity(list(virus.values()), reference.virus_sequences)
    binds = {(reference.virus_ids[v], reference.human_sequences[h]) for v, h in trained.pairs}
    partners_of = {}  # human sequence -> reference viral indices binding it
    for v, h in trained.pairs:
        partners_of.setdefault(reference.human_sequences[h], []).append(v)
    for i, v in enumerate(virus):
        nearest = int(np.argmax(sw[i]))
        for r in (r for r in rows if r["virus_id"] == v):
            assert r["nearest_training_virus"] == reference.virus_ids[nearest]
            assert float(r["nearest_similarity"]) == pytest.approx(sw[i, nearest], abs=1e-5)
            assert int(r["nearest_binds"]) == ((reference.virus_ids[nearest], human[r["human_id"]]) in binds)
            bound = partners_of.get(human[r["human_id"]], [])
            if bound:
                best = max(bound, key=lambda j: sw[i, j])
                assert r["best_partner_virus"] == reference.virus_ids[best]
                assert float(r["best_partner_similarity"]) == pytest.approx(sw[i, best], abs=1e-5)
            else:
                assert r["best_partner_virus"] == "" and float(r["best_partner_similarity"]) == 0
        if v.startswith("q_same_as_"):
            block = [r for r in rows if r["virus_id"] == v]
            assert block[0]["nearest_training_virus"] == v.removeprefix("q_same_as_")
            assert float(block[0]["nearest_identity"]) == pytest.approx(1.0)
            # the reference protein's own partners come among the first (9 of 30 are plausible)
            own = [int(r["rank"]) for r in block if r["nearest_binds"] == "1"]
            assert len(own) >= 3 and max(own) <= 9


def test_screen_top_k_and_min_score(trained, screen_inputs, full_screen, tmp_path):
    virus, human = screen_inputs
    _, every = read_tsv(full_screen[1])
    screen(
        ScreeningScorer(trained.model),
        virus,
        human,
        tmp_path / "top.tsv",
        ScreenSettings(top_k=4),
        progress=False,
        log=quiet,
    )
    _, top = read_tsv(tmp_path / "top.tsv")
    assert top == [r for r in every if int(r["rank"]) <= 4] and len(top) == 4 * len(virus)
    values = np.unique([float(r["probability"]) for r in every])
    middle = len(values) // 2
    cut = float((values[middle - 1] + values[middle]) / 2)  # between two printed values: no rounding at the edge
    screen(
        ScreeningScorer(trained.model),
        virus,
        human,
        tmp_path / "min.tsv",
        ScreenSettings(min_score=cut),
        progress=False,
        log=quiet,
    )
    _, kept = read_tsv(tmp_path / "min.tsv")
    assert kept == [r for r in every if float(r["probability"]) >= cut]  # on the probability, ranks kept
    assert 0 < len(kept) < len(every)


def test_interrupted_screen_resumes_and_reuses_finished_chunks(trained, screen_inputs, full_screen, tmp_path):
    virus, human = screen_inputs
    out = tmp_path / "s.tsv"
    original, written = screening.write_chunk, []

    def fail_after_first(path, *args, **kwargs):
        if written:
            raise KeyboardInterrupt
        written.append(path)
        return original(path, *args, **kwargs)

    settings = ScreenSettings(chunk_size=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(screening, "write_chunk", fail_after_first)
        with pytest.raises(KeyboardInterrupt):
            screen(ScreeningScorer(trained.model), virus, human, out, settings, progress=False, log=quiet)
    assert not out.exists() and [p.name for p in (tmp_path / "s.tsv.parts").glob("chunk-*")] == ["chunk-000000.tsv"]
    computed, messages = [], []
    rows = ScreeningScorer.rank_block

    def counting(self, human_side, virus_side, human_ids, virus_ids, settings):
        computed.append(list(virus_ids))
        return rows(self, human_side, virus_side, human_ids, virus_ids, settings)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ScreeningScorer, "rank_block", counting)
        screen(ScreeningScorer(trained.model), virus, human, out, settings, progress=False, log=messages.append)
    assert computed == [list(virus)[2:4], list(virus)[4:6]]  # the first chunk was not screened again
    assert any("resuming: 1 of 3" in m for m in messages)
    assert out.read_bytes() == full_screen[1].read_bytes()
    assert not (tmp_path / "s.tsv.parts").exists()
    # an unfinished screen of other inputs is not mixed in
    (tmp_path / "s.tsv.parts").mkdir()
    (tmp_path / "s.tsv.parts" / "screen.json").write_text("{}")
    with pytest.raises(InputError, match="--restart"):
        screen(ScreeningScorer(trained.model), virus, human, out, settings, progress=False, log=quiet)
    screen(ScreeningScorer(trained.model), virus, human, out, settings, progress=False, restart=True, log=quiet)
    assert out.read_bytes() == full_screen[1].read_bytes()


def test_resume_does_not_mix_two_unsaved_models(screen_inputs, tmp_path):
    virus, human = screen_inputs
    first, second = handmade_model(0), handmade_model(1)
    out = tmp_path / "s.tsv"
    original, written = screening.write_chunk, []

    def fail_after_first(path, *args, **kwargs):
        if written:
            raise KeyboardInterrupt
        written.append(path)
        return original(path, *args, **kwargs)

    settings = ScreenSettings(chunk_size=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(screening, "write_chunk", fail_after_first)
        with pytest.raises(KeyboardInterrupt):
            screen(ScreeningScorer(first), virus, human, out, settings, progress=False, log=quiet)
    try:
        screen(ScreeningScorer(second), virus, human, out, settings, progress=False, log=quiet)
    except InputError:
        return  # refusing to resume is right too
    screen(ScreeningScorer(second), virus, human, tmp_path / "clean.tsv", settings, progress=False, log=quiet)
    assert out.read_text() == (tmp_path / "clean.tsv").read_text()


def test_screen_to_parquet_equals_tsv(trained, screen_inputs, full_screen, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    virus, human = screen_inputs
    out = tmp_path / "s.parquet"
    summary = screen(
        ScreeningScorer(trained.model), virus, human, out, ScreenSettings(chunk_size=4), progress=False, log=quiet
    )
    assert summary["format"] == "parquet"
    table = pq.read_table(out)
    assert table.schema.names == [name for name, _ in SCREENING_COLUMNS]
    assert str(table.schema.field("rank").type) == "int64" and str(table.schema.field("nearest_binds").type) == "int8"
    _, rows = read_tsv(full_screen[1])
    data = table.to_pylist()
    assert len(data) == len(rows)
    for got, expected in zip(data, rows):
        for name, kind in SCREENING_COLUMNS:
            if kind == "float64":
                assert got[name] == pytest.approx(float(expected[name]), rel=1e-6, abs=1e-9)
            else:
                assert str(got[name]) == expected[name]


def test_screen_warns_about_a_query_longer_than_every_training_protein(trained, tmp_path):
    longest = max(len(s) for s in trained.virus_seqs)
    messages = []
    virus = {"long": random_sequence(np.random.default_rng(4), longest + 50)}
    human = dict(zip(trained.human_ids[:5], trained.human_seqs[:5]))
    screen(ScreeningScorer(trained.model), virus, human, tmp_path / "s.tsv", progress=False, log=messages.append)
    assert any(m.startswith("warning: long has") and "polyprotein" in m for m in messages)


# --------------------------------------------------------------------------------------- the CLI


def write_fasta(path, sequences):
    path.write_text("".join(f">{k}\n{v}\n" for k, v in sequences.items()))
    return path


def test_cli_screen_with_a_screening_model_file(trained, screen_inputs, full_screen, tmp_path, capsys):
    virus, human = screen_inputs
    v = write_fasta(tmp_path / "v.fa", virus)
    h = write_fasta(tmp_path / "h.fa", human)
    out = tmp_path / "out" / "screen.tsv"
    code = main(
        ["screen", "--virus", str(v), "--human", str(h), "--out", str(out), "--model", str(trained.path), "--quiet"]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "screening" and summary["pairs_scored"] == len(virus) * len(human)
    assert out.read_text() == full_screen[1].read_text()  # the loaded file scores as the fitted model did
    code = main(
        ["screen", "--virus", str(v), "--human", str(h), "--out", str(tmp_path / "top.tsv")]
        + ["--model", str(trained.path), "--top-k", "2", "--quiet"]
    )
    assert code == 0
    _, rows = read_tsv(tmp_path / "top.tsv")
    assert len(rows) == 2 * len(virus)


def test_cli_predict_with_a_screening_model_file(trained, tmp_path, capsys):
    model = ScreeningModel.load(trained.path)
    sequences = dict(zip(trained.virus_ids[:4], trained.virus_seqs[:4])) | dict(
        zip(trained.human_ids[:6], trained.human_seqs[:6])
    )
    seqs = write_fasta(tmp_path / "seqs.fa", sequences)
    pairs = [(h, v) for h in trained.human_ids[:6] for v in trained.virus_ids[:4]][::-1]
    (tmp_path / "pairs.txt").write_text("".join(f"{h}\t{v}\t0\n" for h, v in pairs))
    out = tmp_path / "pred.tsv"
    code = main(
        ["predict", "--pairs", str(tmp_path / "pairs.txt"), "--sequences", str(seqs), "--out", str(out)]
        + ["--model", str(trained.path), "--quiet"]
    )
    assert code == 0
    assert "at cutoff 0.5" in capsys.readouterr().err
    header, rows = read_tsv(out)
    assert header == ["human_id", "virus_id", "score", "call", "known"]
    assert [(r["human_id"], r["virus_id"]) for r in rows] == pairs  # input order
    # known: the pairs of the training data (by sequence), with their sources, as a screen's known column says
    training = {(trained.human_ids[h], trained.virus_ids[v]) for v, h in trained.pairs}
    assert {(r["human_id"], r["virus_id"]) for r in rows if r["known"]} == training & set(pairs) != set()
    assert {r["known"] for r in rows if r["known"]} == {"training data"}
    # the viral proteins' virus comes from the reference protein of the same accession, as in a screen
    taxa = model.taxa_of(trained.virus_ids[:4])
    assert taxa.known() == 4  # V0_0..V0_3: family 0, even
    raw, probability = model.score_matrix(trained.virus_seqs[:4], trained.human_seqs[:6], taxa=taxa)
    for r in rows:
        expected = probability[trained.virus_ids.index(r["virus_id"]), trained.human_ids.index(r["human_id"])]
        assert float(r["score"]) == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert int(r["call"]) == (float(r["score"]) >= 0.5)


def test_cli_screen_refuses_vector_stores_with_a_screening_model(trained, screen_inputs, tmp_path, capsys):
    virus, human = screen_inputs
    v = write_fasta(tmp_path / "v.fa", virus)
    h = write_fasta(tmp_path / "h.fa", human)
    code = main(
        ["screen", "--virus", str(v), "--human", str(h), "--out", str(tmp_path / "s.tsv")]
        + ["--model", str(trained.path), "--human-vectors", str(tmp_path / "h.h5"), "--quiet"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("hvppi screen: error:") and "BiLSTM" in err[0]


# --------------------------------------------------------------------------------------- the virus as an input


def test_reference_taxa_are_kept_and_saved(trained):
    expected = synthetic_taxa(trained.family)
    assert trained.model.reference.taxa == expected  # no two proteins share a sequence: order kept
    loaded = ScreeningModel.load(trained.path)
    assert loaded.reference.taxa == expected
    assert loaded.taxa_of(["V2_1", "V2_1-PRO_1", "V3_0", "nobody"]) == ViralTaxa(
        ["1002", "1002", None, None], ["Fam0", "Fam0", None, None]
    )
    assert loaded.taxa_of(["a", "b"], taxon="1004") == ViralTaxa(["1004"] * 2, ["Fam1"] * 2)  # family looked up
    assert loaded.taxa_of(["a"], taxon="999") == ViralTaxa(["999"], [None])
    assert loaded.taxa_of(["a"], family="Fam3") == ViralTaxa([None], ["Fam3"])
    # an accession of the training data that names no reference protein (e.g. a duplicate sequence's other ID)
    assert loaded.known_taxa == {"Q9ALIAS": ("1006", "Fam1")}
    assert loaded.taxa_of(["Q9ALIAS-PRO_1"]) == ViralTaxa(["1006"], ["Fam1"])


@pytest.fixture(scope="module")
def trained_by_virus():
    """A tiny model of 16 viruses of 3 unrelated proteins each (as the proteins of one virus mostly are), each
    protein binding 3 of its virus's 4 human proteins and each of 5 hubs with probability 0.3; the virus of the
    even ones is known."""
    if shutil.which("cd-hit") is None:
        pytest.skip("cd-hit is not installed")
    rng = np.random.default_rng(17)
    virus_seqs = [random_sequence(rng, rng.integers(80, 160)) for _ in range(FAMILIES * MEMBERS)]
    family = [v // MEMBERS for v in range(len(virus_seqs))]
    human_seqs = [random_sequence(rng, rng.integers(60, 200)) for _ in range(HUMANS)]
    pairs = set()
    for v, f in enumerate(family):
        pairs.update((v, int(h)) for h in rng.choice(family_partners(f), 3, replace=False))
        pairs.update((v, h) for h in range(HUBS) if rng.random() < 0.3)
    ids = [f"U{v}" for v in range(len(virus_seqs))]
    with threadpool_limits(1):
        model = fit_screening_model(
            ids,
            virus_seqs,
            [f"H{i}" for i in range(HUMANS)],
            human_seqs,
            sorted(pairs),
            TINY,
            virus_taxa=synthetic_taxa(family),
        )
    return model, human_seqs


def test_the_virus_of_a_query_without_homologues_brings_its_partners_up(trained_by_virus):
    """A new protein told it comes from virus 6 ranks virus 6's human proteins near the top; not told, or told
    another virus, it does not (its sequence is like no reference protein's)."""
    model, human_seqs = trained_by_virus
    query = [random_sequence(np.random.default_rng(31), 120)]
    own = family_partners(6)

    def mean_rank(taxa):
        scores, _ = model.score_matrix(query, human_seqs, taxa=taxa)
        return np.argsort(np.argsort(-scores[0]))[own].mean()

    given = mean_rank(ViralTaxa(["1006"], ["Fam1"]))
    assert given < 15 < min(mean_rank(None), mean_rank(ViralTaxa(["10010"], ["Fam2"])))


def test_screen_takes_the_virus_by_accession_or_from_the_user(trained, screen_inputs, tmp_path, capsys):
    virus, human = screen_inputs
    virus = {"V2_1-PRO_9": virus["q_same_as_V2_1"], "q_unrelated": virus["q_unrelated"]}
    v = write_fasta(tmp_path / "v.fa", virus)
    h = write_fasta(tmp_path / "h.fa", human)
    base = ["screen", "--virus", str(v), "--human", str(h), "--model", str(trained.path), "--quiet"]
    assert main([*base, "--out", str(tmp_path / "a.tsv")]) == 0
    assert "the virus of 1 of 2 viral proteins (q_unrelated) is not given or not among the training" in (
        capsys.readouterr().err
    )
    _, rows = read_tsv(tmp_path / "a.tsv")
    by_virus = {r["virus_id"]: r for r in rows if r["rank"] == "1"}
    assert by_virus["V2_1-PRO_9"]["virus_taxon"] == "1002" and by_virus["V2_1-PRO_9"]["virus_family"] == "Fam0"
    assert by_virus["q_unrelated"]["virus_taxon"] == "" and by_virus["q_unrelated"]["same_virus_partners"] == "0"
    # same_virus_partners: training proteins of taxon 1002 (family 2's, V2_1 itself included) binding the human
    partners = {h: sum(1 for vi, hi in trained.pairs if hi == h and trained.family[vi] == 2) for h in range(HUMANS)}
    for r in rows:
        if r["virus_id"] == "V2_1-PRO_9":
            known = r["human_id"][1:] in trained.human_ids  # xNEW1, xNEW2: no reference sequence
            expected = partners[trained.human_ids.index(r["human_id"][1:])] if known else 0
            assert int(r["same_virus_partners"]) == expected
    assert main([*base, "--out", str(tmp_path / "b.tsv"), "--taxon", "01004"]) == 0
    _, rows = read_tsv(tmp_path / "b.tsv")
    assert {(r["virus_taxon"], r["virus_family"]) for r in rows} == {("1004", "Fam1")}
    err = capsys.readouterr().err  # a protein the training data knows as another virus is named
    assert "1 viral protein is screened as another virus than the training data gives (V2_1-PRO_9 is virus 1002" in err
    assert "screened as virus 1004 (Fam1)" in err and err.count("warning") == 1, err
    assert main([*base, "--out", str(tmp_path / "d.tsv"), "--family", "fam1"]) == 0  # the reference's spelling
    _, rows = read_tsv(tmp_path / "d.tsv")
    assert {(r["virus_taxon"], r["virus_family"]) for r in rows} == {("", "Fam1")}
    # the family's evidence is cited where the virus's is not: the reference proteins of Fam1 that bind the candidate
    ref = ScreeningModel.load(trained.path).reference
    in_family = {int(v) for v, f in enumerate(ref.taxa.families) if f == "Fam1"}
    binders = {h: 0 for h in ref.human_ids}
    for v, h in zip(ref.pair_virus.tolist(), ref.pair_human.tolist()):
        binders[ref.human_ids[h]] += v in in_family
    cited = [r for r in rows if " of family Fam1 bind" in r["evidence"]]
    assert cited and all(r["same_virus_partners"] == "0" for r in cited)
    for r in cited:
        n = binders[r["human_id"][1:]]
        assert f"{n} other protein{'s' if n > 1 else ''} of family Fam1 bind" in r["evidence"], r["evidence"]
    assert "screened as family Fam1" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "f.tsv"), "--taxon", "1002"]) == 0  # its own virus: no warning
    assert "warning" not in capsys.readouterr().err
    renamed = write_fasta(tmp_path / "renamed.fa", {"my_protein": virus["V2_1-PRO_9"]})
    assert main([*base[:2], str(renamed), *base[3:], "--out", str(tmp_path / "g.tsv")]) == 0
    err = capsys.readouterr().err
    assert "by sequence, my_protein is a training protein of virus 1002 (Fam0) under another ID" in err, err
    assert main([*base, "--out", str(tmp_path / "e.tsv"), "--taxon", "999"]) == 0  # no reference protein has it
    assert "the virus of 2 of 2 viral proteins (V2_1-PRO_9, q_unrelated) is not given or not among" in (
        capsys.readouterr().err
    )
    (tmp_path / "tax.tsv").write_text("virus_id\ttaxon\nq_unrelated\t1008\n")
    assert main([*base, "--out", str(tmp_path / "c.tsv"), "--taxonomy", str(tmp_path / "tax.tsv")]) == 0
    _, rows = read_tsv(tmp_path / "c.tsv")
    assert {(r["virus_id"], r["virus_taxon"], r["virus_family"]) for r in rows} == {
        ("V2_1-PRO_9", "1002", "Fam0"),  # not in the table: by accession
        ("q_unrelated", "1008", "Fam2"),
    }


def test_a_taxonomy_that_disagrees_with_itself_is_a_warning(trained, screen_inputs, tmp_path, capsys):
    """Rows giving a screened protein several taxa: the vote stands, and one warning names the protein, each taxon's
    rows (and first line) and the one used; rows that agree (a family differing only in case) say nothing."""
    virus, human = screen_inputs
    virus = {"V2_1-PRO_9": virus["q_same_as_V2_1"], "q_unrelated": virus["q_unrelated"]}
    v = write_fasta(tmp_path / "v.fa", virus)
    h = write_fasta(tmp_path / "h.fa", human)
    base = ["screen", "--virus", str(v), "--human", str(h), "--model", str(trained.path), "--quiet"]
    agreeing = "virus_id\ttaxon\tfamily\nV2_1\t1002\tFam0\nV2_1-PRO_9\t1002\tfam0\nq_unrelated\t1008\tFam2\n"
    (tmp_path / "agree.tsv").write_text(agreeing + "q_unrelated\t01008\tFam2\n")
    (tmp_path / "tax.tsv").write_text(agreeing + "q_unrelated\t1004\t\nq_unrelated\t1008\t\n")
    assert main([*base, "--out", str(tmp_path / "a.tsv"), "--taxonomy", str(tmp_path / "agree.tsv")]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b.tsv"), "--taxonomy", str(tmp_path / "tax.tsv")]) == 0
    err = capsys.readouterr().err
    assert err.count("warning") == 1, err
    assert (
        "warning: the taxonomy's rows disagree on the virus of 1 viral protein (q_unrelated has taxon 1008 in 2 rows "
        "(first: tax.tsv line 4) and 1004 in 1 row (tax.tsv line 5), used 1008); each takes the one most rows give"
    ) in err
    _, rows = read_tsv(tmp_path / "b.tsv")
    assert {(r["virus_id"], r["virus_taxon"]) for r in rows} == {("V2_1-PRO_9", "1002"), ("q_unrelated", "1008")}
    # predict warns the same, of the proteins it scores (a tie: the alphabetically first taxid)
    (tmp_path / "tie.tsv").write_text("virus_id\ttaxon\nV0_1\t1002\nV0_1\t1000\nV0_0\t1000\n")
    sequences = dict(zip(trained.virus_ids[:2], trained.virus_seqs[:2])) | {"H0": trained.human_seqs[0]}
    seqs = write_fasta(tmp_path / "s.fa", sequences)
    (tmp_path / "pairs.txt").write_text("H0\tV0_0\t0\nH0\tV0_1\t0\n")
    predict = ["predict", "--pairs", str(tmp_path / "pairs.txt"), "--sequences", str(seqs), "--out"]
    code = main(
        [*predict, str(tmp_path / "p.tsv"), "--model", str(trained.path), "--taxonomy", str(tmp_path / "tie.tsv")]
    )
    err = capsys.readouterr().err
    assert code == 0 and err.count("warning") == 1, err
    assert "(V0_1 has taxon 1000 in 1 row (tie.tsv line 3) and 1002 in 1 row (tie.tsv line 2), used 1000)" in err


def test_many_disagreements_are_one_warning_naming_five(saved_handmade):
    """The library path (with_viruses, then a screen's check_inputs or predict's score_pairs): one line, 5 named,
    the number in all; proteins not screened, and a scorer given no taxonomy, say nothing."""
    model, _ = saved_handmade
    table = {f"P{k}": {"1002": 2, "1004": 1} for k in range(8)}
    taxonomy = VirusTaxonomy.from_counts(table, {})
    screened = [f"P{k}" for k in range(7)] + ["P0-PRO_1"]  # P0's chain: the same accession, named once
    scorer = ScreeningScorer(model).with_viruses(screened, taxonomy=taxonomy).with_names({"P1": "a name"})
    said: list[str] = []
    scorer.warn_disagreements(screened, said.append)
    assert len(said) == 1 and said[0].startswith("warning: the taxonomy's rows disagree on the virus of 7 viral ")
    assert said[0].count("has taxon 1002 in 2 rows and 1004 in 1 row, used 1002") == 5 and "P4 has" in said[0]
    assert "P5 has" not in said[0] and " ...); each takes" in said[0]
    said.clear()
    scorer.warn_disagreements(["V0"], said.append)
    ScreeningScorer(model).with_viruses(screened).warn_disagreements(screened, said.append)
    assert said == []


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--taxon", "SARS-CoV-2"], "NCBI taxid"),
        (["--taxon", "２６９"], "NCBI taxid"),
        (["--family", "Corona\tviridae"], "control character"),
        (["--taxon", "1002", "--taxonomy", "t.tsv"], "not both"),
    ],
)
def test_screen_refuses_a_bad_virus_in_one_line(trained, screen_inputs, tmp_path, capsys, extra, message):
    virus, human = screen_inputs
    v = write_fasta(tmp_path / "v.fa", virus)
    h = write_fasta(tmp_path / "h.fa", human)
    out = tmp_path / "s.tsv"
    code = main(
        ["screen", "--virus", str(v), "--human", str(h), "--out", str(out), "--model", str(trained.path), "--quiet"]
        + extra
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("hvppi screen: error:") and message in err[0]
    assert not out.exists()

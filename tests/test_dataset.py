import hashlib
import json
import re
import zipfile

import numpy as np
import pytest

from conftest import SHARED
from hvppi import cli
from hvppi.align.kernels import global_scores
from hvppi.datasets.build import (
    BuildSettings,
    build_dataset,
    protein_disjoint_split,
    stratified_split,
    viral_similarity,
)
from hvppi.datasets.mitab import MITAB_PLUS_COLUMNS, is_human_virus, oriented, read_mitab
from hvppi.datasets.negatives import (
    candidate_negatives,
    candidate_pool,
    cap_per_virus,
    capped_total,
    normalised_distance,
    outlier_mask,
    solve_cap,
)
from hvppi.io.alphabet import STANDARD_AMINO_ACIDS
from hvppi.io.errors import InputError
from hvppi.io.pairs import merge_sequences, read_pairs
from hvppi.io.sequences import read_sequences

HPIDB = SHARED / "hpidb3-virus" / "hpidb_virus_25_10_22.zip"
POOL = SHARED / "sequences" / "sequence_pool.fasta.gz"
SUBSET_ROWS = 1500
SETTINGS = dict(max_length=500, replicates=2)


# --- Algorithm 1 on hand-made matrices ---------------------------------------------------------


def _symmetric(rng, n, mean=10.0, spread=2.0):
    s = rng.normal(mean, spread, (n, n))
    s = (s + s.T) / 2
    np.fill_diagonal(s, 100.0)
    return s


def _outliers_by_loops(s, fraction):
    n = len(s)
    fences = []
    for j in range(n):
        column = [s[i, j] for i in range(n) if i != j]
        q1, q3 = np.percentile(column, [25, 75])
        fences.append(q1 - 1.5 * (q3 - q1))
    return np.array([sum(s[i, j] < fences[j] for j in range(n) if j != i) >= fraction * (n - 1) for i in range(n)])


def test_outlier_rule(rng):
    s = _symmetric(rng, 12)
    s[11, :11] = s[:11, 11] = -50.0  # dissimilar to every other protein: an outlier
    s[10, :5] = s[:5, 10] = -50.0  # dissimilar to 5 of 11 (45%): not one at 90%, one at 40%
    assert np.flatnonzero(outlier_mask(s)).tolist() == [11]
    assert np.flatnonzero(outlier_mask(s, fraction=0.4)).tolist() == [10, 11]
    for fraction in (0.9, 0.4):
        assert (outlier_mask(s, fraction) == _outliers_by_loops(s, fraction)).all()
    random = _symmetric(rng, 30, spread=8.0)
    random[3] -= 40
    random[:, 3] -= 40
    assert (outlier_mask(random, 0.6) == _outliers_by_loops(random, 0.6)).all()
    assert outlier_mask(random, 0.6)[3]
    with pytest.raises(ValueError, match="square"):
        outlier_mask(np.zeros((2, 3)))


def test_normalised_distance_excludes_self():
    s = np.array([[99.0, 0.0, 5.0, 10.0], [0.0, 50.0, 2.0, 4.0], [5.0, 2.0, 70.0, 3.0], [10.0, 4.0, 3.0, 80.0]])
    d = normalised_distance(s)
    assert np.allclose(d[0], [0.0, 1.0, 0.5, 0.0])
    assert np.allclose(d[1], [1.0, 0.0, 0.5, 0.0])
    assert np.allclose(np.diag(d), 0)
    flat = np.full((3, 3), 7.0)
    assert np.allclose(normalised_distance(flat), 0)  # nothing is farther than anything else


def test_candidates_threshold_and_known_positives():
    viruses = ["V0", "V1", "V2", "V3"]
    d = np.array([[0.0, 0.5, 0.9, 0.81], [0.5, 0.0, 0.8, 0.2], [0.9, 0.95, 0.0, 0.1], [0.85, 0.3, 0.0, 0.0]])
    partners = {"V0": {"H0"}, "V1": {"H1"}, "V2": {"H2", "H3"}, "V3": {"H4", "H0"}}
    known = {("H0", "V0"), ("H1", "V1"), ("H2", "V2"), ("H3", "V2"), ("H4", "V3"), ("H0", "V3"), ("H3", "V0")}
    candidates = candidate_negatives(d, viruses, partners, known, threshold=0.8)
    assert candidates["V0"] == ["H2", "H4"]  # V2 and V3 are far (> 0.8); H3 and H0 are known partners of V0
    assert candidates["V1"] == []  # 0.8 is not above the threshold
    assert candidates["V2"] == ["H0", "H1"]  # V0 and V1 are far: their partners
    assert candidates["V3"] == []  # V0 is far, but its partner H0 interacts with V3


def test_candidates_include_all_far_partners():
    d = np.array([[0.0, 0.9], [0.9, 0.0]])
    candidates = candidate_negatives(d, ["A", "B"], {"A": {"H1"}, "B": {"H2", "H3"}}, {("H1", "A")})
    assert candidates == {"A": ["H2", "H3"], "B": ["H1"]}


def test_cap_and_seeds():
    candidates = {"A": [f"H{i}" for i in range(10)], "B": ["H1", "H2"], "C": []}
    first = cap_per_virus(candidates, 3, np.random.default_rng(1))
    assert len(first) == 5 and len(set(first)) == 5
    assert {h for h, v in first if v == "B"} == {"H1", "H2"}
    assert all(h in candidates[v] for h, v in first)
    assert first == cap_per_virus(candidates, 3, np.random.default_rng(1))
    draws = {tuple(cap_per_virus(candidates, 3, np.random.default_rng(seed))) for seed in range(10)}
    assert len(draws) > 1
    assert cap_per_virus(candidates, 0, np.random.default_rng(1)) == []


def test_solve_cap(rng):
    sizes = np.array([5, 2, 0, 10])
    assert capped_total(sizes, 3) == 3 + 2 + 0 + 3
    assert solve_cap(sizes, 8) == 3 and solve_cap(sizes, 9) == 4 and solve_cap(sizes, 0) == 0
    assert solve_cap(sizes, 1000) == 10  # unreachable: every candidate
    for _ in range(20):
        sizes = rng.integers(0, 40, rng.integers(1, 30))
        target = rng.integers(0, sizes.sum() + 1)
        n = solve_cap(sizes, target)
        assert capped_total(sizes, n) >= target
        assert n == 0 or capped_total(sizes, n - 1) < target


def test_candidate_pool_on_random_matrix(rng):
    n = 25
    s = _symmetric(rng, n, spread=6.0)
    s[0] -= 60
    s[:, 0] -= 60
    viruses = [f"V{i}" for i in range(n)]
    positives = [(f"H{rng.integers(0, 40)}", v) for v in viruses for _ in range(3)]
    known = {("H1", "V5"), ("H2", "V6")}
    pool = candidate_pool(s, viruses, positives, known, threshold=0.7, outlier_fraction=0.8)
    assert pool.outliers == ["V0"] and "V0" not in pool.candidates
    far = normalised_distance(s[1:, 1:]) > 0.7
    partners = {}
    for h, v in positives:
        partners.setdefault(v, set()).add(h)
    for i, v in enumerate(pool.virus_ids):
        expected = {h for j in np.flatnonzero(far[i]) for h in partners[pool.virus_ids[j]]}
        expected -= {h for h, w in positives if w == v}
        expected -= {h for h, w in known if w == v}
        assert set(pool.candidates[v]) == expected
    negatives = pool.sample(4, [0, 1])
    assert not set(negatives) & (set(positives) | known)
    assert negatives == pool.sample(4, [0, 1])
    assert pool.total == sum(len(c) for c in pool.candidates.values())


# --- splits and the alignment matrix -------------------------------------------------------------


def test_stratified_split(rng):
    labels = np.array([1] * 50 + [0] * 250)
    train, test = stratified_split(labels, 0.2, rng)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(300))
    assert labels[test].sum() == 10 and (labels[test] == 0).sum() == 50


def test_protein_disjoint_split(rng):
    rows = [(f"H{rng.integers(0, 30)}", f"V{rng.integers(0, 20)}", int(rng.integers(0, 2))) for _ in range(300)]
    human_cluster = {f"H{i}": f"H{i - i % 2}" for i in range(30)}  # pairs of human proteins share a cluster
    viral_cluster = {f"V{i}": f"V{i}" for i in range(20)}
    split = protein_disjoint_split(rows, human_cluster, viral_cluster, 0.2, rng)
    assert sorted(r for part in split.values() for r in part) == sorted(rows)
    seen_h = {human_cluster[h] for h, _, _ in split["train"]}
    seen_v = {v for _, v, _ in split["train"]}
    assert all(v not in seen_v and human_cluster[h] in seen_h for h, v, _ in split["unseen_virus"])
    assert all(human_cluster[h] not in seen_h and v in seen_v for h, v, _ in split["unseen_human"])
    assert all(human_cluster[h] not in seen_h and v not in seen_v for h, v, _ in split["unseen_both"])
    assert all(split[k] for k in split)


def test_viral_similarity_matches_and_resumes(tmp_path, rng, monkeypatch):
    letters = np.array(list(STANDARD_AMINO_ACIDS))
    sequences = {f"V{i}": "".join(rng.choice(letters, rng.integers(20, 60))) for i in range(7)}
    ids = sorted(sequences)
    reference = global_scores([sequences[i] for i in ids], matrix="BLOSUM30", gap_open=10, gap_extend=1, threads=1)
    direct, info = viral_similarity(ids, sequences, None, block_rows=2)
    assert np.array_equal(direct, reference) and info["aligned_blocks"] == 3  # rows 0-1, 2-3, 4-5

    import hvppi.align.kernels as alignment

    real, calls = alignment.all_pairs_scores, []

    def failing(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(alignment, "all_pairs_scores", failing)
    with pytest.raises(KeyboardInterrupt):
        viral_similarity(ids, sequences, tmp_path, block_rows=2)
    monkeypatch.setattr(alignment, "all_pairs_scores", real)
    resumed, info = viral_similarity(ids, sequences, tmp_path, block_rows=2)
    assert (info["cached_blocks"], info["aligned_blocks"]) == (2, 1)
    assert np.array_equal(resumed, reference)
    again, info = viral_similarity(ids, sequences, tmp_path, block_rows=2)
    assert info["cached"] and info["aligned_blocks"] == 0 and np.array_equal(again, reference)
    changed = dict(sequences, V3="ACDEFGHIKLMNPQRSTVWY")
    _, info = viral_similarity(ids, changed, tmp_path, block_rows=2)
    assert info["aligned_blocks"] == 3  # other sequences, other cache key


# --- end to end on a slice of the real HPIDB export ---------------------------------------------


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    with zipfile.ZipFile(HPIDB) as archive:
        lines = archive.read(archive.namelist()[0]).decode().splitlines(keepends=True)
    path = tmp_path_factory.mktemp("hpidb") / "hpidb_subset.txt"
    path.write_text("".join(lines[:SUBSET_ROWS]))
    return path


@pytest.fixture(scope="module")
def pool():
    return read_sequences(POOL)


@pytest.fixture(scope="module")
def built(subset, pool, tmp_path_factory):
    out = tmp_path_factory.mktemp("dataset")
    manifest = build_dataset([subset], out, pool, BuildSettings(disjoint_test=True, **SETTINGS))
    return out, manifest


def _rows(path):
    return [tuple(line.split("\t")[:2]) + (int(line.split("\t")[2]),) for line in path.read_text().splitlines()]


def test_build_layout_and_manifest(built, subset, pool):
    out, manifest = built
    assert json.loads((out / "manifest.json").read_text()) == manifest
    counts = manifest["counts"]
    assert counts["rows_read"] == SUBSET_ROWS
    known = {oriented(i)[:2] for i in read_mitab(subset).interactions if is_human_virus(i)}
    assert counts["human_virus_pairs_known"] == len(known)
    failing = {p for ids in manifest["sequences"]["proteins_failing_filters"].values() for p in ids}
    assert manifest["sequences"]["failed_filters"]["without_sequence"] > 0
    assert all(p not in pool for p in manifest["sequences"]["proteins_failing_filters"]["without_sequence"])
    for t in (0.3, 0.4):
        step = manifest[f"mi{t:g}"]
        assert (
            step["unique_pairs"]["pairs"] >= step["after_sequence_filters"]["pairs"] >= step["after_cdhit"]["pairs"] > 0
        )
        positives = step["after_cdhit"]["pairs"]
        positive_sets = []
        for name, condition in step["conditions"].items():
            assert (
                condition["n_source"] == "solved"
                and condition["paper_n"]
                == {"balanced": 23 if t == 0.3 else 4, "imbalanced": 120 if t == 0.3 else 206}[name]
            )
            negative_sets = []
            for replicate in condition["replicates"]:
                folder = out / replicate["folder"]
                train, test = (
                    _rows(folder / "protein_pair_label_train.txt"),
                    _rows(folder / "protein_pair_label_test.txt"),
                )
                rows = train + test
                assert len(set(rows)) == len(rows) == replicate["positives"] + replicate["negatives"]
                target = condition["target_ratio"] * positives
                assert replicate["negatives"] >= target or not condition["target_reachable"]
                assert (len(train), len(test)) == (replicate["train"]["pairs"], replicate["test"]["pairs"])
                assert sum(y for *_, y in test) == round(0.2 * positives) == replicate["test"]["positives"]
                negatives = {(h, v) for h, v, y in rows if y == 0}
                assert len(negatives) == replicate["negatives"] and not negatives & known
                assert replicate["human_proteins_in_negatives"] == len({h for h, _ in negatives})
                positive_sets.append({(h, v) for h, v, y in rows if y == 1})
                negative_sets.append(negatives)
                assert len(positive_sets[-1]) == positives and positive_sets[-1] <= known
                sequences = read_sequences(folder / "pro_seq.txt", allow_duplicates=False)
                assert set(sequences) == {p for h, v, _ in rows for p in (h, v)}
                assert not set(sequences) & failing
                for pid, seq in sequences.items():
                    assert seq == pool[pid] and 50 <= len(seq) <= 500 and set(seq) <= set(STANDARD_AMINO_ACIDS)
                csv_train = read_pairs(folder / "train.csv")
                assert list(zip(csv_train.human_ids, csv_train.virus_ids, csv_train.labels.tolist())) == train
                assert all(csv_train.sequences[p] == sequences[p] for p in csv_train.sequences)
                disjoint = {
                    name: _rows(folder / "disjoint" / name)
                    for name in (
                        "protein_pair_label_train.txt",
                        "test_unseen_virus.txt",
                        "test_unseen_human.txt",
                        "test_unseen_both.txt",
                    )
                }
                assert sorted(r for part in disjoint.values() for r in part) == sorted(rows)
                seen_viruses = {v for _, v, _ in disjoint["protein_pair_label_train.txt"]}
                assert not {v for _, v, _ in disjoint["test_unseen_virus.txt"]} & seen_viruses
            if len(negative_sets[0]) < step["negative_sampling"]["candidate_negatives"]:
                assert negative_sets[0] != negative_sets[1]  # replicates draw their own negatives
            else:
                assert negative_sets[0] == negative_sets[1]  # n above every candidate count: all of them
        assert all(p == positive_sets[0] for p in positive_sets)


def test_train_accepts_output(built, tmp_path):
    out, manifest = built
    folder = out / manifest["mi0.4"]["conditions"]["balanced"]["replicates"][0]["folder"]
    pairs = read_pairs(folder / "protein_pair_label_train.txt")
    merge_sequences(pairs, read_sequences(folder / "pro_seq.txt"))
    code = cli.main(
        [
            "train",
            "--pairs",
            str(folder / "train.csv"),
            "--validation",
            str(folder / "test.csv"),
            "--out",
            str(tmp_path / "model"),
            "--max-epochs",
            "1",
            "--batch-size",
            "64",
            "--quiet",
        ]
    )
    assert code == 0 and (tmp_path / "model" / "model.safetensors").exists()


def _as_mitab_plus(subset, pool, path):
    """The subset in HPIDB's 26-column layout, with the pool's sequences (where it has them)."""
    lines = ["# " + "\t".join(MITAB_PLUS_COLUMNS) + "\n"]
    parsed = read_mitab(subset)
    raw = subset.read_text().splitlines()
    for interaction in parsed.interactions:
        fields = raw[interaction.line - 1].split("\t")
        row = dict(zip(MITAB_PLUS_COLUMNS, fields + ["-"] * 11))
        for side, pid, taxid in (
            ("1", interaction.id_a, interaction.taxid_a),
            ("2", interaction.id_b, interaction.taxid_b),
        ):
            row[f"protein_taxid_{side}"] = f"taxid:{taxid}(name)"
            row[f"protein_taxid_{side}_cat"] = "MAMMALIA" if taxid == 9606 else "VIRUS"
            row[f"protein_seq{side}"] = pool.get(pid, "-")
        lines.append("\t".join(row[c] for c in MITAB_PLUS_COLUMNS) + "\n")
    path.write_text("".join(lines))


def test_mitab_plus_sequences_give_the_same_build(built, subset, pool, tmp_path):
    out, manifest = built
    plus = tmp_path / "hpidb.mitab_plus.txt"
    _as_mitab_plus(subset, pool, plus)
    other = build_dataset([plus], tmp_path / "out", None, BuildSettings(disjoint_test=True, **SETTINGS))
    assert other["inputs"][0]["layout"] == "mitab_plus"
    assert other["sequences"]["source_counts"]["pool"] == 0
    for key in ("counts", "mi0.3", "mi0.4"):
        assert other[key] == manifest[key]
    for name in ("protein_pair_label_train.txt", "test.csv", "pro_seq.txt", "disjoint/test_unseen_both.txt"):
        assert (tmp_path / "out" / "mi0.3" / "imbalanced" / "rep2" / name).read_bytes() == (
            out / "mi0.3" / "imbalanced" / "rep2" / name
        ).read_bytes()


def test_cli_build_ratio_and_resume(subset, tmp_path, capsys):
    args = [
        "dataset",
        "build",
        "--mitab",
        str(subset),
        "--sequences",
        str(POOL),
        "--out",
        str(tmp_path),
        "--mi-score",
        "0.4",
        "--ratio",
        "2",
        "--replicates",
        "1",
        "--outlier-fraction",
        "0.8",
        "--quiet",
    ]
    assert cli.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["parameters"]["outlier_fraction"] == 0.8 and manifest["parameters"]["mi_thresholds"] == [0.4]
    condition = manifest["mi0.4"]["conditions"]["ratio2"]
    positives = manifest["mi0.4"]["after_cdhit"]["pairs"]
    assert (
        condition["n_source"] == "solved"
        and summary["mi0.4"]["negatives"]["ratio2"] == condition["replicates"][0]["negatives"]
    )
    assert condition["replicates"][0]["negatives"] >= 2 * positives or not condition["target_reachable"]
    assert manifest["alignment"]["aligned_blocks"] > 0
    digest = hashlib.sha256((tmp_path / "mi0.4" / "ratio2" / "rep1" / "train.csv").read_bytes()).hexdigest()
    assert cli.main(args) == 0
    again = json.loads((tmp_path / "manifest.json").read_text())
    assert again["alignment"]["cached"] and again["alignment"]["aligned_blocks"] == 0
    assert hashlib.sha256((tmp_path / "mi0.4" / "ratio2" / "rep1" / "train.csv").read_bytes()).hexdigest() == digest


def test_build_errors(subset, tmp_path, capsys):
    with pytest.raises(InputError, match="--sequences"):
        build_dataset([subset], tmp_path, None)
    with pytest.raises(ValueError, match="thresholds"):
        build_dataset([subset], tmp_path, POOL, BuildSettings(mi_thresholds=(1.5,)))
    bad = tmp_path / "bad.txt"
    bad.write_text(subset.read_text().replace("\t9606\t", "\thuman\t", 1))
    assert cli.main(["dataset", "build", "--mitab", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert re.search(r"line 1\b", capsys.readouterr().err)


def test_caps_solved_for_the_ratio_or_the_papers():
    from hvppi.datasets.build import _conditions

    sizes = np.array([0, 3, 10, 40])
    solved = _conditions(0.3, BuildSettings(), sizes, n_positives=10)
    assert solved["balanced"]["n"] == 4 and solved["imbalanced"]["n"] == 37  # 0+3+4+4 >= 10 > 0+3+3+3; 3+10+37 = 50
    assert solved["balanced"]["paper_n"] == 23 and solved["imbalanced"]["paper_n"] == 120
    paper = _conditions(0.4, BuildSettings(caps="paper"), sizes, n_positives=10)
    assert (paper["balanced"]["n"], paper["imbalanced"]["n"]) == (4, 206)
    assert paper["balanced"]["n_source"] == "paper" and paper["balanced"]["n_for_target_ratio"] == 4
    with pytest.raises(ValueError, match="paper's n"):
        BuildSettings(caps="paper", mi_thresholds=(0.5,)).validate()


def test_self_normalised_similarity():
    from hvppi.datasets.negatives import self_normalised

    s = np.array([[100.0, 40.0, -5.0], [40.0, 25.0, 10.0], [-5.0, 10.0, 16.0]])
    n = self_normalised(s)
    assert np.allclose(np.diag(n), 1.0) and n[0, 1] == pytest.approx(40 / 50) and n[1, 2] == pytest.approx(10 / 20)
    assert np.array_equal(n, n.T)
    with pytest.raises(ValueError, match="positive self-alignment"):
        self_normalised(np.array([[0.0, 1.0], [1.0, 4.0]]))
    with pytest.raises(ValueError, match="similarity must be"):
        BuildSettings(similarity="cosine").validate()


def test_redundant_pairs_share_both_clusters():
    from hvppi.datasets.build import _remove_redundant

    human = {"H1": "H1", "H2": "H1", "H3": "H3"}
    viral = {"V1": "V1", "V2": "V1", "V3": "V3"}
    pairs = [("H2", "V1"), ("H1", "V2"), ("H1", "V3"), ("H3", "V1"), ("H1", "V1")]
    assert _remove_redundant(pairs, human, viral) == [("H2", "V1"), ("H1", "V3"), ("H3", "V1")]


def test_known_pairs_cover_ids_of_the_same_sequence():
    from hvppi.datasets.build import known_by_sequence

    sequences = {"P1": "MKV", "P1-1": "MKV", "P2": "AAA", "V1": "WWW", "V1-PRO_1": "WWW"}
    assert known_by_sequence({("P1", "V1")}, sequences.get) == {("P1", "V1")}  # no other ID given
    known = known_by_sequence({("P1", "V1"), ("P9", "V2")}, sequences.get, sequences)
    assert known == {("P1", "V1"), ("P1-1", "V1"), ("P1", "V1-PRO_1"), ("P1-1", "V1-PRO_1"), ("P9", "V2")}
    assert ("P2", "V1") not in known


def test_a_threshold_without_pairs_is_reported_not_fatal(subset, tmp_path):
    settings = BuildSettings(mi_thresholds=(0.4, 0.99), replicates=1, caps="ratio")
    manifest = build_dataset([subset], tmp_path, POOL, settings)
    assert manifest["mi0.99"]["after_cdhit"]["pairs"] == 0 and manifest["mi0.99"]["conditions"] == {}
    assert manifest["mi0.4"]["conditions"] and not (tmp_path / "mi0.99").exists()
    rows = manifest["mi0.4"]["rows_by_source"]
    assert sum(rows.values()) == manifest["mi0.4"]["rows"]
    with pytest.raises(ValueError, match="seed"):
        BuildSettings(seed=-1).validate()

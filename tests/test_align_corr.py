"""Alignment correlation (hvppi.geometry.align_corr) and the ``hvppi geometry`` commands."""

import json

import h5py
import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import pearsonr, spearmanr

from conftest import BENCHMARK
from hvppi.align.kernels import biopython_aligner
from hvppi.cli import main
from hvppi.geometry import align_corr as align_corr
from hvppi.geometry.align_corr import (
    VARIABLES,
    alignment_correlation,
    correlation_matrices,
    embedding_pair_metrics,
    sample_proteins,
)
from hvppi.lstm.features import residue_features

SEQS = str(BENCHMARK / "pro_seq.txt")


@pytest.fixture(scope="module")
def feature_files(tmp_path_factory, benchmark_sequences):
    """Per-residue and mean-pooled 7-property features of 60 short benchmark proteins (hvppi-embeddings H5)."""
    ids = sorted(pid for pid, s in benchmark_sequences.items() if len(s) < 120)[:60]
    folder = tmp_path_factory.mktemp("features")
    paths = {}
    for level in ("residue", "protein"):
        path = paths[level] = folder / f"{level}.h5"
        with h5py.File(path, "w") as f:
            f.attrs.update({"format": "hvppi-embeddings", "embedder": "guo2008-7props", "level": level})
            for pid in ids:
                x = residue_features(benchmark_sequences[pid])
                f.create_dataset(pid, data=x if level == "residue" else x.mean(0)).attrs["original_id"] = pid
    return ids, paths


def test_pair_metrics_match_pdist(rng):
    X = rng.standard_normal((37, 9)) + 0.3
    cosine, sqeuclid = embedding_pair_metrics(X, block_rows=5)
    np.testing.assert_allclose(cosine, 1 - pdist(X, "cosine"), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sqeuclid, pdist(X, "sqeuclidean"), rtol=1e-10, atol=1e-12)
    X[4] = 0
    with pytest.raises(ValueError, match="vector 4 is zero"):
        embedding_pair_metrics(X)


def test_correlation_matrices_match_scipy_and_cosine_distance_flips_the_sign(rng):
    a = rng.standard_normal(500)
    columns = {
        "score": a,
        "identity": a + rng.standard_normal(500),
        "cosine_similarity": np.round(rng.random(500), 1),
        "squared_euclidean": a**2,
    }
    pearson, spearman = correlation_matrices(columns)
    values = list(columns.values())
    for i in range(4):
        for j in range(4):
            assert pearson[i, j] == pytest.approx(pearsonr(values[i], values[j])[0], abs=1e-12)
            assert spearman[i, j] == pytest.approx(spearmanr(values[i], values[j])[0], abs=1e-12)
    full = align_corr._expand(spearman)
    distance = 1 - columns["cosine_similarity"]
    d = VARIABLES.index("cosine_distance")
    for j, name in enumerate(VARIABLES):
        other = distance if name == "cosine_distance" else columns[name]
        assert full[d, j] == pytest.approx(spearmanr(distance, other)[0], abs=1e-12)


def test_sampling_is_seeded_and_sized():
    ids = [f"P{k}" for k in range(1000)]
    first = sample_proteins(ids, fraction=0.01, seed=3)
    assert first == sample_proteins(list(reversed(ids)), fraction=0.01, seed=3) and len(first) == 10
    assert first != sample_proteins(ids, fraction=0.01, seed=4)
    assert len(sample_proteins(ids, count=25)) == 25
    with pytest.raises(ValueError, match="only 1000"):
        sample_proteins(ids, count=1001)


def test_alignment_correlation_pairs_and_cache(tmp_path, rng, benchmark_sequences, monkeypatch):
    ids = sorted(pid for pid, s in benchmark_sequences.items() if len(s) < 80)[:12]
    seqs = [benchmark_sequences[i] for i in ids]
    vectors = rng.standard_normal((12, 5))
    cache = tmp_path / "alignment.npz"
    result = alignment_correlation(ids, seqs, vectors, threads=1, alignment_cache=cache)
    assert result.n_pairs == 66 and len(result.pairs["score"]) == 66
    aligner = biopython_aligner("PAM250", 10, 1)
    i, j = np.triu_indices(12, 1)
    for k in (0, 17, 65):
        assert result.pairs["score"][k] == aligner.score(seqs[i[k]], seqs[j[k]])
    assert sum(b["n_pairs"] for b in result.bins) == 66
    np.testing.assert_allclose(np.diag(result.pearson), 1.0)
    low = result.pairs["identity"] < 0.3
    assert result.bins[0]["n_pairs"] == low.sum()
    expected = np.corrcoef(result.pairs["score"][low], result.pairs["cosine_similarity"][low])[0, 1]
    assert result.bins[0]["pearson"][0, 2] == pytest.approx(expected, rel=1e-9)  # variables: score, identity, cosine
    assert alignment_correlation(ids, seqs, vectors, identity_bins=[], alignment_cache=cache).bins == []

    def no_alignment(*args, **kwargs):
        raise AssertionError("aligned again despite the cache")

    monkeypatch.setattr("hvppi.align.kernels.all_pairs_stats", no_alignment)
    again = alignment_correlation(ids, seqs, vectors, alignment_cache=cache)
    np.testing.assert_array_equal(again.pearson, result.pearson)
    with pytest.raises(AssertionError, match="aligned again"):
        alignment_correlation(ids, seqs[:-1] + [seqs[-1][:-1]], vectors, alignment_cache=cache)


def test_interrupted_alignment_resumes_from_finished_blocks(tmp_path, rng, benchmark_sequences, monkeypatch):
    import hvppi.align.kernels

    ids = sorted(pid for pid, s in benchmark_sequences.items() if len(s) < 80)[:12]
    seqs = [benchmark_sequences[i] for i in ids]
    vectors = rng.standard_normal((12, 5))
    whole = alignment_correlation(ids, seqs, vectors)
    real, calls = hvppi.align.kernels.all_pairs_stats, []

    def crash_on_third_block(*args, **kwargs):
        calls.append(kwargs["rows"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr("hvppi.align.kernels.all_pairs_stats", crash_on_third_block)
    cache = tmp_path / "alignment.npz"
    with pytest.raises(KeyboardInterrupt):
        alignment_correlation(ids, seqs, vectors, alignment_cache=cache, block_rows=1)
    assert len(list((tmp_path / "alignment.npz.parts").iterdir())) == 2 and not cache.exists()
    done_before, resumed_rows = set(calls[:2]), []

    def counting(*args, **kwargs):
        resumed_rows.append(kwargs["rows"])
        return real(*args, **kwargs)

    monkeypatch.setattr("hvppi.align.kernels.all_pairs_stats", counting)
    resumed = alignment_correlation(ids, seqs, vectors, alignment_cache=cache, block_rows=1)
    assert resumed_rows and not done_before & set(resumed_rows)  # finished blocks are not aligned again
    np.testing.assert_array_equal(resumed.pairs["score"], whole.pairs["score"])
    np.testing.assert_array_equal(resumed.pairs["identity"], whole.pairs["identity"])
    assert cache.exists() and not (tmp_path / "alignment.npz.parts").exists()


def test_geometry_isotropy_command(tmp_path, feature_files, capsys):
    _, paths = feature_files
    out = tmp_path / "iso.json"
    assert main(["geometry", "isotropy", str(paths["residue"]), "--local", "--json", str(out), "--quiet"]) == 0
    record = json.loads(out.read_text())
    assert {"n", "d", "avg_cosine", "isoscore", "effective_dims", "participation_ratio"} <= set(record)
    assert record["d"] == 7 and record["points"] == "local" and record["n"] > 60
    assert main(["geometry", "isotropy", str(paths["protein"]), "--local", "--quiet"]) == 2
    assert "per-residue" in capsys.readouterr().err


def test_geometry_report_command(tmp_path, feature_files, capsys):
    _, paths = feature_files
    listing = tmp_path / "sets.tsv"
    listing.write_text(f"# name\tglobal\tlocal\npooled\t{paths['protein']}\t{paths['residue']}\n")
    out = tmp_path / "report"
    assert (
        main(
            [
                "geometry",
                "report",
                "--set",
                f"residue-file={paths['residue']}",
                "--sets",
                str(listing),
                "--out-dir",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    rows = {r["name"]: r for r in report["sets"]}
    assert rows["residue-file"]["global"]["isoscore"] == pytest.approx(rows["pooled"]["global"]["isoscore"], rel=1e-6)
    assert rows["residue-file"]["local"]["n"] == rows["pooled"]["local"]["n"]
    assert "| pooled | 7 |" in (out / "report.md").read_text()
    assert (out / "isotropy.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["geometry", "report", "--set", "bad", "--out-dir", str(out)]) == 2


def test_geometry_report_accuracy_columns(tmp_path, feature_files, capsys):
    _, paths = feature_files
    accuracy = tmp_path / "accuracy.tsv"
    accuracy.write_text("set\troc_auc\trecall_top_1pct\nprops\t0.6125\t\n")
    out = tmp_path / "report"
    args = ["geometry", "report", "--set", f"props={paths['protein']}", "--out-dir", str(out), "--quiet"]
    assert main([*args, "--accuracy", str(accuracy)]) == 0
    row = json.loads((out / "report.json").read_text())["sets"][0]
    assert row["accuracy"]["roc_auc"] == 0.6125
    text = (out / "report.md").read_text()
    line = next(line for line in text.splitlines() if line.startswith("| props |"))
    assert line.endswith("| 0.613 | – |")
    assert "| ProteinBERT | 512 | 120 |" in text
    accuracy.write_text("set\troc_auc\nother\t0.5\n")
    assert main([*args, "--accuracy", str(accuracy)]) == 2
    assert "other" in capsys.readouterr().err
    accuracy.write_text("set\troc_auc\nprops\thigh\n")
    assert main([*args, "--accuracy", str(accuracy)]) == 2
    assert "line 2" in capsys.readouterr().err


def test_geometry_align_corr_command(tmp_path, feature_files):
    ids, paths = feature_files
    out = tmp_path / "ac"
    assert (
        main(
            [
                "geometry",
                "align-corr",
                "--sequences",
                SEQS,
                "--embeddings",
                str(paths["protein"]),
                "--count",
                "25",
                "--out-dir",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    data = json.loads((out / "correlations.json").read_text())
    assert data["n_proteins"] == 25 and data["n_pairs"] == 300
    assert set(data["proteins"]) <= set(ids)
    assert data["pearson"]["cosine_similarity"]["cosine_distance"] == pytest.approx(-1.0)
    header = (out / "pearson.tsv").read_text().splitlines()[0].split("\t")
    assert header == ["variable", *VARIABLES]
    assert len(list(out.glob("hexbin_*.png"))) == 4
    assert (out / "proteins.txt").read_text().split() == data["proteins"]


def test_letters_outside_pam250_are_aligned_as_x(rng):
    seqs = ["MKTAYIAKQRQISFVKSHFSRQ", "MKTAYUAKQRQISFVKSHF", "GSHMKLLVVAAG"]
    result = alignment_correlation(["a", "b", "c"], seqs, rng.standard_normal((3, 4)) + 1)
    assert result.parameters["letters_aligned_as_X"] == {"U": 1}
    assert result.pairs["score"][0] == biopython_aligner("PAM250", 10, 1).score(seqs[0], seqs[1].replace("U", "X"))

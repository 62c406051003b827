"""Multi-file outputs appear together or not at all, and clear one-line errors (split, dataset build, geometry, evaluate)."""

import errno
import shutil
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest

from hvppi.cli import main
from hvppi.datasets.splits import viral_disjoint_split
from hvppi.io.pairs import read_pairs

AMINO = list("ACDEFGHIKLMNPQRSTVWY")
needs_cdhit = pytest.mark.skipif(shutil.which("cd-hit") is None, reason="cd-hit is not installed")


def _protein(rng, n=60):
    return "".join(rng.choice(AMINO, n))


def _disk_full(path):
    return OSError(errno.ENOSPC, "No space left on device", str(path))


def _files(folder):
    """{relative path: bytes} of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def split_inputs(tmp_path):
    """10 unrelated viral proteins with 3 pairs each (pairs file, sequences file)."""
    rng = np.random.default_rng(5)
    seqs = {f"H{k}": _protein(rng) for k in range(4)} | {f"V{k}": _protein(rng) for k in range(10)}
    sequences = tmp_path / "seqs.tsv"
    sequences.write_text("".join(f"{pid}\t{seq}\n" for pid, seq in seqs.items()))
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"H{(v + k) % 4}\tV{v}\t{int(k == 0)}\n" for v in range(10) for k in range(3)))
    return pairs, sequences


def _split(pairs, sequences, out, *extra):
    return main(["split", "--pairs", str(pairs), "--sequences", str(sequences), "--out", str(out), *extra])


# --- finding 7: split, dataset build and the geometry reports are never left half-written ---------


@needs_cdhit
def test_split_failure_keeps_the_previous_set(tmp_path, split_inputs, monkeypatch, capsys):
    import hvppi.io.files

    out, other = tmp_path / "out", tmp_path / "other"
    assert _split(*split_inputs, out, "--seed", "0") == 0
    (out / "notes.txt").write_text("kept\n")
    before = _files(out)
    assert _split(*split_inputs, other, "--seed", "1") == 0
    assert (other / "train.txt").read_bytes() != before["train.txt"]  # a rerun with seed 1 would change it

    real = hvppi.io.files.atomic_write

    def failing(path, *args, **kwargs):
        if str(path).endswith("split.json"):
            raise _disk_full(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(hvppi.io.files, "atomic_write", failing)
    assert _split(*split_inputs, out, "--seed", "1") == 2
    assert "No space left" in capsys.readouterr().err
    assert _files(out) == before and not list(out.glob(".staging-*"))


@needs_cdhit
def test_split_refuses_an_output_folder_in_the_way_before_clustering(tmp_path, split_inputs, monkeypatch, capsys):
    import hvppi.datasets.splits

    out = tmp_path / "out"
    (out / "test.txt").mkdir(parents=True)
    monkeypatch.setattr(hvppi.datasets.splits, "cdhit_clusters", lambda *a, **k: pytest.fail("clustered"))
    assert _split(*split_inputs, out) == 2
    err = capsys.readouterr().err.strip()
    assert "test.txt" in err and "directory" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["test.txt"]


def _hpidb_rows(shared_data, tmp_path, rows=300):
    with zipfile.ZipFile(shared_data / "hpidb3-virus" / "hpidb_virus_25_10_22.zip") as archive:
        lines = archive.read(archive.namelist()[0]).decode().splitlines(keepends=True)
    path = tmp_path / "hpidb.txt"
    path.write_text("".join(lines[:rows]))
    return path


@needs_cdhit
def test_interrupted_rebuild_leaves_no_manifest_of_other_data(shared_data, tmp_path, monkeypatch):
    from hvppi.datasets import build
    from hvppi.io.sequences import read_sequences

    mitab = _hpidb_rows(shared_data, tmp_path)
    pool = read_sequences(shared_data / "sequences" / "sequence_pool.fasta.gz")
    out = tmp_path / "built"
    settings = dict(max_length=500, replicates=1, mi_thresholds=(0.4,))
    build.build_dataset([mitab], out, pool, build.BuildSettings(**settings))
    assert (out / "manifest.json").is_file() and (out / "mi0.4").is_dir()

    def interrupted(t, state, settings, out, say):
        (out / f"mi{t:g}" / "balanced" / "rep1").mkdir(parents=True)
        (out / f"mi{t:g}" / "balanced" / "rep1" / "train.csv").write_text("partial\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "_build_threshold", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build.build_dataset([mitab], out, pool, build.BuildSettings(seed=1, **settings))
    assert not (out / "manifest.json").exists()


def test_earlier_manifest_goes_before_the_earlier_data_sets(tmp_path, monkeypatch):
    from hvppi.datasets import build

    (tmp_path / "mi0.3" / "balanced").mkdir(parents=True)
    (tmp_path / "manifest.json").write_text("{}")

    def interrupted(folder):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "shutil", SimpleNamespace(rmtree=interrupted))
    with pytest.raises(KeyboardInterrupt):
        build._remove_earlier_builds(tmp_path, print)
    assert not (tmp_path / "manifest.json").exists()


def _report(tmp_path, name, seed):
    path = tmp_path / f"{name}.npy"
    np.save(path, np.random.default_rng(seed).standard_normal((40, 6)))
    return main(["geometry", "report", "--set", f"{name}={path}", "--out-dir", str(tmp_path / "rep"), "--quiet"])


def test_geometry_report_failure_keeps_the_previous_set(tmp_path, monkeypatch, capsys):
    import hvppi.geometry.plots

    assert _report(tmp_path, "first", 1) == 0
    before = _files(tmp_path / "rep")
    assert set(before) == {"report.md", "report.json", "isotropy.png"}

    def failing(path, *args, **kwargs):
        raise _disk_full(path)

    monkeypatch.setattr(hvppi.geometry.plots, "isotropy_bars", failing)
    assert _report(tmp_path, "second", 2) == 2
    assert "No space left" in capsys.readouterr().err
    assert _files(tmp_path / "rep") == before


@pytest.fixture
def align_inputs(tmp_path):
    rng = np.random.default_rng(3)
    seqs = {f"P{k}": _protein(rng, 30) for k in range(8)}
    fasta = tmp_path / "seqs.fasta"
    fasta.write_text("".join(f">{pid}\n{seq}\n" for pid, seq in seqs.items()))
    embeddings = tmp_path / "emb.npz"
    np.savez(embeddings, **{pid: rng.standard_normal(5) + 0.5 for pid in seqs})
    return ["geometry", "align-corr", "--sequences", str(fasta), "--embeddings", str(embeddings), "--quiet"]


def test_align_corr_failure_keeps_the_previous_tables(tmp_path, align_inputs, monkeypatch, capsys):
    import hvppi.geometry.plots

    out = ["--out-dir", str(tmp_path / "ac")]
    assert main([*align_inputs, *out, "--count", "8"]) == 0
    before = _files(tmp_path / "ac")
    assert len([name for name in before if name.startswith("hexbin_")]) == 4

    def failing(path, *args, **kwargs):
        if "identity_vs_squared" in str(path):
            raise _disk_full(path)
        return real(path, *args, **kwargs)

    real = hvppi.geometry.plots.hexbin_plot
    monkeypatch.setattr(hvppi.geometry.plots, "hexbin_plot", failing)
    assert main([*align_inputs, *out, "--count", "6"]) == 2
    assert "No space left" in capsys.readouterr().err
    # the tables, the plots and the alignments are all the earlier run's; the new sample's wait in ac.parts/
    assert _files(tmp_path / "ac") == before
    assert not list((tmp_path / "ac").glob(".staging-*"))
    assert (tmp_path / "ac.parts" / "alignment.npz").is_file()


def test_align_corr_failure_after_aligning_leaves_no_output_and_resumes(tmp_path, align_inputs, monkeypatch, capsys):
    import hvppi.align.kernels
    import hvppi.geometry.align_corr

    out, parts = tmp_path / "ac", tmp_path / "ac.parts"
    args = [*align_inputs, "--out-dir", str(out), "--count", "8"]

    def failing(*args, **kwargs):
        raise _disk_full(out / "x")

    real = hvppi.geometry.align_corr.embedding_pair_metrics
    monkeypatch.setattr(hvppi.geometry.align_corr, "embedding_pair_metrics", failing)  # the step after the alignments
    assert main(args) == 2
    assert "No space left" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())  # no alignment.npz, nor anything else
    assert [p.name for p in parts.iterdir()] == ["alignment.npz"]

    def no_alignment(*args, **kwargs):
        raise AssertionError("aligned again despite the cache")

    monkeypatch.setattr(hvppi.geometry.align_corr, "embedding_pair_metrics", real)
    monkeypatch.setattr(hvppi.align.kernels, "all_pairs_stats", no_alignment)
    assert main(args) == 0, capsys.readouterr().err  # resumed from ac.parts/alignment.npz
    first = _files(out)
    assert {"alignment.npz", "correlations.json", "proteins.txt"} <= set(first) and not parts.exists()
    assert main(args) == 0, capsys.readouterr().err  # and a rerun reuses the finished run's alignment.npz
    assert _files(out) == first and not parts.exists()


# --- finding 13: evaluate's --model help --------------------------------------------------------


def test_evaluate_help_names_the_real_default_model():
    import argparse

    from hvppi.cli.commands import evaluate
    from hvppi.cli.options import INTERACTION_MODEL_HELP

    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    model = next(a for a in parser._actions if "--model" in a.option_strings)
    assert model.help.startswith(INTERACTION_MODEL_HELP) and model.help.endswith("(default: lstm-phv-benchmark)")
    assert "screening" not in model.help and "(default: default)" not in model.help


# --- finding 14: split identities above 1 and inputs too small to split --------------------------


@needs_cdhit
@pytest.mark.parametrize("identity", ["2", "1.5", "0.3", "nan"])
def test_split_identity_out_of_range_names_the_option(tmp_path, split_inputs, capsys, identity):
    assert _split(*split_inputs, tmp_path / "o", "--identity", identity) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hvppi split: error: --identity") and "0.4" in err and "cd-hit failed" not in err
    assert not (tmp_path / "o" / "train.txt").exists()


@needs_cdhit
def test_split_of_one_viral_protein_is_refused(tmp_path, split_inputs, capsys):
    pairs, sequences = split_inputs
    one = tmp_path / "one.txt"
    one.write_text("H0\tV0\t1\nH1\tV0\t0\n")
    assert _split(one, sequences, tmp_path / "o") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "one.txt" in err and "at least 2 viral proteins" in err
    assert not (tmp_path / "o" / "train.txt").exists()


@needs_cdhit
def test_split_of_one_cluster_is_refused(tmp_path, split_inputs, capsys):
    pairs, sequences = split_inputs
    same = _protein(np.random.default_rng(9))
    sequences.write_text(sequences.read_text() + f"W1\t{same}\nW2\t{same}\n")
    twins = tmp_path / "twins.txt"
    twins.write_text("H0\tW1\t1\nH1\tW2\t0\n")
    assert _split(twins, sequences, tmp_path / "o") == 2
    assert "at least 2 viral protein clusters" in capsys.readouterr().err
    assert not (tmp_path / "o" / "train.txt").exists()


@needs_cdhit
def test_split_never_holds_out_every_cluster(split_inputs):
    pairs, sequences = split_inputs
    table = read_pairs(pairs)
    table = table.subset(np.flatnonzero(np.isin(table.virus_ids, ["V0", "V1"])))
    seqs = dict(line.split("\t") for line in sequences.read_text().splitlines())
    for seed in range(4):  # fraction 0.9 of 2 proteins: the first cluster alone falls short of the target
        train, test, info = viral_disjoint_split(table, seqs, fraction=0.9, seed=seed)
        assert len(train) > 0 and len(test) > 0 and info["held_out_viral_proteins"] == 1
    with pytest.raises(ValueError, match="identity 0.4 to 1"):
        viral_disjoint_split(table, seqs, identity=1.2)


# --- finding 17: --seed and --identity-bins are named -------------------------------------------


@needs_cdhit
def test_split_negative_seed_names_the_option(tmp_path, split_inputs, capsys):
    assert _split(*split_inputs, tmp_path / "o", "--seed", "-1") == 2
    assert capsys.readouterr().err.strip().startswith("hvppi split: error: --seed")


@pytest.mark.parametrize(
    "extra, option, reason",
    [
        (["--seed", "-1"], "--seed", ">= 0"),
        (["--identity-bins", "a,b"], "--identity-bins", "not a number"),
        (["--identity-bins", "0.5,0.3"], "--identity-bins", "increase"),
        (["--identity-bins", "0.3,0.3"], "--identity-bins", "once"),
        (["--identity-bins", "0.3,1.5"], "--identity-bins", "between 0 and 1"),
    ],
)
def test_align_corr_bad_options_name_the_option(tmp_path, align_inputs, capsys, extra, option, reason):
    assert main([*align_inputs, "--out-dir", str(tmp_path / "ac"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hvppi geometry align-corr: error: {option}") and reason in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "ac").exists()


@pytest.mark.parametrize("option, value, bound", [("--seed", "-1", ">= 0"), ("--replicates", "0", ">= 1")])
def test_dataset_build_bad_options_name_the_option(tmp_path, capsys, option, value, bound):
    out = tmp_path / "ds"
    assert main(["dataset", "build", "--mitab", str(tmp_path / "h.mitab"), "--out", str(out), option, value]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"hvppi dataset build: error: {option} must be an integer {bound}, got {value}"
    assert not out.exists()


def test_align_corr_library_refuses_repeated_edges(rng):
    from hvppi.geometry.align_corr import check_correlation_inputs

    with pytest.raises(ValueError, match="distinct"):
        check_correlation_inputs(["a", "b"], ["AC", "AD"], rng.standard_normal((2, 3)), [0.3, 0.3], 30)
    assert check_correlation_inputs(["a", "b"], ["AC", "AD"], rng.standard_normal((2, 3)), [0.5, 0.3], 30) == [0.3, 0.5]

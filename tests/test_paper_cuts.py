"""User-facing paper cuts: labelled progress bars, plot titles naming model and data, small identity bins."""

import ast
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from hvppi.cli import main

SRC = Path(__file__).resolve().parents[1] / "src" / "hvppi"
AMINO = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def _tqdm_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("tqdm", "trange", "progress", "bar_or_lines", "iterate"):
                yield node


def _is_tqdm(node: ast.Call) -> bool:
    func = node.func
    return (func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")) in ("tqdm", "trange")


def test_every_progress_bar_says_what_it_counts():
    calls, unlabelled = 0, []
    for path in sorted(SRC.rglob("*.py")):
        for node in _tqdm_calls(ast.parse(path.read_text(), filename=str(path))):
            calls += 1
            desc = next((k.value for k in node.keywords if k.arg == "desc"), None)
            if desc is None and len(node.args) > 1 and not _is_tqdm(node):  # progress(total, desc, unit, ...)
                desc = node.args[1]
            empty = isinstance(desc, ast.Constant) and not desc.value
            if desc is None or empty:
                unlabelled.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert calls >= 10, "the AST check found too few progress calls: has the import changed?"
    assert unlabelled == [], f"tqdm without desc=: {unlabelled}"


def _random_protein(rng, length: int) -> str:
    return "M" + "".join(rng.choice(AMINO, length - 1))


@pytest.fixture()
def tiny_pairs(tmp_path):
    """A FASTA of 8 short proteins and a labelled pair file of both classes."""
    rng = np.random.default_rng(3)
    humans = {f"H{k}": _random_protein(rng, 30 + 3 * k) for k in range(4)}
    viruses = {f"V{k}": _random_protein(rng, 25 + 4 * k) for k in range(4)}
    fasta = tmp_path / "tiny_seqs.fasta"
    fasta.write_text("".join(f">{pid}\n{seq}\n" for pid, seq in {**humans, **viruses}.items()))
    pairs = tmp_path / "tiny_pairs.txt"
    rows = [f"H{i}\tV{j}\t{int(i == j)}\n" for i in range(4) for j in range(4)]
    pairs.write_text("".join(rows))
    return pairs, fasta


def _capture_titles(monkeypatch, module: str) -> dict[str, str]:
    """Monkeypatch ``module.save_figure`` to record each figure's title(s) by file name (and close it)."""
    import matplotlib.pyplot as plt

    titles: dict[str, str] = {}

    def record(fig, path, **kwargs):
        parts = [fig._suptitle.get_text()] if fig._suptitle is not None else []
        parts += [ax.get_title() for ax in fig.axes if ax.get_title()]
        titles[Path(path).name] = "\n".join(parts)
        plt.close(fig)

    monkeypatch.setattr(f"{module}.save_figure", record)
    return titles


def test_evaluate_plot_titles_name_the_model_and_the_pairs(tmp_path, tiny_pairs, monkeypatch, capsys):
    pairs, fasta = tiny_pairs
    titles = _capture_titles(monkeypatch, "hvppi.evaluation.plots")
    out = tmp_path / "eval"
    argv = ["evaluate", "--pairs", str(pairs), "--sequences", str(fasta), "--out-dir", str(out), "--quiet"]
    assert main(argv) == 0
    capsys.readouterr()
    assert set(titles) == {"roc.png", "pr.png"}
    for name, title in titles.items():
        assert "lstm-phv-benchmark" in title and "tiny_pairs.txt" in title, (name, title)
    assert titles["roc.png"].startswith("ROC")


def test_plot_subtitle_defaults_for_library_callers(tmp_path):
    from hvppi.evaluation.plots import model_label, plot_subtitle
    from hvppi.io.bundled import bundled_model_path
    from hvppi.lstm.evaluation import EvaluationJob, evaluation_subtitle

    assert model_label(None) == "lstm-phv-benchmark"
    assert model_label("viral-disjoint") == "viral-disjoint"
    assert model_label(bundled_model_path("lstm-phv-benchmark")) == "lstm-phv-benchmark"
    assert model_label(tmp_path / "run" / "model.safetensors") == "model.safetensors"
    jobs = [EvaluationJob("a", "x/rep1/test.txt"), EvaluationJob("b", "x/rep2/test.txt")]
    assert evaluation_subtitle(jobs) == "lstm-phv-benchmark on rep1/test.txt, rep2/test.txt"
    assert plot_subtitle(["m"], ["a", "b", "c", "d"]) == "m on a, b, c, … (4 in all)"


def _near_copy(rng, seq: str, changes: int) -> str:
    letters = list(seq)
    for k in rng.choice(np.arange(1, len(seq)), changes, replace=False):
        letters[k] = str(rng.choice(AMINO))
    return "".join(letters)


def test_align_corr_warns_about_identity_bins_of_few_pairs(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(11)
    seqs = {f"P{k}": _random_protein(rng, 40) for k in range(10)}
    seqs["P9"] = _near_copy(rng, seqs["P0"], 3)  # one pair of high identity among 45 pairs
    fasta = tmp_path / "geo_seqs.fasta"
    fasta.write_text("".join(f">{pid}\n{seq}\n" for pid, seq in seqs.items()))
    embeddings = tmp_path / "geo_embeddings.npz"
    np.savez(embeddings, **{pid: rng.standard_normal(8) + 0.5 for pid in seqs})
    titles = _capture_titles(monkeypatch, "hvppi.geometry.plots")
    out = tmp_path / "ac"
    argv = ["geometry", "align-corr", "--sequences", str(fasta), "--embeddings", str(embeddings)]
    assert main(argv + ["--count", "10", "--out-dir", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "[0.3, 1] (1 pairs)" in warning[0] and "30" in warning[0]
    assert "[0, 0.3)" not in warning[0]

    with open(out / "by_identity.tsv") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    by_bin = {r["identity_bin"]: r for r in rows if r["method"] == "pearson" and r["variable"] == "score"}
    assert by_bin["[0.3, 1]"]["pairs"] == "1" and by_bin["[0.3, 1]"]["cosine_similarity"] == "nan"
    assert by_bin["[0, 0.3)"]["pairs"] == "44" and by_bin["[0, 0.3)"]["cosine_similarity"] != "nan"
    data = json.loads((out / "correlations.json").read_text())
    high = data["identity_bins"][1]
    assert high["too_few_pairs"] and high["pearson"]["score"]["cosine_similarity"] is None
    assert data["parameters"]["min_bin_pairs"] == 30

    assert len(titles) == 4
    for title in titles.values():
        assert "geo_embeddings.npz" in title and "geo_seqs.fasta" in title

    capsys.readouterr()
    assert main(argv + ["--count", "10", "--out-dir", str(out), "--quiet", "--min-bin-pairs", "1"]) == 0
    assert "warning:" not in capsys.readouterr().err


def test_align_corr_help_documents_the_bin_threshold(capsys):
    with pytest.raises(SystemExit):
        main(["geometry", "align-corr", "--help"])
    text = capsys.readouterr().out
    assert "--min-bin-pairs" in text and "30" in text

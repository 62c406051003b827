import argparse
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import BENCHMARK
from hvppi.cli import build_parser, main
from hvppi.cli.router import COMMANDS, walk_parsers
from hvppi.io.bundled import bundled_model_path
from hvppi.lstm.modelfile import read_model_info

SEQS = str(BENCHMARK / "pro_seq.txt")


@pytest.fixture(scope="module")
def test_subset(tmp_path_factory):
    """Every 50th pair of the benchmark test split (about 985 pairs, both classes)."""
    lines = (BENCHMARK / "protein_pair_label_test.txt").read_text().splitlines()[::50]
    path = tmp_path_factory.mktemp("cli") / "test_subset.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


HVPPI = Path(sys.executable).parent / "hvppi"
"""The installed console script (``hvppi = "hvppi.cli:main"``)."""

COMMAND_PATHS = [path for path, _ in walk_parsers(build_parser())]


def _default_text(default) -> str:
    return " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)


def _option_blocks(text: str) -> dict[str, str]:
    """Each --option's help, wrapped lines joined, from a --help text."""
    blocks, current = {}, None
    for line in text.splitlines():
        start = re.match(r"^  (?:-\w, )?(--[\w-]+)", line)
        if start:
            current = start.group(1)
            blocks[current] = line.strip()
        elif current and line.startswith("    "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return blocks


@pytest.fixture(scope="module")
def help_texts():
    """``hvppi ... --help`` of every command and subcommand, run through the console script in parallel."""
    assert HVPPI.exists(), f"console script not installed at {HVPPI}"

    def run(path):
        return subprocess.run([str(HVPPI), *path, "--help"], capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(COMMAND_PATHS, pool.map(run, COMMAND_PATHS)))


def test_every_command_is_covered():
    names = {path for path in COMMAND_PATHS if len(path) == 1}
    expected = [
        "train",
        "predict",
        "evaluate",
        "screen",
        "encode",
        "attention",
        "tsne",
        "split",
        "dataset",
        "embed",
        "geometry",
        "benchmark",
        "serve",
    ]
    assert names == {(name,) for name in expected}
    assert {("dataset", "build"), ("geometry", "isotropy"), ("geometry", "align-corr"), ("geometry", "report")} <= set(
        COMMAND_PATHS
    )


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "hvppi")
def test_help_of_every_command_shows_the_defaults(path, help_texts):
    done = help_texts[path]
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {' '.join(('hvppi', *path))}") and not done.stderr
    assert "%%" not in done.stdout and "%(" not in done.stdout
    parser = dict(walk_parsers(build_parser()))[path]
    blocks = _option_blocks(done.stdout)
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        name = max(action.option_strings, key=len)
        assert name in blocks, f"{name} missing from the help of {path}"
        if action.default not in (None, False, argparse.SUPPRESS):
            assert f"(default: {_default_text(action.default)})" in blocks[name], blocks[name]
        assert blocks[name].count("(default:") <= 1 and "(default " not in blocks[name], blocks[name]


@pytest.mark.parametrize(
    "path, option, default",
    [
        (("train",), "--batch-size", "256"),
        (("train",), "--max-epochs", "1000"),
        (("train",), "--validation-fraction", "0.2"),
        (("split",), "--seed", "0"),
        (("attention",), "--permutations", "9999"),
        (("geometry", "align-corr"), "--fraction", "0.01"),
    ],
)
def test_help_shows_the_defaults_asked_for(help_texts, path, option, default):
    assert f"(default: {default})" in _option_blocks(help_texts[path].stdout)[option]


def test_help_details(help_texts):
    assert "1%" in help_texts[("geometry", "align-corr")].stdout
    split_threads = _option_blocks(help_texts[("split",)].stdout)["--threads"]
    assert "CD-HIT" in split_threads and "PyTorch" not in split_threads
    assert "PyTorch" in _option_blocks(help_texts[("predict",)].stdout)["--threads"]
    evaluate = help_texts[("evaluate",)].stdout
    assert "model i on pairs i" in evaluate and "side by side" in evaluate


def test_entry_point_is_installed():
    for command in ([str(HVPPI)], [sys.executable, "-m", "hvppi.cli"]):
        out = subprocess.run([*command, "--version"], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.startswith("hvppi "), command


def test_every_command_module_has_the_interface():
    for name, module in COMMANDS.items():
        assert isinstance(module.HELP, str) and isinstance(module.DESCRIPTION, str), name
        assert callable(module.add_arguments) and callable(module.run), name


def test_predict_with_the_bundled_model_keeps_input_order(tmp_path, test_subset):
    out = tmp_path / "pred.tsv"
    argv = ["predict", "--pairs", str(test_subset), "--sequences", SEQS, "--out", str(out), "--quiet"]
    assert main([*argv, "--model", "lstm-phv-benchmark"]) == 0
    rows = [l.split("\t") for l in out.read_text().splitlines()]
    assert rows[0] == ["human_id", "virus_id", "score", "call"]
    given = [l.split("\t")[:2] for l in test_subset.read_text().splitlines()]
    assert [r[:2] for r in rows[1:]] == given
    cutoff = read_model_info(bundled_model_path("lstm-phv-benchmark")).cutoff
    scores = np.array([float(r[2]) for r in rows[1:]])
    calls = np.array([int(r[3]) for r in rows[1:]])
    assert ((scores >= 0) & (scores <= 1)).all()
    clear = np.abs(scores - cutoff) > 1e-6  # printed scores are rounded to 7 digits
    np.testing.assert_array_equal(calls[clear], (scores[clear] >= cutoff).astype(int))


def test_predict_reads_sequences_from_an_lstm_phv_csv(tmp_path, benchmark_sequences):
    h, v = "P19838", "Q6VGT6"
    csv = tmp_path / "pairs.csv"
    csv.write_text(
        f"human_pro,virus_pro,human_seq,virus_seq\n{h},{v},{benchmark_sequences[h]},{benchmark_sequences[v]}\n"
    )
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text(f"{h}\t{v}\n")
    main(["predict", "--pairs", str(csv), "--out", str(tmp_path / "a.tsv"), "--quiet"])
    main(["predict", "--pairs", str(tsv), "--sequences", SEQS, "--out", str(tmp_path / "b.tsv"), "--quiet"])
    assert (tmp_path / "a.tsv").read_text() == (tmp_path / "b.tsv").read_text()


def test_bad_input_leaves_no_output(tmp_path, capsys):
    pairs = tmp_path / "p.txt"
    pairs.write_text("P19838\tQ6VGT6\nP19838\tNOT_THERE\n")
    out = tmp_path / "pred.tsv"
    assert main(["predict", "--pairs", str(pairs), "--sequences", SEQS, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "NOT_THERE" in err and str(pairs) in err
    assert not out.exists() and not list(tmp_path.glob(".*part"))


def test_foreign_model_file_is_a_clear_error(tmp_path, test_subset, capsys):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"not a model")
    code = main(
        [
            "predict",
            "--model",
            str(bad),
            "--pairs",
            str(test_subset),
            "--sequences",
            SEQS,
            "--out",
            str(tmp_path / "o.tsv"),
            "--quiet",
        ]
    )
    assert code == 2 and "not a readable safetensors" in capsys.readouterr().err


def test_evaluate_with_baseline_and_replicates(tmp_path, test_subset, capsys):
    lines = test_subset.read_text().splitlines()
    second = tmp_path / "rep2.txt"
    second.write_text("\n".join(lines[::2]) + "\n")
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--pairs",
            str(test_subset),
            "--pairs",
            str(second),
            "--sequences",
            SEQS,
            "--baseline",
            str(BENCHMARK / "protein_pair_label_train.txt"),
            "--out-dir",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    text, err = capsys.readouterr()
    assert "mean ± SD" in text and "frequency baseline" in text
    report = json.loads((out / "metrics.json").read_text())
    assert report["summary"]["replicates"] == 2
    assert set(report["results"][0]["at_model_cutoff"]) >= {
        "roc_auc",
        "pr_auc",
        "sensitivity",
        "specificity",
        "accuracy",
        "mcc",
        "f1",
    }
    for png in ("roc.png", "pr.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "scores_1.tsv").read_text().splitlines()) == len(lines) + 1
    assert [r["scores_file"] for r in report["results"]] == ["scores_1.tsv", "scores_2.tsv"]
    assert report["summary"]["over"] == "2 pair files, one model"
    assert "scores_1.tsv, scores_2.tsv" in err and "*" not in err


@pytest.fixture(scope="module")
def small_subset(test_subset):
    """Every 4th pair of test_subset (about 250 pairs, both classes)."""
    path = test_subset.parent / "small_subset.txt"
    path.write_text("\n".join(test_subset.read_text().splitlines()[::4]) + "\n")
    return path


def test_evaluate_several_models_on_one_pair_file_are_not_replicates(tmp_path, small_subset, capsys):
    out = tmp_path / "eval"
    argv = ["evaluate", "--pairs", str(small_subset), "--sequences", SEQS, "--out-dir", str(out), "--quiet"]
    assert main(argv + ["--model", "lstm-phv-benchmark", "--model", "viral-disjoint"]) == 0
    text = capsys.readouterr().out
    assert "mean ± SD over" not in text and "side by side, no mean ± SD" in text
    header = next(line for line in text.splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "lstm-phv-benchmark", "viral-disjoint"]
    report = json.loads((out / "metrics.json").read_text())
    assert report["summary"] is None and report["replicates"] is None
    assert [r["name"] for r in report["results"]] == ["lstm-phv-benchmark", "viral-disjoint"]


def test_evaluate_pairs_model_i_with_pairs_i(tmp_path, small_subset, capsys):
    rep1, rep2 = tmp_path / "rep1", tmp_path / "rep2"
    for folder, lines in ((rep1, small_subset.read_text().splitlines()[::2]), (rep2, None)):
        folder.mkdir()
        (folder / "test.txt").write_text("\n".join(lines or small_subset.read_text().splitlines()[1::2]) + "\n")
    argv = ["evaluate", "--sequences", SEQS, "--quiet", "--pairs", str(rep1 / "test.txt")]
    argv += ["--pairs", str(rep2 / "test.txt"), "--model", "lstm-phv-benchmark", "--model", "viral-disjoint"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    # the two bundled models share configuration and recipe (only their training data differ)
    assert "mean ± SD over 2 replicates (model i on pairs i)" in text
    header = next(line for line in text.splitlines() if line.startswith("metric"))
    assert "lstm-phv-benchmark on rep1/test.txt" in header and "viral-disjoint on rep2/test.txt" in header


def test_evaluate_planning_and_recipes():
    import dataclasses

    from hvppi.lstm.evaluation import plan_evaluation, same_recipe, short_names

    assert short_names(["a/rep1/test.txt", "a/rep2/test.txt", "a/rep1/test.txt"]) == [
        "rep1/test.txt",
        "rep2/test.txt",
        "rep1/test.txt",
    ]
    jobs = plan_evaluation(["x/p1.txt", "x/p2.txt"], None, ["b.txt"])
    assert [(j.name, j.model, j.baseline_path) for j in jobs] == [("p1.txt", None, "b.txt"), ("p2.txt", None, "b.txt")]
    jobs = plan_evaluation(["p.txt"], ["r1/model.safetensors", "r2/model.safetensors"])
    assert [j.name for j in jobs] == ["r1/model.safetensors", "r2/model.safetensors"]
    assert {j.pairs_path for j in jobs} == {"p.txt"}
    with pytest.raises(ValueError, match="3 models and 2 pair files"):
        plan_evaluation(["a", "b"], ["m1", "m2", "m3"])
    with pytest.raises(ValueError, match="baseline"):
        plan_evaluation(["a", "b", "c"], None, ["b1", "b2"])
    info = read_model_info(bundled_model_path("lstm-phv-benchmark"))
    reseeded = dataclasses.replace(info, training={"recipe": {**info.training["recipe"], "seed": 7}})
    assert same_recipe([info, reseeded])
    other = dataclasses.replace(info, training={"recipe": {**info.training["recipe"], "batch_size": 64}})
    assert not same_recipe([info, other])


def test_cli_train_then_predict(tmp_path, small_pairs_file):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--pairs",
                str(small_pairs_file),
                "--sequences",
                SEQS,
                "--out",
                str(run),
                "--max-epochs",
                "1",
                "--batch-size",
                "64",
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "predict",
                "--model",
                str(run / "model.safetensors"),
                "--pairs",
                str(small_pairs_file),
                "--sequences",
                SEQS,
                "--out",
                str(tmp_path / "p.tsv"),
                "--quiet",
            ]
        )
        == 0
    )
    assert len((tmp_path / "p.tsv").read_text().splitlines()) == 241


def test_cli_train_model_settings_reach_the_model_file(tmp_path, small_pairs_file):
    from hvppi.lstm.modelfile import read_model_info

    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--pairs",
                str(small_pairs_file),
                "--sequences",
                SEQS,
                "--out",
                str(run),
                "--max-epochs",
                "1",
                "--batch-size",
                "64",
                "--quiet",
                "--lstm-hidden",
                "8",
                "--lstm-dropout",
                "0.1",
                "--attention-dropout",
                "0",
                "--attention-weight-dropout",
                "0.05",
                "--head-dropout",
                "0.25",
                "--head-widths",
                "16",
                "4",
            ]
        )
        == 0
    )
    config = read_model_info(run / "model.safetensors").config
    assert (config.lstm_hidden, config.lstm_dropout, config.attention_dropout) == (8, 0.1, 0.0)
    assert (config.attention_weight_dropout, config.head_dropout, config.head_widths) == (0.05, 0.25, (16, 4))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["split", "--fraction", "1.5"], "fraction"),
        (["train", "--batch-size", "0", "--out", "OUT"], "batch_size"),
        (["train", "--head-dropout", "1.5", "--out", "OUT"], "head_dropout"),
        (["train", "--head-widths", "8", "0", "--out", "OUT"], "head_widths"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path, small_pairs_file, capsys, argv, message):
    argv = [a.replace("OUT", str(tmp_path / "o")) for a in argv]
    extra = ["--out", str(tmp_path / "o")] if argv[0] == "split" else []
    code = main(argv + extra + ["--pairs", str(small_pairs_file), "--sequences", SEQS])
    assert code == 2 and message in capsys.readouterr().err

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import BENCHMARK
from hvppi.cli import main
from hvppi.ppi.modelfile import bundled_model_path, read_model_info

SEQS = str(BENCHMARK / "pro_seq.txt")


@pytest.fixture(scope="module")
def test_subset(tmp_path_factory):
    """Every 50th pair of the benchmark test split (about 985 pairs, both classes)."""
    lines = (BENCHMARK / "protein_pair_label_test.txt").read_text().splitlines()[::50]
    path = tmp_path_factory.mktemp("cli") / "test_subset.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("command", ["train", "predict", "evaluate", "split"])
def test_every_subcommand_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "--pairs" in capsys.readouterr().out


def test_entry_point_is_installed():
    out = subprocess.run([sys.executable, "-m", "hvppi.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("hvppi ")


def test_predict_with_the_bundled_model_keeps_input_order(tmp_path, test_subset):
    out = tmp_path / "pred.tsv"
    assert main(["predict", "--pairs", str(test_subset), "--sequences", SEQS, "--out", str(out), "--quiet"]) == 0
    rows = [l.split("\t") for l in out.read_text().splitlines()]
    assert rows[0] == ["human_id", "virus_id", "score", "call"]
    given = [l.split("\t")[:2] for l in test_subset.read_text().splitlines()]
    assert [r[:2] for r in rows[1:]] == given
    cutoff = read_model_info(bundled_model_path()).cutoff
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
    text = capsys.readouterr().out
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
    from hvppi.ppi.modelfile import read_model_info

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

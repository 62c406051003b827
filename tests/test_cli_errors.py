"""Every failure of ``hvppi`` is one stderr line, ``hvppi <cmd>: error: ...`` naming the file, and exit status 2."""

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hvppi.cli import main
from hvppi.cli.commands import predict

HVPPI = Path(sys.executable).parent / "hvppi"
UNWRITABLE = "/proc/hvppi-test/out"  # /proc takes no new folders, even from root

HUMAN = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWSTPSELGHAGLNGDILVWNPVLEDAFELSSMGIRVDADTLKHQLALTGDEDRLELEWHQALLRGEMPQTIGGGIGQSRLTMLLLQLPHIGQVQAGVWPAACRESVPALKHLSQRTHHD"
VIRUS = "MESLVPGFNEKTHVQLSLPVLQVRDVLVRGFGDSVEEVLSEARQHLKDGTCGLVEVEKGVLPQLEQPYVFIKRSDARTAPHGHVMVELVAELEGIQYGRSGETLGVLVPHVGEIPVAYRKVLLRKNGNKGAGGHSYGADLKSFDLGDELGTDPYEDFQENWNTKHSSGVTRELMRELNGG"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small inputs, good and bad, for the failing invocations."""
    d = tmp_path_factory.mktemp("errors")
    (d / "seqs.fa").write_text(f">H1\n{HUMAN}\n>H2\n{HUMAN[::-1]}\n>V1\n{VIRUS}\n")
    (d / "pairs.txt").write_text("H1\tV1\t1\nH2\tV1\t0\n")
    (d / "bad_letter.fa").write_text(f">H1\n{HUMAN[:20]}J{HUMAN[21:]}\n>V1\n{VIRUS}\n")
    (d / "bad_label.txt").write_text("H1\tV1\t1\nH1\tV1\tyes\n")
    fasta_gz = gzip.compress((d / "seqs.fa").read_bytes())
    (d / "truncated.fa.gz").write_bytes(fasta_gz[: len(fasta_gz) // 2])
    pairs_gz = gzip.compress(b"H1\tV1\t1\n" * 200)
    (d / "truncated_pairs.txt.gz").write_bytes(pairs_gz[:-12])
    (d / "not_utf8.fa").write_bytes(b">H1\n\xff\xfe" + HUMAN.encode() + b"\n")
    (d / "not_a.zip").write_bytes(b"PK\x03\x04 not really a zip archive")
    (d / "folder").mkdir()
    np.save(d / "points.npy", np.random.default_rng(0).normal(size=(20, 4)))
    return d


def _predict(pairs="pairs.txt", sequences="seqs.fa", out="out/pred.tsv"):
    return ["predict", "--pairs", pairs, "--sequences", sequences, "--out", out, "--quiet"]


CASES = {
    "missing pairs file": (_predict(pairs="missing.txt"), "predict", "missing.txt"),
    "missing sequence file": (_predict(sequences="missing.fa"), "predict", "missing.fa"),
    "missing model file": (_predict() + ["--model", "missing.safetensors"], "predict", "missing.safetensors"),
    "directory as pairs": (_predict(pairs="folder"), "predict", "folder"),
    "directory as sequences": (
        ["encode", "--sequences", "folder", "--tower", "virus", "--out", "v.h5", "--quiet"],
        "encode",
        "folder",
    ),
    "output under /proc": (_predict(out=f"{UNWRITABLE}/pred.tsv"), "predict", f"{UNWRITABLE}/pred.tsv"),
    "output folder under /proc": (
        ["evaluate", "--pairs", "pairs.txt", "--sequences", "seqs.fa", "--out-dir", UNWRITABLE, "--quiet"],
        "evaluate",
        UNWRITABLE,
    ),
    "json under /proc": (
        ["geometry", "isotropy", "points.npy", "--json", f"{UNWRITABLE}/iso.json", "--quiet"],
        "geometry isotropy",
        UNWRITABLE.rsplit("/", 1)[0],
    ),
    "bad FASTA letter": (_predict(sequences="bad_letter.fa"), "predict", "bad_letter.fa"),
    "bad pairs label": (
        ["evaluate", "--pairs", "bad_label.txt", "--sequences", "seqs.fa", "--quiet"],
        "evaluate",
        "bad_label.txt",
    ),
    "missing set list": (
        ["geometry", "report", "--sets", "missing.tsv", "--out-dir", "rep"],
        "geometry report",
        "missing.tsv",
    ),
    "truncated gzip sequences": (_predict(sequences="truncated.fa.gz"), "predict", "truncated.fa.gz"),
    "truncated gzip pairs": (_predict(pairs="truncated_pairs.txt.gz"), "predict", "truncated_pairs.txt.gz"),
    "undecodable sequences": (_predict(sequences="not_utf8.fa"), "predict", "not_utf8.fa"),
    "broken zip": (
        ["dataset", "build", "--mitab", "not_a.zip", "--out", "ds", "--quiet"],
        "dataset build",
        "not_a.zip",
    ),
    "directory as MITAB": (
        ["dataset", "build", "--mitab", "folder", "--out", "ds", "--quiet"],
        "dataset build",
        "folder",
    ),
    "missing embeddings": (["geometry", "isotropy", "missing.h5", "--quiet"], "geometry isotropy", "missing.h5"),
}


def _check(code: int, err: str, command: str, named: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"hvppi {command}: error: "), lines[0]
    assert named in lines[0], lines[0]


@pytest.mark.parametrize("case", list(CASES))
def test_failure_is_one_line_naming_the_file(case, files, capsys, monkeypatch):
    argv, command, named = CASES[case]
    monkeypatch.chdir(files)
    code = main(argv)
    _check(code, capsys.readouterr().err, command, named)
    assert not (files / "out" / "pred.tsv").exists()


@pytest.mark.parametrize("case", ["missing set list", "json under /proc", "directory as MITAB"])
def test_failure_through_the_console_script(case, files):
    argv, command, named = CASES[case]
    done = subprocess.run([str(HVPPI), *argv], cwd=files, capture_output=True, text=True, timeout=120)
    _check(done.returncode, done.stderr, command, named)


@pytest.mark.parametrize(
    "exception, status, message",
    [
        (KeyboardInterrupt(), 130, "interrupted"),
        (RuntimeError("something broke\nacross lines"), 2, "something broke across lines"),
        (OSError(28, "No space left on device", "out/pred.tsv"), 2, "out/pred.tsv: No space left on device"),
    ],
)
def test_interruptions_and_runtime_errors(exception, status, message, files, capsys, monkeypatch):
    def fail(args):
        raise exception

    monkeypatch.setattr(predict, "run", fail)
    assert main(_predict()) == status
    err = capsys.readouterr().err
    assert err.splitlines() == [f"hvppi predict: error: {message}"]


def test_usage_errors_stay_argparse_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "--pairs", "p.txt"])
    assert exit_.value.code == 2
    assert "hvppi predict: error:" in capsys.readouterr().err


def test_an_unexpected_exception_is_one_line_unless_debugging(files, capsys, monkeypatch):
    import pickle

    def fail(args):
        raise pickle.UnpicklingError("invalid load key, 'x'.")  # e.g. a library refusing a pickled weights file

    monkeypatch.setattr(predict, "run", fail)
    monkeypatch.delenv("HVPPI_DEBUG", raising=False)
    assert main(_predict()) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hvppi predict: error: UnpicklingError: invalid load key")
    monkeypatch.setenv("HVPPI_DEBUG", "1")
    with pytest.raises(pickle.UnpicklingError):
        main(_predict())

"""Inputs from pipes, outputs that are devices, links, folders or inputs, ``--threads`` and SIGTERM (a review's
findings: each test fails on the code before the fix)."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import BENCHMARK, REPO
from hvppi.cli import main
from hvppi.io.files import atomic_write, open_text
from hvppi.io.sequences import read_sequences

PAIRS = BENCHMARK / "protein_pair_label_test.txt"


def _through_a_pipe(tmp_path, data: bytes):
    """A FIFO that a thread fills with ``data`` (as ``<(cat file)`` does), and the thread."""
    fifo = tmp_path / f"fifo{len(list(tmp_path.iterdir()))}"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as fh:
            fh.write(data)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return fifo, thread


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_a_pipe_is_read_whole(tmp_path, packed):
    records = {f"p{k}": "MKV" * (100 + k) for k in range(60)}  # well over the 4 KB a first read takes from a pipe
    text = "".join(f">{pid}\n{seq}\n" for pid, seq in records.items()).encode()
    fifo, thread = _through_a_pipe(tmp_path, gzip.compress(text) if packed else text)
    assert read_sequences(fifo) == records
    thread.join(10)


def test_an_output_device_or_fifo_is_written_into_and_a_link_keeps_pointing(tmp_path):
    (tmp_path / "target.tsv").write_text("old\n")
    (tmp_path / "link.tsv").symlink_to("target.tsv")
    with atomic_write(tmp_path / "link.tsv") as fh:
        fh.write("new\n")
    assert (tmp_path / "link.tsv").is_symlink() and (tmp_path / "target.tsv").read_text() == "new\n"
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got = []

    def read() -> None:
        with open(fifo) as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with atomic_write(fifo) as fh:
        fh.write("rows\n")
    reader.join(10)
    assert got == ["rows\n"] and not fifo.is_file() and fifo.exists()  # still a FIFO, not replaced by a file
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_outputs_that_are_folders_or_inputs_and_threads_out_of_range_are_refused_before_any_work(tmp_path, capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(PAIRS.read_text().splitlines(keepends=True)[:20]))
    before = pairs.read_text()
    base = ["predict", "--pairs", str(pairs), "--sequences", str(BENCHMARK / "pro_seq.txt"), "--quiet"]
    (tmp_path / "folder").mkdir()
    cases = {
        "--out pairs.txt": ([*base, "--out", str(pairs)], f"is the input --pairs {pairs}: it would be overwritten"),
        "--out folder": ([*base, "--out", str(tmp_path / "folder")], "is a folder; give the path of a file"),
        "--threads 100000": ([*base, "--out", str(tmp_path / "o.tsv"), "--threads", "100000"], "--threads 100000:"),
        "--threads -1": ([*base, "--out", str(tmp_path / "o.tsv"), "--threads", "-1"], "--threads -1:"),
    }
    for name, (argv, expected) in cases.items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("hvppi predict: error: ") and expected in err[0], (name, err)
    assert pairs.read_text() == before and not (tmp_path / "o.tsv").exists()
    assert main([*base, "--out", str(tmp_path / "o.tsv"), "--threads", "0"]) == 0  # 0 stays "the library's choice"


def test_a_damaged_unfinished_screen_is_named_and_restart_discards_it(tmp_path, capsys):
    virus, human = tmp_path / "v.fasta", tmp_path / "h.fasta"
    sequences = read_sequences(BENCHMARK / "pro_seq.txt")
    ids = list(sequences)
    virus.write_text(f">{ids[-1]}\n{sequences[ids[-1]]}\n")
    human.write_text("".join(f">{h}\n{sequences[h]}\n" for h in ids[:5]))
    out = tmp_path / "s.tsv"
    (tmp_path / "s.tsv.parts").mkdir()
    (tmp_path / "s.tsv.parts" / "screen.json").write_text("{x")
    argv = ["screen", "--virus", str(virus), "--human", str(human), "--out", str(out), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "s.tsv.parts: an unfinished screen" in err and "--restart" in err, err
    assert main([*argv, "--restart"]) == 0 and len(out.read_text().splitlines()) == 6


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_stops_a_command_as_an_interrupt_does(tmp_path):
    """A batch system's time limit (SIGTERM): one line, exit 143, no temporary file left beside the output."""
    code = (
        "import time, sys\n"
        "import hvppi.cli.commands.predict as p\n"
        "from hvppi.io.files import atomic_write\n"
        "def slow(args):\n"
        "    with atomic_write(args.out) as fh:\n"
        "        fh.write('half'); fh.flush(); print('ready', flush=True); time.sleep(60)\n"
        "p.run = slow\n"
        "from hvppi.cli.router import main\n"
        f"sys.exit(main(['predict', '--pairs', {str(PAIRS)!r}, '--out', {str(tmp_path / 'o.tsv')!r}]))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 143 and err.strip() == "hvppi predict: error: terminated (SIGTERM)", err
    time.sleep(0.1)
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary file


def test_open_text_of_a_regular_file_is_unchanged(tmp_path):
    path = tmp_path / "a.txt.gz"
    path.write_bytes(gzip.compress("\ufeffid\tseq\r\nA\tMKV\n".encode()))
    with open_text(path) as fh:
        assert fh.read() == "id\tseq\r\nA\tMKV\n"


@pytest.mark.parametrize("kind", ["zip", "xz", "bzip2"])
def test_a_packed_input_is_named_as_packed_not_as_undecodable_text(tmp_path, kind):
    import bz2
    import lzma
    import zipfile

    from hvppi.io.errors import InputError

    text = b">p\nMKV\n" * 50
    path = tmp_path / f"v.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("v.fasta", text)
    else:
        path.write_bytes(lzma.compress(text) if kind == "xz" else bz2.compress(text))
    with pytest.raises(InputError) as caught:
        read_sequences(path)
    assert str(caught.value) == f"{path}: packed as {kind}; this input is read as plain text or gzip: unpack it first"


def test_a_staged_set_with_a_folder_in_the_way_replaces_none_of_its_files(tmp_path):
    from hvppi.io.errors import InputError
    from hvppi.io.files import staged_directory

    (tmp_path / "a.txt").write_text("old a\n")
    (tmp_path / "b.txt").mkdir()
    with pytest.raises(InputError, match="is a folder, where an output file goes"), staged_directory(tmp_path) as stage:
        (stage / "a.txt").write_text("new a\n")
        (stage / "b.txt").write_text("new b\n")
    assert (tmp_path / "a.txt").read_text() == "old a\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "a.txt",
        "b.txt",
    ]


def test_a_fasta_without_its_header_says_so(tmp_path):
    from hvppi.io.errors import InputError

    path = tmp_path / "v.fasta"
    path.write_text("MKVLAAGIVALLLAAGCSS\n")
    with pytest.raises(InputError, match=r"line 1: .*found 1; a FASTA file starts with a header line \('>ID'\)"):
        read_sequences(path)


def test_a_dask_tile_size_below_1_is_refused_before_a_cluster_starts(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    import hvppi.scoring.distributed as distributed

    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(distributed, "dask_client", no_cluster)
    sequences = read_sequences(BENCHMARK / "pro_seq.txt")
    ids = list(sequences)
    (tmp_path / "v.fa").write_text(f">{ids[-1]}\n{sequences[ids[-1]]}\n")
    (tmp_path / "h.fa").write_text("".join(f">{h}\n{sequences[h]}\n" for h in ids[:3]))
    argv = ["screen", "--virus", str(tmp_path / "v.fa"), "--human", str(tmp_path / "h.fa"), "--quiet"]
    for flag in ("--human-block", "--virus-block"):
        assert main([*argv, "--out", str(tmp_path / "o.tsv"), "--dask", "local:1", flag, "0"]) == 2
        assert f"{flag} 0: give a positive number" in capsys.readouterr().err

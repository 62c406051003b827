"""Issue 11: a full disk, a read-only output folder and a kill while a vector store grows.

As root the full disk is a real 2 MiB tmpfs filled to the brim and the read-only folder a read-only
bind mount (root ignores permission bits); elsewhere both are mocked (``OSError(ENOSPC)`` from the
writes, ``EROFS`` from the writability check). Each failure must be one ``hvppi CMD: error:`` line
naming the file, exit status 2, and leave no half-written output and no ``.part`` file behind.
Every process a test starts is ended by its PID; every wait is bounded."""

import builtins
import contextlib
import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import pytest

from hvppi.cli import main
from hvppi.io.sequences import read_sequences

HVPPI = str(Path(sys.executable).parent / "hvppi")


def _run_mount(*args: str) -> bool:
    if os.geteuid() != 0:
        return False
    try:
        return subprocess.run(["mount", *args], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _umount(path: Path) -> None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


@pytest.fixture()
def full_disk(tmp_path, monkeypatch):
    """(folder, fill): ``fill(free)`` leaves about ``free`` bytes on the folder's device. A 2 MiB tmpfs
    as root; elsewhere writes of files under the folder fail with ENOSPC once ``fill`` was called."""
    folder = tmp_path / "small_disk"
    folder.mkdir()
    mounted = _run_mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder))
    filler = tmp_path / "small_disk" / ".filler"

    def fill(free: int = 0) -> None:
        if mounted:
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * 65536)
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * 512)
                os.ftruncate(fd, max(0, os.fstat(fd).st_size - free))
            finally:
                os.close(fd)
            return
        real_open = builtins.open

        def full_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and Path(file).is_relative_to(folder) and "w" in mode:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", full_open)

    yield folder, fill
    monkeypatch.undo()
    if mounted:
        _umount(folder)


@pytest.fixture()
def read_only(tmp_path, monkeypatch):
    """A folder that cannot be written: a read-only bind mount as root, else mocked EROFS."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    if _run_mount("--bind", str(folder), str(folder)) and _run_mount("-o", "remount,ro,bind", str(folder)):
        yield folder
        _umount(folder)
        return
    _umount(folder)
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m, **kw: False if Path(p).is_relative_to(folder) else real_access(p, m, **kw)
    )
    yield folder


@pytest.fixture(scope="module")
def inputs(shared_data, tmp_path_factory):
    """Short benchmark proteins (FASTA), 24 test pairs among them, and 200 more proteins for encode."""
    folder = tmp_path_factory.mktemp("disk_inputs")
    bench = shared_data / "lstm-phv-benchmark"
    sequences = {pid: seq for pid, seq in read_sequences(bench / "pro_seq.txt").items() if len(seq) < 200}
    pairs, used = [], {}
    with open(bench / "protein_pair_label_test.txt") as fh:
        for line in fh:
            h, v, y = line.split()
            if h in sequences and v in sequences and (y == "1" or len(pairs) % 3):
                pairs.append(line)
                used[h], used[v] = sequences[h], sequences[v]
            if len(pairs) >= 40 and any(p.endswith("\t1\n") for p in pairs):
                break
    (folder / "seqs.fa").write_text("".join(f">{p}\n{s}\n" for p, s in used.items()))
    (folder / "pairs.txt").write_text("".join(pairs))
    many = [p for p in sequences if p not in used][:200]
    (folder / "many.fa").write_text("".join(f">{p}\n{sequences[p]}\n" for p in many))
    (folder / "few.fa").write_text("".join(f">{p}\n{sequences[p]}\n" for p in list(used)[:5]))
    with (
        zipfile.ZipFile(shared_data / "hpidb3-virus" / "hpidb_virus_25_10_22.zip") as archive,
        archive.open(archive.namelist()[0]) as member,
    ):
        rows = [next(member) for _ in range(300)]
    (folder / "hpidb.txt").write_bytes(b"".join(rows))
    return folder


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"hvppi {command}: error: "), err
    assert len([x for x in err.splitlines() if ": error: " in x]) == 1, err
    return line


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".part") or p.name.endswith(".lock"))


def _says_disk_full(line: str, named: Path) -> None:
    assert str(named) in line, line
    assert "disk is full" in line, line


# --- full disk -----------------------------------------------------------------------------------


def test_predict_on_a_full_disk(inputs, full_disk, capsys):
    folder, fill = full_disk
    out = folder / "scores.tsv"
    fill(0)
    argv = ["predict", "--pairs", str(inputs / "pairs.txt"), "--sequences", str(inputs / "seqs.fa")]
    assert main([*argv, "--out", str(out), "--model", "lstm-phv-benchmark", "--quiet"]) == 2
    _says_disk_full(_one_error_line(capsys, "predict"), out)
    assert not out.exists() and _leftovers(folder) == []


def test_encode_extending_a_store_on_a_full_disk(inputs, full_disk, capsys):
    folder, fill = full_disk
    store = folder / "vectors.h5"
    base = ["encode", "--tower", "virus", "--out", str(store), "--model", "lstm-phv-benchmark", "--quiet"]
    assert main([*base, "--sequences", str(inputs / "few.fa")]) == 0
    capsys.readouterr()
    before = _sha(store)
    fill(0)
    assert main([*base, "--sequences", str(inputs / "seqs.fa")]) == 2
    _says_disk_full(_one_error_line(capsys, "encode"), store)
    assert _sha(store) == before and _leftovers(folder) == []
    with h5py.File(store, "r") as fh:
        assert len(fh) == 5


def test_train_checkpoint_on_a_full_disk(inputs, full_disk, capsys):
    folder, fill = full_disk
    out = folder / "run"
    fill(64 << 10)  # room for the small files, not for the checkpoint with the model
    argv = ["train", "--pairs", str(inputs / "pairs.txt"), "--sequences", str(inputs / "seqs.fa"), "--out", str(out)]
    argv += ["--max-epochs", "1", "--batch-size", "16", "--lstm-hidden", "32", "--quiet"]
    assert main(argv) == 2
    line = _one_error_line(capsys, "train")
    assert "disk is full" in line and str(out) in line, line
    assert _leftovers(folder) == []
    for name in os.listdir(out) if out.exists() else []:  # whatever is there is whole: no truncated checkpoint
        if name.endswith(".safetensors") or name.endswith(".pt"):
            pytest.fail(f"a checkpoint {name} was left on a full disk")


def test_dataset_build_on_a_full_disk(inputs, shared_data, full_disk, capsys):
    folder, fill = full_disk
    out = folder / "dataset"
    fill(0)
    argv = ["dataset", "build", "--mitab", str(inputs / "hpidb.txt"), "--out", str(out), "--quiet"]
    argv += ["--sequences", str(shared_data / "sequences" / "sequence_pool.fasta.gz"), "--replicates", "1"]
    assert main(argv) == 2
    line = _one_error_line(capsys, "dataset build")
    assert "disk is full" in line and str(out) in line, line
    assert _leftovers(folder) == []


# --- read-only output folder ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["predict", "encode"])
def test_a_read_only_output_folder_fails_before_the_work(command, inputs, read_only, capsys, monkeypatch):
    from hvppi.lstm import inference

    def no_work(*args, **kwargs):
        raise AssertionError("the computation started before the output was checked")

    monkeypatch.setattr(inference, "score_pairs", no_work)
    monkeypatch.setattr(inference, "encode_sequences", no_work, raising=False)
    if command == "predict":
        out = read_only / "scores.tsv"
        argv = ["predict", "--pairs", str(inputs / "pairs.txt"), "--sequences", str(inputs / "seqs.fa")]
        argv += ["--out", str(out), "--model", "lstm-phv-benchmark", "--quiet"]
    else:
        out = read_only / "vectors.h5"
        argv = ["encode", "--tower", "human", "--sequences", str(inputs / "seqs.fa"), "--out", str(out)]
        argv += ["--model", "lstm-phv-benchmark", "--quiet"]
    assert main(argv) == 2
    line = _one_error_line(capsys, command)
    assert str(read_only) in line, line
    assert not out.exists() and os.listdir(read_only) == []


# --- a kill while a store is extended -----------------------------------------------------------


@pytest.fixture(scope="module")
def killed_encode(inputs, tmp_path_factory):
    """A store of 5 vectors, an encode of 200 more killed (SIGKILL) while it writes the extension, and
    what the store held before: (folder, store, stored vectors, readable after the kill, re-run result)."""
    folder = tmp_path_factory.mktemp("killed_encode")
    store = folder / "vectors.h5"
    base = [HVPPI, "encode", "--tower", "human", "--out", str(store), "--model", "lstm-phv-benchmark", "--quiet"]
    first = subprocess.run([*base, "--sequences", str(inputs / "few.fa")], capture_output=True, timeout=120)
    assert first.returncode == 0, first.stderr
    with h5py.File(store, "r") as fh:
        stored = {name: fh[name][()] for name in fh}
    proc = subprocess.Popen([*base, "--sequences", str(inputs / "many.fa")], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.name.endswith(".part") for p in folder.iterdir()):
                break  # the extension is being written
            time.sleep(0.005)
        assert proc.poll() is None, "encode finished before the kill"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    with h5py.File(store, "r") as fh:  # readable, with every vector of before
        after_kill = {name: fh[name][()] for name in fh}
    again = subprocess.run([*base, "--sequences", str(inputs / "many.fa")], capture_output=True, timeout=120)
    return folder, store, stored, after_kill, again


def test_a_kill_while_encode_extends_a_store_keeps_the_stored_vectors(killed_encode):
    folder, store, stored, after_kill, again = killed_encode
    assert len(stored) == 5 and set(stored) <= set(after_kill)
    assert all((after_kill[name] == vector).all() for name, vector in stored.items())
    assert again.returncode == 0, again.stderr
    with h5py.File(store, "r") as fh:
        assert len(fh) == 205


def test_a_rerun_after_a_kill_removes_the_killed_runs_part_file(killed_encode):
    folder = killed_encode[0]
    assert [p.name for p in folder.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize("command", ["embed", "encode"])
def test_an_h5_output_on_a_full_disk_is_one_line_not_a_crash(inputs, full_disk, command):
    """HDF5 meets a full disk with errors from its destructors and a segmentation fault (exit 139): its writes are
    checked first (``hvppi.io.files.ensure_space``). Run in a child process, where a crash cannot take pytest."""
    folder, fill = full_disk
    stat = os.statvfs(folder)
    if stat.f_blocks * stat.f_frsize > 4 << 20:
        pytest.skip("needs a real small disk (a tmpfs mounted as root)")
    fill(100_000)
    out = folder / "out.h5"
    argv = {
        "embed": ["--model", "hvppi-features", "--out", str(out), "--per-residue", str(folder / "residues.h5")],
        "encode": ["--tower", "human", "--model", "lstm-phv-benchmark", "--out", str(out)],
    }[command]
    done = subprocess.run(
        [sys.executable, "-m", "hvppi.cli", command, "--sequences", str(inputs / "many.fa"), *argv, "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith(f"hvppi {command}: error: ") and "disk is full" in lines[0], lines

"""Issue 11 ("nothing lost, nothing silent"): the output lock, model files checked before allocation,
finite numbers, copy-on-write vector stores and a training log that survives a kill.

Every process a test starts is ended by its PID; every wait is bounded."""

import errno
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from hvppi.evaluation.metrics import binary_metrics, check_cutoff
from hvppi.io.bundled import bundled_model_path
from hvppi.io.errors import InputError, ModelFileError
from hvppi.io.files import lock_path, output_lock
from hvppi.io.h5layout import write_protein_array
from hvppi.io.pairs import read_pairs
from hvppi.lstm import training
from hvppi.lstm import vectors as vectors_module
from hvppi.lstm.modelfile import load_model, read_model_info
from hvppi.lstm.training import TrainConfig, train
from hvppi.lstm.vectors import VectorStore

HVPPI = Path(sys.executable).parent / "hvppi"
HOLD_LOCK = """
import sys, time
from hvppi.io.files import output_lock
with output_lock(sys.argv[1], command="test holder"):
    print("locked", flush=True)
    time.sleep(120)
"""


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture()
def lock_holder():
    """Start a process that holds the output lock of a path; yields (path → process); ends it by PID."""
    started: list[subprocess.Popen] = []

    def hold(path: Path) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True)
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in started:
        _end(proc)


# 1. one output lock


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, lock_holder):
    out = tmp_path / "out.tsv"
    holder = lock_holder(out)
    assert lock_path(out).read_text().splitlines() == [str(holder.pid), "test holder"]
    with pytest.raises(InputError) as caught, output_lock(out):
        pass
    message = str(caught.value)
    assert f"another hvppi process (PID {holder.pid}) is writing this output" in message
    assert message.startswith(str(out)) and "\n" not in message


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path, lock_holder):
    out = tmp_path / "out"
    holder = lock_holder(out)
    _end(holder)  # SIGKILL: the lock file stays, the kernel drops the lock
    assert lock_path(out).exists()
    with output_lock(out) as lock:
        assert lock.read_text().splitlines()[0] == str(os.getpid())
    assert not lock_path(out).exists()


def test_a_stale_lock_file_is_taken_over_and_the_lock_is_reentrant(tmp_path):
    out = tmp_path / "out.h5"
    lock_path(out).write_text("999999999\nhvppi encode\n")
    with output_lock(out), output_lock(out):  # a nested call of the same process
        assert lock_path(out).read_text().startswith(f"{os.getpid()}\n")
    assert not lock_path(out).exists()


SLOW_SCREEN = """
import sys, time
from pathlib import Path
from hvppi.cli.router import main
from hvppi.scoring import screen as screening

gate, real = Path(sys.argv[1]), screening.write_chunk


def write_chunk(*args, **kwargs):  # the first chunk waits (at most 60 s) until the test removes the gate
    deadline = time.monotonic() + 60
    while gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    real(*args, **kwargs)


screening.write_chunk = write_chunk
sys.exit(main(sys.argv[2:]))
"""


def test_two_concurrent_screens_on_one_out(tmp_path, shared_data):
    """The second screen (with --restart, which once deleted the first's parts) is refused with one
    line naming the first's PID; the first finishes with every row. The first is held before its
    first chunk (by a gate file the test removes), so the order does not depend on the machine's speed."""
    lines = (shared_data / "lstm-phv-benchmark" / "pro_seq.txt").read_text().splitlines()
    human, virus = tmp_path / "human.txt", tmp_path / "virus.txt"
    human.write_text("\n".join(lines[:300]) + "\n")
    virus.write_text("\n".join(lines[300:340]) + "\n")
    out, gate = tmp_path / "out.tsv", tmp_path / "gate"
    gate.touch()
    args = ["screen", "--virus", str(virus), "--human", str(human), "--out", str(out)]
    args += ["--model", "lstm-phv-benchmark", "--quiet"]
    first = subprocess.Popen(
        [sys.executable, "-c", SLOW_SCREEN, str(gate), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for(lambda: lock_path(out).exists() or first.poll() is not None, 120, "the first screen's lock")
        assert first.poll() is None, first.communicate()[1]
        second = subprocess.run([str(HVPPI), *args, "--restart"], capture_output=True, text=True, timeout=120)
        assert first.poll() is None
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip().splitlines() == [
            f"hvppi screen: error: {out}: another hvppi process (PID {first.pid}) is writing this output; "
            "wait for it to finish or stop it"
        ]
        gate.unlink()
        stdout, stderr = first.communicate(timeout=120)
    finally:
        _end(first)
    assert first.returncode == 0, stderr
    assert json.loads(stdout)["pairs_scored"] == 300 * 40
    with open(out) as fh:
        assert sum(1 for _ in fh) == 1 + 300 * 40
    assert not lock_path(out).exists() and not out.with_name(out.name + ".parts").exists()


def test_a_vector_store_and_a_training_run_take_the_lock(tmp_path, lock_holder, small_pairs_file, benchmark_sequences):
    store_path, run_dir = tmp_path / "v.h5", tmp_path / "run"
    holder_a, holder_b = lock_holder(store_path), lock_holder(run_dir)
    with pytest.raises(InputError, match=f"PID {holder_a.pid}"):
        VectorStore(store_path, "human", "0" * 64)
    with pytest.raises(InputError, match=f"PID {holder_b.pid}"):
        train(
            read_pairs(small_pairs_file), benchmark_sequences, run_dir, config=TrainConfig(max_epochs=1), progress=False
        )
    assert not store_path.exists() and not run_dir.exists()


# 2. model files validated before allocation


def _tampered(tmp_path, name="tampered.safetensors", edit_doc=None, edit_state=None, raw_metadata=None) -> Path:
    source = bundled_model_path("lstm-phv-benchmark")
    from safetensors import safe_open

    with safe_open(str(source), framework="pt") as fh:
        metadata = fh.metadata()
    state = load_file(str(source))
    doc = json.loads(metadata["hvppi"])
    if edit_doc:
        edit_doc(doc)
    if edit_state:
        edit_state(state)
    path = tmp_path / name
    save_file(state, str(path), metadata={"hvppi": raw_metadata if raw_metadata is not None else json.dumps(doc)})
    return path


@pytest.mark.parametrize("hidden", [6000, 100000])
def test_oversized_model_metadata_is_refused_fast(tmp_path, hidden):
    path = _tampered(tmp_path, edit_doc=lambda d: d["config"].update(lstm_hidden=hidden))
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match=f"lstm_hidden {hidden} exceeds the maximum of 4096"):
        load_model(path)
    assert time.perf_counter() - started < 1.0


def test_sizes_within_bounds_are_checked_against_the_tensor_shapes(tmp_path):
    path = _tampered(tmp_path, edit_doc=lambda d: d["config"].update(lstm_hidden=4000, head_widths=[4096] * 16))
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match="weights do not fit the configuration .*has shape"):
        load_model(path)
    assert time.perf_counter() - started < 1.0
    with pytest.raises(ModelFileError, match="17 head layers exceed the maximum of 16"):
        load_model(_tampered(tmp_path, "deep.safetensors", edit_doc=lambda d: d["config"].update(head_widths=[4] * 17)))


def test_nan_weights_and_cutoffs_are_refused(tmp_path):
    def poison(state):
        state["head.layers.0.weight" if "head.layers.0.weight" in state else sorted(state)[-1]][0, 0] = math.nan

    with pytest.raises(ModelFileError, match="NaN or infinite weights"):
        load_model(_tampered(tmp_path, edit_state=poison))
    for bad in ("NaN", 2.0, "Infinity"):
        path = _tampered(tmp_path, f"cutoff-{bad}.safetensors", edit_doc=lambda d, b=bad: d.update(cutoff=b))
        with pytest.raises(ModelFileError, match="cutoff must be a finite score"):
            read_model_info(path)


def test_metadata_that_is_not_a_json_object_is_refused(tmp_path):
    path = _tampered(tmp_path, raw_metadata="[1, 2, 3]")
    with pytest.raises(ModelFileError, match="not an object"):
        read_model_info(path)
    with pytest.raises(ModelFileError):
        load_model(path)


# 3. finite numbers or a clear error


@pytest.mark.parametrize("cutoff", [math.nan, 2.0, -0.1, math.inf])
def test_bad_cutoffs_are_refused(tmp_path, cutoff):
    from hvppi.io.pairs import PairTable
    from hvppi.scoring.output import write_predictions

    with pytest.raises(ValueError, match="cutoff must be a finite number in \\[0, 1\\]"):
        check_cutoff(cutoff)
    with pytest.raises(ValueError, match="cutoff"):
        binary_metrics(np.array([0, 1]), np.array([0.2, 0.8]), cutoff)
    pairs = PairTable(["H"], ["V"], None, [1], "pairs.txt")
    with pytest.raises(ValueError, match="cutoff"):
        write_predictions(tmp_path / "p.tsv", pairs, np.array([0.5]), cutoff)
    assert not (tmp_path / "p.tsv").exists()


def test_predict_refuses_a_nan_cutoff_before_computing(tmp_path, capsys):
    from hvppi.cli.router import main

    (tmp_path / "pairs.txt").write_text("H\tV\n")
    (tmp_path / "seq.txt").write_text("H\tMKV\nV\tMKL\n")
    argv = ["predict", "--pairs", str(tmp_path / "pairs.txt"), "--sequences", str(tmp_path / "seq.txt")]
    assert main([*argv, "--out", str(tmp_path / "o.tsv"), "--cutoff", "nan"]) == 2
    assert "--cutoff must be a finite number in [0, 1], got nan" in capsys.readouterr().err
    assert not (tmp_path / "o.tsv").exists()


def test_a_nan_vector_in_a_store_names_the_file_and_the_protein(tmp_path):
    path = tmp_path / "v.h5"
    with VectorStore(path, "human", "0" * 64) as store:
        store.store({"P1": "MKV", "P2": "MKL"}, {"P1": np.ones(64, np.float32), "P2": np.ones(64, np.float32)})
    with h5py.File(path, "a") as fh:
        write_protein_array(fh, "P2", np.full(64, np.nan), "MKL", id_attribute="id")
        del fh["P1"].attrs["sequence_sha256"]
    with VectorStore(path, "human", "0" * 64) as store:
        with pytest.raises(InputError, match="not finite") as caught:
            store.lookup({"P2": "MKL"})
        assert str(caught.value).startswith(f"{path}, ID 'P2': ")
        with pytest.raises(InputError, match="no sequence_sha256"):
            store.lookup({"P1": "MKV"})
        with pytest.raises(ValueError, match="not finite"):
            store.store({"P3": "MKM"}, {"P3": np.full(64, np.inf)})


def test_an_infinite_learning_rate_is_refused():
    for rate in (math.inf, math.nan):
        with pytest.raises(ValueError, match="learning_rate must be a finite number"):
            TrainConfig(learning_rate=rate)


# 4. vector stores written copy-on-write


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _failing_after(monkeypatch, n_ok: int) -> None:
    calls = {"n": 0}
    real = vectors_module.write_protein_array

    def write(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_ok:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(vectors_module, "write_protein_array", write)


def test_a_full_disk_while_extending_a_store_keeps_the_stored_vectors(tmp_path, monkeypatch):
    path = tmp_path / "v.h5"
    seqs = {f"P{i}": "MKV" * (i + 1) for i in range(6)}
    vecs = {p: np.full(64, i, np.float32) for i, p in enumerate(seqs)}
    with VectorStore(path, "virus", "a" * 64) as store:
        store.store(seqs, {p: vecs[p] for p in list(seqs)[:3]})
    before = _sha(path)
    _failing_after(monkeypatch, 1)
    with VectorStore(path, "virus", "a" * 64) as store:
        with pytest.raises(InputError, match="the disk is full; the vectors already stored are kept"):
            store.store(seqs, {p: vecs[p] for p in list(seqs)[3:]})
        found, missing, _ = store.lookup(seqs)  # still readable through the open store
        assert sorted(found) == ["P0", "P1", "P2"] and missing == ["P3", "P4", "P5"]
    assert _sha(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.h5"]  # no .part, no lock left
    monkeypatch.undo()
    with VectorStore(path, "virus", "a" * 64) as store:
        found, _, _ = store.lookup(seqs)
        assert sorted(found) == ["P0", "P1", "P2"]
        assert all(np.array_equal(found[p], vecs[p]) for p in found)


def test_a_new_store_that_fails_leaves_nothing_behind(tmp_path, monkeypatch):
    path = tmp_path / "new.h5"
    _failing_after(monkeypatch, 0)
    store = VectorStore(path, "human", "b" * 64)
    with pytest.raises(InputError, match="disk is full"):
        store.store({"P": "MKV"}, {"P": np.zeros(64, np.float32)})
    assert not path.exists()
    monkeypatch.undo()
    store.close()  # a store that stored nothing still closes as an (empty) vector file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.h5"]
    with h5py.File(path) as fh:
        assert fh.attrs["format"] == "hvppi-vectors" and len(fh) == 0


# 5. the training log and the checkpoint are one step


def test_a_kill_between_checkpoint_and_log_loses_no_log_line(
    tmp_path, monkeypatch, small_pairs_file, benchmark_sequences
):
    pairs = read_pairs(small_pairs_file)

    def run(epochs, resume):
        config = TrainConfig(max_epochs=epochs, batch_size=64, seed=7)
        return train(
            pairs, benchmark_sequences, tmp_path, config=config, resume=resume, progress=False, log=lambda m: None
        )

    real = training._write_log

    def killed_at_epoch_2(run_):
        if run_.state.epoch == 2:
            raise KeyboardInterrupt  # as a kill right after the checkpoint of epoch 2 was written
        real(run_)

    monkeypatch.setattr(training, "_write_log", killed_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        run(3, resume=False)
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert epochs == [1]  # the log line of epoch 2 was not written, but the checkpoint holds it
    assert not lock_path(tmp_path).exists()
    monkeypatch.undo()
    run(3, resume=True)
    entries = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in entries] == [1, 2, 3]
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert [e["epoch"] for e in json.loads(ckpt["log"])] == [1, 2, 3]


def test_attention_outputs_appear_together_or_not_at_all(tmp_path):
    """A failure late in ``hvppi attention`` (here: the structure comparison) leaves no partial output set."""
    from hvppi.io.errors import InputError
    from hvppi.lstm.attention import write_attention_report

    sequences = {"P1": "MKTAYIAKQR", "P2": "MSTNPKPQRK"}
    attention = {pid: np.full(len(s), 1 / len(s)) for pid, s in sequences.items()}
    out = tmp_path / "attn"
    (out / "profiles").mkdir(parents=True)
    (out / "attention.tsv").write_text("older run\n")
    structure = {"structure_path": tmp_path / "missing.pdb", "chain": "A", "partner": "B", "protein_id": "P1"}
    with pytest.raises((InputError, OSError, ValueError)):
        write_attention_report(out, attention, sequences, "virus", None, "0" * 64, plots=2, structure=structure)
    assert (out / "attention.tsv").read_text() == "older run\n"  # the older output is untouched
    assert sorted(p.name for p in out.rglob("*")) == ["attention.tsv", "profiles"]  # nothing new, no staging folder
    report = write_attention_report(out, attention, sequences, "virus", None, "0" * 64, plots=2)
    assert report["proteins"] == 2 and (out / "attention.h5").is_file() and len(list((out / "profiles").iterdir())) == 2
    assert (out / "attention.tsv").read_text().startswith("protein_id\tposition")

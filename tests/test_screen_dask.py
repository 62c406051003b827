"""Screens on a Dask cluster (hvppi.scoring.distributed) equal the single-process screens, and resume.

One local cluster of 2 single-threaded worker processes serves the whole file; skipped without dask.
"""

import json
import os
import signal
from collections import Counter

import pytest

from hvppi.lstm.scorer import InteractionScorer
from hvppi.screening.scorer import ScreeningScorer

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

from hvppi.cli import main
from hvppi.lstm.modelfile import load_model
from hvppi.scoring.distributed import screen_distributed
from hvppi.scoring.interface import ScreenSettings
from hvppi.scoring.screen import screen
from hvppi.screening.modelfile import load_screening_model

QUIET = {"progress": False, "log": lambda message: None}
TILES = {"human_block": 150, "virus_block": 10}  # 2 × 2 tiles for 20 viral × 300 human proteins


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster, timeout=60) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        yield client


@pytest.fixture(scope="module")
def proteins(shared_data, benchmark_sequences):
    """20 viral × 300 human proteins of the benchmark's test pairs (first seen first)."""
    human, virus = {}, {}
    with open(shared_data / "lstm-phv-benchmark" / "protein_pair_label_test.txt") as fh:
        for line in fh:
            h, v, _ = line.split()
            human.setdefault(h, benchmark_sequences[h])
            virus.setdefault(v, benchmark_sequences[v])
    return dict(list(virus.items())[:20]), dict(list(human.items())[:300])


@pytest.fixture(scope="module")
def screening_model():
    return load_screening_model()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, screening_model, proteins):
    """Single-process screens: settings name → output path."""
    folder = tmp_path_factory.mktemp("single")
    virus, human = proteins
    outs = {}
    for name, settings, suffix in (
        ("all", ScreenSettings(chunk_size=32), ".tsv"),
        ("top", ScreenSettings(top_k=7, min_score=0.01, chunk_size=32), ".parquet"),
    ):
        outs[name] = folder / f"{name}{suffix}"
        screen(ScreeningScorer(screening_model), virus, human, outs[name], settings, **QUIET)
    return outs


def read_rows(path):
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def test_tiles_give_the_single_process_rows_and_scores(tmp_path, client, screening_model, proteins, reference):
    virus, human = proteins
    out = tmp_path / "all.tsv"
    summary = screen_distributed(
        client, ScreeningScorer(screening_model), virus, human, out, ScreenSettings(), **TILES, **QUIET
    )
    assert summary["tiles"] == 4 and summary["pairs_scored"] == 6000
    assert out.read_bytes() == reference["all"].read_bytes()  # same rows, order, scores and ranks
    assert not (tmp_path / "all.tsv.tiles").exists()


def test_an_interrupted_screen_resumes_without_duplicate_rows(tmp_path, client, screening_model, proteins, reference):
    """Also: --top-k and --min-score applied per tile and merged give the single-process rows."""
    virus, human = proteins
    out = tmp_path / "top.parquet"
    settings = ScreenSettings(top_k=7, min_score=0.01)
    finished = []

    def stop_after_one(path):
        finished.append(path)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        screen_distributed(
            client,
            ScreeningScorer(screening_model),
            virus,
            human,
            out,
            settings,
            **TILES,
            **QUIET,
            on_tile=stop_after_one,
        )
    assert not out.exists()
    on_disk = sorted(p.name for p in (tmp_path / "top.parquet.tiles").glob("tile-*.parquet"))
    assert len(on_disk) >= 1
    messages = []
    summary = screen_distributed(
        client,
        ScreeningScorer(screening_model),
        virus,
        human,
        out,
        settings,
        **TILES,
        progress=False,
        log=messages.append,
    )
    assert summary["tiles_screened_now"] <= 4 - len(on_disk)
    assert any(m.startswith("resuming:") for m in messages)
    rows = read_rows(out)
    assert max(Counter((r["virus_id"], r["human_id"]) for r in rows).values()) == 1
    assert rows == read_rows(reference["top"]) and 0 < len(rows) <= 7 * len(virus)


@pytest.mark.parametrize("every", [False, True], ids=["one worker", "every worker"])
def test_the_tiles_of_a_lost_worker_are_redone(tmp_path, client, screening_model, proteins, reference, every):
    """One worker, then every worker, killed at the first finished tile: their tasks run again. Every worker
    killed, the scattered scorer is gone too (Dask's active memory manager may keep one copy only, so losing one
    worker can do this as well): the screen sends it again and finishes the tiles not yet on disk. (Before, that
    failed: "FutureCancelledError: ... already forgotten".)"""
    virus, human = proteins
    virus = dict(list(virus.items())[:8])  # a viral protein's rows do not depend on the others
    out = tmp_path / "top.parquet"
    pids = list(client.run(os.getpid).values())  # the nanny starts a new process for a killed one
    said: list[str] = []
    killed: list[int] = []

    def kill(path):
        if not killed:
            for pid in pids if every else pids[:1]:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    summary = screen_distributed(
        client,
        ScreeningScorer(screening_model),
        virus,
        human,
        out,
        ScreenSettings(top_k=7, min_score=0.01),
        human_block=100,
        virus_block=1,  # 24 tiles: most are still to run when the first one ends
        on_tile=kill,
        progress=False,
        log=said.append,
    )
    assert killed and summary["tiles"] == 24
    if every:
        assert any("sending it again" in line for line in said)
    rows = read_rows(out)
    assert max(Counter((r["virus_id"], r["human_id"]) for r in rows).values()) == 1
    assert rows == [r for r in read_rows(reference["top"]) if r["virus_id"] in virus]
    client.wait_for_workers(2, timeout=60)


def test_a_cluster_that_loses_the_scorer_and_gets_no_worker_back_is_one_line(
    tmp_path, monkeypatch, screening_model, proteins
):
    """The scorer lost again and again, or lost with no worker coming back: a one-line DaskTaskError, never a
    traceback from Dask's own TimeoutError, and the tiles folder kept for a re-run."""
    from types import SimpleNamespace

    from hvppi.scoring import distributed

    def lose(*args, **kwargs):
        raise distributed.LostScorer

    monkeypatch.setattr(distributed, "run_tiles", lose)
    virus, human = proteins
    virus, human = dict(list(virus.items())[:2]), dict(list(human.items())[:20])

    def no_worker(n, timeout):
        raise TimeoutError("Only 0/1 workers arrived after 120")

    for client, message in (
        (SimpleNamespace(wait_for_workers=no_worker), "no worker came back within 120 s"),
        (
            SimpleNamespace(wait_for_workers=lambda n, timeout: None),
            f"lost the scorer's copy {distributed.RESENDS + 1} times",
        ),
    ):
        out = tmp_path / f"{len(message)}.parquet"
        with pytest.raises(distributed.DaskTaskError, match=message):
            screen_distributed(client, ScreeningScorer(screening_model), virus, human, out, **QUIET)
        assert not out.exists() and (tmp_path / f"{out.name}.tiles").is_dir()


def test_bilstm_tiles_equal_the_single_process_screen(tmp_path, client, proteins):
    model, info = load_model("lstm-phv-benchmark")
    virus, human = proteins
    virus, human = dict(list(virus.items())[:8]), dict(list(human.items())[:60])
    settings = ScreenSettings(top_k=5)
    screen(InteractionScorer(model, info), virus, human, tmp_path / "single.tsv", settings, **QUIET)
    screen_distributed(
        client,
        InteractionScorer(model, info),
        virus,
        human,
        tmp_path / "dask.tsv",
        settings,
        human_block=25,
        virus_block=3,
        **QUIET,
    )
    assert (tmp_path / "dask.tsv").read_bytes() == (tmp_path / "single.tsv").read_bytes()


def test_the_command_screens_on_a_scheduler(tmp_path, client, proteins, reference, capsys):
    virus, human = proteins
    virus = dict(list(virus.items())[:4])  # a viral protein's rows do not depend on the others
    for name, proteins_of in (("virus", virus), ("human", human)):
        (tmp_path / f"{name}.fasta").write_text("".join(f">{p}\n{s}\n" for p, s in proteins_of.items()))
    out = tmp_path / "top.parquet"
    argv = ["screen", "--virus", str(tmp_path / "virus.fasta"), "--human", str(tmp_path / "human.fasta")]
    argv += ["--out", str(out), "--top-k", "7", "--min-score", "0.01", "--quiet", "--human-block", "150"]
    assert main([*argv, "--dask", client.scheduler.address]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tiles"] == 2
    assert read_rows(out) == [r for r in read_rows(reference["top"]) if r["virus_id"] in virus]


def test_a_bad_local_spec_is_an_error(tmp_path, capsys):
    from hvppi.scoring.distributed import dask_client

    with pytest.raises(ValueError, match="local:N"), dask_client("local:many", log=lambda m: None):
        pass


# --- issue 23: the cluster's limits, its dashboard and one-line errors


def test_local_workers_are_bounded_by_the_machine():
    import time

    from hvppi.scoring.distributed import LOCAL_WORKERS_PER_CPU, dask_client, local_worker_limit

    assert local_worker_limit() == LOCAL_WORKERS_PER_CPU * (os.cpu_count() or 1)
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"at most \d+ local workers on this machine"), dask_client("local:100000"):
        pass
    assert time.monotonic() - started < 5  # refused before any worker starts


def test_scheduler_files_missing_late_or_invalid(tmp_path, client):
    import threading
    import time

    from hvppi.scoring.distributed import dask_client, read_scheduler_file

    missing = tmp_path / "scheduler.json"
    started = time.monotonic()
    with (
        pytest.raises(ValueError, match=r"no scheduler file after waiting 0.5 s"),
        dask_client(str(missing), log=lambda m: None, scheduler_file_wait=0.5),
    ):
        pass
    assert time.monotonic() - started < 5
    for text, message in (
        ("{not json", "not a readable Dask scheduler file"),
        ('{"address": 5}', "no scheduler address"),
        ("[1, 2]", "no scheduler address"),
    ):
        missing.write_text(text)
        with pytest.raises(ValueError, match=message) as info:
            read_scheduler_file(missing, wait=0)
        assert "\n" not in str(info.value)
    late = tmp_path / "late.json"
    timer = threading.Timer(0.3, lambda: late.write_text(json.dumps({"address": client.scheduler.address})))
    timer.start()
    messages = []
    with dask_client(str(late), log=messages.append, scheduler_file_wait=30) as connected:
        assert connected.submit(sum, [1, 2]).result(timeout=60) == 3
    assert "the scheduler of" in messages[0]


def test_a_local_dashboard_listens_on_loopback_and_workers_log_no_traceback(capfd):
    import socket
    from urllib.parse import urlsplit

    from dask.utils import key_split

    from hvppi.scoring.distributed import DaskTaskError, dask_client, task_failure

    messages = []
    with dask_client("local:1", log=messages.append) as local:
        link = local.dashboard_link
        future = local.submit(os.makedirs, "/etc/passwd/x", pure=False)  # fails on the worker
        with pytest.raises(NotADirectoryError) as info:
            future.result(timeout=60)
        error = task_failure(info.value, key_split(future.key))
        if link:
            where = urlsplit(link)
            assert where.hostname == "127.0.0.1" and f"dashboard: {link}" in messages[0]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.connect(("192.0.2.1", 9))
                    own = probe.getsockname()[0]
                except OSError:
                    own = None
            if own and not own.startswith("127."):
                with pytest.raises(OSError):  # not reachable from the machine's network address
                    socket.create_connection((own, where.port), timeout=5).close()
    assert isinstance(error, DaskTaskError)
    assert str(error) == "a Dask task failed on a worker (makedirs): /etc/passwd/x: Not a directory"
    err = capfd.readouterr().err
    assert "Compute Failed" not in err and "Traceback" not in err, err[-1000:]


def test_a_failed_task_is_one_error_line_without_the_workers_traceback(tmp_path, client, proteins, monkeypatch):
    import subprocess
    import sys

    import hvppi.scoring.distributed as distributed
    from conftest import REPO

    virus, human = proteins
    virus = dict(list(virus.items())[:4])
    for name, proteins_of in (("virus", virus), ("human", human)):
        (tmp_path / f"{name}.fasta").write_text("".join(f">{p}\n{s}\n" for p, s in proteins_of.items()))
    out = tmp_path / "all.tsv"
    argv = ["screen", "--virus", str(tmp_path / "virus.fasta"), "--human", str(tmp_path / "human.fasta")]
    argv += ["--out", str(out), "--quiet", "--human-block", "150", "--virus-block", "2"]

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(distributed, "join_chunks", stop)  # every tile on disk, the screen not finished
    assert main([*argv, "--dask", client.scheduler.address]) == 130
    monkeypatch.undo()
    tiles = out.with_name(out.name + ".tiles")
    for merged in tiles.glob("merged-*"):
        merged.unlink()
    sorted(tiles.glob("tile-*.parquet"))[0].write_bytes(b"not a Parquet file")  # its merge fails on a worker
    done = subprocess.run(
        [sys.executable, "-m", "hvppi.cli", *argv, "--dask", "local:1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("hvppi screen: error: ")]
    assert done.returncode == 2 and len(errors) == 1 and lines[-1] == errors[0], done.stderr[-1500:]
    assert "a Dask task failed on a worker (merge_virus_block)" in errors[0]
    assert "Traceback" not in done.stderr and "Compute Failed" not in done.stderr, done.stderr[-1500:]
    assert not out.exists()

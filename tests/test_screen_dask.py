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


def test_the_tiles_of_a_lost_worker_are_redone(tmp_path, client, screening_model, proteins, reference):
    virus, human = proteins
    virus = dict(list(virus.items())[:8])  # a viral protein's rows do not depend on the others
    out = tmp_path / "top.parquet"
    pids = client.run(os.getpid)  # worker address → process id (the nanny starts a new one)
    killed = []

    def kill_one_worker(path):
        if not killed:
            pid = next(iter(pids.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    screen_distributed(
        client,
        ScreeningScorer(screening_model),
        virus,
        human,
        out,
        ScreenSettings(top_k=7, min_score=0.01),
        human_block=300,
        virus_block=2,
        on_tile=kill_one_worker,
        **QUIET,
    )
    assert killed
    rows = read_rows(out)
    assert max(Counter((r["virus_id"], r["human_id"]) for r in rows).values()) == 1
    assert rows == [r for r in read_rows(reference["top"]) if r["virus_id"] in virus]
    client.wait_for_workers(2, timeout=60)


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

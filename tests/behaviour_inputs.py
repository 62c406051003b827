"""Fixed inputs of the behaviour-kept test (tests/test_behaviour_kept.py) and the writer of its fixtures.

The fixtures in ``tests/data/behaviour/`` are written by this module's ``write_fixtures``. They were first
written with the code before the screening package moved into its own rooms (main at dcee891), and the move kept
every output byte-identical to them (commit d4f1c0d); they were written again when the open-world screening model
(format 4: retrained bundled model, ``human_name``, ``known`` and ``evidence`` columns) replaced the old one, and
again when the evidence's words were corrected (only the ``evidence`` column changed: "in all", no ranking claim,
"no training viral protein binds it", the other proteins of the query's family), and when ``predict`` with the screening model gained its ``known`` column
(its first four columns unchanged); they guard against any unintended change of what ``screen``, ``predict``,
``serve`` and ``--dask`` write:

    PYTHONPATH=tests python tests/behaviour_inputs.py tests/data/behaviour

Inputs are read from the shared data in place (nothing of it is copied here): 6 viral proteins of the
benchmark's test pairs (SARS-CoV-2 spike's chain included where the benchmark has it), 80 human proteins,
and 40 pairs among them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SHARED = Path(os.environ.get("HVPPI_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
BENCHMARK = SHARED / "lstm-phv-benchmark"
RUNS = {
    "screen-default.tsv": ["screen", "--top-k", "15"],
    "screen-default-all.parquet": ["screen"],
    "screen-default-taxon.tsv": ["screen", "--taxon", "2697049", "--min-score", "0.0005"],
    "screen-lstm.tsv": ["screen", "--model", "lstm-phv-benchmark", "--top-k", "15"],
    "predict-default.tsv": ["predict"],
    "predict-lstm.tsv": ["predict", "--model", "lstm-phv-benchmark"],
    "dask-default.tsv": ["screen", "--top-k", "15", "--dask", "local:2", "--human-block", "30", "--virus-block", "4"],
    "dask-lstm.parquet": ["screen", "--model", "lstm-phv-benchmark", "--dask", "local:2", "--human-block", "30"],
}
"""Output file → the hvppi command (inputs added by ``command``)."""


def proteins() -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    """(viral, human, pairs (human, viral)) from the benchmark's test pairs, first seen first."""
    from hvppi.io.sequences import read_sequences

    sequences = read_sequences(BENCHMARK / "pro_seq.txt")
    human: dict[str, str] = {}
    virus: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    with open(BENCHMARK / "protein_pair_label_test.txt") as fh:
        for k, line in enumerate(fh):
            h, v, _ = line.split()
            if k % 7 == 0 and len(virus) < 6 and len(sequences[v]) < 1500:
                virus.setdefault(v, sequences[v])
            if len(human) < 80:
                human.setdefault(h, sequences[h])
    for k, (h, v) in enumerate(zip(list(human) * 2, list(virus) * 14)):
        if k < 40:
            pairs.append((h, v))
    return virus, human, pairs


def write_inputs(folder: Path) -> dict[str, Path]:
    virus, human, pairs = proteins()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"virus": folder / "viral.fasta", "human": folder / "human.fasta", "pairs": folder / "pairs.tsv"}
    paths["virus"].write_text("".join(f">{k}\n{s}\n" for k, s in virus.items()))
    paths["human"].write_text("".join(f">{k}\n{s}\n" for k, s in human.items()))
    paths["pairs"].write_text("".join(f"{h}\t{v}\n" for h, v in pairs))
    both = {**virus, **human}
    paths["sequences"] = folder / "sequences.fasta"
    paths["sequences"].write_text("".join(f">{k}\n{s}\n" for k, s in both.items()))
    return paths


def command(name: str, inputs: dict[str, Path], out: Path) -> list[str]:
    args = list(RUNS[name])
    if args[0] == "screen":
        return [*args, "--virus", str(inputs["virus"]), "--human", str(inputs["human"]), "--out", str(out), "--quiet"]
    return [
        *args,
        "--pairs",
        str(inputs["pairs"]),
        "--sequences",
        str(inputs["sequences"]),
        "--out",
        str(out),
        "--quiet",
    ]


def web_results(inputs: dict[str, Path], jobs: Path, taxon: str | None = None) -> bytes:
    """results.tsv of one job of the page (``hvppi serve``) screening the viral proteins against the human ones."""
    from fastapi.testclient import TestClient

    from hvppi.io.sequences import read_sequences
    from hvppi.web.app import ServerConfig, create_app

    app = create_app(ServerConfig(jobs_dir=jobs, human=read_sequences(inputs["human"])))
    with TestClient(app) as client:
        form = {"fasta": inputs["virus"].read_text(), **({"taxon": taxon} if taxon else {})}
        job = client.post("/api/jobs", data=form).json()
        app.state.jobs.wait(300)
        return client.get(f"/api/jobs/{job['id']}/results.tsv").content


def write_fixtures(folder: Path, scratch: Path) -> None:
    from hvppi.cli import main

    inputs = write_inputs(scratch)
    for name in RUNS:
        assert main(command(name, inputs, folder / name)) == 0, name
    for record in folder.glob(".*.screen.json"):  # what a finished screen leaves beside OUT
        record.unlink()
    (folder / "serve.tsv").write_bytes(web_results(inputs, scratch / "jobs"))
    (folder / "serve-taxon.tsv").write_bytes(web_results(inputs, scratch / "jobs-taxon", "2697049"))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write_fixtures(Path(sys.argv[1]), Path(tmp))

"""Distributed screen speed: pairs/s on 1 and 2 local Dask workers, and single-process, on one screen.

Screens 40 viral × 2,000 human proteins of the LSTM-PHV benchmark with the bundled screening model
(``--top-k 50``), three ways, in one run: the single-process screen
(:func:`hvppi.scoring.screen.screen`), and :func:`hvppi.scoring.distributed.screen_distributed`
on a ``LocalCluster`` of 1 and of 2 single-threaded worker processes (tiles of ``--human-block`` ×
``--virus-block`` pairs). Each time covers the whole screen, encoding (the comparisons with the
reference) included; starting the cluster is not timed. The three outputs must be identical.
Prints pairs/s of each; last line: ``ratio: X`` = pairs/s on 2 workers ÷ pairs/s on 1 worker (2 at
best; on a machine with 2 cores that are busy with other work, less). Run from the repository root:

    python benchmarks/bench_screen_dask.py [--viral 40] [--human 2000] [--human-block 1000] [--virus-block 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hvppi.screening.benchmark.data import sample_benchmark_proteins

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lstm-phv-benchmark"


def main() -> None:
    from threadpoolctl import threadpool_limits

    from hvppi.registry import load_scorer
    from hvppi.scoring.distributed import dask_client, screen_distributed
    from hvppi.scoring.interface import ScreenSettings
    from hvppi.scoring.screen import screen

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--viral", type=int, default=40)
    parser.add_argument("--human", type=int, default=2000)
    parser.add_argument("--human-block", type=int, default=1000)
    parser.add_argument("--virus-block", type=int, default=10)
    parser.add_argument("--top-k", type=int, default=50)
    args = parser.parse_args()
    virus, human = sample_benchmark_proteins(args.data, args.viral, args.human)
    n_pairs = len(virus) * len(human)
    scorer = load_scorer()
    settings = ScreenSettings(top_k=args.top_k, chunk_size=32)
    quiet = {"progress": False, "log": lambda message: None}
    print(
        f"{len(virus)} viral × {len(human)} human proteins = {n_pairs:,} pairs; top-k {args.top_k}; "
        f"tiles of {args.human_block} human × {args.virus_block} viral proteins"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with threadpool_limits(1):
            start = time.perf_counter()
            screen(scorer, virus, human, folder / "single.tsv", settings, **quiet)
            single = n_pairs / (time.perf_counter() - start)
        print(f"single process: {single:,.0f} pairs/s")
        rates = {}
        for workers in (1, 2):
            with dask_client(f"local:{workers}", log=lambda message: None, dashboard=False) as client:
                client.wait_for_workers(workers)
                client.run(lambda: __import__("hvppi.scoring.distributed"))  # imports are not screening time
                out = folder / f"dask{workers}.tsv"
                start = time.perf_counter()
                screen_distributed(
                    client,
                    scorer,
                    virus,
                    human,
                    out,
                    settings,
                    human_block=args.human_block,
                    virus_block=args.virus_block,
                    **quiet,
                )
                rates[workers] = n_pairs / (time.perf_counter() - start)
            same = out.read_bytes() == (folder / "single.tsv").read_bytes()
            print(
                f"dask, {workers} local worker{'s' if workers > 1 else ''}: {rates[workers]:,.0f} pairs/s; same output: {same}"
            )
            if not same:
                raise SystemExit("the distributed screen differs from the single-process one")
    print(f"ratio: {rates[2] / rates[1]:.2f}")


if __name__ == "__main__":
    main()

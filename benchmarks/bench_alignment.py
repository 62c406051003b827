"""Global alignment speed: hvppi.align.kernels (pyopal, SIMD) against Biopython's PairwiseAligner, same run.

Real proteins of the LSTM-PHV benchmark with lengths around 350, BLOSUM30, gap open 10, extend 1
(the scoring of the dataset's negative sampling). Biopython aligns a subset of the pairs (it is slow);
its scores must equal ours on every pair it aligned. Prints cells/s of each, the ratio at one thread,
hvppi at all cores, and the parasail stats path (score + identity) that `geometry align-corr` uses.

    python benchmarks/bench_alignment.py [--proteins 200] [--reference-pairs 300]

Last line: ``ratio: X`` = hvppi one thread / Biopython (goal >= 10).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from hvppi.align.kernels import all_pairs_stats, biopython_aligner, global_scores
from hvppi.io.sequences import read_sequences

SHARED = Path(os.environ.get("HVPPI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proteins", type=int, default=200, help="proteins aligned all against all (default 200)")
    parser.add_argument("--reference-pairs", type=int, default=300, help="pairs Biopython aligns (default 300)")
    parser.add_argument("--matrix", default="BLOSUM30")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    sequences = read_sequences(SHARED / "lstm-phv-benchmark" / "pro_seq.txt")
    pool = sorted(s for s in sequences.values() if 300 <= len(s) <= 400)
    rng = np.random.default_rng(args.seed)
    chosen = [pool[i] for i in rng.choice(len(pool), args.proteins, replace=False)]
    lengths = np.array([len(s) for s in chosen])
    rows, cols = np.triu_indices(len(chosen), 1)
    cells_all = float(np.sum(lengths[rows] * lengths[cols]))
    print(
        f"{len(chosen)} proteins, lengths {lengths.min()}-{lengths.max()} (mean {lengths.mean():.0f}), "
        f"{len(rows):,} pairs, {cells_all / 1e9:.2f} G cells; {args.matrix}, gap open 10, extend 1; "
        f"{os.cpu_count()} CPUs"
    )

    pick = rng.choice(len(rows), min(args.reference_pairs, len(rows)), replace=False)
    aligner = biopython_aligner(args.matrix)
    start = time.perf_counter()
    reference = np.array([aligner.score(chosen[rows[k]], chosen[cols[k]]) for k in pick])
    bio_seconds = time.perf_counter() - start
    bio_rate = float(np.sum(lengths[rows[pick]] * lengths[cols[pick]])) / bio_seconds

    start = time.perf_counter()
    ours = global_scores(chosen, matrix=args.matrix, threads=1)
    one_rate = cells_all / (time.perf_counter() - start)
    start = time.perf_counter()
    ours_all = global_scores(chosen, matrix=args.matrix, threads=0)
    all_rate = cells_all / (time.perf_counter() - start)
    start = time.perf_counter()
    stats_scores, _ = all_pairs_stats(chosen, matrix=args.matrix, threads=1)
    stats_rate = cells_all / (time.perf_counter() - start)

    mismatches = int(np.sum(ours[rows[pick], cols[pick]] != reference))
    mismatches += int(np.sum(ours_all != ours)) + int(np.sum(stats_scores != ours[rows, cols]))
    print(f"Biopython PairwiseAligner.score, 1 thread : {bio_rate / 1e9:7.3f} G cells/s ({len(pick)} pairs)")
    print(f"hvppi global_scores (pyopal), 1 thread   : {one_rate / 1e9:7.3f} G cells/s")
    print(f"hvppi global_scores, {os.cpu_count()} threads          : {all_rate / 1e9:7.3f} G cells/s")
    print(f"hvppi all_pairs_stats (parasail, score + identity), 1 thread: {stats_rate / 1e9:7.3f} G cells/s")
    print(
        f"scores equal to Biopython on {len(pick)} pairs, and across paths on {len(rows):,}: "
        f"{'yes' if mismatches == 0 else f'NO ({mismatches} differ)'}"
    )
    print(f"ratio: {one_rate / bio_rate:.1f}")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""New-study and known-protein evaluations of the screening model's recipe (hvppi.screening.benchmark.studies).

The universe: every viral protein of the bundled model's training union and every human protein of the shared data
(the open world). New study: the 5 largest of the latest HPIDB studies (by PubMed ID), each ranked from the HPIDB
pairs of earlier studies (a partner an earlier study reported for a >= 90%-identical twin is known, not new). Known
protein: 20% of the partners of every viral protein with at least 20 known partners held out, drawn per group of
twins and held out for every member, ranked with the rest known; and the same with 20% of the publications reporting
its pairs drawn instead (the partners only they report held out: a new study of a known protein). Writes
OUT/studies.json and OUT/studies.md. About 5 minutes on 2 cores.

    .venv/bin/python scripts/screening_studies.py --out runs/screening-studies
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hvppi.align.identity import twins
from hvppi.io.files import atomic_write
from hvppi.screening.benchmark.studies import (
    hpidb_pairs_by_study,
    known_protein_publication_split,
    known_protein_split,
    new_study_splits,
    score_held_out,
    studies_table,
    union_universe,
)
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.publications import PairPublications

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--studies", type=int, default=5, help="how many late studies to hold out (default: 5)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    universe, union, sequences = union_universe(args.data, args.threads)
    print(f"universe: {len(universe.virus_ids)} viral, {len(universe.human_ids)} human proteins", file=sys.stderr)
    by_sequence_v = {s: k for k, s in enumerate(universe.virus_sequences)}
    by_sequence_h = {s: k for k, s in enumerate(universe.human_sequences)}
    rows = []  # HPIDB rows renamed to the universe's IDs (proteins are their sequences)
    hpidb = hpidb_pairs_by_study(args.data / "hpidb3-virus" / "hpidb_virus_25_10_22.zip")
    for human, virus, pmid in hpidb:
        hs, vs = sequences.get(human), sequences.get(virus)
        if hs in by_sequence_h and vs in by_sequence_v:
            rows.append((universe.human_ids[by_sequence_h[hs]], universe.virus_ids[by_sequence_v[vs]], pmid))
    config = ScreeningConfig(seed=args.seed)
    near = twins(universe.virus_sequences, universe.virus_sequences, 0.9, threads=args.threads)
    pairs_of_twins = [(i, j) for i, j, _ in near if i != j]  # >= 90% identical over the shorter sequence
    print(f"{len(pairs_of_twins) // 2:,} pairs of viral twins ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    splits = new_study_splits(rows, universe, count=args.studies, twins=pairs_of_twins)
    every_pair = np.asarray(union.pairs, dtype=np.int64)
    splits.append(known_protein_split(every_pair, len(universe.virus_ids), seed=args.seed, twins=pairs_of_twins))
    reported = PairPublications.from_rows(
        hpidb, sequences, every_pair[:, 0], every_pair[:, 1], universe.virus_sequences, universe.human_sequences
    )
    splits.append(
        known_protein_publication_split(
            every_pair, len(universe.virus_ids), reported, seed=args.seed, twins=pairs_of_twins
        )
    )
    results = []
    for split in splits:
        result = score_held_out(universe, split, config, args.threads)
        results.append(result)
        m = result["methods"]
        print(
            f"{split.name}: {result['viral_proteins']} viral proteins, model AUC {m['model']['roc_auc'][0]:.3f}, "
            f"popularity {m['popularity']['roc_auc'][0]:.3f}, homology {m['homology']['roc_auc'][0]:.3f} "
            f"({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    text = (
        "# New studies and known proteins\n\nMean per viral protein, ROC AUC / recall@50, over every human protein of "
        "the universe but the query's partners known at training time; 95% intervals resample viruses.\n\n"
        + studies_table(results)
        + "\n"
    )
    with atomic_write(args.out / "studies.md") as fh:
        fh.write(text)
    with atomic_write(args.out / "studies.json") as fh:
        json.dump({"seconds": round(time.perf_counter() - started), "results": results}, fh, indent=1)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

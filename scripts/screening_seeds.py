"""How much the screening benchmark's CD-HIT 0.9 split moves with its seed, with and without the viruses known.

The seed chooses the held-out viral proteins (20%, whole CD-HIT 0.9 clusters), the training folds and the
sampled negatives. For each seed, the default model's recipe is trained on the rest of the LSTM-PHV
benchmark's positives plus the other positives the bundled model is trained on (HPIDB MI >= 0.3 and
merged-hvi, ``--extra-training-data``), with every viral protein's virus (taxon and family, from merged-hvi
and HPIDB, ``--taxonomy``) as an input, and again without any virus known (the recipe before the virus
became an input); ``--settings`` adds the benchmark's pairs alone. Every method is scored on the same
held-out viral proteins. Prints one row per seed and the mean and standard deviation over seeds, and writes
OUT/screening_seeds.json and OUT/screening_seeds.md. About 1.5 min per seed and setting on 2 cores.

    .venv/bin/python scripts/screening_seeds.py --out runs/screening-seeds --seeds 0 1 2 3 4 5 6 7
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hvppi.datasets.proteome import human_universe
from hvppi.io.files import atomic_write
from hvppi.screening.benchmark.data import benchmark_data
from hvppi.screening.benchmark.seeds import seed_split, seeds_table
from hvppi.screening.benchmark.splits import ViralClusters
from hvppi.screening.recipe import default_taxonomy, default_training_positives
from hvppi.screening.similarity import SimilarityBundle

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SETTINGS = ("benchmark + extra + virus", "benchmark + extra", "benchmark")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--identity", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--closed-world",
        dest="open_world",
        action="store_false",
        help="rank only the benchmark's human proteins (the closed world of earlier versions)",
    )
    parser.add_argument(
        "--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS[:2]), help="training data settings to run"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    data = benchmark_data(args.data / "lstm-phv-benchmark")
    sources, sequences = default_training_positives(args.data)
    full = data.with_extra([p for pairs in sources.values() for p in pairs], sequences)
    if args.open_world:
        full = full.with_background(human_universe(args.data))
    known = full.universe_taxa(default_taxonomy(args.data))
    unknown = full.universe_taxa(None)
    choices = {
        "benchmark + extra + virus": (full, known),
        "benchmark + extra": (full, unknown),
        "benchmark": (data, data.universe_taxa(None)),
    }
    rows: dict[str, dict[int, dict]] = {}
    for name in args.settings:
        d, taxa = choices[name]
        bundle = SimilarityBundle.compute(
            d.universe_virus_sequences, d.universe_human_sequences, args.threads, taxa=taxa
        )
        clusters = ViralClusters(d, args.threads)  # each setting's clusters, computed once for every seed
        for seed in args.seeds:
            rows.setdefault(name, {})[seed] = r = seed_split(
                d, bundle, args.identity, seed, args.threads, clusters=clusters, viruses=taxa.taxa
            )
            m = r["methods"]["model"]
            print(
                f"{name}, seed {seed}: model {m['roc_auc'][0]:.3f} / {m['recall_top_50'][0]:.3f} "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    text = (
        f"# Screening benchmark over seeds (CD-HIT {args.identity:g} split, LSTM-PHV benchmark proteins)\n\n"
        "Mean per held-out viral protein, ROC AUC / recall@50; candidates: every human protein of the universe "
        "(open world) unless --closed-world.\n\n" + seeds_table(rows) + "\n"
    )
    with atomic_write(args.out / "screening_seeds.md") as fh:
        fh.write(text)
    with atomic_write(args.out / "screening_seeds.json") as fh:
        json.dump(
            {"identity": args.identity, "seconds": round(time.perf_counter() - started), "rows": rows}, fh, indent=1
        )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

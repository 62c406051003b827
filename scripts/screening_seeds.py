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

import numpy as np

from hvppi.datasets.clustering import cdhit_clusters
from hvppi.io.files import atomic_write
from hvppi.io.pairs import PairTable, read_pairs
from hvppi.io.sequences import read_sequences
from hvppi.ppi.screen_benchmark import ScreeningData, close_to_held_out, evaluate_split, hold_out_groups
from hvppi.ppi.screen_model import (
    ScreeningConfig,
    SimilarityBundle,
    default_taxonomy,
    default_training_positives,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SHOWN = ("popularity", "homology", "model", "model, constant virus", "virus popularity", "model, virus not given")
SETTINGS = ("benchmark + extra + virus", "benchmark + extra", "benchmark")


def benchmark_data(data: Path) -> ScreeningData:
    folder = data / "lstm-phv-benchmark"
    pairs = PairTable.concat([read_pairs(folder / f"protein_pair_label_{s}.txt") for s in ("train", "test")])
    return ScreeningData.from_pairs(pairs, read_sequences(folder / "pro_seq.txt"))


def held_out_split(
    data: ScreeningData, identity: float, seed: int, threads: int
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """As the benchmark's identity split: the held-out viral proteins (20%, whole CD-HIT clusters of the data's
    own), the cluster of every viral protein of the universe, and the extra ones kept out of training."""
    own = cdhit_clusters(dict(zip(data.virus_ids, data.virus_sequences)), identity, threads=threads)
    held_out = hold_out_groups([own[v] for v in data.virus_ids], 0.2, seed)
    universe = {f"v{i}": s for i, s in enumerate(data.universe_virus_sequences)}
    clusters = cdhit_clusters(universe, identity, threads=threads) if data.has_extra else None
    groups = [clusters[f"v{i}"] for i in range(len(universe))] if clusters else [own[v] for v in data.virus_ids]
    return held_out, groups, close_to_held_out(groups, held_out, len(data.virus_ids))


def one_split(data: ScreeningData, bundle: SimilarityBundle, identity: float, seed: int, threads: int) -> dict:
    """The benchmark's first split for one seed: mean per held-out viral protein of each method."""
    held_out, groups, exclude = held_out_split(data, identity, seed, threads)
    config = ScreeningConfig(seed=seed, threads=threads)
    result = evaluate_split(data, bundle, held_out, groups, config, f"seed {seed}", exclude=exclude)
    summary = result.summary(1000, seed)
    return {
        "held_out": len(held_out),
        "methods": {m: summary["methods"][m] for m in SHOWN if m in summary["methods"]},
        "model - homology": summary["differences"]["model - homology"],
    }


def table(rows: dict[str, dict[int, dict]]) -> str:
    """One row per setting and seed (ROC AUC / recall@1% of each method; – where a setting has no such row)."""
    lines = [
        "| training data | seed | held out | " + " | ".join(SHOWN) + " | model − homology, recall@1% (95% interval) |",
        "| --- | --- | --- | " + " | ".join("---" for _ in SHOWN) + " | --- |",
    ]
    for setting, by_seed in rows.items():
        for seed, r in by_seed.items():
            m, d = r["methods"], r["model - homology"]["recall_top_1pct"]
            cells = " | ".join(
                f"{m[k]['roc_auc'][0]:.3f} / {m[k]['recall_top_1pct'][0]:.3f}" if k in m else "–" for k in SHOWN
            )
            lines.append(f"| {setting} | {seed} | {r['held_out']} | {cells} | {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] |")
        cells = []
        for k in SHOWN:
            if not all(k in r["methods"] for r in by_seed.values()):
                cells.append("–")
                continue
            auc = np.array([r["methods"][k]["roc_auc"][0] for r in by_seed.values()])
            recall = np.array([r["methods"][k]["recall_top_1pct"][0] for r in by_seed.values()])
            cells.append(
                f"{auc.mean():.3f}±{auc.std(ddof=1) if len(auc) > 1 else 0:.3f} / "
                f"{recall.mean():.3f}±{recall.std(ddof=1) if len(recall) > 1 else 0:.3f}"
            )
        lines.append(f"| {setting} | mean ± sd over {len(by_seed)} seeds | | " + " | ".join(cells) + " | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--identity", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS[:2]), help="training data settings to run"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    data = benchmark_data(args.data)
    sources, sequences = default_training_positives(args.data)
    full = data.with_extra([p for pairs in sources.values() for p in pairs], sequences)
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
        for seed in args.seeds:
            rows.setdefault(name, {})[seed] = r = one_split(d, bundle, args.identity, seed, args.threads)
            m = r["methods"]["model"]
            print(
                f"{name}, seed {seed}: model {m['roc_auc'][0]:.3f} / {m['recall_top_1pct'][0]:.3f} "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    text = (
        f"# Screening benchmark over seeds (CD-HIT {args.identity:g} split, LSTM-PHV benchmark proteins)\n\n"
        "Mean per held-out viral protein, ROC AUC / recall in the top 1%.\n\n" + table(rows) + "\n"
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

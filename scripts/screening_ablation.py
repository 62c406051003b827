"""Which parts of the screening model matter: refit the recipe without each feature group, or with other settings.

On the screening benchmark's CD-HIT 0.9 split of the LSTM-PHV benchmark's proteins (identity-checked as the
benchmark's; the seed chooses the held-out viral proteins, folds and negatives), ranking the benchmark's open
universe of human candidates (every human protein of the shared data; ``--closed-world``: only those of the
benchmark's pairs), the out-of-fold training features and the held-out features are computed once per seed;
then the trees are refitted for each variant: every feature group left out in turn (default) and each
``--set name=value`` of ``ScreeningConfig`` tree settings or ``negatives_per_virus``. Prints, per seed and
variant, mean per-held-out-viral-protein ROC AUC and recall@50, their change from the full recipe, and at the end
the mean change over seeds with the number of seeds where recall@50 went up. With ``--extra-training-data
--taxonomy`` (the bundled model's recipe, as the README's benchmark) on 2 threads: about 40 s of features per seed,
then 20–25 s per variant; 6 GB at most (3 seeds, 5 variants: 7 min). Seed 0 is the README's benchmark seed; choose recipes on other seeds and run seed 0 once.

    .venv/bin/python scripts/screening_ablation.py --seeds 1 2 3 4 5 6 7 --extra-training-data --taxonomy
    .venv/bin/python scripts/screening_ablation.py --seeds 1 2 3 --no-groups --set max_leaf_nodes=63 --set max_iter=400
    .venv/bin/python scripts/screening_ablation.py --seeds 0 1 --extra-training-data --taxonomy --no-groups \
        --set negatives_per_virus=150 --set negatives_per_virus=600 --threads 2

``--ceiling`` asks instead how much the features hold at all: per seed, the baselines, the recipe, trees fitted on
half of the held-out proteins' own rows scoring the other half (``cross-fit``: the learner on exactly the test
distribution; ``recipe + cross-fit``: with the recipe's rows too) and on all of them scoring themselves
(``in-sample``: an optimistic bound no model reaches); about 3 min per seed on 2 threads:

    .venv/bin/python scripts/screening_ablation.py --seeds 0 1 2 --extra-training-data --taxonomy --ceiling --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from hvppi.datasets.proteome import human_universe
from hvppi.screening.benchmark.ablation import (
    GROUPS,
    baseline_columns,
    ceiling_columns,
    parse_setting,
    score_columns,
    split_features,
)
from hvppi.screening.benchmark.data import benchmark_data
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import FEATURES
from hvppi.screening.recipe import default_taxonomy, default_training_positives
from hvppi.screening.similarity import SimilarityBundle

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 7])
    parser.add_argument("--extra-training-data", action="store_true", help="train on the extra positives too")
    parser.add_argument(
        "--taxonomy", action="store_true", help="give every viral protein's virus (merged-hvi and HPIDB taxonomy)"
    )
    parser.add_argument(
        "--closed-world",
        dest="open_world",
        action="store_false",
        help="rank only the benchmark's human proteins (the closed world of earlier versions)",
    )
    parser.add_argument("--no-groups", action="store_true", help="skip the feature-group variants")
    parser.add_argument(
        "--ceiling", action="store_true", help="the features' ceiling (trees fitted on held-out rows) instead"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a tree-settings variant")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    try:
        settings = [parse_setting(s) for s in args.set]
    except ValueError as error:
        parser.error(str(error))
    started = time.perf_counter()
    data = benchmark_data(args.data / "lstm-phv-benchmark")
    if args.extra_training_data:
        sources, sequences = default_training_positives(args.data)
        data = data.with_extra([p for pairs in sources.values() for p in pairs], sequences)
    if args.open_world:
        data = data.with_background(human_universe(args.data))
    taxa = data.universe_taxa(default_taxonomy(args.data) if args.taxonomy else None)
    bundle = SimilarityBundle.compute(
        data.universe_virus_sequences, data.universe_human_sequences, args.threads, taxa=taxa
    )
    everything = list(range(len(FEATURES)))
    if args.ceiling:
        return ceiling(data, bundle, args.seeds, args.threads, started)
    variants: list[tuple[str, list[int], dict]] = []
    if not args.no_groups:
        for group, names in GROUPS.items():
            variants.append((f"without {group}", [c for c in everything if FEATURES[c] not in names], {}))
    for name, value in settings:
        variants.append((f"{name}={value}", everything, {name: value}))
    changes: dict[str, list[tuple[float, float]]] = {}
    for seed in args.seeds:
        split = split_features(data, bundle, seed, args.threads)
        config = ScreeningConfig(seed=seed)
        base = score_columns(split, everything, config, args.threads)
        print(
            f"seed {seed}: full recipe ROC AUC {base[:, 0].mean():.3f}, recall@50 {base[:, 1].mean():.3f}", flush=True
        )
        for name, columns, overrides in variants:
            result = score_columns(split, columns, dataclasses.replace(config, **overrides), args.threads)
            change = (result - base).mean(0)
            changes.setdefault(name, []).append((float(change[0]), float(change[1])))
            print(
                f"  {name:28s} ROC AUC {result[:, 0].mean():.3f} ({change[0]:+.3f}), "
                f"recall@50 {result[:, 1].mean():.3f} ({change[1]:+.3f})",
                flush=True,
            )
        del split  # the seed's out-of-fold features (about 1 GB) go before the next seed's are computed
    print(f"\nMean change over seeds {', '.join(map(str, args.seeds))} ({time.perf_counter() - started:.0f} s):")
    for name, values in changes.items():
        auc, recall = np.array(values).T
        print(
            f"  {name:28s} ROC AUC {auc.mean():+.4f}, recall@50 {recall.mean():+.4f} "
            f"(up in {int((recall > 0).sum())} of {len(recall)} seeds)"
        )
    return 0


def ceiling(data, bundle: SimilarityBundle, seeds: list[int], threads: int, started: float) -> int:
    """Print per seed the mean ROC AUC and recall@50 of the baselines, the recipe and the features' ceiling
    (:func:`ceiling_columns`), and each one's ROC AUC minus the best baseline's; then the means over seeds."""
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seed in seeds:
        split = split_features(data, bundle, seed, threads)
        config = ScreeningConfig(seed=seed)
        found = baseline_columns(split, seed)
        best = max(v[:, 0].mean() for v in found.values())
        found["recipe"] = score_columns(split, list(range(len(FEATURES))), config, threads)
        found.update(ceiling_columns(split, config, threads))
        print(f"seed {seed} ({len(split['labels'])} held-out viral proteins):", flush=True)
        for name, result in found.items():
            auc, recall = result.mean(0)
            rows.setdefault(name, []).append((auc, auc - best, recall))
            print(f"  {name:19s} ROC AUC {auc:.3f} ({auc - best:+.3f} on the best baseline), recall@50 {recall:.3f}")
        del split
    print(f"\nMean over seeds {', '.join(map(str, seeds))} ({time.perf_counter() - started:.0f} s):")
    for name, values in rows.items():
        auc, over, recall = np.array(values).mean(0)
        print(f"  {name:19s} ROC AUC {auc:.3f} ({over:+.3f} on the best baseline), recall@50 {recall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

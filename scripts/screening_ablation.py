"""Which parts of the screening model matter: refit the recipe without each feature group, or with other settings.

On the screening benchmark's CD-HIT 0.9 split of the LSTM-PHV benchmark's proteins (the seed chooses the
held-out viral proteins, folds and negatives), the out-of-fold training features and the held-out features are
computed once per seed; then the trees are refitted on the same rows for each variant: every feature group
left out in turn (default) and each ``--set name=value`` of ``ScreeningConfig`` tree settings. Prints, per
seed and variant, mean per-held-out-viral-protein ROC AUC and recall@1%, their change from the full recipe, and
at the end the mean change over seeds with the number of seeds where recall@1% went up. A seed takes about
2 minutes on one core with the default variants. Seed 0 is the README's benchmark seed; choose recipes on other
seeds and run seed 0 once.

    .venv/bin/python scripts/screening_ablation.py --seeds 1 2 3 4 5 6 7 [--extra-training-data] [--taxonomy]
    .venv/bin/python scripts/screening_ablation.py --seeds 1 2 3 --no-groups --set max_leaf_nodes=63 --set max_iter=400
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from hvppi.ppi.screen_benchmark import (
    ScreeningData,
    candidates_of_data,
    ranking_metrics,
)
from hvppi.ppi.screen_model import (
    FEATURES,
    Evidence,
    ScreeningConfig,
    SimilarityBundle,
    _fit_trees,
    default_taxonomy,
    default_training_positives,
    out_of_fold_features,
    per_virus_weights,
    training_rows,
)

sys.path.insert(0, str(Path(__file__).parent))
from screening_seeds import DATA, benchmark_data, held_out_split

GROUPS = {
    "popularity": ["log_popularity", "kmer_smoothed_popularity"],
    "homology transfer": ["homology_max", "homology_sum", "homology_relative", "query_best_similarity"],
    "k-mer homology": ["kmer_homology_max", "kmer_homology_mean"],
    "human side": ["human_side_homology", "co_partner"],
    "neighbour votes": ["vote_sw", "vote_composition", "vote_composition_wide", "vote_kmer"],
    "study size": [f for f in FEATURES if f.startswith(("log_popularity_degree", "neighbour_log_degree"))],
    "lengths": ["human_log_length", "virus_log_length"],
    "virus": [f for f in FEATURES if f.startswith(("taxon_", "family_"))],
}
"""Feature groups left out one at a time; together they are every feature."""
TREE_SETTINGS = ("max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")


def split_features(data: ScreeningData, bundle: SimilarityBundle, seed: int, threads: int) -> dict:
    """Out-of-fold training features and held-out features of the CD-HIT 0.9 split for one seed."""
    config = ScreeningConfig(seed=seed, threads=threads)
    held_out, groups, out = held_out_split(data, config.fold_identity, seed, threads)
    out[held_out] = True
    training = np.flatnonzero(~out)
    reference = data.universe_reference()
    features, labels, _ = out_of_fold_features(reference, training, bundle, groups, config)
    x, y, owner = training_rows(features, labels, reference.human_sequences, config)
    del features
    evidence = Evidence(
        training,
        reference.pair_virus,
        reference.pair_human,
        len(reference.human_ids),
        candidates_of_data(data, bundle),
        config.neighbours,
    )
    held_features = evidence.features(bundle.viral.take(held_out, training))
    return {
        "x": x,
        "y": y,
        "weight": per_virus_weights(y, owner),
        "test": held_features,
        "labels": data.labels(held_out),
    }


def score(split: dict, columns: list[int], config: ScreeningConfig) -> np.ndarray:
    """(held-out viral proteins, [ROC AUC, recall@1%]) of trees fitted on ``columns``."""
    trees = _fit_trees(split["x"][:, columns], split["y"], split["weight"], config)
    decision = trees.decision(split["test"][:, :, columns])
    rng = np.random.default_rng(config.seed + 2)
    rows = (ranking_metrics(s, y, rng) for s, y in zip(decision, split["labels"]))
    return np.array([[r["roc_auc"], r["recall_top_1pct"]] for r in rows])


def parse_setting(text: str) -> tuple[str, float | int]:
    name, _, value = text.partition("=")
    if name not in TREE_SETTINGS or not value:
        raise SystemExit(f"--set {text}: expected NAME=VALUE with NAME one of {', '.join(TREE_SETTINGS)}")
    return name, (float(value) if name in ("learning_rate", "l2_regularization") else int(value))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 7])
    parser.add_argument("--extra-training-data", action="store_true", help="train on the extra positives too")
    parser.add_argument(
        "--taxonomy", action="store_true", help="give every viral protein's virus (merged-hvi and HPIDB taxonomy)"
    )
    parser.add_argument("--no-groups", action="store_true", help="skip the feature-group variants")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a tree-settings variant")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    settings = [parse_setting(s) for s in args.set]
    started = time.perf_counter()
    data = benchmark_data(args.data)
    if args.extra_training_data:
        sources, sequences = default_training_positives(args.data)
        data = data.with_extra([p for pairs in sources.values() for p in pairs], sequences)
    taxa = data.universe_taxa(default_taxonomy(args.data) if args.taxonomy else None)
    bundle = SimilarityBundle.compute(
        data.universe_virus_sequences, data.universe_human_sequences, args.threads, taxa=taxa
    )
    everything = list(range(len(FEATURES)))
    variants: list[tuple[str, list[int], dict]] = []
    if not args.no_groups:
        for group, names in GROUPS.items():
            variants.append((f"without {group}", [c for c in everything if FEATURES[c] not in names], {}))
    for name, value in settings:
        variants.append((f"{name}={value}", everything, {name: value}))
    changes: dict[str, list[tuple[float, float]]] = {}
    for seed in args.seeds:
        split = split_features(data, bundle, seed, args.threads)
        config = ScreeningConfig(seed=seed, threads=args.threads)
        base = score(split, everything, config)
        print(
            f"seed {seed}: full recipe ROC AUC {base[:, 0].mean():.3f}, recall@1% {base[:, 1].mean():.3f}", flush=True
        )
        for name, columns, overrides in variants:
            result = score(split, columns, dataclasses.replace(config, **overrides))
            change = (result - base).mean(0)
            changes.setdefault(name, []).append((float(change[0]), float(change[1])))
            print(
                f"  {name:28s} ROC AUC {result[:, 0].mean():.3f} ({change[0]:+.3f}), "
                f"recall@1% {result[:, 1].mean():.3f} ({change[1]:+.3f})",
                flush=True,
            )
    print(f"\nMean change over seeds {', '.join(map(str, args.seeds))} ({time.perf_counter() - started:.0f} s):")
    for name, values in changes.items():
        auc, recall = np.array(values).T
        print(
            f"  {name:28s} ROC AUC {auc.mean():+.4f}, recall@1% {recall.mean():+.4f} "
            f"(up in {int((recall > 0).sum())} of {len(recall)} seeds)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

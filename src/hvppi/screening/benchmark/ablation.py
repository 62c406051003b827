"""Which parts of the screening model matter (``scripts/screening_ablation.py``): the recipe refitted without each
feature group, or with other tree settings, on the same training rows of the benchmark's CD-HIT 0.9 split."""

from __future__ import annotations

from typing import Any

import numpy as np

from hvppi.screening.benchmark.data import ScreeningData, candidates_of_data
from hvppi.screening.benchmark.metrics import ranking_metrics
from hvppi.screening.benchmark.splits import held_out_split
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import FEATURES, Evidence
from hvppi.screening.fitting import out_of_fold_features, training_rows
from hvppi.screening.similarity import SimilarityBundle
from hvppi.screening.trees import fit_trees, per_virus_weights

GROUPS = {
    "popularity": ["log_popularity", "kmer_smoothed_popularity"],
    "homology transfer": ["homology_max", "homology_sum", "homology_relative", "query_best_similarity"],
    "k-mer homology": ["kmer_homology_max"],
    "human side": ["human_side_homology"],
    "neighbour votes": ["vote_sw", "vote_composition", "vote_composition_wide", "vote_kmer"],
    "study size": [f for f in FEATURES if f.startswith(("log_popularity_degree", "neighbour_log_degree"))],
    "lengths": ["human_log_length", "virus_log_length"],
    "virus": [f for f in FEATURES if f.startswith(("taxon_", "family_"))],
}
"""Feature groups left out one at a time; together they are every feature."""
TREE_SETTINGS = ("max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")
"""The ``ScreeningConfig`` settings a variant may change."""


def parse_setting(text: str) -> tuple[str, float | int]:
    """``NAME=VALUE`` of a tree setting (:data:`TREE_SETTINGS`); ValueError otherwise."""
    name, _, value = text.partition("=")
    if name not in TREE_SETTINGS or not value:
        raise ValueError(f"--set {text}: expected NAME=VALUE with NAME one of {', '.join(TREE_SETTINGS)}")
    return name, (float(value) if name in ("learning_rate", "l2_regularization") else int(value))


def split_features(data: ScreeningData, bundle: SimilarityBundle, seed: int, threads: int = 1) -> dict[str, Any]:
    """Out-of-fold training rows and held-out features of the CD-HIT 0.9 split (20% held out) for one seed."""
    config = ScreeningConfig(seed=seed)
    held_out, groups, out, _ = held_out_split(data, config.fold_identity, 0.2, seed, threads, identity_check=True)
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


def score_columns(split: dict[str, Any], columns: list[int], config: ScreeningConfig, threads: int = 1) -> np.ndarray:
    """(held-out viral proteins, [ROC AUC, recall@50]) of trees fitted on ``columns`` of :func:`split_features`."""
    trees = fit_trees(split["x"][:, columns], split["y"], split["weight"], config, threads)
    decision = trees.decision(split["test"][:, :, columns])
    rng = np.random.default_rng(config.seed + 2)
    rows = (ranking_metrics(s, y, rng) for s, y in zip(decision, split["labels"]))
    return np.array([[r["roc_auc"], r["recall_top_50"]] for r in rows])

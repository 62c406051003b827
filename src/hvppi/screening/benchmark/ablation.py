"""Which parts of the screening model matter (``scripts/screening_ablation.py``): the recipe refitted without each
feature group, or with other settings, on the same out-of-fold features of the benchmark's CD-HIT 0.9 split
(identity-checked, as the benchmark's), ranking every candidate the benchmark ranks: in the open world
(:attr:`ScreeningData.open_world`) every human protein of the universe, with every known partner a positive."""

from __future__ import annotations

from typing import Any

import numpy as np

from hvppi.screening.benchmark.data import ScreeningData, candidates_of_data
from hvppi.screening.benchmark.metrics import ranking_metrics
from hvppi.screening.benchmark.run import training_viral
from hvppi.screening.benchmark.splits import held_out_split
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import COLUMN, FEATURES, Evidence
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
TREE_SETTINGS = (
    "max_iter",
    "learning_rate",
    "max_leaf_nodes",
    "min_samples_leaf",
    "l2_regularization",
    "negatives_per_virus",
)
"""The ``ScreeningConfig`` settings a variant may change (the trees', and how many sampled non-partners per viral
protein they learn from)."""


def parse_setting(text: str) -> tuple[str, float | int]:
    """``NAME=VALUE`` of a tree setting (:data:`TREE_SETTINGS`); ValueError otherwise."""
    name, _, value = text.partition("=")
    if name not in TREE_SETTINGS or not value:
        raise ValueError(f"--set {text}: expected NAME=VALUE with NAME one of {', '.join(TREE_SETTINGS)}")
    return name, (float(value) if name in ("learning_rate", "l2_regularization") else int(value))


def split_features(data: ScreeningData, bundle: SimilarityBundle, seed: int, threads: int = 1) -> dict[str, Any]:
    """Out-of-fold training features and held-out features of the CD-HIT 0.9 split (20% held out, identity-checked)
    for one seed, and the held-out proteins' labels over the benchmark's candidates."""
    config = ScreeningConfig(seed=seed)
    split = held_out_split(data, config.fold_identity, 0.2, seed, threads, identity_check=True)
    training = training_viral(data, split.held_out, split.exclude)
    reference = data.universe_reference()
    features, labels, _ = out_of_fold_features(reference, training, bundle, split.groups, config)
    evidence = Evidence(
        training,
        reference.pair_virus,
        reference.pair_human,
        len(reference.human_ids),
        candidates_of_data(data, bundle),
        config.neighbours,
    )
    held_out = split.held_out
    return {
        "features": features,
        "training_labels": labels,
        "human_sequences": reference.human_sequences,
        "test": evidence.features(bundle.viral.take(held_out, training)),
        "labels": data.open_labels(held_out) if data.open_world else data.labels(held_out),
    }


def score_columns(split: dict[str, Any], columns: list[int], config: ScreeningConfig, threads: int = 1) -> np.ndarray:
    """(held-out viral proteins, [ROC AUC, recall@50]) of trees fitted with ``config`` on ``columns`` of
    :func:`split_features`'s training rows (sampled as ``config`` says; the same for the same settings)."""
    x, y, owner = training_rows(split["features"], split["training_labels"], split["human_sequences"], config)
    trees = fit_trees(x[:, columns], y, per_virus_weights(y, owner), config, threads)
    return _metrics(trees.decision(split["test"][:, :, columns]), split["labels"], config.seed)


def baseline_columns(split: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
    """(held-out viral proteins, [ROC AUC, recall@50]) of the benchmark's baselines, from :func:`split_features`'s
    held-out features: ``popularity`` (a monotone map of the candidates' number of training partners),
    ``homology`` (``homology_max``) and ``virus popularity`` (partners among the query's virus first, ties by
    popularity; as the benchmark's, where ``taxon_log_popularity`` is 0 without a taxonomy)."""
    test = split["test"]
    popularity = test[:, :, COLUMN["log_popularity"]].astype(np.float64)
    same_virus = test[:, :, COLUMN["taxon_log_popularity"]].astype(np.float64)
    scores = {
        "popularity": popularity,
        "homology": test[:, :, COLUMN["homology_max"]].astype(np.float64),
        "virus popularity": same_virus * (popularity.max(initial=0.0) + 1.0) + popularity,
    }
    return {name: _metrics(s, split["labels"], seed) for name, s in scores.items()}


def ceiling_columns(split: dict[str, Any], config: ScreeningConfig, threads: int = 1) -> dict[str, np.ndarray]:
    """What the features can give when the trees learn from the held-out proteins' own rows (all their partners and
    ``config.negatives_per_virus`` sampled non-partners each, as :func:`training_rows`): ``cross-fit`` (trees fitted
    on a seeded half of the held-out proteins score the other half, and back), the recipe's learner on exactly the
    test distribution; ``recipe + cross-fit`` (the same, with the recipe's own training rows too); ``in-sample``
    (fitted on all of them, scored on them), an optimistic bound that no model reaches. (held-out viral proteins,
    [ROC AUC, recall@50]) each."""
    test, labels = split["test"], np.asarray(split["labels"])
    half = np.random.default_rng(config.seed + 99).permutation(len(labels)) % 2
    recipe = training_rows(split["features"], split["training_labels"], split["human_sequences"], config)
    found = {"cross-fit": np.zeros((len(labels), 2)), "recipe + cross-fit": np.zeros((len(labels), 2))}
    for h in (0, 1):
        part = np.flatnonzero(half == h)
        for name, extra in (("cross-fit", None), ("recipe + cross-fit", recipe)):
            trees = _fit_on(split, np.flatnonzero(half != h), config, threads, extra)
            found[name][part] = _metrics(trees.decision(test[part]), labels[part], config.seed)
    trees = _fit_on(split, np.arange(len(labels)), config, threads)
    return {**found, "in-sample": _metrics(trees.decision(test), labels, config.seed)}


def _fit_on(
    split: dict[str, Any],
    rows: np.ndarray,
    config: ScreeningConfig,
    threads: int,
    extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Any:
    """Trees fitted on the held-out proteins ``rows``' own rows (and ``extra`` rows: x, y, owner)."""
    labels = np.asarray(split["labels"])[rows]
    x, y, owner = training_rows(split["test"][rows], labels, split["human_sequences"], config)
    if extra is not None:
        x, y = np.concatenate([extra[0], x]), np.concatenate([extra[1], y])
        owner = np.concatenate([extra[2], owner + int(extra[2].max()) + 1])
    return fit_trees(x, y, per_virus_weights(y, owner), config, threads)


def _metrics(scores: np.ndarray, labels: Any, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 2)
    rows = (ranking_metrics(s, y, rng) for s, y in zip(scores, labels))
    return np.array([[r["roc_auc"], r["recall_top_50"]] for r in rows])

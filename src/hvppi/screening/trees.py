"""Gradient-boosted trees as plain arrays (fitted with scikit-learn, evaluated in NumPy), sample weights and folds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import MONOTONE


@dataclass
class TreeEnsemble:
    """A binary gradient-boosted tree ensemble as arrays; ``decision`` gives log-odds.

    Nodes of all trees are concatenated; ``roots[t]`` is tree t's first node.
    """

    baseline: float
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray

    @classmethod
    def from_sklearn(cls, model: Any) -> TreeEnsemble:
        roots, parts = [], []
        offset = 0
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            roots.append(offset)
            parts.append(
                (
                    nodes["feature_idx"].astype(np.int32),
                    nodes["num_threshold"].astype(np.float64),
                    nodes["missing_go_to_left"].astype(bool),
                    nodes["left"].astype(np.int64) + offset,
                    nodes["right"].astype(np.int64) + offset,
                    nodes["is_leaf"].astype(bool),
                    nodes["value"].astype(np.float64),
                )
            )
            offset += len(nodes)
        columns = [np.concatenate([p[i] for p in parts]) for i in range(7)]
        return cls(float(np.ravel(model._baseline_prediction)[0]), np.asarray(roots, np.int64), *columns)

    def decision(self, features: np.ndarray, chunk: int = 16384) -> np.ndarray:
        """Raw scores (log-odds) of rows of ``features`` (..., n_features), ``chunk`` rows at a time (in cache)."""
        shape = features.shape[:-1]
        x = np.asarray(features, dtype=np.float32).reshape(-1, features.shape[-1])
        out = np.concatenate([self._decide(x[s : s + chunk]) for s in range(0, len(x), chunk)] or [np.zeros(0)])
        return out.reshape(shape)

    def _decide(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        by_feature = np.ascontiguousarray(x.T).ravel()  # feature f of row r at f * n + r
        offset = self.feature.astype(np.int64) * n
        out = np.full(n, self.baseline)
        rows = np.arange(n)
        for root in self.roots:
            node = np.full(n, root, dtype=np.int64)
            active = rows[~self.leaf[node]]
            while active.size:
                at = node[active]
                value = by_feature[offset[at] + active]
                go_left = value <= self.threshold[at]
                missing = np.isnan(value)
                if missing.any():
                    go_left = np.where(missing, self.missing_left[at], go_left)
                node[active] = next_node = np.where(go_left, self.left[at], self.right[at])
                active = active[~self.leaf[next_node]]
            out += self.value[node]
        return out

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.{k}": np.ascontiguousarray(v) for k, v in asdict(self).items() if k != "baseline"}

    @classmethod
    def from_arrays(cls, tensors: dict[str, np.ndarray], prefix: str, baseline: float) -> TreeEnsemble:
        names = [n for n in cls.__dataclass_fields__ if n != "baseline"]
        return cls(baseline, *(tensors[f"{prefix}.{n}"] for n in names))


def fit_trees(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    config: ScreeningConfig,
    threads: int = 1,
    monotone: Sequence[int] | None = None,
) -> TreeEnsemble:
    """Fit scikit-learn's HistGradientBoostingClassifier with ``config``'s settings on ``threads`` threads (0: all).

    ``monotone``: the constraint of each column of ``x`` (+1 non-decreasing, 0 free); by default
    :data:`~hvppi.screening.features.MONOTONE` for the screening features, none for other columns."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if monotone is None and x.shape[1] == len(MONOTONE):
        monotone = MONOTONE
    model = HistGradientBoostingClassifier(
        max_iter=config.max_iter,
        learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization,
        random_state=config.seed,
        monotonic_cst=list(monotone) if monotone is not None else None,
    )
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads or None):
        return TreeEnsemble.from_sklearn(model.fit(x, y, sample_weight=weight))


def per_virus_weights(labels: np.ndarray, virus: np.ndarray) -> np.ndarray:
    """Sample weights giving every viral protein the same total positive (and negative) weight."""
    positives = np.bincount(virus, weights=labels)
    negatives = np.bincount(virus, weights=1 - labels)
    ratio = negatives.mean() / max(positives.mean(), 1e-12)
    weight = np.where(labels == 1, 1 / np.maximum(positives[virus], 1), ratio / np.maximum(negatives[virus], 1) * 1.0)
    return weight / weight.mean()


def group_folds(groups: Sequence[str], k: int, seed: int) -> np.ndarray:
    """Fold of each item, keeping groups together, balanced by size (largest groups placed first)."""
    names, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    load = np.zeros(k)
    fold_of_group = np.zeros(len(names), dtype=np.int64)
    for g in order:
        f = int(np.argmin(load))
        fold_of_group[g] = f
        load[f] += counts[g]
    return fold_of_group[inverse]

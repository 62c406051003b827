"""Ranking metrics of the screening benchmark: per viral protein, over its human candidates, with bootstrap intervals.

Ties (e.g. human proteins that popularity cannot tell apart) are broken at random for average precision and
recall, and count one half for ROC AUC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

METRICS = ("roc_auc", "average_precision", "recall_top_10", "recall_top_50", "recall_top_100", "recall_top_1pct")
"""Per viral protein. Recall at a fixed number of candidates (10, 50, 100: what a lab can test) travels between
candidate sets; recall in the top 1% grows with the number of candidates and is kept for comparison only."""
METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "average_precision": "AP",
    "recall_top_10": "recall@10",
    "recall_top_50": "recall@50",
    "recall_top_100": "recall@100",
    "recall_top_1pct": "recall@1%",
}
CURVE_KS = np.unique(np.round(np.geomspace(1, 600, 40)).astype(np.int64))
"""The ranks at which the recall curves are read."""


def ranking_metrics(scores: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """ROC AUC, average precision, recall in the top 10, 50 and 100 and the top 1% of one viral protein's candidates."""
    n, positives = len(scores), int(labels.sum())
    if positives == 0 or positives == n:
        raise ValueError("a viral protein needs known partners and non-partners among the candidates")
    ranks = rankdata(scores)
    auc = (ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * (n - positives))
    order = np.lexsort((rng.random(n), -scores))
    hits = labels[order]
    found = np.cumsum(hits)
    precision_at_hits = found[hits] / (np.flatnonzero(hits) + 1)
    top_1pct = max(1, math.ceil(0.01 * n))
    return {
        "roc_auc": float(auc),
        "average_precision": float(precision_at_hits.sum() / positives),
        "recall_top_10": float(found[min(10, n) - 1] / positives),
        "recall_top_50": float(found[min(50, n) - 1] / positives),
        "recall_top_100": float(found[min(100, n) - 1] / positives),
        "recall_top_1pct": float(found[min(top_1pct, n) - 1] / positives),
    }


def per_virus_metrics(scores: np.ndarray, labels: np.ndarray, rng: np.random.Generator | int) -> np.ndarray:
    """(n_viral, len(METRICS)): the ranking metrics of each viral protein's row; ``rng`` breaks ties."""
    rng = np.random.default_rng(rng)
    return np.array([[row[m] for m in METRICS] for row in (ranking_metrics(s, y, rng) for s, y in zip(scores, labels))])


def recall_curve(scores: np.ndarray, labels: np.ndarray, ks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Recall in the top k of one viral protein's candidates, for each k of ``ks``; ``rng`` breaks ties."""
    order = np.lexsort((rng.random(len(scores)), -scores))
    found = np.cumsum(labels[order])
    return found[np.minimum(ks, len(scores)) - 1] / max(int(labels.sum()), 1)


def bootstrap(
    values: np.ndarray, resamples: int = 1000, seed: int = 0, groups: Sequence[object] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over rows and its 95% percentile interval; values (n, m).

    With ``groups`` (one label per row, e.g. the virus of each held-out viral protein) whole groups are resampled,
    so proteins of one virus, which share partners and studies, count as one draw; else rows are resampled.

    >>> mean, low, high = bootstrap(np.array([[0.0], [1.0], [1.0], [1.0]]), groups=["a", "b", "b", "b"])
    >>> float(mean[0]), float(low[0]), float(high[0])
    (0.75, 0.0, 1.0)
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        index = rng.integers(0, len(values), size=(resamples, len(values)))
        means = values[index].mean(axis=1)
    else:
        _, code = np.unique(np.asarray([str(g) for g in groups]), return_inverse=True)
        n_groups = int(code.max()) + 1 if len(code) else 0
        sums = np.zeros((n_groups, values.shape[1]))
        np.add.at(sums, code, values)
        counts = np.bincount(code, minlength=n_groups).astype(np.float64)
        draws = rng.integers(0, n_groups, size=(resamples, n_groups))
        means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)[:, None]
    return values.mean(0), np.percentile(means, 2.5, axis=0), np.percentile(means, 97.5, axis=0)


def interval(
    values: np.ndarray, resamples: int = 1000, seed: int = 0, groups: Sequence[object] | None = None
) -> dict[str, list[float]]:
    """Each metric → [mean, low, high] of per-virus values (n, len(METRICS)), as the reports record them (``groups``:
    resample whole groups, see :func:`bootstrap`)."""
    mean, low, high = bootstrap(values, resamples, seed, groups)
    return {m: [float(mean[j]), float(low[j]), float(high[j])] for j, m in enumerate(METRICS)}


def reliability_table(probabilities: np.ndarray, labels: np.ndarray) -> list[dict[str, float]]:
    """Mean predicted probability against the observed share of partners, in bins of predicted probability."""
    edges = (0.0, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0 + 1e-9)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (probabilities >= low) & (probabilities < high)
        if inside.any():
            rows.append(
                {
                    "bin_low": low,
                    "bin_high": min(high, 1.0),
                    "pairs": int(inside.sum()),
                    "mean_predicted": float(probabilities[inside].mean()),
                    "observed": float(labels[inside].mean()),
                }
            )
    return rows

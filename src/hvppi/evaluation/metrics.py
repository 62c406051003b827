"""Classification metrics at the cutoff that maximises Youden's index."""

from __future__ import annotations

import math

import numpy as np

from hvppi.io.validation import require_fraction

METRIC_NAMES = ("roc_auc", "pr_auc", "sensitivity", "specificity", "accuracy", "mcc", "f1", "cutoff")


def check_cutoff(cutoff: float, name: str = "cutoff") -> float:
    """``cutoff`` as a float if it is a finite score threshold in [0, 1]; else ValueError naming ``name``."""
    require_fraction(name, cutoff)
    return float(cutoff)


def youden_cutoff(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold maximising sensitivity + specificity − 1 (a pair is positive if score ≥ cutoff)."""
    from sklearn.metrics import roc_curve  # imported here: scikit-learn takes ~1 s to import

    fpr, tpr, thresholds = roc_curve(labels, scores)
    finite = np.isfinite(thresholds)
    j = tpr[finite] - fpr[finite]
    return float(thresholds[finite][int(np.argmax(j))])


def binary_metrics(labels: np.ndarray, scores: np.ndarray, cutoff: float | None = None) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision) and Sn, Sp, ACC, MCC, F1 at ``cutoff``
    (Youden's cutoff of these scores when None)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    if set(np.unique(labels).tolist()) != {0, 1}:
        raise ValueError("metrics need both positive and negative labels")
    if cutoff is None:
        cutoff = youden_cutoff(labels, scores)
    else:
        check_cutoff(cutoff)
    calls = scores >= cutoff
    tp = float(np.sum(calls & (labels == 1)))
    tn = float(np.sum(~calls & (labels == 0)))
    fp = float(np.sum(calls & (labels == 0)))
    fn = float(np.sum(~calls & (labels == 1)))
    denom = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "pr_auc": float(average_precision_score(labels, scores)),
        "sensitivity": tp / (tp + fn),
        "specificity": tn / (tn + fp),
        "accuracy": (tp + tn) / len(labels),
        "mcc": (tp * tn - fp * fn) / denom if denom > 0 else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0,
        "cutoff": float(cutoff),
        "n_pairs": len(labels),
        "n_positive": int(labels.sum()),
    }


def mean_sd(results: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """Mean and sample SD (ddof=1; 0 for one replicate) of each metric over replicates."""
    out = {}
    for name in METRIC_NAMES:
        values = np.array([r[name] for r in results], dtype=np.float64)
        out[name] = (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0)
    return out

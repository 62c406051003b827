"""From tree score to probability: an isotonic map fitted on out-of-fold scores, never 0 or 1.

The isotonic fit pools scores into blocks of constant observed rate; each block's rate k/n is then replaced by
Jeffreys' estimate (k + ½) / (n + 1), so a block of 40 pairs that were all partners reads 0.99, not 1.0, and a block
of no partners is not 0 (a probability of 1 claims a certainty no held-out check gives). A running maximum keeps the
map non-decreasing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class IsotonicCalibration:
    """Piecewise-linear non-decreasing map from score to probability (``x`` increasing, ``y`` in (0, 1))."""

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def fit(
        cls,
        scores: np.ndarray,
        labels: np.ndarray,
        max_points: int = 2_000_000,
        seed: int = 0,
        weights: np.ndarray | None = None,
    ) -> IsotonicCalibration:
        """Fit on out-of-fold ``scores`` and 0/1 ``labels`` (``weights``: each pair's weight, e.g. the inverse of the
        share of negatives sampled); at most ``max_points`` pairs, a seeded sample of them when there are more.

        >>> cal = IsotonicCalibration.fit(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 0, 1, 1]))
        >>> cal(np.array([0.0, 3.0])).round(3).tolist()
        [0.167, 0.833]
        """
        from sklearn.isotonic import IsotonicRegression

        scores, labels = np.asarray(scores, np.float64), np.asarray(labels, np.float64)
        weights = np.ones(len(scores)) if weights is None else np.asarray(weights, np.float64)
        if len(scores) > max_points:
            keep = np.random.default_rng(seed).choice(len(scores), max_points, replace=False)
            scores, labels, weights = scores[keep], labels[keep], weights[keep]
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(scores, labels, sample_weight=weights)
        fitted = iso.predict(scores)
        levels, block = np.unique(fitted, return_inverse=True)
        n = np.bincount(block, weights=weights, minlength=len(levels))
        k = np.bincount(block, weights=weights * labels, minlength=len(levels))
        shrunk = np.maximum.accumulate((k + 0.5) / (n + 1.0))
        y = iso.y_thresholds_.astype(np.float64)
        position = np.clip(np.searchsorted(levels, y), 0, len(levels) - 1)
        nearest = np.where(np.isclose(levels[position], y), position, np.abs(levels[:, None] - y[None]).argmin(0))
        return cls(iso.X_thresholds_.astype(np.float64), shrunk[nearest])

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(scores, self.x, self.y)

"""From tree score to probability: an isotonic map fitted on out-of-fold scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class IsotonicCalibration:
    """Piecewise-linear isotonic map from score to probability."""

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray, max_points: int = 2_000_000, seed: int = 0):
        from sklearn.isotonic import IsotonicRegression

        if len(scores) > max_points:
            keep = np.random.default_rng(seed).choice(len(scores), max_points, replace=False)
            scores, labels = scores[keep], labels[keep]
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(scores, labels)
        return cls(iso.X_thresholds_.astype(np.float64), iso.y_thresholds_.astype(np.float64))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(scores, self.x, self.y)

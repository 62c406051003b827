"""Settings of the screening model (what the file records) and the kind and format of its files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hvppi.io.validation import require_int, require_number

MODEL_KIND = "hvppi-screening"
FORMAT_VERSION = 4
RUN_TIME = ("threads",)
"""Settings that earlier files recorded in the configuration and that are now given at run time (ignored)."""


@dataclass(frozen=True)
class ScreeningConfig:
    """Settings of the screening model, as its file records them; validated on construction. How many threads
    run is not a setting of the model: functions that compute take ``threads``."""

    neighbours: int = 10
    negatives_per_virus: int = 300
    calibration_negatives: int = 2000
    folds: int = 5
    fold_identity: float = 0.9
    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 100
    l2_regularization: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("neighbours", "negatives_per_virus", "calibration_negatives", "max_iter", "min_samples_leaf"):
            require_int(name, getattr(self, name), minimum=1)
        require_int("folds", self.folds, minimum=2)
        require_int("max_leaf_nodes", self.max_leaf_nodes, minimum=2)
        require_int("seed", self.seed, minimum=0)
        require_number("fold_identity", self.fold_identity, 0.4, 1.0)
        require_number("learning_rate", self.learning_rate, 0.0, 1.0, closed_low=False)
        require_number("l2_regularization", self.l2_regularization, 0.0)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ScreeningConfig:
        values = {k: v for k, v in values.items() if k not in RUN_TIME}
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown screening settings: {', '.join(sorted(unknown))}")
        return cls(**values)

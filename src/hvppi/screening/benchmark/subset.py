"""The model card's quick check: the screening benchmark on a seeded subset of the LSTM-PHV benchmark's proteins,
small enough for the test suite (``scripts/screening_card.py`` writes it; a test repeats it)."""

from __future__ import annotations

from typing import Any

from hvppi.datasets.taxonomy import VirusTaxonomy
from hvppi.screening.benchmark.data import ScreeningData
from hvppi.screening.benchmark.run import run_screening_benchmark
from hvppi.screening.config import ScreeningConfig

SUBSET: dict[str, Any] = {
    "viral": 120,
    "human": 1500,
    "seed": 0,
    "identities": [0.9],
    "fraction": 0.25,
    "resamples": 200,
}
"""The quick check: how many viral and human proteins, the seed, the split and the resamples."""


def subset_check(data: ScreeningData, taxonomy: VirusTaxonomy | None) -> dict[str, Any]:
    """The benchmark on the subset, viruses known (one thread, so every number repeats exactly)."""
    small = data.subset(SUBSET["viral"], SUBSET["human"], SUBSET["seed"])
    result = run_screening_benchmark(
        small,
        identities=SUBSET["identities"],
        fraction=SUBSET["fraction"],
        taxonomy=taxonomy,
        family_count=1,
        config=ScreeningConfig(seed=SUBSET["seed"]),
        resamples=SUBSET["resamples"],
        threads=1,
    )
    split = result.to_dict()["identity_splits"][0]
    return {"subset": SUBSET, "held_out": split["held_out_viral_proteins"], "methods": split["methods"]}

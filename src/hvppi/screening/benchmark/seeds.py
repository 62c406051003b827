"""How much the screening benchmark's first split moves with its seed (``scripts/screening_seeds.py``).

The seed chooses the held-out viral proteins (whole CD-HIT clusters), the training folds and the sampled
negatives; every method is scored on the same held-out viral proteins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hvppi.screening.benchmark.data import ScreeningData
from hvppi.screening.benchmark.run import evaluate_split
from hvppi.screening.benchmark.splits import ViralClusters, held_out_split
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.similarity import SimilarityBundle

SHOWN = ("popularity", "homology", "model", "model, constant virus", "virus popularity", "model, virus not given")
"""The methods of the table over seeds (a setting without a taxonomy has no virus rows)."""


def seed_split(
    data: ScreeningData,
    bundle: SimilarityBundle,
    identity: float,
    seed: int,
    threads: int = 1,
    fraction: float = 0.2,
    clusters: ViralClusters | None = None,
    viruses: list[str | None] | None = None,
) -> dict[str, Any]:
    """The benchmark's identity split for one seed (identity-checked): the mean per held-out viral protein of each
    method of :data:`SHOWN`, and the model's paired differences (intervals resample ``viruses`` when given)."""
    split = held_out_split(data, identity, fraction, seed, threads, clusters, identity_check=True)
    config = ScreeningConfig(seed=seed)
    result = evaluate_split(
        data,
        bundle,
        split.held_out,
        split.groups,
        config,
        f"seed {seed}",
        exclude=split.exclude,
        threads=threads,
        viruses=viruses,
    )
    summary = result.summary(1000, seed)
    return {
        "held_out": len(split.held_out),
        "methods": {m: summary["methods"][m] for m in SHOWN if m in summary["methods"]},
        "model - homology": summary["differences"]["model - homology"],
        "differences": summary["differences"],
        "candidates": summary["candidates"],
    }


def _spread(values: np.ndarray) -> str:
    return f"{values.mean():.3f}±{values.std(ddof=1) if len(values) > 1 else 0:.3f}"


def seeds_table(rows: dict[str, dict[Any, dict]]) -> str:
    """One row per setting and seed (ROC AUC / recall@50 of each method; – where a setting has no such row), then
    per setting the mean ± sample standard deviation over seeds."""
    lines = [
        "| training data | seed | held out | " + " | ".join(SHOWN) + " | model − homology, recall@50 (95% interval) |",
        "| --- | --- | --- | " + " | ".join("---" for _ in SHOWN) + " | --- |",
    ]
    for setting, by_seed in rows.items():
        for seed, r in by_seed.items():
            m, d = r["methods"], r["model - homology"]["recall_top_50"]
            cells = " | ".join(
                f"{m[k]['roc_auc'][0]:.3f} / {m[k]['recall_top_50'][0]:.3f}" if k in m else "–" for k in SHOWN
            )
            lines.append(f"| {setting} | {seed} | {r['held_out']} | {cells} | {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] |")
        spread = []
        for k in SHOWN:
            if not all(k in r["methods"] for r in by_seed.values()):
                spread.append("–")
                continue
            auc = np.array([r["methods"][k]["roc_auc"][0] for r in by_seed.values()])
            recall = np.array([r["methods"][k]["recall_top_50"][0] for r in by_seed.values()])
            spread.append(f"{_spread(auc)} / {_spread(recall)}")
        lines.append(f"| {setting} | mean ± sd over {len(by_seed)} seeds | | " + " | ".join(spread) + " |")
    return "\n".join(lines)

"""Protein-disjoint evaluation splits.

The benchmark's own split is pair-level: every viral protein of its test pairs also occurs in
training, so a model can score well by remembering proteins. ``viral_disjoint_split`` holds out a
share of the viral proteins with all their pairs, keeping near-identical viral proteins (one CD-HIT
cluster at the given identity) on the same side.
"""

from __future__ import annotations

import numpy as np

from hvppi.datasets.clustering import cdhit_clusters
from hvppi.io.pairs import PairTable


def viral_disjoint_split(
    pairs: PairTable,
    sequences: dict[str, str],
    fraction: float = 0.2,
    identity: float = 0.9,
    seed: int = 0,
    threads: int = 1,
) -> tuple[PairTable, PairTable, dict]:
    """Split ``pairs`` into (train, held-out) so that no viral protein or CD-HIT cluster straddles them."""
    if not 0 < fraction < 1:
        raise ValueError("fraction must lie strictly between 0 and 1")
    viral = sorted(set(pairs.virus_ids))
    clusters = cdhit_clusters({v: sequences[v] for v in viral}, identity, threads)
    groups: dict[str, list[str]] = {}
    for v in viral:
        groups.setdefault(clusters[v], []).append(v)
    representatives = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(representatives))
    target = fraction * len(viral)
    held_out: set[str] = set()
    for i in order:
        if len(held_out) >= target:
            break
        held_out.update(groups[representatives[i]])
    is_test = np.array([v in held_out for v in pairs.virus_ids])
    train, test = pairs.subset(np.flatnonzero(~is_test)), pairs.subset(np.flatnonzero(is_test))
    info = {
        "fraction": fraction,
        "identity": identity,
        "seed": seed,
        "viral_proteins": len(viral),
        "viral_clusters": len(groups),
        "held_out_viral_proteins": len(held_out),
        "train_pairs": len(train),
        "train_positive": int(train.labels.sum()) if train.labels is not None else None,
        "test_pairs": len(test),
        "test_positive": int(test.labels.sum()) if test.labels is not None else None,
        "held_out_viral_ids": sorted(held_out),
    }
    return train, test, info

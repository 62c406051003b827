"""Splits of labelled pairs: stratified by label, and protein-disjoint.

:func:`stratified_split` (and the general :func:`stratified_parts` under it) is the one stratified
splitter of hvppi: the data-set builder's 8:2 replicate split, the training/validation split of
:func:`hvppi.lstm.training.train` and its class-balanced minibatches all use it.

The benchmark's own split is pair-level: every viral protein of its test pairs also occurs in
training, so a model can score well by remembering proteins. ``viral_disjoint_split`` holds out a
share of the viral proteins with all their pairs, keeping near-identical viral proteins (one CD-HIT
cluster at the given identity) on the same side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hvppi.datasets.clustering import cdhit_clusters
from hvppi.io.pairs import PairTable


def stratified_parts(
    labels: np.ndarray,
    cuts: Callable[[int], Sequence[slice]],
    rng: np.random.Generator,
    classes: Sequence[int],
) -> list[np.ndarray]:
    """Row indices cut into parts, each class spread over the parts as ``cuts`` says.

    For each label of ``classes`` in turn, the rows of that label are shuffled and ``cuts(n)`` (n: the
    rows of the label) gives the slice of them that goes into each part; each part is then shuffled.
    """
    labels = np.asarray(labels)
    pieces = []
    for y in classes:
        rows = rng.permutation(np.flatnonzero(labels == y))
        pieces.append([rows[cut] for cut in cuts(len(rows))])
    return [rng.permutation(np.concatenate(part)) for part in zip(*pieces)]


def stratified_split(
    labels: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test), shuffled, with ``test_fraction`` of each class (rounded) in test."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)

    def cuts(n: int) -> list[slice]:
        k = held_out_count(n, test_fraction)
        return [slice(k, n), slice(0, k)]

    train, test = stratified_parts(labels, cuts, rng, np.unique(labels).tolist())
    return train, test


def held_out_count(n: int, test_fraction: float) -> int:
    """How many of a class's ``n`` rows :func:`stratified_split` puts in the test part."""
    return int(round(test_fraction * n))


def viral_disjoint_split(
    pairs: PairTable,
    sequences: dict[str, str],
    fraction: float = 0.2,
    identity: float = 0.9,
    seed: int = 0,
    threads: int = 1,
) -> tuple[PairTable, PairTable, dict]:
    """Split ``pairs`` into (train, held-out) so that no viral protein or CD-HIT cluster straddles them.

    Whole clusters, in seeded random order, are held out until ``fraction`` of the viral proteins are;
    the last cluster always stays in training, so neither side is empty. Fewer than 2 viral proteins or
    clusters is a ValueError."""
    if not 0 < fraction < 1:
        raise ValueError("fraction must lie strictly between 0 and 1")
    if not 0.4 <= identity <= 1:  # NaN fails too; CD-HIT itself refuses above 1 only with a cryptic message
        raise ValueError(f"CD-HIT clusters proteins at identity 0.4 to 1, got {identity:g}")
    viral = sorted(set(pairs.virus_ids))
    if len(viral) < 2:
        raise ValueError(f"a split needs at least 2 viral proteins; the pairs have {len(viral)}")
    clusters = cdhit_clusters({v: sequences[v] for v in viral}, identity, threads)
    groups: dict[str, list[str]] = {}
    for v in viral:
        groups.setdefault(clusters[v], []).append(v)
    if len(groups) < 2:
        raise ValueError(
            f"a split needs at least 2 viral protein clusters; the {len(viral)} viral proteins of the pairs "
            f"form 1 CD-HIT cluster at identity {identity:g}"
        )
    representatives = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(representatives))
    target = fraction * len(viral)
    held_out: set[str] = set()
    for i in order[:-1]:  # holding out the last cluster too would leave no training pairs
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

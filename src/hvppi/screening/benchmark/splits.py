"""Which viral proteins the screening benchmark holds out: whole CD-HIT clusters, or a virus family, of the data's
own viral proteins; extra (training-only) viral proteins close to a held-out one stay out of training too."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from hvppi.datasets.clustering import cdhit_clusters
from hvppi.screening.benchmark.data import ScreeningData


def hold_out_groups(groups: Sequence[str], fraction: float, seed: int) -> np.ndarray:
    """Indices of whole groups, taken in a seeded random order until at least ``fraction`` of the items."""
    if not 0 < fraction < 1:
        raise ValueError("the held-out fraction must lie strictly between 0 and 1")
    array = np.asarray(groups)
    order = np.random.default_rng(seed).permutation(np.unique(array))
    target = math.ceil(fraction * len(array))
    chosen = np.zeros(len(array), dtype=bool)
    for group in order:
        if chosen.sum() >= target:
            break
        chosen |= array == group
    return np.flatnonzero(chosen)


def close_to_held_out(clusters: Sequence[str], held_out: np.ndarray, n_data: int) -> np.ndarray:
    """Extra viral proteins (index >= ``n_data``) in a cluster with a held-out one: kept out of training."""
    array = np.asarray(clusters)
    out = np.isin(array, array[np.asarray(held_out, dtype=np.int64)])
    out[:n_data] = False
    return out


class ViralClusters:
    """CD-HIT clusters of a benchmark's viral proteins, each identity clustered once.

    :meth:`own`: the cluster of each of the data's own viral proteins (they choose the held-out ones);
    :meth:`groups`: the cluster of every viral protein of the universe (with extra training data, clustered
    together; else the data's own), which keeps folds and close extra proteins together.
    """

    def __init__(self, data: ScreeningData, threads: int = 1):
        self.data = data
        self.threads = max(threads, 1)
        self._own: dict[float, list[str]] = {}
        self._universe: dict[float, list[str]] = {}

    def own(self, identity: float) -> list[str]:
        if identity not in self._own:
            viral = dict(zip(self.data.virus_ids, self.data.virus_sequences))
            clusters = cdhit_clusters(viral, identity, threads=self.threads)
            self._own[identity] = [clusters[v] for v in self.data.virus_ids]
        return self._own[identity]

    def groups(self, identity: float) -> list[str]:
        if not self.data.has_extra:
            return self.own(identity)
        if identity not in self._universe:
            universe = {f"v{i}": s for i, s in enumerate(self.data.universe_virus_sequences)}
            clusters = cdhit_clusters(universe, identity, threads=self.threads)
            self._universe[identity] = [clusters[f"v{i}"] for i in range(len(universe))]
        return self._universe[identity]


TWIN_IDENTITY = 0.9
"""A training viral protein at least this identical (over the shorter sequence) to a held-out one is left out."""
FAMILY_IDENTITY = 0.4
"""For a held-out family, a training viral protein at least this identical to one of its proteins is left out."""


class HeldOutSplit(NamedTuple):
    """Held-out viral proteins (indices of the data's own), the cluster of every viral protein of the universe
    (the training folds keep clusters together), the viral proteins kept out of training besides the held-out ones,
    and how many of those were found by sequence identity alone (not by cluster or family label)."""

    held_out: np.ndarray
    groups: list[str]
    exclude: np.ndarray
    excluded_by_identity: int = 0


def exclude_by_identity(
    data: ScreeningData, held_out: np.ndarray, exclude: np.ndarray, threshold: float, threads: int = 1
) -> tuple[np.ndarray, int]:
    """``exclude`` plus every viral protein of the universe (the data's and the extra ones) at least ``threshold``
    identical over the shorter sequence to a held-out one (:func:`hvppi.align.identity.twins`: isoforms, a chain and
    its polyprotein, other strains), and how many that added."""
    from hvppi.align.identity import twins

    sequences = data.universe_virus_sequences
    held = np.zeros(len(sequences), dtype=bool)
    held[held_out] = True
    others = np.flatnonzero(~held)
    found = np.zeros(len(sequences), dtype=bool)
    for _, j, _ in twins([sequences[i] for i in held_out], [sequences[i] for i in others], threshold, threads=threads):
        found[others[j]] = True
    out = np.asarray(exclude, dtype=bool).copy()
    if len(out) < len(sequences):
        out = np.concatenate([out, np.zeros(len(sequences) - len(out), dtype=bool)])
    added = int((found & ~out).sum())
    return out | found, added


def held_out_split(
    data: ScreeningData,
    identity: float,
    fraction: float,
    seed: int,
    threads: int = 1,
    clusters: ViralClusters | None = None,
    identity_check: bool = False,
) -> HeldOutSplit:
    """The benchmark's identity split: whole CD-HIT clusters (at ``identity``) of the data's own viral proteins,
    in a seeded random order until at least ``fraction`` of them; with extra training data, the extra viral
    proteins that cluster with a held-out one (over the universe, at the same identity) stay out of training.
    ``clusters``: clusters already computed for ``data``. ``identity_check``: also leave out of training every viral
    protein at least ``identity`` (at most 90%) identical over the shorter sequence to a held-out one: CD-HIT misses a
    chain held out while its polyprotein trains, an isoform in another cluster, and, being greedy, members of other
    clusters that are close to a held-out protein though far from its cluster's representative."""
    clusters = clusters or ViralClusters(data, threads)
    held_out = hold_out_groups(clusters.own(identity), fraction, seed)
    groups = clusters.groups(identity)
    exclude = close_to_held_out(groups, held_out, len(data.virus_ids))
    if identity_check:  # no training protein as identical to a held-out one as the split's identity (or 90%)
        exclude, added = exclude_by_identity(data, held_out, exclude, min(TWIN_IDENTITY, identity), threads)
        return HeldOutSplit(held_out, groups, exclude, added)
    return HeldOutSplit(held_out, groups, exclude)


def family_split(
    data: ScreeningData,
    families: Sequence[str | None],
    family: str,
    clusters: ViralClusters,
    fold_identity: float,
    identity_check: bool = False,
    threads: int = 1,
) -> HeldOutSplit:
    """Every viral protein of the data of ``family`` (``families``: of each viral protein of the universe) held
    out; the extra viral proteins of that family, or that cluster with a held-out one at ``fold_identity``, stay out
    of training. With ``identity_check`` (the clean family hold-out), so does every viral protein at least 40%
    identical over the shorter sequence to a held-out one: a protein of the family without a family label (strain
    taxa such as HCV genotype 1 or an HIV-1 isolate) or with a wrong one."""
    n_data = len(data.virus_ids)
    held_out = np.flatnonzero([f == family for f in families[:n_data]])
    groups = clusters.groups(fold_identity)
    exclude = close_to_held_out(groups, held_out, n_data)
    exclude[n_data:] |= np.array([f == family for f in families[n_data:]], dtype=bool)
    exclude[:n_data] |= np.array([f == family for f in families[:n_data]], dtype=bool)
    if identity_check:  # proteins of the family without a family label (strain taxa), or of a mislabelled one
        exclude, added = exclude_by_identity(data, held_out, exclude, FAMILY_IDENTITY, threads)
        return HeldOutSplit(held_out, groups, exclude, added)
    return HeldOutSplit(held_out, groups, exclude)

"""The methods the screening benchmark compares, declared once: how each scores a split, whether the model's
paired difference against it is reported, whether the family table shows it, and what it needs.

Every method scores every (held-out viral protein, human candidate) pair of a split from a :class:`SplitContext`:
the training viral proteins' evidence, the held-out proteins' similarities to them, their features and the fitted
trees. Higher scores rank first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from hvppi.screening.benchmark.data import ScreeningData, candidates_of_data
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import COLUMN, Evidence
from hvppi.screening.similarity import SimilarityBundle, ViralSimilarities
from hvppi.screening.trees import TreeEnsemble

Need = Literal["taxonomy", "extra"]
"""What a method needs beyond the pairs: a virus taxonomy, or extra training positives."""


@dataclass
class SplitContext:
    """What the methods score a split from; ``features`` are the held-out proteins' (against ``training``)."""

    data: ScreeningData
    bundle: SimilarityBundle
    held_out: np.ndarray
    training: np.ndarray
    config: ScreeningConfig
    trees: TreeEnsemble
    evidence: Evidence
    similarities: ViralSimilarities
    features: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(held-out viral proteins, human candidates)."""
        return self.features.shape[0], self.features.shape[1]

    @property
    def has_taxonomy(self) -> bool:
        """Whether a virus taxonomy was given (some viral proteins share a virus or family)."""
        return bool(self.bundle.viral.same_taxon.any() or self.bundle.viral.same_family.any())

    def has(self, need: Need | None) -> bool:
        if need is None:
            return True
        return self.has_taxonomy if need == "taxonomy" else self.data.has_extra

    @cached_property
    def own_training(self) -> np.ndarray:
        """The training viral proteins of the data itself (without the extra ones)."""
        return self.training[self.training < len(self.data.virus_ids)]

    @cached_property
    def own_evidence(self) -> Evidence:
        """Evidence from the data's own training pairs alone, as without extra positives."""
        data = self.data
        n_human = len(data.universe_human_sequences)
        candidates = candidates_of_data(data, self.bundle)
        pair_virus, pair_human = data.pairs[:, 0], data.pairs[:, 1]
        return Evidence(self.own_training, pair_virus, pair_human, n_human, candidates, self.config.neighbours)


@dataclass(frozen=True)
class Method:
    """One method of the benchmark.

    ``compute``: its scores (held-out viral proteins, human candidates), float64; ``difference``: the model's
    paired difference against it is reported; ``in_family_table``: a column of the leave-one-family-out table;
    ``all_known``: scored again with the extra data's partners as positives too; ``needs``: computed only with a
    taxonomy, or with extra training positives.
    """

    name: str
    compute: Callable[[SplitContext], np.ndarray]
    difference: bool = False
    in_family_table: bool = False
    all_known: bool = False
    needs: Need | None = None


def _random(c: SplitContext) -> np.ndarray:
    return np.random.default_rng(c.config.seed + 1).random(c.shape)


def _popularity(c: SplitContext) -> np.ndarray:
    return np.broadcast_to(c.evidence.popularity[None].astype(np.float64), c.shape)


def _homology(c: SplitContext) -> np.ndarray:
    return c.features[:, :, COLUMN["homology_max"]].astype(np.float64)


def _model(c: SplitContext) -> np.ndarray:
    return c.trees.decision(c.features)


def _model_constant_virus(c: SplitContext) -> np.ndarray:
    return c.trees.decision(c.evidence.features(c.similarities.constant()))


def _virus_popularity(c: SplitContext) -> np.ndarray:
    """Training partners among the proteins of the query's own virus, ties broken by popularity."""
    same_virus = c.evidence.same_group_partners(c.similarities.same_taxon).astype(np.float64)
    popularity = c.evidence.popularity.astype(np.float64)
    return same_virus * (popularity.max(initial=0.0) + 1.0) + popularity[None]


def _model_virus_not_given(c: SplitContext) -> np.ndarray:
    return c.trees.decision(c.evidence.features(c.similarities.without_taxonomy()))


def _own_popularity(c: SplitContext) -> np.ndarray:
    return np.broadcast_to(c.own_evidence.popularity[None].astype(np.float64), c.shape)


def _own_homology(c: SplitContext) -> np.ndarray:
    similarities = c.bundle.viral.take(c.held_out, c.own_training)
    return c.own_evidence.homology_max(similarities.smith_waterman).astype(np.float64)


METHODS: tuple[Method, ...] = (
    Method("random", _random),
    Method("popularity", _popularity, difference=True, in_family_table=True, all_known=True),
    Method("homology", _homology, difference=True, in_family_table=True, all_known=True),
    Method("model", _model, in_family_table=True, all_known=True),
    Method("model, constant virus", _model_constant_virus, difference=True),
    Method("virus popularity", _virus_popularity, difference=True, needs="taxonomy"),
    Method("model, virus not given", _model_virus_not_given, difference=True, needs="taxonomy"),
    Method("popularity, benchmark pairs only", _own_popularity, difference=True, needs="extra"),
    Method("homology, benchmark pairs only", _own_homology, difference=True, needs="extra"),
)
"""Every method, in the order of the reports:

* ``random``: a random order;
* ``popularity``: human proteins by their number of training viral partners (one list for all);
* ``homology``: the highest Smith–Waterman similarity of the viral protein to a training viral partner of the human
  protein (homology transfer);
* ``model``: the screening model (:mod:`hvppi.screening.model`); ``model, constant virus``: the model with every
  viral protein replaced by the average one (what the viral input adds);
* with a taxonomy, ``virus popularity`` (human proteins by their number of training partners among the proteins
  of the same virus, ties by popularity) and ``model, virus not given`` (the held-out proteins' taxon and family
  withheld);
* with extra training positives, popularity and homology from the data's own training pairs alone.
"""


def method_names(needs: Need | None = None) -> tuple[str, ...]:
    """The names of the methods that need ``needs`` (``None``: those every split has)."""
    return tuple(m.name for m in METHODS if m.needs == needs)


BASE_METHODS = method_names()
"""The methods of every split."""
TAXONOMY_METHODS = method_names("taxonomy")
"""With a virus taxonomy: the same-virus popularity baseline, and the model without the query's virus."""
EXTRA_BASELINES = method_names("extra")
"""With extra training positives, the baselines as computed from this data's training pairs alone."""
DIFFERENCES = tuple(m.name for m in METHODS if m.difference)
"""The methods the model's paired differences are reported against (where a split has them)."""
FAMILY_TABLE = tuple(m.name for m in METHODS if m.in_family_table)
"""The columns of the leave-one-family-out table."""
ALL_KNOWN = tuple(m.name for m in METHODS if m.all_known)
"""The methods scored again with every known partner (the extra data's too) as a positive."""


def score_methods(context: SplitContext) -> dict[str, np.ndarray]:
    """Every method's scores (held-out viral proteins, human candidates) that the split has, in :data:`METHODS`'
    order."""
    return {m.name: m.compute(context) for m in METHODS if context.has(m.needs)}

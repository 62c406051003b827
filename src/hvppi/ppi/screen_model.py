"""The screening model: which human proteins might this viral protein bind?

A model trained on the LSTM-PHV benchmark's negatives learns "one of 212 human proteins → negative"
and ranks human proteins the same way for every virus. This model ranks the human candidates of a
viral protein from what is known about similar proteins, and learns how to weigh that evidence:

* **popularity** of the human protein among the reference (training) viral proteins, and its
  k-mer-smoothed value over the human proteins most like it;
* **homology transfer**: the Smith–Waterman similarity of the query to the reference viral partners
  of the human protein (maximum, soft sum, k-mer and composition variants, votes of the query's
  nearest reference viral proteins);
* **who studies it**: popularity among the reference viral proteins with 1–2, 3–15 and 16 or more
  known partners (small studies and large screens find different human proteins), and the typical
  number of partners of the query's nearest reference viral proteins (its log, averaged with
  softmax(similarity / 0.05) weights, for Smith–Waterman and composition similarity);
* **human-side homology**: how close the candidate is (3-mer cosine) to the partners of the query's
  nearest reference viral proteins, and co-partner propagation (human proteins that share viral
  partners with those partners);
* **the virus**: popularity of the human protein among the reference proteins of the query's own virus
  (NCBI taxon) and family, and how many such proteins the reference holds (zero when the query's virus
  is not given or not in the reference: the model then ranks from sequence evidence alone);
* lengths, and the query's best similarity to any reference viral protein.

A gradient-boosted tree ensemble (scikit-learn's HistGradientBoosting, exported as plain arrays and
evaluated in NumPy) turns the 25 features into a score; an isotonic map fitted on out-of-fold scores
over every candidate turns the score into a calibrated probability. The training rows are
out-of-fold too: the reference viral proteins are split into folds by CD-HIT cluster, and the
features of each fold are computed from the pairs of the other folds only, so that training looks
like screening a viral protein the model has not seen.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from safetensors import SafetensorError
from tqdm.auto import tqdm

from hvppi._version import __version__
from hvppi.align.similarity import kmer_cosine, kmer_counts, local_similarity
from hvppi.datasets.taxonomy import VirusTaxonomy
from hvppi.io.errors import ModelFileError
from hvppi.io.files import atomic_path
from hvppi.io.validation import require_int, require_number

FEATURES = (
    "log_popularity",
    "homology_max",
    "homology_sum",
    "human_side_homology",
    "co_partner",
    "kmer_smoothed_popularity",
    "query_best_similarity",
    "homology_relative",
    "kmer_homology_max",
    "kmer_homology_mean",
    "human_log_length",
    "virus_log_length",
    "vote_sw",
    "vote_composition",
    "vote_composition_wide",
    "vote_kmer",
    "log_popularity_degree_1_2",
    "log_popularity_degree_3_15",
    "log_popularity_degree_16_up",
    "neighbour_log_degree_sw",
    "neighbour_log_degree_composition",
    "taxon_log_popularity",
    "taxon_log_size",
    "family_log_popularity",
    "family_log_size",
)
DEGREE_BINS = ((1, 2), (3, 15), (16, None))
"""Popularity among the reference viral proteins with this many reference partners (small studies vs screens)."""
MODEL_KIND = "hvppi-screening"
FORMAT_VERSION = 3


@dataclass(frozen=True)
class ScreeningConfig:
    """Settings of the screening model; validated on construction."""

    neighbours: int = 10
    negatives_per_virus: int = 300
    folds: int = 5
    fold_identity: float = 0.9
    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 100
    l2_regularization: float = 1.0
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("neighbours", "negatives_per_virus", "max_iter", "min_samples_leaf"):
            require_int(name, getattr(self, name), minimum=1)
        require_int("folds", self.folds, minimum=2)
        require_int("max_leaf_nodes", self.max_leaf_nodes, minimum=2)
        require_int("seed", self.seed, minimum=0)
        require_int("threads", self.threads, minimum=0)
        require_number("fold_identity", self.fold_identity, 0.4, 1.0)
        require_number("learning_rate", self.learning_rate, 0.0, 1.0, closed_low=False)
        require_number("l2_regularization", self.l2_regularization, 0.0)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ScreeningConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown screening settings: {', '.join(sorted(unknown))}")
        return cls(**values)


# --------------------------------------------------------------------------------------- similarities


def composition_vectors(sequences: Sequence[str], mean: np.ndarray | None = None, sd: np.ndarray | None = None):
    """Amino-acid + dipeptide composition, standardised (by ``mean``/``sd``, or the set's own), unit rows.

    Returns (unit vectors, mean, sd): proteins of one virus or family share compositional biases that
    alignment does not see.
    """
    one = kmer_counts(sequences, 1).toarray()
    two = kmer_counts(sequences, 2).toarray()
    composition = np.hstack(
        [one / np.maximum(one.sum(1, keepdims=True), 1), 4 * two / np.maximum(two.sum(1, keepdims=True), 1)]
    )
    if mean is None or sd is None:
        mean, sd = composition.mean(0), composition.std(0) + 1e-9
    z = (composition - mean) / sd
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    return z.astype(np.float32), mean, sd


@dataclass(frozen=True)
class ViralTaxa:
    """NCBI taxon and virus family of some viral proteins, ``None`` where unknown.

    >>> ViralTaxa.unknown(2).taxa
    [None, None]
    """

    taxa: list[str | None]
    families: list[str | None]

    def __post_init__(self) -> None:
        if len(self.taxa) != len(self.families):
            raise ValueError("taxa and families differ in length")

    @classmethod
    def unknown(cls, n: int) -> ViralTaxa:
        return cls([None] * n, [None] * n)

    def __len__(self) -> int:
        return len(self.taxa)

    def take(self, index: Sequence[int] | np.ndarray) -> ViralTaxa:
        return ViralTaxa([self.taxa[int(i)] for i in index], [self.families[int(i)] for i in index])

    def known(self) -> int:
        return sum(t is not None for t in self.taxa)


def same_group(queries: Sequence[str | None], references: Sequence[str | None]) -> np.ndarray:
    """(n_queries, n_references) float32: 1 where both are known and equal."""
    codes: dict[str, int] = {}
    query = np.array([codes.setdefault(q, len(codes)) if q is not None else -1 for q in queries], dtype=np.int64)
    reference = np.array([codes.get(r, -2) if r is not None else -2 for r in references], dtype=np.int64)
    return (query[:, None] == reference[None, :]).astype(np.float32)


@dataclass
class ViralSimilarities:
    """Similarities of query viral proteins (rows) to reference viral proteins (columns); ``same_taxon`` and
    ``same_family`` are 1 where the two come from the same virus (family)."""

    smith_waterman: np.ndarray
    kmer: np.ndarray
    composition: np.ndarray
    log_length: np.ndarray
    same_taxon: np.ndarray
    same_family: np.ndarray

    def take(self, rows: np.ndarray | slice, columns: np.ndarray | slice) -> ViralSimilarities:
        return ViralSimilarities(
            self.smith_waterman[rows][:, columns],
            self.kmer[rows][:, columns],
            self.composition[rows][:, columns],
            self.log_length[rows],
            self.same_taxon[rows][:, columns],
            self.same_family[rows][:, columns],
        )

    def without_taxonomy(self) -> ViralSimilarities:
        """The same queries with their virus not given."""
        return ViralSimilarities(
            self.smith_waterman,
            self.kmer,
            self.composition,
            self.log_length,
            np.zeros_like(self.same_taxon),
            np.zeros_like(self.same_family),
        )

    def constant(self) -> ViralSimilarities:
        """Every query replaced by the mean query: the model without its viral input (an ablation)."""
        n = len(self.log_length)
        return ViralSimilarities(
            np.repeat(self.smith_waterman.mean(0, keepdims=True), n, 0),
            np.repeat(self.kmer.mean(0, keepdims=True), n, 0),
            np.repeat(self.composition.mean(0, keepdims=True), n, 0),
            np.full(n, self.log_length.mean(), dtype=np.float32),
            np.repeat(self.same_taxon.mean(0, keepdims=True), n, 0),
            np.repeat(self.same_family.mean(0, keepdims=True), n, 0),
        )


def viral_similarities(
    queries: Sequence[str],
    references: Sequence[str],
    composition_stats: tuple[np.ndarray, np.ndarray],
    threads: int = 1,
    progress: bool = False,
    query_taxa: ViralTaxa | None = None,
    reference_taxa: ViralTaxa | None = None,
) -> ViralSimilarities:
    """Smith–Waterman, 3-mer and composition similarities of ``queries`` to ``references``, and whether they
    share a virus (taxon) or family (never, where either is not given)."""
    mean, sd = composition_stats
    query_composition, _, _ = composition_vectors(queries, mean, sd)
    reference_composition, _, _ = composition_vectors(references, mean, sd)
    query_taxa = query_taxa or ViralTaxa.unknown(len(queries))
    reference_taxa = reference_taxa or ViralTaxa.unknown(len(references))
    if len(query_taxa) != len(queries) or len(reference_taxa) != len(references):
        raise ValueError("one taxon and family per viral protein")
    return ViralSimilarities(
        local_similarity(queries, references, threads=threads, progress=progress),
        kmer_cosine(queries, references),
        query_composition @ reference_composition.T,
        np.log([len(s) for s in queries]).astype(np.float32),
        same_group(query_taxa.taxa, reference_taxa.taxa),
        same_group(query_taxa.families, reference_taxa.families),
    )


@dataclass
class Candidates:
    """Human candidates described against the reference human proteins.

    ``reference_index[c]`` is the reference human protein with the same sequence as candidate ``c``
    (-1 if none); ``kmer[c, r]`` the 3-mer cosine of candidate ``c`` and reference human ``r``, zero
    where the two have the same sequence (a protein is not its own neighbour).
    """

    reference_index: np.ndarray
    kmer: np.ndarray
    log_length: np.ndarray
    reference_canonical: np.ndarray | None = None
    """Each reference human protein → the first reference protein with its sequence (None: all distinct)."""

    @classmethod
    def build(cls, candidates: Sequence[str], references: Sequence[str]) -> Candidates:
        by_sequence: dict[str, int] = {}
        canonical = np.array([by_sequence.setdefault(s, r) for r, s in enumerate(references)], dtype=np.int64)
        index = np.array([by_sequence.get(s, -1) for s in candidates], dtype=np.int64)
        kmer = kmer_cosine(candidates, references)
        same = np.flatnonzero(index >= 0)
        reference_sequences = np.asarray(references, dtype=object)
        for c in same.tolist():  # zero every reference copy of the candidate's own sequence
            kmer[c, reference_sequences == candidates[c]] = 0.0
        return cls(index, kmer, np.log([len(s) for s in candidates]).astype(np.float32), canonical)


# --------------------------------------------------------------------------------------- features


class Evidence:
    """What the pairs of some reference viral proteins say about a set of human candidates."""

    def __init__(
        self,
        known_viral: np.ndarray,
        pair_virus: np.ndarray,
        pair_human: np.ndarray,
        n_reference_human: int,
        candidates: Candidates,
        neighbours: int = 10,
    ):
        self.known_viral = np.asarray(known_viral, dtype=np.int64)
        self.neighbours = neighbours
        keep = np.isin(pair_virus, self.known_viral)
        row_of = np.full(int(max(pair_virus.max(initial=0), self.known_viral.max(initial=0))) + 1, -1)
        row_of[self.known_viral] = np.arange(len(self.known_viral))
        rows, human = row_of[pair_virus[keep]], pair_human[keep]
        if candidates.reference_canonical is not None:  # partners of a sequence under any of its IDs
            human = candidates.reference_canonical[human]
        n_known, n_cand = len(self.known_viral), len(candidates.reference_index)
        reference = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, human)), shape=(n_known, n_reference_human))
        reference.sum_duplicates()
        reference.data[:] = 1.0
        self.reference_adjacency = reference
        mapped = candidates.reference_index >= 0
        onto_candidates = reference.tocsc()[:, np.where(mapped, candidates.reference_index, 0)]
        self.adjacency = (onto_candidates @ sp.diags(mapped.astype(np.float32))).tocsr()
        self.adjacency.eliminate_zeros()
        self.popularity = np.asarray(self.adjacency.sum(0)).ravel()
        self.degree = np.asarray(reference.sum(1)).ravel()
        self.popularity_by_degree = []
        for low, high in DEGREE_BINS:
            inside = (self.degree >= low) & (self.degree <= (np.inf if high is None else high))
            self.popularity_by_degree.append(np.asarray(self.adjacency.T.dot(inside.astype(np.float32))).ravel())
        reference_popularity = np.asarray(reference.sum(0)).ravel()
        self.near_partner = np.zeros((n_known, n_cand), dtype=np.float32)
        for j in range(n_known):
            partners = reference.indices[reference.indptr[j] : reference.indptr[j + 1]]
            if partners.size:
                self.near_partner[j] = candidates.kmer[:, partners].max(1)
        inverse = np.zeros(n_reference_human, dtype=np.float32)
        has = reference_popularity > 0
        inverse[has] = 1.0 / np.sqrt(reference_popularity[has])
        self.normalised = (reference @ sp.diags(inverse)).tocsr()
        self.has_partner = has.astype(np.float32)
        self.candidate_reference = np.where(mapped, candidates.reference_index, -1)
        k = min(10, candidates.kmer.shape[1])
        nearest = np.argpartition(-candidates.kmer, k - 1, axis=1)[:, :k]
        weight = np.take_along_axis(candidates.kmer, nearest, 1)
        self.smoothed_popularity = (weight * np.log1p(reference_popularity)[nearest]).sum(1) / np.maximum(
            weight.sum(1), 1e-6
        )
        self.candidate_log_length = candidates.log_length

    def _vote(self, similarity: np.ndarray, k: int) -> np.ndarray:
        k = min(k, similarity.shape[1])
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weights = np.zeros(similarity.shape, dtype=np.float32)
        np.put_along_axis(weights, top, 1.0 / k, 1)
        return np.asarray(self.adjacency.T.dot(weights.T)).T

    def _softmax_weights(self, similarity: np.ndarray, temperature: float) -> np.ndarray:
        shifted = (similarity - similarity.max(1, keepdims=True)) / temperature
        weights = np.exp(shifted.astype(np.float64))
        return (weights / weights.sum(1, keepdims=True)).astype(np.float32)

    def _co_partner(self, weights: np.ndarray) -> np.ndarray:
        """Co-partner propagation of a query's weighted partner profile, read off for the candidates.

        Over the reference human proteins (so a candidate's value does not depend on which other candidates are
        scored): sum over partners d of shared(c, d) / sqrt(popularity c * popularity d) * profile(d), minus c's own.
        """
        profile = np.asarray(self.reference_adjacency.T.dot(weights.T)).T * self.has_partner
        spread = np.asarray(self.normalised.T.dot(self.normalised.dot(profile.T))).T - profile
        out = np.zeros((weights.shape[0], len(self.candidate_reference)), dtype=np.float32)
        mapped = self.candidate_reference >= 0
        out[:, mapped] = np.log1p(10.0 * np.maximum(spread[:, self.candidate_reference[mapped]], 0))
        return out

    def features(self, similarities: ViralSimilarities) -> np.ndarray:
        """Features (n_queries, n_candidates, len(FEATURES)), float32."""
        sw = similarities.smith_waterman
        n_query, n_cand = sw.shape[0], self.adjacency.shape[1]
        out = np.zeros((n_query, n_cand, len(FEATURES)), dtype=np.float32)
        if n_query == 0:
            return out
        adjacency = self.adjacency
        out[:, :, 0] = np.log1p(self.popularity)[None]
        by_column = adjacency.tocsc()
        has = np.diff(by_column.indptr) > 0
        starts = by_column.indptr[:-1][has]
        viral_rows = by_column.indices
        homology_max = np.zeros((n_query, n_cand), dtype=np.float32)
        if viral_rows.size:
            homology_max[:, has] = np.maximum.reduceat(sw[:, viral_rows], starts, axis=1)
        out[:, :, 1] = homology_max
        out[:, :, 2] = np.log1p(100.0 * np.asarray(adjacency.T.dot((sw.astype(np.float32) ** 2).T)).T)
        k = min(self.neighbours, sw.shape[1])
        top = np.argpartition(-sw, k - 1, axis=1)[:, :k]
        for i in range(n_query):
            out[i, :, 3] = (sw[i, top[i], None] * self.near_partner[top[i]]).max(0)
        weights = np.zeros(sw.shape, dtype=np.float32)
        np.put_along_axis(weights, top, np.take_along_axis(sw, top, 1), 1)
        out[:, :, 4] = self._co_partner(weights)
        out[:, :, 5] = self.smoothed_popularity[None]
        best = sw.max(1)
        out[:, :, 6] = best[:, None]
        out[:, :, 7] = homology_max / np.maximum(best[:, None], 1e-3)
        kmer = similarities.kmer
        if viral_rows.size:
            out[:, :, 8][:, has] = np.maximum.reduceat(kmer[:, viral_rows], starts, axis=1)
        mean = np.asarray(adjacency.T.dot(kmer.T)).T / np.maximum(self.popularity, 1)[None]
        out[:, :, 9] = np.where(self.popularity[None] > 0, mean - kmer.mean(1, keepdims=True), 0)
        out[:, :, 10] = self.candidate_log_length[None]
        out[:, :, 11] = similarities.log_length[:, None]
        out[:, :, 12] = self._vote(sw, self.neighbours)
        out[:, :, 13] = self._vote(similarities.composition, self.neighbours)
        out[:, :, 14] = self._vote(similarities.composition, 4 * self.neighbours)
        out[:, :, 15] = self._vote(kmer, self.neighbours)
        first = FEATURES.index("log_popularity_degree_1_2")
        for j, popularity in enumerate(self.popularity_by_degree):
            out[:, :, first + j] = np.log1p(popularity)[None]
        log_degree = np.log1p(self.degree).astype(np.float32)
        for name, similarity in (("sw", sw), ("composition", similarities.composition)):
            out[:, :, FEATURES.index(f"neighbour_log_degree_{name}")] = (
                self._softmax_weights(similarity, 0.05) @ log_degree
            )[:, None]
        for name, same in (("taxon", similarities.same_taxon), ("family", similarities.same_family)):
            same = np.asarray(same, dtype=np.float32)
            out[:, :, FEATURES.index(f"{name}_log_popularity")] = np.log1p(np.asarray(adjacency.T.dot(same.T)).T)
            out[:, :, FEATURES.index(f"{name}_log_size")] = np.log1p(same.sum(1))[:, None]
        return out


# --------------------------------------------------------------------------------------- trees + calibration


@dataclass
class TreeEnsemble:
    """A binary gradient-boosted tree ensemble as arrays; ``decision`` gives log-odds.

    Nodes of all trees are concatenated; ``roots[t]`` is tree t's first node.
    """

    baseline: float
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray

    @classmethod
    def from_sklearn(cls, model: Any) -> TreeEnsemble:
        roots, parts = [], []
        offset = 0
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            roots.append(offset)
            parts.append(
                (
                    nodes["feature_idx"].astype(np.int32),
                    nodes["num_threshold"].astype(np.float64),
                    nodes["missing_go_to_left"].astype(bool),
                    nodes["left"].astype(np.int64) + offset,
                    nodes["right"].astype(np.int64) + offset,
                    nodes["is_leaf"].astype(bool),
                    nodes["value"].astype(np.float64),
                )
            )
            offset += len(nodes)
        columns = [np.concatenate([p[i] for p in parts]) for i in range(7)]
        return cls(float(np.ravel(model._baseline_prediction)[0]), np.asarray(roots, np.int64), *columns)

    def decision(self, features: np.ndarray, chunk: int = 16384) -> np.ndarray:
        """Raw scores (log-odds) of rows of ``features`` (..., n_features), ``chunk`` rows at a time (in cache)."""
        shape = features.shape[:-1]
        x = np.asarray(features, dtype=np.float32).reshape(-1, features.shape[-1])
        out = np.concatenate([self._decide(x[s : s + chunk]) for s in range(0, len(x), chunk)] or [np.zeros(0)])
        return out.reshape(shape)

    def _decide(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        by_feature = np.ascontiguousarray(x.T).ravel()  # feature f of row r at f * n + r
        offset = self.feature.astype(np.int64) * n
        out = np.full(n, self.baseline)
        rows = np.arange(n)
        for root in self.roots:
            node = np.full(n, root, dtype=np.int64)
            active = rows[~self.leaf[node]]
            while active.size:
                at = node[active]
                value = by_feature[offset[at] + active]
                go_left = value <= self.threshold[at]
                missing = np.isnan(value)
                if missing.any():
                    go_left = np.where(missing, self.missing_left[at], go_left)
                node[active] = next_node = np.where(go_left, self.left[at], self.right[at])
                active = active[~self.leaf[next_node]]
            out += self.value[node]
        return out

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.{k}": np.ascontiguousarray(v) for k, v in asdict(self).items() if k != "baseline"}

    @classmethod
    def from_arrays(cls, tensors: dict[str, np.ndarray], prefix: str, baseline: float) -> TreeEnsemble:
        names = [n for n in cls.__dataclass_fields__ if n != "baseline"]
        return cls(baseline, *(tensors[f"{prefix}.{n}"] for n in names))


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


def _fit_trees(x: np.ndarray, y: np.ndarray, weight: np.ndarray, config: ScreeningConfig) -> TreeEnsemble:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=config.max_iter,
        learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization,
        random_state=config.seed,
    )
    from threadpoolctl import threadpool_limits

    with threadpool_limits(config.threads or None):
        return TreeEnsemble.from_sklearn(model.fit(x, y, sample_weight=weight))


def per_virus_weights(labels: np.ndarray, virus: np.ndarray) -> np.ndarray:
    """Sample weights giving every viral protein the same total positive (and negative) weight."""
    positives = np.bincount(virus, weights=labels)
    negatives = np.bincount(virus, weights=1 - labels)
    ratio = negatives.mean() / max(positives.mean(), 1e-12)
    weight = np.where(labels == 1, 1 / np.maximum(positives[virus], 1), ratio / np.maximum(negatives[virus], 1) * 1.0)
    return weight / weight.mean()


def group_folds(groups: Sequence[str], k: int, seed: int) -> np.ndarray:
    """Fold of each item, keeping groups together, balanced by size (largest groups placed first)."""
    names, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    load = np.zeros(k)
    fold_of_group = np.zeros(len(names), dtype=np.int64)
    for g in order:
        f = int(np.argmin(load))
        fold_of_group[g] = f
        load[f] += counts[g]
    return fold_of_group[inverse]


# --------------------------------------------------------------------------------------- the model


@dataclass
class Reference:
    """The model's knowledge: reference viral and human proteins and their known interacting pairs."""

    virus_ids: list[str]
    virus_sequences: list[str]
    human_ids: list[str]
    human_sequences: list[str]
    pair_virus: np.ndarray
    pair_human: np.ndarray
    virus_taxa: ViralTaxa | None = None
    """Taxon and family of each reference viral protein (None: not known for any)."""

    def __post_init__(self) -> None:
        if self.virus_taxa is None:
            self.virus_taxa = ViralTaxa.unknown(len(self.virus_ids))
        elif len(self.virus_taxa) != len(self.virus_ids):
            raise ValueError("one taxon and family per reference viral protein")

    @property
    def taxa(self) -> ViralTaxa:
        assert self.virus_taxa is not None
        return self.virus_taxa

    def partners(self) -> list[np.ndarray]:
        """Reference human partners (indices) of each reference viral protein."""
        order = np.argsort(self.pair_virus, kind="stable")
        bounds = np.searchsorted(self.pair_virus[order], np.arange(len(self.virus_ids) + 1))
        return [self.pair_human[order[bounds[i] : bounds[i + 1]]] for i in range(len(self.virus_ids))]


@dataclass
class ScreeningModel:
    """A fitted screening model: reference data, tree ensemble, calibration and settings."""

    reference: Reference
    trees: TreeEnsemble
    calibration: IsotonicCalibration
    composition_mean: np.ndarray
    composition_sd: np.ndarray
    config: ScreeningConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    file_sha256: str = ""
    path: str = ""
    known_taxa: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """UniProt accession → (taxon, family) of viral proteins in the training data under any of their IDs."""

    # scoring -----------------------------------------------------------------------------------
    def candidates(self, human_sequences: Sequence[str]) -> Candidates:
        return Candidates.build(list(human_sequences), self.reference.human_sequences)

    def evidence(self, candidates: Candidates) -> Evidence:
        ref = self.reference
        return Evidence(
            np.arange(len(ref.virus_ids)),
            ref.pair_virus,
            ref.pair_human,
            len(ref.human_ids),
            candidates,
            self.config.neighbours,
        )

    def similarities(
        self, virus_sequences: Sequence[str], taxa: ViralTaxa | None = None, progress: bool = False
    ) -> ViralSimilarities:
        """Compare viral proteins with the reference; ``taxa``: their taxon and family (None: not given)."""
        return viral_similarities(
            list(virus_sequences),
            self.reference.virus_sequences,
            (self.composition_mean, self.composition_sd),
            threads=self.config.threads,
            progress=progress,
            query_taxa=taxa,
            reference_taxa=self.reference.taxa,
        )

    def taxa_of(self, virus_ids: Sequence[str], taxon: str | int | None = None, family: str | None = None) -> ViralTaxa:
        """Taxon and family of viral proteins: ``taxon``/``family`` for all if given (a taxon the reference knows
        brings its family; a family is matched to the reference's without regard to case), else those the training
        data gives their UniProt accession, else unknown. Raises ValueError for a taxon that is not an NCBI taxid."""
        from hvppi.datasets.taxonomy import check_name, taxid

        if taxon is not None:
            canonical = taxid(str(taxon))
            if canonical is None:
                raise ValueError(f"taxon {taxon!r}: an NCBI taxid is a number (e.g. 2697049 for SARS-CoV-2)")
            taxon = canonical
        if family is not None:
            family = check_name(family)
            known = {f.lower(): f for f in self.reference.taxa.families if f is not None}
            family = known.get(family.lower(), family)
        ref = self.reference.taxa
        by_accession: dict[str, tuple[str | None, str | None]] = {}
        family_of_taxon: dict[str, str] = {}
        for pid, t, f in zip(self.reference.virus_ids, ref.taxa, ref.families):
            by_accession.setdefault(pid.split("-", 1)[0], (t, f))
            if t is not None and f is not None:
                family_of_taxon.setdefault(t, f)
        by_accession.update(self.known_taxa)
        taxa, families = [], []
        for pid in virus_ids:
            if taxon is not None or family is not None:
                t, f = taxon, family if family is not None else family_of_taxon.get(taxon or "")
            else:
                t, f = by_accession.get(pid.split("-", 1)[0], (None, None))
            taxa.append(t)
            families.append(f)
        return ViralTaxa(taxa, families)

    def known_to_reference(self, taxa: ViralTaxa) -> np.ndarray:
        """Whether each protein's taxon or family is that of some reference viral protein (else the model cannot use
        its virus, as if it were not given)."""
        ref = self.reference.taxa
        taxon_set, family_set = set(ref.taxa) - {None}, set(ref.families) - {None}
        return np.array([t in taxon_set or f in family_set for t, f in zip(taxa.taxa, taxa.families)], dtype=bool)

    def score(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw score, calibrated probability) of a feature array (..., len(FEATURES))."""
        raw = self.trees.decision(features)
        return raw, self.calibration(raw)

    def score_matrix(
        self,
        virus_sequences: Sequence[str],
        human_sequences: Sequence[str],
        chunk_size: int = 32,
        taxa: ViralTaxa | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(raw scores, probabilities), each (len(virus_sequences), len(human_sequences))."""
        evidence = self.evidence(self.candidates(human_sequences))
        taxa = taxa or ViralTaxa.unknown(len(virus_sequences))
        if len(taxa) != len(virus_sequences):
            raise ValueError(f"{len(taxa)} taxa for {len(virus_sequences)} viral proteins")
        raw = np.zeros((len(virus_sequences), len(human_sequences)))
        probability = np.zeros_like(raw)
        for start in range(0, len(virus_sequences), chunk_size):
            chunk = list(virus_sequences[start : start + chunk_size])
            block = taxa.take(range(start, start + len(chunk)))
            raw[start : start + len(chunk)], probability[start : start + len(chunk)] = self.score(
                evidence.features(self.similarities(chunk, block))
            )
        return raw, probability

    def score_pairs(
        self, human_ids: Sequence[str], virus_ids: Sequence[str], sequences: dict[str, str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(raw score, calibrated probability) of each pair (human_ids[k], virus_ids[k]), in input order.

        Each distinct protein is compared with the reference once.
        """
        humans = list(dict.fromkeys(human_ids))
        viruses = list(dict.fromkeys(virus_ids))
        raw, probability = self.score_matrix(
            [sequences[v] for v in viruses], [sequences[h] for h in humans], taxa=self.taxa_of(viruses)
        )
        hi = {h: k for k, h in enumerate(humans)}
        vi = {v: k for k, v in enumerate(viruses)}
        rows = np.array([vi[v] for v in virus_ids], dtype=np.int64)
        columns = np.array([hi[h] for h in human_ids], dtype=np.int64)
        return raw[rows, columns], probability[rows, columns]

    def fingerprint(self) -> str:
        """SHA-256 of the model file it was loaded from or saved to; of its arrays and settings otherwise."""
        if self.file_sha256:
            return self.file_sha256
        import hashlib

        digest = hashlib.sha256(json.dumps(asdict(self.config), sort_keys=True).encode())
        for array in (*asdict(self.trees).values(), self.calibration.x, self.calibration.y):
            digest.update(np.ascontiguousarray(array).tobytes())
        for sequence in (*self.reference.virus_sequences, *self.reference.human_sequences):
            digest.update(sequence.encode())
        digest.update(self.reference.pair_virus.tobytes() + self.reference.pair_human.tobytes())
        digest.update(json.dumps([self.reference.taxa.taxa, self.reference.taxa.families]).encode())
        return digest.hexdigest()

    # files ---------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write a safetensors file: arrays, and all settings and reference IDs as JSON metadata."""
        from safetensors.numpy import save_file

        ref = self.reference
        tensors = {
            **self.trees.arrays("trees"),
            "calibration.x": self.calibration.x,
            "calibration.y": self.calibration.y,
            "composition.mean": np.asarray(self.composition_mean, np.float64),
            "composition.sd": np.asarray(self.composition_sd, np.float64),
            "reference.pair_virus": ref.pair_virus.astype(np.int64),
            "reference.pair_human": ref.pair_human.astype(np.int64),
            "reference.virus_sequences": _pack(ref.virus_sequences),
            "reference.human_sequences": _pack(ref.human_sequences),
        }
        document = {
            "kind": MODEL_KIND,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "features": list(FEATURES),
            "config": asdict(self.config),
            "trees_baseline": self.trees.baseline,
            "virus_ids": ref.virus_ids,
            "human_ids": ref.human_ids,
            "virus_lengths": [len(s) for s in ref.virus_sequences],
            "human_lengths": [len(s) for s in ref.human_sequences],
            "virus_taxa": ref.taxa.taxa,
            "virus_families": ref.taxa.families,
            "known_taxa": {a: list(tf) for a, tf in sorted(self.known_taxa.items())},
            **{"metadata": self.metadata},
        }
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"hvppi": json.dumps(document)})
        self.file_sha256 = _file_sha256(Path(path))
        self.path = str(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ScreeningModel:
        """Read a file written by :meth:`save`; nothing in it is executed."""
        from safetensors import safe_open

        path = Path(path)
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = fh.metadata() or {}
                tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        except (OSError, ValueError, SafetensorError) as exc:
            raise ModelFileError(f"{path}: not a readable safetensors file ({exc})") from None
        try:
            document = json.loads(meta["hvppi"])
            if not isinstance(document, dict) or document.get("kind") != MODEL_KIND:
                raise ModelFileError(f"{path}: not an hvppi screening model")
            if document["format_version"] > FORMAT_VERSION:
                raise ModelFileError(f"{path}: format version {document['format_version']} is newer than hvppi reads")
            if document["format_version"] < FORMAT_VERSION:
                raise ModelFileError(
                    f"{path}: a screening model of format version {document['format_version']}, made by an older "
                    f"hvppi with other features; this hvppi reads version {FORMAT_VERSION}: retrain it "
                    "(scripts/train_screening_model.py, or fit_screening_model)"
                )
            if list(document["features"]) != list(FEATURES):
                raise ModelFileError(f"{path}: made with other features than this hvppi computes")
            virus_sequences = _unpack(tensors["reference.virus_sequences"], document["virus_lengths"])
            human_sequences = _unpack(tensors["reference.human_sequences"], document["human_lengths"])
            reference = Reference(
                list(document["virus_ids"]),
                virus_sequences,
                list(document["human_ids"]),
                human_sequences,
                tensors["reference.pair_virus"],
                tensors["reference.pair_human"],
                ViralTaxa(
                    [None if t is None else str(t) for t in document["virus_taxa"]],
                    [None if f is None else str(f) for f in document["virus_families"]],
                ),
            )
            model = cls(
                reference,
                TreeEnsemble.from_arrays(tensors, "trees", float(document["trees_baseline"])),
                IsotonicCalibration(tensors["calibration.x"], tensors["calibration.y"]),
                tensors["composition.mean"],
                tensors["composition.sd"],
                ScreeningConfig.from_dict(document["config"]),
                dict(document.get("metadata", {})),
                known_taxa={
                    str(a): (None if t is None else str(t), None if f is None else str(f))
                    for a, (t, f) in document["known_taxa"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"{path}: corrupt screening model ({exc})") from None
        model._check(path)
        model.file_sha256 = _file_sha256(path)
        model.path = str(path)
        return model

    def _check(self, path: Path) -> None:
        ref, trees = self.reference, self.trees
        n_nodes = len(trees.feature)
        problems = []
        if len(ref.pair_virus) != len(ref.pair_human):
            problems.append("pair arrays differ in length")
        if len(ref.pair_virus) and (
            ref.pair_virus.max() >= len(ref.virus_ids) or ref.pair_human.max() >= len(ref.human_ids)
        ):
            problems.append("pairs point outside the reference proteins")
        if any(len(a) != n_nodes for a in (trees.threshold, trees.left, trees.right, trees.leaf, trees.value)):
            problems.append("tree arrays differ in length")
        if len(trees.missing_left) != n_nodes or len(trees.roots) == 0:
            problems.append("tree arrays differ in length")
        elif not problems:
            internal = np.flatnonzero(~trees.leaf)
            starts = np.sort(trees.roots)
            if starts[0] != 0 or (np.diff(starts) <= 0).any() or starts[-1] >= n_nodes:
                problems.append("tree roots point outside the nodes")
            # children come after their parent within the parent's tree: every path ends at a leaf
            tree_end = np.append(starts[1:], n_nodes)[np.searchsorted(starts, internal, side="right") - 1]
            for child in (trees.left[internal], trees.right[internal]):
                if ((child <= internal) | (child >= tree_end)).any():
                    problems.append("tree nodes point outside their tree")
                    break
            if ((trees.feature[internal] < 0) | (trees.feature[internal] >= len(FEATURES))).any():
                problems.append("tree nodes read features that do not exist")
        arrays = (
            trees.value,
            trees.threshold,
            self.calibration.x,
            self.calibration.y,
            self.composition_mean,
            self.composition_sd,
        )
        if not all(np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in arrays):
            problems.append("non-finite values")
        if len(self.calibration.x) != len(self.calibration.y) or len(self.calibration.x) == 0:
            problems.append("calibration arrays differ in length")
        if np.shape(self.composition_mean) != (420,) or np.shape(self.composition_sd) != (420,):
            problems.append("composition statistics have the wrong shape")
        if problems:
            raise ModelFileError(f"{path}: corrupt screening model ({'; '.join(problems)})")


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pack(sequences: Sequence[str]) -> np.ndarray:
    return np.frombuffer("".join(sequences).encode("ascii"), dtype=np.uint8).copy()


def _unpack(data: np.ndarray, lengths: Sequence[int]) -> list[str]:
    text = bytes(np.asarray(data, dtype=np.uint8)).decode("ascii")
    if sum(lengths) != len(text):
        raise ValueError("sequence lengths do not match the stored letters")
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [text[bounds[i] : bounds[i + 1]] for i in range(len(lengths))]


# --------------------------------------------------------------------------------------- fitting


@dataclass
class SimilarityBundle:
    """All similarities among a universe of viral and human proteins, computed once and sliced per split."""

    viral: ViralSimilarities
    candidates: Candidates
    composition_mean: np.ndarray
    composition_sd: np.ndarray

    @classmethod
    def compute(
        cls,
        virus_sequences: Sequence[str],
        human_sequences: Sequence[str],
        threads: int = 1,
        progress: bool = False,
        taxa: ViralTaxa | None = None,
    ) -> SimilarityBundle:
        _, mean, sd = composition_vectors(virus_sequences)
        viral = viral_similarities(virus_sequences, virus_sequences, (mean, sd), threads, progress, taxa, taxa)
        np.fill_diagonal(viral.kmer, 0.0)
        np.fill_diagonal(viral.composition, -1.0)
        return cls(viral, Candidates.build(human_sequences, human_sequences), mean, sd)


def out_of_fold_features(
    reference: Reference,
    train_viral: np.ndarray,
    bundle: SimilarityBundle,
    groups: Sequence[str],
    config: ScreeningConfig,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of every (training viral protein, human protein) pair, each fold's from the other folds' pairs.

    Returns (features (n_train, n_human, len(FEATURES)), known-partner labels (n_train, n_human), fold of each
    training viral protein). ``groups`` names the CD-HIT cluster of each viral protein of the universe; folds keep
    clusters together, so a training protein's features look like those of an unseen viral protein.
    """
    train_viral = np.asarray(train_viral, dtype=np.int64)
    train_groups = [groups[i] for i in train_viral]
    if len(set(train_groups)) < config.folds:
        raise ValueError(
            f"{len(set(train_groups))} CD-HIT clusters of training viral proteins; the out-of-fold features need at "
            f"least {config.folds} (ScreeningConfig.folds)"
        )
    fold = group_folds(train_groups, config.folds, config.seed)
    n_human = len(reference.human_ids)
    labels = np.zeros((len(train_viral), n_human), dtype=bool)
    row_of = {int(v): i for i, v in enumerate(train_viral)}
    for v, h in zip(reference.pair_virus, reference.pair_human):
        if int(v) in row_of:
            labels[row_of[int(v)], h] = True
    features = np.zeros((len(train_viral), n_human, len(FEATURES)), dtype=np.float32)
    for f in tqdm(range(config.folds), desc="out-of-fold features", unit="fold", disable=not progress, leave=False):
        inside = np.flatnonzero(fold == f)
        if not inside.size:
            continue
        evidence = Evidence(
            train_viral[fold != f],
            reference.pair_virus,
            reference.pair_human,
            n_human,
            bundle.candidates,
            config.neighbours,
        )
        features[inside] = evidence.features(bundle.viral.take(train_viral[inside], train_viral[fold != f]))
    return features, labels, fold


def training_rows(
    features: np.ndarray, labels: np.ndarray, human_sequences: Sequence[str], config: ScreeningConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows the trees learn from: every known pair and ``config.negatives_per_virus`` sampled non-partners
    per viral protein (never a human protein with a partner's sequence). Returns (x, y, row of the viral protein)."""
    rng = np.random.default_rng(config.seed)
    sequence_group = np.unique(np.asarray(human_sequences, dtype=object), return_inverse=True)[1]
    rows, ys, owner = [], [], []
    for i in range(len(labels)):
        positives = np.flatnonzero(labels[i])
        if not positives.size:
            continue
        allowed = np.flatnonzero(~np.isin(sequence_group, sequence_group[positives]))
        negatives = rng.choice(allowed, size=min(config.negatives_per_virus, allowed.size), replace=False)
        chosen = np.concatenate([positives, negatives])
        rows.append(features[i, chosen])
        ys.append(np.r_[np.ones(positives.size), np.zeros(negatives.size)])
        owner.append(np.full(chosen.size, i))
    return np.concatenate(rows), np.concatenate(ys), np.concatenate(owner)


def fit_on_bundle(
    reference: Reference,
    train_viral: np.ndarray,
    bundle: SimilarityBundle,
    groups: Sequence[str],
    config: ScreeningConfig,
    calibrate: bool = True,
    progress: bool = False,
) -> tuple[TreeEnsemble, IsotonicCalibration | None, dict[str, Any]]:
    """Fit trees (and calibration) on the viral proteins ``train_viral`` of a universe whose similarities are known.

    ``groups`` names the CD-HIT cluster of each viral protein of the universe; folds keep clusters together.
    Human proteins are the universe's (``reference.human_*``); candidates are all of them.
    """
    train_viral = np.asarray(train_viral, dtype=np.int64)
    features, labels, fold = out_of_fold_features(reference, train_viral, bundle, groups, config, progress)
    x, y, virus = training_rows(features, labels, reference.human_sequences, config)
    weight = per_virus_weights(y, virus)
    trees = _fit_trees(x, y, weight, config)
    calibration = None
    if calibrate:
        out_of_fold = np.zeros(labels.shape, dtype=np.float64)
        row_fold = fold[virus]
        for f in tqdm(range(config.folds), desc="calibration", unit="fold", disable=not progress, leave=False):
            inside = fold == f
            if not inside.any():
                continue
            held = row_fold != f
            out_of_fold[inside] = _fit_trees(x[held], y[held], weight[held], config).decision(features[inside])
        calibration = IsotonicCalibration.fit(out_of_fold.ravel(), labels.ravel().astype(np.float64), seed=config.seed)
    info = {"training_rows": int(len(y)), "training_positives": int(y.sum()), "viral_proteins": int(len(train_viral))}
    return trees, calibration, info


def _first_by_sequence(sequences: Sequence[str]) -> tuple[list[int], np.ndarray]:
    """Indices of the first protein of each distinct sequence, and each protein's new index among them."""
    first: dict[str, int] = {}
    keep: list[int] = []
    new_index = np.empty(len(sequences), dtype=np.int64)
    for i, sequence in enumerate(sequences):
        if sequence not in first:
            first[sequence] = len(keep)
            keep.append(i)
        new_index[i] = first[sequence]
    return keep, new_index


def fit_screening_model(
    virus_ids: Sequence[str],
    virus_sequences: Sequence[str],
    human_ids: Sequence[str],
    human_sequences: Sequence[str],
    pairs: Sequence[tuple[int, int]],
    config: ScreeningConfig | None = None,
    progress: bool = False,
    metadata: dict[str, Any] | None = None,
    virus_taxa: ViralTaxa | None = None,
    known_taxa: dict[str, tuple[str | None, str | None]] | None = None,
) -> ScreeningModel:
    """Fit a screening model on positive pairs (viral index, human index) over the given proteins.

    Proteins with the same sequence become one (the first ID names it, the first known taxon and family
    are its); pairs are merged accordingly. ``virus_taxa``: taxon and family of each viral protein;
    ``known_taxa``: UniProt accession → (taxon, family), to find the virus of a query by its ID
    (:meth:`ScreeningModel.taxa_of`).
    """
    from hvppi.datasets.clustering import cdhit_clusters

    config = config or ScreeningConfig()
    pair_array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    virus_keep, virus_map = _first_by_sequence(virus_sequences)
    human_keep, human_map = _first_by_sequence(human_sequences)
    pair_array = np.unique(np.stack([virus_map[pair_array[:, 0]], human_map[pair_array[:, 1]]], axis=1), axis=0)
    taxa: list[str | None] = [None] * len(virus_keep)
    families: list[str | None] = [None] * len(virus_keep)
    if virus_taxa is not None:
        if len(virus_taxa) != len(virus_ids):
            raise ValueError("one taxon and family per viral protein")
        for i, (t, f) in enumerate(zip(virus_taxa.taxa, virus_taxa.families)):
            k = int(virus_map[i])
            taxa[k] = taxa[k] if taxa[k] is not None else t
            families[k] = families[k] if families[k] is not None else f
    reference = Reference(
        [virus_ids[i] for i in virus_keep],
        [virus_sequences[i] for i in virus_keep],
        [human_ids[i] for i in human_keep],
        [human_sequences[i] for i in human_keep],
        pair_array[:, 0],
        pair_array[:, 1],
        ViralTaxa(taxa, families),
    )
    bundle = SimilarityBundle.compute(
        reference.virus_sequences, reference.human_sequences, config.threads, progress, reference.taxa
    )
    clusters = cdhit_clusters(
        dict(zip(reference.virus_ids, reference.virus_sequences)), config.fold_identity, threads=max(config.threads, 1)
    )
    groups = [clusters[v] for v in reference.virus_ids]
    trees, calibration, info = fit_on_bundle(
        reference, np.unique(reference.pair_virus), bundle, groups, config, calibrate=True, progress=progress
    )
    assert calibration is not None
    return ScreeningModel(
        reference,
        trees,
        calibration,
        bundle.composition_mean,
        bundle.composition_sd,
        config,
        {**(metadata or {}), "training": info},
        known_taxa=dict(known_taxa or {}),
    )


# --------------------------------------------------------------------------------------- training data


def benchmark_positives(data: str | os.PathLike) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The LSTM-PHV benchmark's positive pairs (human ID, viral ID), train + test, and its sequences."""
    from hvppi.io.sequences import read_sequences

    folder = Path(data) / "lstm-phv-benchmark"
    sequences = read_sequences(folder / "pro_seq.txt")
    pairs = []
    for name in ("protein_pair_label_train.txt", "protein_pair_label_test.txt"):
        with open(folder / name) as fh:
            for line in fh:
                human, virus, label = line.rstrip("\n").split("\t")
                if label == "1":
                    pairs.append((human, virus))
    return pairs, sequences


def hpidb_positives(data: str | os.PathLike, threshold: float = 0.3) -> list[tuple[str, str]]:
    """HPIDB 3.0 human–virus pairs (human ID, viral ID) with an MI score >= ``threshold``."""
    from hvppi.datasets.build import collect_human_virus
    from hvppi.datasets.mitab import read_mitab

    mitab = read_mitab(Path(data) / "hpidb3-virus" / "hpidb_virus_25_10_22.zip", skip_bad_lines=True)
    return list(collect_human_virus(mitab.interactions, [threshold]).by_threshold[threshold])


def merged_hvi_positives(data: str | os.PathLike) -> list[tuple[str, str]]:
    """merged-hvi positives (human ID, viral ID), except pairs known only from STRING."""
    import csv
    import io
    import zipfile

    with zipfile.ZipFile(Path(data) / "merged-hvi" / "merged_dataset_complete_redundancy_reduced.zip") as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8-sig")
    pairs = []
    for row in csv.DictReader(io.StringIO(text)):
        sources = set(row["Dataset"].split(","))
        if row["Target"] == "1" and sources - {"viruses_string"}:
            pairs.append((row["Uniprot_human"], row["Uniprot_virus"]))
    return pairs


def default_training_positives(
    data: str | os.PathLike,
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """The positives the bundled screening model is trained on, by source, and the sequences of their proteins.

    ``data`` is the shared data folder (``../shared/data``): the LSTM-PHV benchmark's positives, HPIDB pairs at
    MI >= 0.3 and merged-hvi positives (not from STRING alone); sequences from the benchmark, then the pool.
    """
    from hvppi.io.sequences import read_sequences

    bench, sequences = benchmark_positives(data)
    pool = read_sequences(Path(data) / "sequences" / "sequence_pool.fasta.gz")
    for pid, sequence in pool.items():
        sequences.setdefault(pid, sequence)
    sources = {"benchmark": bench, "hpidb_mi0.3": hpidb_positives(data), "merged_hvi": merged_hvi_positives(data)}
    return sources, sequences


def default_taxonomy(data: str | os.PathLike) -> VirusTaxonomy:
    """Taxon and family of the viral proteins the bundled screening model knows: merged-hvi's ``Taxon_virus`` and
    ``Family_virus`` columns and the HPIDB export's taxids, from the shared data folder ``data``."""
    from hvppi.datasets.taxonomy import read_virus_taxonomy

    return read_virus_taxonomy(
        [
            Path(data) / "merged-hvi" / "merged_dataset_complete_redundancy_reduced.zip",
            Path(data) / "hpidb3-virus" / "hpidb_virus_25_10_22.zip",
        ]
    )

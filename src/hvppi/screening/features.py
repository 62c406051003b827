"""The screening model's features, by name: what the pairs of some reference viral proteins say about human candidates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from hvppi.screening.similarity import Candidates, ViralSimilarities

FEATURES = (
    "log_popularity",
    "homology_max",
    "homology_sum",
    "human_side_homology",
    "kmer_smoothed_popularity",
    "query_best_similarity",
    "homology_relative",
    "kmer_homology_max",
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
COLUMN = {name: j for j, name in enumerate(FEATURES)}
"""Feature name → its column in a feature array."""
NEUTRAL = ("query_best_similarity", "human_log_length", "virus_log_length", "taxon_log_size", "family_log_size")
"""Features that are not evidence for a pair (lengths, how far the query is from everything, how many proteins of its
virus the reference holds): the trees may use them in either direction."""
MONOTONE = tuple(0 if name in NEUTRAL else 1 for name in FEATURES)
"""+1 for every feature that counts evidence (partners, their similarity to the query, same-virus partners, votes):
the trees are constrained so that more evidence never lowers a score. Each of these features can only grow when a
pair is added to the reference, so a human protein given one more known partner never scores lower, all else equal.
(Two features of format 3 that could shrink when a partner was added, a co-partner propagation normalised by
popularity and the mean k-mer similarity to the partners, were dropped in format 4.)"""
DEGREE_BINS = ((1, 2), (3, 15), (16, None))
"""Popularity among the reference viral proteins with this many reference partners (small studies vs screens)."""


@dataclass
class HumanSide:
    """What an :class:`Evidence` takes from the candidates' 3-mer similarities to the reference human proteins:
    all of the screen's human-side work, and nothing of the viral queries, so it can be kept on disk
    (:mod:`hvppi.screening.humancache`) and reused for every viral protein screened against the same humans."""

    reference_index: np.ndarray
    """(n_candidates,) int64: the reference human protein with the candidate's sequence, -1 if none."""
    reference_canonical: np.ndarray | None
    """(n_reference_human,) int64: each reference human protein → the first with its sequence (None: all distinct)."""
    log_length: np.ndarray
    """(n_candidates,) float32: log of each candidate's length."""
    near_partner: np.ndarray
    """(n_known, n_candidates) float32: per reference viral protein, the highest 3-mer cosine of the candidate to
    one of its partners (0 for a protein without partners)."""
    smoothed_popularity: np.ndarray
    """(n_candidates,) float32: the log popularity of the candidate's 10 nearest reference humans (3-mer
    cosine-weighted; the candidate itself excluded)."""

    @classmethod
    def compute(cls, candidates: Candidates, reference: sp.csr_matrix) -> HumanSide:
        """From the candidates and the (n_known, n_reference_human) 0/1 reference adjacency."""
        near_partner = np.zeros((reference.shape[0], len(candidates.reference_index)), dtype=np.float32)
        for j in range(reference.shape[0]):
            partners = reference.indices[reference.indptr[j] : reference.indptr[j + 1]]
            if partners.size:
                near_partner[j] = candidates.kmer[:, partners].max(1)
        reference_popularity = np.asarray(reference.sum(0)).ravel()
        k = min(10, candidates.kmer.shape[1])
        nearest = np.argpartition(-candidates.kmer, k - 1, axis=1)[:, :k]
        weight = np.take_along_axis(candidates.kmer, nearest, 1)
        smoothed = (weight * np.log1p(reference_popularity)[nearest]).sum(1) / np.maximum(weight.sum(1), 1e-6)
        return cls(
            candidates.reference_index,
            candidates.reference_canonical,
            candidates.log_length,
            near_partner,
            smoothed.astype(np.float32),
        )


class Evidence:
    """What the pairs of some reference viral proteins say about a set of human candidates.

    ``candidates``: the :class:`Candidates`, or their :class:`HumanSide` computed before for the same reference
    (``self.human_side`` is what to keep)."""

    def __init__(
        self,
        known_viral: np.ndarray,
        pair_virus: np.ndarray,
        pair_human: np.ndarray,
        n_reference_human: int,
        candidates: Candidates | HumanSide,
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
        side = candidates if isinstance(candidates, HumanSide) else HumanSide.compute(candidates, reference)
        if side.near_partner.shape != (n_known, n_cand):
            raise ValueError(f"human side for {side.near_partner.shape}, not {(n_known, n_cand)} proteins")
        self.human_side = side
        mapped = side.reference_index >= 0
        onto_candidates = reference.tocsc()[:, np.where(mapped, side.reference_index, 0)]
        self.adjacency = (onto_candidates @ sp.diags(mapped.astype(np.float32))).tocsr()
        self.adjacency.eliminate_zeros()
        self.popularity = np.asarray(self.adjacency.sum(0)).ravel()
        self.degree = np.asarray(reference.sum(1)).ravel()
        self.popularity_by_degree = []
        for low, high in DEGREE_BINS:
            inside = (self.degree >= low) & (self.degree <= (np.inf if high is None else high))
            self.popularity_by_degree.append(np.asarray(self.adjacency.T.dot(inside.astype(np.float32))).ravel())
        self.near_partner = side.near_partner
        self.candidate_reference = np.where(mapped, side.reference_index, -1)
        self.smoothed_popularity = side.smoothed_popularity
        self.candidate_log_length = side.log_length

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

    def same_group_partners(self, same: np.ndarray) -> np.ndarray:
        """(n_queries, n_candidates): how many reference viral proteins marked in ``same`` (n_queries, n_reference;
        e.g. :attr:`ViralSimilarities.same_taxon`: those of the query's own virus) bind each candidate. Exact counts."""
        return np.asarray(self.adjacency.T.dot(np.asarray(same, dtype=np.float32).T)).T

    def homology_max(self, smith_waterman: np.ndarray) -> np.ndarray:
        """(n_queries, n_candidates): the highest similarity of the query to a reference viral partner of the
        candidate (0 for a candidate without one)."""
        return self._max_over_partners(smith_waterman)

    def _max_over_partners(self, similarity: np.ndarray) -> np.ndarray:
        by_column = self.adjacency.tocsc()
        has = np.diff(by_column.indptr) > 0
        out = np.zeros((similarity.shape[0], self.adjacency.shape[1]), dtype=np.float32)
        if by_column.indices.size:
            out[:, has] = np.maximum.reduceat(similarity[:, by_column.indices], by_column.indptr[:-1][has], axis=1)
        return out

    def features(self, similarities: ViralSimilarities) -> np.ndarray:
        """Features (n_queries, n_candidates, len(FEATURES)), float32, each column written by its name."""
        sw = similarities.smith_waterman
        n_query, n_cand = sw.shape[0], self.adjacency.shape[1]
        out = np.zeros((n_query, n_cand, len(FEATURES)), dtype=np.float32)
        if n_query == 0:
            return out

        def put(name: str, values: np.ndarray) -> None:
            out[:, :, COLUMN[name]] = values

        put("log_popularity", np.log1p(self.popularity)[None])
        homology_max = self.homology_max(sw)
        put("homology_max", homology_max)
        put("homology_sum", np.log1p(100.0 * np.asarray(self.adjacency.T.dot((sw.astype(np.float32) ** 2).T)).T))
        k = min(self.neighbours, sw.shape[1])
        top = np.argpartition(-sw, k - 1, axis=1)[:, :k]
        for i in range(n_query):
            out[i, :, COLUMN["human_side_homology"]] = (sw[i, top[i], None] * self.near_partner[top[i]]).max(0)
        put("kmer_smoothed_popularity", self.smoothed_popularity[None])
        best = sw.max(1)
        put("query_best_similarity", best[:, None])
        put("homology_relative", homology_max / np.maximum(best[:, None], 1e-3))
        kmer = similarities.kmer
        put("kmer_homology_max", self._max_over_partners(kmer))
        put("human_log_length", self.candidate_log_length[None])
        put("virus_log_length", similarities.log_length[:, None])
        put("vote_sw", self._vote(sw, self.neighbours))
        put("vote_composition", self._vote(similarities.composition, self.neighbours))
        put("vote_composition_wide", self._vote(similarities.composition, 4 * self.neighbours))
        put("vote_kmer", self._vote(kmer, self.neighbours))
        for (low, high), popularity in zip(DEGREE_BINS, self.popularity_by_degree):
            put(f"log_popularity_degree_{low}_{high or 'up'}", np.log1p(popularity)[None])
        log_degree = np.log1p(self.degree).astype(np.float32)
        for name, similarity in (("sw", sw), ("composition", similarities.composition)):
            put(f"neighbour_log_degree_{name}", (self._softmax_weights(similarity, 0.05) @ log_degree)[:, None])
        for name, same in (("taxon", similarities.same_taxon), ("family", similarities.same_family)):
            put(f"{name}_log_popularity", np.log1p(self.same_group_partners(same)))
            put(f"{name}_log_size", np.log1p(np.asarray(same, dtype=np.float32).sum(1))[:, None])
        return out

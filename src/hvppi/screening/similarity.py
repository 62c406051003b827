"""How alike proteins are: viral queries against reference viral proteins, human candidates against
reference human proteins (Smith–Waterman, 3-mer and composition similarities)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hvppi.align.similarity import kmer_cosine, kmer_counts, local_similarity
from hvppi.screening.taxa import ViralTaxa, same_group


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
    def build(cls, candidates: Sequence[str], references: Sequence[str], threads: int = 1) -> Candidates:
        by_sequence: dict[str, int] = {}
        canonical = np.array([by_sequence.setdefault(s, r) for r, s in enumerate(references)], dtype=np.int64)
        index = np.array([by_sequence.get(s, -1) for s in candidates], dtype=np.int64)
        kmer = kmer_cosine(candidates, references, threads=threads)
        same = np.flatnonzero(index >= 0)
        reference_sequences = np.asarray(references, dtype=object)
        for c in same.tolist():  # zero every reference copy of the candidate's own sequence
            kmer[c, reference_sequences == candidates[c]] = 0.0
        return cls(index, kmer, np.log([len(s) for s in candidates]).astype(np.float32), canonical)


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
        return cls(viral, Candidates.build(human_sequences, human_sequences, threads), mean, sd)

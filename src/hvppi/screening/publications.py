"""What the publications behind the reference pairs say: the hits of the studies that reported a viral protein's
partners.

A study (an AP-MS screen, a yeast two-hybrid library, a small paper) reports several partners at once; its hits
with other viral proteins are candidates for partners of the same protein. The evidence is counted per candidate
and reference viral protein ``r``: over the publications of ``r``'s pairs, how many reference viral proteins each
reports binding the candidate, summed (a hit that two of them report counts twice; :class:`PublicationEvidence`),
then taken over the query's nearest reference viral proteins as the features :data:`PUBLICATION_FEATURES`. Each can
only grow when a pair is added.

Experimental, and measured (``scripts/screening_known_protein.py``): it helps on the known-protein split, whose
held-out partners are drawn one by one and so mostly sit beside known pairs of the same publication, and not when
whole publications are held out (a new study, as a screen meets). The bundled model does not use it (README,
"Known proteins").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from hvppi.screening.features import Evidence

PUBLICATION_FEATURES = ("publication_partners_sw_max", "publication_partners_softmax")
"""log(1 + the reports of the candidate, with any reference viral protein, by the publications of a neighbour's pairs):
the most over the query's nearest reference viral proteins, each times its Smith–Waterman similarity to the query,
and their sum weighted by a softmax of the similarities over all reference viral proteins (temperature 0.05, as
``neighbour_log_degree_sw``; not renormalised over the nearest)."""


@dataclass(frozen=True)
class PairPublications:
    """The PubMed IDs of each reference pair, in compressed rows: pair ``k``'s are ``pmids[offsets[k]:offsets[k+1]]``.

    >>> pubs = PairPublications.from_lists([[101], [], [101, 202]])
    >>> len(pubs), pubs.of(2).tolist(), pubs.covered
    (3, [101, 202], 2)
    """

    offsets: np.ndarray
    pmids: np.ndarray

    def __post_init__(self) -> None:
        offsets, pmids = np.asarray(self.offsets), np.asarray(self.pmids)
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
            raise ValueError("publication offsets must start at 0 and never decrease")
        if pmids.ndim != 1 or offsets[-1] != len(pmids):
            raise ValueError(f"publication offsets end at {offsets[-1]}, but there are {len(pmids)} PubMed IDs")
        if np.any(pmids <= 0):
            raise ValueError("PubMed IDs are positive numbers")

    @classmethod
    def from_lists(cls, lists: Sequence[Iterable[int]]) -> PairPublications:
        """From one list of PubMed IDs per pair (duplicates within a pair are kept once, in increasing order)."""
        per_pair = [sorted(set(int(p) for p in pmids)) for pmids in lists]
        offsets = np.zeros(len(per_pair) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(p) for p in per_pair])
        flat = np.fromiter((p for pmids in per_pair for p in pmids), dtype=np.int64, count=int(offsets[-1]))
        return cls(offsets, flat)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[tuple[str, str, int]],
        sequences: Mapping[str, str],
        pair_virus: np.ndarray,
        pair_human: np.ndarray,
        virus_sequences: Sequence[str],
        human_sequences: Sequence[str],
    ) -> PairPublications:
        """Per pair (``pair_virus[k]``, ``pair_human[k]``), the PubMed IDs of the (human ID, viral ID, PubMed ID)
        ``rows`` (e.g. :func:`hvppi.screening.benchmark.studies.hpidb_pairs_by_study`) whose two proteins have the
        pair's sequences (``sequences``: ID → sequence; a row of an ID without one is not matched)."""
        virus_index: dict[str, list[int]] = {}
        for i, s in enumerate(virus_sequences):
            virus_index.setdefault(s, []).append(i)
        human_index: dict[str, list[int]] = {}
        for i, s in enumerate(human_sequences):
            human_index.setdefault(s, []).append(i)
        found: dict[tuple[int, int], set[int]] = {}
        for human, virus, pmid in rows:
            for v in virus_index.get(sequences.get(virus, ""), ()):
                for h in human_index.get(sequences.get(human, ""), ()):
                    found.setdefault((v, h), set()).add(int(pmid))
        return cls.from_lists(
            [found.get((int(v), int(h)), ()) for v, h in zip(np.asarray(pair_virus), np.asarray(pair_human))]
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of(self, pair: int) -> np.ndarray:
        """The PubMed IDs of pair ``pair``."""
        return self.pmids[self.offsets[pair] : self.offsets[pair + 1]]

    @property
    def covered(self) -> int:
        """How many pairs have at least one PubMed ID."""
        return int(np.count_nonzero(np.diff(self.offsets)))

    def without(self, pair_virus: np.ndarray, unpublished: Mapping[int, Iterable[int]]) -> PairPublications:
        """The same pairs, each without the publications ``unpublished`` names for its viral protein
        (``pair_virus[k]``; e.g. :attr:`hvppi.screening.benchmark.studies.HeldOutPairs.unpublished`).

        >>> PairPublications.from_lists([[5, 6], [5]]).without(np.array([0, 1]), {0: {5}}).pmids.tolist()
        [6, 5]
        """
        hidden = {int(v): set(int(p) for p in ids) for v, ids in unpublished.items()}
        return PairPublications.from_lists(
            [
                [p for p in self.of(k).tolist() if p not in hidden.get(int(v), ())]
                for k, v in enumerate(np.asarray(pair_virus).tolist())
            ]
        )

    def take(self, pairs: np.ndarray) -> PairPublications:
        """The publications of the pairs ``pairs`` (indices or a boolean mask), in that order."""
        index = np.arange(len(self))[pairs]
        counts = np.diff(self.offsets)[index]
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(counts)
        starts = np.repeat(self.offsets[index] - offsets[:-1], counts)  # each kept ID's shift to its old place
        return PairPublications(offsets, self.pmids[np.arange(offsets[-1]) + starts])


class PublicationEvidence:
    """For the reference viral proteins of an :class:`~hvppi.screening.features.Evidence`: summed over the
    publications of each one's pairs, how many of them each publication reports binding each candidate.

    ``pair_virus``, ``pair_human`` and ``publications`` are the reference pairs the evidence was built from, in the
    same order (pairs of viral proteins the evidence does not know are left out, as there)."""

    def __init__(
        self, evidence: Evidence, pair_virus: np.ndarray, pair_human: np.ndarray, publications: PairPublications
    ):
        pair_virus, pair_human = np.asarray(pair_virus, dtype=np.int64), np.asarray(pair_human, dtype=np.int64)
        if not len(pair_virus) == len(pair_human) == len(publications):
            raise ValueError(f"{len(pair_virus)} pairs but publications for {len(publications)}")
        known = evidence.known_viral
        row_of = np.full(int(max(pair_virus.max(initial=0), known.max(initial=0))) + 1, -1)
        row_of[known] = np.arange(len(known))
        counts = np.diff(publications.offsets)
        rows, human = np.repeat(row_of[pair_virus], counts), np.repeat(pair_human, counts)
        keep = rows >= 0
        rows, human, pmids = rows[keep], human[keep], publications.pmids[keep]
        canonical = evidence.human_side.reference_canonical
        if canonical is not None:  # partners of a sequence under any of its IDs, as the evidence counts them
            human = canonical[human]
        self.pmids, study = np.unique(pmids, return_inverse=True)
        n_study = max(len(self.pmids), 1)
        n_reference_human = evidence.reference_adjacency.shape[1]
        by_protein = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, study)), shape=(len(known), n_study)
        )  # a publication of each reference viral protein's pairs
        by_protein.sum_duplicates()
        by_protein.data[:] = 1.0
        triples = np.unique(np.stack([study, rows, human]), axis=1)  # each viral protein once per study and human
        hits = sp.csr_matrix(
            (np.ones(triples.shape[1], np.float32), (triples[0], triples[2])), shape=(n_study, n_reference_human)
        )
        hits.sum_duplicates()
        mapped = evidence.candidate_reference >= 0
        onto_candidates = hits.tocsc()[:, np.where(mapped, evidence.candidate_reference, 0)]
        self.by_protein = by_protein
        self.hits = (onto_candidates @ sp.diags(mapped.astype(np.float32))).tocsr()
        """(n_publications, n_candidates): how many reference viral proteins each publication reports binding each
        candidate."""

    def counts(self, reference_rows: np.ndarray) -> np.ndarray:
        """(len(reference_rows), n_candidates) float32: per reference viral protein (a row of the evidence), summed
        over the publications of its pairs, how many reference viral proteins each reports binding each candidate."""
        return np.asarray((self.by_protein[np.asarray(reference_rows)] @ self.hits).toarray(), dtype=np.float32)

    def features(self, smith_waterman: np.ndarray, neighbours: int = 10) -> np.ndarray:
        """(n_queries, n_candidates, len(PUBLICATION_FEATURES)) float32 from the queries' Smith–Waterman
        similarities to the evidence's reference viral proteins (n_queries, n_known)."""
        sw = np.asarray(smith_waterman, dtype=np.float32)
        out = np.zeros((sw.shape[0], self.hits.shape[1], len(PUBLICATION_FEATURES)), dtype=np.float32)
        if sw.shape[1] == 0:
            return out
        k = min(neighbours, sw.shape[1])
        top = np.argpartition(-sw, k - 1, axis=1)[:, :k]
        shifted = np.exp((sw - sw.max(1, keepdims=True)).astype(np.float64) / 0.05)
        weights = (shifted / shifted.sum(1, keepdims=True)).astype(np.float32)
        for i in range(sw.shape[0]):
            counts = np.log1p(self.counts(top[i]))
            out[i, :, 0] = (sw[i, top[i], None] * counts).max(0)
            out[i, :, 1] = weights[i, top[i]] @ counts
        return out

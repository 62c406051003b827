"""The screening model behind the :class:`~hvppi.scoring.interface.Scorer` interface, with its evidence columns.

The human side is the model's :class:`~hvppi.screening.features.Evidence` about the candidates; a block of viral
proteins is their similarities to the reference viral proteins, the nearest one and its global identity. Each
row says why the pair ranks where it does: the training viral partner of the human protein most like the query,
the nearest training viral protein (and whether it binds this human protein), the virus used and how many of
its training proteins bind the human protein.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hvppi.datasets.taxonomy import VirusTaxonomy
from hvppi.io.pairs import PairTable
from hvppi.scoring.interface import Column, Log, RankedBlock, ScreenSettings, flat_message, ranked
from hvppi.screening.features import Evidence
from hvppi.screening.model import ScreeningModel
from hvppi.screening.similarity import ViralSimilarities
from hvppi.screening.taxa import ViralTaxa

SCREENING_COLUMNS: tuple[Column, ...] = (
    ("virus_id", "string"),
    ("human_id", "string"),
    ("rank", "int64"),
    ("score", "float64"),
    ("probability", "float64"),
    ("best_partner_virus", "string"),
    ("best_partner_similarity", "float64"),
    ("nearest_training_virus", "string"),
    ("nearest_similarity", "float64"),
    ("nearest_identity", "float64"),
    ("nearest_binds", "int8"),
    ("virus_taxon", "string"),
    ("virus_family", "string"),
    ("same_virus_partners", "int64"),
)
"""Rows of a screen with the screening model; the evidence columns say why a pair ranks where it does."""


@dataclass
class ViralBlock:
    """What the screening model needs of a block of viral proteins, computed once per block: their
    similarities to the reference, the nearest reference viral protein and its global identity."""

    similarities: ViralSimilarities
    nearest: np.ndarray
    identity: np.ndarray
    taxa: ViralTaxa


def viral_block(model: ScreeningModel, virus_sequences: list[str], taxa: ViralTaxa, threads: int = 1) -> ViralBlock:
    """Compare a block of viral proteins (of the viruses ``taxa``) with the model's reference."""
    from hvppi.align.kernels import pair_stats

    similarities = model.similarities(virus_sequences, taxa, threads=threads)
    nearest = similarities.smith_waterman.argmax(axis=1)
    _, identity = pair_stats(
        virus_sequences,
        [model.reference.virus_sequences[j] for j in nearest],
        matrix="BLOSUM62",
        gap_open=11,
        gap_extend=1,
    )
    return ViralBlock(similarities, nearest, np.asarray(identity, dtype=np.float64), taxa)


def best_partners(
    evidence: Evidence, smith_waterman: np.ndarray, order: np.ndarray, virus_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """For candidates ``order`` of one query (similarities ``smith_waterman`` to the reference): the reference viral
    partner most similar to the query ('' if none) and that similarity."""
    by_candidate = evidence.adjacency.tocsc()
    partner_virus = np.full(len(order), "", dtype=object)
    partner_similarity = np.zeros(len(order))
    for k, c in enumerate(order):
        rows = by_candidate.indices[by_candidate.indptr[c] : by_candidate.indptr[c + 1]]
        if rows.size:
            best = rows[np.argmax(smith_waterman[rows])]
            partner_virus[k] = virus_ids[best]
            partner_similarity[k] = smith_waterman[best]
    return partner_virus, partner_similarity


def screening_rows(
    model: ScreeningModel,
    evidence: Evidence,
    block: ViralBlock,
    virus_ids: list[str],
    human_ids: np.ndarray,
    settings: ScreenSettings,
) -> tuple[list[dict], np.ndarray]:
    """Ranked rows (``SCREENING_COLUMNS``, plus ``_order``: the candidates' indices) of each viral protein of
    ``block`` against the candidates of ``evidence``, and the probabilities of all their pairs."""
    raw, probability = model.score(evidence.features(block.similarities))
    same_virus = np.rint(evidence.same_group_partners(block.similarities.same_taxon)).astype(np.int64)
    sw = block.similarities.smith_waterman
    nearest = block.nearest
    reference = model.reference
    nearest_binds = np.asarray(evidence.adjacency[nearest].todense()) > 0
    blocks = []
    for i, virus_id in enumerate(virus_ids):
        order, ranks = ranked(raw[i], settings, keep_score=probability[i])
        partner_virus, partner_similarity = best_partners(evidence, sw[i], order, reference.virus_ids)
        n = len(order)
        blocks.append(
            {
                "virus_id": np.full(n, virus_id, dtype=object),
                "human_id": human_ids[order],
                "rank": ranks,
                "score": raw[i, order],
                "probability": probability[i, order],
                "best_partner_virus": partner_virus,
                "best_partner_similarity": partner_similarity,
                "nearest_training_virus": np.full(n, reference.virus_ids[nearest[i]], dtype=object),
                "nearest_similarity": np.full(n, float(sw[i, nearest[i]])),
                "nearest_identity": np.full(n, float(block.identity[i])),
                "nearest_binds": nearest_binds[i, order].astype(np.int8),
                "virus_taxon": np.full(n, block.taxa.taxa[i] or "", dtype=object),
                "virus_family": np.full(n, block.taxa.families[i] or "", dtype=object),
                "same_virus_partners": same_virus[i, order],
                "_order": order,
            }
        )
    return blocks, probability


def resolve_taxa(
    model: ScreeningModel,
    virus_ids: list[str],
    taxon: str | None = None,
    family: str | None = None,
    taxonomy: VirusTaxonomy | None = None,
) -> ViralTaxa:
    """The virus and family of each viral protein: ``taxon``/``family`` for all, or per protein from ``taxonomy``
    (a taxon brings its family, a family the reference's spelling), else by UniProt accession among the training
    proteins, else unknown. ValueError for both kinds given, or a taxon that is not an NCBI taxid."""
    if taxonomy is not None and (taxon or family):
        raise ValueError("give the virus either for all (--taxon/--family) or per protein (--taxonomy), not both")
    try:
        if taxon or family:
            return model.taxa_of(virus_ids, taxon=taxon, family=family)
    except ValueError as exc:
        raise ValueError(f"--taxon/--family: {exc}") from None
    by_accession = model.taxa_of(virus_ids)
    if taxonomy is None:
        return by_accession
    resolved: dict[tuple[str | None, str | None], tuple[str | None, str | None]] = {}
    taxa, families = [], []
    for k, virus_id in enumerate(virus_ids):
        given = taxonomy.of(virus_id)
        if given == (None, None):
            found = (by_accession.taxa[k], by_accession.families[k])
        else:
            if given not in resolved:
                one = model.taxa_of([virus_id], taxon=given[0], family=given[1])
                resolved[given] = (one.taxa[0], one.families[0])
            found = resolved[given]
        taxa.append(found[0])
        families.append(found[1])
    return ViralTaxa(taxa, families)


class ScreeningScorer:
    """The screening model ready to screen: ``threads`` for the alignments; the viral proteins' viruses bound with
    :meth:`with_viruses` (unbound: by UniProt accession among the training proteins)."""

    kind = "screening"
    columns = SCREENING_COLUMNS
    chunk_size = 32
    cutoff = 0.5

    def __init__(
        self, model: ScreeningModel, threads: int = 1, taxa: dict[str, tuple[str | None, str | None]] | None = None
    ):
        self.model, self.threads, self.taxa = model, threads, taxa

    def with_viruses(
        self,
        virus_ids: list[str],
        taxon: str | None = None,
        family: str | None = None,
        taxonomy: VirusTaxonomy | None = None,
    ) -> ScreeningScorer:
        """This scorer with the virus of each of ``virus_ids`` bound (see :func:`resolve_taxa`)."""
        taxa = resolve_taxa(self.model, virus_ids, taxon, family, taxonomy)
        return ScreeningScorer(self.model, self.threads, dict(zip(virus_ids, zip(taxa.taxa, taxa.families))))

    def taxa_for(self, virus_ids: Sequence[str]) -> ViralTaxa:
        """The virus and family the scorer uses for ``virus_ids``."""
        if self.taxa is None:
            return self.model.taxa_of(list(virus_ids))
        found = [self.taxa.get(v, (None, None)) for v in virus_ids]
        return ViralTaxa([t for t, _ in found], [f for _, f in found])

    def reference_proteins(self, side: str) -> dict[str, str]:
        ref = self.model.reference
        if side == "human":
            return dict(zip(ref.human_ids, ref.human_sequences))
        return dict(zip(ref.virus_ids, ref.virus_sequences))

    def fingerprint(self) -> str:
        return self.model.fingerprint()

    def identity(self, virus_ids: Sequence[str]) -> dict[str, Any]:
        taxa = self.taxa_for(virus_ids)
        return {"taxa": hashlib.sha256(json.dumps([taxa.taxa, taxa.families]).encode()).hexdigest()}

    def check_inputs(self, virus: dict[str, str], human: dict[str, str], log: Log) -> None:
        longest = max((len(s) for s in self.model.reference.virus_sequences), default=0)
        for virus_id, sequence in virus.items():
            if len(sequence) > longest:
                log(
                    f"warning: {virus_id} has {len(sequence):,} residues, more than any training viral protein "
                    f"({longest:,}); a polyprotein is best screened as its mature chains"
                )
        taxa = self.taxa_for(list(virus))
        unknown = int((~self.model.known_to_reference(taxa)).sum())
        if unknown:
            log(
                f"warning: the virus of {unknown} of {len(taxa)} viral proteins is not given or not among the "
                "training proteins' (--taxon, --family, --taxonomy); they are ranked without what is known of "
                "their virus's other proteins"
            )

    def prepare_human(self, human: dict[str, str], progress: bool = False, log: Log | None = None) -> Evidence:
        return self.model.evidence(self.model.candidates(list(human.values())))

    def prepare_virus(self, virus: dict[str, str]) -> ViralBlock:
        return viral_block(self.model, list(virus.values()), self.taxa_for(list(virus)), self.threads)

    def rank_block(
        self, human: Evidence, virus: ViralBlock, human_ids: np.ndarray, virus_ids: list[str], settings: ScreenSettings
    ) -> RankedBlock:
        rows, probability = screening_rows(self.model, human, virus, virus_ids, human_ids, settings)
        sw = virus.similarities.smith_waterman
        return RankedBlock(rows, probability, [float(sw[i, j]) for i, j in enumerate(virus.nearest)])

    def flat_warning(self, virus_id: str, spread: float, nearest_similarity: float) -> str | None:
        return flat_message(virus_id, spread, nearest_similarity)

    def portable(self) -> ScreeningScorer:
        return self

    def check_pairs(self, pairs: PairTable, sequences: dict[str, str], log: Log) -> None:
        ref = self.model.reference
        pairs.check_orientation(ref.virus_ids, ref.human_ids, "the screening model")

    def score_pairs(self, pairs: PairTable, sequences: dict[str, str], progress: bool = False) -> np.ndarray:
        return self.model.score_pairs(pairs.human_ids, pairs.virus_ids, sequences, threads=self.threads)[1]

    def close(self) -> None:
        pass

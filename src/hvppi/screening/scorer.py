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
from hvppi.io.errors import InputError
from hvppi.io.pairs import PairTable
from hvppi.scoring.interface import Column, Log, RankedBlock, ScreenSettings, flat_message, ranked
from hvppi.screening import humancache
from hvppi.screening.features import Evidence
from hvppi.screening.model import ScreeningModel
from hvppi.screening.similarity import ViralSimilarities
from hvppi.screening.taxa import ViralTaxa

SCREENING_COLUMNS: tuple[Column, ...] = (
    ("virus_id", "string"),
    ("human_id", "string"),
    ("human_name", "string"),
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
    ("known", "string"),
    ("evidence", "string"),
)
"""Rows of a screen with the screening model; the evidence columns say why a pair ranks where it does: ``known``
names the sources of a pair already in the training data (the query's sequence is a training viral protein's and
this human protein is its partner; empty otherwise), ``evidence`` says in words what put the row there."""

NOISE_SIMILARITY = 0.1
"""Smith–Waterman similarity (score over the geometric mean of the self-scores) below which two proteins are not
cited as related: unrelated proteins score 0.01–0.05."""


def _bind(count: int) -> str:
    return "binds" if count == 1 else "bind"


def evidence_text(
    known: str,
    same_virus: int,
    virus_label: str,
    partner: str,
    partner_similarity: float,
    nearest: str,
    nearest_similarity: float,
    nearest_binds: bool,
    popularity: int,
    same_family: int = 0,
    family: str | None = None,
) -> str:
    """One row's evidence in words, strongest first; similarities below :data:`NOISE_SIMILARITY` are not cited.
    ``same_virus``: the other proteins of the query's virus that bind the candidate (not the query's own training
    copy when the pair is ``known``); ``popularity``: all training viral proteins that bind it; ``same_family``: the
    other proteins of the query's ``family`` that bind it, cited where none of its virus does.

    The count of all training viral proteins that bind it includes the same-virus ones ("in all"); a candidate that
    no training viral protein binds is "a weak candidate", and "no training protein close to the query" is said
    only when the nearest is below the noise level.

    >>> evidence_text("", 3, "virus 2697049", "P59595", 0.91, "P59595", 0.91, True, 41)
    'the nearest training protein (P59595, 91% similar) binds it; 3 other proteins of virus 2697049 bind it; 41 training viral proteins in all bind it'
    >>> evidence_text("", 0, "", "Q9XYZ1", 0.03, "P12345", 0.04, False, 0)
    'no known viral partner, no training protein close to the query: a weak candidate'
    >>> evidence_text("", 0, "", "", 0.0, "P0DTC2", 1.0, False, 0)
    'no training viral protein binds it: a weak candidate'
    >>> evidence_text("", 0, "", "", 0.0, "P12345", 0.05, False, 9)
    '9 training viral proteins bind it; no close homolog of the query binds it'
    >>> evidence_text("", 0, "this virus", "", 0.0, "P59595", 0.3, False, 9, same_family=2, family="Coronaviridae")
    '2 other proteins of family Coronaviridae bind it; 9 training viral proteins in all bind it'
    """
    parts = []
    if known:  # the query is the training protein of the known pair: count the others
        parts.append(f"known partner ({known})")
        popularity = max(popularity - 1, 0)
    if nearest_binds and nearest_similarity >= NOISE_SIMILARITY and not known:
        parts.append(f"the nearest training protein ({nearest}, {nearest_similarity:.0%} similar) binds it")
    elif partner and partner_similarity >= NOISE_SIMILARITY and not known:
        parts.append(f"a training protein {partner_similarity:.0%} similar to the query ({partner}) binds it")
    if same_virus:
        parts.append(
            f"{same_virus} other protein{'s' if same_virus > 1 else ''} of {virus_label} {_bind(same_virus)} it"
        )
    elif same_family and family:
        parts.append(
            f"{same_family} other protein{'s' if same_family > 1 else ''} of family {family} {_bind(same_family)} it"
        )
    relatives = bool(same_virus or (same_family and family))
    if popularity:
        other = "other " if known else ""
        in_all = " in all" if relatives else ""  # the same-virus (or family) binders are among them
        parts.append(
            f"{popularity} {other}training viral protein{'s' if popularity > 1 else ''}{in_all} {_bind(popularity)} it"
        )
    if not parts:
        if nearest_similarity >= NOISE_SIMILARITY:
            return "no training viral protein binds it: a weak candidate"
        return "no known viral partner, no training protein close to the query: a weak candidate"
    if len(parts) == 1 and popularity and not relatives:
        parts.append("no close homolog of the query binds it")
    return "; ".join(parts)


@dataclass
class ViralBlock:
    """What the screening model needs of a block of viral proteins, computed once per block: their
    similarities to the reference, the nearest reference viral protein and its global identity."""

    similarities: ViralSimilarities
    nearest: np.ndarray
    identity: np.ndarray
    taxa: ViralTaxa
    identical: np.ndarray
    """Per query, the reference viral protein with exactly its sequence (-1: none): its pairs are known pairs."""


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
    by_sequence = {s: k for k, s in enumerate(model.reference.virus_sequences)}
    identical = np.array([by_sequence.get(s, -1) for s in virus_sequences], dtype=np.int64)
    return ViralBlock(similarities, nearest, np.asarray(identity, dtype=np.float64), taxa, identical)


def virus_label(taxon: str | None, family: str | None, code: str | None = None) -> str:
    """How the evidence names the query's virus: "virus 2697049 (Coronaviridae)", with the UniProt organism code
    where the training data gives one ("CVHSA, virus 694009 (Coronaviridae)"), "this virus" when unknown.

    >>> virus_label("694009", "Coronaviridae", "CVHSA")
    'CVHSA, virus 694009 (Coronaviridae)'
    """
    prefix = f"{code}, " if code and taxon else ""
    if taxon and family:
        return f"{prefix}virus {taxon} ({family})"
    if taxon:
        return f"{prefix}virus {taxon}"
    return f"family {family}" if family else "this virus"


def known_sources(model: ScreeningModel, evidence: Evidence, reference_virus: int, order: np.ndarray) -> np.ndarray:
    """For candidates ``order``: the sources of the pair if the query is the reference viral protein
    ``reference_virus`` (-1: none) and the candidate is its partner ('' otherwise)."""
    out = np.full(len(order), "", dtype=object)
    if reference_virus < 0:
        return out
    reference = model.reference
    rows = np.flatnonzero(reference.pair_virus == reference_virus)
    partner_source = {int(reference.pair_human[k]): k for k in rows}
    mapped = evidence.candidate_reference[order]
    for k, r in enumerate(mapped.tolist()):
        if r >= 0 and r in partner_source:
            pair = partner_source[r]
            if reference.pair_sources is not None and reference.source_names:
                out[k] = ", ".join(reference.sources_of(int(reference.pair_sources[pair])))
            out[k] = out[k] or "training data"
    return out


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
    human_names: np.ndarray | None = None,
) -> tuple[list[dict], np.ndarray]:
    """Ranked rows (``SCREENING_COLUMNS``, plus ``_order``: the candidates' indices) of each viral protein of
    ``block`` against the candidates of ``evidence``, and the probabilities of all their pairs."""
    raw, probability = model.score(evidence.features(block.similarities))
    same_virus = np.rint(evidence.same_group_partners(block.similarities.same_taxon)).astype(np.int64)
    same_family = np.rint(evidence.same_group_partners(block.similarities.same_family)).astype(np.int64)
    popularity = np.rint(evidence.popularity).astype(np.int64)
    sw = block.similarities.smith_waterman
    nearest = block.nearest
    reference = model.reference
    nearest_binds = np.asarray(evidence.adjacency[nearest].todense()) > 0
    blocks = []
    for i, virus_id in enumerate(virus_ids):
        order, ranks = ranked(raw[i], settings, keep_score=probability[i])
        partner_virus, partner_similarity = best_partners(evidence, sw[i], order, reference.virus_ids)
        n = len(order)
        known = known_sources(model, evidence, block.identical[i], order)
        own = block.identical[i]  # the query's own training copy counts among its virus's partners if of its virus
        own_counted = int(own >= 0 and bool(block.similarities.same_taxon[i, own]))
        own_in_family = int(own >= 0 and bool(block.similarities.same_family[i, own]))
        taxon = block.taxa.taxa[i]
        label = virus_label(taxon, block.taxa.families[i], (model.metadata.get("virus_codes") or {}).get(taxon or ""))
        nearest_id, nearest_sim = reference.virus_ids[nearest[i]], float(sw[i, nearest[i]])
        words = [
            evidence_text(
                known[k],
                int(same_virus[i, c]) - (own_counted if known[k] else 0),
                label,
                partner_virus[k],
                float(partner_similarity[k]),
                nearest_id,
                nearest_sim,
                bool(nearest_binds[i, c]),
                int(popularity[c]),
                int(same_family[i, c]) - (own_in_family if known[k] else 0),
                block.taxa.families[i],
            )
            for k, c in enumerate(order)
        ]
        blocks.append(
            {
                "virus_id": np.full(n, virus_id, dtype=object),
                "human_id": human_ids[order],
                "human_name": human_names[order] if human_names is not None else np.full(n, "", dtype=object),
                "rank": ranks,
                "score": raw[i, order],
                "probability": probability[i, order],
                "best_partner_virus": partner_virus,
                "best_partner_similarity": partner_similarity,
                "nearest_training_virus": np.full(  # none for a query like nothing (all X: similarity 0)
                    n, reference.virus_ids[nearest[i]] if sw[i, nearest[i]] > 0 else "", dtype=object
                ),
                "nearest_similarity": np.full(n, float(sw[i, nearest[i]])),
                "nearest_identity": np.full(n, float(block.identity[i])),
                "nearest_binds": nearest_binds[i, order].astype(np.int8),
                "virus_taxon": np.full(n, block.taxa.taxa[i] or "", dtype=object),
                "virus_family": np.full(n, block.taxa.families[i] or "", dtype=object),
                "same_virus_partners": same_virus[i, order],
                "known": known,
                "evidence": np.asarray(words, dtype=object),
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


def warn_duplicates(proteins: dict[str, str], side: str, log: Log) -> None:
    """Name (up to 5 groups) the IDs that share one sequence: each is ranked, with the same scores."""
    by_sequence: dict[str, list[str]] = {}
    for pid, sequence in proteins.items():
        by_sequence.setdefault(sequence, []).append(pid)
    groups = [ids for ids in by_sequence.values() if len(ids) > 1]
    if groups:
        shown = "; ".join(" = ".join(ids[:4]) for ids in groups[:5])
        log(
            f"warning: {len(groups)} {side} sequence{'s are' if len(groups) > 1 else ' is'} given under several IDs "
            f"({shown}{' ...' if len(groups) > 5 else ''}); each ID gets its own rows, with the same scores"
        )


class ScreeningScorer:
    """The screening model ready to screen: ``threads`` for the alignments; the viral proteins' viruses bound with
    :meth:`with_viruses` (unbound: by UniProt accession among the training proteins)."""

    kind = "screening"
    columns = SCREENING_COLUMNS
    chunk_size = 32
    cutoff = 0.5

    def __init__(
        self,
        model: ScreeningModel,
        threads: int = 1,
        taxa: dict[str, tuple[str | None, str | None]] | None = None,
        names: dict[str, str] | None = None,
        disagreements: dict[str, str] | None = None,
    ):
        self.model, self.threads, self.taxa = model, threads, taxa
        self.disagreements = dict(disagreements or {})
        """Viral ID → what the rows of the taxonomy bound by :meth:`with_viruses` disagree on for it, in words."""
        self.keep_human_sides = True
        """Whether :meth:`prepare_human` reads and keeps human sides in the cache (off in :meth:`portable` copies)."""
        self.names = {**dict(model.metadata.get("names") or {}), **dict(names or {})}
        """ID → protein name: the input's FASTA headers first, then the training data's (by ID or accession)."""

    def name_of(self, protein_id: str) -> str:
        """The name of a protein ('' if neither the input nor the training data names it)."""
        return self.names.get(protein_id) or self.names.get(protein_id.split("-", 1)[0], "")

    def with_names(self, names: dict[str, str]) -> ScreeningScorer:
        """This scorer with more protein names (e.g. from the input's FASTA headers), which win over the model's."""
        return ScreeningScorer(self.model, self.threads, self.taxa, {**self.names, **names}, self.disagreements)

    def with_viruses(
        self,
        virus_ids: list[str],
        taxon: str | None = None,
        family: str | None = None,
        taxonomy: VirusTaxonomy | None = None,
    ) -> ScreeningScorer:
        """This scorer with the virus of each of ``virus_ids`` bound (see :func:`resolve_taxa`). Where the rows of
        ``taxonomy`` disagree on a protein's virus, :meth:`check_inputs` and :meth:`score_pairs` warn (see
        :meth:`warn_disagreements`)."""
        taxa = resolve_taxa(self.model, virus_ids, taxon, family, taxonomy)
        disagreements: dict[str, str] = {}
        if taxonomy is not None:
            disagreements = {v: said for v in virus_ids if (said := taxonomy.disagreement(v))}
        bound = dict(zip(virus_ids, zip(taxa.taxa, taxa.families)))
        return ScreeningScorer(self.model, self.threads, bound, self.names, disagreements)

    def taxa_for(self, virus_ids: Sequence[str]) -> ViralTaxa:
        """The virus and family the scorer uses for ``virus_ids``: those bound (:meth:`with_viruses`), else those the
        training data gives their UniProt accessions."""
        if self.taxa is None:
            return self.model.taxa_of(list(virus_ids))
        found = [self.taxa.get(v, (None, None)) for v in virus_ids]
        return ViralTaxa([t for t, _ in found], [f for _, f in found])

    def training_taxa(self, virus_ids: Sequence[str], sequences: Sequence[str] | None = None) -> ViralTaxa:
        """The virus the training data gives each protein: by UniProt accession, else (``sequences`` given) that of
        the training viral protein with exactly its sequence (a training protein under another ID)."""
        found = self.model.taxa_of(list(virus_ids))
        if sequences is None:
            return found
        ref = self.model.reference
        index = {s: k for k, s in reversed(list(enumerate(ref.virus_sequences)))}  # the first with the sequence
        taxa, families = list(found.taxa), list(found.families)
        for k, sequence in enumerate(sequences):
            j = index.get(sequence)
            if taxa[k] is None and families[k] is None and j is not None:
                taxa[k], families[k] = ref.taxa.taxa[j], ref.taxa.families[j]
        return ViralTaxa(taxa, families)

    def warn_other_viruses(self, virus: dict[str, str], log: Log) -> None:
        """Name (up to 5) the viral proteins screened as another virus than the one the training data gives them
        (``--taxon`` given for a mixed set, say)."""
        if self.taxa is None:
            return
        used = self.taxa_for(list(virus))
        known = self.training_taxa(list(virus), list(virus.values()))
        other = [
            f"{pid} is {virus_label(kt, kf)} in the training data, screened as {virus_label(ut, uf)}"
            for pid, ut, uf, kt, kf in zip(virus, used.taxa, used.families, known.taxa, known.families)
            if (ut is not None or uf is not None)  # none used: warn_unknown_viruses says so
            and ((kt is not None and kt != ut) or (kt is None and kf is not None and kf != uf))
        ]
        if other:
            log(
                f"warning: {len(other)} viral protein{'s are' if len(other) > 1 else ' is'} screened as another virus "
                f"than the training data gives ({'; '.join(other[:5])}{' ...' if len(other) > 5 else ''}); give "
                "each protein's virus with --taxonomy if they come from several"
            )

    def warn_disagreements(self, virus_ids: Sequence[str], log: Log) -> None:
        """Name (up to 5) the viral proteins whose rows in the taxonomy given to :meth:`with_viruses` name several
        taxa or families, with each one's rows and the one used. The reader takes the most frequent without a word,
        as is right for the merged sources the model is built and benchmarked from (read by
        :func:`hvppi.screening.recipe.default_taxonomy`, not through here); a user's table deserves a look."""
        said = list(dict.fromkeys(self.disagreements[v] for v in virus_ids if v in self.disagreements))
        if said:
            log(
                f"warning: the taxonomy's rows disagree on the virus of {len(said)} viral protein"
                f"{'s' if len(said) > 1 else ''} ({'; '.join(said[:5])}{' ...' if len(said) > 5 else ''}); each "
                "takes the one most rows give (with a Dataset column: most sources; a tie: more rows, then the "
                "alphabetically first): check those rows"
            )

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

    def check_sides(self, virus: dict[str, str], human: dict[str, str]) -> None:
        """InputError naming up to 5 IDs when viral inputs are proteins the training data knows as human, or human
        inputs ones it knows as viral (by ID or sequence): swapped or mixed files."""
        ref = self.model.reference
        human_known, virus_known = set(ref.human_sequences) | set(ref.human_ids), set(ref.virus_sequences)
        virus_known |= set(ref.virus_ids)
        for given, other, side, other_side in (
            (virus, human_known, "viral", "human"),
            (human, virus_known, "human", "viral"),
        ):
            wrong = [pid for pid, s in given.items() if pid in other or s in other]
            if wrong and (side == "viral" or len(wrong) > 0.01 * len(given)):
                raise InputError(
                    f"{len(wrong)} of the {side} proteins are {other_side} proteins of the training data "
                    f"({', '.join(wrong[:5])}{' ...' if len(wrong) > 5 else ''}): are the viral and human inputs swapped?"
                )

    def check_inputs(self, virus: dict[str, str], human: dict[str, str], log: Log) -> None:
        self.check_sides(virus, human)
        warn_duplicates(human, "human", log)
        warn_duplicates(virus, "viral", log)
        longest = max((len(s) for s in self.model.reference.virus_sequences), default=0)
        for virus_id, sequence in virus.items():
            if len(sequence) > longest:
                log(
                    f"warning: {virus_id} has {len(sequence):,} residues, more than any training viral protein "
                    f"({longest:,}); a polyprotein is best screened as its mature chains"
                )
        self.warn_disagreements(list(virus), log)
        self.warn_unknown_viruses(list(virus), log, list(virus.values()))
        self.warn_other_viruses(virus, log)

    def warn_unknown_viruses(self, virus_ids: list[str], log: Log, sequences: list[str] | None = None) -> None:
        """Name (up to 5) the viral proteins whose virus the model cannot use: not given, or of no training protein
        (with ``sequences``: and the virus of those identical to a training viral protein under another ID)."""
        taxa = self.taxa_for(virus_ids)
        unknown = [v for v, ok in zip(virus_ids, self.model.known_to_reference(taxa)) if not ok]
        if unknown:
            given = sorted({t for v, t in zip(virus_ids, taxa.taxa) if t is not None and v in unknown})
            what = f" (taxon {', '.join(given[:3])} is no training protein's)" if given else ""
            log(
                f"warning: the virus of {len(unknown)} of {len(virus_ids)} viral proteins "
                f"({', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}) is not given or not among the training "
                f"proteins'{what}; they are ranked without what is known of their virus's other proteins (give it "
                "with --taxon, --family or --taxonomy)"
            )
        if unknown and sequences is not None:  # a training protein under another ID
            known = self.training_taxa(virus_ids, sequences)
            same = [
                f"{v} is a training protein of {virus_label(t, f)}"
                for v, t, f, ok in zip(virus_ids, known.taxa, known.families, self.model.known_to_reference(known))
                if v in unknown and ok
            ]
            if same:
                shown = "; ".join(same[:5]) + (" ..." if len(same) > 5 else "")
                log(f"warning: by sequence, {shown} under another ID (give its virus with --taxon or --taxonomy)")

    def prepare_human(self, human: dict[str, str], progress: bool = False, log: Log | None = None) -> Evidence:
        """The evidence about ``human``: from the cache (:mod:`hvppi.screening.humancache`) when this model file
        has met this human set before, else computed (and kept for next time)."""
        sequences = list(human.values())
        ref = self.model.reference
        key = None
        if self.keep_human_sides and self.model.file_sha256:
            key = humancache.human_side_key(self.model.file_sha256, sequences)
            side = humancache.load_human_side(key, len(ref.virus_ids), len(sequences), len(ref.human_ids))
            if side is not None:
                return self.model.evidence(side)
        big = len(sequences) >= humancache.MIN_PROTEINS
        if log is not None and big:
            log(
                f"comparing the {len(sequences):,} human proteins with the model's {len(ref.human_ids):,} reference "
                "human proteins (once per model and human set when the cache is on) ..."
            )
        evidence = self.model.evidence(self.model.candidates(sequences, self.threads))
        if key is not None and big:
            kept = humancache.save_human_side(key, evidence.human_side)
            folder = humancache.cache_dir()
            if log is not None:
                log(
                    f"kept in {kept} for the next screen against these human proteins"
                    if kept
                    else "not kept: HVPPI_CACHE_DIR=off"
                    if folder is None
                    else f"warning: could not keep it in {folder} (not a writable folder); the next screen against "
                    "these human proteins computes it again"
                )
        return evidence

    def prepare_virus(self, virus: dict[str, str]) -> ViralBlock:
        return viral_block(self.model, list(virus.values()), self.taxa_for(list(virus)), self.threads)

    def rank_block(
        self, human: Evidence, virus: ViralBlock, human_ids: np.ndarray, virus_ids: list[str], settings: ScreenSettings
    ) -> RankedBlock:
        names = np.array([self.name_of(h) for h in human_ids], dtype=object)
        rows, probability = screening_rows(self.model, human, virus, virus_ids, human_ids, settings, names)
        sw = virus.similarities.smith_waterman
        return RankedBlock(rows, probability, [float(sw[i, j]) for i, j in enumerate(virus.nearest)])

    def flat_warning(self, virus_id: str, spread: float, nearest_similarity: float) -> str | None:
        return flat_message(virus_id, spread, nearest_similarity)

    def portable(self) -> ScreeningScorer:
        """This scorer for other processes (Dask workers), without the human-side cache: a worker's blocks of human
        proteins would only push the whole set's entry out of it."""
        copy = ScreeningScorer(self.model, self.threads, self.taxa)
        copy.names, copy.keep_human_sides = self.names, False
        return copy

    def check_pairs(self, pairs: PairTable, sequences: dict[str, str], log: Log) -> None:
        ref = self.model.reference
        pairs.check_orientation(ref.virus_ids, ref.human_ids, "the screening model")
        viruses = list(dict.fromkeys(pairs.virus_ids))
        humans = list(dict.fromkeys(pairs.human_ids))
        self.check_sides({v: sequences[v] for v in viruses}, {h: sequences[h] for h in humans})

    def score_pairs(
        self, pairs: PairTable, sequences: dict[str, str], progress: bool = False, log: Log | None = None
    ) -> np.ndarray:
        viruses = list(dict.fromkeys(pairs.virus_ids))
        if log is not None:
            self.warn_disagreements(viruses, log)
            self.warn_unknown_viruses(viruses, log)
        taxa = self.taxa_for(viruses)
        return self.model.score_pairs(pairs.human_ids, pairs.virus_ids, sequences, taxa, threads=self.threads)[1]

    def known_pairs(self, pairs: PairTable, sequences: dict[str, str]) -> list[str] | None:
        """For each pair, the sources of the training data that hold it, matched by sequence as the ``known`` column
        of a screen is ('' if none)."""
        ref = self.model.reference
        virus_index = {s: k for k, s in enumerate(ref.virus_sequences)}
        human_index: dict[str, list[int]] = {}
        for k, s in enumerate(ref.human_sequences):
            human_index.setdefault(s, []).append(k)
        row = {(v, h): k for k, (v, h) in enumerate(zip(ref.pair_virus.tolist(), ref.pair_human.tolist()))}
        out = []
        for human_id, virus_id in zip(pairs.human_ids, pairs.virus_ids):
            v = virus_index.get(sequences[virus_id], -1)
            found = [row[(v, h)] for h in human_index.get(sequences[human_id], []) if (v, h) in row]
            sources = ""
            if found:
                if ref.pair_sources is not None and ref.source_names:
                    sources = ", ".join(ref.sources_of(int(ref.pair_sources[found[0]])))
                sources = sources or "training data"
            out.append(sources)
        return out

    def close(self) -> None:
        pass

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
from typing import Any

import numpy as np

from hvppi.screening.calibration import IsotonicCalibration
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import Evidence, HumanSide
from hvppi.screening.similarity import Candidates, ViralSimilarities, viral_similarities
from hvppi.screening.taxa import ViralTaxa
from hvppi.screening.trees import TreeEnsemble

NOT_VIRUSES = {"9606": "Homo sapiens", "0": "no taxon", "1": "the root of the NCBI taxonomy", "10239": "all viruses"}
"""Taxids a user may give by mistake for a virus: refused with their name."""

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
    pair_sources: np.ndarray | None = None
    """Per pair, a bit mask of ``source_names`` (bit k: reported by source k); None: not recorded."""
    source_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.pair_sources is not None and len(self.pair_sources) != len(self.pair_virus):
            raise ValueError("one source mask per reference pair")
        if len(self.source_names) > 8:
            raise ValueError("at most 8 sources (one bit each)")
        if self.virus_taxa is None:
            self.virus_taxa = ViralTaxa.unknown(len(self.virus_ids))
        elif len(self.virus_taxa) != len(self.virus_ids):
            raise ValueError("one taxon and family per reference viral protein")

    @property
    def taxa(self) -> ViralTaxa:
        assert self.virus_taxa is not None
        return self.virus_taxa

    def sources_of(self, mask: int) -> list[str]:
        """The names of the sources whose bits are set in ``mask``."""
        return [name for k, name in enumerate(self.source_names) if mask >> k & 1]

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
    def candidates(self, human_sequences: Sequence[str], threads: int = 1) -> Candidates:
        return Candidates.build(list(human_sequences), self.reference.human_sequences, threads)

    def evidence(self, candidates: Candidates | HumanSide) -> Evidence:
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
        self,
        virus_sequences: Sequence[str],
        taxa: ViralTaxa | None = None,
        progress: bool = False,
        threads: int = 1,
    ) -> ViralSimilarities:
        """Compare viral proteins with the reference; ``taxa``: their taxon and family (None: not given)."""
        return viral_similarities(
            list(virus_sequences),
            self.reference.virus_sequences,
            (self.composition_mean, self.composition_sd),
            threads=threads,
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
            if canonical in NOT_VIRUSES:
                raise ValueError(
                    f"taxon {canonical} is {NOT_VIRUSES[canonical]}, not a virus: give the viral proteins' virus"
                )
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
        threads: int = 1,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(raw scores, probabilities), each (len(virus_sequences), len(human_sequences))."""
        evidence = self.evidence(self.candidates(human_sequences, threads))
        taxa = taxa or ViralTaxa.unknown(len(virus_sequences))
        if len(taxa) != len(virus_sequences):
            raise ValueError(f"{len(taxa)} taxa for {len(virus_sequences)} viral proteins")
        raw = np.zeros((len(virus_sequences), len(human_sequences)))
        probability = np.zeros_like(raw)
        for start in range(0, len(virus_sequences), chunk_size):
            chunk = list(virus_sequences[start : start + chunk_size])
            block = taxa.take(range(start, start + len(chunk)))
            raw[start : start + len(chunk)], probability[start : start + len(chunk)] = self.score(
                evidence.features(self.similarities(chunk, block, threads=threads))
            )
        return raw, probability

    def score_pairs(
        self,
        human_ids: Sequence[str],
        virus_ids: Sequence[str],
        sequences: dict[str, str],
        taxa: ViralTaxa | None = None,
        threads: int = 1,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(raw score, calibrated probability) of each pair (human_ids[k], virus_ids[k]), in input order.

        Each distinct protein is compared with the reference once. ``taxa``: the virus of each distinct viral
        protein, in order of first appearance (default: by UniProt accession, :meth:`taxa_of`).
        """
        humans = list(dict.fromkeys(human_ids))
        viruses = list(dict.fromkeys(virus_ids))
        raw, probability = self.score_matrix(
            [sequences[v] for v in viruses],
            [sequences[h] for h in humans],
            taxa=taxa if taxa is not None else self.taxa_of(viruses),
            threads=threads,
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
        """Write a safetensors file (:func:`hvppi.screening.modelfile.save_screening_model`)."""
        from hvppi.screening.modelfile import save_screening_model

        save_screening_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ScreeningModel:
        """Read a file written by :meth:`save` (:func:`hvppi.screening.modelfile.read_screening_model`)."""
        from hvppi.screening.modelfile import read_screening_model

        return read_screening_model(path)

"""The screening benchmark's data: viral proteins with known partners, every human candidate, and the positives
(plus training-only positives from other sources)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hvppi.datasets.taxonomy import VirusTaxonomy, read_virus_taxonomy
from hvppi.io.errors import InputError
from hvppi.io.pairs import PairTable, read_pairs
from hvppi.io.sequences import read_sequences
from hvppi.screening.model import Reference
from hvppi.screening.recipe import SequenceUnion
from hvppi.screening.similarity import Candidates, SimilarityBundle
from hvppi.screening.taxa import ViralTaxa


@dataclass
class ScreeningData:
    """Viral proteins with at least one known partner, every human protein, and the positive pairs."""

    virus_ids: list[str]
    virus_sequences: list[str]
    human_ids: list[str]
    human_sequences: list[str]
    pairs: np.ndarray  # (n, 2): viral index, human index
    extra_virus_ids: list[str] = field(default_factory=list)
    extra_virus_sequences: list[str] = field(default_factory=list)
    extra_human_ids: list[str] = field(default_factory=list)
    extra_human_sequences: list[str] = field(default_factory=list)
    extra_pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    """Training-only positives (viral, human) indexed over the universe: this data's proteins first, then the
    extra ones. They train the model (and inform the baselines) when their viral protein is not held out; without
    a background, the candidates and the positives scored stay this data's."""
    background_ids: list[str] = field(default_factory=list)
    background_sequences: list[str] = field(default_factory=list)
    """Human proteins chosen by species, not by labels (:meth:`with_background`): with them the benchmark is the
    open world — every human protein of the universe is a candidate, and every known partner a positive."""

    @property
    def universe_virus_sequences(self) -> list[str]:
        return self.virus_sequences + self.extra_virus_sequences

    @property
    def universe_human_sequences(self) -> list[str]:
        return self.human_sequences + self.extra_human_sequences + self.background_sequences

    @property
    def universe_human_ids(self) -> list[str]:
        return self.human_ids + self.extra_human_ids + self.background_ids

    @property
    def open_world(self) -> bool:
        """Whether human proteins chosen by species (not by labels) are candidates too."""
        return len(self.background_ids) > 0

    def with_background(self, universe: Mapping[str, str]) -> ScreeningData:
        """This data with the human proteins of ``universe`` (ID → sequence; e.g.
        :func:`hvppi.datasets.proteome.human_universe`) that it does not hold yet (by sequence) as candidates too.
        Proteins with a letter outside the 20 standard amino acids, or a viral protein's sequence, are left out."""
        from hvppi.io.alphabet import STANDARD_AMINO_ACIDS

        standard = set(STANDARD_AMINO_ACIDS)
        seen = set(self.human_sequences) | set(self.extra_human_sequences) | set(self.universe_virus_sequences)
        ids, sequences = [], []
        for pid, sequence in universe.items():
            if sequence not in seen and not set(sequence) - standard:
                seen.add(sequence)
                ids.append(pid)
                sequences.append(sequence)
        return replace(self, background_ids=ids, background_sequences=sequences)

    def open_labels(self, viral: np.ndarray) -> np.ndarray:
        """Every known partner (this data's pairs and the extra ones) of the viral proteins ``viral`` among every
        human protein of the universe: (len(viral), n_universe_humans), bool."""
        row_of = np.full(len(self.universe_virus_sequences), -1)
        row_of[viral] = np.arange(len(viral))
        out = np.zeros((len(viral), len(self.universe_human_sequences)), dtype=bool)
        pairs = np.concatenate([self.pairs, self.extra_pairs]) if self.has_extra else self.pairs
        keep = row_of[pairs[:, 0]] >= 0
        out[row_of[pairs[keep, 0]], pairs[keep, 1]] = True
        return out

    @property
    def has_extra(self) -> bool:
        return len(self.extra_pairs) > 0

    def with_extra(self, pairs: Sequence[tuple[str, str]], sequences: dict[str, str]) -> ScreeningData:
        """This data plus extra positive pairs (human ID, viral ID) for training.

        Proteins are matched by sequence: an extra pair of a protein of this data adds to its known partners;
        other proteins are added as extra ones (never candidates). The pairs follow the union rules of the
        default model's recipe (:class:`hvppi.screening.recipe.SequenceUnion`, with this data's proteins on their
        sides): pairs with a missing sequence, a letter outside the 20 standard amino acids, or a sequence on both
        sides are skipped.
        """
        union = SequenceUnion(pairs, sequences, self.human_sequences, self.virus_sequences)
        virus_index = {s: i for i, s in enumerate(self.virus_sequences)}
        human_index = {s: i for i, s in enumerate(self.human_sequences)}
        virus_ids, virus_sequences = list(self.extra_virus_ids), list(self.extra_virus_sequences)
        human_ids, human_sequences = list(self.extra_human_ids), list(self.extra_human_sequences)
        for i, s in enumerate(virus_sequences):
            virus_index.setdefault(s, len(self.virus_ids) + i)
        for i, s in enumerate(human_sequences):
            human_index.setdefault(s, len(self.human_ids) + i)
        index = set(map(tuple, self.extra_pairs.tolist()))
        for _, hs, vs in union.kept():
            if vs not in virus_index:
                virus_index[vs] = len(self.virus_ids) + len(virus_ids)
                virus_ids.append(union.names[vs])
                virus_sequences.append(vs)
            if hs not in human_index:
                human_index[hs] = len(self.human_ids) + len(human_ids)
                human_ids.append(union.names[hs])
                human_sequences.append(hs)
            index.add((virus_index[vs], human_index[hs]))
        index -= set(map(tuple, self.pairs.tolist()))
        return ScreeningData(
            self.virus_ids,
            self.virus_sequences,
            self.human_ids,
            self.human_sequences,
            self.pairs,
            virus_ids,
            virus_sequences,
            human_ids,
            human_sequences,
            np.asarray(sorted(index), dtype=np.int64).reshape(-1, 2),
        )

    def universe_taxa(self, taxonomy: VirusTaxonomy | None) -> ViralTaxa:
        """Taxon and family of every viral protein of the universe (this data's, then the extra ones)."""
        ids = self.virus_ids + self.extra_virus_ids
        if taxonomy is None:
            return ViralTaxa.unknown(len(ids))
        known = [taxonomy.of(v) for v in ids]
        return ViralTaxa([t for t, _ in known], [f for _, f in known])

    def universe_reference(self) -> Reference:
        """Every protein (this data's, then the extra ones) and every positive pair, for training."""
        pairs = np.concatenate([self.pairs, self.extra_pairs]) if self.has_extra else self.pairs
        return Reference(
            self.virus_ids + self.extra_virus_ids,
            self.universe_virus_sequences,
            self.universe_human_ids,
            self.universe_human_sequences,
            pairs[:, 0],
            pairs[:, 1],
        )

    @classmethod
    def from_pairs(cls, pairs: PairTable, sequences: dict[str, str]) -> ScreeningData:
        """Positives are the pairs labelled 1; candidates every human protein of the table.

        IDs with the same sequence are one protein (the first ID in sorted order names it), so a protein is
        never a candidate negative under one ID while a known partner under another.
        """
        labels = pairs.require_labels("pairs of the screening benchmark")
        pairs.check_sequences(sequences)
        human_name = names_by_sequence(sorted(set(pairs.human_ids)), sequences)
        positive = np.flatnonzero(labels == 1)
        virus_name = names_by_sequence(sorted({pairs.virus_ids[i] for i in positive}), sequences)
        human_ids = sorted(set(human_name.values()))
        virus_ids = sorted(set(virus_name.values()))
        both = set(human_name) & set(virus_name)
        if both:
            raise InputError(
                f"{len(both)} IDs are both human and viral (e.g. {sorted(both)[0]}); are some columns swapped?",
                pairs.path,
            )
        vi = {v: i for i, v in enumerate(virus_ids)}
        hi = {h: i for i, h in enumerate(human_ids)}
        index = sorted({(vi[virus_name[pairs.virus_ids[i]]], hi[human_name[pairs.human_ids[i]]]) for i in positive})
        return cls(
            virus_ids,
            [sequences[v] for v in virus_ids],
            human_ids,
            [sequences[h] for h in human_ids],
            np.asarray(index, dtype=np.int64).reshape(-1, 2),
        )

    def subset(self, viral: int, human: int, seed: int = 0) -> ScreeningData:
        """A seeded random ``viral`` viral proteins with their pairs; as candidates, their partners plus random
        other human proteins up to ``human`` (for quick, repeatable checks of the benchmark)."""
        rng = np.random.default_rng(seed)
        chosen_viral = np.sort(rng.choice(len(self.virus_ids), min(viral, len(self.virus_ids)), replace=False))
        keep = np.isin(self.pairs[:, 0], chosen_viral)
        partners = np.unique(self.pairs[keep, 1])
        others = np.setdiff1d(np.arange(len(self.human_ids)), partners)
        extra = rng.choice(others, max(0, min(human - len(partners), len(others))), replace=False)
        chosen_human = np.sort(np.concatenate([partners, extra]))
        new_viral = np.full(len(self.virus_ids), -1)
        new_viral[chosen_viral] = np.arange(len(chosen_viral))
        new_human = np.full(len(self.human_ids), -1)
        new_human[chosen_human] = np.arange(len(chosen_human))
        pairs = np.stack([new_viral[self.pairs[keep, 0]], new_human[self.pairs[keep, 1]]], axis=1)
        return ScreeningData(
            [self.virus_ids[i] for i in chosen_viral],
            [self.virus_sequences[i] for i in chosen_viral],
            [self.human_ids[i] for i in chosen_human],
            [self.human_sequences[i] for i in chosen_human],
            pairs,
        )

    def reference(self) -> Reference:
        return Reference(
            self.virus_ids,
            self.virus_sequences,
            self.human_ids,
            self.human_sequences,
            self.pairs[:, 0],
            self.pairs[:, 1],
        )

    def labels(self, viral: np.ndarray) -> np.ndarray:
        """Known-partner matrix (len(viral), n_human), bool."""
        row_of = np.full(len(self.virus_ids), -1)
        row_of[viral] = np.arange(len(viral))
        out = np.zeros((len(viral), len(self.human_ids)), dtype=bool)
        keep = row_of[self.pairs[:, 0]] >= 0
        out[row_of[self.pairs[keep, 0]], self.pairs[keep, 1]] = True
        return out

    def extra_labels(self, viral: np.ndarray) -> np.ndarray:
        """Partners known only from the extra pairs (len(viral), n_human), bool: extra pairs of these viral proteins
        with a candidate human protein, less the data's own pairs."""
        row_of = np.full(len(self.virus_ids) + len(self.extra_virus_ids), -1)
        row_of[viral] = np.arange(len(viral))
        out = np.zeros((len(viral), len(self.human_ids)), dtype=bool)
        pairs = self.extra_pairs[(row_of[self.extra_pairs[:, 0]] >= 0) & (self.extra_pairs[:, 1] < len(self.human_ids))]
        out[row_of[pairs[:, 0]], pairs[:, 1]] = True
        return out & ~self.labels(viral)


def names_by_sequence(ids: list[str], sequences: dict[str, str]) -> dict[str, str]:
    """Each ID → the first of ``ids`` with the same sequence."""
    first: dict[str, str] = {}
    return {pid: first.setdefault(sequences[pid], pid) for pid in ids}


def read_families(path: str | os.PathLike) -> dict[str, str]:
    """Virus family of each viral accession from a taxonomy table (see :mod:`hvppi.datasets.taxonomy`)."""
    return read_virus_taxonomy(path).families()


def candidates_of_data(data: ScreeningData, bundle: SimilarityBundle) -> Candidates:
    """The candidates scored: in the open world every human protein of the universe; else this data's human
    proteins (the first of the universe), against every reference human."""
    c = bundle.candidates
    if data.open_world:
        return c
    n = len(data.human_ids)
    return Candidates(c.reference_index[:n], c.kmer[:n], c.log_length[:n], c.reference_canonical)


def benchmark_data(folder: str | os.PathLike) -> ScreeningData:
    """The LSTM-PHV benchmark's train and test pairs (``folder``: its folder, e.g. ``../shared/data/lstm-phv-benchmark``)."""
    folder = Path(folder)
    pairs = PairTable.concat([read_pairs(folder / f"protein_pair_label_{s}.txt") for s in ("train", "test")])
    return ScreeningData.from_pairs(pairs, read_sequences(folder / "pro_seq.txt"))


def sample_benchmark_proteins(
    folder: str | os.PathLike, n_viral: int, n_human: int, seed: int = 0
) -> tuple[dict[str, str], dict[str, str]]:
    """A seeded random ``n_viral`` viral and ``n_human`` human proteins (ID → sequence) of the LSTM-PHV benchmark's
    train and test pairs (``folder``: its folder), for the speed benchmarks."""
    folder = Path(folder)
    sequences = read_sequences(folder / "pro_seq.txt")
    viral, human = set(), set()
    for name in ("protein_pair_label_train.txt", "protein_pair_label_test.txt"):
        with open(folder / name) as fh:
            for line in fh:
                h, v, _ = line.split("\t")
                human.add(h)
                viral.add(v)
    rng = np.random.default_rng(seed)
    vs = sorted(str(v) for v in rng.choice(sorted(viral), n_viral, replace=False))
    hs = sorted(str(h) for h in rng.choice(sorted(human), n_human, replace=False))
    return {v: sequences[v] for v in vs}, {h: sequences[h] for h in hs}

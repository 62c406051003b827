"""The bundled screening model's recipe: its training data (positives by source and the viruses of the viral
proteins, read in place from the shared data folder), the union of those positives, and the fit.

The union rules (:class:`SequenceUnion`) are shared with the screening benchmark's extra training data
(:meth:`hvppi.screening.benchmark.ScreeningData.with_extra`): a protein is its sequence (the first ID that brings
a sequence names it); a pair is skipped when a sequence is missing, has a letter outside the 20 standard amino
acids, or is the same on both sides; and every pair of a sequence found on both sides (human in one pair, viral in
another; in the benchmark, its own proteins count on their sides too) is dropped. These are the benchmark's rules,
by sequence, kept so that its tables do not change.

The shipped model file (``src/hvppi/models/screening.safetensors``) was trained by the previous variant, in
``scripts/train_screening_model.py``, which dropped proteins listed on both sides by ID (one canonical ID per
sequence). On the shared data neither variant drops a protein, and both give the same union (the same proteins,
pairs, taxa and counts as ``screening.json``); the file will be this recipe's own after its next retraining
(:func:`fit_default_model`, ``scripts/train_screening_model.py``).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hvppi.datasets.proteome import ChainResolution, human_universe, resolve_chains
from hvppi.datasets.taxonomy import VirusTaxonomy, accession
from hvppi.io.alphabet import STANDARD_AMINO_ACIDS
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.fitting import fit_screening_model
from hvppi.screening.model import ScreeningModel
from hvppi.screening.taxa import ViralTaxa

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
    sequences.update(chain_sequences(sources, sequences).resolved)
    return sources, sequences


def chain_sequences(sources: Mapping[str, Sequence[tuple[str, str]]], sequences: Mapping[str, str]) -> ChainResolution:
    """Sequences for the viral chain IDs of ``sources`` that have none (:func:`hvppi.datasets.proteome.resolve_chains`:
    a lone chain of a parent of at most 1,300 residues takes the parent's sequence; a polyprotein's chain never)."""
    viral = {v for pairs in sources.values() for _, v in pairs}
    every = viral | {h for pairs in sources.values() for h, _ in pairs} | set(sequences)
    return resolve_chains(viral, dict(sequences), every, viral)


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


# --------------------------------------------------------------------------------------- the union


class SequenceUnion:
    """Positive pairs (human ID, viral ID) under the union rules (see the module docstring).

    ``human_sequences`` and ``virus_sequences``: proteins already on each side (e.g. a benchmark's own), counted
    when finding sequences on both sides. ``usable``: (index of the pair, human sequence, viral sequence) of every
    pair with two usable, distinct sequences, in input order; ``names``: each of their sequences → the first ID
    that brought it; ``both_sides``: the sequences found on both sides.
    """

    def __init__(
        self,
        pairs: Iterable[tuple[str, str]],
        sequences: Mapping[str, str],
        human_sequences: Iterable[str] = (),
        virus_sequences: Iterable[str] = (),
    ):
        standard = set(STANDARD_AMINO_ACIDS)
        self.usable: list[tuple[int, str, str]] = []
        self.names: dict[str, str] = {}
        for k, (human, virus) in enumerate(pairs):
            hs, vs = sequences.get(human), sequences.get(virus)
            if not hs or not vs or hs == vs or set(hs) - standard or set(vs) - standard:
                continue
            self.usable.append((k, hs, vs))
            self.names.setdefault(hs, human)
            self.names.setdefault(vs, virus)
        human_side = set(human_sequences) | {hs for _, hs, _ in self.usable}
        virus_side = set(virus_sequences) | {vs for _, _, vs in self.usable}
        self.both_sides = human_side & virus_side

    def kept(self) -> list[tuple[int, str, str]]:
        """The usable pairs whose two sequences are each on one side only."""
        both = self.both_sides
        return [(k, hs, vs) for k, hs, vs in self.usable if hs not in both and vs not in both]


@dataclass
class TrainingUnion:
    """The union of positives by source, merged by sequence: what :func:`fit_screening_model` trains on."""

    virus_ids: list[str]
    virus_sequences: list[str]
    human_ids: list[str]
    human_sequences: list[str]
    pairs: list[tuple[int, int]]  # (viral index, human index), sorted
    pair_sources: list[int]  # per pair, a bit mask of the sources (in the order of ``summary["sources"]``)
    virus_taxa: ViralTaxa
    known_taxa: dict[str, tuple[str | None, str | None]]
    """Every viral accession of the sources (with a sequence or not) → its (taxon, family), where known."""
    summary: dict
    """Counts by source and of the union, as the model file's ``training_data`` metadata records them."""
    dropped_on_both_sides: int = 0


def training_union(
    sources: Mapping[str, Sequence[tuple[str, str]]],
    sequences: Mapping[str, str],
    taxonomy: VirusTaxonomy | None = None,
) -> TrainingUnion:
    """The union of positive pairs (human ID, viral ID) by source under the union rules (:class:`SequenceUnion`).

    Each viral protein's taxon and family are the first known (each on its own) under any ID of its sequence.
    """
    flat = [(name, pair) for name, pairs in sources.items() for pair in pairs]
    union = SequenceUnion([pair for _, pair in flat], sequences)
    known_taxa: dict[str, tuple[str | None, str | None]] = {}
    virus_taxon: dict[str, tuple[str | None, str | None]] = {}  # viral ID (of the union) -> (taxon, family)
    if taxonomy is not None:
        for _, (_, virus) in flat:  # any viral ID of the sources, with a sequence or not
            if (found := taxonomy.of(virus)) != (None, None):
                known_taxa.setdefault(accession(virus), found)
        for k, _, vs in union.usable:
            taxon, family = virus_taxon.get(union.names[vs], (None, None))
            if taxon is None or family is None:
                found = taxonomy.of(flat[k][1][1])
                virus_taxon[union.names[vs]] = (taxon or found[0], family or found[1])
    members: dict[tuple[str, str], set[str]] = {}  # (human ID, viral ID) -> sources
    for k, hs, vs in union.kept():
        members.setdefault((union.names[hs], union.names[vs]), set()).add(flat[k][0])
    human_ids = sorted({h for h, _ in members})
    virus_ids = sorted({v for _, v in members})
    hi = {h: i for i, h in enumerate(human_ids)}
    vi = {v: i for i, v in enumerate(virus_ids)}
    names = list(sources)
    by_pair = sorted(((vi[v], hi[h]), sum(1 << names.index(s) for s in found)) for (h, v), found in members.items())
    pairs = [pair for pair, _ in by_pair]
    usable = Counter(flat[k][0] for k, _, _ in union.usable)
    taxa = ViralTaxa(
        [virus_taxon.get(v, (None, None))[0] for v in virus_ids],
        [virus_taxon.get(v, (None, None))[1] for v in virus_ids],
    )
    summary = {
        "sources": {
            name: {"pairs_in_source": len(source), "pairs_with_sequences": usable[name]}
            for name, source in sources.items()
        },
        "positive_pairs": len(pairs),
        "human_proteins": len(human_ids),
        "viral_proteins": len(virus_ids),
        "viral_proteins_with_taxon": sum(t is not None for t in taxa.taxa),
        "viral_proteins_with_family": sum(f is not None for f in taxa.families),
        "viral_accessions_with_a_virus": len(known_taxa),
        "pairs_by_number_of_sources": {
            str(n): sum(1 for s in members.values() if len(s) == n) for n in range(1, len(sources) + 1)
        },
    }
    return TrainingUnion(
        virus_ids,
        [sequences[v] for v in virus_ids],
        human_ids,
        [sequences[h] for h in human_ids],
        pairs,
        [mask for _, mask in by_pair],
        taxa,
        known_taxa,
        summary,
        len(union.both_sides),
    )


def open_universe(union: TrainingUnion, data_folder: str | os.PathLike) -> tuple[list[str], list[str]]:
    """The human proteins of the union, then every other human protein of the shared data (the universe of
    :func:`hvppi.datasets.proteome.human_universe`, one ID per sequence not already in the union)."""
    ids, seqs = list(union.human_ids), list(union.human_sequences)
    seen = set(seqs) | set(union.virus_sequences)
    standard = set(STANDARD_AMINO_ACIDS)
    for pid, sequence in human_universe(data_folder).items():
        if sequence not in seen and not set(sequence) - standard:
            seen.add(sequence)
            ids.append(pid)
            seqs.append(sequence)
    return ids, seqs


def reference_names(data_folder: str | os.PathLike, ids: Sequence[str]) -> dict[str, str]:
    """ID → name (gene name, else UniProt entry name) of the proteins ``ids`` that the HPIDB export names (by their
    accession; an isoform takes its parent's name, a chain ``PRO_...`` its parent's followed by "chain")."""
    from hvppi.datasets.proteome import protein_names

    found = protein_names(Path(data_folder) / "hpidb3-virus" / "hpidb_virus_25_10_22.zip")
    out = {}
    for pid in ids:
        if pid in found:
            out[pid] = found[pid]
        elif accession(pid) in found:  # a chain is not its polyprotein: "env chain", "POLG_HCVCO chain"
            out[pid] = found[accession(pid)] + (" chain" if "-PRO_" in pid else "")
    return out


def reference_virus_codes(data_folder: str | os.PathLike, taxa: Sequence[str]) -> dict[str, str]:
    """Taxid → UniProt organism code (:func:`hvppi.datasets.proteome.virus_codes`) of the taxa ``taxa`` that the
    HPIDB export's entry names give one."""
    from hvppi.datasets.proteome import virus_codes

    found = virus_codes(Path(data_folder) / "hpidb3-virus" / "hpidb_virus_25_10_22.zip")
    return {taxon: found[taxon] for taxon in sorted(set(taxa)) if taxon in found}


def fit_default_model(
    data_folder: str | os.PathLike, *, seed: int = 0, threads: int = 1, progress: bool = False
) -> ScreeningModel:
    """Fit the bundled screening model's recipe on the shared data folder ``data_folder``.

    The positives of :func:`default_training_positives`, merged by :func:`training_union` with the viruses of
    :func:`default_taxonomy`; the candidates are the open universe (:func:`open_universe`): the union's human
    proteins and every other human protein of the data, most of them without a known viral partner, as in use. The
    model's metadata records the union's counts (``training_data``) and each known pair's sources. With
    ``progress``, the counts and progress bars go to stderr.
    """
    sources, sequences = default_training_positives(data_folder)
    union = training_union(sources, sequences, default_taxonomy(data_folder))
    human_ids, human_sequences = open_universe(union, data_folder)
    union.summary["human_universe"] = len(human_ids)
    union.summary["human_proteins_without_a_known_partner"] = len(human_ids) - len(union.human_ids)
    names = reference_names(data_folder, [*union.virus_ids, *human_ids])
    codes = reference_virus_codes(
        data_folder, [t for t in [*union.virus_taxa.taxa, *(t for t, _ in union.known_taxa.values())] if t]
    )
    if progress:
        if union.dropped_on_both_sides:
            print(f"dropping {union.dropped_on_both_sides} proteins listed on both sides", file=sys.stderr)
        print(json.dumps(union.summary, indent=2), file=sys.stderr)
    return fit_screening_model(
        union.virus_ids,
        union.virus_sequences,
        human_ids,
        human_sequences,
        union.pairs,
        ScreeningConfig(seed=seed),
        progress=progress,
        metadata={"training_data": union.summary, "names": names, "virus_codes": codes},
        virus_taxa=union.virus_taxa,
        known_taxa=union.known_taxa,
        threads=threads,
        pair_sources=union.pair_sources,
        source_names=list(sources),
    )

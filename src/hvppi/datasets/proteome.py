"""The human proteins a viral protein is ranked against, and sequences for chain IDs, from the shared data folder.

**The human universe.** No redistributable copy of the human reference proteome installs from the package registries
hvppi's machines reach (searched: nothing ships UniProt's proteome as data), so the universe is every human protein
with a sequence in the shared data: the IDs that ``sequences/pool_species.tsv`` marks ``human`` (13,763 IDs,
13,656 distinct sequences, lengths up to tens of thousands of residues, none dropped), with their sequences from
``sequences/sequence_pool.fasta.gz``. Within the pool it is chosen by species, not by labels; but the pool itself was
assembled from public human–virus PPI data sets (the benchmark, TransPPI's SARS-CoV-2 and Zika sets, CoVHPPI,
DeNovo), so it is not the proteome: about half of it (7,103 of 13,655 distinct sequences) has a known viral partner
in the training sources, against a minority of the ~20,000 human proteins. Recall at k measured against it is
therefore optimistic next to the whole proteome (the missing proteins are mostly without a known partner).

**Chain IDs.** Interaction databases name mature chains (``P0DTC2-PRO_0000449647``: the mature spike) that often have
no sequence of their own. :func:`resolve_chains` gives such a *viral* chain its parent's sequence only when

1. the parent accession has a sequence,
2. no other chain of the parent is named in any source (the data show no cleavage into several products), and
3. the parent has at most ``MAX_SINGLE_CHAIN_PARENT`` residues (genome polyproteins of flavi-, picorna-, hepaci- and
   coronaviruses and Gag-Pol are longer),

so a chain of a polyprotein is never given its polyprotein's sequence. Human chains (peptides cut from precursors
such as APP's amyloid beta) are never resolved. Isoform IDs (``-2``) are not resolved either: an isoform is another
sequence.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hvppi.io.errors import InputError
from hvppi.io.sequences import read_sequences

MAX_SINGLE_CHAIN_PARENT = 1300
"""Longest parent whose lone chain takes its sequence (SARS-CoV-2 spike has 1,273 residues)."""
POOL = Path("sequences") / "sequence_pool.fasta.gz"
SPECIES = Path("sequences") / "pool_species.tsv"


def read_species(path: str | os.PathLike) -> dict[str, str]:
    """ID → species ("human", "virus" or "unknown") of a ``pool_species.tsv`` (``id<TAB>species``, a header)."""
    path = Path(path)
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line_number, line in enumerate(fh, 1):
                fields = line.rstrip("\n").split("\t")
                if line_number == 1 and fields[0] == "id":
                    continue
                if len(fields) != 2 or not fields[0]:
                    raise InputError("expected 2 tab-separated columns (id, species)", path, line_number)
                out[fields[0]] = fields[1]
    except OSError as exc:
        raise InputError(f"cannot read the species table ({exc.strerror})", path) from None
    return out


def human_universe(data: str | os.PathLike) -> dict[str, str]:
    """Every human protein with a sequence in the shared data folder ``data``: ID → sequence, IDs sorted."""
    data = Path(data)
    species = read_species(data / SPECIES)
    pool = read_sequences(data / POOL)
    return {pid: pool[pid] for pid in sorted(species) if species[pid] == "human" and pid in pool}


def parent(protein_id: str) -> str:
    """The accession a chain or isoform ID belongs to (``P0DTC2-PRO_0000449647`` → ``P0DTC2``)."""
    return protein_id.split("-", 1)[0]


@dataclass
class ChainResolution:
    """Sequences given to chain IDs, and why the others got none."""

    resolved: dict[str, str] = field(default_factory=dict)
    """chain ID → its parent's sequence."""
    refused: dict[str, str] = field(default_factory=dict)
    """chain ID → the rule it failed."""


def resolve_chains(
    chains: Iterable[str], sequences: dict[str, str], all_ids: Iterable[str], viral: set[str] | None = None
) -> ChainResolution:
    """Sequences for viral chain IDs without one (see the module docstring). ``all_ids``: every ID named in any source
    (to see a parent's other chains); ``viral``: the IDs on the viral side (others are never resolved)."""
    chains_of: dict[str, set[str]] = defaultdict(set)
    for pid in all_ids:
        if "-PRO_" in pid:
            chains_of[parent(pid)].add(pid)
    out = ChainResolution()
    for chain in sorted(set(chains)):
        if "-PRO_" not in chain or chain in sequences:
            continue
        source = sequences.get(parent(chain))
        if viral is not None and chain not in viral:
            out.refused[chain] = "not a viral protein"
        elif source is None:
            out.refused[chain] = "its parent has no sequence"
        elif len(chains_of[parent(chain)]) > 1:
            out.refused[chain] = "its parent has several chains (a polyprotein)"
        elif len(source) > MAX_SINGLE_CHAIN_PARENT:
            out.refused[chain] = f"its parent is longer than {MAX_SINGLE_CHAIN_PARENT} residues (a polyprotein)"
        else:
            out.resolved[chain] = source
    return out


def protein_names(path: str | os.PathLike) -> dict[str, str]:
    """Accession → a name a biologist reads (the gene name, else the UniProt entry name, else the short display
    name) of every interactor of a PSI-MITAB export (zip or text), from its alias columns."""
    import re

    from hvppi.io.files import text_lines

    accession = re.compile(r"uniprotkb:([A-Z0-9]+(?:-\d+)?)(?:\||$)")
    kinds = (
        re.compile(r"uniprotkb:([^|()\t]+)\(gene name\)"),
        re.compile(r"uniprotkb:([A-Z0-9]+_[A-Z0-9]+)(?:\||$)"),
        re.compile(r"psi-mi:([^|()\t]+)\(display_short\)"),
    )
    best: dict[str, tuple[float, str]] = {}
    for line in text_lines(path):
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 6:
            continue
        for ids, aliases in ((fields[0] + "|" + fields[2], fields[4]), (fields[1] + "|" + fields[3], fields[5])):
            found = accession.search(ids)
            if not found:
                continue
            for rank, pattern in enumerate(kinds):
                name = pattern.search(aliases)
                if name and name.group(1).isprintable():
                    # an isoform's name names its accession too, unless the accession has a better one (ACE2 is
                    # only ever given as Q9BYF1-1)
                    for key, penalty in ((found.group(1), 0), (found.group(1).split("-", 1)[0], 0.5)):
                        if rank + penalty < best.get(key, (9.0, ""))[0]:
                            best[key] = (rank + penalty, name.group(1).strip())
                    break
    return {acc: name for acc, (_, name) in best.items()}


def virus_codes(path: str | os.PathLike) -> dict[str, str]:
    """NCBI taxid → the UniProt organism code its proteins' entry names carry most often in a PSI-MITAB export
    (``NCAP_CVHSA`` → ``CVHSA`` for taxon 694009, SARS coronavirus; ``HPV16``, ``HV1H2``, ``EBVG``): a name a
    virologist reads next to the taxid (``9INFA``-like codes name a group: influenza A). Human (9606) is left out, and
    ``9VIRU`` ("Viruses"); taxa whose entries carry no other code are absent."""
    import re
    from collections import Counter, defaultdict

    from hvppi.io.files import text_lines

    code = re.compile(r"uniprotkb:[A-Z0-9]+_([A-Z0-9]{2,5})(?:\||$)|psi-mi:[a-z0-9]+_([a-z0-9]{2,5})\(display_long\)")
    taxid = re.compile(r"^(?:taxid:)?(\d+)")
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for line in text_lines(path):
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 11:
            continue
        for aliases, taxon in ((fields[4], fields[9]), (fields[5], fields[10])):
            found = taxid.match(taxon.strip())
            if not found or found.group(1) == "9606":
                continue
            for match in code.finditer(aliases):
                mnemonic = (match.group(1) or match.group(2)).upper()
                if mnemonic != "9VIRU":  # UniProt's code for "Viruses" names nothing
                    counts[found.group(1)][mnemonic] += 1
    return {taxon: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for taxon, c in counts.items()}

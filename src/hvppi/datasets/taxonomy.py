"""Which virus a viral protein comes from: NCBI taxon and virus family, by UniProt accession.

Proteins of one virus share human partners, so the screening model takes the query's virus as an
input, and the screening benchmark holds out whole families. Two kinds of file are read:

* a CSV/TSV table (or a zip holding one) with a virus ID column (``Uniprot_virus``, ``virus_id`` or
  ``virus``) and a taxon column (``Taxon_virus``, ``taxon`` or ``taxid``) and/or a family column
  (``Family_virus`` or ``family``), as the merged human–virus file in ``../shared/data/merged-hvi``, and
  perhaps a ``Dataset`` (or ``source``) column naming the databases behind each row (comma-separated);
  a taxon cell may list several taxids (``10292,10360,10359``: the virus, its strains, broader taxa
  such as its family, in any order), and a family cell several families (``Retroviridae,Solemoviridae``,
  where a merged row joined records of several viruses); of those the one named alone for that accession most
  (votes, then rows; over all files read) counts, else the one named alone for any accession most, else the first
  listed; taxon 0 and family "Unknown" say nothing;
* PSI-MITAB (e.g. an HPIDB export): the taxid of each interactor of a human protein (an IntAct or DIP ID, with no
  accession, under its whole ID).

Where sources disagree, an accession's taxon (family) is the one with most votes, then most rows, then the
alphabetically first, without a word: in the merged sources the bundled model is built from, that is common. A
row of a table without a source column is a vote; with one, each database named votes once for each value it
gives an accession, however many rows repeat it (STRING's viruses, :data:`SECONDARY_SOURCES`, half a vote); a
PSI-MITAB file is one source. Voting by source rather than by row matters there: merged-hvi repeats each viral
protein of its sampled negatives (``Dataset`` ``tsukiyama_negatives``) on up to ~160 rows, with taxa and families
that are sometimes wrong (HCV H77 proteins as Paramyxoviridae); by rows they outvoted the curated databases'
records of the same protein. Families differing only in case are one (counted under their first spelling).
:attr:`VirusTaxonomy.disagreements` keeps what was outvoted (with rows, sources and the table line where each value
was first read), for a caller that reads a user's table to warn about it (``hvppi screen --taxonomy``:
:meth:`hvppi.screening.scorer.ScreeningScorer.with_viruses`). Each file is read once, as it streams (a zipped one
as it unpacks, within the limits of :func:`hvppi.io.files.open_zip_member`, which refuses zip bombs before reading).

>>> t = VirusTaxonomy.from_counts({"P0DTC2": {"2697049": 3}}, {"P0DTC2": {"Coronaviridae": 1}})
>>> t.of("P0DTC2-PRO_0000449647")
('2697049', 'Coronaviridae')
>>> t.of("Q00000")
(None, None)
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import os
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hvppi.io.errors import InputError
from hvppi.io.files import open_text, open_zip_member, read_errors

HUMAN_TAXID = 9606
_MISSING = ("", "nan", "na", "-", "none", "unknown", "0")
"""Cells that say nothing (a taxon 0 and a family "Unknown", as merged-hvi writes them, included)."""
_TAXID = re.compile(r"[0-9]{1,10}")


def taxid(text: str) -> str | None:
    """An NCBI taxid as a canonical string (``"02697049 "`` → ``"2697049"``), or None if ``text`` is not one."""
    text = text.strip()
    return str(int(text)) if _TAXID.fullmatch(text) else None


def check_name(name: str, what: str = "family") -> str:
    """A family (or other) name without control characters, which would break the TSV it lands in."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"{what} {name!r} holds a control character (tab, newline, ...)")
    return name.strip()


def accession(protein_id: str) -> str:
    """UniProt accession without isoform (``-2``) or chain (``-PRO_…``) suffix; an IntAct or DIP ID
    (``EBI-15928529``, ``DIP-1234N``: one molecule each, as the LSTM-PHV benchmark names some viral proteins) whole.

    >>> accession("P0DTC2-PRO_0000449647"), accession("EBI-15928529")
    ('P0DTC2', 'EBI-15928529')
    """
    if protein_id.upper().startswith(("EBI-", "DIP-")):
        return protein_id
    return protein_id.split("-", 1)[0]


SECONDARY_SOURCES = frozenset({"viruses_string"})
"""Sources (of a table's ``Dataset`` column) whose vote counts half a curated database's: STRING's viruses (text
mining and transfer by orthology; the bundled model does not train on pairs known only from it) give 7 of the 232
merged-hvi viral proteins they share with another source a family no other source gives, all wrong (a hepatitis E
protein as Siphoviridae, Rift Valley fever virus's NSs as Orthomyxoviridae)."""


def _ranked(counts: Mapping[str, int], rows: Mapping[str, int] | None = None) -> list[str]:
    """Values by vote: most votes first, then most rows, then the alphabetically first."""
    rows = rows or {}
    return sorted(counts, key=lambda v: (-counts[v], -rows.get(v, 0), v))


def _most_frequent(counts: Mapping[str, int], rows: Mapping[str, int] | None = None) -> str:
    return _ranked(counts, rows)[0]


@dataclass(frozen=True)
class Disagreement:
    """Rows that give one accession several taxa (``kind`` "taxon") or families ("family"): each value's votes, most
    first (the first is the one used), the rows that gave it (where a ``Dataset`` column names the rows' sources, a
    source votes once for a value, however many rows repeat it: ``rows`` then differ from the votes), and where each
    was first read (``"t.tsv line 7"``; absent for a PSI-MITAB row). Families that differ only in case are one.

    >>> str(Disagreement("taxon", {"2697049": 2, "694009": 1}, {"694009": "t.tsv line 5"}))
    'taxon 2697049 in 2 rows and 694009 in 1 row (t.tsv line 5), used 2697049'
    >>> rows, sources = {"Flaviviridae": 2, "Paramyxoviridae": 134}, {"Flaviviridae": 2, "Paramyxoviridae": 1}
    >>> str(Disagreement("family", {"Flaviviridae": 4, "Paramyxoviridae": 2}, {}, rows, sources))
    'family Flaviviridae in 2 rows and Paramyxoviridae in 134 rows from 1 source, used Flaviviridae'
    """

    kind: str
    votes: dict[str, int]
    where: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def used(self) -> str:
        return next(iter(self.votes))

    def __str__(self) -> str:
        said = []
        for value, votes in self.votes.items():
            n, k = self.rows.get(value, votes), self.sources.get(value, 0)
            at = self.where.get(value)
            where = f" ({'first: ' if n > 1 else ''}{at})" if at else ""
            by = f" from {k} source{'s' if k != 1 else ''}" if k and n != k else ""
            said.append(f"{value} in {n} row{'s' if n != 1 else ''}{by}{where}")
        return f"{self.kind} {', '.join(said[:-1])} and {said[-1]}, used {self.used}"


@dataclass(frozen=True)
class VirusTaxonomy:
    """Taxon and family of viral accessions; ``family_of_taxon`` fills in a family known only by taxon."""

    taxon: dict[str, str] = field(default_factory=dict)
    family: dict[str, str] = field(default_factory=dict)
    family_of_taxon: dict[str, str] = field(default_factory=dict)
    disagreements: dict[str, tuple[Disagreement, ...]] = field(default_factory=dict, compare=False, repr=False)
    """Accession → what its rows disagree on (taxon and/or family), for accessions whose rows do: a record of the
    vote, not part of the taxonomy (two taxonomies that give the same taxa are equal)."""

    @classmethod
    def from_counts(
        cls,
        taxon_counts: Mapping[str, Mapping[str, int]],
        family_counts: Mapping[str, Mapping[str, int]],
        where: Mapping[tuple[str, str, str], str] | None = None,
        rows: Mapping[tuple[str, str, str], int] | None = None,
        sources: Mapping[tuple[str, str, str], int] | None = None,
    ) -> VirusTaxonomy:
        """The vote per accession over its counted votes (most votes, then most ``rows``: (accession, "taxon" or
        "family", value) → rows that gave it, then the alphabetically first); ``where``: (accession, kind, value) →
        where that value was first read, and ``sources``: how many sources gave it, for :attr:`disagreements`."""
        rows, sources = rows or {}, sources or {}

        def ranked(a: str, kind: str, counts: Mapping[str, int]) -> list[str]:
            return _ranked(counts, {v: rows.get((a, kind, v), 0) for v in counts})

        order = {
            kind: {a: ranked(a, kind, c) for a, c in counts.items() if c}
            for kind, counts in (("taxon", taxon_counts), ("family", family_counts))
        }
        taxon = {a: values[0] for a, values in order["taxon"].items()}
        family = {a: values[0] for a, values in order["family"].items()}
        votes: dict[str, Counter] = {}
        for a, f in family.items():
            if a in taxon:
                votes.setdefault(taxon[a], Counter())[f] += 1
        disagreements: dict[str, tuple[Disagreement, ...]] = {}
        for kind, counts in (("taxon", taxon_counts), ("family", family_counts)):
            for a, c in counts.items():
                if len(c) > 1:
                    ranking = order[kind][a]
                    at = {v: w for v in ranking if (w := (where or {}).get((a, kind, v)))}
                    n = {v: r for v in ranking if (r := rows.get((a, kind, v)))}
                    k = {v: r for v in ranking if (r := sources.get((a, kind, v)))}
                    found = Disagreement(kind, {v: c[v] for v in ranking}, at, n, k)
                    disagreements[a] = (*disagreements.get(a, ()), found)
        return cls(taxon, family, {t: _most_frequent(c) for t, c in votes.items()}, disagreements)

    def of(self, protein_id: str) -> tuple[str | None, str | None]:
        """(taxon, family) of a viral protein ID, ``None`` where unknown."""
        a = accession(protein_id)
        taxon = self.taxon.get(a)
        family = self.family.get(a) or (self.family_of_taxon.get(taxon) if taxon else None)
        return taxon, family

    def disagreement(self, protein_id: str) -> str | None:
        """What the rows of a viral protein's accession disagree on, in words, or None where they agree.

        >>> VirusTaxonomy.from_counts({"P1": {"11676": 1, "11706": 1}}, {}).disagreement("P1-2")
        'P1 has taxon 11676 in 1 row and 11706 in 1 row, used 11676'
        """
        a = accession(protein_id)
        found = self.disagreements.get(a)
        return f"{a} has {', and '.join(map(str, found))}" if found else None

    def family_for_taxon(self, taxon: str | None) -> str | None:
        return self.family_of_taxon.get(taxon) if taxon else None

    def families(self) -> dict[str, str]:
        """Accession → family, for every accession whose family is known (directly or through its taxon)."""
        out = {a: f for a in self.taxon if (f := self.of(a)[1])}
        out.update(self.family)
        return out

    def __len__(self) -> int:
        return len(set(self.taxon) | set(self.family))


@dataclass
class _Votes:
    """What the files read so far say, per accession: votes per taxon and per family, the rows behind each, cells of
    several taxids or families (kind, accession, values, file name, line, sources: resolved once every file is
    read), and where each value was first read."""

    taxa: dict[str, Counter] = field(default_factory=dict)
    families: dict[str, Counter] = field(default_factory=dict)
    rows: Counter = field(default_factory=Counter)
    several: list[tuple[str, str, list[str], str, int, list[str] | None]] = field(default_factory=list)
    first: dict[tuple[str, str, str], str] = field(default_factory=dict)
    said: set[tuple[str, str, str, str]] = field(default_factory=set)
    spelling: dict[str, str] = field(default_factory=dict)

    def add(
        self, a: str, kind: str, value: str, name: str = "", line: int = 0, sources: Iterable[str] | None = None
    ) -> None:
        """One row giving accession ``a`` the taxon (``kind`` "taxon") or family ``value`` (a family under its first
        spelling, whatever its case); ``name`` and ``line``: where (a table's file name and line; none for a MITAB
        row). ``sources``: the databases behind the row (a table's ``Dataset`` column; a PSI-MITAB file is one); the
        row then votes once for each of them that has not yet given ``a`` this value, so that a source that repeats a
        protein on many rows (a sampled-negatives set) votes once. None: the row votes."""
        if kind == "family":
            value = self.spelling.setdefault(value.casefold(), value)
        self.rows[a, kind, value] += 1
        if sources is None:
            new = 2
        else:
            names = list(dict.fromkeys(n for s in sources if (n := s.strip().lower()))) or [""]
            fresh = [s for s in names if (a, kind, value, s) not in self.said]
            new = sum(1 if s in SECONDARY_SOURCES else 2 for s in fresh)  # in half votes
            self.said.update((a, kind, value, s) for s in fresh)
        if new:
            (self.taxa if kind == "taxon" else self.families).setdefault(a, Counter())[value] += new
        if line and (key := (a, kind, value)) not in self.first:
            self.first[key] = f"{name} line {line}"


def _lines(path: Path) -> Iterator[str]:
    """The lines of a taxonomy file (plain, gzip, or a zip holding one file), streamed: a zip member is read as it
    unpacks, within the limits of :func:`hvppi.io.files.open_zip_member` (a zip bomb is refused before reading)."""
    with read_errors(path):
        if not path.exists():
            raise InputError("file not found", path)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")]
                if len(members) != 1:
                    raise InputError(f"a zipped taxonomy table must hold one file; found {len(members)}", path)
                with open_zip_member(archive, members[0], path) as raw:
                    yield from io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            return
        with open_text(path) as text:
            yield from text


def _is_mitab(lines: Iterator[str]) -> tuple[bool, list[str]]:
    """(whether the text is PSI-MITAB, the lines read to tell): the first line that is not a short ``#`` comment has
    15 or more tab-separated columns, and is MITAB's header or has a taxid in column 10."""
    head: list[str] = []
    for raw in lines:
        head.append(raw)
        line = raw.rstrip("\r\n")
        fields = line.lstrip("#").split("\t")
        if not line.strip() or (line.startswith("#") and len(fields) < 15):
            continue
        if len(fields) < 15:
            return False, head
        return line.startswith("#") or re.match(r"^(?:taxid:)?-?[0-9]+", fields[9].strip()) is not None, head
    return False, head


def _count_table(lines: Iterable[str], head: str, path: Path, votes: _Votes) -> None:
    dialect = "excel-tab" if head.count("\t") > head.count(",") else "excel"
    rows = csv.DictReader(lines, dialect=dialect)
    header = rows.fieldnames or []
    virus_column = next((c for c in ("Uniprot_virus", "virus_id", "virus") if c in header), None)
    taxon_column = next((c for c in ("Taxon_virus", "taxon", "taxid") if c in header), None)
    family_column = next((c for c in ("Family_virus", "family") if c in header), None)
    source_column = next((c for c in ("Dataset", "source") if c in header), None)
    if virus_column is None or (taxon_column is None and family_column is None):
        raise InputError("the taxonomy table needs a virus ID column and a taxon or family column", path, 1)
    line = 1
    try:
        for line, row in enumerate(rows, start=2):
            virus = (row.get(virus_column) or "").strip()
            if not virus:
                continue
            a = accession(virus)
            sources = (row.get(source_column) or "").replace(";", ",").split(",") if source_column else None
            cells = (
                [t.strip() for t in (row.get(taxon_column) or "").replace(";", ",").split(",")] if taxon_column else []
            )
            cells = [t for t in cells if t.lower() not in _MISSING]
            if cells:
                ids = [taxid(t) for t in cells]
                if None in ids:
                    raise InputError(f"taxon {','.join(cells)!r} of {virus} is not an NCBI taxid", path, line)
                if len(ids) == 1:
                    votes.add(a, "taxon", str(ids[0]), path.name, line, sources)
                else:
                    votes.several.append(("taxon", a, [str(i) for i in ids], path.name, line, sources))
            family = (row.get(family_column) or "").strip() if family_column else ""
            if family.lower() not in _MISSING:
                try:
                    names = [n for n in (check_name(f) for f in family.split(",")) if n.lower() not in _MISSING]
                except ValueError as exc:
                    raise InputError(f"{exc} ({virus})", path, line) from None
                if len(names) == 1:
                    votes.add(a, "family", names[0], path.name, line, sources)
                elif names:
                    votes.several.append(("family", a, names, path.name, line, sources))
    except csv.Error as exc:
        raise InputError(f"cannot read the taxonomy table ({exc})", path, line + 1) from None


def _count_mitab(lines: Iterable[str], path: Path, votes: _Votes, skip_bad_lines: bool) -> None:
    from hvppi.datasets.mitab import parse_mitab_lines

    mitab = parse_mitab_lines(lines, path, skip_bad_lines=skip_bad_lines)
    if mitab.bad_lines:
        warnings.warn(
            f"{path}: skipped {len(mitab.bad_lines):,} malformed MITAB rows (first: line {mitab.bad_lines[0]}, "
            f"{mitab.bad_reasons[0]})",
            stacklevel=3,
        )
    for row in mitab.interactions:
        for pid, taxon, partner_taxon in ((row.id_a, row.taxid_a, row.taxid_b), (row.id_b, row.taxid_b, row.taxid_a)):
            if pid and partner_taxon == HUMAN_TAXID and taxon is not None and taxon > 0 and taxon != HUMAN_TAXID:
                votes.add(accession(pid.split(":")[-1]), "taxon", str(taxon), sources=[f"file {path.name}"])


def read_virus_taxonomy(
    paths: str | os.PathLike | Iterable[str | os.PathLike], skip_bad_lines: bool = False
) -> VirusTaxonomy:
    """Read and merge taxonomy tables and PSI-MITAB files (see the module docstring), each in one pass.

    A malformed MITAB row (e.g. ``taxid:abc``) is an InputError naming the file and line; with ``skip_bad_lines``
    such rows are skipped, and a warning gives their number and the first one."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    votes = _Votes()
    for raw in paths:
        path = Path(raw)
        lines = _lines(path)
        try:
            mitab, head = _is_mitab(lines)
            rest = itertools.chain(head, lines)
            with read_errors(path):
                if mitab:
                    _count_mitab(rest, path, votes, skip_bad_lines)
                else:
                    _count_table(rest, head[0] if head else "", path, votes)
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()
    alone: dict[str, Counter] = {"taxon": Counter(), "family": Counter()}
    own = {"taxon": copy.deepcopy(votes.taxa), "family": copy.deepcopy(votes.families)}
    rows = Counter(votes.rows)
    for kind in ("taxon", "family"):
        for counts in own[kind].values():
            alone[kind].update(counts)
    for kind, a, names, name, line, sources in votes.several:
        mine = own[kind].get(a, Counter())
        best = max(
            range(len(names)), key=lambda k: (mine[names[k]], rows[a, kind, names[k]], alone[kind][names[k]], -k)
        )
        votes.add(a, kind, names[best], name, line, sources)
    given = Counter((a, kind, value) for a, kind, value, _ in votes.said)
    return VirusTaxonomy.from_counts(votes.taxa, votes.families, votes.first, votes.rows, given)

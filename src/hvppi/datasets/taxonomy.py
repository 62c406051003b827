"""Which virus a viral protein comes from: NCBI taxon and virus family, by UniProt accession.

Proteins of one virus share human partners, so the screening model takes the query's virus as an
input, and the screening benchmark holds out whole families. Two kinds of file are read:

* a CSV/TSV table (or a zip holding one) with a virus ID column (``Uniprot_virus``, ``virus_id`` or
  ``virus``) and a taxon column (``Taxon_virus``, ``taxon`` or ``taxid``) and/or a family column
  (``Family_virus`` or ``family``), as the merged human–virus file in ``../shared/data/merged-hvi``;
  a taxon cell may list several taxids (``10292,10360,10359``: the virus, its strains, broader taxa
  such as its family, in any order); of those the one most often named alone (in a one-taxid cell
  or a MITAB row, over all files read) counts, the first listed on a tie;
* PSI-MITAB (e.g. an HPIDB export): the taxid of each interactor of a human protein.

Where sources disagree, the most frequent taxon (family) of an accession wins, ties to the smaller
(alphabetically first) one. Each file is read once, as it streams (a zipped one as it unpacks, within the
limits of :func:`hvppi.io.files.open_zip_member`, which refuses zip bombs before reading).

>>> t = VirusTaxonomy.from_counts({"P0DTC2": {"2697049": 3}}, {"P0DTC2": {"Coronaviridae": 1}})
>>> t.of("P0DTC2-PRO_0000449647")
('2697049', 'Coronaviridae')
>>> t.of("Q00000")
(None, None)
"""

from __future__ import annotations

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
_MISSING = ("", "nan", "na", "-", "none")
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
    """UniProt accession without isoform (``-2``) or chain (``-PRO_…``) suffix."""
    return protein_id.split("-", 1)[0]


def _most_frequent(counts: Mapping[str, int]) -> str:
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


@dataclass(frozen=True)
class VirusTaxonomy:
    """Taxon and family of viral accessions; ``family_of_taxon`` fills in a family known only by taxon."""

    taxon: dict[str, str] = field(default_factory=dict)
    family: dict[str, str] = field(default_factory=dict)
    family_of_taxon: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_counts(
        cls, taxon_counts: Mapping[str, Mapping[str, int]], family_counts: Mapping[str, Mapping[str, int]]
    ) -> VirusTaxonomy:
        taxon = {a: _most_frequent(c) for a, c in taxon_counts.items() if c}
        family = {a: _most_frequent(c) for a, c in family_counts.items() if c}
        votes: dict[str, Counter] = {}
        for a, f in family.items():
            if a in taxon:
                votes.setdefault(taxon[a], Counter())[f] += 1
        return cls(taxon, family, {t: _most_frequent(c) for t, c in votes.items()})

    def of(self, protein_id: str) -> tuple[str | None, str | None]:
        """(taxon, family) of a viral protein ID, ``None`` where unknown."""
        a = accession(protein_id)
        taxon = self.taxon.get(a)
        family = self.family.get(a) or (self.family_of_taxon.get(taxon) if taxon else None)
        return taxon, family

    def family_for_taxon(self, taxon: str | None) -> str | None:
        return self.family_of_taxon.get(taxon) if taxon else None

    def families(self) -> dict[str, str]:
        """Accession → family, for every accession whose family is known (directly or through its taxon)."""
        out = {a: f for a in self.taxon if (f := self.of(a)[1])}
        out.update(self.family)
        return out

    def __len__(self) -> int:
        return len(set(self.taxon) | set(self.family))


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


def _count_table(
    lines: Iterable[str],
    head: str,
    path: Path,
    taxa: dict[str, Counter],
    families: dict[str, Counter],
    several: list[tuple[str, list[str]]],
) -> None:
    dialect = "excel-tab" if head.count("\t") > head.count(",") else "excel"
    rows = csv.DictReader(lines, dialect=dialect)
    header = rows.fieldnames or []
    virus_column = next((c for c in ("Uniprot_virus", "virus_id", "virus") if c in header), None)
    taxon_column = next((c for c in ("Taxon_virus", "taxon", "taxid") if c in header), None)
    family_column = next((c for c in ("Family_virus", "family") if c in header), None)
    if virus_column is None or (taxon_column is None and family_column is None):
        raise InputError("the taxonomy table needs a virus ID column and a taxon or family column", path, 1)
    line = 1
    try:
        for line, row in enumerate(rows, start=2):
            virus = (row.get(virus_column) or "").strip()
            if not virus:
                continue
            a = accession(virus)
            cells = (
                [t.strip() for t in (row.get(taxon_column) or "").replace(";", ",").split(",")] if taxon_column else []
            )
            cells = [t for t in cells if t.lower() not in _MISSING]
            if cells:
                ids = [taxid(t) for t in cells]
                if None in ids:
                    raise InputError(f"taxon {','.join(cells)!r} of {virus} is not an NCBI taxid", path, line)
                if len(ids) == 1:
                    taxa.setdefault(a, Counter())[str(ids[0])] += 1
                else:
                    several.append((a, [str(i) for i in ids]))
            family = (row.get(family_column) or "").strip() if family_column else ""
            if family.lower() not in _MISSING:
                try:
                    families.setdefault(a, Counter())[check_name(family)] += 1
                except ValueError as exc:
                    raise InputError(f"{exc} ({virus})", path, line) from None
    except csv.Error as exc:
        raise InputError(f"cannot read the taxonomy table ({exc})", path, line + 1) from None


def _count_mitab(lines: Iterable[str], path: Path, taxa: dict[str, Counter], skip_bad_lines: bool) -> None:
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
                taxa.setdefault(accession(pid.split(":")[-1]), Counter())[str(taxon)] += 1


def read_virus_taxonomy(
    paths: str | os.PathLike | Iterable[str | os.PathLike], skip_bad_lines: bool = False
) -> VirusTaxonomy:
    """Read and merge taxonomy tables and PSI-MITAB files (see the module docstring), each in one pass.

    A malformed MITAB row (e.g. ``taxid:abc``) is an InputError naming the file and line; with ``skip_bad_lines``
    such rows are skipped, and a warning gives their number and the first one."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    taxa: dict[str, Counter] = {}
    families: dict[str, Counter] = {}
    several: list[tuple[str, list[str]]] = []  # (accession, taxids of one cell)
    for raw in paths:
        path = Path(raw)
        lines = _lines(path)
        try:
            mitab, head = _is_mitab(lines)
            rest = itertools.chain(head, lines)
            with read_errors(path):
                if mitab:
                    _count_mitab(rest, path, taxa, skip_bad_lines)
                else:
                    _count_table(rest, head[0] if head else "", path, taxa, families, several)
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()
    alone: Counter = Counter()
    for counts in taxa.values():
        alone.update(counts)
    for a, ids in several:
        best = max(range(len(ids)), key=lambda k: (alone[ids[k]], -k))
        taxa.setdefault(a, Counter())[ids[best]] += 1
    return VirusTaxonomy.from_counts(taxa, families)

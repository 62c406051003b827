"""Reading PSI-MITAB interaction files as HPIDB exports them.

Two layouts are read, plain, gzipped or zipped (a ``.zip`` holding one text file, read as it unpacks,
without extracting it, within the limits of :func:`hvppi.io.files.open_zip_member`):

* MITAB 2.5: 15 tab-separated columns, no header, no sequences (HPIDB's keyword exports); the
  longer MITAB 2.6/2.7 rows are read by their first 15 columns;
* HPIDB's ``mitab_plus``: 26 columns with a header line ``# protein_xref_1 ...``; columns are found by
  their header names; it adds the taxid categories (``protein_taxid_1_cat``, e.g. ``VIRUS``) and the
  sequences (``protein_seq1`` / ``protein_seq2``).

Rules, applied to every row:

* identifier: from the interactor's ID column (column 1 or 2), the first ``uniprotkb:`` accession,
  else the first ``refseq:`` accession; if it has neither, the same search in its alternative-ID
  column (3 or 4), which only accepts well-formed UniProt accessions (that column also holds entry
  names such as ``KI20B_HUMAN``). Isoform (``P12345-2``) and chain (``P12345-PRO_0000012345``)
  suffixes are kept: they name other sequences than the canonical entry. An interactor with neither
  keeps its first raw identifier with its database prefix (``entrez gene/locuslink:3055``), so that it
  is reported as a protein without a sequence rather than lost;
* taxid: the first ``taxid:N(...)`` or bare ``N`` of the column; ``-`` is unknown;
* confidence: every ``name:value`` whose name ends in ``miscore`` is kept by name (other scores, such
  as ``author score``, are ignored). :meth:`Interaction.mi_score` picks the one the pipeline uses.

A malformed row (wrong number of columns, an empty ID column, a taxid or miscore that is not a
number) raises :class:`~hvppi.io.errors.InputError` with the file and line number, unless
``skip_bad_lines`` is set: the row is then skipped, counted and its line number listed.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from hvppi.io.errors import InputError
from hvppi.io.files import ZIP_MAGIC, open_text, open_zip_member, read_errors

HUMAN_TAXID = 9606
MITAB25_COLUMNS = 15
# Row widths a file without a header may have: MITAB 2.5, HPIDB's mitab_plus, MITAB 2.6 and 2.7.
KNOWN_WIDTHS = (15, 26, 36, 42)
MITAB_PLUS_COLUMNS = (
    "protein_xref_1",
    "protein_xref_2",
    "alternative_identifiers_1",
    "alternative_identifiers_2",
    "protein_alias_1",
    "protein_alias_2",
    "detection_method",
    "author_name",
    "pmid",
    "protein_taxid_1",
    "protein_taxid_2",
    "interaction_type",
    "source_database_id",
    "database_identifier",
    "confidence",
    "protein_xref_1_unique",
    "protein_xref_2_unique",
    "protein_taxid_1_cat",
    "protein_taxid_2_cat",
    "protein_taxid_1_name",
    "protein_taxid_2_name",
    "protein_seq1",
    "protein_seq2",
    "source_database",
    "protein_xref_1_display_id",
    "protein_xref_2_display_id",
)
MiSource = Literal["any", "intact-miscore", "virhostnet-miscore"]
MI_SOURCES: tuple[str, ...] = get_args(MiSource)

UNIPROT_ACCESSION = re.compile(
    r"(?:[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})(?:-[0-9]+|-PRO_[0-9]+)?"
)
_TAXID = re.compile(r"^(?:taxid:)?(-?[0-9]+)")


@dataclass(slots=True)
class Interaction:
    """One MITAB row: interactors A and B as parsed, with the file line it came from."""

    id_a: str
    id_b: str
    taxid_a: int | None
    taxid_b: int | None
    scores: dict[str, float]
    line: int
    category_a: str | None = None
    category_b: str | None = None
    sequence_a: str | None = None
    sequence_b: str | None = None

    def mi_score(self, source: str = "any") -> float | None:
        """The row's MI score: with ``source="any"`` the intact-miscore when present, else the highest
        other miscore (e.g. ``virhostnet-miscore``); with a score name, only that score."""
        if source != "any":
            return self.scores.get(source)
        if "intact-miscore" in self.scores:
            return self.scores["intact-miscore"]
        return max(self.scores.values(), default=None)


@dataclass
class MitabFile:
    """The interactions of one file, with what was read and skipped."""

    path: str
    layout: str  # "mitab25" or "mitab_plus"
    interactions: list[Interaction]
    rows: int  # data rows read, skipped ones included
    bad_lines: list[int] = field(default_factory=list)
    bad_reasons: list[str] = field(default_factory=list)  # message of each skipped line, same order


def parse_xref(entry: str) -> tuple[str, str]:
    """Split ``db:value(description)`` into (db, value): ``uniprotkb:P12345`` -> ("uniprotkb", "P12345")."""
    entry = entry.strip()
    db, sep, value = entry.partition(":")
    if not sep:
        return "", entry
    if value.endswith(")") and "(" in value:
        value = value[: value.index("(")]
    return db.strip().lower(), value.strip().strip('"')


def pick_identifier(primary: str, alternative: str = "-") -> str | None:
    """The documented identifier of one interactor (see the module docstring); None if ``primary`` is empty."""
    entries = [e for e in primary.split("|") if e.strip() and e.strip() != "-"]
    if not entries:
        return None
    parsed = [parse_xref(e) for e in entries]
    for wanted in ("uniprotkb", "refseq"):
        for db, value in parsed:
            if db == wanted and value:
                return value
    for db, value in (parse_xref(e) for e in alternative.split("|")):
        if db == "uniprotkb" and UNIPROT_ACCESSION.fullmatch(value):
            return value
    for db, value in (parse_xref(e) for e in alternative.split("|")):
        if db == "refseq" and value:
            return value
    db, value = parsed[0]
    return f"{db}:{value}" if db else value


def parse_taxid(text: str) -> int | None:
    """``9606``, ``taxid:9606(Homo sapiens)`` or ``taxid:9606(human)|taxid:9606(Homo sapiens)`` -> 9606;
    ``-`` or empty -> None. Raises ValueError for anything else."""
    text = text.strip()
    if text in ("", "-"):
        return None
    match = _TAXID.match(text.split("|")[0].strip())
    if match is None:
        raise ValueError(f"taxid {text!r} is not a number or 'taxid:N(...)'")
    return int(match.group(1))


def parse_confidence(text: str) -> dict[str, float]:
    """The miscores of a confidence column by name: ``author score:4.17|intact-miscore:0.67`` ->
    {"intact-miscore": 0.67}. Raises ValueError for a miscore that is not a number."""
    scores: dict[str, float] = {}
    for entry in text.split("|"):
        name, sep, value = entry.partition(":")
        name = name.strip().lower()
        if not sep or not name.endswith("miscore"):
            continue
        value = value.strip()
        if "(" in value:
            value = value[: value.index("(")]
        try:
            score = float(value)
        except ValueError:
            raise ValueError(f"{name} {value!r} is not a number") from None
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"{name} {score} lies outside [0, 1]")
        scores[name] = max(score, scores.get(name, score))
    return scores


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_lines(path: str | os.PathLike) -> Iterator[str]:
    """The lines of a plain, gzipped or zipped file, read as they come (a zip member within the limits of
    :func:`hvppi.io.files.open_zip_member`); reading errors become InputError naming ``path``."""
    path = Path(path)
    with read_errors(path):
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic.startswith(ZIP_MAGIC):
            with zipfile.ZipFile(path) as archive:
                members = [
                    m
                    for m in archive.infolist()
                    if not m.is_dir()
                    and not m.filename.startswith("__MACOSX/")
                    and not Path(m.filename).name.startswith(".")
                ]
                if len(members) != 1:
                    names = ", ".join(m.filename for m in members) or "none"
                    raise InputError(
                        f"a zipped MITAB file must hold exactly one file; found {len(members)} ({names})", path
                    )
                with open_zip_member(archive, members[0], path) as raw:
                    yield from io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
            return
        with open_text(path, errors="replace") as text:
            yield from text


def _column_indices(header: list[str] | None, n_columns: int, path: Path) -> dict[str, int]:
    names = MITAB_PLUS_COLUMNS
    if header is not None and "protein_seq1" in header:
        missing = [
            c
            for c in (
                "protein_xref_1",
                "protein_xref_2",
                "protein_taxid_1",
                "protein_taxid_2",
                "confidence",
                "protein_seq1",
                "protein_seq2",
            )
            if c not in header
        ]
        if missing:
            raise InputError(f"mitab_plus header lacks the column(s) {', '.join(missing)}", path, 1)
        return {name: header.index(name) for name in names if name in header}
    if n_columns == len(MITAB_PLUS_COLUMNS) and header is None:
        return {name: i for i, name in enumerate(names)}
    return {name: i for i, name in enumerate(names[:MITAB25_COLUMNS])}


def read_mitab(path: str | os.PathLike, skip_bad_lines: bool = False) -> MitabFile:
    """Read one MITAB 2.5 or mitab_plus file (plain, .gz or .zip); see the module docstring."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    return parse_mitab_lines(open_lines(path), path, skip_bad_lines)


def parse_mitab_lines(lines: Iterable[str], path: str | os.PathLike, skip_bad_lines: bool = False) -> MitabFile:
    """The interactions of the MITAB text ``lines`` (of the file ``path``, named in errors), one pass over them."""
    path = Path(path)
    interactions: list[Interaction] = []
    bad_lines: list[int] = []
    bad_reasons: list[str] = []
    shared: dict[str, str] = {}
    header: list[str] | None = None
    columns: dict[str, int] | None = None
    n_columns = 0
    rows = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue
        if text.startswith("#"):
            names = text.split("\t")
            if columns is None and header is None and len(names) >= MITAB25_COLUMNS:  # else a comment
                header = [h.strip().lstrip("#").strip() for h in names]
            continue
        fields = text.split("\t")
        if columns is None:
            n_columns = len(header) if header is not None else len(fields)
            if n_columns < MITAB25_COLUMNS:
                raise InputError(
                    f"not a PSI-MITAB file: {n_columns} tab-separated columns, expected at least {MITAB25_COLUMNS}",
                    path,
                    number,
                )
            if header is None and n_columns not in KNOWN_WIDTHS:
                raise InputError(
                    f"the first row has {n_columns} tab-separated columns; without a header line a "
                    "PSI-MITAB row has 15 (MITAB 2.5), 36 (2.6), 42 (2.7) or 26 (HPIDB mitab_plus)",
                    path,
                    number,
                )
            columns = _column_indices(header, n_columns, path)
        rows += 1
        try:
            interaction = _parse_row(fields, n_columns, columns, number)
        except ValueError as exc:
            if not skip_bad_lines:
                raise InputError(
                    f"{exc} (use skip_bad_lines / --skip-bad-lines to skip malformed rows)", path, number
                ) from None
            bad_lines.append(number)
            bad_reasons.append(str(exc))
            continue
        if interaction.sequence_a is not None:  # one string per distinct sequence: mitab_plus repeats them
            interaction.sequence_a = shared.setdefault(interaction.sequence_a, interaction.sequence_a)
        if interaction.sequence_b is not None:
            interaction.sequence_b = shared.setdefault(interaction.sequence_b, interaction.sequence_b)
        interactions.append(interaction)
    if columns is None:
        raise InputError("no interaction rows found", path)
    layout = "mitab_plus" if "protein_seq1" in columns else "mitab25"
    return MitabFile(str(path), layout, interactions, rows, bad_lines, bad_reasons)


def _parse_row(fields: list[str], n_columns: int, columns: dict[str, int], line: int) -> Interaction:
    if len(fields) != n_columns:
        raise ValueError(f"expected {n_columns} tab-separated columns, found {len(fields)}")
    get = lambda name: fields[columns[name]] if name in columns else "-"  # noqa: E731
    id_a = pick_identifier(get("protein_xref_1"), get("alternative_identifiers_1"))
    id_b = pick_identifier(get("protein_xref_2"), get("alternative_identifiers_2"))
    if id_a is None or id_b is None:
        raise ValueError(f"empty interactor {'A' if id_a is None else 'B'} ID column")
    interaction = Interaction(
        id_a,
        id_b,
        parse_taxid(get("protein_taxid_1")),
        parse_taxid(get("protein_taxid_2")),
        parse_confidence(get("confidence")),
        line,
    )
    if "protein_seq1" in columns:
        interaction.category_a = _optional(get("protein_taxid_1_cat"))
        interaction.category_b = _optional(get("protein_taxid_2_cat"))
        interaction.sequence_a = _sequence(get("protein_seq1"))
        interaction.sequence_b = _sequence(get("protein_seq2"))
    return interaction


def _optional(text: str) -> str | None:
    text = text.strip()
    return None if text in ("", "-") else text


def _sequence(text: str) -> str | None:
    text = "".join(text.split()).upper()
    return None if text in ("", "-") else text


def is_human_virus(interaction: Interaction) -> bool:
    """Human (9606) on exactly one side; when the file gives taxid categories, the other side must be VIRUS."""
    human_a, human_b = interaction.taxid_a == HUMAN_TAXID, interaction.taxid_b == HUMAN_TAXID
    if human_a == human_b:
        return False
    other = interaction.taxid_b if human_a else interaction.taxid_a
    if other is None:
        return False
    category = interaction.category_b if human_a else interaction.category_a
    return category is None or category.strip().upper() == "VIRUS"


def oriented(interaction: Interaction) -> tuple[str, str, str | None, str | None, int | None]:
    """(human ID, viral ID, human sequence, viral sequence, viral taxid) of a human–virus row."""
    i = interaction
    if i.taxid_a == HUMAN_TAXID:
        return i.id_a, i.id_b, i.sequence_a, i.sequence_b, i.taxid_b
    return i.id_b, i.id_a, i.sequence_b, i.sequence_a, i.taxid_a

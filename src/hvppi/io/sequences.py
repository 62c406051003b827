"""Reading protein sequences: FASTA (plain or gzip) and the benchmark's ``id<TAB>sequence`` table.

Every record is checked: an empty sequence, a letter outside ``hvppi.io.alphabet.ALPHABET`` and one
ID given two different sequences are errors that name the file, the line and the ID. The same ID
repeated with the same sequence is accepted. Sequences are stored upper-case.

A single trailing ``*`` (the stop codon of a translated ORF) is stripped; a ``*`` anywhere else is
an error. UniProt-style FASTA headers ``>db|ACCESSION|NAME ...`` (``sp|``, ``tr|`` or any other
short database tag) give the accession as the ID; ``read_sequences(..., descriptions=d)`` fills
``d`` with each ID's original header line. Other headers give their first word as the ID.

Checking makes no tokens: the letters are checked once, and sequences are tokenized only where a
model reads them.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from hvppi.io.alphabet import unknown_letter
from hvppi.io.errors import InputError
from hvppi.io.files import open_text, read_errors

Record = tuple[int, str, str, Callable[[int], int] | None]
"""(line, ID, sequence, the line of a 0-based position in the sequence or None: always ``line``)."""

_DB_ACCESSION = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,9}\|([^|\s]+)\|")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""C0 and C1 control characters (NUL, tab, newline, ...), DEL and the Unicode line and paragraph separators."""


def check_protein_id(protein_id: str, path: str | os.PathLike | None = None, line: int | None = None) -> str:
    """Return ``protein_id``; InputError naming the file, line and ID if it is empty or holds a control character
    (NUL, tab, newline, ...), which would break the TSV and H5 outputs it lands in.

    >>> check_protein_id("P0DTC2")
    'P0DTC2'
    """
    if not protein_id:
        raise InputError("empty protein ID", path, line)
    match = _CONTROL.search(protein_id)
    if match is not None:
        raise InputError(
            f"the protein ID holds a control character ({match.group()!r} at position {match.start() + 1}); "
            "IDs must be printable text",
            path,
            line,
            protein_id,
        )
    return protein_id


def header_id(token: str) -> str:
    """The protein ID of a FASTA header's first word: the accession of ``db|ACCESSION|NAME``, else the word.

    >>> header_id("sp|P0DTC2|SPIKE_SARS2"), header_id("tr|A0A1|A0A1_HUMAN"), header_id("P04637")
    ('P0DTC2', 'A0A1', 'P04637')
    """
    match = _DB_ACCESSION.match(token)
    return token if match is None else match.group(1)


def _fasta_records(path: Path, lines: Iterable[str], headers: dict[str, str] | None = None) -> Iterator[Record]:
    """Yield (header line, ID, sequence, line of a position); a bad letter is reported at its own line."""
    for header_line, protein_id, chunks in _fasta_chunks(path, lines, headers):
        sequence = "".join(chunk for _, chunk in chunks)
        yield header_line, protein_id, sequence, _line_locator(chunks)


def _line_locator(chunks: list[tuple[int, str]]) -> Callable[[int], int]:
    """The file line holding position ``pos`` (0-based) of the sequence joined from ``chunks``."""

    def line_of(pos: int) -> int:
        ends, total = [], 0
        for _, chunk in chunks:
            total += len(chunk)
            ends.append(total)
        return chunks[bisect.bisect_right(ends, pos)][0]

    return line_of


def _fasta_chunks(
    path: Path, lines: Iterable[str], headers: dict[str, str] | None = None
) -> Iterator[tuple[int, str, list[tuple[int, str]]]]:
    header_line, protein_id = 0, None  # header_line is set together with protein_id
    chunks: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            if protein_id is not None:
                yield header_line, protein_id, chunks
            fields = line[1:].split()
            if not fields:
                raise InputError("FASTA header without an ID", path, number)
            header_line, protein_id, chunks = number, header_id(fields[0]), []
            if headers is not None:
                headers.setdefault(protein_id, line[1:].strip())
        elif protein_id is None:
            raise InputError("sequence line before the first FASTA header ('>ID')", path, number)
        else:
            chunks.append((number, "".join(line.split())))
    if protein_id is not None:
        yield header_line, protein_id, chunks


def _table_records(path: Path, lines: Iterable[str], headers: dict[str, str] | None = None) -> Iterator[Record]:
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        if number == 1 and len(fields) == 2 and fields[1].strip().lower() in ("sequence", "seq"):
            continue
        if len(fields) != 2:
            hint = "; a FASTA file starts with a header line ('>ID')" if len(fields) == 1 else ""
            raise InputError(
                f"expected 2 tab-separated columns (id, sequence), found {len(fields)}{hint}", path, number
            )
        yield number, fields[0].strip(), fields[1].strip(), None


def strip_stop(sequence: str) -> str:
    """The sequence without one trailing ``*`` (a translated stop codon)."""
    return sequence[:-1] if sequence.endswith("*") else sequence


def check_sequence(
    sequence: str,
    path: str | os.PathLike | None = None,
    line: int | None = None,
    protein_id: str | None = None,
    line_of: Callable[[int], int] | None = None,
    stop: bool = True,
) -> str:
    """Return the upper-cased sequence, or raise InputError if it is empty or has unknown letters.

    One trailing ``*`` is stripped first unless ``stop`` is False. ``line_of`` maps a 0-based
    position to its file line (for records spread over lines)."""
    if stop:
        sequence = strip_stop(sequence)
    if not sequence:
        raise InputError("empty sequence", path, line, protein_id)
    pos = unknown_letter(sequence)
    if pos is not None:
        where = line if line_of is None else line_of(pos)
        if sequence[pos] == "*":
            raise InputError(
                f"stop codon '*' inside the sequence at position {pos + 1} (only a single trailing '*' is stripped)",
                path,
                where,
                protein_id,
            )
        raise InputError(f"unknown amino-acid letter {sequence[pos]!r} at position {pos + 1}", path, where, protein_id)
    return sequence.upper()


def add_sequence(
    store: dict[str, str],
    origin: dict[str, tuple],
    protein_id: str,
    sequence: str,
    path: str | os.PathLike | None,
    line: int | None,
    allow_duplicates: bool = True,
    line_of: Callable[[int], int] | None = None,
    validate: bool = True,
) -> None:
    """Add one checked record to ``store``; an ID seen before with another sequence is an error
    (with the same sequence too, unless ``allow_duplicates``). With ``validate`` False the letters
    are not checked (the caller checks the records it uses): the sequence is only upper-cased and
    stripped of one trailing ``*``."""
    check_protein_id(protein_id, path, line)
    if validate:
        sequence = check_sequence(sequence, path, line, protein_id, line_of)
    else:
        sequence = strip_stop(sequence).upper()
    previous = store.get(protein_id)
    if previous is None:
        store[protein_id] = sequence
        origin[protein_id] = (path, line)
    elif previous != sequence or not allow_duplicates:
        first_path, first_line = origin[protein_id]
        what = "two different sequences for this ID" if previous != sequence else "duplicate ID"
        raise InputError(f"{what} (first at {first_path}, line {first_line})", path, line, protein_id)


def read_sequences(
    path: str | os.PathLike,
    allow_duplicates: bool = True,
    descriptions: dict[str, str] | None = None,
    validate: bool = True,
) -> dict[str, str]:
    """Read sequences keyed by ID from a FASTA file or an ``id<TAB>sequence`` table (either may be
    gzipped). An ID repeated with the same sequence is accepted unless ``allow_duplicates`` is False.

    A FASTA header ``>sp|P0DTC2|SPIKE_SARS2 ...`` gives the ID ``P0DTC2``; pass a dict as
    ``descriptions`` to receive each ID's original header line (without ``>``). A single trailing
    ``*`` is stripped. With ``validate`` False letters are not checked (see ``add_sequence``)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    store: dict[str, str] = {}
    origin: dict[str, tuple] = {}
    with read_errors(path), open_text(path) as fh:
        lines = fh.readlines()
    first = next((line for line in lines if line.strip()), "")
    records = _fasta_records if first.lstrip().startswith(">") else _table_records
    for line_no, protein_id, sequence, line_of in records(path, lines, descriptions):
        add_sequence(store, origin, protein_id, sequence, path, line_no, allow_duplicates, line_of, validate)
    if not store:
        raise InputError("no sequences found", path)
    return store


def header_name(header: str) -> str | None:
    """The protein name a FASTA header line (without ``>``) gives: UniProt's gene name (``GN=CANX``), else the entry
    name of ``db|ACCESSION|NAME``; None when it gives none.

    >>> header_name("sp|P27824|CALX_HUMAN Calnexin OS=Homo sapiens OX=9606 GN=CANX PE=1 SV=2")
    'CANX'
    >>> header_name("sp|P0DTC2|SPIKE_SARS2"), header_name("P04637 cellular tumor antigen p53")
    ('SPIKE_SARS2', None)
    """
    gene = re.search(r"\bGN=(\S+)", header)
    if gene and gene.group(1).isprintable():
        return gene.group(1)
    first = header.split()[0] if header.split() else ""
    parts = first.split("|")
    if len(parts) >= 3 and parts[2] and parts[2].isprintable():
        return parts[2]
    return None


def read_sequence_names(path: str | os.PathLike) -> dict[str, str]:
    """ID → the name its FASTA header gives (:func:`header_name`), for the IDs whose header gives one."""
    headers: dict[str, str] = {}
    read_sequences(path, descriptions=headers)
    return {pid: name for pid, header in headers.items() if (name := header_name(header))}

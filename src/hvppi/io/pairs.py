"""Reading labelled or unlabelled human–virus protein pairs.

Two layouts are read:

* the benchmark layout: ``human_id<TAB>virus_id[<TAB>label]`` per line, no header (a header line
  ``human_id<TAB>virus_id[<TAB>label]`` is accepted);
* LSTM-PHV's CSV: a header with ``human_pro`` or ``human_id``, ``virus_pro`` or ``virus_id``,
  optionally ``human_seq``/``virus_seq`` (the sequences) and ``labels`` (or ``label``).

Labels must be 0 or 1, on every row or on none. The same pair labelled 0 on one line and 1 on
another (in one file or across combined files) is an error naming both lines, and so is an ID found
in the human column and in the virus column (a file with its columns swapped, in part or whole):
human–virus pairs are read human first.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from hvppi.io.errors import InputError
from hvppi.io.files import atomic_write, open_text, read_errors
from hvppi.io.sequences import add_sequence, check_protein_id

_HUMAN_COLUMNS = ("human_pro", "human_id")
_VIRUS_COLUMNS = ("virus_pro", "virus_id")
_LABEL_COLUMNS = ("labels", "label")


@dataclass
class PairTable:
    """Pairs in input order, with the file and line each came from."""

    human_ids: list[str]
    virus_ids: list[str]
    labels: np.ndarray | None
    lines: list[int]
    path: str
    sequences: dict[str, str] = field(default_factory=dict)
    sources: list[str] | None = None  # the file of each row, when rows come from several files

    def __len__(self) -> int:
        return len(self.human_ids)

    def source(self, row: int) -> str:
        return self.path if self.sources is None else self.sources[row]

    def subset(self, index: ArrayLike) -> PairTable:
        """The pairs at the row indices ``index``, in that order."""
        index = np.asarray(index, dtype=np.int64)
        return PairTable(
            [self.human_ids[i] for i in index],
            [self.virus_ids[i] for i in index],
            None if self.labels is None else self.labels[index],
            [self.lines[i] for i in index],
            self.path,
            self.sequences,
            None if self.sources is None else [self.sources[i] for i in index],
        )

    @classmethod
    def from_lists(
        cls,
        human_ids: Sequence[str],
        virus_ids: Sequence[str],
        labels: Sequence[int] | None = None,
        sequences: dict[str, str] | None = None,
        name: str = "<memory>",
    ) -> PairTable:
        """Pairs built in memory; ``labels`` (0/1) optional, ``sequences`` (ID → sequence) optional.

        >>> PairTable.from_lists(["P04637", "Q9Y6K9"], ["P0DTC2", "P0DTC9"], [1, 0]).labels.tolist()
        [1, 0]
        """
        human, virus = [str(h) for h in human_ids], [str(v) for v in virus_ids]
        if len(human) != len(virus):
            raise ValueError(f"{len(human)} human IDs but {len(virus)} viral IDs")
        label_array = None
        if labels is not None:
            label_array = np.asarray(list(labels), dtype=np.int64)
            if label_array.shape != (len(human),):
                raise ValueError(f"{label_array.size} labels for {len(human)} pairs")
            if not np.isin(label_array, (0, 1)).all():
                raise ValueError("labels must be 0 or 1")
        return cls(human, virus, label_array, list(range(1, len(human) + 1)), name, dict(sequences or {}))

    @classmethod
    def concat(cls, tables: list[PairTable]) -> PairTable:
        """Pairs of several tables in order (the path of the first names them all)."""
        if len(tables) == 1:
            return tables[0]
        labelled = {t.labels is not None for t in tables}
        if len(labelled) > 1:
            raise InputError("cannot combine labelled and unlabelled pair files", tables[0].path)
        sequences: dict[str, str] = {}
        for t in tables:
            sequences.update(t.sequences)
        combined = cls(
            [h for t in tables for h in t.human_ids],
            [v for t in tables for v in t.virus_ids],
            np.concatenate([t.labels for t in tables]) if tables[0].labels is not None else None,
            [line for t in tables for line in t.lines],
            " + ".join(t.path for t in tables),
            sequences,
            [t.source(i) for t in tables for i in range(len(t))],
        )
        combined.check_consistency()
        return combined

    def check_consistency(self) -> None:
        """Raise InputError for a pair labelled both 0 and 1, or an ID in both the human and the virus column.

        Both lines are named. Cheap: one pass with a dictionary of pairs and one of viral IDs."""
        virus_row: dict[str, int] = {}
        for row, v in enumerate(self.virus_ids):
            virus_row.setdefault(v, row)
        for row, h in enumerate(self.human_ids):
            other = virus_row.get(h)
            if other is not None:
                raise InputError(
                    f"this ID is both human and viral: in the human column here and in the virus column at "
                    f"{self.source(other)}, line {self.lines[other]}; columns are human_id, virus_id (human "
                    "first): swap the columns of virus-first rows",
                    self.source(row),
                    self.lines[row],
                    h,
                )
        if self.labels is None:
            return
        seen: dict[tuple[str, str], int] = {}
        for row, (h, v, y) in enumerate(zip(self.human_ids, self.virus_ids, self.labels)):
            first = seen.setdefault((h, v), row)
            if first != row and self.labels[first] != y:
                raise InputError(
                    f"pair {h}/{v} is labelled {int(y)} here but {int(self.labels[first])} at "
                    f"{self.source(first)}, line {self.lines[first]}; give each pair one label",
                    self.source(row),
                    self.lines[row],
                )

    def check_orientation(
        self, known_virus_ids: Iterable[str], known_human_ids: Iterable[str] = (), what: str = ""
    ) -> None:
        """Raise InputError when most IDs of the human column are known viral proteins (e.g. a model's
        reference viral proteins) and fewer of them are known human proteins: a virus-first file."""
        humans = set(self.human_ids)
        viral = humans.intersection(known_virus_ids)
        if not humans or 2 * len(viral) <= len(humans) or len(viral) <= len(humans.intersection(known_human_ids)):
            return
        example = sorted(viral)[0]
        source = f" {what}" if what else ""
        raise InputError(
            f"{len(viral)} of the {len(humans)} IDs in the human column are viral proteins known to{source} "
            f"(e.g. {example}); columns are human_id, virus_id (human first): swap the columns",
            self.path,
        )

    def write_tsv(self, path: str | os.PathLike) -> None:
        """Write the benchmark layout (human_id, virus_id[, label]) atomically."""
        with atomic_write(path) as fh:
            if self.labels is None:
                fh.writelines(f"{h}\t{v}\n" for h, v in zip(self.human_ids, self.virus_ids))
            else:
                fh.writelines(f"{h}\t{v}\t{int(y)}\n" for h, v, y in zip(self.human_ids, self.virus_ids, self.labels))

    def check_sequences(self, sequences: dict[str, str]) -> None:
        """Raise InputError naming the first pair whose human or viral ID has no sequence."""
        for row, (h, v, line) in enumerate(zip(self.human_ids, self.virus_ids, self.lines)):
            for pid in (h, v):
                if pid not in sequences:
                    raise InputError("no sequence for this ID in the sequence input", self.source(row), line, pid)

    def require_labels(self, what: str = "pairs") -> np.ndarray:
        """The labels; InputError unless the pairs are labelled."""
        if self.labels is None:
            raise InputError(f"{what} must be labelled (0/1)", self.path)
        return self.labels

    def require_both_classes(self, what: str = "pairs") -> np.ndarray:
        """The labels; InputError unless the pairs are labelled and hold both classes."""
        labels = self.require_labels(what)
        present = set(np.unique(labels).tolist())
        if present != {0, 1}:
            only = "positive (1)" if present == {1} else "negative (0)"
            raise InputError(f"{what} hold only {only} labels; both classes are needed", self.path)
        return labels

    def fingerprint(self, sequences: dict[str, str]) -> str:
        """SHA-256 over the pairs, labels and sequences, independent of row order."""
        labels = self.labels if self.labels is not None else np.full(len(self), -1)
        rows = sorted(f"{h}\t{v}\t{int(y)}" for h, v, y in zip(self.human_ids, self.virus_ids, labels))
        digest = hashlib.sha256()
        digest.update("\n".join(rows).encode())
        for pid in sorted(set(self.human_ids) | set(self.virus_ids)):
            digest.update(f"\n{pid}\t{sequences[pid]}".encode())
        return digest.hexdigest()


def _parse_label(text: str, path, line: int, pid: str) -> int:
    text = text.strip()
    if text not in ("0", "1"):
        raise InputError(f"label must be 0 or 1, found {text!r}", path, line, pid)
    return int(text)


def _column(header: list[str], names: tuple[str, ...], path, required: bool) -> str | None:
    for name in names:
        if name in header:
            return name
    if required:
        raise InputError(f"CSV header lacks a column {' or '.join(names)} (found {', '.join(header)})", path, 1)
    return None


def _read_csv(path: Path, lines: list[str]) -> PairTable:
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    hcol = _column(header, _HUMAN_COLUMNS, path, True)
    vcol = _column(header, _VIRUS_COLUMNS, path, True)
    lcol = _column(header, _LABEL_COLUMNS, path, False)
    with_seqs = "human_seq" in header and "virus_seq" in header
    humans: list[str] = []
    viruses: list[str] = []
    labels: list[int] = []
    line_numbers: list[int] = []
    sequences: dict[str, str] = {}
    origin: dict[str, tuple] = {}
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise InputError(f"expected {len(header)} comma-separated fields", path, line)
        h, v = check_protein_id(row[hcol].strip(), path, line), check_protein_id(row[vcol].strip(), path, line)
        if with_seqs:
            add_sequence(sequences, origin, h, row["human_seq"].strip(), path, line)
            add_sequence(sequences, origin, v, row["virus_seq"].strip(), path, line)
        if lcol is not None:
            labels.append(_parse_label(row[lcol], path, line, f"{h}/{v}"))
        humans.append(h)
        viruses.append(v)
        line_numbers.append(line)
    label_array = np.asarray(labels, dtype=np.int8) if lcol is not None else None
    return PairTable(humans, viruses, label_array, line_numbers, str(path), sequences)


def _read_tsv(path: Path, lines: list[str]) -> PairTable:
    humans: list[str] = []
    viruses: list[str] = []
    labels: list[int] = []
    line_numbers: list[int] = []
    n_columns = None
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue
        fields = [f.strip() for f in text.split("\t")]
        if not line_numbers and not humans and fields[:2] == ["human_id", "virus_id"]:
            continue
        if len(fields) not in (2, 3):
            raise InputError(
                f"expected 2 or 3 tab-separated columns (human_id, virus_id[, label]), found {len(fields)}",
                path,
                number,
            )
        if n_columns is None:
            n_columns = len(fields)
        elif len(fields) != n_columns:
            raise InputError(
                f"expected {n_columns} columns as on the first pair line, found {len(fields)}", path, number
            )
        h, v = check_protein_id(fields[0], path, number), check_protein_id(fields[1], path, number)
        if n_columns == 3:
            labels.append(_parse_label(fields[2], path, number, f"{h}/{v}"))
        humans.append(h)
        viruses.append(v)
        line_numbers.append(number)
    label_array = np.asarray(labels, dtype=np.int8) if n_columns == 3 else None
    return PairTable(humans, viruses, label_array, line_numbers, str(path))


def read_pairs(path: str | os.PathLike) -> PairTable:
    """Read a pairs file in the benchmark layout or LSTM-PHV's CSV (detected from the first line)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    with read_errors(path), open_text(path) as fh:
        lines = fh.readlines()
    first = next((line for line in lines if line.strip()), "")
    names = {name.strip() for name in first.split(",")}
    if "\t" not in first and names & set(_HUMAN_COLUMNS):
        table = _read_csv(path, lines)
    else:
        table = _read_tsv(path, lines)
    if len(table) == 0:
        raise InputError("no pairs found", path)
    table.check_consistency()
    return table


def merge_sequences(
    pairs: PairTable, sequences: dict[str, str] | None, sequences_path: str | os.PathLike | None = None
) -> dict[str, str]:
    """Sequences for every ID of ``pairs``: from the sequence file and/or the pairs file itself."""
    merged = dict(sequences or {})
    for pid, seq in pairs.sequences.items():
        other = merged.get(pid)
        if other is not None and other != seq:
            raise InputError(
                f"the pairs file and {sequences_path} give this ID different sequences", pairs.path, None, pid
            )
        merged[pid] = seq
    if not merged:
        raise InputError("no sequences: give a sequence file (FASTA or id<TAB>sequence)", pairs.path)
    pairs.check_sequences(merged)
    return merged

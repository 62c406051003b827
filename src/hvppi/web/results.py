"""A job's results file as the page reads it: one viral protein's rows at a time, never the whole file in memory.

A job at the server's limits has 100 viral proteins × every human protein, over a million rows; reading them all
into Python lists for one request took 2.4 GB and 20 s. :class:`ResultsIndex` reads the file once, a line at a
time, checks its shape and notes where each viral protein's rows lie; :meth:`ResultsIndex.rows` then reads and
types one protein's rows (a damaged row is found when its protein is read).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvppi.scoring.interface import Column


class DamagedResults(ValueError):
    """A results file that cannot be read back: truncated, a row of the wrong width, a cell of the wrong type."""


def _typed(value: str, kind: str) -> Any:
    """A cell as its column's type; ValueError for one that is not (a non-finite number included: JSON has none)."""
    if kind == "float64":
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    if kind in ("int8", "int64"):
        return int(value)
    return value


Block = tuple[int, int, int, int]
"""(byte offset, byte length, first line number, rows) of a run of one viral protein's rows."""


@dataclass(frozen=True)
class ResultsIndex:
    """Where each viral protein's rows lie in a results TSV (``virus_id`` column), and the column names and types.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "results.tsv"
    >>> _ = path.write_text("virus_id\\thuman_id\\tscore\\nv1\\th1\\t0.5\\nv1\\th2\\t0.25\\nv2\\th1\\t0.125\\n")
    >>> index = ResultsIndex.build(path, (("score", "float64"),))
    >>> index.proteins(), index.rows("v1")
    ([('v1', 2), ('v2', 1)], [['v1', 'h1', 0.5], ['v1', 'h2', 0.25]])
    """

    path: Path
    columns: list[str]
    types: list[str]
    blocks: dict[str, list[Block]]

    @classmethod
    def build(cls, path: Path, columns: tuple[Column, ...]) -> ResultsIndex:
        """Read ``path`` a line at a time; DamagedResults (one line) for a file that is empty, ends inside a line,
        lacks a ``virus_id`` column or has a row of another width than its header."""
        kinds = dict(columns)
        blocks: dict[str, list[Block]] = {}
        try:
            with open(path, "rb") as fh:
                header = fh.readline()
                if not header.endswith(b"\n"):
                    raise DamagedResults("it is empty or ends inside a line (truncated)")
                names = header[:-1].decode("utf-8").split("\t")
                if "virus_id" not in names:
                    raise DamagedResults("its header has no virus_id column")
                vi, width = names.index("virus_id"), len(names)
                offset, current, start, first, count = len(header), None, 0, 0, 0
                for number, raw in enumerate(fh, start=2):
                    if not raw.endswith(b"\n"):
                        raise DamagedResults("it ends inside a line (truncated)")
                    cells = raw[:-1].split(b"\t")
                    if len(cells) != width:
                        raise DamagedResults(f"line {number} has {len(cells)} cells, not {width}")
                    protein = cells[vi].decode("utf-8")
                    if protein != current:
                        if current is not None:
                            blocks.setdefault(current, []).append((start, offset - start, first, count))
                        current, start, first, count = protein, offset, number, 0
                    count += 1
                    offset += len(raw)
                if current is not None:
                    blocks.setdefault(current, []).append((start, offset - start, first, count))
        except (OSError, UnicodeDecodeError) as exc:
            raise DamagedResults(" ".join(str(exc).split()) or type(exc).__name__) from None
        return cls(Path(path), names, [kinds.get(c, "string") for c in names], blocks)

    def proteins(self) -> list[tuple[str, int]]:
        """(viral protein ID, number of rows) in the file's order."""
        return [(pid, sum(block[3] for block in blocks)) for pid, blocks in self.blocks.items()]

    def rows(self, protein_id: str) -> list[list[Any]]:
        """The rows of one viral protein, typed (KeyError if the file has none); DamagedResults for a cell that is
        not of its column's type, or a file changed since it was indexed."""
        out: list[list[Any]] = []
        try:
            with open(self.path, "rb") as fh:
                for offset, length, first, count in self.blocks[protein_id]:
                    fh.seek(offset)
                    lines = fh.read(length).decode("utf-8").split("\n")[:-1]
                    if len(lines) != count:
                        raise DamagedResults("it changed after it was read")
                    for number, line in enumerate(lines, start=first):
                        try:
                            out.append([_typed(v, k) for v, k in zip(line.split("\t"), self.types, strict=True)])
                        except ValueError:
                            raise DamagedResults(f"line {number} has a cell that is not of its column's type") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DamagedResults(" ".join(str(exc).split()) or type(exc).__name__) from None
        return out


def write_parquet(tsv: Path, out: Path, columns: tuple[Column, ...]) -> None:
    """The results TSV as Parquet, with the column types of ``hvppi screen --out X.parquet``."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from hvppi.io.files import atomic_path

    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in columns])
    table = pcsv.read_csv(
        tsv,
        parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pcsv.ConvertOptions(column_types=schema, strings_can_be_null=False),
    )
    with atomic_path(out) as tmp:
        pq.write_table(table.cast(schema), tmp)

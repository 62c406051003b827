"""A table comparing the isotropy of several embedding sets, global and local, as the paper's.

An embedding set is a name, a global file and optionally a local file. Global points are one vector
per protein (per-residue files are mean-pooled per protein); local points are one per residue. When
no local file is given and the global file is per-residue, its residues are the local points.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvppi.io.errors import InputError


@dataclass(frozen=True)
class EmbeddingSet:
    name: str
    global_path: str
    local_path: str | None = None


def parse_set(text: str) -> EmbeddingSet:
    """``NAME=GLOBAL[,LOCAL]`` → :class:`EmbeddingSet`."""
    name, sep, files = text.partition("=")
    if not sep or not name.strip() or not files.strip():
        raise ValueError(f"--set {text!r}: expected NAME=GLOBAL_FILE[,LOCAL_FILE]")
    paths = [p.strip() for p in files.split(",")]
    if len(paths) > 2 or not all(paths):
        raise ValueError(f"--set {text!r}: expected NAME=GLOBAL_FILE[,LOCAL_FILE]")
    return EmbeddingSet(name.strip(), paths[0], paths[1] if len(paths) == 2 else None)


def read_set_list(path: str | os.PathLike) -> list[EmbeddingSet]:
    """A TSV of ``name<TAB>global_file[<TAB>local_file]`` rows ('#' starts a comment; relative paths
    are relative to the TSV's folder)."""
    from hvppi.io.files import open_text, read_errors

    path = Path(path)
    sets = []
    with read_errors(path), open_text(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = [f.strip() for f in line.split("\t")]
            if len(fields) not in (2, 3) or not all(fields):
                raise InputError("expected name<TAB>global_file[<TAB>local_file]", path, line=line_no)
            files = [str(path.parent / f) for f in fields[1:]]
            sets.append(EmbeddingSet(fields[0], files[0], files[1] if len(files) == 2 else None))
    if not sets:
        raise InputError("no embedding sets listed", path)
    return sets


PUBLISHED = (
    ("ProtBERT", 1024, 3, "Hakim, Roy & Rahman 2025"),
    ("ProteinBERT", 512, 120, "Hakim, Roy & Rahman 2025"),
)
"""Effective dimensions reported in the literature: (model, d, effective dimensions, source)."""


def read_accuracy(path: str | os.PathLike) -> dict[str, dict[str, float]]:
    """A TSV with a header ``set<TAB>metric...`` and one row per embedding set → {set: {metric: value}}.

    The accuracy a set reaches when it feeds a model (e.g. ``scripts/isotropy_vs_accuracy.py`` writes
    ``accuracy.tsv``); empty cells and "nan" are missing values."""
    import math

    from hvppi.io.files import open_text, read_errors

    path = Path(path)
    table: dict[str, dict[str, float]] = {}
    with read_errors(path), open_text(path) as fh:
        lines = [(n, line.rstrip("\r\n")) for n, line in enumerate(fh, start=1) if line.strip()]
    if not lines:
        raise InputError("empty accuracy table", path)
    header = [c.strip() for c in lines[0][1].split("\t")]
    if len(header) < 2 or header[0] != "set" or not all(header[1:]):
        raise InputError("the first line must be 'set<TAB>metric[<TAB>metric...]'", path, line=lines[0][0])
    for line_no, line in lines[1:]:
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) != len(header) or not cells[0]:
            raise InputError(f"expected {len(header)} tab-separated cells", path, line=line_no)
        if cells[0] in table:
            raise InputError(f"set {cells[0]!r} listed twice", path, line=line_no)
        values = {}
        for metric, cell in zip(header[1:], cells[1:]):
            try:
                value = float(cell) if cell else math.nan
            except ValueError:
                raise InputError(f"{metric} of {cells[0]!r} is not a number: {cell!r}", path, line=line_no) from None
            values[metric] = value
        table[cells[0]] = values
    return table


def measure_set(spec: EmbeddingSet, chunk_rows: int | None = None, progress: bool = False) -> dict:
    """Global and (where available) local isotropy of one set, as a JSON-ready dict."""
    from hvppi.geometry.readers import measure_isotropy, open_embeddings

    with open_embeddings(spec.global_path) as reader:
        info = reader.info
    local_path = spec.local_path or (spec.global_path if info.level == "residue" else None)
    row: dict[str, Any] = {
        "name": spec.name,
        "global_file": spec.global_path,
        "local_file": local_path,
        "d": info.d,
        "layout": info.layout,
        "embedder": info.embedder,
    }
    row["global"] = measure_isotropy(spec.global_path, False, chunk_rows, progress).to_dict()
    row["local"] = measure_isotropy(local_path, True, chunk_rows, progress).to_dict() if local_path else None
    if row["local"] is not None and row["local"]["d"] != info.d:
        raise InputError(f"local embeddings have {row['local']['d']} dimensions, global {info.d}", local_path)
    return row


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _metrics(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(m for r in rows for m in r.get("accuracy") or {}))


def markdown_table(rows: list[dict]) -> str:
    """The paper's table; accuracy columns follow when rows carry an ``accuracy`` dict."""
    metrics = _metrics(rows)
    head = (
        "| set | d | global n | global IsoScore | global eff. dims (ceil) | global avg cos "
        "| local n | local IsoScore | local eff. dims (ceil) | local avg cos |"
        + "".join(f" {m} |" for m in metrics)
        + "\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        + "---:|" * len(metrics)
        + "\n"
    )
    lines = []
    for r in rows:
        accuracy = r.get("accuracy") or {}
        cells = [r["name"], str(r["d"])]
        for level in ("global", "local"):
            m = r[level]
            if m is None:
                cells += ["–"] * 4
                continue
            cells += [
                f"{m['n']:,}",
                f"{m['isoscore']:.4f}",
                f"{m['effective_dims']:.2f} ({m['effective_dims_ceil']})",
                _fmt(m["avg_cosine"], ".4f"),
            ]
        cells += [
            _fmt(None if accuracy.get(m) is None or accuracy[m] != accuracy[m] else accuracy[m], ".3f") for m in metrics
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def geometry_report(
    sets: list[EmbeddingSet],
    out_dir: str | os.PathLike,
    chunk_rows: int | None = None,
    progress: bool = False,
    title: str = "Isotropy of embedding sets",
    subtitle: str | None = None,
    accuracy: dict[str, dict[str, float]] | None = None,
) -> list[dict]:
    """Measure every set; write OUT/report.md, OUT/report.json and OUT/isotropy.png; return the rows.

    ``title`` and ``subtitle`` are the plot's; subtitle None names each set's embedder and files.
    ``accuracy`` ({set name: {metric: value}}, see :func:`read_accuracy`) adds its metrics as columns;
    a set it names that is not measured is an error."""
    from hvppi._version import __version__
    from hvppi.geometry.plots import isotropy_bars
    from hvppi.io.files import atomic_write, staged_directory

    if not sets:
        raise ValueError("no embedding sets given")
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise ValueError("embedding set names must be distinct")
    unknown = sorted(set(accuracy or {}) - set(names))
    if unknown:
        raise ValueError(f"the accuracy table names sets that are not measured: {', '.join(unknown)}")
    rows = [measure_set(s, chunk_rows, progress) for s in sets]
    for row in rows:
        if accuracy is not None:
            row["accuracy"] = accuracy.get(row["name"], {})
    with staged_directory(out_dir) as out:  # all three appear together, or none of them
        with atomic_write(out / "report.json") as fh:
            json.dump({"hvppi_version": __version__, "sets": rows}, fh, indent=2)
        with atomic_write(out / "report.md") as fh:
            fh.write(report_markdown(rows))
        isotropy_bars(out / "isotropy.png", rows, title=title, subtitle=subtitle)
    return rows


def report_markdown(rows: list[dict]) -> str:
    """The text of report.md: the table of :func:`markdown_table`, IsoScore* and the published dimensions."""
    return (
        "# Isotropy of embedding sets\n\n"
        "Global: one vector per protein (per-residue embeddings mean-pooled); local: one vector per residue. "
        "IsoScore (Rudman et al. 2022) = (PR − 1)/(d − 1) with PR = (tr C)²/‖C‖²_F; effective dimensions = "
        "IsoScore·(d − 1) + 1, rounded up in parentheses; avg cos: exact mean cosine similarity over all pairs "
        "of distinct points (zero vectors left out).\n\n"
        + markdown_table(rows)
        + "\nIsoScore* (Ledoit–Wolf shrinkage toward (tr C/d)·I, for few points in many dimensions):\n\n"
        + "| set | global IsoScore* | global shrinkage | local IsoScore* | local shrinkage |\n|---|---:|---:|---:|---:|\n"
        + "".join(
            f"| {r['name']} | "
            + " | ".join(
                "– | –" if r[level] is None else f"{r[level]['isoscore_star']:.4f} | {r[level]['shrinkage']:.4f}"
                for level in ("global", "local")
            )
            + " |\n"
            for r in rows
        )
        + "\nEffective dimensions published for other protein language models, for comparison (Hakim et al. 2025: "
        "ProtBERT and ProtXLNet use 2–14 dimensions for global and local representations, ProteinBERT about 120; "
        "the same IsoScore·(d − 1) + 1 as above):\n\n"
        + "| model | d | effective dims | source |\n|---|---:|---:|---|\n"
        + "".join(f"| {model} | {d:,} | {dims} | {source} |\n" for model, d, dims, source in PUBLISHED)
        + "\n![isotropy](isotropy.png)\n"
    )

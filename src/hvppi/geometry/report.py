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


def markdown_table(rows: list[dict]) -> str:
    head = (
        "| set | d | global n | global IsoScore | global eff. dims (ceil) | global avg cos "
        "| local n | local IsoScore | local eff. dims (ceil) | local avg cos |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
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
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def geometry_report(
    sets: list[EmbeddingSet],
    out_dir: str | os.PathLike,
    chunk_rows: int | None = None,
    progress: bool = False,
    title: str = "Isotropy of embedding sets",
    subtitle: str | None = None,
) -> list[dict]:
    """Measure every set; write OUT/report.md, OUT/report.json and OUT/isotropy.png; return the rows.

    ``title`` and ``subtitle`` are the plot's; subtitle None names each set's embedder and files."""
    from hvppi._version import __version__
    from hvppi.geometry.plots import isotropy_bars
    from hvppi.io.files import atomic_write

    if not sets:
        raise ValueError("no embedding sets given")
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise ValueError("embedding set names must be distinct")
    rows = [measure_set(s, chunk_rows, progress) for s in sets]
    out = Path(out_dir)
    with atomic_write(out / "report.json") as fh:
        json.dump({"hvppi_version": __version__, "sets": rows}, fh, indent=2)
    text = (
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
        + "\n![isotropy](isotropy.png)\n"
    )
    with atomic_write(out / "report.md") as fh:
        fh.write(text)
    isotropy_bars(out / "isotropy.png", rows, title=title, subtitle=subtitle)
    return rows

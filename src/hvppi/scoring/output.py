"""Screen output: rows to TSV or Parquet, a parts folder that makes screens resumable, and the join.

Every screen (one process or Dask tiles, any model kind) writes its rows through these routines: chunks of
rows go to ``OUT.parts/`` (or ``OUT.tiles/``) atomically, with a manifest (``screen.json``) naming the inputs,
settings and model, so a re-run of an interrupted screen continues and a re-run with other inputs is refused;
at the end the chunks are joined into OUT.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hvppi.evaluation.metrics import check_cutoff
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_path, atomic_write
from hvppi.io.pairs import PairTable
from hvppi.scoring.interface import Column, Scorer, ScreenSettings


def output_format(out: Path) -> str:
    """ "parquet" if ``out`` ends in .parquet (in any case), else "tsv".

    >>> output_format(Path("hits.PARQUET")), output_format(Path("hits.tsv"))
    ('parquet', 'tsv')
    """
    return "parquet" if out.suffix.lower() == ".parquet" else "tsv"


def digest(sequences: dict[str, str]) -> str:
    """SHA-256 of the IDs and sequences, in order."""
    h = hashlib.sha256()
    for pid, seq in sequences.items():
        h.update(f"{pid}\t{seq}\n".encode())
    return h.hexdigest()


def screen_identity(
    scorer: Scorer, human: dict, virus: dict, settings: ScreenSettings, fmt: str, **layout: Any
) -> dict[str, Any]:
    """What a screen's rows and parts depend on: the scorer (its fingerprint and what it binds to the viral
    proteins), both protein sets, the settings, the format and how the work is cut (``layout``)."""
    from hvppi._version import __version__

    return {
        "hvppi": __version__,
        "columns": [name for name, _ in scorer.columns],
        "model_sha256": scorer.fingerprint(),
        "human": digest(human),
        "virus": digest(virus),
        "top_k": settings.top_k,
        "min_score": settings.min_score,
        **layout,
        "format": fmt,
        **scorer.identity(list(virus)),
    }


def text(value: object, kind: str) -> str:
    """One TSV cell: floats with 7 significant digits, everything else as ``str``."""
    if kind == "float64":
        return f"{value:.7g}"
    return str(value)


def arrow_schema(columns: Sequence[Column]) -> Any:
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in columns])


def write_chunk(path: Path, blocks: list[dict], fmt: str, columns: tuple[Column, ...]) -> None:
    """Rows of ``blocks`` (column name → array) to ``path`` atomically, without a header (TSV) or as Parquet."""
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            data: dict[str, np.ndarray | list] = {
                name: np.concatenate([b[name] for b in blocks]) if blocks else [] for name, _ in columns
            }
            pq.write_table(pa.table(data, schema=arrow_schema(columns)), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for b in blocks:
                    values = [b[name] for name, _ in columns]
                    kinds = [kind for _, kind in columns]
                    fh.writelines("\t".join(text(v, k) for v, k in zip(row, kinds)) + "\n" for row in zip(*values))


def join_chunks(parts: list[Path], out: Path, fmt: str, columns: tuple[Column, ...]) -> None:
    """The chunks, in order, as ``out`` (TSV with a header, or Parquet), written atomically."""
    with atomic_path(out) as tmp:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            schema = arrow_schema(columns)
            with pq.ParquetWriter(tmp, schema) as writer:
                for part in parts:
                    writer.write_table(pq.read_table(part).cast(schema))
        else:
            with open(tmp, "wb") as fh:
                fh.write(("\t".join(name for name, _ in columns) + "\n").encode())
                for part in parts:
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, fh)


def open_parts(out: Path, identity: dict, restart: bool, suffix: str = ".parts") -> Path:
    """The parts folder of ``out`` (OUT.parts, or OUT + ``suffix``), checked against (or started for) a screen
    with ``identity``; ``restart`` discards an unfinished one."""
    parts_dir = out.with_name(out.name + suffix)
    manifest = parts_dir / "screen.json"
    if parts_dir.exists() or parts_dir.is_symlink():
        if restart:
            if parts_dir.is_dir() and not parts_dir.is_symlink():
                shutil.rmtree(parts_dir)
            else:
                parts_dir.unlink()
        elif _read_manifest(manifest) != identity:
            raise InputError(
                "an unfinished screen with other inputs, settings or model is here; rerun with --restart to discard it",
                parts_dir,
            )
    parts_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(manifest) as fh:
        json.dump(identity, fh)
    return parts_dir


def _read_manifest(manifest: Path) -> Any:
    """The settings an unfinished screen recorded; None if there are none, or if they cannot be read (a damaged
    file is an unfinished screen of unknown settings: refused unless ``--restart`` discards it)."""
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def finished_record(out: Path) -> Path:
    """The hidden file beside a finished screen's OUT that records what made it (``.OUT.screen.json``)."""
    return out.with_name(f".{out.name}.screen.json")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def mark_finished(out: Path, identity: dict) -> None:
    """Record that ``out`` is the finished screen of ``identity`` (with the file's SHA-256, so an edited or replaced
    OUT is not taken for it)."""
    with atomic_write(finished_record(out)) as fh:
        json.dump({**identity, "out_sha256": file_digest(out)}, fh)


def finished(out: Path, identity: dict) -> bool:
    """Whether ``out`` is already the finished screen of ``identity`` (then a re-run has nothing to do)."""
    record = finished_record(out)
    if not (out.is_file() and record.is_file()):
        return False
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and saved.pop("out_sha256", None) == file_digest(out) and saved == identity


def summary(out: Path, kind: str, n_virus: int, n_human: int, fmt: str, **more: Any) -> dict[str, Any]:
    """The JSON summary a screen returns (and the CLI prints)."""
    return {
        "out": str(out),
        "model": kind,
        "viral_proteins": n_virus,
        "human_proteins": n_human,
        "pairs_scored": n_virus * n_human,
        **more,
        "format": fmt,
    }


def write_predictions(
    path: str | Path, pairs: PairTable, scores: np.ndarray, cutoff: float, known: list[str] | None = None
) -> int:
    """Write ``human_id, virus_id, score, call`` rows in input order (atomically), with a ``known`` column (the
    sources of a pair already in the training data) where ``known`` is given; return how many are called 1."""
    check_cutoff(cutoff)
    calls = np.asarray(scores) >= cutoff
    with atomic_write(path) as fh:
        fh.write("human_id\tvirus_id\tscore\tcall" + ("\tknown" if known is not None else "") + "\n")
        for k, (h, v, s, c) in enumerate(zip(pairs.human_ids, pairs.virus_ids, scores, calls)):
            fh.write(f"{h}\t{v}\t{s:.7g}\t{int(c)}" + (f"\t{known[k]}" if known is not None else "") + "\n")
    return int(calls.sum())

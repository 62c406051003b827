"""Screening every viral protein against every human protein.

The towers are independent, so each protein is encoded once (optionally reusing vectors stored by
``hvppi encode``) and only the small head runs per pair. Results stream to disk in chunks of viral
proteins: each chunk is written to ``OUT.parts/`` atomically, so a re-run of an interrupted screen
skips the chunks already written and no row appears twice; at the end the chunks are joined into
OUT (TSV, or Parquet if OUT ends in ``.parquet``). Memory stays flat in the number of pairs.

The head runs in float64: its sigmoid layers saturate, and in float32 the top scores of a viral
protein collapse onto a few identical values (2 distinct among the top 50 for typical viral proteins
against the benchmark's human proteins), so their ranks would follow input order rather than the model.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from hvppi.io.alphabet import tokenize
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_path, atomic_write
from hvppi.io.validation import require_fraction, require_int
from hvppi.ppi.inference import encode_proteins
from hvppi.ppi.model import InteractionModel, TowerName
from hvppi.ppi.modelfile import ModelInfo
from hvppi.ppi.vectors import VectorStore

COLUMNS = ("human_id", "virus_id", "score", "call", "rank")


def tower_vectors(
    model: InteractionModel,
    tower: TowerName,
    sequences: dict[str, str],
    store: VectorStore | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> np.ndarray:
    """(n, 64) vectors of ``sequences`` (in their order) from the ``tower`` ("human"/"virus") of ``model``."""
    module = model.tower(tower)
    found, missing, changed = store.lookup(sequences) if store is not None else ({}, list(sequences), [])
    if changed:
        log(f"{len(changed)} {tower} proteins changed sequence since {store.path} was written; encoding them again")
    todo = missing + changed
    if todo:
        vectors, _ = encode_proteins(
            module, [tokenize(sequences[p]) for p in todo], device, progress=progress, desc=f"encoding {tower} proteins"
        )
        fresh = dict(zip(todo, vectors))
        if store is not None:
            store.store(sequences, fresh)
        found.update(fresh)
    return np.stack([found[p] for p in sequences]) if sequences else np.zeros((0, module.protein_dim), np.float32)


@torch.inference_mode()
def head_scores_against(head: torch.nn.Module, human: torch.Tensor, virus_vectors: torch.Tensor) -> np.ndarray:
    """Scores (k, n_human) of k viral vectors against all human vectors, computed in ``head``'s dtype."""
    k, n = virus_vectors.shape[0], human.shape[0]
    pairs = torch.cat([human.repeat(k, 1), virus_vectors.repeat_interleave(n, dim=0)], dim=1)
    return torch.sigmoid(head(pairs)).double().cpu().numpy().reshape(k, n)


@dataclass
class ScreenSettings:
    """What a screen keeps and how it works: the ``top_k`` human proteins of each viral protein (None:
    all), only scores of at least ``min_score`` (a probability in [0, 1]; None: all), viral proteins in
    chunks of ``chunk_size``. Checked on construction."""

    top_k: int | None = None
    min_score: float | None = None
    chunk_size: int = 8

    def __post_init__(self) -> None:
        if self.top_k is not None:
            require_int("top_k", self.top_k, minimum=1)
        if self.min_score is not None:
            require_fraction("min_score", self.min_score)
        require_int("chunk_size", self.chunk_size, minimum=1)


def _identity(info: ModelInfo, human: dict, virus: dict, settings: ScreenSettings, fmt: str) -> dict:
    def digest(seqs):
        h = hashlib.sha256()
        for pid, seq in seqs.items():
            h.update(f"{pid}\t{seq}\n".encode())
        return h.hexdigest()

    return {
        "model_sha256": info.file_sha256,
        "human": digest(human),
        "virus": digest(virus),
        "top_k": settings.top_k,
        "min_score": settings.min_score,
        "chunk_size": settings.chunk_size,
        "format": fmt,
    }


def _rows(scores: np.ndarray, human_ids: np.ndarray, virus_id: str, cutoff: float, settings: ScreenSettings) -> dict:
    order = np.argsort(-scores, kind="stable")
    ranks = np.arange(1, len(order) + 1)
    keep = np.ones(len(order), dtype=bool)
    if settings.top_k is not None:
        keep &= ranks <= settings.top_k
    if settings.min_score is not None:
        keep &= scores[order] >= settings.min_score
    order, ranks = order[keep], ranks[keep]
    return {
        "human_id": human_ids[order],
        "virus_id": np.full(len(order), virus_id, dtype=object),
        "score": scores[order],
        "call": (scores[order] >= cutoff).astype(np.int8),
        "rank": ranks,
    }


def _write_chunk(path: Path, blocks: list[dict], fmt: str) -> None:
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table({c: np.concatenate([b[c] for b in blocks]) if blocks else [] for c in COLUMNS})
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for b in blocks:
                    fh.writelines(
                        f"{h}\t{v}\t{s:.7g}\t{c}\t{r}\n"
                        for h, v, s, c, r in zip(b["human_id"], b["virus_id"], b["score"], b["call"], b["rank"])
                    )


def _join_chunks(parts: list[Path], out: Path, fmt: str) -> None:
    with atomic_path(out) as tmp:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema(
                [
                    ("human_id", pa.string()),
                    ("virus_id", pa.string()),
                    ("score", pa.float64()),
                    ("call", pa.int8()),
                    ("rank", pa.int64()),
                ]
            )
            with pq.ParquetWriter(tmp, schema) as writer:
                for part in parts:
                    writer.write_table(pq.read_table(part).cast(schema))
        else:
            with open(tmp, "wb") as fh:
                fh.write(("\t".join(COLUMNS) + "\n").encode())
                for part in parts:
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, fh)


def screen(
    model: InteractionModel,
    info: ModelInfo,
    virus: dict[str, str],
    human: dict[str, str],
    out: str | Path,
    settings: ScreenSettings | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    human_store: VectorStore | None = None,
    virus_store: VectorStore | None = None,
    restart: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Score every viral × human pair and write ranked rows to ``out``. See the module docstring."""
    settings = settings or ScreenSettings()
    out = Path(out)
    fmt = "parquet" if out.suffix == ".parquet" else "tsv"
    parts_dir = out.with_name(out.name + ".parts")
    identity = _identity(info, human, virus, settings, fmt)
    manifest = parts_dir / "screen.json"
    if parts_dir.exists():
        previous = json.loads(manifest.read_text()) if manifest.exists() else None
        if restart:
            shutil.rmtree(parts_dir)
        elif previous != identity:
            raise InputError(
                "an unfinished screen with other inputs, settings or model is here; rerun with --restart to discard it",
                parts_dir,
            )
    parts_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(manifest) as fh:
        json.dump(identity, fh)

    model.eval()
    device = torch.device(device)
    human_ids = np.array(list(human), dtype=object)
    virus_ids = list(virus)
    head = copy.deepcopy(model.head).double().eval()
    human_matrix = torch.from_numpy(tower_vectors(model, "human", human, human_store, device, progress, log))
    human_matrix = human_matrix.to(device, torch.float64)
    chunks = [virus_ids[i : i + settings.chunk_size] for i in range(0, len(virus_ids), settings.chunk_size)]
    parts = [parts_dir / f"chunk-{k:06d}.{fmt}" for k in range(len(chunks))]
    done = sum(p.exists() for p in parts)
    if done:
        log(f"resuming: {done} of {len(chunks)} chunks of viral proteins already screened")
    with tqdm(
        total=len(virus_ids) * len(human_ids), desc="screening", unit="pair", unit_scale=True, disable=not progress
    ) as bar:
        for chunk, part in zip(chunks, parts):
            if part.exists():
                bar.update(len(chunk) * len(human_ids))
                continue
            sub = {v: virus[v] for v in chunk}
            vv = torch.from_numpy(tower_vectors(model, "virus", sub, virus_store, device, False, log))
            scores = head_scores_against(head, human_matrix, vv.to(device, torch.float64))
            blocks = [_rows(scores[i], human_ids, v, info.cutoff, settings) for i, v in enumerate(chunk)]
            _write_chunk(part, blocks, fmt)
            bar.update(len(chunk) * len(human_ids))
    _join_chunks(parts, out, fmt)
    shutil.rmtree(parts_dir)
    return {
        "out": str(out),
        "viral_proteins": len(virus_ids),
        "human_proteins": len(human_ids),
        "pairs_scored": len(virus_ids) * len(human_ids),
        "format": fmt,
    }

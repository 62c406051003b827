"""Screens across a Dask cluster: one task per tile of (human block, viral block).

:func:`screen_distributed` gives the same rows and scores as the single-process screens of
:mod:`hvppi.ppi.screening`, for the screening model and for BiLSTM-attention models alike, with the
work spread over the workers of a ``dask.distributed`` cluster (``pip install 'hvppi[dask]'``):

* each block of human proteins is prepared once, on a worker (screening model: its candidates and
  evidence against the reference; BiLSTM: the human tower's vectors), and so is each block of viral
  proteins (similarities to the reference viral proteins, the nearest one and its identity; or the
  viral tower's vectors);
* one task per tile (human block × viral block), never per pair, scores the tile on a worker,
  applies ``top_k`` and ``min_score`` within it, and writes its rows to its own Parquet file in
  ``OUT.tiles/`` (temporary name, then rename), returning only the path;
* one task per viral block merges that block's tiles: the rows of each viral protein are sorted
  again (score, then human input order, as the single-process screen's stable sort), ``top_k`` is
  applied to the union and ranks are recomputed;
* the client joins the merged blocks into OUT (TSV, or Parquet if OUT ends in ``.parquet``) and
  removes ``OUT.tiles/``.

The features of a (viral, human) pair depend only on those two proteins and the model's reference,
so tiling changes nothing. A re-run with the same inputs and settings skips the tiles (and merged
blocks) already on disk; the tasks of a lost worker are simply run again by Dask, and a tile file
written twice is written whole both times. ``OUT.tiles/`` must be on a file system that every
worker and the client see (a cluster's shared or parallel file system).

Tile rows carry the human and viral input positions (``human_index``, ``virus_index``) so that
the merge can break score ties exactly as the single-process screen does; ``min_score`` is applied
per tile (to the calibrated probability for the screening model), which removes the same rows as
applying it afterwards because the calibration is non-decreasing in the score.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hvppi.io.files import atomic_path, output_lock
from hvppi.io.validation import require_int
from hvppi.ppi.screen_model import Evidence, ScreeningModel, ViralTaxa
from hvppi.ppi.screening import (
    FLAT_SPREAD,
    LSTM_COLUMNS,
    SCREENING_COLUMNS,
    Column,
    ScreenSettings,
    ViralBlock,
    _digest,
    _join_chunks,
    _open_parts,
    _ranked,
    _rows,
    _write_chunk,
    head_scores_against,
    screening_rows,
    tower_vectors,
    viral_block,
    warn_unknown_virus,
)

DASK_MISSING = "screening on a Dask cluster needs dask.distributed and pyarrow: pip install 'hvppi[dask]'"
INDEX_COLUMNS: tuple[Column, ...] = (("human_index", "int64"), ("virus_index", "int64"))
"""Extra columns of the tile files: input positions of the human and viral protein."""


# --------------------------------------------------------------------------------------- the cluster


@contextlib.contextmanager
def dask_client(spec: str, log: Callable[[str], None] = print, dashboard: bool = True) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``: ``local:N`` (a local cluster of N single-threaded worker
    processes, closed on exit) or a scheduler address (``tcp://host:8786``, or a scheduler file path
    ending in ``.json``). The dashboard link is logged."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError(DASK_MISSING) from None
    with contextlib.ExitStack() as stack:
        if spec.startswith("local:"):
            try:
                n = int(spec.split(":", 1)[1])
            except ValueError:
                raise ValueError(f"--dask local:N needs a number of workers, not {spec!r}") from None
            require_int("number of local workers", n, minimum=1)
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                )
            )
            client = stack.enter_context(Client(cluster))
            where = f"{n} local worker process{'es' if n > 1 else ''}"
        elif spec.endswith(".json"):
            client = stack.enter_context(Client(scheduler_file=spec))
            where = f"the scheduler of {spec}"
        else:
            client = stack.enter_context(Client(spec))
            where = f"the scheduler at {spec}"
        link = client.dashboard_link if dashboard else None
        log(f"dask: {where}; dashboard: {link or 'none (pip install bokeh for it)'}")
        yield client


# --------------------------------------------------------------------------------------- worker tasks


@dataclass
class ShippedModel:
    """A model as sent to the workers: wrapped, so that it is pickled whole (Dask's own serialiser for
    PyTorch modules cannot handle the LSTM's weak references)."""

    model: Any


def _tower_block(model: Any, tower: str, sequences: list[str]) -> np.ndarray:
    named = {str(i): s for i, s in enumerate(sequences)}
    return tower_vectors(model, tower, named, None, "cpu", False, lambda message: None).astype(np.float64)  # type: ignore[arg-type]


def prepare_human_block(shipped: ShippedModel, sequences: list[str]) -> Evidence | np.ndarray:
    """Screening model: the evidence of the reference about these human proteins; BiLSTM: their vectors."""
    model = shipped.model
    if isinstance(model, ScreeningModel):
        return model.evidence(model.candidates(sequences))
    return _tower_block(model, "human", sequences)


def prepare_virus_block(
    shipped: ShippedModel, sequences: list[str], taxa: ViralTaxa | None = None
) -> ViralBlock | np.ndarray:
    """Screening model: similarities to the reference and the nearest reference protein; BiLSTM: vectors."""
    model = shipped.model
    if isinstance(model, ScreeningModel):
        return viral_block(model, sequences, taxa)
    return _tower_block(model, "virus", sequences)


def score_tile(
    shipped: ShippedModel,
    human_part: Evidence | np.ndarray,
    virus_part: ViralBlock | np.ndarray,
    human_ids: list[str],
    human_start: int,
    virus_ids: list[str],
    virus_start: int,
    settings: ScreenSettings,
    cutoff: float,
    path: str,
) -> str:
    """Score one tile, keep its rows (``top_k``, ``min_score`` within the tile), write them to ``path``
    (Parquet, atomically) and return ``path``. A tile already on disk is left as it is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if os.path.exists(path):
        return path
    model = shipped.model
    ids = np.array(human_ids, dtype=object)
    if isinstance(model, ScreeningModel):
        assert isinstance(human_part, Evidence) and isinstance(virus_part, ViralBlock)
        blocks, values = screening_rows(model, human_part, virus_part, virus_ids, ids, settings)
        columns = SCREENING_COLUMNS
        nearest = [float(virus_part.similarities.smith_waterman[i, j]) for i, j in enumerate(virus_part.nearest)]
    else:
        head = copy.deepcopy(model.head).double().eval()
        import torch

        values = head_scores_against(head, torch.from_numpy(human_part), torch.from_numpy(virus_part))
        blocks = []
        for i, v in enumerate(virus_ids):
            rows = _rows(values[i], ids, v, cutoff, settings)
            rows["_order"] = _ranked(values[i], settings)[0]
            blocks.append(rows)
        columns = LSTM_COLUMNS
        nearest = []
    data: dict[str, Any] = {name: np.concatenate([b[name] for b in blocks]) for name, _ in columns}
    data["human_index"] = np.concatenate([b["_order"] for b in blocks]).astype(np.int64) + human_start
    data["virus_index"] = np.concatenate(
        [np.full(len(b["_order"]), virus_start + i, dtype=np.int64) for i, b in enumerate(blocks)]
    )
    stats = {
        "count": int(values.shape[1]),
        "mean": values.mean(axis=1).tolist(),
        "m2": ((values - values.mean(axis=1, keepdims=True)) ** 2).sum(axis=1).tolist(),
        "nearest_similarity": nearest,
    }
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in columns + INDEX_COLUMNS])
    table = pa.table(data, schema=schema).replace_schema_metadata({"hvppi": json.dumps(stats)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def merge_virus_block(
    tiles: list[str],
    out: str,
    columns: tuple[Column, ...],
    fmt: str,
    settings: ScreenSettings,
    virus_ids: list[str],
    warn_flat: bool,
) -> tuple[str, list[str]]:
    """Join the tiles of one viral block into ``out`` (rows of each viral protein best first, ``top_k``
    applied again, ranks recomputed); returns ``out`` and the warnings about flat score profiles."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(t) for t in tiles]
    warnings: list[str] = []
    if warn_flat:
        stats = [json.loads(t.schema.metadata[b"hvppi"]) for t in tables]
        count = np.zeros(len(virus_ids))
        mean = np.zeros(len(virus_ids))
        m2 = np.zeros(len(virus_ids))
        for s in stats:  # Chan et al.'s parallel variance
            n_b, mean_b, m2_b = s["count"], np.asarray(s["mean"]), np.asarray(s["m2"])
            total = count + n_b
            delta = mean_b - mean
            m2 = m2 + m2_b + delta**2 * count * n_b / np.maximum(total, 1)
            mean = mean + delta * n_b / np.maximum(total, 1)
            count = total
        spread = np.sqrt(m2 / np.maximum(count, 1))
        for i, virus_id in enumerate(virus_ids):
            if spread[i] < FLAT_SPREAD and stats:
                warnings.append(
                    f"warning: {virus_id}: its scores barely vary (probability SD {spread[i]:.2g}); the nearest training "
                    f"viral protein has similarity {stats[0]['nearest_similarity'][i]:.2f}, so the ranking rests mostly on "
                    "the human proteins' popularity"
                )
    table = pa.concat_tables(tables) if tables else None
    if table is None or table.num_rows == 0:
        _write_chunk(Path(out), [], fmt, columns)
        return out, warnings
    data = {name: table.column(name).to_numpy(zero_copy_only=False) for name, _ in columns + INDEX_COLUMNS}
    order = np.lexsort((data["human_index"], -data["score"], data["virus_index"]))
    virus_index = data["virus_index"][order]
    starts = np.flatnonzero(np.r_[True, virus_index[1:] != virus_index[:-1]])
    lengths = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, lengths) + 1
    keep = np.ones(len(order), dtype=bool) if settings.top_k is None else rank <= settings.top_k
    rows = {name: data[name][order][keep] for name, _ in columns}
    rows["rank"] = rank[keep].astype(np.int64)
    _write_chunk(Path(out), [rows], fmt, columns)
    return out, warnings


# --------------------------------------------------------------------------------------- the screen


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def screen_distributed(
    client: Any,
    model: Any,
    virus: dict[str, str],
    human: dict[str, str],
    out: str | Path,
    settings: ScreenSettings | None = None,
    info: Any = None,
    human_block: int = 2000,
    virus_block: int = 64,
    progress: bool = True,
    restart: bool = False,
    log: Callable[[str], None] = print,
    on_tile: Callable[[str], None] | None = None,
    taxa: ViralTaxa | None = None,
) -> dict:
    """Screen every viral × human pair on the workers of ``client`` (a ``distributed.Client``).

    ``taxa``: screening model only, the virus and family of each viral protein, as for
    :func:`~hvppi.ppi.screening.screen_with_screening_model`.
    ``model`` is a :class:`~hvppi.ppi.screen_model.ScreeningModel` or an
    :class:`~hvppi.ppi.model.InteractionModel` (then ``info``, its :class:`~hvppi.ppi.modelfile.ModelInfo`,
    gives the cutoff). Rows, their order and scores equal those of
    :func:`~hvppi.ppi.screening.screen_with_screening_model` or :func:`~hvppi.ppi.screening.screen`
    with the same ``settings``. Tiles are ``human_block`` × ``virus_block`` pairs. ``on_tile`` is
    called with the path of each tile as it finishes (an exception from it stops the screen; the
    tiles on disk are kept for a re-run). See the module docstring.
    """
    out = Path(out)
    with output_lock(out):
        try:
            from distributed import as_completed
        except ImportError:
            raise ValueError(DASK_MISSING) from None
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError(DASK_MISSING) from None
        require_int("human_block", human_block, minimum=1)
        require_int("virus_block", virus_block, minimum=1)
        settings = settings or ScreenSettings()
        fmt = "parquet" if out.suffix == ".parquet" else "tsv"
        screening = isinstance(model, ScreeningModel)
        if screening:
            fingerprint, cutoff, columns = model.fingerprint(), 0.0, SCREENING_COLUMNS
            taxa = taxa if taxa is not None else model.taxa_of(list(virus))
            if len(taxa) != len(virus):
                raise ValueError(f"{len(taxa)} taxa for {len(virus)} viral proteins")
            warn_unknown_virus(model, taxa, log)
            longest = max((len(s) for s in model.reference.virus_sequences), default=0)
            for virus_id, sequence in virus.items():
                if len(sequence) > longest:
                    log(
                        f"warning: {virus_id} has {len(sequence):,} residues, more than any training viral protein "
                        f"({longest:,}); a polyprotein is best screened as its mature chains"
                    )
        else:
            if info is None:
                raise ValueError("screen_distributed needs the ModelInfo of a BiLSTM-attention model (info=...)")
            model.eval()
            fingerprint, cutoff, columns = info.file_sha256, float(info.cutoff), LSTM_COLUMNS
        identity = {
            "model_sha256": fingerprint,
            "human": _digest(human),
            "virus": _digest(virus),
            "top_k": settings.top_k,
            "min_score": settings.min_score,
            "human_block": human_block,
            "virus_block": virus_block,
            "format": fmt,
        }
        if screening:
            assert taxa is not None
            identity["taxa"] = json.dumps([taxa.taxa, taxa.families])
        tiles_dir = _open_parts(out, identity, restart, suffix=".tiles")[0]
        human_ids, human_seqs = list(human), list(human.values())
        virus_ids, virus_seqs = list(virus), list(virus.values())
        h_blocks, v_blocks = _blocks(len(human_ids), human_block), _blocks(len(virus_ids), virus_block)

        def tile_path(vb: int, hb: int) -> str:
            return str(tiles_dir / f"tile-v{vb:06d}-h{hb:06d}.parquet")

        def merged_path(vb: int) -> str:
            return str(tiles_dir / f"merged-v{vb:06d}.{fmt}")

        todo = [
            (vb, hb)
            for vb in range(len(v_blocks))
            if not os.path.exists(merged_path(vb))
            for hb in range(len(h_blocks))
            if not os.path.exists(tile_path(vb, hb))
        ]
        n_tiles = len(v_blocks) * len(h_blocks)
        if tiles_dir.exists() and len(todo) < n_tiles:
            log(f"resuming: {n_tiles - len(todo)} of {n_tiles} tiles already screened")
        started = time.perf_counter()
        futures: list[Any] = []
        try:
            model_future = client.scatter(ShippedModel(model), broadcast=True, hash=False) if todo else None
            human_parts = {
                hb: client.submit(prepare_human_block, model_future, human_seqs[slice(*h_blocks[hb])], pure=False)
                for hb in sorted({hb for _, hb in todo})
            }
            virus_parts = {
                vb: client.submit(
                    prepare_virus_block,
                    model_future,
                    virus_seqs[slice(*v_blocks[vb])],
                    taxa.take(range(*v_blocks[vb])) if taxa is not None else None,
                    pure=False,
                )
                for vb in sorted({vb for vb, _ in todo})
            }
            tiles: dict[tuple[int, int], Any] = {}
            for vb, hb in todo:
                (h0, h1), (v0, v1) = h_blocks[hb], v_blocks[vb]
                tiles[vb, hb] = client.submit(
                    score_tile,
                    model_future,
                    human_parts[hb],
                    virus_parts[vb],
                    human_ids[h0:h1],
                    h0,
                    virus_ids[v0:v1],
                    v0,
                    settings,
                    cutoff,
                    tile_path(vb, hb),
                    pure=False,
                )
            futures = list(tiles.values())
            merges = {}
            for vb, (v0, v1) in enumerate(v_blocks):
                if os.path.exists(merged_path(vb)):
                    continue
                parts = [tiles.get((vb, hb), tile_path(vb, hb)) for hb in range(len(h_blocks))]
                merges[vb] = client.submit(
                    merge_virus_block,
                    parts,
                    merged_path(vb),
                    columns,
                    fmt,
                    settings,
                    virus_ids[v0:v1],
                    screening,
                    pure=False,
                )
            futures += list(merges.values())
            del human_parts, virus_parts
            from tqdm.auto import tqdm

            pairs_of = {
                tiles[t]: (v_blocks[t[0]][1] - v_blocks[t[0]][0]) * (h_blocks[t[1]][1] - h_blocks[t[1]][0])
                for t in tiles
            }
            with tqdm(
                total=len(virus_ids) * len(human_ids),
                initial=len(virus_ids) * len(human_ids) - sum(pairs_of.values()),
                desc="screening (dask)",
                unit="pair",
                unit_scale=True,
                disable=not progress,
            ) as bar:
                for future in as_completed(futures):
                    result = future.result()
                    if future in pairs_of:
                        bar.update(pairs_of[future])
                        if on_tile is not None:
                            on_tile(result)
                    else:
                        for message in result[1]:
                            log(message)
        finally:
            if futures:
                client.cancel(futures)
        seconds = time.perf_counter() - started
        _join_chunks([Path(merged_path(vb)) for vb in range(len(v_blocks))], out, fmt, columns)
        shutil.rmtree(tiles_dir)
        return {
            "out": str(out),
            "model": "screening" if screening else "interaction",
            "viral_proteins": len(virus_ids),
            "human_proteins": len(human_ids),
            "pairs_scored": len(virus_ids) * len(human_ids),
            "tiles": n_tiles,
            "tiles_screened_now": len(todo),
            "seconds": round(seconds, 3),
            "format": fmt,
        }

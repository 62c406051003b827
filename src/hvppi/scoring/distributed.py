"""Screens across a Dask cluster: one task per tile of (human block, viral block).

:func:`screen_distributed` gives the same rows and scores as the single-process screens of
:mod:`hvppi.scoring.screen`, for the screening model and for BiLSTM-attention models alike, with the
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
written twice is written whole both times. The scorer is scattered to the workers once; Dask's active memory
manager may keep one copy only, and when the worker holding it is lost, the scorer is sent again and the tiles
not yet on disk are submitted again (at most :data:`RESENDS` times). ``OUT.tiles/`` must be on a file system that every
worker and the client see (a cluster's shared or parallel file system).

Tile rows carry the human and viral input positions (``human_index``, ``virus_index``) so that
the merge can break score ties exactly as the single-process screen does; ``min_score`` is applied
per tile (to the calibrated probability for the screening model), which removes the same rows as
applying it afterwards because the calibration is non-decreasing in the score.
"""

from __future__ import annotations

import contextlib
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
from hvppi.scoring.interface import Column, Scorer, ScreenSettings
from hvppi.scoring.output import (
    arrow_schema,
    join_chunks,
    open_parts,
    output_format,
    screen_identity,
    summary,
    write_chunk,
)

DASK_MISSING = "screening on a Dask cluster needs dask.distributed and pyarrow: pip install 'hvppi[dask]'"
INDEX_COLUMNS: tuple[Column, ...] = (("human_index", "int64"), ("virus_index", "int64"))
"""Extra columns of the tile files: input positions of the human and viral protein."""


# --------------------------------------------------------------------------------------- the cluster


LOCAL_WORKERS_PER_CPU = 4
"""``local:N`` may start at most this many worker processes per CPU core of the machine (``os.cpu_count()``)."""
SCHEDULER_FILE_WAIT_S = 30.0
"""Seconds :func:`dask_client` waits for a scheduler file that is not there yet (the scheduler may be starting)."""
DASHBOARD_ADDRESS = "127.0.0.1:0"
"""Where a local cluster's dashboard listens: the loopback interface, on a free port (it shows tasks and logs)."""


class DaskTaskError(RuntimeError):
    """A task failed on a Dask worker: its name and the worker's error, in one line."""


class LostScorer(Exception):
    """The cluster lost every copy of the scattered scorer (its tasks were cancelled): send it again."""


RESENDS = 3
"""How many times a screen sends the scorer again after the cluster lost it, before it gives up."""


def local_worker_limit() -> int:
    """The most worker processes ``local:N`` may start here: ``LOCAL_WORKERS_PER_CPU`` per CPU core."""
    return LOCAL_WORKERS_PER_CPU * (os.cpu_count() or 1)


def read_scheduler_file(path: str | os.PathLike, wait: float = SCHEDULER_FILE_WAIT_S) -> str:
    """The scheduler address in a Dask scheduler file, waiting up to ``wait`` seconds for the file to appear.

    ValueError (one line) for a file still missing after the wait or one that is not a scheduler file."""
    path = Path(path)
    deadline = time.monotonic() + wait
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(min(0.2, max(deadline - time.monotonic(), 0.0)))
    if not path.exists():
        raise ValueError(
            f"--dask {path}: no scheduler file after waiting {wait:g} s; start the scheduler "
            f"(dask scheduler --scheduler-file {path}) or check the path"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(f"--dask {path}: not a readable Dask scheduler file ({detail})") from None
    address = document.get("address") if isinstance(document, dict) else None
    if not isinstance(address, str) or "://" not in address:
        raise ValueError(f"--dask {path}: not a Dask scheduler file (no scheduler address in it)")
    return address


@contextlib.contextmanager
def dask_client(
    spec: str,
    log: Callable[[str], None] = print,
    dashboard: bool = True,
    *,
    dashboard_address: str | None = DASHBOARD_ADDRESS,
    scheduler_file_wait: float = SCHEDULER_FILE_WAIT_S,
) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``: ``local:N`` (a local cluster of N single-threaded worker
    processes, closed on exit; N at most :func:`local_worker_limit`, 4 per CPU core) or a scheduler address
    (``tcp://host:8786``, or a scheduler file path ending in ``.json``, waited for up to ``scheduler_file_wait``
    seconds). The dashboard link is logged.

    A local cluster's dashboard listens on ``dashboard_address`` (default: loopback, a free port; None: no
    dashboard), and its workers log nothing below CRITICAL: a failed task is reported once, by the client, as
    :class:`DaskTaskError` (one line), not as a worker's traceback on stderr."""
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
            limit = local_worker_limit()
            if n > limit:
                raise ValueError(
                    f"--dask {spec}: at most {limit} local workers on this machine ({LOCAL_WORKERS_PER_CPU} per CPU "
                    f"core, {os.cpu_count() or 1} cores); for more, start a cluster and give its scheduler"
                )
            import logging

            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=dashboard_address,
                    silence_logs=logging.CRITICAL,
                )
            )
            client = stack.enter_context(Client(cluster))
            where = f"{n} local worker process{'es' if n > 1 else ''}"
        elif spec.endswith(".json"):
            address = read_scheduler_file(spec, scheduler_file_wait)
            client = stack.enter_context(Client(address))
            where = f"the scheduler of {spec} ({address})"
        else:
            client = stack.enter_context(Client(spec))
            where = f"the scheduler at {spec}"
        link = client.dashboard_link if dashboard else None
        shown = link or ("off" if dashboard_address is None else "none (pip install bokeh for it)")
        log(f"dask: {where}; dashboard: {shown}")
        yield client


def task_failure(exc: BaseException, task: str) -> Exception:
    """The one-line error for a task that failed on a worker: hvppi's own errors (a full disk, a bad input) as they
    are, anything else as :class:`DaskTaskError` naming the task and the worker's exception."""
    from hvppi.io.errors import HvppiError

    if isinstance(exc, HvppiError):
        return exc
    if type(exc).__name__ == "KilledWorker":
        return DaskTaskError(
            f"a Dask worker died while running {task}, more than once (out of memory, or killed?); its log says why"
        )
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror or exc}"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return DaskTaskError(" ".join(f"a Dask task failed on a worker ({task}): {text}".split()))


# --------------------------------------------------------------------------------------- worker tasks


@dataclass
class Shipped:
    """A scorer as sent to the workers: wrapped, so that it is pickled whole (Dask's own serialiser for
    PyTorch modules cannot handle the LSTM's weak references)."""

    scorer: Any


def prepare_human_block(shipped: Shipped, ids: list[str], sequences: list[str]) -> Any:
    """The scorer's human side of one block of human proteins."""
    return shipped.scorer.prepare_human(dict(zip(ids, sequences)))


def prepare_virus_block(shipped: Shipped, ids: list[str], sequences: list[str]) -> Any:
    """The scorer's viral side of one block of viral proteins."""
    return shipped.scorer.prepare_virus(dict(zip(ids, sequences)))


def score_tile(
    shipped: Shipped,
    human_part: Any,
    virus_part: Any,
    human_ids: list[str],
    human_start: int,
    virus_ids: list[str],
    virus_start: int,
    settings: ScreenSettings,
    path: str,
) -> str:
    """Score one tile, keep its rows (``top_k``, ``min_score`` within the tile), write them to ``path``
    (Parquet, atomically) and return ``path``. A tile already on disk is left as it is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if os.path.exists(path):
        return path
    scorer: Scorer = shipped.scorer
    block = scorer.rank_block(human_part, virus_part, np.array(human_ids, dtype=object), virus_ids, settings)
    columns = scorer.columns
    data: dict[str, Any] = {name: np.concatenate([b[name] for b in block.rows]) for name, _ in columns}
    data["human_index"] = np.concatenate([b["_order"] for b in block.rows]).astype(np.int64) + human_start
    data["virus_index"] = np.concatenate(
        [np.full(len(b["_order"]), virus_start + i, dtype=np.int64) for i, b in enumerate(block.rows)]
    )
    values = block.values
    stats = {
        "count": int(values.shape[1]),
        "mean": values.mean(axis=1).tolist(),
        "m2": ((values - values.mean(axis=1, keepdims=True)) ** 2).sum(axis=1).tolist(),
        "nearest_similarity": block.nearest_similarity,
    }
    table = pa.table(data, schema=arrow_schema(columns + INDEX_COLUMNS)).replace_schema_metadata(
        {"hvppi": json.dumps(stats)}
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def flat_warnings(shipped: Shipped, tables: list[Any], virus_ids: list[str]) -> list[str]:
    """The scorer's warnings about viral proteins whose values barely vary, from the tiles' statistics."""
    stats = [json.loads(t.schema.metadata[b"hvppi"]) for t in tables]
    count, mean, m2 = np.zeros(len(virus_ids)), np.zeros(len(virus_ids)), np.zeros(len(virus_ids))
    for s in stats:  # Chan et al.'s parallel variance
        n_b, mean_b, m2_b = s["count"], np.asarray(s["mean"]), np.asarray(s["m2"])
        total = count + n_b
        delta = mean_b - mean
        m2 = m2 + m2_b + delta**2 * count * n_b / np.maximum(total, 1)
        mean = mean + delta * n_b / np.maximum(total, 1)
        count = total
    spread = np.sqrt(m2 / np.maximum(count, 1))
    warnings = []
    for i, virus_id in enumerate(virus_ids):
        nearest = stats[0]["nearest_similarity"][i] if stats and stats[0]["nearest_similarity"] else 0.0
        message = shipped.scorer.flat_warning(virus_id, float(spread[i]), nearest) if stats else None
        if message:
            warnings.append(message)
    return warnings


def merge_virus_block(
    shipped: Shipped, tiles: list[str], out: str, fmt: str, settings: ScreenSettings, virus_ids: list[str]
) -> tuple[str, list[str]]:
    """Join the tiles of one viral block into ``out`` (rows of each viral protein best first, ``top_k``
    applied again, ranks recomputed); returns ``out`` and the warnings about flat score profiles."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = shipped.scorer.columns
    tables = [pq.read_table(t) for t in tiles]
    warnings = flat_warnings(shipped, tables, virus_ids)
    table = pa.concat_tables(tables) if tables else None
    if table is None or table.num_rows == 0:
        write_chunk(Path(out), [], fmt, columns)
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
    write_chunk(Path(out), [rows], fmt, columns)
    return out, warnings


# --------------------------------------------------------------------------------------- the screen


def blocks(n: int, size: int) -> list[tuple[int, int]]:
    """[start, end) of consecutive blocks of ``size`` items out of ``n``."""
    return [(start, min(start + size, n)) for start in range(0, n, size)]


@dataclass
class TilePlan:
    """The tiles of a screen: blocks of both sides, the tiles folder, and the tiles not yet on disk."""

    human_blocks: list[tuple[int, int]]
    virus_blocks: list[tuple[int, int]]
    folder: Path
    fmt: str

    def tile(self, vb: int, hb: int) -> str:
        return str(self.folder / f"tile-v{vb:06d}-h{hb:06d}.parquet")

    def merged(self, vb: int) -> str:
        return str(self.folder / f"merged-v{vb:06d}.{self.fmt}")

    def todo(self) -> list[tuple[int, int]]:
        return [
            (vb, hb)
            for vb in range(len(self.virus_blocks))
            if not os.path.exists(self.merged(vb))
            for hb in range(len(self.human_blocks))
            if not os.path.exists(self.tile(vb, hb))
        ]


def submit_tiles(
    client: Any, shipped: Any, plan: TilePlan, todo: list[tuple[int, int]], human: dict, virus: dict, settings: Any
) -> tuple[dict[Any, int], list[Any]]:
    """Submit the preparation, tile and merge tasks; returns (tile future → its pairs, every future)."""
    human_ids, human_seqs = list(human), list(human.values())
    virus_ids, virus_seqs = list(virus), list(virus.values())
    hb_, vb_ = plan.human_blocks, plan.virus_blocks
    human_parts = {
        hb: client.submit(
            prepare_human_block, shipped, human_ids[slice(*hb_[hb])], human_seqs[slice(*hb_[hb])], pure=False
        )
        for hb in sorted({hb for _, hb in todo})
    }
    virus_parts = {
        vb: client.submit(
            prepare_virus_block, shipped, virus_ids[slice(*vb_[vb])], virus_seqs[slice(*vb_[vb])], pure=False
        )
        for vb in sorted({vb for vb, _ in todo})
    }
    tiles: dict[tuple[int, int], Any] = {}
    for vb, hb in todo:
        (h0, h1), (v0, v1) = hb_[hb], vb_[vb]
        tiles[vb, hb] = client.submit(
            score_tile,
            shipped,
            human_parts[hb],
            virus_parts[vb],
            human_ids[h0:h1],
            h0,
            virus_ids[v0:v1],
            v0,
            settings,
            plan.tile(vb, hb),
            pure=False,
        )
    merges = [
        client.submit(
            merge_virus_block,
            shipped,
            [tiles.get((vb, hb), plan.tile(vb, hb)) for hb in range(len(hb_))],
            plan.merged(vb),
            plan.fmt,
            settings,
            virus_ids[v0:v1],
            pure=False,
        )
        for vb, (v0, v1) in enumerate(vb_)
        if not os.path.exists(plan.merged(vb))
    ]
    pairs_of = {tiles[(vb, hb)]: (vb_[vb][1] - vb_[vb][0]) * (hb_[hb][1] - hb_[hb][0]) for vb, hb in tiles}
    return pairs_of, list(tiles.values()) + merges


def screen_distributed(
    client: Any,
    scorer: Scorer,
    virus: dict[str, str],
    human: dict[str, str],
    out: str | Path,
    settings: ScreenSettings | None = None,
    *,
    human_block: int = 2000,
    virus_block: int = 64,
    progress: bool = True,
    restart: bool = False,
    log: Callable[[str], None] = print,
    on_tile: Callable[[str], None] | None = None,
) -> dict:
    """Screen every viral × human pair with ``scorer`` on the workers of ``client`` (a ``distributed.Client``).

    Rows, their order and scores equal those of :func:`hvppi.scoring.screen.screen` with the same scorer and
    ``settings``. Tiles are ``human_block`` × ``virus_block`` pairs. ``on_tile`` is called with the path of each
    tile as it finishes (an exception from it stops the screen; the tiles on disk are kept for a re-run). See the
    module docstring.
    """
    out = Path(out)
    with output_lock(out):
        check_dask()
        require_int("human_block", human_block, minimum=1)
        require_int("virus_block", virus_block, minimum=1)
        settings = settings or ScreenSettings()
        fmt = output_format(out)
        shipped = Shipped(scorer.portable())
        scorer.check_inputs(virus, human, log)
        identity = screen_identity(
            scorer, human, virus, settings, fmt, human_block=human_block, virus_block=virus_block
        )
        plan = TilePlan(
            blocks(len(human), human_block),
            blocks(len(virus), virus_block),
            open_parts(out, identity, restart, ".tiles"),
            fmt,
        )
        todo = plan.todo()
        n_tiles = len(plan.virus_blocks) * len(plan.human_blocks)
        if len(todo) < n_tiles:
            log(f"resuming: {n_tiles - len(todo)} of {n_tiles} tiles already screened")
        started = time.perf_counter()
        run_with_resends(client, shipped, plan, todo, human, virus, settings, progress, log, on_tile)
        join_chunks([Path(plan.merged(vb)) for vb in range(len(plan.virus_blocks))], out, fmt, scorer.columns)
        shutil.rmtree(plan.folder)
        return summary(
            out,
            scorer.kind,
            len(virus),
            len(human),
            fmt,
            tiles=n_tiles,
            tiles_screened_now=len(todo),
            seconds=round(time.perf_counter() - started, 3),
        )


def check_dask() -> None:
    """ValueError (with the install line) unless dask.distributed and pyarrow import."""
    try:
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise ValueError(DASK_MISSING) from None


def run_with_resends(
    client: Any,
    shipped: Shipped,
    plan: TilePlan,
    todo: list[tuple[int, int]],
    human: dict,
    virus: dict,
    settings: ScreenSettings,
    progress: bool,
    log: Callable[[str], None],
    on_tile: Callable[[str], None] | None,
) -> None:
    """:func:`run_tiles`; when the cluster lost the scattered scorer, send it again and run the tiles not yet on disk
    (at most :data:`RESENDS` times), or a one-line :class:`DaskTaskError`."""
    for resend in range(RESENDS + 1):
        try:
            run_tiles(
                client,
                shipped,
                plan,
                plan.todo() if resend else todo,
                human,
                virus,
                settings,
                progress,
                log,
                on_tile,
            )
            break
        except LostScorer:
            if resend == RESENDS:
                raise DaskTaskError(
                    f"the Dask cluster lost the scorer's copy {RESENDS + 1} times (workers killed?); the tiles on "
                    "disk are kept for a re-run"
                ) from None
            log("a Dask worker holding the scorer was lost: sending it again, screening the tiles not yet on disk")
            try:
                client.wait_for_workers(1, timeout=120)
            except TimeoutError:
                raise DaskTaskError(
                    "the Dask cluster lost the scorer with its workers, and no worker came back within 120 s; the "
                    "tiles on disk are kept for a re-run"
                ) from None


def run_tiles(
    client: Any,
    shipped: Shipped,
    plan: TilePlan,
    todo: list[tuple[int, int]],
    human: dict,
    virus: dict,
    settings: ScreenSettings,
    progress: bool,
    log: Callable[[str], None],
    on_tile: Callable[[str], None] | None,
) -> None:
    """Run the tasks of ``todo`` (and every unmerged block) to the end, with a progress bar of pairs."""
    from concurrent.futures import CancelledError

    from dask.utils import key_split
    from distributed import as_completed

    from hvppi.io.progress import progress as bar_or_lines

    futures: list[Any] = []
    try:
        shipped_future = client.scatter(shipped, broadcast=True, hash=False) if todo else shipped
        pairs_of, futures = submit_tiles(client, shipped_future, plan, todo, human, virus, settings)
        total = len(virus) * len(human)
        with bar_or_lines(
            total, "screening (dask)", "pair", progress, log, initial=total - sum(pairs_of.values()), unit_scale=True
        ) as bar:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except CancelledError:  # a dependency lost with its worker: the scattered scorer
                    raise LostScorer from None
                except Exception as exc:  # the worker's error, re-raised here: one line, with the task's name
                    raise task_failure(exc, key_split(future.key)) from None
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

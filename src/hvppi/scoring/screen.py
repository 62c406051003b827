"""Screening every viral protein against every human protein, in one process, with any :class:`Scorer`.

The human side is prepared once; viral proteins go in chunks, each chunk prepared and ranked against it.
Results stream to disk: each chunk is written to ``OUT.parts/`` atomically, so a re-run of an interrupted
screen skips the chunks already written and no row appears twice; at the end the chunks are joined into OUT
(TSV, or Parquet if OUT ends in ``.parquet``). Memory stays flat in the number of pairs. The output lock
(``.OUT.lock`` beside OUT, :func:`hvppi.io.files.output_lock`) refuses a second screen of the same OUT while
one runs, so ``restart`` never discards the parts of a live process.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from hvppi.io.files import output_lock
from hvppi.io.orphans import remove_orphaned_parts
from hvppi.io.progress import progress as bar_or_lines
from hvppi.scoring.interface import Log, Scorer, ScreenSettings
from hvppi.scoring.output import (
    finished,
    join_chunks,
    mark_finished,
    open_parts,
    output_format,
    screen_identity,
    summary,
    write_chunk,
)


def screen(
    scorer: Scorer,
    virus: dict[str, str],
    human: dict[str, str],
    out: str | Path,
    settings: ScreenSettings | None = None,
    *,
    progress: bool = True,
    restart: bool = False,
    log: Log = print,
    human_side: Any = None,
) -> dict[str, Any]:
    """Rank every human protein for every viral protein with ``scorer`` and write the rows to ``out``.

    Rows (``scorer.columns``) are grouped by viral protein in input order, best first. ``human_side``: the
    result of ``scorer.prepare_human(human)`` when the caller keeps it between screens (the web page).
    Returns the summary (see :func:`hvppi.scoring.output.summary`).
    """
    settings = settings or ScreenSettings()
    chunk_size = settings.chunk_size or scorer.chunk_size
    out = Path(out)
    virus_ids = list(virus)
    scorer.check_inputs(virus, human, log)
    with output_lock(out):
        remove_orphaned_parts(out, log)
        fmt = output_format(out)
        identity = screen_identity(scorer, human, virus, settings, fmt, chunk_size=chunk_size)
        unfinished = out.with_name(out.name + ".parts").exists()
        if not restart and not unfinished and finished(out, identity):
            log(f"{out} is already this screen (same inputs, settings and model): nothing to do")
            return summary(out, scorer.kind, len(virus_ids), len(human), fmt, already_done=True)
        parts_dir = open_parts(out, identity, restart)
        chunks = [virus_ids[i : i + chunk_size] for i in range(0, len(virus_ids), chunk_size)]
        parts = [parts_dir / f"chunk-{k:06d}.{fmt}" for k in range(len(chunks))]
        done = sum(p.exists() for p in parts)
        if done:
            log(f"resuming: {done} of {len(chunks)} chunks of viral proteins already screened")
        human_ids = np.array(list(human), dtype=object)
        if done < len(chunks) and human_side is None:
            if progress:
                log(f"preparing {len(human):,} human proteins (their similarities to the model's reference) ...")
            human_side = scorer.prepare_human(human, progress=progress, log=log)
        with bar_or_lines(len(virus_ids) * len(human_ids), "screening", "pair", progress, log, unit_scale=True) as bar:
            for chunk, part in zip(chunks, parts):
                if not part.exists():
                    block = scorer.rank_block(
                        human_side, scorer.prepare_virus({v: virus[v] for v in chunk}), human_ids, chunk, settings
                    )
                    for i, virus_id in enumerate(chunk):
                        nearest = block.nearest_similarity[i] if block.nearest_similarity else 0.0
                        message = scorer.flat_warning(virus_id, float(block.values[i].std()), nearest)
                        if message:
                            log(message)
                    write_chunk(part, block.rows, fmt, scorer.columns)
                bar.update(len(chunk) * len(human_ids))
        join_chunks(parts, out, fmt, scorer.columns)
        mark_finished(out, identity)
        shutil.rmtree(parts_dir)
        return summary(out, scorer.kind, len(virus_ids), len(human_ids), fmt)

"""Removing temporary files left by killed runs.

:func:`hvppi.io.files.atomic_path` writes ``.NAME.XXXXXXXX.part`` beside an output and removes it on
every exit path a process survives; a kill (``SIGKILL``, power loss) leaves it behind. A run that
holds the output's lock (:func:`hvppi.io.files.output_lock`) knows no live process of hvppi is
writing that output, so every such file beside it is an orphan: :func:`remove_orphaned_parts`
deletes them. Call it only while holding the lock.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path


def orphaned_parts(path: str | os.PathLike) -> list[Path]:
    """The ``.NAME.XXXXXXXX.part`` files beside the output ``path`` (``XXXXXXXX``: tempfile's 8 random characters)."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.part")
    try:
        names = os.listdir(path.parent if str(path.parent) else ".")
    except OSError:
        return []
    return sorted(path.parent / name for name in names if pattern.fullmatch(name))


def remove_orphaned_parts(path: str | os.PathLike, log: Callable[[str], None] | None = None) -> list[Path]:
    """Delete the temporary files of killed writers of ``path``; call it while holding ``path``'s output lock.

    Returns the files removed; a file that cannot be removed is left (and not reported)."""
    removed = []
    for part in orphaned_parts(path):
        with contextlib.suppress(OSError):
            if part.is_file() and not part.is_symlink():
                size = part.stat().st_size
                part.unlink()
                removed.append(part)
                if log is not None:
                    log(f"removed {part} ({size:,} bytes), left by an interrupted run")
    return removed

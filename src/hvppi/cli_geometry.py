"""``hvppi embed`` and ``hvppi geometry``: embedding geometry (CLI layer over :mod:`hvppi.geometry`)."""

from __future__ import annotations


def register(sub, run_options) -> None:
    """Add the ``embed`` and ``geometry`` subcommands; ``run_options(p)`` adds --device/--threads/--quiet."""

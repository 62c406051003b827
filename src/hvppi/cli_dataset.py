"""``hvppi dataset``: build benchmark data sets from HPIDB (CLI layer over :mod:`hvppi.dataset`)."""

from __future__ import annotations


def register(sub) -> None:
    """Add the ``dataset`` subcommand to the ``hvppi`` parser's subparsers."""

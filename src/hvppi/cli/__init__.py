"""The ``hvppi`` command: one subcommand per task, a thin layer over the Python API.

:mod:`hvppi.cli.router` builds the parser from the modules of :mod:`hvppi.cli.commands` (one per
command, each with HELP, DESCRIPTION, ``add_arguments(parser)`` and ``run(args) -> int``) and runs
the chosen one; :mod:`hvppi.cli.options` defines the options they share.
"""

from __future__ import annotations

from hvppi.cli.router import build_parser, main

__all__ = ["build_parser", "main"]

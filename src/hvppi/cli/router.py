"""The ``hvppi`` parser, built from the command modules, and ``main`` with the one error path of every command."""

from __future__ import annotations

import argparse
import gzip
import os
import signal
import sys
import threading
import zipfile
import zlib
from collections.abc import Iterator
from types import ModuleType, TracebackType
from typing import Any

from hvppi._version import __version__
from hvppi.cli.commands import (
    attention,
    benchmark,
    dataset,
    embed,
    encode,
    evaluate,
    geometry,
    predict,
    screen,
    serve,
    split,
    train,
    tsne,
)
from hvppi.cli.options import HelpFormatter
from hvppi.io.errors import HvppiError

COMMANDS: dict[str, ModuleType] = {
    "predict": predict,
    "evaluate": evaluate,
    "train": train,
    "split": split,
    "screen": screen,
    "encode": encode,
    "attention": attention,
    "tsne": tsne,
    "dataset": dataset,
    "embed": embed,
    "geometry": geometry,
    "benchmark": benchmark,
    "serve": serve,
}
"""Command name → module with HELP, DESCRIPTION, add_arguments(parser) and run(args) -> int."""

DESCRIPTION = (
    "Sequence-based human–virus protein–protein interaction prediction: which human proteins might this viral "
    "protein bind, and why (the default screening model ranks every human protein with the evidence per row); the "
    "BiLSTM-attention model of Tsukiyama et al. 2020 (lstm-phv-benchmark), the data sets they learn from (HPIDB), "
    "and the geometry of protein embeddings (Hakim, Roy & Rahman 2025). Every failure is one line on stderr, "
    "'hvppi COMMAND: error: ...', and exit status 2 (130 when interrupted, 143 when terminated)."
)

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def build_parser() -> argparse.ArgumentParser:
    """The ``hvppi`` argument parser, one subcommand per module of COMMANDS."""
    parser = argparse.ArgumentParser(prog="hvppi", description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"hvppi {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION, formatter_class=HelpFormatter)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def walk_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser under ``parser`` with its command path: (), ("train",), ..., ("geometry", "report")."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk_parsers(child, (*path, name))


def _file_in_traceback(tb: TracebackType | None) -> str | None:
    """The file being read when a decoding error struck: the innermost hvppi frame's ``path`` argument.

    A fallback only: hvppi's readers raise InputError naming the file (see ``hvppi.io.files.read_errors``)."""
    found = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_globals.get("__name__", "").startswith("hvppi."):
            path = frame.f_locals.get("path")
            if isinstance(path, (str, os.PathLike)):
                found = os.fspath(path)
        tb = tb.tb_next
    return found


def error_message(exc: BaseException) -> str:
    """One line that says what went wrong and, where known, with which file."""
    if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror or exc}"
        if exc.filename2 is not None:
            text += f" (and {exc.filename2})"
    elif isinstance(exc, (EOFError, zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, UnicodeDecodeError)):
        reason = "truncated file" if type(exc) is EOFError else "cannot decode the file"
        path = _file_in_traceback(exc.__traceback__)
        text = f"{path + ': ' if path else ''}{reason} ({exc})"
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))
"""The most ``--threads`` a command takes: more makes no run faster, and 20,000 crash OpenMP."""
FILE_OUTPUTS = ("out", "per_residue", "json")
"""Options that name an output file (unless their metavar is DIR: a folder)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch system's time limit, ``kill``): stopped as an interrupt is, its temporary files removed."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command (and subcommand) that ``args`` runs."""
    path = tuple(p for p in (args.command, getattr(args, "subcommand", None)) if p)
    return dict(walk_parsers(parser)).get(path, parser)


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """What is wrong with ``args`` before any work, in one line (None: nothing): ``--threads`` out of range, an
    output file that is a folder, or one that is an input of the same run (it would be overwritten)."""
    threads = getattr(args, "threads", None)
    if isinstance(threads, int) and not 0 <= threads <= MAX_THREADS:
        return f"--threads {threads}: give 0 (every CPU, or the library's choice) to {MAX_THREADS}"
    actions = {a.dest: a for a in command_parser(parser, args)._actions}
    inputs = []
    for dest, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if dest not in FILE_OUTPUTS and isinstance(item, str) and os.path.isfile(item):
                inputs.append((dest, item))
    for dest in FILE_OUTPUTS:
        out, action = getattr(args, dest, None), actions.get(dest)
        if not isinstance(out, str) or action is None or action.metavar == "DIR" or not os.path.exists(out):
            continue
        flag = action.option_strings[0] if action.option_strings else dest
        if os.path.isdir(out):
            return f"{flag} {out}: is a folder; give the path of a file to write"
        for name, path in inputs:
            if os.path.samefile(out, path):
                given = (actions[name].option_strings or [name])[0] if name in actions else name
                return f"{flag} {out} is the input {given} {path}: it would be overwritten; write elsewhere"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run ``hvppi`` with ``argv`` (default: sys.argv[1:]); return the exit status (2: an error, 130: interrupted,
    143: terminated by SIGTERM)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = " ".join(["hvppi", args.command] + ([args.subcommand] if getattr(args, "subcommand", None) else []))
    problem = check_arguments(parser, args)
    if problem is not None:
        print(f"{prog}: error: {problem}", file=sys.stderr)
        return EXIT_ERROR
    handled = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if handled else None
    try:
        return args.run(args)
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"{prog}: error: {'terminated (SIGTERM)' if terminated else 'interrupted'}", file=sys.stderr)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except (HvppiError, ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError) as exc:
        print(f"{prog}: error: {error_message(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # anything else is a bug or a library's unexpected refusal: still one line
        if os.environ.get("HVPPI_DEBUG"):
            raise
        print(
            f"{prog}: error: {type(exc).__name__}: {error_message(exc)} (unexpected; HVPPI_DEBUG=1 shows the "
            "traceback, please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    finally:
        if handled:
            signal.signal(signal.SIGTERM, previous)

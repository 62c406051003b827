"""The ``hvppi`` parser, built from the command modules, and ``main`` with the one error path of every command."""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import zipfile
import zlib
from collections.abc import Iterator
from types import ModuleType, TracebackType

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
    "'hvppi COMMAND: error: ...', and exit status 2 (130 when interrupted)."
)

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


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


def main(argv: list[str] | None = None) -> int:
    """Run ``hvppi`` with ``argv`` (default: sys.argv[1:]); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = " ".join(["hvppi", args.command] + ([args.subcommand] if getattr(args, "subcommand", None) else []))
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"{prog}: error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
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

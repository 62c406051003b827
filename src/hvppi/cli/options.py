"""What every ``hvppi`` command shares: the help formatter and the one definition of each common option.

``--threads``, ``--device``, ``--quiet``, ``--model``, the ``--pairs``/``--sequences`` inputs and the
``--human-embeddings``/``--virus-embeddings`` files are defined here once; commands add them with the
``add_*`` functions and read them back with the helpers below, which call only the public Python API.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    import torch

    from hvppi.io.embeddings import ProteinEmbeddings
    from hvppi.io.pairs import PairTable
    from hvppi.lstm.model import InteractionModel
    from hvppi.lstm.modelfile import ModelInfo

Options = argparse._ActionsContainer
"""A parser or an argument group: anything with add_argument."""

SEQUENCE_FORMATS = (
    "FASTA (plain or .gz; the ID is the first word of the header, the accession of sp|ACC|NAME) or id<TAB>sequence"
)
PAIR_FORMATS = "human_id<TAB>virus_id[<TAB>label] (no header) or LSTM-PHV CSV"
MODEL_HELP = (
    "model file, or a bundled model by name: default (= screening: the screening model), lstm-phv-benchmark "
    "(the paper's BiLSTM-attention model), lstm-phv-viral-disjoint (alias viral-disjoint)"
)
INTERACTION_MODEL_HELP = (
    "BiLSTM-attention model file (from 'hvppi train'), or a bundled one by name: lstm-phv-benchmark or "
    "lstm-phv-viral-disjoint (alias viral-disjoint)"
)

THREADS_USE = {
    "torch": "CPU threads of PyTorch; 0: PyTorch's own choice (every core). This small model gains little "
    "from more than 1, and on a busy machine several threads can run 10x slower",
    "cd-hit": "threads of CD-HIT; 0: every CPU",
    "models": "CPU threads: the screening model's alignments and its first comparison of a human set with its "
    "reference (--threads 2 on 2 cores: ~21 s instead of ~34 s for the default 13,655 human proteins; later "
    "screens against the same humans read it from the cache); PyTorch's for a BiLSTM-attention model, where 0 "
    "is PyTorch's own choice and more than 1 gains little; 0: every CPU",
    "cd-hit+align": "threads of CD-HIT and of the alignments; 0: every CPU",
    "align": "threads of the alignments; 0: every CPU",
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Appends "(default: X)" to every option that has a default, and keeps the layout of indented text.

    Description paragraphs (separated by blank lines) are re-wrapped to the terminal width unless one of
    their lines is indented (a list or a table), which is printed as written.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or "(default" in text
            or default is None
            or default is False
            or default == argparse.SUPPRESS
        ):
            return text
        if isinstance(default, (list, tuple)):
            default = " ".join(str(d) for d in default)
        return f"{text} (default: {str(default).replace('%', '%%')})".lstrip()

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = re.split(r"\n\s*\n", text.strip("\n"))
        out = []
        for paragraph in paragraphs:
            lines = paragraph.splitlines()
            if any(line[:1].isspace() for line in lines):
                out.append("\n".join(indent + line for line in lines))
            else:
                out.append(textwrap.fill(" ".join(lines), width, initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)


def add_threads(parser: Options, use: str = "torch", default: int = 1) -> None:
    """Add ``--threads N``; ``use`` (a key of THREADS_USE) says what the threads run."""
    parser.add_argument("--threads", type=int, default=default, metavar="N", help=THREADS_USE[use])


def add_device(parser: Options) -> None:
    """Add ``--device {auto,cpu,cuda}``."""
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where PyTorch runs; auto: CUDA if PyTorch sees a GPU, else the CPU",
    )


def add_quiet(parser: Options) -> None:
    """Add ``--quiet``."""
    parser.add_argument("--quiet", action="store_true", help="no progress bars or progress messages")


def add_run_options(parser: argparse.ArgumentParser, threads: str = "torch") -> None:
    """Add ``--device``, ``--threads`` (``threads``: a key of THREADS_USE; PyTorch's by default) and ``--quiet``."""
    add_device(parser)
    add_threads(parser, threads)
    add_quiet(parser)


def add_model(parser: argparse.ArgumentParser, interaction_only: bool = True) -> None:
    """Add ``--model``: a model file or bundled model name. Commands that analyse the BiLSTM-attention model
    (``interaction_only``) default to lstm-phv-benchmark; the others to the screening model."""
    if interaction_only:
        parser.add_argument(
            "--model", default=None, metavar="FILE", help=f"{INTERACTION_MODEL_HELP} (default: lstm-phv-benchmark)"
        )
    else:
        parser.add_argument("--model", default=None, metavar="FILE", help=f"{MODEL_HELP} (default: default)")


def add_pairs_inputs(parser: argparse.ArgumentParser, pairs_help: str) -> None:
    """Add ``--pairs`` (repeatable, combined into one table) and ``--sequences``."""
    parser.add_argument(
        "--pairs",
        action="append",
        required=True,
        metavar="FILE",
        help=f"{pairs_help}: {PAIR_FORMATS}. Repeat to combine files",
    )
    parser.add_argument(
        "--sequences",
        metavar="FILE",
        help=f"protein sequences: {SEQUENCE_FORMATS}; may be left out when the pairs CSV carries them",
    )


EMBEDDING_SIDES = {"human": "human", "virus": "viral"}


def add_embeddings(parser: Options, training: bool = False) -> None:
    """Add ``--human-embeddings H5`` and ``--virus-embeddings H5`` (per-protein files of 'hvppi embed')."""
    for side, adjective in EMBEDDING_SIDES.items():
        use = (
            f"per-protein embeddings of the {adjective} proteins (the per-protein H5 of 'hvppi embed'), fed to the "
            "model beside the 7-property tower (or instead of it, with --no-towers); the model file records "
            "the embedder"
            if training
            else f"per-protein embeddings of the {adjective} proteins, for a model trained with "
            f"--{side}-embeddings: the per-protein H5 of 'hvppi embed' with the embedder the model names"
        )
        parser.add_argument(f"--{side}-embeddings", metavar="H5", default=None, help=use)


def refuse_embeddings(args: argparse.Namespace, what: str) -> None:
    """ValueError if ``--human-embeddings``/``--virus-embeddings`` were given where ``what`` takes none."""
    given = [f"--{side}-embeddings" for side in EMBEDDING_SIDES if getattr(args, f"{side}_embeddings", None)]
    if given:
        raise ValueError(f"{'/'.join(given)} given, but {what} reads no embeddings; leave it out")


def embedding_paths(args: argparse.Namespace) -> dict[str, str | None]:
    """The ``--human-embeddings``/``--virus-embeddings`` files by side (None: not given)."""
    return {side: getattr(args, f"{side}_embeddings", None) for side in EMBEDDING_SIDES}


def load_embeddings_for(
    args: argparse.Namespace,
    info: ModelInfo,
    ids: dict[str, Iterable[str]],
    sequences: dict[str, str] | None = None,
) -> dict[str, ProteinEmbeddings]:
    """The per-protein embeddings the model of ``info`` reads, by side, of the proteins ``ids[side]``, from the
    ``--human-embeddings``/``--virus-embeddings`` files: each file's embedder must be the model's, and a file
    the model does not read is refused."""
    from hvppi.io.embeddings import embedding_source, load_protein_embeddings
    from hvppi.lstm.modelfile import check_embedding_source

    found = {}
    for side, path in embedding_paths(args).items():
        source = None if path is None else embedding_source(path)
        check_embedding_source(info, side, source, f"--{side}-embeddings")
        if path is not None:
            found[side] = load_protein_embeddings(path, ids[side], sequences)
    return found


def set_threads(args: argparse.Namespace) -> None:
    """Apply ``--threads`` to PyTorch (0 leaves PyTorch's own choice)."""
    from hvppi.lstm.inference import set_threads as set_torch_threads

    set_torch_threads(args.threads)


def resolve_device_for(args: argparse.Namespace) -> torch.device:
    """The device of ``--device`` (``auto``: CUDA if PyTorch sees a GPU), with ``--threads`` applied to PyTorch."""
    from hvppi.pretrained.base import resolve_device

    set_threads(args)
    return resolve_device(getattr(args, "device", "cpu"))


def load_model_for(args: argparse.Namespace) -> tuple[InteractionModel, ModelInfo, torch.device]:
    """Model, its description and the device of a command's ``--model``, ``--device`` and ``--threads``."""
    from hvppi.lstm.modelfile import load_model
    from hvppi.pretrained.base import resolve_device

    set_threads(args)
    device = resolve_device(args.device)
    model, info = load_model(args.model, device)
    return model, info, device


def load_pairs(paths: list[str]) -> PairTable:
    """Read pair files into one table."""
    from hvppi.io.pairs import PairTable, read_pairs

    return PairTable.concat([read_pairs(p) for p in paths])


def load_pairs_and_sequences(args: argparse.Namespace) -> tuple[PairTable, dict[str, str]]:
    """The pairs of ``--pairs`` and the sequences of their proteins (``--sequences`` and/or the pairs CSV)."""
    from hvppi.io.pairs import merge_sequences
    from hvppi.io.sequences import read_sequences

    pairs = load_pairs(args.pairs)
    sequences = read_sequences(args.sequences) if args.sequences else None
    return pairs, merge_sequences(pairs, sequences, args.sequences)


def prepare_output(path: str | os.PathLike, is_dir: bool = False) -> None:
    """Create the folder an output goes to (``path`` itself when ``is_dir``) and check that it is writable,
    so that a bad output path fails before the work rather than after it."""
    folder = Path(path) if is_dir else Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename is not None else ""
        raise OSError(exc.errno, f"cannot create the folder{where}: {exc.strerror}", os.fspath(path)) from None
    if not os.access(folder, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))


def log(message: Any) -> None:
    """Print a progress message to stderr."""
    import sys

    print(message, file=sys.stderr, flush=True)

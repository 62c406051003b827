"""``hvppi encode``: per-protein tower vectors to H5 (CLI layer over :mod:`hvppi.scoring.screen`)."""

from __future__ import annotations

import argparse
import sys

from hvppi.cli.options import SEQUENCE_FORMATS, add_model, add_run_options, load_model_for, log

HELP = "write per-protein tower vectors to H5"

DESCRIPTION = """\
Encode proteins with one tower of a model and store the 64-d vectors in an H5 file (one dataset per
ID, with the sequence's SHA-256; the file records the model's SHA-256). 'hvppi screen
--human-vectors/--virus-vectors' reuses them; vectors of another model are refused and changed
sequences are encoded again."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi encode``."""
    parser.add_argument("--sequences", required=True, metavar="FILE", help=f"proteins: {SEQUENCE_FORMATS}")
    parser.add_argument("--tower", required=True, choices=["human", "virus"], help="which tower encodes them")
    parser.add_argument("--out", required=True, metavar="H5", help="H5 file, created or extended")
    add_model(parser)
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    """Encode the proteins into the H5 file."""
    from hvppi.io.sequences import read_sequences
    from hvppi.lstm.scorer import tower_vectors
    from hvppi.lstm.vectors import VectorStore

    model, info, device = load_model_for(args)
    sequences = read_sequences(args.sequences, allow_duplicates=False)
    with VectorStore(args.out, args.tower, info.require_file_sha256(), width=model.config.protein_dim) as store:
        tower_vectors(model, args.tower, sequences, store, device, progress=not args.quiet, log=log)
    print(f"{len(sequences)} {args.tower} protein vectors in {args.out}", file=sys.stderr)
    return 0

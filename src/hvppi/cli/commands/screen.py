"""``hvppi screen``: every viral protein against every human protein (CLI layer over :mod:`hvppi.ppi.screening`)."""

from __future__ import annotations

import argparse
import json

from hvppi.cli.options import SEQUENCE_FORMATS, add_model, add_run_options, load_model_for, log

HELP = "score every viral protein against every human protein"

DESCRIPTION = """\
Screen a viral proteome against human proteins: each protein is encoded once, only the head runs per
pair. Writes rows human_id, virus_id, score, call, rank (rank 1 = highest score within its viral
protein), grouped by viral protein in input order, to a TSV, or Parquet if OUT ends in .parquet.
Results stream to OUT.parts/ as they come; an interrupted screen, run again with the same arguments,
continues where it stopped. Prints a JSON summary."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi screen``."""
    parser.add_argument("--virus", required=True, metavar="FASTA", help=f"viral proteins: {SEQUENCE_FORMATS}")
    parser.add_argument("--human", required=True, metavar="FASTA", help=f"human proteins: {SEQUENCE_FORMATS}")
    parser.add_argument("--out", required=True, metavar="FILE", help="output .tsv or .parquet")
    add_model(parser)
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        metavar="K",
        help="keep the K best human proteins per viral protein (default: all)",
    )
    parser.add_argument(
        "--min-score", type=float, default=None, metavar="S", help="keep pairs scoring at least S (default: all)"
    )
    parser.add_argument("--human-vectors", metavar="H5", help="reuse and extend human tower vectors of 'hvppi encode'")
    parser.add_argument("--virus-vectors", metavar="H5", help="reuse and extend viral tower vectors of 'hvppi encode'")
    parser.add_argument(
        "--restart", action="store_true", help="discard an unfinished screen at OUT instead of continuing it"
    )
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    """Screen and print the summary as JSON."""
    from hvppi.io.sequences import read_sequences
    from hvppi.ppi.screening import ScreenSettings, screen
    from hvppi.ppi.vectors import VectorStore

    model, info, device = load_model_for(args)
    virus = read_sequences(args.virus, allow_duplicates=False)
    human = read_sequences(args.human, allow_duplicates=False)
    settings = ScreenSettings(top_k=args.top_k, min_score=args.min_score)
    stores = [
        VectorStore(path, tower, info.file_sha256) if path else None
        for path, tower in ((args.human_vectors, "human"), (args.virus_vectors, "virus"))
    ]
    try:
        summary = screen(
            model,
            info,
            virus,
            human,
            args.out,
            settings,
            device,
            progress=not args.quiet,
            human_store=stores[0],
            virus_store=stores[1],
            restart=args.restart,
            log=log,
        )
    finally:
        for store in stores:
            if store is not None:
                store.close()
    print(json.dumps(summary, indent=2))
    return 0

"""``hvppi tsne``: t-SNE map of the intermediate vectors of labelled pairs (CLI layer over :mod:`hvppi.lstm.tsne`)."""

from __future__ import annotations

import argparse
import sys

from hvppi.cli.options import (
    add_model,
    add_pairs_inputs,
    add_run_options,
    load_model_for,
    load_pairs_and_sequences,
    prepare_output,
)

HELP = "t-SNE map of the intermediate vectors of labelled pairs"

DESCRIPTION = """\
Map the 128-d intermediate vectors (human ‖ virus tower vectors) of labelled pairs with t-SNE
(perplexity 50, learning rate 200, at most 5,000 iterations, stop at gradient norm 1e-7). Writes
OUT_DIR/tsne.tsv (IDs, label, score, call, x, y) and OUT_DIR/tsne.png (coloured by label, wrong calls
circled; titled with the model and the pair files)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi tsne``."""
    add_pairs_inputs(parser, "labelled pairs")
    parser.add_argument("--out-dir", required=True, metavar="DIR", help="output folder")
    add_model(parser)
    parser.add_argument(
        "--max-pairs", type=int, default=None, metavar="N", help="map a seeded random N of the pairs (default: all)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample of pairs and of t-SNE")
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    """Map the pairs and write the TSV and PNG."""
    from hvppi.evaluation.plots import model_label, plot_subtitle
    from hvppi.lstm.evaluation import short_names
    from hvppi.lstm.tsne import write_tsne

    model, info, device = load_model_for(args)
    pairs, sequences = load_pairs_and_sequences(args)
    prepare_output(args.out_dir, is_dir=True)
    mapped = write_tsne(
        args.out_dir,
        model,
        pairs,
        sequences,
        info.cutoff,
        max_pairs=args.max_pairs,
        seed=args.seed,
        device=device,
        progress=not args.quiet,
        subtitle=plot_subtitle([model_label(args.model)], short_names(args.pairs)),
    )
    print(f"mapped {mapped} of {len(pairs)} pairs; wrote tsne.tsv and tsne.png to {args.out_dir}", file=sys.stderr)
    return 0

"""``hvppi predict``: score human–virus pairs (CLI layer over :mod:`hvppi.lstm.inference`)."""

from __future__ import annotations

import argparse
import sys

from hvppi.cli.commands.screen import add_virus_options, load_scorer_for
from hvppi.cli.options import (
    add_embeddings,
    add_model,
    add_pairs_inputs,
    add_run_options,
    load_pairs_and_sequences,
    log,
    prepare_output,
)

HELP = "score human–virus pairs"

DESCRIPTION = """\
Score pairs with a trained model (the bundled screening model by default). Writes a TSV with columns
human_id, virus_id, score (interaction probability; for the screening model its calibrated probability)
and call (1 if score >= the cutoff), in input order; with the screening model, also known (the sources of a
pair already in the training data, matched by sequence; empty otherwise). With the screening model the cutoff is
0.5 on a probability over the whole human proteome, which few pairs reach (known pairs among them can read far
below it, spike-ACE2 0.28, and be called 0): to rank a viral protein's candidates, use 'hvppi screen'. Each distinct protein is
encoded once. The screening
model uses each viral protein's virus: give it with --taxon/--family (all) or --taxonomy (per protein), else
it is taken from the UniProt accession where the training data knows it, and a warning names the proteins
ranked without it. Pairs whose viral or human side the training data knows on the other side are refused.

A model trained on per-protein embeddings ('hvppi train --human-embeddings/--virus-embeddings') needs
the same options here, with files of the embedder it names; files of another embedder are refused."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi predict``."""
    add_pairs_inputs(parser, "pairs to score (labels, if any, are ignored)")
    parser.add_argument("--out", required=True, metavar="TSV", help="output TSV")
    add_model(parser, interaction_only=False)
    parser.add_argument(
        "--cutoff",
        type=float,
        default=None,
        help="score threshold of the call (default: the model's cutoff, Youden's on its validation pairs; "
        "0.5 for the screening model)",
    )
    add_virus_options(parser)
    add_embeddings(parser)
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    """Score the pairs and write the TSV."""
    from hvppi.evaluation.metrics import check_cutoff
    from hvppi.scoring.output import write_predictions

    if args.cutoff is not None:
        check_cutoff(args.cutoff, "--cutoff")
    pairs, sequences = load_pairs_and_sequences(args)
    scorer = load_scorer_for(args, list(dict.fromkeys(pairs.virus_ids)))
    try:
        scorer.check_pairs(pairs, sequences, log)
        prepare_output(args.out)
        cutoff = scorer.cutoff if args.cutoff is None else args.cutoff
        scores = scorer.score_pairs(pairs, sequences, progress=not args.quiet, log=log)
        known = scorer.known_pairs(pairs, sequences)
    finally:
        scorer.close()
    called = write_predictions(args.out, pairs, scores, cutoff, known)
    print(
        f"wrote {len(pairs)} scored pairs to {args.out} ({called} called interacting at cutoff {cutoff:.4g})",
        file=sys.stderr,
    )
    return 0

"""``hvppi predict``: score human–virus pairs (CLI layer over :mod:`hvppi.ppi.inference`)."""

from __future__ import annotations

import argparse
import sys

from hvppi.cli.options import (
    add_embeddings,
    add_model,
    add_pairs_inputs,
    add_run_options,
    load_embeddings_for,
    load_model_for,
    load_pairs_and_sequences,
    log,
    prepare_output,
    refuse_embeddings,
)

HELP = "score human–virus pairs"

DESCRIPTION = """\
Score pairs with a trained model (the bundled screening model by default). Writes a TSV with columns
human_id, virus_id, score (interaction probability; for the screening model its calibrated probability)
and call (1 if score >= the cutoff), in input order. Each distinct protein is encoded once. The screening
model takes each viral protein's virus from its UniProt accession where the training data knows it
('hvppi screen --taxon' gives it for other proteins).

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
    add_embeddings(parser)
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    """Score the pairs and write the TSV."""
    from hvppi.ppi.inference import score_pairs, write_predictions
    from hvppi.ppi.metrics import check_cutoff
    from hvppi.ppi.modelfile import load_screening_model, model_kind, resolve_model_path

    if args.cutoff is not None:
        check_cutoff(args.cutoff, "--cutoff")

    if model_kind(resolve_model_path(args.model)) == "screening":
        refuse_embeddings(args, "the screening model")
        screening = load_screening_model(args.model)
        pairs, sequences = load_pairs_and_sequences(args)
        ref = screening.reference
        pairs.check_orientation(ref.virus_ids, ref.human_ids, "the screening model")
        prepare_output(args.out)
        cutoff = 0.5 if args.cutoff is None else args.cutoff
        _, scores = screening.score_pairs(pairs.human_ids, pairs.virus_ids, sequences)
    else:
        from hvppi.ppi.inference import warn_long_proteins

        model, info, device = load_model_for(args)
        pairs, sequences = load_pairs_and_sequences(args)
        embeddings = load_embeddings_for(args, info, {"human": pairs.human_ids, "virus": pairs.virus_ids}, sequences)
        prepare_output(args.out)
        if model.config.towers:
            warn_long_proteins(sequences, [*pairs.human_ids, *pairs.virus_ids], log)
        cutoff = info.cutoff if args.cutoff is None else args.cutoff
        scores = score_pairs(model, pairs, sequences, device=device, progress=not args.quiet, embeddings=embeddings)
    called = write_predictions(args.out, pairs, scores, cutoff)
    print(
        f"wrote {len(pairs)} scored pairs to {args.out} ({called} called interacting at cutoff {cutoff:.4g})",
        file=sys.stderr,
    )
    return 0

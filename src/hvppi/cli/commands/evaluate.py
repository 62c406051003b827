"""``hvppi evaluate``: metrics of models on labelled pairs (CLI layer over :mod:`hvppi.lstm.evaluation`)."""

from __future__ import annotations

import argparse
import sys

from hvppi.cli.options import (
    INTERACTION_MODEL_HELP,
    PAIR_FORMATS,
    SEQUENCE_FORMATS,
    add_embeddings,
    add_run_options,
    embedding_paths,
    prepare_output,
    set_threads,
)

HELP = "evaluate models on labelled pairs"

DESCRIPTION = """\
Sensitivity, specificity, accuracy, MCC, ROC AUC, PR AUC (average precision) and F1, at the model's
stored cutoff (Youden's index on its validation pairs) and, for reference, at Youden's cutoff of the
evaluated pairs themselves. --baseline adds the sequence-blind frequency baseline fitted on the given
training pairs (one file, or one per --pairs), side by side with the model.

Several --pairs and --model:

  one --model (or none: the bundled default), N --pairs
      the model on each pair file, one column per file; the files are taken
      as replicate data sets: mean ± SD over them
  N --model, N --pairs
      model i on pairs i, one column each; mean ± SD only when the models
      share their configuration and training recipe (seeds and data may
      differ: one model trained per replicate data set), as "replicates
      (model i on pairs i)"; otherwise they are compared side by side
  N --model, one --pairs
      every model on the pair file, side by side, no mean ± SD

Columns are named by pair file, by model, or "MODEL on PAIRS", with the shortest ends of the paths
that tell them apart (rep1/test.txt, rep2/test.txt).

With --out-dir, writes metrics.json (every result, the files it came from, its scores file and the
summary), scores.tsv (scores_1.tsv, scores_2.tsv, ... in column order when there are several
results), roc.png and pr.png (titled with the models and the pair files).

Models trained on per-protein embeddings need --human-embeddings/--virus-embeddings: files of the
embedder each such model names, holding every protein of the pairs."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi evaluate``."""
    parser.add_argument(
        "--pairs",
        action="append",
        required=True,
        metavar="FILE",
        help=f"labelled pairs: {PAIR_FORMATS}; repeat for replicate data sets",
    )
    parser.add_argument("--sequences", metavar="FILE", help=f"protein sequences: {SEQUENCE_FORMATS}")
    parser.add_argument(
        "--model",
        action="append",
        metavar="FILE",
        help=f"{INTERACTION_MODEL_HELP}; one, one per --pairs, or several with one --pairs (default: lstm-phv-benchmark)",
    )
    parser.add_argument(
        "--baseline",
        action="append",
        metavar="TRAIN_PAIRS",
        help="training pairs of the frequency baseline; one, or one per --pairs",
    )
    parser.add_argument("--out-dir", metavar="DIR", help="write metrics.json, scores TSVs, roc.png and pr.png here")
    add_embeddings(parser)
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the table, and write the files of --out-dir."""
    from hvppi.lstm.evaluation import (
        evaluate_files,
        evaluation_subtitle,
        format_evaluation,
        plan_evaluation,
        write_evaluation,
    )
    from hvppi.pretrained.base import resolve_device

    jobs = plan_evaluation(args.pairs, args.model, args.baseline)
    set_threads(args)
    device = resolve_device(args.device)
    if args.out_dir:
        prepare_output(args.out_dir, is_dir=True)
    result = evaluate_files(
        jobs, args.sequences, device, progress=not args.quiet, embedding_paths=dict(embedding_paths(args))
    )
    print(format_evaluation(result))
    if args.out_dir:
        written = write_evaluation(args.out_dir, result, subtitle=evaluation_subtitle(jobs))
        print(f"\nwrote {', '.join(written[:-1])} and {written[-1]} to {args.out_dir}", file=sys.stderr)
    return 0

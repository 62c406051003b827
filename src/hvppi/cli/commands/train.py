"""``hvppi train``: train the two-tower BiLSTM-attention model (CLI layer over :mod:`hvppi.lstm.training`)."""

from __future__ import annotations

import argparse
import json

from hvppi.cli.options import (
    add_device,
    add_embeddings,
    add_pairs_inputs,
    add_quiet,
    add_threads,
    embedding_paths,
    load_pairs,
    load_pairs_and_sequences,
    log,
    set_threads,
)

HELP = "train a model on labelled pairs"

DESCRIPTION = """\
Train the two-tower BiLSTM-attention model. Writes OUT/model.safetensors (the model of the best
epoch by validation loss, with Youden's cutoff on the validation pairs as its decision threshold),
OUT/checkpoint.pt (every epoch; --resume continues from it exactly) and OUT/log.jsonl (one line per
epoch). Sizes and dropout rates default to the paper's; the model file records them, the training
recipe and a SHA-256 of the training data. Prints a JSON summary.

Pretrained features: --human-embeddings/--virus-embeddings take per-protein H5 files of 'hvppi embed'
(any embedder) holding every protein of the pairs; each is projected to 64 dimensions and joined to the
side's 7-property tower vector, or replaces the towers with --no-towers (then both files are needed,
no LSTM runs and --max-length does not apply). The model file names the embedder of each side (label
and weight fingerprint); predict, evaluate and screen then need files of the same embedder."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi train``."""
    add_pairs_inputs(parser, "labelled training pairs")
    parser.add_argument(
        "--validation",
        action="append",
        metavar="FILE",
        help="labelled validation pairs; repeat to combine files (default: a stratified, seeded "
        "--validation-fraction of --pairs)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--resume", action="store_true", help="continue the run in OUT from its last checkpoint")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, batch order, subsampling and dropout")
    recipe = parser.add_argument_group("training recipe")
    recipe.add_argument("--batch-size", type=int, default=256, metavar="N", help="pairs per minibatch")
    recipe.add_argument("--learning-rate", type=float, default=1e-3, metavar="LR", help="RAdam learning rate")
    recipe.add_argument("--beta", type=float, default=0.9999, help="beta of the class-balanced loss")
    recipe.add_argument(
        "--class-count",
        choices=["batch", "dataset"],
        default="batch",
        help="count n_y of the class-balanced loss per minibatch (as the paper) or over the epoch's training pairs",
    )
    recipe.add_argument(
        "--patience",
        type=int,
        default=35,
        metavar="N",
        help="epochs without a new minimum validation loss before stopping",
    )
    recipe.add_argument("--max-epochs", type=int, default=1000, metavar="N", help="stop after this many epochs")
    recipe.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="start no new epoch after this many minutes; continue later with --resume (default: no limit)",
    )
    recipe.add_argument(
        "--negative-ratio",
        type=float,
        default=None,
        metavar="R",
        help="use all positives and a fresh random R x as many negatives each epoch (default: all pairs)",
    )
    recipe.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        metavar="F",
        help="share of --pairs held out for validation when --validation is not given",
    )
    recipe.add_argument(
        "--max-length",
        type=int,
        default=1000,
        metavar="N",
        help="reject proteins longer than N residues before training, naming them; 0: no limit. The bundled "
        "models were trained on proteins of at most 1000 residues (default: 1000)",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--lstm-hidden", type=int, default=32, metavar="N", help="LSTM units per direction")
    model.add_argument("--attention-hidden", type=int, default=32, metavar="N", help="attention MLP width")
    model.add_argument("--lstm-dropout", type=float, default=0.5, metavar="P", help="dropout on the BiLSTM outputs")
    model.add_argument(
        "--attention-dropout", type=float, default=0.5, metavar="P", help="dropout inside the attention MLP"
    )
    model.add_argument(
        "--attention-weight-dropout", type=float, default=0.2, metavar="P", help="dropout on the attention weights"
    )
    model.add_argument(
        "--head-dropout", type=float, default=0.5, metavar="P", help="dropout after each hidden layer of the head"
    )
    model.add_argument(
        "--head-widths",
        type=int,
        nargs="+",
        default=[64, 32, 16, 8, 4],
        metavar="W",
        help="widths of the head's hidden layers; a final layer of width 1 follows",
    )
    add_embeddings(model, training=True)
    model.add_argument(
        "--no-towers",
        action="store_true",
        help="no 7-property BiLSTM towers: the model reads only the embeddings of --human-embeddings and "
        "--virus-embeddings (both needed)",
    )
    run_group = parser.add_argument_group("running")
    add_device(run_group)
    add_threads(run_group, "torch")
    add_quiet(run_group)


def run(args: argparse.Namespace) -> int:
    """Train and print the run's summary as JSON."""
    from hvppi.io.embeddings import embedding_source, load_protein_embeddings
    from hvppi.io.pairs import merge_sequences
    from hvppi.lstm.model import ModelConfig
    from hvppi.lstm.training import TrainConfig, train

    if args.no_towers and not (args.human_embeddings and args.virus_embeddings):
        raise ValueError("--no-towers needs both --human-embeddings and --virus-embeddings")
    sources = {side: embedding_source(path) for side, path in embedding_paths(args).items() if path is not None}
    model_config = ModelConfig.from_dict(
        {
            "lstm_hidden": args.lstm_hidden,
            "attention_hidden": args.attention_hidden,
            "lstm_dropout": args.lstm_dropout,
            "attention_dropout": args.attention_dropout,
            "attention_weight_dropout": args.attention_weight_dropout,
            "head_dropout": args.head_dropout,
            "head_widths": args.head_widths,
            **{f"{side}_embedding_dim": source.dim for side, source in sources.items()},
            "towers": not args.no_towers,
        }
    )
    config = TrainConfig(
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        beta=args.beta,
        class_count=args.class_count,
        patience=args.patience,
        max_epochs=args.max_epochs,
        negative_ratio=args.negative_ratio,
        validation_fraction=args.validation_fraction,
        seed=args.seed,
    )
    set_threads(args)
    pairs, sequences = load_pairs_and_sequences(args)
    validation = None
    if args.validation:
        validation = load_pairs(args.validation)
        sequences = merge_sequences(validation, sequences, args.sequences)
    embeddings = {}
    for side, path in embedding_paths(args).items():
        if path is not None:
            ids = [*getattr(pairs, f"{side}_ids"), *(getattr(validation, f"{side}_ids") if validation else [])]
            embeddings[side] = load_protein_embeddings(path, ids, sequences)
    summary = train(
        pairs,
        sequences,
        args.out,
        model_config,
        config,
        validation=validation,
        resume=args.resume,
        device=args.device,
        progress=not args.quiet,
        log=log,
        time_limit=None if args.time_limit is None else 60 * args.time_limit,
        max_length=args.max_length,
        sequences_path=args.sequences,
        embeddings=embeddings,
    )
    print(json.dumps(summary, indent=2))
    return 0

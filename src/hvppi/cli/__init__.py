"""The ``hvppi`` command: one subcommand per task, a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hvppi._version import __version__
from hvppi.io.errors import HvppiError

BENCHMARK_HINT = "benchmark layout (id<TAB>sequence), FASTA (plain or .gz)"


def _load_pairs(paths: list[str]):
    from hvppi.io.pairs import PairTable, read_pairs

    return PairTable.concat([read_pairs(p) for p in paths])


def _load_pairs_and_sequences(pair_paths: list[str], sequence_path: str | None):
    from hvppi.io.pairs import merge_sequences
    from hvppi.io.sequences import read_sequences

    pairs = _load_pairs(pair_paths)
    sequences = read_sequences(sequence_path) if sequence_path else None
    return pairs, merge_sequences(pairs, sequences, sequence_path)


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _load_model_for(args):
    """Threads, device and model of a command's --threads, --device and --model options."""
    from hvppi.ppi.inference import resolve_device
    from hvppi.ppi.modelfile import load_model

    _set_threads(args.threads)
    device = resolve_device(args.device)
    model, info = load_model(args.model, device)
    return model, info, device


def cmd_train(args) -> int:
    from hvppi.ppi.model import ModelConfig
    from hvppi.ppi.training import TrainConfig, train

    model_config = ModelConfig.from_dict(
        {
            "lstm_hidden": args.lstm_hidden,
            "attention_hidden": args.attention_hidden,
            "lstm_dropout": args.lstm_dropout,
            "attention_dropout": args.attention_dropout,
            "attention_weight_dropout": args.attention_weight_dropout,
            "head_dropout": args.head_dropout,
            "head_widths": args.head_widths,
        }
    )
    _set_threads(args.threads)
    pairs, sequences = _load_pairs_and_sequences(args.pairs, args.sequences)
    validation = None
    if args.validation:
        from hvppi.io.pairs import merge_sequences

        validation = _load_pairs(args.validation)
        sequences = merge_sequences(validation, sequences, args.sequences)
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
        log=lambda m: print(m, file=sys.stderr, flush=True),
        time_limit=None if args.time_limit is None else 60 * args.time_limit,
    )
    print(json.dumps(summary, indent=2))
    return 0


def cmd_split(args) -> int:
    from hvppi.datasets.splits import viral_disjoint_split
    from hvppi.io.files import atomic_write

    pairs, sequences = _load_pairs_and_sequences(args.pairs, args.sequences)
    train, test, info = viral_disjoint_split(
        pairs, sequences, args.fraction, args.identity, args.seed, args.threads or 1
    )
    out = Path(args.out)
    train.write_tsv(out / "train.txt")
    test.write_tsv(out / "test.txt")
    with atomic_write(out / "split.json") as fh:
        json.dump(info, fh, indent=2)
    summary = {k: v for k, v in info.items() if k != "held_out_viral_ids"}
    print(json.dumps(summary, indent=2))
    return 0


def cmd_predict(args) -> int:
    from hvppi.io.files import atomic_write
    from hvppi.ppi.inference import score_pairs

    model, info, device = _load_model_for(args)
    pairs, sequences = _load_pairs_and_sequences(args.pairs, args.sequences)
    cutoff = info.cutoff if args.cutoff is None else args.cutoff
    scores = score_pairs(model, pairs, sequences, device=device, progress=not args.quiet)
    with atomic_write(args.out) as fh:
        fh.write("human_id\tvirus_id\tscore\tcall\n")
        for h, v, s in zip(pairs.human_ids, pairs.virus_ids, scores):
            fh.write(f"{h}\t{v}\t{s:.7g}\t{int(s >= cutoff)}\n")
    print(
        f"wrote {len(pairs)} scored pairs to {args.out} ({int((scores >= cutoff).sum())} called interacting at cutoff {cutoff:.4g})",
        file=sys.stderr,
    )
    return 0


def cmd_evaluate(args) -> int:
    from hvppi.io.files import atomic_write
    from hvppi.io.pairs import merge_sequences, read_pairs
    from hvppi.io.sequences import read_sequences
    from hvppi.ppi.evaluation import evaluate_model, format_report, summarize, write_scores
    from hvppi.ppi.inference import resolve_device
    from hvppi.ppi.modelfile import load_model
    from hvppi.ppi.plots import roc_pr_plots

    _set_threads(args.threads)
    device = resolve_device(args.device)
    n = len(args.pairs)
    models = args.model or [None]
    if len(models) not in (1, n):
        raise SystemExit("hvppi evaluate: error: give one --model, or one per --pairs")
    baselines = args.baseline or []
    if len(baselines) not in (0, 1, n):
        raise SystemExit("hvppi evaluate: error: give one --baseline, or one per --pairs")
    sequences = read_sequences(args.sequences) if args.sequences else None
    results, tables = [], []
    loaded = {}
    for k, path in enumerate(args.pairs):
        model_path = models[k if len(models) == n else 0]
        if model_path not in loaded:
            loaded[model_path] = load_model(model_path, device)
        model, info = loaded[model_path]
        pairs = read_pairs(path)
        seqs = merge_sequences(pairs, sequences, args.sequences)
        baseline_pairs = read_pairs(baselines[k if len(baselines) == n else 0]) if baselines else None
        result = evaluate_model(
            model,
            info,
            pairs,
            seqs,
            baseline_pairs,
            device,
            progress=not args.quiet,
            name=f"replicate {k + 1}" if n > 1 else Path(path).name,
        )
        results.append(result)
        tables.append(pairs)
    print(format_report(results))
    if args.out_dir:
        out = Path(args.out_dir)
        curves = []
        for k, (result, pairs) in enumerate(zip(results, tables), start=1):
            suffix = f"_{k}" if n > 1 else ""
            write_scores(out / f"scores{suffix}.tsv", pairs, result)
            curves.append((f"model, {result.name}" if n > 1 else "model", result.labels, result.scores))
            if result.baseline_scores is not None:
                curves.append(
                    (f"frequency baseline{', ' + result.name if n > 1 else ''}", result.labels, result.baseline_scores)
                )
        roc_pr_plots(curves, out / "roc.png", out / "pr.png")
        report = {"results": [r.to_dict() for r in results], "summary": summarize(results)}
        with atomic_write(out / "metrics.json") as fh:
            json.dump(report, fh, indent=2)
        print(f"\nwrote metrics.json, scores*.tsv, roc.png and pr.png to {out}", file=sys.stderr)
    return 0


def cmd_encode(args) -> int:
    from hvppi.io.sequences import read_sequences
    from hvppi.ppi.screening import tower_vectors
    from hvppi.ppi.vectors import VectorStore

    model, info, device = _load_model_for(args)
    sequences = read_sequences(args.sequences, allow_duplicates=False)
    with VectorStore(args.out, args.tower, info.file_sha256) as store:
        tower_vectors(
            model,
            args.tower,
            sequences,
            store,
            device,
            progress=not args.quiet,
            log=lambda m: print(m, file=sys.stderr),
        )
    print(f"{len(sequences)} {args.tower} protein vectors in {args.out}", file=sys.stderr)
    return 0


def cmd_screen(args) -> int:
    from hvppi.io.sequences import read_sequences
    from hvppi.ppi.screening import ScreenSettings, screen
    from hvppi.ppi.vectors import VectorStore

    model, info, device = _load_model_for(args)
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
            log=lambda m: print(m, file=sys.stderr),
        )
    finally:
        for store in stores:
            if store is not None:
                store.close()
    print(json.dumps(summary, indent=2))
    return 0


def cmd_attention(args) -> int:
    from hvppi.io.files import atomic_write
    from hvppi.io.sequences import read_sequences
    from hvppi.ppi.attention import (
        plot_profile,
        protein_attention,
        read_annotations,
        region_enrichment,
        write_attention_h5,
        write_attention_tsv,
    )

    model, info, device = _load_model_for(args)
    sequences = read_sequences(args.sequences, allow_duplicates=False)
    regions = read_annotations(args.annotations, sequences) if args.annotations else []
    if args.structure and not (args.chain and args.partner and args.protein):
        raise ValueError("--structure needs --chain, --partner and --protein")
    if args.protein and args.protein not in sequences:
        raise ValueError(f"--protein {args.protein!r} is not in {args.sequences}")
    out = Path(args.out_dir)
    attention = protein_attention(model, args.tower, sequences, device, progress=not args.quiet)
    write_attention_tsv(out / "attention.tsv", attention, sequences)
    write_attention_h5(out / "attention.h5", attention, sequences, args.tower, info.file_sha256)
    by_protein = {}
    for r in regions:
        by_protein.setdefault(r.protein_id, []).append(r)
    for pid in list(sequences)[: args.plots]:
        plot_profile(
            out / "profiles" / f"{pid.replace('/', '_')}.png", pid, sequences[pid], attention[pid], by_protein.get(pid)
        )
    report = {"tower": args.tower, "model": info.path, "proteins": len(sequences)}
    if regions:
        rows, pooled = region_enrichment(attention, regions, args.permutations, args.seed)
        with atomic_write(out / "enrichment.tsv") as fh:
            columns = [
                "protein_id",
                "length",
                "regions",
                "residues_inside",
                "mean_inside",
                "mean_outside",
                "difference",
                "p_value",
            ]
            fh.write("\t".join(columns) + "\n")
            fh.writelines("\t".join(str(r[c]) for c in columns) + "\n" for r in rows)
        report["enrichment_pooled"] = pooled
        print(
            f"regions: mean attention inside − outside, pooled over {pooled['proteins']} proteins: "
            f"{pooled.get('mean_difference', float('nan')):.3g} (permutation p = {pooled.get('p_value', float('nan')):.3g})"
        )
    if args.structure:
        report["structure"] = _structure_report(args, sequences, attention, out)
    with atomic_write(out / "attention_report.json") as fh:
        json.dump(report, fh, indent=2)
    print(f"wrote attention.tsv, attention.h5, profiles/ and attention_report.json to {out}", file=sys.stderr)
    return 0


def _structure_report(args, sequences, attention, out: Path) -> dict:
    from hvppi.io.files import atomic_write
    from hvppi.ppi.attention import plot_profile
    from hvppi.ppi.structure import attention_vs_distance, chain_distances, map_structure_to_sequence

    chain_sequence, distances = chain_distances(args.structure, args.chain, args.partner)
    sequence = sequences[args.protein]
    mapping = map_structure_to_sequence(chain_sequence, sequence)
    result = attention_vs_distance(attention[args.protein], distances, mapping, args.contact_cutoff)
    with atomic_write(out / "structure.tsv") as fh:
        fh.write("structure_index\tposition\tresidue\tmin_distance\tattention\n")
        for k, (pos, d) in enumerate(zip(mapping, distances)):
            if pos >= 0:
                fh.write(f"{k + 1}\t{pos + 1}\t{sequence[pos]}\t{d:.3f}\t{attention[args.protein][pos]:.6g}\n")
    contacts = np.zeros(len(sequence), dtype=bool)
    contacts[mapping[(mapping >= 0) & (distances <= args.contact_cutoff)]] = True
    plot_profile(
        out / "structure_profile.png",
        f"{args.protein}: chain {args.chain} vs {args.partner}",
        sequence,
        attention[args.protein],
        None,
        contacts,
    )
    print(
        f"structure: Spearman rho(attention, distance) = {result['spearman_rho']:.3f}; attention within "
        f"{args.contact_cutoff:g} Å: {result['attention_mass_within_cutoff']:.3f} (uniform: {result['expected_mass_uniform']:.3f})"
    )
    return {"file": args.structure, "chain": args.chain, "partner": args.partner, "protein": args.protein, **result}


def cmd_tsne(args) -> int:
    from hvppi.ppi.tsne import intermediate_vectors, tsne_map, write_map

    model, info, device = _load_model_for(args)
    pairs, sequences = _load_pairs_and_sequences(args.pairs, args.sequences)
    pairs.require_both_classes("pairs to map")
    if args.max_pairs and len(pairs) > args.max_pairs:
        keep = np.sort(np.random.default_rng(args.seed).choice(len(pairs), args.max_pairs, replace=False))
        pairs = pairs.subset(keep)
        print(f"mapping a random {args.max_pairs} of the pairs (seed {args.seed})", file=sys.stderr)
    vectors, scores = intermediate_vectors(model, pairs, sequences, device, progress=not args.quiet)
    coords = tsne_map(vectors, seed=args.seed, verbose=0 if args.quiet else 1)
    out = Path(args.out_dir)
    write_map(out / "tsne.tsv", out / "tsne.png", pairs, coords, scores, info.cutoff)
    print(f"wrote tsne.tsv and tsne.png to {out}", file=sys.stderr)
    return 0


MODEL_HELP = "model file, or a bundled model by name: default (the default) or viral-disjoint"


def _run_options(p: argparse.ArgumentParser, threads: bool = True) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda if available")
    if threads:
        p.add_argument("--threads", type=int, default=1, metavar="N", help="CPU threads for PyTorch (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hvppi",
        description="Sequence-based human–virus protein–protein interaction prediction "
        "(BiLSTM-attention model of Tsukiyama et al. 2020), the data sets it learns from (HPIDB), and the "
        "geometry of protein embeddings (Hakim, Roy & Rahman 2025).",
    )
    parser.add_argument("--version", action="version", version=f"hvppi {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common_inputs(p, pairs_help):
        p.add_argument(
            "--pairs",
            action="append",
            required=True,
            metavar="FILE",
            help=pairs_help + " Benchmark layout (human_id<TAB>virus_id[<TAB>label]) or LSTM-PHV CSV. "
            "Repeat to combine files.",
        )
        p.add_argument(
            "--sequences",
            metavar="FILE",
            help=f"protein sequences: {BENCHMARK_HINT}. May be omitted when the pairs CSV carries them.",
        )
        p.add_argument(
            "--threads",
            type=int,
            default=1,
            metavar="N",
            help="CPU threads for PyTorch (default 1: this small model gains little from more, and on a "
            "busy machine several threads can run 10x slower)",
        )

    p = sub.add_parser(
        "train",
        help="train a model on labelled pairs",
        description="Train the two-tower BiLSTM-attention model. Writes OUT/model.safetensors "
        "(the best epoch by validation loss), OUT/checkpoint.pt (every epoch) and OUT/log.jsonl.",
    )
    common_inputs(p, "labelled training pairs.")
    p.add_argument(
        "--validation",
        action="append",
        metavar="FILE",
        help="labelled validation pairs; default: a stratified, seeded 20%% of --pairs",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue the run in OUT from its last checkpoint")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the split, batch order, subsampling and dropout (default 0)"
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda if available")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--learning-rate", type=float, default=1e-3, help="RAdam learning rate (default 1e-3)")
    p.add_argument("--beta", type=float, default=0.9999, help="class-balanced loss beta (default 0.9999)")
    p.add_argument(
        "--class-count",
        choices=["batch", "dataset"],
        default="batch",
        help="count n_y of the class-balanced loss per minibatch (default, as the paper) or over the epoch's training pairs",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=35,
        help="epochs without a new minimum validation loss before stopping (default 35)",
    )
    p.add_argument("--max-epochs", type=int, default=1000)
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="start no new epoch after this many minutes; continue later with --resume",
    )
    p.add_argument(
        "--negative-ratio",
        type=float,
        default=None,
        metavar="R",
        help="use all positives and a fresh random R x as many negatives each epoch (default: all pairs)",
    )
    p.add_argument("--validation-fraction", type=float, default=0.2)
    p.add_argument("--lstm-hidden", type=int, default=32, help="LSTM units per direction (default 32)")
    p.add_argument("--attention-hidden", type=int, default=32, help="attention MLP width (default 32)")
    p.add_argument("--lstm-dropout", type=float, default=0.5, help="dropout on the BiLSTM outputs (default 0.5)")
    p.add_argument(
        "--attention-dropout", type=float, default=0.5, help="dropout inside the attention MLP (default 0.5)"
    )
    p.add_argument(
        "--attention-weight-dropout", type=float, default=0.2, help="dropout on the attention weights (default 0.2)"
    )
    p.add_argument(
        "--head-dropout", type=float, default=0.5, help="dropout after each hidden layer of the head (default 0.5)"
    )
    p.add_argument(
        "--head-widths",
        type=int,
        nargs="+",
        default=[64, 32, 16, 8, 4],
        metavar="W",
        help="widths of the head's hidden layers; a final layer of width 1 follows (default 64 32 16 8 4)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "predict",
        help="score human–virus pairs",
        description="Score pairs with a trained model (the bundled one by default). Writes a TSV with "
        "columns human_id, virus_id, score (interaction probability) and call (1 if score >= the model's "
        "cutoff), in input order. Each distinct protein is encoded once.",
    )
    common_inputs(p, "pairs to score (labels, if any, are ignored).")
    p.add_argument("--out", required=True, metavar="TSV", help="output TSV")
    p.add_argument(
        "--model",
        default=None,
        metavar="FILE",
        help="model file, or the name of a bundled model: default (the default) or viral-disjoint",
    )
    p.add_argument(
        "--cutoff", type=float, default=None, help="score threshold of the call (default: the model's Youden cutoff)"
    )
    _run_options(p, threads=False)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "evaluate",
        help="evaluate a model on labelled pairs",
        description="Sensitivity, specificity, accuracy, MCC, ROC AUC, PR AUC (average precision) and F1, "
        "at the model's stored cutoff (chosen by Youden's index on its validation pairs) and, for "
        "reference, at Youden's cutoff of the evaluated pairs themselves. Repeat --pairs for replicate "
        "data sets: the report then gives mean ± SD. --baseline adds the sequence-blind frequency "
        "baseline fitted on the given training pairs, side by side with the model.",
    )
    p.add_argument(
        "--pairs",
        action="append",
        required=True,
        metavar="FILE",
        help="labelled pairs (benchmark layout or LSTM-PHV CSV); repeat for replicates",
    )
    p.add_argument("--sequences", metavar="FILE", help=f"protein sequences: {BENCHMARK_HINT}")
    p.add_argument(
        "--model",
        action="append",
        metavar="FILE",
        help="model file or bundled model name (default, viral-disjoint); default: default. One, or one per --pairs",
    )
    p.add_argument(
        "--baseline",
        action="append",
        metavar="TRAIN_PAIRS",
        help="training pairs of the frequency baseline; one, or one per --pairs",
    )
    p.add_argument("--out-dir", metavar="DIR", help="write metrics.json, scores TSV, roc.png and pr.png here")
    _run_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "screen",
        help="score every viral protein against every human protein",
        description="Screen a viral proteome against human proteins: each protein is encoded once, "
        "only the head runs per pair. Writes rows human_id, virus_id, score, call, rank (rank 1 = highest "
        "score within its viral protein), grouped by viral protein in input order, to a TSV, or Parquet "
        "if OUT ends in .parquet. Results stream to OUT.parts/ as they come; an interrupted screen, run "
        "again with the same arguments, continues where it stopped.",
    )
    p.add_argument("--virus", required=True, metavar="FASTA", help="viral proteins (FASTA or id<TAB>sequence)")
    p.add_argument("--human", required=True, metavar="FASTA", help="human proteins (FASTA or id<TAB>sequence)")
    p.add_argument("--out", required=True, metavar="FILE", help="output .tsv or .parquet")
    p.add_argument("--model", default=None, metavar="FILE", help=MODEL_HELP)
    p.add_argument(
        "--top-k", type=int, default=None, metavar="K", help="keep the K best human proteins per viral protein"
    )
    p.add_argument("--min-score", type=float, default=None, metavar="S", help="keep pairs scoring at least S")
    p.add_argument("--human-vectors", metavar="H5", help="reuse and extend human tower vectors of 'hvppi encode'")
    p.add_argument("--virus-vectors", metavar="H5", help="reuse and extend viral tower vectors of 'hvppi encode'")
    p.add_argument(
        "--restart", action="store_true", help="discard an unfinished screen at OUT instead of continuing it"
    )
    _run_options(p)
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser(
        "encode",
        help="write per-protein tower vectors to H5",
        description="Encode proteins with one tower of a model and store the 64-d vectors in an H5 file "
        "(one dataset per ID, with the sequence's SHA-256; the file records the model's SHA-256). "
        "'hvppi screen --human-vectors/--virus-vectors' reuses them; vectors of another model are "
        "refused and changed sequences are encoded again.",
    )
    p.add_argument("--sequences", required=True, metavar="FILE", help="proteins (FASTA or id<TAB>sequence)")
    p.add_argument("--tower", required=True, choices=["human", "virus"], help="which tower encodes them")
    p.add_argument("--out", required=True, metavar="H5", help="H5 file, created or extended")
    p.add_argument("--model", default=None, metavar="FILE", help=MODEL_HELP)
    _run_options(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser(
        "attention",
        help="per-residue attention: export, plots, region and structure analyses",
        description="Export one tower's attention weights per residue (TSV and H5) and plot profiles. "
        "With --annotations (TSV: protein_id, start, end, label; 1-based inclusive), test whether "
        "attention is higher inside the regions (circular-shift permutation p-values per protein and "
        "pooled). With --structure, compare the attention of --protein with each residue's minimum "
        "heavy-atom distance to the partner chain (Spearman rho; attention mass within 8 Å).",
    )
    p.add_argument("--sequences", required=True, metavar="FILE", help="proteins (FASTA or id<TAB>sequence)")
    p.add_argument("--tower", required=True, choices=["human", "virus"], help="which tower's attention")
    p.add_argument("--out-dir", required=True, metavar="DIR")
    p.add_argument("--model", default=None, metavar="FILE", help=MODEL_HELP)
    p.add_argument("--annotations", metavar="TSV", help="regions: protein_id, start, end, label")
    p.add_argument("--permutations", type=int, default=9999)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--plots", type=int, default=20, metavar="N", help="profile plots for the first N proteins (default 20)"
    )
    p.add_argument("--structure", metavar="PDB|CIF", help="complex structure (PDB or mmCIF)")
    p.add_argument("--chain", help="chain of --protein in the structure")
    p.add_argument("--partner", help="partner chain in the structure")
    p.add_argument("--protein", help="ID (in --sequences) of the protein in --chain")
    p.add_argument("--contact-cutoff", type=float, default=8.0, metavar="Å")
    _run_options(p)
    p.set_defaults(func=cmd_attention)

    p = sub.add_parser(
        "tsne",
        help="t-SNE map of the intermediate vectors of labelled pairs",
        description="Map the 128-d intermediate vectors (human ‖ virus tower vectors) of labelled pairs "
        "with t-SNE (perplexity 50, learning rate 200, at most 5,000 iterations, stop at gradient norm "
        "1e-7). Writes tsne.tsv (IDs, label, score, call, x, y) and tsne.png (coloured by label, wrong "
        "calls circled).",
    )
    common_inputs(p, "labelled pairs.")
    p.add_argument("--out-dir", required=True, metavar="DIR")
    p.add_argument("--model", default=None, metavar="FILE", help=MODEL_HELP)
    p.add_argument("--max-pairs", type=int, default=None, metavar="N", help="map a seeded random N of the pairs")
    p.add_argument("--seed", type=int, default=0)
    _run_options(p, threads=False)
    p.set_defaults(func=cmd_tsne)

    p = sub.add_parser(
        "split",
        help="make a viral-protein-disjoint evaluation split",
        description="Hold out a share of the viral proteins with all their pairs; viral proteins in one "
        "CD-HIT cluster stay on one side. Writes OUT/train.txt, OUT/test.txt and OUT/split.json.",
    )
    common_inputs(p, "labelled pairs to split.")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--fraction", type=float, default=0.2, help="share of viral proteins held out (default 0.2)")
    p.add_argument(
        "--identity", type=float, default=0.9, help="CD-HIT identity that groups viral proteins (default 0.9)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_split)

    from hvppi.cli.commands import dataset as cli_dataset
    from hvppi.cli.commands import embed as cli_embed
    from hvppi.cli.commands import geometry as cli_geometry

    cli_dataset.register(sub)
    cli_embed.register(sub, _run_options)
    cli_geometry.register(sub, _run_options)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (HvppiError, ValueError) as exc:
        print(f"hvppi {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"hvppi {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""``hvppi dataset``: build benchmark data sets from HPIDB (CLI layer over :mod:`hvppi.datasets.build`)."""

from __future__ import annotations

import argparse
import json

from hvppi.cli.options import HelpFormatter, add_quiet, add_threads, log

HELP = "build benchmark data sets from HPIDB"

DESCRIPTION = "Build benchmark data sets from interaction databases. One action so far: build."

BUILD_DESCRIPTION = """\
Build human–virus PPI benchmark data sets from HPIDB PSI-MITAB files, as
Tsukiyama et al. 2020 (LSTM-PHV) did:

  1. keep rows with human (taxid 9606) on exactly one side, oriented
     (human, virus);
  2. keep pairs whose MI score is at or above each --mi-score
     (intact-miscore when a row has one, else its highest other miscore,
     e.g. virhostnet-miscore; --mi-source restricts to one kind);
  3. sequences from a mitab_plus file or from --sequences, by exact
     accession (isoform -N and chain -PRO_ suffixes included); keep the 20
     standard amino acids and lengths 50-3000; proteins without a sequence
     are counted and listed in the manifest;
  4. remove duplicate pairs, then redundant ones: CD-HIT at identity 0.9 on
     the human and the viral proteins; a pair is dropped when a kept pair
     joins the same two clusters;
  5. negatives by dissimilarity (Eid et al. 2016): Needleman-Wunsch
     BLOSUM30 scores (gap open 10, extend 1) between all viral proteins,
     outlier removal, distance > 0.8, (Vi, partners of Vj), never a pair
     the input reports as interacting, at most n per viral protein: n
     solved on the data for 1:1 ('balanced') and 1:5 ('imbalanced'), or for
     each --ratio; --caps paper takes the paper's n instead (MI 0.3: 23 and
     120; MI 0.4: 4 and 206), which were tuned on the paper's data and give
     other ratios on today's HPIDB;
  6. --replicates data sets per condition with different seeds, each split
     8:2 stratified.

Writes OUT/mi<T>/<condition>/rep<k>/ with pro_seq.txt, protein_pair_label_train.txt,
protein_pair_label_test.txt (human_id, virus_id, label), the LSTM-PHV CSVs train.csv and test.csv,
and with --disjoint-test a protein-disjoint split in rep<k>/disjoint/ (20% of the human and of the
viral CD-HIT clusters held out; test_unseen_virus.txt, test_unseen_human.txt, test_unseen_both.txt);
OUT/manifest.json with the counts after every step, the parameters and the input SHA-256s. The
alignment matrix is cached in OUT/cache: running the same build again resumes instead of
re-aligning.

The output reads as it is:

  hvppi train --pairs OUT/mi0.3/balanced/rep1/protein_pair_label_train.txt
      --sequences OUT/mi0.3/balanced/rep1/pro_seq.txt --out run/"""


def run_build(args: argparse.Namespace) -> int:
    """Build the data sets and print a JSON summary of the manifest."""
    from hvppi.datasets.build import BuildSettings, build_dataset
    from hvppi.io.validation import require_int

    require_int("--seed", args.seed, minimum=0)  # named as on the command line, not as the settings' fields
    require_int("--replicates", args.replicates, minimum=1)
    settings = BuildSettings(
        mi_thresholds=tuple(args.mi_score or (0.3, 0.4)),
        mi_source=args.mi_source,
        ratios=tuple(args.ratio) if args.ratio else None,
        caps=args.caps,
        replicates=args.replicates,
        seed=args.seed,
        disjoint_test=args.disjoint_test,
        skip_bad_lines=args.skip_bad_lines,
        clusterer=args.clusterer,
        outlier_fraction=args.outlier_fraction,
        similarity=args.similarity,
        threads=args.threads,
    )
    manifest = build_dataset(
        args.mitab,
        args.out,
        args.sequences,
        settings,
        progress=not args.quiet,
        log=None if args.quiet else log,
    )
    summary = {"out": args.out, "elapsed_seconds": manifest["elapsed_seconds"], "counts": manifest["counts"]}
    for key, step in manifest.items():
        if key.startswith("mi") and isinstance(step, dict) and "conditions" in step:
            summary[key] = {
                "positives": step["after_cdhit"]["pairs"],
                "negatives": {name: c["replicates"][0]["negatives"] for name, c in step["conditions"].items()},
            }
    print(json.dumps(summary, indent=2))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the actions of ``hvppi dataset`` (``build``) and their options."""
    actions = parser.add_subparsers(dest="subcommand", required=True, metavar="ACTION")
    p = actions.add_parser(
        "build",
        help="HPIDB MITAB -> benchmark data sets (LSTM-PHV's pipeline)",
        description=BUILD_DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--mitab",
        action="append",
        required=True,
        metavar="FILE",
        help="HPIDB PSI-MITAB file: the 15-column MITAB 2.5 export or the 26-column mitab_plus; "
        "plain, .gz or .zip (holding one file). Repeat to combine files",
    )
    p.add_argument(
        "--sequences",
        metavar="FASTA",
        help="sequences keyed by accession (FASTA or id<TAB>sequence, .gz ok), for files without them",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--mi-score",
        action="append",
        type=float,
        metavar="T",
        help="MI-score threshold; repeat for several (default: 0.3 and 0.4)",
    )
    p.add_argument(
        "--mi-source",
        default="any",
        choices=["any", "intact-miscore", "virhostnet-miscore"],
        help="which miscore counts; any: intact-miscore when present, else the highest miscore",
    )
    p.add_argument(
        "--ratio",
        action="append",
        type=float,
        metavar="R",
        help="negative:positive ratio; n is solved for it (repeat for several) "
        "(default: 'balanced' (1:1) and 'imbalanced' (1:5))",
    )
    p.add_argument(
        "--caps",
        default="ratio",
        choices=["ratio", "paper"],
        help="n per viral protein: solved for the ratio, or the paper's n (MI 0.3: 23 and 120; "
        "MI 0.4: 4 and 206) for 'balanced' and 'imbalanced'",
    )
    p.add_argument(
        "--outlier-fraction",
        type=float,
        default=0.9,
        metavar="F",
        help="a viral protein is an outlier when its score against a protein Vj is below Vj's lower "
        "fence (Q1 - 1.5 IQR) for at least this share of the others; 0.9 is the paper's",
    )
    p.add_argument(
        "--similarity",
        default="score",
        choices=["score", "self-normalised"],
        help="similarity of two viral proteins: the global alignment score (the paper's), or the "
        "score divided by the geometric mean of their self-scores. Raw scores grow with length, so most "
        "proteins find their 'far' proteins among the same few long ones, and a few human proteins carry "
        "most negatives (the manifest's negatives_of_top30_human_proteins tells how many)",
    )
    p.add_argument(
        "--replicates", type=int, default=3, metavar="N", help="data sets per condition, each with its own seed"
    )
    p.add_argument("--seed", type=int, default=0, help="base seed of the negative sampling and the splits")
    add_threads(p, "cd-hit+align", default=0)
    p.add_argument(
        "--skip-bad-lines",
        action="store_true",
        help="skip malformed MITAB rows (counted and listed in the manifest) instead of stopping",
    )
    p.add_argument(
        "--disjoint-test",
        action="store_true",
        help="also write a protein-disjoint split per replicate (rep<k>/disjoint/): training pairs "
        "without held-out proteins, test pairs whose viral, human or both proteins are held out",
    )
    p.add_argument(
        "--clusterer",
        default="cdhit",
        choices=["cdhit"],
        help="redundancy removal: cdhit, the real cd-hit program (apt-get install cd-hit)",
    )
    add_quiet(p)
    p.set_defaults(action_run=run_build)


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    return args.action_run(args)

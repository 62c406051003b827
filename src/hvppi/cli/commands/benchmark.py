"""``hvppi benchmark``: benchmarks of what users ask of hvppi (CLI layer over :mod:`hvppi.screening.benchmark`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hvppi.cli.options import HelpFormatter, add_pairs_inputs, add_quiet, add_threads, load_pairs_and_sequences, log

HELP = "benchmarks: screening of viral proteins the model has not seen"

DESCRIPTION = """\
Benchmarks that measure hvppi the way it is used. 'screen': for viral proteins held out of training,
how well is every human protein ranked?"""

SCREEN_DESCRIPTION = """\
The screening benchmark. Positives are the pairs labelled 1; without a human universe the candidates of every
viral protein are the human proteins of the pairs (one per sequence: 5,882 with the LSTM-PHV benchmark's train
and test files), with one (see below) every human protein of the universe (13,655 distinct). A share of
the viral proteins (--fraction) is held out with all their pairs, whole CD-HIT clusters at a time, for
each --identity (cd-hit uses word size 2 below 0.5); the screening model is trained on the rest (the
recipe of the bundled default model) and ranks every human candidate of each held-out viral protein.

The open world (the default with --extra-training-data, or with --human-universe): every human protein with a
sequence in the shared data (chosen by species, not by labels: most have no known viral partner) is a candidate,
and every known partner of a held-out viral protein (the pairs' and the extra data's) a positive; the closed-world
table of earlier versions (the pairs' human proteins only) is printed after each split for comparison. Splits are
identity-checked: every viral protein at least 90% identical over the shorter sequence to a held-out one (an
isoform, a chain and its polyprotein) is left out of training too (--no-identity-check to skip); a held-out
family also leaves out every protein at least 40% identical to one of its proteins (unlabelled strains).

Reported per method, as the mean over held-out viral proteins with a 95% interval from resampling viruses (with
--taxonomy; else viral proteins): ROC AUC, average precision, recall in the top 10, 50 and 100, and in the top 1%
(which grows with the number of candidates: for comparison only). Methods: random;
popularity (human proteins by their number of training viral partners, one list for all); homology
(the highest Smith-Waterman similarity of the viral protein to a training viral partner of the human
protein); the model; the model with every viral protein replaced by the average one (what the viral
input adds). Then the model's paired differences with popularity, homology and the ablation.

With --taxonomy (repeatable: a CSV/TSV or zip with a virus ID column Uniprot_virus and a taxon column
Taxon_virus and/or a family column Family_virus, as ../shared/data/merged-hvi; or PSI-MITAB, as the
HPIDB export, for taxids), each viral protein's virus (NCBI taxon) and family are model inputs, as a
user gives them to 'hvppi screen --taxon', and two more rows are reported: virus popularity (human
proteins by their number of training partners among proteins of the same virus) and the model with the
held-out proteins' virus not given. Each of the --family-count largest families is then held out in
turn (leave one family out); viral proteins without a family always stay in training.

With --extra-training-data (the shared data folder), the model is trained as the bundled default model is,
on the union of the pairs with HPIDB (MI >= 0.3) and merged-hvi positives; extra viral proteins that cluster
with a held-out one (at the split's identity; for a family: of that family too) stay out of training, extra
human proteins are references but never candidates, and the scored positives stay the pairs'. Popularity and
homology are then reported from the same enlarged training data, and from the pairs' own training pairs.

Writes OUT_DIR/benchmark.md (the tables), benchmark.json (every number, with the settings),
per_virus.tsv, auc_distribution.png, recall_at_k.png and reliability.png (calibration on the first
split). About 5 minutes per split on 2 cores for the benchmark's proteins.

The bundled model itself is trained by the same recipe on the whole union (hvppi.screening.recipe;
scripts/train_screening_model.py writes the model file)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmarks (screen) and their options."""
    kinds = parser.add_subparsers(dest="subcommand", required=True, metavar="BENCHMARK")
    p = kinds.add_parser(
        "screen",
        help="rank human proteins for held-out viral proteins",
        description=SCREEN_DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    add_pairs_inputs(p, "labelled pairs (positives are label 1)")
    p.add_argument("--out-dir", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--identity",
        type=float,
        nargs="+",
        default=[0.9, 0.4],
        metavar="C",
        help="CD-HIT identities that group the held-out viral proteins, one split each",
    )
    p.add_argument("--fraction", type=float, default=0.2, help="share of viral proteins held out")
    p.add_argument(
        "--taxonomy",
        "--families",
        dest="taxonomy",
        action="append",
        default=[],
        metavar="FILE",
        help="virus taxon and family of the viral proteins (table or PSI-MITAB; repeatable): model inputs, and "
        "leave-one-family-out",
    )
    p.add_argument("--family-count", type=int, default=8, metavar="N", help="hold out the N largest families in turn")
    p.add_argument(
        "--extra-training-data",
        metavar="DIR",
        help="also train on the bundled model's other positives found in DIR, the shared data folder "
        "(HPIDB MI >= 0.3 and merged-hvi pairs with sequences in its sequence pool), as the default model is; "
        "extra viral proteins that cluster with a held-out one are left out, and the candidates and the scored "
        "positives stay those of --pairs",
    )
    p.add_argument(
        "--human-universe",
        metavar="DIR",
        help="rank every human protein of the shared data folder DIR (sequences/pool_species.tsv) for each held-out "
        "viral protein (default: the --extra-training-data folder; 'none' for the closed world of the pairs' "
        "human proteins)",
    )
    p.add_argument(
        "--no-identity-check",
        dest="identity_check",
        action="store_false",
        help="leave out of training only the held-out clusters and families, not their near-identical twins",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out choice, folds, negatives and ties")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the held-out viral proteins")
    p.add_argument("--title", default=None, help="data set name in the report and plots (default: the pairs files)")
    add_threads(p, "cd-hit+align", default=1)
    add_quiet(p)
    p.set_defaults(benchmark_run=run_screen)


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark."""
    return int(args.benchmark_run(args))


def refuse_swapped(data: Any, folder: Path) -> None:
    """ValueError when most proteins of the pairs' human column are viral by the shared data's species table (or the
    viral column human): the columns are swapped."""
    from hvppi.datasets.proteome import SPECIES, read_species

    species = read_species(folder / SPECIES)
    for ids, side, other in ((data.human_ids, "human", "virus"), (data.virus_ids, "viral", "human")):
        wrong = [pid for pid in ids if species.get(pid) == other]
        if len(wrong) > 0.5 * len(ids):
            raise ValueError(
                f"{len(wrong):,} of the {len(ids):,} proteins of the {side} column are {other} proteins in "
                f"{folder / SPECIES} (e.g. {', '.join(wrong[:3])}): are the columns swapped? (human_id, virus_id)"
            )


def run_screen(args: argparse.Namespace) -> int:
    """Run the screening benchmark, write its files and print the tables."""
    from pathlib import Path

    from hvppi.cli.options import prepare_output
    from hvppi.datasets.taxonomy import read_virus_taxonomy
    from hvppi.screening.benchmark import ScreeningData, run_screening_benchmark, write_benchmark
    from hvppi.screening.config import ScreeningConfig

    if args.resamples < 100:
        raise ValueError("--resamples must be at least 100")
    if args.family_count < 1:
        raise ValueError("--family-count must be at least 1")
    for identity in args.identity:
        if not 0.4 <= identity <= 1.0:
            raise ValueError(f"--identity {identity}: CD-HIT groups proteins at identities from 0.4 to 1")
    if args.extra_training_data and not Path(args.extra_training_data).is_dir():
        raise ValueError(f"--extra-training-data {args.extra_training_data}: not a folder")
    config = ScreeningConfig(seed=args.seed)
    pairs, sequences = load_pairs_and_sequences(args)
    taxonomy = read_virus_taxonomy(args.taxonomy) if args.taxonomy else None
    prepare_output(args.out_dir, is_dir=True)
    data = ScreeningData.from_pairs(pairs, sequences)
    if args.extra_training_data:
        from hvppi.screening.recipe import default_training_positives

        sources, extra_sequences = default_training_positives(args.extra_training_data)
        data = data.with_extra([pair for pairs in sources.values() for pair in pairs], extra_sequences)
    universe = args.human_universe or args.extra_training_data
    if universe and universe != "none":
        from hvppi.datasets.proteome import human_universe

        if not Path(universe).is_dir():
            raise ValueError(f"--human-universe {universe}: not a folder")
        refuse_swapped(data, Path(universe))
        data = data.with_background(human_universe(universe))
    result = run_screening_benchmark(
        data,
        identities=args.identity,
        fraction=args.fraction,
        taxonomy=taxonomy,
        family_count=args.family_count,
        config=config,
        resamples=args.resamples,
        log=log if not args.quiet else (lambda m: None),
        progress=not args.quiet,
        threads=args.threads,
        clean=args.identity_check,
    )
    title = args.title or " + ".join(Path(p).name for p in args.pairs)
    written = write_benchmark(args.out_dir, result, title)
    print(Path(args.out_dir, "benchmark.md").read_text())
    print(f"wrote {', '.join(written)} to {args.out_dir}", file=sys.stderr)
    print(json.dumps({"seconds": result.settings["seconds"]}), file=sys.stderr)
    return 0

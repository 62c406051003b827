"""``hvppi split``: a viral-protein-disjoint evaluation split (CLI layer over :mod:`hvppi.datasets.splits`)."""

from __future__ import annotations

import argparse
import json

from hvppi.cli.options import add_pairs_inputs, add_threads, load_pairs_and_sequences

HELP = "make a viral-protein-disjoint evaluation split"

DESCRIPTION = """\
Hold out a share of the viral proteins with all their pairs; viral proteins in one CD-HIT cluster
stay on one side. Writes OUT/train.txt, OUT/test.txt (human_id, virus_id, label) and OUT/split.json
(the settings, counts and held-out viral IDs). Needs the cd-hit program."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi split``."""
    add_pairs_inputs(parser, "labelled pairs to split")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--fraction", type=float, default=0.2, metavar="F", help="share of viral proteins held out")
    parser.add_argument(
        "--identity", type=float, default=0.9, metavar="F", help="CD-HIT identity that groups viral proteins"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the choice of held-out clusters")
    add_threads(parser, "cd-hit")


def run(args: argparse.Namespace) -> int:
    """Split and write the two pair files and split.json."""
    from pathlib import Path

    from hvppi.datasets.splits import viral_disjoint_split
    from hvppi.io.files import atomic_write

    pairs, sequences = load_pairs_and_sequences(args)
    train, test, info = viral_disjoint_split(pairs, sequences, args.fraction, args.identity, args.seed, args.threads)
    out = Path(args.out)
    train.write_tsv(out / "train.txt")
    test.write_tsv(out / "test.txt")
    with atomic_write(out / "split.json") as fh:
        json.dump(info, fh, indent=2)
    print(json.dumps({k: v for k, v in info.items() if k != "held_out_viral_ids"}, indent=2))
    return 0

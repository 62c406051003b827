"""``hvppi split``: a viral-protein-disjoint evaluation split (CLI layer over :mod:`hvppi.datasets.splits`)."""

from __future__ import annotations

import argparse
import json

from hvppi.cli.options import add_pairs_inputs, add_threads, load_pairs_and_sequences

HELP = "make a viral-protein-disjoint evaluation split"

DESCRIPTION = """\
Hold out a share of the viral proteins with all their pairs; viral proteins in one CD-HIT cluster
stay on one side. Writes OUT/train.txt, OUT/test.txt (human_id, virus_id, label) and OUT/split.json
(the settings, counts and held-out viral IDs), all three moved in together at the end (other files in
OUT are left alone). Needs at least 2 viral proteins in 2 clusters, and the cd-hit program."""


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


SPLIT_FILES = ("train.txt", "test.txt", "split.json")


def check_split_options(args: argparse.Namespace) -> None:
    """Refuse option values the split cannot take, naming the option, before any input is read."""
    from hvppi.io.validation import require_int

    if not 0 < args.fraction < 1:  # NaN fails too
        raise ValueError(f"--fraction must lie strictly between 0 and 1, got {args.fraction:g}")
    if not 0.4 <= args.identity <= 1:
        raise ValueError(f"--identity: CD-HIT clusters proteins at identity 0.4 to 1, got {args.identity:g}")
    require_int("--seed", args.seed, minimum=0)


def prepare_split_output(out: str) -> None:
    """Check before the work that OUT can be written and that none of its outputs is a folder, so that
    the three files can be moved in together at the end."""
    import errno
    import os
    from pathlib import Path

    from hvppi.cli.options import prepare_output

    prepare_output(out, is_dir=True)
    for name in SPLIT_FILES:
        if (Path(out) / name).is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(Path(out) / name))


def run(args: argparse.Namespace) -> int:
    """Split and write the two pair files and split.json: all three appear together, or none of them."""
    from hvppi.datasets.splits import viral_disjoint_split
    from hvppi.io.errors import InputError
    from hvppi.io.files import atomic_write, staged_directory

    check_split_options(args)
    pairs, sequences = load_pairs_and_sequences(args)
    viral = len(set(pairs.virus_ids))
    if viral < 2:
        raise InputError(f"a split needs at least 2 viral proteins; the pairs have {viral}", ", ".join(args.pairs))
    prepare_split_output(args.out)  # before CD-HIT, the long part
    train, test, info = viral_disjoint_split(pairs, sequences, args.fraction, args.identity, args.seed, args.threads)
    with staged_directory(args.out) as out:
        train.write_tsv(out / "train.txt")
        test.write_tsv(out / "test.txt")
        with atomic_write(out / "split.json") as fh:
            json.dump(info, fh, indent=2)
    print(json.dumps({k: v for k, v in info.items() if k != "held_out_viral_ids"}, indent=2))
    return 0

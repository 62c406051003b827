"""Train hvppi's bundled screening model on realistic positives and write it (and its data summary).

The recipe is :func:`hvppi.screening.recipe.fit_default_model`. Positives, the union of (deduplicated by sequence:
proteins with one sequence become one protein):
  * the LSTM-PHV benchmark's positive pairs (train + test);
  * HPIDB 3.0 human–virus pairs with an MI score >= 0.3 (what ``hvppi dataset build`` keeps at 0.3),
    whose two sequences are in the sequence pool;
  * the merged human–virus positives of seven databases (merged-hvi) whose sequences are in the pool,
    except pairs known only from STRING (text mining and transferred predictions, not experiments).
Pairs with a protein outside the 20 standard amino acids, and proteins on both sides, are dropped (the union
rules the screening benchmark's extra training data follows too: :class:`hvppi.screening.recipe.SequenceUnion`).
The benchmark's 212-protein negatives are never used: the model ranks every human protein of the
union against each viral protein. Each viral protein's virus (NCBI taxon) and family come from
merged-hvi and the HPIDB export (under any of the IDs of its sequence).

Run from the repository root (about 15 minutes on 2 cores):
    .venv/bin/python scripts/train_screening_model.py --out src/hvppi/models/screening.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hvppi.io.files import atomic_write
from hvppi.screening.recipe import fit_default_model

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", type=Path, required=True, help="model file to write")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    model = fit_default_model(args.data, seed=args.seed, threads=args.threads, progress=True)
    model.save(args.out)
    summary = {**model.metadata["training_data"], "seconds": round(time.perf_counter() - started, 1)}
    with atomic_write(args.out.with_suffix(".json")) as fh:
        json.dump({**summary, "training": model.metadata.get("training", {})}, fh, indent=2)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {summary['seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

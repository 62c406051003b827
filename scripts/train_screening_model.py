"""Train hvppi's bundled screening model on realistic positives and write it (and its data summary).

Positives, the union of (deduplicated by sequence: proteins with one sequence become one protein):
  * the LSTM-PHV benchmark's positive pairs (train + test);
  * HPIDB 3.0 human–virus pairs with an MI score >= 0.3 (what ``hvppi dataset build`` keeps at 0.3),
    whose two sequences are in the sequence pool;
  * the merged human–virus positives of seven databases (merged-hvi) whose sequences are in the pool,
    except pairs known only from STRING (text mining and transferred predictions, not experiments).
Pairs with a protein outside the 20 standard amino acids are dropped.
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

from hvppi.datasets.taxonomy import accession
from hvppi.io.alphabet import STANDARD_AMINO_ACIDS
from hvppi.io.files import atomic_write
from hvppi.ppi.screen_model import (
    ScreeningConfig,
    ViralTaxa,
    default_taxonomy,
    default_training_positives,
    fit_screening_model,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", type=Path, required=True, help="model file to write")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    sources, sequences = default_training_positives(args.data)
    standard = set(STANDARD_AMINO_ACIDS)
    canonical: dict[str, str] = {}  # sequence -> first ID seen
    taxonomy = default_taxonomy(args.data)
    virus_taxon: dict[str, tuple[str | None, str | None]] = {}  # canonical viral ID -> first known (taxon, family)
    known_taxa: dict[str, tuple[str | None, str | None]] = {}  # every viral accession -> (taxon, family)
    union: dict[tuple[str, str], set[str]] = {}
    counts = {}
    for name, pairs in sources.items():
        kept = 0
        for human, virus in pairs:
            if (found := taxonomy.of(virus)) != (None, None):  # any viral ID of the data, with a sequence or not
                known_taxa.setdefault(accession(virus), found)
            hs, vs = sequences.get(human), sequences.get(virus)
            if not hs or not vs or set(hs) - standard or set(vs) - standard or hs == vs:
                continue
            key = (canonical.setdefault(hs, human), canonical.setdefault(vs, virus))
            taxon, family = virus_taxon.get(key[1], (None, None))
            if taxon is None or family is None:
                found = taxonomy.of(virus)
                virus_taxon[key[1]] = (taxon or found[0], family or found[1])
            union.setdefault(key, set()).add(name)
            kept += 1
        counts[name] = {"pairs_in_source": len(pairs), "pairs_with_sequences": kept}
    human_ids = sorted({h for h, _ in union})
    virus_ids = sorted({v for _, v in union})
    both = set(human_ids) & set(virus_ids)
    if both:
        print(f"dropping {len(both)} proteins listed on both sides", file=sys.stderr)
        union = {k: s for k, s in union.items() if k[0] not in both and k[1] not in both}
        human_ids = sorted({h for h, _ in union})
        virus_ids = sorted({v for _, v in union})
    hi = {h: i for i, h in enumerate(human_ids)}
    vi = {v: i for i, v in enumerate(virus_ids)}
    pair_index = sorted((vi[v], hi[h]) for h, v in union)
    summary = {
        "sources": counts,
        "positive_pairs": len(pair_index),
        "human_proteins": len(human_ids),
        "viral_proteins": len(virus_ids),
        "viral_proteins_with_taxon": sum(virus_taxon.get(v, (None, None))[0] is not None for v in virus_ids),
        "viral_proteins_with_family": sum(virus_taxon.get(v, (None, None))[1] is not None for v in virus_ids),
        "viral_accessions_with_a_virus": len(known_taxa),
        "pairs_by_number_of_sources": {
            str(n): sum(1 for s in union.values() if len(s) == n) for n in range(1, len(sources) + 1)
        },
    }
    print(json.dumps(summary, indent=2), file=sys.stderr)
    config = ScreeningConfig(seed=args.seed, threads=args.threads)
    model = fit_screening_model(
        virus_ids,
        [sequences[v] for v in virus_ids],
        human_ids,
        [sequences[h] for h in human_ids],
        pair_index,
        config,
        progress=True,
        metadata={"training_data": summary},
        known_taxa=known_taxa,
        virus_taxa=ViralTaxa(
            [virus_taxon.get(v, (None, None))[0] for v in virus_ids],
            [virus_taxon.get(v, (None, None))[1] for v in virus_ids],
        ),
    )
    model.save(args.out)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    with atomic_write(args.out.with_suffix(".json")) as fh:
        json.dump({**summary, "training": model.metadata.get("training", {})}, fh, indent=2)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {summary['seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

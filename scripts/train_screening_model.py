"""Train hvppi's bundled screening model on realistic positives and write it (and its data summary).

Positives, the union of (deduplicated by sequence: proteins with one sequence become one protein):
  * the LSTM-PHV benchmark's positive pairs (train + test);
  * HPIDB 3.0 human–virus pairs with an MI score >= 0.3 (what ``hvppi dataset build`` keeps at 0.3),
    whose two sequences are in the sequence pool;
  * the merged human–virus positives of seven databases (merged-hvi) whose sequences are in the pool,
    except pairs known only from STRING (text mining and transferred predictions, not experiments).
Pairs with a protein outside the 20 standard amino acids are dropped.
The benchmark's 212-protein negatives are never used: the model ranks every human protein of the
union against each viral protein.

Run from the repository root (about 15 minutes on 2 cores):
    .venv/bin/python scripts/train_screening_model.py --out src/hvppi/models/screening.safetensors
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import zipfile
from pathlib import Path

from hvppi.datasets.build import collect_human_virus
from hvppi.datasets.mitab import read_mitab
from hvppi.io.alphabet import STANDARD_AMINO_ACIDS
from hvppi.io.files import atomic_write
from hvppi.io.sequences import read_sequences
from hvppi.ppi.screen_model import ScreeningConfig, fit_screening_model

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def benchmark_pairs(data: Path) -> tuple[list[tuple[str, str]], dict[str, str]]:
    folder = data / "lstm-phv-benchmark"
    sequences = read_sequences(folder / "pro_seq.txt")
    pairs = []
    for name in ("protein_pair_label_train.txt", "protein_pair_label_test.txt"):
        with open(folder / name) as fh:
            for line in fh:
                human, virus, label = line.rstrip("\n").split("\t")
                if label == "1":
                    pairs.append((human, virus))
    return pairs, sequences


def hpidb_pairs(data: Path, threshold: float = 0.3) -> list[tuple[str, str]]:
    mitab = read_mitab(data / "hpidb3-virus" / "hpidb_virus_25_10_22.zip", skip_bad_lines=True)
    return list(collect_human_virus(mitab.interactions, [threshold]).by_threshold[threshold])


def merged_pairs(data: Path) -> list[tuple[str, str]]:
    with zipfile.ZipFile(data / "merged-hvi" / "merged_dataset_complete_redundancy_reduced.zip") as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8-sig")
    pairs = []
    for row in csv.DictReader(io.StringIO(text)):
        sources = set(row["Dataset"].split(","))
        if row["Target"] == "1" and sources - {"viruses_string"}:
            pairs.append((row["Uniprot_human"], row["Uniprot_virus"]))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", type=Path, required=True, help="model file to write")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    bench, sequences = benchmark_pairs(args.data)
    pool = read_sequences(args.data / "sequences" / "sequence_pool.fasta.gz")
    for pid, sequence in pool.items():
        sequences.setdefault(pid, sequence)
    sources = {"benchmark": bench, "hpidb_mi0.3": hpidb_pairs(args.data), "merged_hvi": merged_pairs(args.data)}
    standard = set(STANDARD_AMINO_ACIDS)
    canonical: dict[str, str] = {}  # sequence -> first ID seen
    union: dict[tuple[str, str], set[str]] = {}
    counts = {}
    for name, pairs in sources.items():
        kept = 0
        for human, virus in pairs:
            hs, vs = sequences.get(human), sequences.get(virus)
            if not hs or not vs or set(hs) - standard or set(vs) - standard or hs == vs:
                continue
            key = (canonical.setdefault(hs, human), canonical.setdefault(vs, virus))
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
    )
    model.save(args.out)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    with atomic_write(args.out.with_suffix(".json")) as fh:
        json.dump({**summary, "training": model.metadata.get("training", {})}, fh, indent=2)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {summary['seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Known protein, new partners: what a model made for screens of known viral proteins, with the evidence of the
publications behind their pairs, adds over the bundled recipe (hvppi.screening.publications).

The split is the studies script's (scripts/screening_studies.py): every viral protein of the bundled model's
training union with at least 20 known partners has a seeded 20% of them held out (per group of >= 90%-identical
twins) and ranks them among every human protein of the open universe but its remaining known partners. With
``--hold-out publications``, 20% of the publications reporting its pairs are drawn instead, and the partners that
only they report are held out (a new study of a known protein). Methods,
all trained on the split's training pairs only:

* popularity; the model (the bundled recipe: out-of-fold rows, the protein unseen);
* the model + known-protein rows (``ScreeningConfig.known_protein_min_partners=20``: each training protein with
  20 or more partners also in its own reference, 80% of its pairs shown, the hidden fifth positives);
* a known-protein model: trees fitted on the known-protein rows alone;
* the same + publication evidence (PubMed IDs of HPIDB rows, matched to the pairs by sequence; the hits that
  the publications of the neighbours' pairs reported with any viral protein; hvppi.screening.publications),
  + co-partner evidence (hvppi.screening.copartners), + both (hvppi.screening.known.KNOWN_FEATURES).

Writes OUT/known_protein.md and OUT/known_protein.json (per method: mean ROC AUC, AP, recall@10/50/100 with 95%
intervals that resample viruses, and each method minus popularity). About 4 minutes on 2 cores.

    .venv/bin/python scripts/screening_known_protein.py --out runs/screening-known-protein
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hvppi.align.identity import twins
from hvppi.io.files import atomic_write
from hvppi.screening.benchmark.metrics import METRICS, interval
from hvppi.screening.benchmark.studies import (
    HeldOutPairs,
    held_out_metrics,
    hpidb_pairs_by_study,
    known_protein_publication_split,
    known_protein_split,
    union_universe,
)
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import FEATURES, MONOTONE, Evidence
from hvppi.screening.fitting import known_protein_rows, out_of_fold_features, training_rows
from hvppi.screening.known import KNOWN_FEATURES, KNOWN_MONOTONE, known_features
from hvppi.screening.model import Reference
from hvppi.screening.publications import PUBLICATION_FEATURES, PairPublications
from hvppi.screening.similarity import viral_similarities
from hvppi.screening.trees import fit_trees, per_virus_weights

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
METHODS = (
    "popularity",
    "model",
    "model + known-protein rows",
    "known-protein model",
    "known-protein model + publications",
    "known-protein model + co-partners",
    "known-protein model + both",
)


def beside_known(pairs: np.ndarray, reported: PairPublications, split: HeldOutPairs) -> float:
    """The share of held-out pairs that a publication reports which also reports a known pair of the same query, as
    known at training time (without the split's unpublished publications): the query's own studies reach them."""
    of_pair = {(int(v), int(h)): set(reported.of(k).tolist()) for k, (v, h) in enumerate(pairs.tolist())}
    hits = total = 0
    for q, positives, known in zip(split.queries.tolist(), split.positives, split.known):
        hidden = split.unpublished.get(q, set())
        studies = set().union(*(of_pair.get((q, h), set()) - hidden for h in known))
        for h in positives:
            total += 1
            hits += bool(of_pair.get((q, h), set()) & studies)
    return hits / max(total, 1)


def table(result: dict) -> str:
    """Markdown: each method's mean ROC AUC, AP and recall@50 (95% intervals), and its ROC AUC minus popularity's."""
    columns = ("roc_auc", "average_precision", "recall_top_50")
    lines = [
        "| method | ROC AUC | AP | recall@50 | − popularity, ROC AUC |",
        "| --- | --- | --- | --- | --- |",
    ]
    for m in METHODS:
        cells = " | ".join("{:.3f} [{:.3f}, {:.3f}]".format(*result["methods"][m][c]) for c in columns)
        diff = "{:+.3f} [{:+.3f}, {:+.3f}]".format(*result["differences"][m]["roc_auc"]) if m != "popularity" else ""
        lines.append(f"| {m} | {cells} | {diff} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--min-partners", type=int, default=20, help="known partners of a query (default: 20)")
    parser.add_argument(
        "--hold-out",
        choices=("partners", "publications"),
        default="partners",
        help="what is drawn and held out, 20%% of a query's partners or of the publications reporting its pairs "
        "(hvppi.screening.benchmark.studies.known_protein_publication_split) (default: partners)",
    )
    parser.add_argument("--threads", type=int, default=2, help="threads (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="the split's and the fits' seed (default: 0)")
    args = parser.parse_args()
    started = time.perf_counter()

    def say(text: str) -> None:
        print(f"{text} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    universe, union, sequences = union_universe(args.data, args.threads)
    near = twins(universe.virus_sequences, universe.virus_sequences, 0.9, threads=args.threads)
    pairs_of_twins = [(i, j) for i, j, _ in near if i != j]
    hpidb = hpidb_pairs_by_study(args.data / "hpidb3-virus" / "hpidb_virus_25_10_22.zip")
    every_pair = np.asarray(union.pairs, dtype=np.int64)
    n_viral = len(universe.virus_ids)
    reported = PairPublications.from_rows(
        hpidb, sequences, every_pair[:, 0], every_pair[:, 1], universe.virus_sequences, universe.human_sequences
    )
    if args.hold_out == "partners":
        split = known_protein_split(every_pair, n_viral, args.min_partners, seed=args.seed, twins=pairs_of_twins)
    else:
        split = known_protein_publication_split(
            every_pair, n_viral, reported, args.min_partners, seed=args.seed, twins=pairs_of_twins
        )
    beside = beside_known(every_pair, reported, split)
    pairs = np.asarray(split.training_pairs, dtype=np.int64).reshape(-1, 2)
    pair_virus, pair_human = pairs[:, 0], pairs[:, 1]
    publications = PairPublications.from_rows(
        hpidb, sequences, pair_virus, pair_human, universe.virus_sequences, universe.human_sequences
    ).without(pair_virus, split.unpublished)  # a held-out publication is not known, not even for a known pair
    say(
        f"{len(split.queries)} queries; {len(pairs):,} training pairs, {publications.covered:,} of them with a "
        f"PubMed ID ({len(np.unique(publications.pmids)):,} publications)"
    )
    config = ScreeningConfig(seed=args.seed, known_protein_min_partners=args.min_partners)
    reference = Reference(
        universe.virus_ids, universe.virus_sequences, universe.human_ids, universe.human_sequences,
        pair_virus, pair_human, universe.taxa,
    )  # fmt: skip
    training = np.unique(pair_virus)
    features, labels, fold = out_of_fold_features(reference, training, universe.bundle, universe.groups, config)
    x, y, virus = training_rows(features, labels, reference.human_sequences, config)
    del features
    xk, yk, known = known_protein_rows(reference, training, universe.bundle, fold, config, publications)
    say(f"{len(y):,} out-of-fold rows, {len(yk):,} known-protein rows")

    evidence = Evidence(training, pair_virus, pair_human, len(universe.human_ids), universe.bundle.candidates)
    similarities = viral_similarities(
        [universe.virus_sequences[q] for q in split.queries],
        [universe.virus_sequences[t] for t in training],
        (universe.bundle.composition_mean, universe.bundle.composition_sd),
        args.threads,
        query_taxa=universe.taxa.take(split.queries),
        reference_taxa=universe.taxa.take(training),
    )
    every = known_features(evidence, similarities, pair_virus, pair_human, publications, config.neighbours)
    n, n_pub = len(FEATURES), len(FEATURES) + len(PUBLICATION_FEATURES)
    query_features = every[:, :, :n]
    owner = np.r_[virus, len(training) + known]  # a known protein's rows weigh as one more viral protein, as in fitting

    def fit(rows: np.ndarray, labels: np.ndarray, owners: np.ndarray, monotone: list[int]):
        return fit_trees(rows, labels, per_virus_weights(labels, owners), config, args.threads, monotone)

    popularity = evidence.popularity.astype(np.float64)
    scores = {
        "popularity": np.broadcast_to(popularity[None], query_features.shape[:2]),
        "model": fit(x, y, virus, list(MONOTONE)).decision(query_features),
        "model + known-protein rows": fit(np.r_[x, xk[:, :n]], np.r_[y, yk], owner, list(MONOTONE)).decision(
            query_features
        ),
        "known-protein model": fit(xk[:, :n], yk, known, list(MONOTONE)).decision(query_features),
    }
    for name, columns in (
        ("publications", np.r_[:n_pub]),
        ("co-partners", np.r_[:n, n_pub : len(KNOWN_FEATURES)]),
        ("both", np.r_[: len(KNOWN_FEATURES)]),
    ):
        trees = fit(xk[:, columns], yk, known, [KNOWN_MONOTONE[c] for c in columns])
        scores[f"known-protein model + {name}"] = trees.decision(every[:, :, columns])
        say(f"known-protein model + {name}")
    arrays, kept, unit, groups = held_out_metrics(universe, split, scores, config.seed)
    result = {
        "split": split.name,
        "viral_proteins": len(kept),
        "held_out_pairs": int(sum(len(split.positives[q]) for q in kept)),
        "training_pairs": int(len(pairs)),
        "pairs_with_pubmed_id": publications.covered,
        "held_out_beside_known": round(beside, 3),
        "known_protein_rows": int(len(yk)),
        "candidates": len(universe.human_ids),
        "resampled": unit,
        "metrics": list(METRICS),
        "methods": {m: interval(a, 1000, config.seed, groups) for m, a in arrays.items()},
        "differences": {m: interval(arrays[m] - arrays["popularity"], 1000, config.seed, groups) for m in METHODS[1:]},
        "seconds": 0,
    }
    result["seconds"] = round(time.perf_counter() - started)
    text = (
        f"# Known protein, new partners: models for screens of known proteins\n\n{split.name}: "
        f"{result['viral_proteins']} viral proteins with at least {args.min_partners} partners, "
        f"{result['held_out_pairs']:,} held-out partners ranked "
        f"among {result['candidates']:,} human proteins but the query's known partners; mean per viral protein, "
        f"95% intervals resample {unit}; seed {args.seed}. {beside:.0%} of the held-out pairs are reported by a "
        "publication that also reports a known pair of the query.\n\n" + table(result) + "\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out / "known_protein.md") as fh:
        fh.write(text)
    with atomic_write(args.out / "known_protein.json") as fh:
        json.dump(result, fh, indent=1)
    print(text)
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the viral-disjoint model loses ROC AUC to the frequency baseline, measured.

    python scripts/viral_disjoint_gap.py [--model viral-disjoint] [--out runs/vd-gap.json]

Rebuilds the model card's viral-disjoint split (20% of the viral proteins, CD-HIT 0.9 groups, seed 0)
and reports, on its held-out pairs:

* ROC AUC of the model, of the frequency baseline, and of the baseline with human proteins merged by
  CD-HIT at 1.0 / 0.95 / 0.9 identity (a baseline that, like any sequence model, cannot tell near-identical
  sequences apart by their accession);
* the model with every viral vector replaced by the mean viral vector of the training pairs (how much of
  its AUC comes from the viral side at all);
* the AUC lost (share of misordered positive-negative pairs) split by whether the positive's human protein
  is one of the benchmark's "negative" human proteins (those in any negative pair);
* the positives that cost the model most, with their human protein's training counts and the most similar
  "negative" human protein (shared 4-mers over the shorter sequence);
* the model's ROC AUC on its own training pairs.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from hvppi.datasets.clustering import cdhit_clusters
from hvppi.datasets.splits import viral_disjoint_split
from hvppi.evaluation.baseline import FrequencyBaseline
from hvppi.io.files import atomic_write
from hvppi.io.pairs import PairTable, read_pairs
from hvppi.io.sequences import read_sequences
from hvppi.lstm.modelfile import load_model
from hvppi.lstm.scorer import tower_vectors

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "lstm-phv-benchmark"


def model_logits(model, pairs: PairTable, human: dict, virus: dict, virus_override: np.ndarray | None = None):
    head = copy.deepcopy(model.head).double().eval()
    h = np.stack([human[p] for p in pairs.human_ids])
    v = (
        np.stack([virus[p] for p in pairs.virus_ids])
        if virus_override is None
        else np.tile(virus_override, (len(pairs), 1))
    )
    with torch.inference_mode():
        return head(torch.from_numpy(np.concatenate([h, v], axis=1)).double()).numpy()


def misordered(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """For each positive, the number of negatives scored above it (ties count one half)."""
    negatives = np.sort(scores[labels == 0])
    positives = scores[labels == 1]
    above = len(negatives) - np.searchsorted(negatives, positives, side="right")
    ties = np.searchsorted(negatives, positives, side="right") - np.searchsorted(negatives, positives, side="left")
    return above + 0.5 * ties


def relabel_humans(pairs: PairTable, mapping: dict[str, str]) -> PairTable:
    return PairTable([mapping[h] for h in pairs.human_ids], pairs.virus_ids, pairs.labels, pairs.lines, pairs.path)


def blind_subset(test: PairTable, labels, negative_humans: set[str], scores, baseline_scores, rounds: int = 1000):
    """ROC AUC on the held-out pairs whose human protein is in the negative set, where protein frequencies say
    little: point values and a 95% interval from resampling the held-out viral proteins (1,000 rounds)."""
    keep = np.isin(test.human_ids, sorted(negative_humans))
    viruses = np.asarray(test.virus_ids)[keep]
    y, model, baseline = labels[keep], scores[keep], baseline_scores[keep]
    groups = {v: np.flatnonzero(viruses == v) for v in np.unique(viruses)}
    names = sorted(groups)
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(rounds):
        rows = np.concatenate([groups[v] for v in rng.choice(names, len(names))])
        if 0 < y[rows].sum() < len(rows):
            differences.append(roc_auc_score(y[rows], model[rows]) - roc_auc_score(y[rows], baseline[rows]))
    low, high = np.percentile(differences, [2.5, 97.5])
    return {
        "pairs": int(keep.sum()),
        "positives": int(y.sum()),
        "roc_auc_model": roc_auc_score(y, model),
        "roc_auc_frequency_baseline": roc_auc_score(y, baseline),
        "model_minus_baseline_95pct_interval_over_viral_proteins": [float(low), float(high)],
    }


def kmers(sequence: str, k: int = 4) -> set[str]:
    return {sequence[i : i + k] for i in range(len(sequence) - k + 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="viral-disjoint")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=15, help="costliest positives to list")
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON here too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    sequences = read_sequences(args.data / "pro_seq.txt")
    everything = PairTable.concat(
        [read_pairs(args.data / "protein_pair_label_train.txt"), read_pairs(args.data / "protein_pair_label_test.txt")]
    )
    train, test, _ = viral_disjoint_split(everything, sequences, fraction=0.2, identity=0.9, seed=0)
    y_test, y_train = test.labels.astype(int), train.labels.astype(int)
    negative_humans = {h for h, y in zip(everything.human_ids, everything.labels) if y == 0}

    model, info = load_model(args.model)
    model.eval()
    humans = sorted(set(everything.human_ids))
    viruses = sorted(set(everything.virus_ids))
    human = dict(zip(humans, tower_vectors(model, "human", {p: sequences[p] for p in humans})))
    virus = dict(zip(viruses, tower_vectors(model, "virus", {p: sequences[p] for p in viruses})))

    scores = model_logits(model, test, human, virus)
    baseline = FrequencyBaseline().fit(train)
    baseline_scores = baseline.score(test)
    mean_virus = np.stack([virus[p] for p in sorted(set(train.virus_ids))]).mean(axis=0)
    report: dict = {
        "model": info.path,
        "held_out_pairs": len(test),
        "held_out_positive": int(y_test.sum()),
        "negative_human_proteins": len(negative_humans),
        "roc_auc": {
            "model": roc_auc_score(y_test, scores),
            "model_with_mean_viral_vector": roc_auc_score(y_test, model_logits(model, test, human, virus, mean_virus)),
            "model_on_its_training_pairs": roc_auc_score(y_train, model_logits(model, train, human, virus)),
            "frequency_baseline": roc_auc_score(y_test, baseline_scores),
        },
    }
    for identity in (1.0, 0.95, 0.9):
        clusters = cdhit_clusters({p: sequences[p] for p in humans}, identity=identity, threads=args.threads)
        merged = FrequencyBaseline().fit(relabel_humans(train, clusters)).score(relabel_humans(test, clusters))
        report["roc_auc"][f"frequency_baseline_humans_merged_at_{identity:g}"] = roc_auc_score(y_test, merged)
        report[f"human_clusters_at_{identity:g}"] = len(set(clusters.values()))

    positive_humans = np.array([h for h, y in zip(test.human_ids, y_test) if y == 1])
    in_negative_set = np.isin(positive_humans, sorted(negative_humans))
    total = int(y_test.sum()) * int((y_test == 0).sum())
    model_cost = misordered(y_test, scores)
    assert abs(1 - model_cost.sum() / total - report["roc_auc"]["model"]) < 1e-9, "AUC loss does not add up"
    report["auc_lost"] = {
        name: {
            "positives_with_a_negative_set_human": float(cost[in_negative_set].sum() / total),
            "other_positives": float(cost[~in_negative_set].sum() / total),
        }
        for name, cost in (("model", model_cost), ("frequency_baseline", misordered(y_test, baseline_scores)))
    }
    report["positives_with_a_negative_set_human"] = int(in_negative_set.sum())
    report["where_frequencies_are_blind"] = blind_subset(test, y_test, negative_humans, scores, baseline_scores)

    negative_kmers = {p: kmers(sequences[p]) for p in sorted(negative_humans)}
    positive_viruses = [v for v, y in zip(test.virus_ids, y_test) if y == 1]
    costly = []
    for k in np.argsort(-model_cost)[: args.top]:
        h = positive_humans[k]
        own = kmers(sequences[h])
        nearest, shared = max(
            ((p, len(own & km) / max(1, min(len(own), len(km)))) for p, km in negative_kmers.items() if p != h),
            key=lambda item: item[1],
        )
        costly.append(
            {
                "human_id": h,
                "virus_id": positive_viruses[k],
                "negatives_above": float(model_cost[k]),
                "human_in_negative_set": bool(in_negative_set[k]),
                "human_train_positive": baseline.human_.get(h, (0, 0))[0],
                "human_train_pairs": baseline.human_.get(h, (0, 0))[1],
                "most_similar_other_negative_set_human": nearest,
                "shared_4mers": round(shared, 3),
            }
        )
    report["costliest_positives"] = costly

    print(json.dumps(report, indent=2))
    if args.out:
        with atomic_write(args.out) as handle:
            handle.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

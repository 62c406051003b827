"""Evaluate the bundled models and write src/hvppi/models/model_card.json and MODEL_CARD.md.

    python scripts/make_model_card.py --default-log runs/default/log.jsonl --vd-log runs/vd/log.jsonl \
        --hardware "..."

Every number in the card comes from this script's own evaluation run, with hvppi's public API.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from hvppi import __version__
from hvppi.evaluation import evaluate_model
from hvppi.fileio import atomic_write
from hvppi.modelfile import bundled_model_path, load_model
from hvppi.pairs import PairTable, read_pairs
from hvppi.sequences import read_sequences
from hvppi.splits import viral_disjoint_split

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "lstm-phv-benchmark"
OUT = REPO / "src" / "hvppi" / "models"
KEYS = ("roc_auc", "pr_auc", "sensitivity", "specificity", "accuracy", "mcc", "f1", "cutoff", "n_pairs", "n_positive")


def training_summary(log_path: Path | None, info) -> dict:
    out = {
        "recipe": info.training.get("recipe"),
        "best_epoch": info.training.get("best_epoch"),
        "cutoff": info.cutoff,
        "validation_metrics_at_best_epoch": info.training.get("validation_metrics"),
        "training_data_sha256": info.training_data_sha256,
    }
    if log_path and log_path.exists():
        lines = [json.loads(l) for l in log_path.read_text().splitlines() if l.strip()]
        out["epochs_run"] = len(lines)
        out["training_seconds"] = round(sum(l["seconds"] for l in lines), 1)
        out["median_residues_per_s"] = round(sorted(l["residues_per_s"] for l in lines)[len(lines) // 2])
    return out


def evaluation(model_name: str, pairs: PairTable, sequences, baseline: PairTable) -> dict:
    model, info = load_model(model_name)
    result = evaluate_model(model, info, pairs, sequences, baseline)
    return {
        "model_at_model_cutoff": {k: result.at_model_cutoff[k] for k in KEYS},
        "model_at_youden_cutoff_of_these_pairs": {k: result.at_youden_cutoff[k] for k in KEYS},
        "frequency_baseline": {k: result.baseline[k] for k in KEYS},
    }, info


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--default-log", type=Path)
    parser.add_argument("--vd-log", type=Path)
    parser.add_argument("--hardware", default=platform.processor() or platform.machine())
    args = parser.parse_args()
    sequences = read_sequences(DATA / "pro_seq.txt")
    train = read_pairs(DATA / "protein_pair_label_train.txt")
    test = read_pairs(DATA / "protein_pair_label_test.txt")
    default_eval, default_info = evaluation("default", test, sequences, train)
    everything = PairTable.concat([train, test])
    vd_train, vd_test, split = viral_disjoint_split(everything, sequences, fraction=0.2, identity=0.9, seed=0)
    vd_eval, vd_info = evaluation("viral-disjoint", vd_test, sequences, vd_train)
    card = {
        "hvppi_version": __version__,
        "hardware": args.hardware,
        "default": {
            "file": bundled_model_path("default").name,
            "trained_on": "protein_pair_label_train.txt (80% training, 20% validation, stratified, seed 0)",
            "evaluated_on": "protein_pair_label_test.txt",
            "test": default_eval,
            "training": training_summary(args.default_log, default_info),
        },
        "viral_disjoint": {
            "file": bundled_model_path("viral-disjoint").name,
            "split": {k: v for k, v in split.items() if k != "held_out_viral_ids"},
            "split_command": "hvppi split --pairs protein_pair_label_train.txt --pairs protein_pair_label_test.txt "
            "--sequences pro_seq.txt --out vd --fraction 0.2 --identity 0.9 --seed 0",
            "test": vd_eval,
            "training": training_summary(args.vd_log, vd_info),
        },
    }
    with atomic_write(OUT / "model_card.json") as fh:
        json.dump(card, fh, indent=2)
    print(json.dumps({k: card[k]["test"] for k in ("default", "viral_disjoint")}, indent=2))


if __name__ == "__main__":
    main()

"""Evaluating models on labelled pairs, with replicates and the sequence-blind baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hvppi.io.files import atomic_write
from hvppi.io.pairs import PairTable
from hvppi.ppi.baseline import FrequencyBaseline
from hvppi.ppi.inference import score_pairs
from hvppi.ppi.metrics import binary_metrics, mean_sd
from hvppi.ppi.modelfile import ModelInfo


@dataclass
class EvaluationResult:
    """Metrics of one model on one labelled pair set."""

    name: str
    pairs_path: str
    model_path: str | None
    labels: np.ndarray
    scores: np.ndarray
    at_model_cutoff: dict
    at_youden_cutoff: dict
    baseline_scores: np.ndarray | None = None
    baseline: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "pairs": self.pairs_path,
            "model": self.model_path,
            "at_model_cutoff": self.at_model_cutoff,
            "at_youden_cutoff_of_these_pairs": self.at_youden_cutoff,
        }
        if self.baseline is not None:
            out["frequency_baseline"] = self.baseline
        return out


def evaluate_model(
    model,
    info: ModelInfo,
    pairs: PairTable,
    sequences: dict[str, str],
    baseline_pairs: PairTable | None = None,
    device="cpu",
    progress: bool = False,
    name: str | None = None,
) -> EvaluationResult:
    """Score labelled ``pairs`` and compute the metrics at the model's stored cutoff and at Youden's
    cutoff of these pairs; with ``baseline_pairs``, also the frequency baseline fitted on them."""
    pairs.require_both_classes("evaluation pairs")
    scores = score_pairs(model, pairs, sequences, device=device, progress=progress)
    result = EvaluationResult(
        name=name or Path(pairs.path).name,
        pairs_path=pairs.path,
        model_path=info.path,
        labels=pairs.labels.astype(int),
        scores=scores,
        at_model_cutoff=binary_metrics(pairs.labels, scores, info.cutoff),
        at_youden_cutoff=binary_metrics(pairs.labels, scores),
    )
    if baseline_pairs is not None:
        result.baseline_scores = FrequencyBaseline().fit(baseline_pairs).score(pairs)
        result.baseline = binary_metrics(pairs.labels, result.baseline_scores)
        result.baseline["fitted_on"] = baseline_pairs.path
    return result


def summarize(results: list[EvaluationResult]) -> dict:
    """Mean ± SD over replicate results (sample SD)."""
    summary = {"replicates": len(results)}
    summary["at_model_cutoff"] = mean_sd([r.at_model_cutoff for r in results])
    summary["at_youden_cutoff_of_these_pairs"] = mean_sd([r.at_youden_cutoff for r in results])
    if all(r.baseline is not None for r in results):
        summary["frequency_baseline"] = mean_sd([r.baseline for r in results])
    return summary


def format_report(results: list[EvaluationResult]) -> str:
    """A plain-text table: one column per replicate (and mean ± SD when there are several)."""
    rows = [("metric", *[r.name for r in results])]
    several = len(results) > 1
    if several:
        rows[0] = (*rows[0], "mean ± SD")
    names = ("roc_auc", "pr_auc", "sensitivity", "specificity", "accuracy", "mcc", "f1", "cutoff")

    def add(section: str, getter):
        rows.append((section,) + ("",) * (len(rows[0]) - 1))
        for metric in names:
            values = [getter(r)[metric] for r in results]
            cells = [f"{v:.4f}" for v in values]
            if several:
                cells.append(f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}")
            rows.append((f"  {metric}", *cells))

    rows.append(
        ("pairs (positive)", *[f"{r.at_model_cutoff['n_pairs']} ({r.at_model_cutoff['n_positive']})" for r in results])
        + (("",) if several else ())
    )
    add("model, at the model's cutoff", lambda r: r.at_model_cutoff)
    add("model, at Youden's cutoff of these pairs", lambda r: r.at_youden_cutoff)
    if all(r.baseline is not None for r in results):
        add("frequency baseline (no sequence), at its Youden cutoff", lambda r: r.baseline)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def write_scores(path, pairs: PairTable, result: EvaluationResult) -> None:
    with atomic_write(path) as fh:
        header = "human_id\tvirus_id\tlabel\tscore" + ("\tbaseline_score" if result.baseline_scores is not None else "")
        fh.write(header + "\n")
        for k, (h, v) in enumerate(zip(pairs.human_ids, pairs.virus_ids)):
            row = f"{h}\t{v}\t{result.labels[k]}\t{result.scores[k]:.6g}"
            if result.baseline_scores is not None:
                row += f"\t{result.baseline_scores[k]:.6g}"
            fh.write(row + "\n")

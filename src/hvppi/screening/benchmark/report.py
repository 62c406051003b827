"""Reports of the screening benchmark: Markdown tables, benchmark.json, per_virus.tsv and the plots."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hvppi.io.files import atomic_write
from hvppi.screening.benchmark.methods import FAMILY_TABLE
from hvppi.screening.benchmark.metrics import CURVE_KS, METRIC_LABELS, METRICS
from hvppi.screening.benchmark.plots import screening_plots
from hvppi.screening.benchmark.run import ScreeningBenchmark


def _cell(values: list[float], digits: int = 3) -> str:
    mean, low, high = values
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def split_table(summary: dict[str, Any]) -> str:
    """Markdown table of one split: every method, then the model's paired differences."""
    head = "| method | " + " | ".join(METRIC_LABELS[m] for m in METRICS) + " |"
    lines = [head, "|" + " --- |" * (len(METRICS) + 1)]
    for method, metrics in summary["methods"].items():
        lines.append(f"| {method} | " + " | ".join(_cell(metrics[m]) for m in METRICS) + " |")
    for name, metrics in summary["differences"].items():
        lines.append(f"| {name} | " + " | ".join(_cell(metrics[m]) for m in METRICS) + " |")
    return "\n".join(lines)


def family_table(summaries: list[dict[str, Any]]) -> str:
    """Markdown table of leave-one-family-out: per family, mean per-virus ROC AUC and recall@50 of each method, and
    the model's ROC AUC difference to popularity with its interval."""
    shown = FAMILY_TABLE
    lines = [
        "| family | viral proteins | pairs | "
        + " | ".join(f"{m} AUC" for m in shown)
        + " | "
        + " | ".join(f"{m} recall@50" for m in shown)
        + " | model − popularity AUC (95%) |",
        "|" + " --- |" * (4 + 2 * len(shown)),
    ]
    for s in summaries:
        methods = s["methods"]
        lines.append(
            f"| {s['family']} | {s['held_out_viral_proteins']} | {s['held_out_pairs']} | "
            + " | ".join(f"{methods[m]['roc_auc'][0]:.3f}" for m in shown)
            + " | "
            + " | ".join(f"{methods[m]['recall_top_50'][0]:.3f}" for m in shown)
            + f" | {_cell(s['differences']['model - popularity']['roc_auc'])} |"
        )
    wins = sum(s["methods"]["model"]["roc_auc"][0] > s["methods"]["popularity"]["roc_auc"][0] for s in summaries)
    mean_auc = sum(s["methods"]["model"]["roc_auc"][0] for s in summaries) / max(len(summaries), 1)
    lines.append(
        f"\nThe model's mean per-virus ROC AUC is above popularity's for {wins} of {len(summaries)} families; "
        f"its mean over the families is {mean_auc:.3f}."
    )
    return "\n".join(lines)


def _means_table(intro: str, first_column: str, methods: dict[str, dict[str, float]]) -> str:
    """A paragraph, then a Markdown table of each method's mean of every metric."""
    lines = [
        f"\n\n{intro}\n",
        f"| {first_column} | " + " | ".join(METRIC_LABELS[m] for m in METRICS) + " |",
        "|" + " --- |" * (len(METRICS) + 1),
    ]
    lines += [
        f"| {method} | " + " | ".join(f"{metrics[m]:.3f}" for m in METRICS) + " |"
        for method, metrics in methods.items()
    ]
    return "\n".join(lines)


def _all_known_table(summary: dict[str, Any]) -> str:
    known = summary.get("all_known_partners")
    if not known:
        return ""
    intro = (
        f"The same rankings with every known partner as a positive: the extra training data also knows "
        f"{known['extra_partners']} partners among the candidates for {known['viral_proteins_with_extra_partners']} "
        "of the held-out viral proteins, counted above as non-partners. Means over held-out viral proteins:"
    )
    return _means_table(intro, "method", known["methods"])


def _closed_world_table(summary: dict[str, Any]) -> str:
    closed = summary.get("closed_world")
    if not closed:
        return ""
    intro = (
        f"For comparison only, the closed world of earlier versions: the same scores ranked among the "
        f"{closed['candidates']:,} human proteins of the benchmark's pairs (candidates chosen by the labels: each is "
        "a partner of some viral protein), with the benchmark's pairs as the positives. Means over held-out viral "
        "proteins:"
    )
    return _means_table(intro, "method (closed world)", closed["methods"])


def _split_heading(s: dict[str, Any]) -> str:
    excluded = s.get("excluded_by_identity")
    identity = (
        f" {excluded} more viral proteins were left out of training for being ≥ 90% identical (over the shorter "
        "sequence) to a held-out one."
        if excluded
        else ""
    )
    world = "every human protein of the universe" if s.get("closed_world") else "the benchmark's human proteins"
    return (
        f"{s['held_out_viral_proteins']} held-out viral proteins, {s['held_out_pairs']} known pairs, "
        f"{s['candidates']:,} human candidates each ({world}); trained on {s['training_viral_proteins']} viral "
        f"proteins.{identity} Mean over held-out viral proteins [95% interval from resampling {s.get('resampled', 'them')}]."
    )


def _partnerless_text(s: dict[str, Any]) -> str:
    """What no evidence reaches: held-out pairs whose human protein has no partner in training."""
    p = s.get("partnerless_positives")
    if not p or not p.get("pairs"):
        return ""
    ranks = ", ".join(f"{method} {value:.2f}" for method, value in p["mean_percentile"].items())
    return (
        f"\n\nOut of reach: {p['pairs']:,} of the {s['held_out_pairs']:,} held-out pairs "
        f"({p['pairs'] / max(s['held_out_pairs'], 1):.0%}, {p['viral_proteins']} viral proteins) are with a human "
        f"protein that has no partner in training ({p['candidates_without_training_partner']:,} of the candidates "
        "have none): popularity, homology and same-virus partners say nothing about them; only the k-mer neighbours of "
        f"the human protein do. Mean share of negatives ranked below them (0.50 is random): {ranks}. They carry "
        f"{p.get('share_of_model_shortfall', 0.0):.0%} of the model's ROC AUC shortfall (1 − AUC summed over held-out "
        "proteins)."
    )


def format_report(report: dict[str, Any]) -> str:
    """The whole benchmark as Markdown: identity splits, then leave-one-family-out."""
    parts = []
    for s in report["identity_splits"]:
        parts.append(
            f"### {s['split']}\n\n{_split_heading(s)}\n\n{split_table(s)}"
            + _partnerless_text(s)
            + _all_known_table(s)
            + _closed_world_table(s)
        )
    if report["family_splits"]:
        parts.append("### Leave one virus family out\n\n" + family_table(report["family_splits"]))
    return "\n\n".join(parts) + "\n"


def write_benchmark(out_dir: str | os.PathLike, benchmark: ScreeningBenchmark, title: str) -> list[str]:
    """benchmark.json, benchmark.md, per_virus.tsv, auc_distribution.png, recall_at_k.png (and reliability.png)."""
    out = Path(out_dir)
    report = benchmark.to_dict()
    with atomic_write(out / "benchmark.json") as fh:
        json.dump(report, fh, indent=2)
    with atomic_write(out / "benchmark.md") as fh:
        fh.write(f"# Screening benchmark: {title}\n\n" + format_report(report))
    with atomic_write(out / "per_virus.tsv") as fh:
        fh.write("split\tvirus_id\tmethod\t" + "\t".join(METRICS) + "\n")
        for split in benchmark.identity_splits + benchmark.family_splits:
            for method, values in split.per_virus.items():
                for virus, row in zip(split.held_out, values):
                    fh.write(f"{split.name}\t{virus}\t{method}\t" + "\t".join(f"{x:.6g}" for x in row) + "\n")
    written = ["benchmark.json", "benchmark.md", "per_virus.tsv"]
    written += screening_plots(out, benchmark.identity_splits, CURVE_KS, title)
    return written

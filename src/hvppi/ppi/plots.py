"""PNG plots of evaluation results (matplotlib, no display needed)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from hvppi.io.files import save_figure


def roc_pr_plots(
    curves: list[tuple[str, np.ndarray, np.ndarray]],
    roc_path: str | os.PathLike,
    pr_path: str | os.PathLike,
    title: str = "",
) -> None:
    """ROC and precision–recall curves of several (name, labels, scores) on one plot each."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, labels, scores in curves:
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(
        xlabel="false positive rate (1 − specificity)",
        ylabel="true positive rate (sensitivity)",
        title=f"ROC {title}".strip(),
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, roc_path)

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, labels, scores in curves:
        precision, recall, _ = precision_recall_curve(labels, scores)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(labels, scores):.3f})")
        ax.axhline(np.mean(labels), color="grey", lw=0.8, ls="--")
    ax.set(xlabel="recall", ylabel="precision", title=f"Precision–recall {title}".strip(), xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left", fontsize=8)
    save_figure(fig, pr_path)

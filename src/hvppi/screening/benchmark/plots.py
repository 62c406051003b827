"""PNG plots of the screening benchmark: per-virus ROC AUC by method, recall at k, reliability."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hvppi.io.files import save_figure

if TYPE_CHECKING:
    from hvppi.screening.benchmark.run import SplitResult


def screening_plots(out_dir: str | os.PathLike, splits: Sequence[SplitResult], ks: np.ndarray, title: str) -> list[str]:
    """auc_distribution.png, recall_at_k.png and, when the first split has one, reliability.png; returns the names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    written = []
    n_methods = max((len(s.per_virus) for s in splits), default=1)
    fig, axes = plt.subplots(
        1, len(splits), figsize=(6.5 * len(splits), 1.2 + 0.45 * n_methods), squeeze=False, sharey=True
    )
    for ax, split in zip(axes[0], splits):
        methods = list(split.per_virus)[::-1]  # the first method at the top
        ax.boxplot([split.per_virus[m][:, 0] for m in methods], orientation="horizontal", showmeans=True, widths=0.6)
        ax.set_yticks(range(1, len(methods) + 1), methods, fontsize=9)
        ax.axvline(0.5, color="grey", lw=0.8, ls="--")
        ax.set(xlabel="ROC AUC per held-out viral protein", title=f"{split.name} ({len(split.held_out)} proteins)")
        ax.title.set_fontsize(9)
    fig.suptitle(f"Screening model (hvppi default recipe) on {title}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out / "auc_distribution.png")
    plt.close(fig)
    written.append("auc_distribution.png")

    fig, axes = plt.subplots(1, len(splits), figsize=(5.5 * len(splits), 4.5), squeeze=False)
    for ax, split in zip(axes[0], splits):
        for method, curve in split.recall_curves.items():
            ax.plot(ks, curve, label=method, lw=2 if method == "model" else 1.2)
        ax.set_xscale("log")
        ax.set(xlabel="top k human candidates", ylabel="mean recall of known partners", title=split.name)
        ax.legend(fontsize=8)
    fig.suptitle(f"Screening model (hvppi default recipe) on {title}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out / "recall_at_k.png")
    plt.close(fig)
    written.append("recall_at_k.png")

    table = splits[0].reliability if splits else []
    if table:
        fig, ax = plt.subplots(figsize=(4.8, 4.5))
        predicted = [row["mean_predicted"] for row in table]
        observed = [row["observed"] for row in table]
        ax.plot([1e-4, 1], [1e-4, 1], color="grey", lw=0.8, ls="--")
        ax.plot(predicted, observed, "o-")
        for p, o, row in zip(predicted, observed, table):
            ax.annotate(f"{row['pairs']:,}", (p, o), fontsize=7, xytext=(3, -8), textcoords="offset points")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="mean calibrated probability",
            ylabel="observed share of partners",
        )
        ax.set_title(f"Reliability of the screening model\n{splits[0].name}\n{title}", fontsize=9)
        fig.tight_layout()
        save_figure(fig, out / "reliability.png")
        plt.close(fig)
        written.append("reliability.png")
    return written

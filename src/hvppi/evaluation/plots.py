"""PNG plots of evaluation results (matplotlib, no display needed)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from hvppi.io.files import save_figure


def model_label(model: str | os.PathLike | None) -> str:
    """How plot titles name a model: a bundled model by its name (also when given as the path of its
    bundled file), a model file by its file name; None: the default BiLSTM-attention model."""
    from hvppi.io.bundled import BUNDLED_MODELS, DEFAULT_INTERACTION_MODEL, bundled_model_path

    if model is None:
        return DEFAULT_INTERACTION_MODEL
    if str(model) in BUNDLED_MODELS and not Path(model).exists():
        return str(model)
    path = Path(model)
    if path.name in BUNDLED_MODELS.values():
        try:
            if path.resolve() == bundled_model_path(DEFAULT_INTERACTION_MODEL).parent.resolve() / path.name:
                return path.stem.replace("_", "-")
        except OSError:
            pass
    return path.name


def _listing(names: Sequence[str], most: int = 3) -> str:
    unique = list(dict.fromkeys(str(n) for n in names))
    if len(unique) > most:
        return ", ".join(unique[:most]) + f", … ({len(unique)} in all)"
    return ", ".join(unique)


def plot_subtitle(models: Sequence[str], data: Sequence[str], width: int = 70) -> str:
    """A plot subtitle naming the model(s) and the data set(s), "MODEL on DATA", wrapped to ``width``
    characters. ``data``: names as they should appear (file names, or the shortest path ends that tell
    files apart, as rep1/test.txt); more than three models or data sets are cut short."""
    text = " on ".join(part for part in (_listing(models), _listing(data)) if part)
    return textwrap.fill(text, width) if text else ""


def titled(title: str, subtitle: str = "") -> str:
    """``title`` with ``subtitle`` on the lines below it (for ``ax.set_title``)."""
    return "\n".join(part for part in (title.strip(), subtitle.strip()) if part)


def roc_pr_plots(
    curves: list[tuple[str, np.ndarray, np.ndarray]],
    roc_path: str | os.PathLike,
    pr_path: str | os.PathLike,
    title: str = "",
    subtitle: str = "",
) -> None:
    """ROC and precision–recall curves of several (name, labels, scores) on one plot each.

    ``title`` follows "ROC" / "Precision–recall" on the first line; ``subtitle`` (e.g. from
    :func:`plot_subtitle`: the model and the data set) goes below it."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, labels, scores in curves:
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(
        xlabel="false positive rate (1 − specificity)",
        ylabel="true positive rate (sensitivity)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.set_title(titled(f"ROC {title}", subtitle), fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, roc_path)

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, labels, scores in curves:
        precision, recall, _ = precision_recall_curve(labels, scores)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(labels, scores):.3f})")
        ax.axhline(np.mean(labels), color="grey", lw=0.8, ls="--")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(titled(f"Precision–recall {title}", subtitle), fontsize=9)
    ax.legend(loc="lower left", fontsize=8)
    save_figure(fig, pr_path)

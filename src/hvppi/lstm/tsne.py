"""t-SNE maps of the 128-d intermediate vectors (human ‖ virus tower vectors) of labelled pairs.

Settings of Tsukiyama et al. (2020): perplexity 50, learning rate 200, at most 5,000 iterations,
stopping when the gradient norm falls below 1e-7 (scikit-learn's Barnes–Hut t-SNE, PCA
initialisation, seeded).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from hvppi.io.files import atomic_write, save_figure
from hvppi.io.pairs import PairTable
from hvppi.lstm.inference import encode_pairs, sigmoid
from hvppi.lstm.model import InteractionModel


def intermediate_vectors(
    model: InteractionModel,
    pairs: PairTable,
    sequences: dict[str, str],
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 128) intermediate vectors of the pairs, in input order, and their scores (as :func:`score_pairs`)."""
    encoded = encode_pairs(model, pairs, sequences, device=device, progress=progress)
    return encoded.intermediate(), sigmoid(encoded.logits(model, device))


def tsne_map(
    vectors: np.ndarray,
    seed: int = 0,
    perplexity: float = 50.0,
    learning_rate: float = 200.0,
    max_iter: int = 5000,
    min_grad_norm: float = 1e-7,
    verbose: int = 0,
) -> np.ndarray:
    """2-d t-SNE coordinates of ``vectors`` (the module docstring's settings; perplexity capped for few points)."""
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, (len(vectors) - 1) / 3)  # scikit-learn needs perplexity < n
    return TSNE(
        n_components=2,
        perplexity=perplexity,
        learning_rate=learning_rate,
        max_iter=max_iter,
        min_grad_norm=min_grad_norm,
        init="pca",
        random_state=seed,
        verbose=verbose,
    ).fit_transform(vectors)


def write_map(
    tsv_path: str | os.PathLike,
    png_path: str | os.PathLike,
    pairs: PairTable,
    coords: np.ndarray,
    scores: np.ndarray,
    cutoff: float,
    title: str = "",
    subtitle: str = "",
) -> None:
    """Coordinates as TSV and a scatter plot coloured by label, wrong calls marked; ``subtitle`` (the
    model and the pairs, :func:`hvppi.evaluation.plots.plot_subtitle`) goes under the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hvppi.evaluation.plots import titled

    labels = pairs.require_labels("pairs to map").astype(int)
    calls = (scores >= cutoff).astype(int)
    with atomic_write(tsv_path) as fh:
        fh.write("human_id\tvirus_id\tlabel\tscore\tcall\tx\ty\n")
        for k, (h, v) in enumerate(zip(pairs.human_ids, pairs.virus_ids)):
            fh.write(f"{h}\t{v}\t{labels[k]}\t{scores[k]:.7g}\t{calls[k]}\t{coords[k, 0]:.5g}\t{coords[k, 1]:.5g}\n")
    fig, ax = plt.subplots(figsize=(6.5, 6))
    size = max(1.0, min(12.0, 4000 / len(labels)))
    for value, colour, name in ((0, "tab:blue", "non-interacting (0)"), (1, "tab:red", "interacting (1)")):
        chosen = labels == value
        ax.scatter(
            coords[chosen, 0], coords[chosen, 1], s=size, c=colour, alpha=0.5, lw=0, label=f"{name}: {chosen.sum():,}"
        )
    wrong = calls != labels
    ax.scatter(
        coords[wrong, 0],
        coords[wrong, 1],
        s=size * 3,
        facecolors="none",
        edgecolors="black",
        lw=0.5,
        label=f"wrong call at cutoff {cutoff:.3g}: {wrong.sum():,}",
    )
    ax.set(xlabel="t-SNE 1", ylabel="t-SNE 2")
    ax.set_title(titled(title or "t-SNE of the intermediate vectors", subtitle), fontsize=10)
    ax.legend(loc="best", fontsize=7, markerscale=2)
    save_figure(fig, png_path)


def sample_pairs(pairs: PairTable, max_pairs: int | None, seed: int = 0) -> PairTable:
    """A seeded random ``max_pairs`` of the pairs, in input order (all of them when there are no more)."""
    if not max_pairs or len(pairs) <= max_pairs:
        return pairs
    keep = np.sort(np.random.default_rng(seed).choice(len(pairs), max_pairs, replace=False))
    return pairs.subset(keep)


def write_tsne(
    out_dir: str | os.PathLike,
    model: InteractionModel,
    pairs: PairTable,
    sequences: dict[str, str],
    cutoff: float,
    max_pairs: int | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
    subtitle: str | None = None,
) -> int:
    """t-SNE map of labelled pairs (a seeded ``max_pairs`` of them) to out_dir/tsne.tsv and tsne.png.

    ``subtitle``: the plot's subtitle, naming the model and the pairs (None: the pairs' file names).
    Returns the number of pairs mapped.
    """
    from pathlib import Path

    from hvppi.evaluation.plots import plot_subtitle

    if subtitle is None:
        subtitle = plot_subtitle([], [Path(p).name for p in (pairs.path or "").split(" + ") if p])
    pairs.require_both_classes("pairs to map")
    pairs = sample_pairs(pairs, max_pairs, seed)
    vectors, scores = intermediate_vectors(model, pairs, sequences, device, progress)
    coords = tsne_map(vectors, seed=seed, verbose=1 if progress else 0)
    out = Path(out_dir)
    write_map(out / "tsne.tsv", out / "tsne.png", pairs, coords, scores, cutoff, subtitle=subtitle)
    return len(pairs)

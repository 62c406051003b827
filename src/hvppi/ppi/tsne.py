"""t-SNE maps of the 128-d intermediate vectors (human ‖ virus tower vectors) of labelled pairs.

Settings of Tsukiyama et al. (2020): perplexity 50, learning rate 200, at most 5,000 iterations,
stopping when the gradient norm falls below 1e-7 (scikit-learn's Barnes–Hut t-SNE, PCA
initialisation, seeded).
"""

from __future__ import annotations

import numpy as np

from hvppi.io.files import atomic_path, atomic_write
from hvppi.io.pairs import PairTable
from hvppi.ppi.inference import encode_pair_proteins, head_logits, tokenize_sequences
from hvppi.ppi.model import InteractionModel


def intermediate_vectors(
    model: InteractionModel, pairs: PairTable, sequences: dict[str, str], device="cpu", progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 128) intermediate vectors of the pairs, in input order, and their scores."""
    tokens = tokenize_sequences(sequences, set(pairs.human_ids) | set(pairs.virus_ids))
    hv, vv, hi, vi = encode_pair_proteins(model, pairs, tokens, device, progress)
    scores = 1.0 / (1.0 + np.exp(-head_logits(model, hv, vv, hi, vi, device)))
    return np.concatenate([hv[hi], vv[vi]], axis=1), scores


def tsne_map(
    vectors: np.ndarray,
    seed: int = 0,
    perplexity: float = 50.0,
    learning_rate: float = 200.0,
    max_iter: int = 5000,
    min_grad_norm: float = 1e-7,
    verbose: int = 0,
) -> np.ndarray:
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
    tsv_path, png_path, pairs: PairTable, coords: np.ndarray, scores: np.ndarray, cutoff: float, title: str = ""
) -> None:
    """Coordinates as TSV and a scatter plot coloured by label, wrong calls marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = pairs.labels.astype(int)
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
    ax.set(xlabel="t-SNE 1", ylabel="t-SNE 2", title=title or "t-SNE of the intermediate vectors")
    ax.legend(loc="best", fontsize=7, markerscale=2)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)

"""PNG plots of the embedding-geometry analyses (matplotlib, Agg backend)."""

from __future__ import annotations

import os
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from hvppi.io.files import save_figure


def titled(title: str, subtitle: str = "", width: int = 70) -> str:
    """``title`` with ``subtitle`` (wrapped to ``width`` characters) on the lines below it."""
    lines = [title.strip(), textwrap.fill(subtitle.strip(), width) if subtitle.strip() else ""]
    return "\n".join(line for line in lines if line)


def hexbin_plot(
    path: str | os.PathLike,
    x: np.ndarray,
    y: np.ndarray,
    xlabel: str,
    ylabel: str,
    title: str = "",
    subtitle: str = "",
) -> None:
    """Density of many (x, y) points as hexagonal bins, counts on a log colour scale; ``subtitle`` (the
    embedding and sequence files, say) goes under ``title``."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    hb = ax.hexbin(x, y, gridsize=80, bins="log", mincnt=1, cmap="viridis", linewidths=0)
    fig.colorbar(hb, ax=ax, label="pairs (log scale)")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(titled(title, subtitle), fontsize=9)
    save_figure(fig, path)


def isotropy_subtitle(rows: list[dict]) -> str:
    """The embedding sets of ``rows`` (dicts with ``name``, ``global_file``, ``local_file`` and
    ``embedder``, as :func:`hvppi.geometry.report.measure_set`'s): name, embedder and file names."""
    parts = []
    for r in rows:
        files = [os.path.basename(str(f)) for f in (r.get("global_file"), r.get("local_file")) if f]
        files = list(dict.fromkeys(files))
        embedder = f" ({r['embedder']})" if r.get("embedder") else ""
        parts.append(f"{r['name']}{embedder}: {', '.join(files)}" if files else f"{r['name']}{embedder}")
    return "; ".join(parts)


def isotropy_bars(
    path: str | os.PathLike, rows: list[dict], title: str = "Isotropy of embedding sets", subtitle: str | None = None
) -> None:
    """Bar charts of IsoScore, effective dimensions and average cosine per embedding set, global and local.

    ``rows``: dicts with ``name`` and ``global`` / ``local`` (an isotropy result dict or None).
    ``subtitle``: under the title; None: :func:`isotropy_subtitle` (each set's embedder and files).
    """
    names = [r["name"] for r in rows]
    panels = [
        ("isoscore", "IsoScore", "{:.3f}"),
        ("effective_dims", "effective dimensions", "{:.1f}"),
        ("avg_cosine", "average cosine similarity", "{:.3f}"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(4 + 1.6 * len(names), 3.8))
    x = np.arange(len(names))
    for ax, (key, label, fmt) in zip(axes, panels):
        shown = []
        for offset, level, colour in ((-0.2, "global", "tab:blue"), (0.2, "local", "tab:orange")):
            values = [np.nan if r.get(level) is None or r[level].get(key) is None else r[level][key] for r in rows]
            bars = ax.bar(x + offset, values, width=0.4, label=level, color=colour)
            ax.bar_label(bars, labels=["" if np.isnan(v) else fmt.format(v) for v in values], fontsize=6)
            shown += [v for v in values if not np.isnan(v)]
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(label)
        if key == "effective_dims" and shown and max(shown) > 20 * min(shown):
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    if subtitle is None:
        subtitle = isotropy_subtitle(rows)
    fig.suptitle(titled(title, subtitle, width=max(50, int(13 * fig.get_figwidth()))), fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)

"""Per-residue attention of the towers: export, profile plots and enrichment in annotated regions.

In evaluation mode a protein's attention weights depend only on the protein and the model (they
sum to 1 over its residues). ``region_enrichment`` asks whether a tower attends more to annotated
regions (domains, motifs) than elsewhere: the statistic is mean attention inside the regions minus
mean attention outside, and its null distribution comes from rotating the region mask around the
sequence (circular shifts keep the number, lengths and spacing of the regions).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hvppi.io.alphabet import tokenize
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_path, atomic_write, open_text, read_errors, save_figure, staged_directory
from hvppi.lstm.inference import encode_proteins
from hvppi.lstm.model import InteractionModel, TowerName


@dataclass(frozen=True)
class Region:
    protein_id: str
    start: int  # 1-based, inclusive
    end: int  # 1-based, inclusive
    label: str


def protein_attention(
    model: InteractionModel,
    tower: TowerName,
    sequences: dict[str, str],
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Attention weights of each protein (one float per residue, summing to 1) in the ``tower`` ("human"/"virus")."""
    _, weights = encode_proteins(
        model.tower(tower),
        [tokenize(s) for s in sequences.values()],
        device,
        with_attention=True,
        progress=progress,
        desc=f"attention ({tower})",
    )
    if weights is None:  # with_attention=True always returns them
        raise RuntimeError("encode_proteins returned no attention weights")
    return dict(zip(sequences, weights))


def write_attention_tsv(path: str | os.PathLike, attention: dict[str, np.ndarray], sequences: dict[str, str]) -> None:
    """Columns protein_id, position (1-based), residue, attention."""
    with atomic_write(path) as fh:
        fh.write("protein_id\tposition\tresidue\tattention\n")
        for pid, weights in attention.items():
            seq = sequences[pid]
            fh.writelines(f"{pid}\t{i + 1}\t{seq[i]}\t{w:.6g}\n" for i, w in enumerate(weights))


def write_attention_h5(
    path: str | os.PathLike, attention: dict[str, np.ndarray], sequences: dict[str, str], tower: str, model_sha256: str
) -> None:
    """One float32 dataset per protein in hvppi's H5 layout (:mod:`hvppi.io.h5layout`), attribute ``id``."""
    import h5py

    from hvppi.io.h5layout import write_protein_array

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.attrs.update({"format": "hvppi-attention", "tower": tower, "model_sha256": model_sha256})
        for pid, weights in attention.items():
            write_protein_array(fh, pid, weights, sequences[pid], id_attribute="id")


def read_annotations(path: str | os.PathLike, sequences: dict[str, str]) -> list[Region]:
    """Read ``protein_id, start, end, label`` rows (TSV, 1-based inclusive; a header line is allowed).

    A region outside its sequence, start > end, or a protein without a sequence is an error naming
    the file and line.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    regions = []
    with read_errors(path), open_text(path) as fh:
        for number, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or not "".join(row).strip() or row[0].startswith("#"):
                continue
            if number == 1 and row[0].strip().lower() == "protein_id":
                continue
            if len(row) < 3:
                raise InputError("expected protein_id, start, end[, label]", path, number)
            pid = row[0].strip()
            try:
                start, end = int(row[1]), int(row[2])
            except ValueError:
                raise InputError(
                    f"start and end must be integers, found {row[1]!r}, {row[2]!r}", path, number, pid
                ) from None
            if pid not in sequences:
                raise InputError("annotated protein has no sequence", path, number, pid)
            length = len(sequences[pid])
            if not 1 <= start <= end <= length:
                raise InputError(
                    f"region {start}-{end} lies outside the sequence (1-{length}) or has start > end", path, number, pid
                )
            regions.append(Region(pid, start, end, row[3].strip() if len(row) > 3 else ""))
    return regions


def region_mask(length: int, regions: list[Region]) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    for r in regions:
        mask[r.start - 1 : r.end] = True
    return mask


def _difference(weights: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Mean inside − mean outside for each row of ``masks`` (n, L)."""
    inside = masks.sum(1)
    return (masks @ weights) / inside - ((~masks) @ weights) / (len(weights) - inside)


def region_enrichment(
    attention: dict[str, np.ndarray], regions: list[Region], permutations: int = 9999, seed: int = 0
) -> tuple[list[dict], dict]:
    """Per protein and pooled: mean attention inside vs outside the regions, with permutation p-values.

    The pooled statistic is the mean over proteins of (inside − outside), each protein's mask rotated
    independently in every permutation. p = (1 + #{null ≥ observed}) / (1 + permutations), one-sided
    (more attention inside). Proteins whose regions cover all or none of the sequence are skipped.
    """
    rng = np.random.default_rng(seed)
    by_protein: dict[str, list[Region]] = {}
    for r in regions:
        by_protein.setdefault(r.protein_id, []).append(r)
    rows, observed_all, null_all = [], [], []
    for pid, regs in by_protein.items():
        if pid not in attention:
            continue
        weights = np.asarray(attention[pid], dtype=np.float64)
        mask = region_mask(len(weights), regs)
        if mask.all() or not mask.any():
            continue
        shifts = rng.integers(1, len(weights), permutations) if len(weights) > 1 else np.zeros(permutations, int)
        index = (np.arange(len(weights))[None, :] - shifts[:, None]) % len(weights)
        null = _difference(weights, mask[index])
        observed = float(_difference(weights, mask[None, :])[0])
        rows.append(
            {
                "protein_id": pid,
                "length": len(weights),
                "regions": len(regs),
                "residues_inside": int(mask.sum()),
                "mean_inside": float(weights[mask].mean()),
                "mean_outside": float(weights[~mask].mean()),
                "difference": observed,
                "p_value": float((1 + np.sum(null >= observed - 1e-15)) / (1 + permutations)),
            }
        )
        observed_all.append(observed)
        null_all.append(null)
    pooled: dict[str, float] = {"proteins": len(rows)}
    if rows:
        observed = float(np.mean(observed_all))
        null = np.mean(np.stack(null_all), axis=0)
        pooled.update(
            {
                "mean_difference": observed,
                "p_value": float((1 + np.sum(null >= observed - 1e-15)) / (1 + permutations)),
                "permutations": permutations,
            }
        )
    return rows, pooled


def plot_profile(
    path: str | os.PathLike,
    protein_id: str,
    sequence: str,
    weights: np.ndarray,
    regions: list[Region] | None = None,
    contacts: np.ndarray | None = None,
    subtitle: str = "",
) -> None:
    """Attention along the sequence (PNG), with annotated regions shaded and labelled; the title is the
    protein ID, ``subtitle`` (the model and the sequence file, say) goes under it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hvppi.evaluation.plots import titled

    fig, ax = plt.subplots(figsize=(max(6.0, min(16.0, len(sequence) / 40)), 3))
    positions = np.arange(1, len(weights) + 1)
    ax.plot(positions, weights, lw=0.9, color="tab:blue", label="attention")
    ax.axhline(1 / len(weights), color="grey", lw=0.7, ls="--", label="uniform (1/L)")
    colours = plt.get_cmap("tab10")
    labels = sorted({r.label for r in regions or []})
    for r in regions or []:
        colour = colours((labels.index(r.label) + 1) % 10)
        ax.axvspan(r.start - 0.5, r.end + 0.5, color=colour, alpha=0.2, lw=0)
        ax.text(
            (r.start + r.end) / 2, ax.get_ylim()[1] * 0.95, r.label, ha="center", va="top", fontsize=7, color=colour
        )
    if contacts is not None:
        ax.plot(
            positions[contacts], np.zeros(contacts.sum()), "|", color="tab:red", ms=8, label="within 8 Å of partner"
        )
    ax.set(xlabel="residue position", ylabel="attention weight", xlim=(0.5, len(weights) + 0.5))
    ax.set_title(titled(protein_id, subtitle), fontsize=9)
    # beside the axes, not on them: a legend inside covers the peaks it is there to explain
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, borderaxespad=0.0, frameon=False)
    fig.tight_layout()  # keeps the last tick label, the axis titles and the legend inside the image
    save_figure(fig, path, dpi=130)


ENRICHMENT_COLUMNS = (
    "protein_id",
    "length",
    "regions",
    "residues_inside",
    "mean_inside",
    "mean_outside",
    "difference",
    "p_value",
)


def write_enrichment_tsv(path: str | os.PathLike, rows: list[dict]) -> None:
    """The per-protein rows of :func:`region_enrichment` as a TSV (columns ENRICHMENT_COLUMNS)."""
    with atomic_write(path) as fh:
        fh.write("\t".join(ENRICHMENT_COLUMNS) + "\n")
        fh.writelines("\t".join(str(r[c]) for c in ENRICHMENT_COLUMNS) + "\n" for r in rows)


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.+=,@-]")


def profile_file_name(protein_id: str) -> str:
    """A safe, distinct file name for a protein's profile plot: the ID itself, or, for an ID that is
    hidden ('.', '..', '.x'), over 100 characters or holds characters unsafe in file names ('/', spaces...),
    a cleaned prefix and 12 hex digits of the ID's SHA-256.

    >>> profile_file_name("P0DTC2"), profile_file_name("sp/P0DTC2"), profile_file_name(".")
    ('P0DTC2.png', 'sp_P0DTC2-edf2953fd4af.png', '_-cdb4ee2aea69.png')
    """
    name = protein_id
    if not name or name.startswith(".") or len(name) > 100 or _UNSAFE_NAME.search(name):
        digest = hashlib.sha256(protein_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        name = f"{_UNSAFE_NAME.sub('_', name)[:60].lstrip('.') or '_'}-{digest}"
    return f"{name}.png"


def write_attention_report(
    out_dir: str | os.PathLike,
    attention: dict[str, np.ndarray],
    sequences: dict[str, str],
    tower: str,
    model_path: str | None,
    model_sha256: str,
    regions: list[Region] | None = None,
    permutations: int = 9999,
    seed: int = 0,
    plots: int = 20,
    structure: dict | None = None,
    subtitle: str | None = None,
) -> dict:
    """Write every attention output to ``out_dir`` and return the report (also in attention_report.json).

    Always attention.tsv, attention.h5 and profiles/<id>.png for the first ``plots`` proteins; with
    ``regions``, enrichment.tsv and the pooled enrichment under "enrichment_pooled"; with ``structure``
    (keyword arguments of :func:`hvppi.lstm.structure.write_structure_comparison` other than out_dir,
    sequence and weights: structure_path, chain, partner, protein_id, cutoff), structure.tsv,
    structure_profile.png and the comparison under "structure". ``subtitle``: the profile plots'
    subtitle, naming the model and the sequences (None: the model and the tower).
    """
    import json

    from hvppi.evaluation.plots import model_label

    with staged_directory(out_dir) as out:  # all outputs appear together, or none of them
        regions = regions or []
        write_attention_tsv(out / "attention.tsv", attention, sequences)
        write_attention_h5(out / "attention.h5", attention, sequences, tower, model_sha256)
        by_protein: dict[str, list[Region]] = {}
        for r in regions:
            by_protein.setdefault(r.protein_id, []).append(r)
        if subtitle is None:
            subtitle = f"{model_label(model_path)}, {tower} tower"
        for pid in list(sequences)[:plots]:
            path = out / "profiles" / profile_file_name(pid)
            plot_profile(path, pid, sequences[pid], attention[pid], by_protein.get(pid), subtitle=subtitle)
        report: dict = {"tower": tower, "model": model_path, "proteins": len(sequences)}
        if regions:
            rows, pooled = region_enrichment(attention, regions, permutations, seed)
            write_enrichment_tsv(out / "enrichment.tsv", rows)
            report["enrichment_pooled"] = pooled
        if structure is not None:
            from hvppi.lstm.structure import write_structure_comparison

            pid = structure["protein_id"]
            report["structure"] = write_structure_comparison(
                out, sequence=sequences[pid], weights=attention[pid], **structure
            )
        with atomic_write(out / "attention_report.json") as fh:
            json.dump(report, fh, indent=2)
    return report

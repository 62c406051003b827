"""How well embedding similarity follows sequence similarity (Hakim, Roy & Rahman 2025, alignment correlation).

A seeded sample of proteins (a fraction, default 1% as in the paper, or a count) that have both a
sequence and an embedding. For every pair i < j:

* ``score``: the Needleman–Wunsch global alignment score with PAM250, gap open 10 and extend 1 (a
  gap of length L costs 10 + (L − 1)), end gaps penalised as inner gaps (:mod:`hvppi.align.kernels`);
* ``identity``: matches / alignment columns, gaps included, of that alignment (letters outside
  PAM250's alphabet, U and O, are aligned as X and counted in the parameters);
* ``cosine_similarity`` and ``cosine_distance`` (= 1 − cosine similarity) of the two embeddings;
* ``squared_euclidean``: the squared Euclidean distance of the embeddings.

Embedding metrics are float64 and computed block-wise from the Gram matrix, so memory stays at a
few vectors of n(n − 1)/2 values (the paper's 6.4 million pairs of 3,578 proteins: ~51 MB each),
never an n × n × d tensor. Pearson correlations come from block-wise centred cross products;
Spearman correlations are Pearson correlations of ``scipy.stats.rankdata`` ranks (ties averaged).
Cosine distance is an exact affine function of cosine similarity, so its correlations are those of
cosine similarity with the sign flipped (the paper's +0.791 between "cosine" and squared Euclidean
distance suggests it reported cosine distance; both are shown). The same correlations are computed
within identity bins (default: below and from 0.3, low and high sequence similarity); a bin of fewer
than ``MIN_BIN_PAIRS`` (30) pairs gets NaN correlations instead of noise.

The alignment stats, the long part, are computed in blocks of rows (:func:`hvppi.align.blocks.aligned_pairs`).
:func:`run_alignment_correlation` keeps them beside OUT, not in it, until the whole set is written: each
block in OUT.parts/alignment.npz.parts/ as it finishes (an interrupted run resumes from the finished
blocks), then all in OUT.parts/alignment.npz under a SHA-256 of the sampled IDs, their sequences and
the scoring (a run that fails after aligning resumes from it). OUT/alignment.npz arrives
with the tables and plots, and OUT.parts/ is removed; a second run with the same sample reuses
OUT/alignment.npz. A failed run thus leaves OUT as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hvppi.align.blocks import DEFAULT_BLOCK_ROWS, aligned_pairs
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_path, atomic_write, output_lock, staged_directory

MATRIX = "PAM250"
GAP_OPEN = 10
GAP_EXTEND = 1
VARIABLES = ("score", "identity", "cosine_similarity", "cosine_distance", "squared_euclidean")
LABELS = {
    "score": f"global alignment score ({MATRIX}, gaps {GAP_OPEN}/{GAP_EXTEND})",
    "identity": "identity (matches / alignment columns)",
    "cosine_similarity": "cosine similarity of embeddings",
    "squared_euclidean": "squared Euclidean distance of embeddings",
}
ALIGNMENT_FILE = "alignment.npz"
"""The alignments of the sample in OUT (and, until the set is written, in OUT.parts)."""
MIN_BIN_PAIRS = 30
"""Identity bins with fewer pairs get no correlations (NaN): a correlation of a handful of pairs says little."""
_BASE = ("score", "identity", "cosine_similarity", "squared_euclidean")
_FROM_BASE = np.array([0, 1, 2, 2, 3])
_SIGN = np.array([1.0, 1.0, 1.0, -1.0, 1.0])


def sample_proteins(
    ids: Sequence[str], fraction: float | None = 0.01, count: int | None = None, seed: int = 0
) -> list[str]:
    """A seeded random sample of ``count`` IDs, or of round(fraction · len(ids)) (at least 2), sorted."""
    ids = sorted(set(ids))
    if count is None:
        if fraction is None or not 0 < fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        count = max(2, int(round(fraction * len(ids))))
    if count < 2:
        raise ValueError("the sample needs at least 2 proteins")
    if count > len(ids):
        raise ValueError(f"cannot sample {count} proteins: only {len(ids)} have both a sequence and an embedding")
    chosen = np.random.default_rng(seed).choice(len(ids), count, replace=False)
    return sorted(ids[k] for k in chosen)


def embedding_pair_metrics(X: ArrayLike, block_rows: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity and squared Euclidean distance of every row pair i < j, float64, condensed in
    the order of ``np.triu_indices(n, 1)`` (as ``scipy.spatial.distance.pdist``). Zero rows are an error."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"expected at least 2 vectors in a 2-d array, got shape {X.shape}")
    n = X.shape[0]
    sq = np.einsum("ij,ij->i", X, X)
    norms = np.sqrt(sq)
    if not np.all(norms > 0):
        raise ValueError(f"vector {int(np.argmin(norms > 0))} is zero: cosine similarity undefined")
    total = n * (n - 1) // 2
    cosine = np.empty(total)
    sqeuclid = np.empty(total)
    offset = 0
    for start in range(0, n - 1, block_rows):
        stop = min(start + block_rows, n - 1)
        gram = X[start:stop] @ X[start + 1 :].T
        for r in range(stop - start):
            i = start + r
            g = gram[r, r:]  # columns j = i + 1 … n − 1
            k = len(g)
            cosine[offset : offset + k] = g / (norms[i] * norms[i + 1 :])
            np.maximum(sq[i] + sq[i + 1 :] - 2 * g, 0.0, out=sqeuclid[offset : offset + k])
            offset += k
    np.clip(cosine, -1.0, 1.0, out=cosine)
    return cosine, sqeuclid


def _pearson_matrix(columns: list[np.ndarray], block: int = 1 << 20) -> np.ndarray:
    means = [float(np.mean(c)) for c in columns]
    k = len(columns)
    cross = np.zeros((k, k))
    for start in range(0, len(columns[0]), block):
        B = np.stack([c[start : start + block] - m for c, m in zip(columns, means)])
        cross += B @ B.T
    scale = np.sqrt(np.diag(cross))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cross / np.outer(scale, scale)
    corr = np.clip(corr, -1.0, 1.0)
    np.fill_diagonal(corr, np.where(scale > 0, 1.0, np.nan))
    return corr


def correlation_matrices(columns: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pearson and Spearman correlation matrices (len(columns)²) of equally long vectors; NaN where undefined."""
    from scipy.stats import rankdata

    values = list(columns.values())
    if len(values[0]) < 3:
        nan = np.full((len(values), len(values)), np.nan)
        return nan, nan.copy()
    pearson = _pearson_matrix(values)
    ranks = [rankdata(v) for v in values]
    spearman = _pearson_matrix(ranks)
    return pearson, spearman


def _expand(base: np.ndarray) -> np.ndarray:
    """5 × 5 matrix over VARIABLES from the 4 × 4 over _BASE (cosine distance = −cosine similarity)."""
    return base[np.ix_(_FROM_BASE, _FROM_BASE)] * np.outer(_SIGN, _SIGN)


@dataclass
class AlignmentCorrelation:
    """Correlations between alignment and embedding (dis)similarity over all pairs of a protein sample."""

    ids: list[str]
    pearson: np.ndarray
    spearman: np.ndarray
    bins: list[dict]
    parameters: dict
    pairs: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    @property
    def n_pairs(self) -> int:
        return len(self.ids) * (len(self.ids) - 1) // 2

    @property
    def small_bins(self) -> list[dict]:
        """The identity bins with too few pairs for a correlation (their correlations are NaN)."""
        return [b for b in self.bins if b.get("too_few_pairs")]

    def to_dict(self) -> dict:
        def matrix(m):
            return {a: {b: _num(m[i, j]) for j, b in enumerate(VARIABLES)} for i, a in enumerate(VARIABLES)}

        return {
            "n_proteins": len(self.ids),
            "n_pairs": self.n_pairs,
            "parameters": self.parameters,
            "pearson": matrix(self.pearson),
            "spearman": matrix(self.spearman),
            "identity_bins": [
                {
                    **{k: v for k, v in b.items() if k not in ("pearson", "spearman")},
                    "pearson": matrix(b["pearson"]),
                    "spearman": matrix(b["spearman"]),
                }
                for b in self.bins
            ],
            "proteins": self.ids,
        }


def _num(x: float):
    return None if not np.isfinite(x) else float(x)


def check_correlation_inputs(
    ids: list[str], sequences: Sequence[str], vectors: np.ndarray, identity_bins: Sequence[float], min_bin_pairs: int
) -> list[float]:
    """The sorted identity bin edges; ValueError/InputError for inputs the correlation cannot take."""
    if len(ids) != len(sequences) or len(ids) != len(vectors):
        raise ValueError("ids, sequences and vectors must have the same length")
    if len(ids) < 2:
        raise ValueError("the correlation needs at least 2 proteins")
    edges = sorted(float(e) for e in identity_bins)
    if any(not 0 < e < 1 for e in edges):
        raise ValueError("identity bin edges must lie strictly between 0 and 1")
    if len(set(edges)) != len(edges):
        raise ValueError("identity bin edges must be distinct (a repeated edge makes an empty bin)")
    if min_bin_pairs < 0:
        raise ValueError("min_bin_pairs must not be negative")
    norms = np.linalg.norm(vectors, axis=1)
    if not np.all(norms > 0):
        raise InputError(
            "zero embedding vector: cosine similarity undefined", protein_id=ids[int(np.argmin(norms > 0))]
        )
    return edges


def alignment_correlation(
    ids: Sequence[str],
    sequences: Sequence[str],
    vectors: ArrayLike,
    *,
    identity_bins: Sequence[float] = (0.3,),
    threads: int = 1,
    progress: bool = False,
    alignment_cache: str | os.PathLike | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    min_bin_pairs: int = MIN_BIN_PAIRS,
) -> AlignmentCorrelation:
    """Correlations over all pairs of the given proteins (their sequences and embedding vectors, in order).

    Identity bins with fewer than ``min_bin_pairs`` pairs get NaN correlations and ``too_few_pairs``.

    With ``alignment_cache`` (a file path), the alignments are saved there, and in blocks of
    ``block_rows`` rows while they run, so that a second or interrupted run reuses them."""
    ids = list(ids)
    vectors = np.asarray(vectors, dtype=np.float64)
    edges = check_correlation_inputs(ids, sequences, vectors, identity_bins, min_bin_pairs)
    parameters = {
        "matrix": MATRIX,
        "gap_open": GAP_OPEN,
        "gap_extend": GAP_EXTEND,
        "identity_bins": edges,
        "min_bin_pairs": min_bin_pairs,
        "end_gaps": "penalised as inner gaps",
        "identity": "matches / alignment columns including gaps",
    }
    sequences, replaced = _to_matrix_alphabet(sequences)
    parameters["letters_aligned_as_X"] = replaced
    aligned = aligned_pairs(
        sequences,
        matrix=MATRIX,
        gap_open=GAP_OPEN,
        gap_extend=GAP_EXTEND,
        identities=True,
        threads=threads,
        cache=alignment_cache,
        key=_cache_key(ids, sequences),
        block_rows=block_rows,
        progress=progress,
    )
    score, identity = aligned.score, aligned.identity
    if identity is None:  # asked for above; a cache without identities is not reused
        raise RuntimeError("internal error: the alignment came back without identities")
    cosine, sqeuclid = embedding_pair_metrics(vectors)
    pairs = {"score": score, "identity": identity, "cosine_similarity": cosine, "squared_euclidean": sqeuclid}
    pearson, spearman = (_expand(m) for m in correlation_matrices(pairs))
    bins = identity_bins_table(pairs, identity, edges, min_bin_pairs)
    return AlignmentCorrelation(ids, pearson, spearman, bins, parameters, pairs)


def identity_bins_table(
    pairs: dict[str, np.ndarray], identity: np.ndarray, edges: list[float], min_bin_pairs: int
) -> list[dict[str, Any]]:
    """Pearson and Spearman correlations of the pair variables within each identity bin (NaN under
    ``min_bin_pairs`` pairs, flagged ``too_few_pairs``)."""
    bins: list[dict[str, Any]] = []
    bounds = [0.0, *edges, 1.0] if edges else []
    for low, high in zip(bounds[:-1], bounds[1:]):
        mask = (identity >= low) & ((identity < high) if high < 1.0 else (identity <= high))
        n_bin = int(mask.sum())
        too_few = n_bin < min_bin_pairs
        if too_few:
            p = np.full((len(VARIABLES), len(VARIABLES)), np.nan)
            s = p.copy()
        else:
            p, s = (_expand(m) for m in correlation_matrices({k: v[mask] for k, v in pairs.items()}))
        label = f"[{low:g}, {high:g}{']' if high == 1.0 else ')'}"
        bins.append(
            {
                "bin": label,
                "low": low,
                "high": high,
                "n_pairs": n_bin,
                "too_few_pairs": too_few,
                "pearson": p,
                "spearman": s,
            }
        )
    return bins


def _to_matrix_alphabet(sequences: Sequence[str]) -> tuple[list[str], dict[str, int]]:
    """Sequences with letters outside PAM250's alphabet (U, O) written as X; counts of the replaced letters."""
    import scoring_matrices

    alphabet = set(scoring_matrices.ScoringMatrix.from_name(MATRIX).alphabet) - {"*"}
    replaced: dict[str, int] = {}
    out = []
    for seq in sequences:
        seq = str(seq).upper()
        extra = set(seq) - alphabet
        for letter in sorted(extra):
            replaced[letter] = replaced.get(letter, 0) + seq.count(letter)
            seq = seq.replace(letter, "X")
        out.append(seq)
    return out, replaced


def _cache_key(ids: list[str], sequences: Sequence[str]) -> str:
    """SHA-256 of the sampled IDs, their sequences and the scoring: what the alignment stats depend on."""
    digest = hashlib.sha256(f"{MATRIX} {GAP_OPEN} {GAP_EXTEND}\n".encode())
    for pid, seq in zip(ids, sequences):
        digest.update(f"{pid}\t{seq}\n".encode())
    return digest.hexdigest()


def run_alignment_correlation(
    sequence_path: str | os.PathLike,
    embedding_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    fraction: float | None = 0.01,
    count: int | None = None,
    seed: int = 0,
    identity_bins: Sequence[float] = (0.3,),
    threads: int = 1,
    progress: bool = False,
    plots: bool = True,
    min_bin_pairs: int = MIN_BIN_PAIRS,
    subtitle: str | None = None,
) -> AlignmentCorrelation:
    """Sample proteins present in both files, correlate, write OUT/correlations.json, pearson.tsv,
    spearman.tsv, by_identity.tsv, proteins.txt, hexbin PNGs and alignment.npz; returns the result.

    The alignments are kept in OUT.parts/ (see the module docstring) until the set is moved into OUT
    together, so a failure leaves OUT as it was and a rerun resumes from them.

    Identity bins of fewer than ``min_bin_pairs`` pairs get NaN correlations (see
    :attr:`AlignmentCorrelation.small_bins`). ``subtitle``: the plots' subtitle; None names the
    embedding file (and its embedder, when the file says) and the sequence file."""
    from hvppi.geometry.readers import open_embeddings
    from hvppi.io.sequences import read_sequences

    with output_lock(out_dir):
        sequences = read_sequences(sequence_path)
        with open_embeddings(embedding_path) as reader:
            embedded = reader.ids()
            common = [pid for pid in embedded if pid in sequences]
            if len(common) < 2:
                raise InputError(
                    f"only {len(common)} of the file's {len(embedded)} proteins have a sequence in {sequence_path}",
                    embedding_path,
                )
            chosen = sample_proteins(common, fraction=None if count else fraction, count=count, seed=seed)
            ids, vectors = reader.protein_vectors(chosen)
            embedder = reader.info.embedder
        out = Path(out_dir)
        parts = out.with_name(out.name + ".parts")
        cache = _resumable_cache(out, parts)
        try:
            result = alignment_correlation(
                ids,
                [sequences[i] for i in ids],
                vectors,
                identity_bins=identity_bins,
                threads=threads,
                progress=progress,
                alignment_cache=cache,
                min_bin_pairs=min_bin_pairs,
            )
        except InputError as exc:
            if exc.path is None:
                raise InputError(exc.reason, embedding_path, protein_id=exc.protein_id) from None
            raise
        result.parameters.update(
            {
                "fraction": None if count else fraction,
                "count": count,
                "seed": seed,
                "proteins_with_both": len(common),
                "sequences": str(sequence_path),
                "embeddings": str(embedding_path),
            }
        )
        if subtitle is None:
            subtitle = plot_subtitle(embedding_path, sequence_path, embedder)
        write_alignment_correlation(result, out, plots=plots, subtitle=subtitle, alignment=cache)
        shutil.rmtree(parts, ignore_errors=True)
        return result


def _resumable_cache(out: Path, parts: Path) -> Path:
    """Where a run keeps its alignments until its set is written: PARTS/alignment.npz, started from a finished
    run's OUT/alignment.npz when PARTS holds none (the key inside says whether it is of the same sample)."""
    cache = parts / ALIGNMENT_FILE
    previous = out / ALIGNMENT_FILE
    if not cache.exists() and previous.is_file():
        _place(previous, cache)
    return cache


def _place(source: Path, target: Path) -> None:
    """``source`` also at ``target``, written atomically: a hard link where the file system allows (the caches
    are replaced, never changed in place), else a copy."""
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


def plot_subtitle(
    embedding_path: str | os.PathLike, sequence_path: str | os.PathLike, embedder: str | None = None
) -> str:
    """The hexbin plots' subtitle: the embedding file (with its embedder, the model, when known) and the
    sequence file."""
    model = f" ({embedder})" if embedder else ""
    return f"embeddings {Path(embedding_path).name}{model}, sequences {Path(sequence_path).name}"


def _matrix_tsv(m: np.ndarray) -> str:
    lines = ["variable\t" + "\t".join(VARIABLES)]
    for name, row in zip(VARIABLES, m):
        lines.append(name + "\t" + "\t".join("nan" if not np.isfinite(x) else f"{x:.6f}" for x in row))
    return "\n".join(lines) + "\n"


def write_alignment_correlation(
    result: AlignmentCorrelation,
    out_dir: str | os.PathLike,
    plots: bool = True,
    subtitle: str | None = None,
    alignment: str | os.PathLike | None = None,
) -> None:
    """Write correlations.json, pearson.tsv, spearman.tsv, by_identity.tsv, proteins.txt and (with
    ``plots``) the hexbin PNGs into ``out_dir``. by_identity.tsv has a ``pairs`` column (pairs in the
    bin) and ``nan`` correlations for bins of too few pairs. ``subtitle``: the plots' subtitle (None:
    the embedding and sequence files of ``result.parameters``, when it names them). ``alignment``: an
    alignment cache (of :func:`alignment_correlation`) to put in the set as alignment.npz.

    The files are written into a staging folder and moved in together: a failure leaves the previous
    set (or none), never part of a new one beside older files."""
    with staged_directory(out_dir) as out:
        if alignment is not None:
            _place(Path(alignment), out / ALIGNMENT_FILE)
        with atomic_write(out / "correlations.json") as fh:
            json.dump(result.to_dict(), fh, indent=2)
        for name in ("pearson", "spearman"):
            with atomic_write(out / f"{name}.tsv") as fh:
                fh.write(_matrix_tsv(getattr(result, name)))
        with atomic_write(out / "by_identity.tsv") as fh:
            fh.write("identity_bin\tpairs\tmethod\tvariable\t" + "\t".join(VARIABLES) + "\n")
            for b in result.bins:
                for method in ("pearson", "spearman"):
                    for name, row in zip(VARIABLES, b[method]):
                        values = "\t".join("nan" if not np.isfinite(x) else f"{x:.6f}" for x in row)
                        fh.write(f"{b['bin']}\t{b['n_pairs']}\t{method}\t{name}\t{values}\n")
        with atomic_write(out / "proteins.txt") as fh:
            fh.write("".join(f"{pid}\n" for pid in result.ids))
        if plots and result.pairs:
            _write_hexbins(result, out, subtitle)


def _write_hexbins(result: AlignmentCorrelation, out: Path, subtitle: str | None) -> None:
    """The four hexbin PNGs (alignment score and identity against cosine similarity and squared Euclidean
    distance); ``subtitle`` None names the files of ``result.parameters``."""
    from hvppi.geometry.plots import hexbin_plot

    if subtitle is None:
        embeddings, sequences = result.parameters.get("embeddings"), result.parameters.get("sequences")
        subtitle = plot_subtitle(embeddings, sequences) if embeddings and sequences else ""
    for x in ("score", "identity"):
        for y in ("cosine_similarity", "squared_euclidean"):
            i, j = VARIABLES.index(x), VARIABLES.index(y)
            title = (
                f"{result.n_pairs:,} pairs: Pearson {result.pearson[i, j]:+.3f}, Spearman {result.spearman[i, j]:+.3f}"
            )
            hexbin_plot(
                out / f"hexbin_{x}_vs_{y}.png",
                result.pairs[x],
                result.pairs[y],
                LABELS[x],
                LABELS[y],
                title,
                subtitle=subtitle,
            )

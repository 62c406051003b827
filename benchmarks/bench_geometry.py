"""Embedding-geometry speed: IsoScore against the reference package, and the whole alignment-correlation study.

1. IsoScore of a 10,000 × 1,024 float64 embedding set (anisotropic Gaussian): the reference ``IsoScore``
   package (2.0.1: torch covariance and singular values) against hvppi's closed form through the
   streaming float64 accumulator (which also gives IsoScore*, the average cosine and the Ledoit–Wolf
   intensity), best of ``--repeats``, both on all CPUs and then both on one thread. Prints both times
   and the difference of the values (goal: ≥ 10× faster, equal to 1e-6). Both need the d × d
   covariance product, O(m·d²), which bounds the speed-up: the reference adds a torch covariance and an
   SVD, hvppi only the trace and Frobenius norm.
2. ``hvppi geometry align-corr`` end to end on ``--proteins`` proteins (default 3,578: 6.4 million
   pairs, as the paper) sampled from the LSTM-PHV benchmark's ``pro_seq.txt``, with mean-pooled Guo
   2008 7-property features as the embedding (hvppi makes them offline): reading, sampling, PAM250
   global alignments on ``--threads`` threads, embedding metrics, Pearson and Spearman matrices, identity
   bins and the hexbin PNGs. Prints wall time, CPU time (what the run needs on a machine shared with other
   work) and peak resident memory (goal: under 10 minutes on 2 cores).

Last line ``ratio: X``: reference IsoScore time ÷ hvppi's, one thread each. Run from the repository root:

    python benchmarks/bench_geometry.py [--proteins 3578] [--threads 2] [--repeats 3] [--skip-study]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lstm-phv-benchmark"


def best_time(fn, repeats: int):
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def isoscore_speed(X: np.ndarray, threads: int, repeats: int) -> float:
    """Best-of-``repeats`` times of the reference and of hvppi, both limited to ``threads`` BLAS/torch threads."""
    from IsoScore import IsoScore as reference

    from hvppi.geometry.isotropy import IsotropyAccumulator

    torch.set_num_threads(threads)
    with threadpool_limits(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference's NumPy 2 deprecation warning
        t_ref, ref = best_time(lambda: float(reference.IsoScore(X)), repeats)
        t_ours, ours = best_time(lambda: IsotropyAccumulator().update(X).result().isoscore, repeats)
    print(
        f"IsoScore 10,000 x 1,024 float64, {threads} thread(s): reference IsoScore 2.0.1 {t_ref:.3f} s ({ref:.9f}); "
        f"hvppi closed form {t_ours:.3f} s ({ours:.9f}); |difference| {abs(ref - ours):.2e}; "
        f"speed-up {t_ref / t_ours:.1f}x"
    )
    return t_ref / t_ours


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def correlation_study(n_proteins: int, threads: int) -> None:
    from hvppi.geometry.align_corr import VARIABLES, run_alignment_correlation
    from hvppi.io.sequences import read_sequences
    from hvppi.pretrained.embed import embed_sequences
    from hvppi.registry.embedders import load_embedder

    sequences = read_sequences(DATA / "pro_seq.txt")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        embeddings = Path(tmp) / "guo7.h5"
        embed_sequences(sequences, load_embedder("hvppi-features"), embeddings, progress=False)
        t_embed = time.perf_counter() - start
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        result = run_alignment_correlation(
            DATA / "pro_seq.txt",
            embeddings,
            Path(tmp) / "out",
            count=n_proteins,
            seed=0,
            threads=threads,
            progress=False,
        )
        t_study, cpu_study = time.perf_counter() - start, _cpu_seconds() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    i, j, k = (VARIABLES.index(v) for v in ("score", "cosine_similarity", "squared_euclidean"))
    print(f"embedding {len(sequences):,} proteins (mean-pooled 7 properties): {t_embed:.1f} s")
    print(
        f"alignment correlation, {n_proteins:,} proteins = {result.n_pairs:,} pairs, {threads} thread(s): "
        f"{t_study:.1f} s ({t_study / 60:.2f} min; goal < 10 min); CPU time {cpu_study:.0f} s (on an idle machine "
        f"at least {cpu_study / threads / 60:.2f} min on {threads} cores); peak resident memory {peak:,.0f} MB"
    )
    print(
        f"  score vs cosine similarity: Pearson {result.pearson[i, j]:+.3f}, Spearman {result.spearman[i, j]:+.3f}; "
        f"score vs squared Euclidean: Pearson {result.pearson[i, k]:+.3f}, Spearman {result.spearman[i, k]:+.3f}"
    )
    for b in result.bins:
        print(
            f"  identity {b['bin']}: {b['n_pairs']:,} pairs, score vs cosine similarity Pearson "
            f"{b['pearson'][i, j]:+.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proteins", type=int, default=3578, help="proteins of the correlation study (default 3578)")
    parser.add_argument("--threads", type=int, default=2, help="alignment threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="IsoScore timings: best of N (default 3)")
    parser.add_argument("--skip-study", action="store_true", help="only the IsoScore comparison")
    args = parser.parse_args()
    if not args.skip_study:
        with threadpool_limits(1):
            correlation_study(args.proteins, args.threads)
    rng = np.random.default_rng(0)
    d = 1024
    X = rng.standard_normal((10_000, d)) @ (rng.standard_normal((d, d)) * np.linspace(0.05, 1, d))
    isoscore_speed(X, os.cpu_count() or 1, args.repeats)
    ratio = isoscore_speed(X, 1, args.repeats)
    print(f"ratio: {ratio:.1f}")


if __name__ == "__main__":
    main()

"""Smith–Waterman similarities against Biopython's local PairwiseAligner; k-mer cosines against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from Bio.Align import PairwiseAligner, substitution_matrices

from hvppi.align.similarity import kmer_cosine, local_scores, local_similarity, self_scores
from hvppi.io.alphabet import STANDARD_AMINO_ACIDS


def _random_proteins(n: int, seed: int, low: int = 20, high: int = 120) -> list[str]:
    rng = np.random.default_rng(seed)
    out = ["".join(rng.choice(list(STANDARD_AMINO_ACIDS), int(rng.integers(low, high)))) for _ in range(n)]
    mutant = list(out[0])
    for pos in rng.choice(len(mutant), len(mutant) // 5, replace=False):
        mutant[pos] = str(rng.choice(list(STANDARD_AMINO_ACIDS)))
    return [*out, "".join(mutant[:10] + mutant[14:])]  # a mutated copy of the first with a 4-residue deletion


def _biopython_local(a: str, b: str, open_: int = 11, extend: int = 1) -> float:
    aligner = PairwiseAligner(
        mode="local",
        substitution_matrix=substitution_matrices.load("BLOSUM62"),
        open_gap_score=-open_,
        extend_gap_score=-extend,
    )
    return aligner.score(a, b)


def test_local_scores_equal_biopython():
    proteins = _random_proteins(6, seed=1)
    got = local_scores(proteins, proteins, threads=1)
    for i, j in itertools.product(range(len(proteins)), repeat=2):
        assert got[i, j] == _biopython_local(proteins[i], proteins[j]), (i, j)


def test_local_similarity_normalises_by_self_scores():
    proteins = _random_proteins(5, seed=2)
    sim = local_similarity(proteins)
    assert np.allclose(np.diag(sim), 1.0) and np.allclose(sim, sim.T)
    i, j = 0, len(proteins) - 1  # the mutated copy: clearly similar
    expected = _biopython_local(proteins[i], proteins[j]) / math.sqrt(
        _biopython_local(proteins[i], proteins[i]) * _biopython_local(proteins[j], proteins[j])
    )
    assert sim[i, j] == pytest.approx(expected, rel=1e-6)
    assert sim[i, j] > 0.5 > sim[1, 2]


def test_self_scores_are_the_diagonal_sums():
    proteins = _random_proteins(4, seed=3)
    assert self_scores(proteins).tolist() == [_biopython_local(p, p) for p in proteins]


def test_kmer_cosine_brute_force():
    proteins = _random_proteins(4, seed=4, low=8, high=30) + ["MKXXMK"]
    got = kmer_cosine(proteins, k=2)

    def counts(s):
        c = {}
        for t in range(len(s) - 1):
            if set(s[t : t + 2]) <= set(STANDARD_AMINO_ACIDS):
                c[s[t : t + 2]] = c.get(s[t : t + 2], 0) + 1
        return c

    for a, b in itertools.product(range(len(proteins)), repeat=2):
        ca, cb = counts(proteins[a]), counts(proteins[b])
        dot = sum(v * cb.get(key, 0) for key, v in ca.items())
        norm = math.sqrt(sum(v * v for v in ca.values()) * sum(v * v for v in cb.values()))
        assert got[a, b] == pytest.approx(dot / norm, abs=1e-6)

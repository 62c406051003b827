"""The pieces of scripts/isotropy_vs_accuracy.py that make its numbers, checked on small random data."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "isotropy_vs_accuracy.py"
spec = importlib.util.spec_from_file_location("isotropy_vs_accuracy", SCRIPT)
assert spec is not None and spec.loader is not None
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def test_whitening_makes_the_fitted_rows_isotropic_and_drops_flat_directions():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(500, 4)) * np.array([10.0, 3.0, 1.0, 0.1])
    vectors = np.concatenate([base, base[:, :1] * 2.0], axis=1)  # a fifth, dependent column
    fit = np.arange(400)
    white = study.whiten(vectors, fit)
    assert white.shape == (500, 4)
    np.testing.assert_allclose(np.cov(white[fit], rowvar=False), np.eye(4), atol=1e-4)
    np.testing.assert_allclose(white[fit].mean(axis=0), 0.0, atol=1e-4)


def test_transfer_score_is_the_best_cosine_to_a_training_partner():
    rng = np.random.default_rng(1)
    virus = rng.normal(size=(6, 3))
    pairs = np.array([[2, 0], [3, 0], [3, 1], [4, 2], [0, 1]])  # viral, human; viral 0 is held out
    held_out, training = np.array([0, 1]), np.array([2, 3, 4, 5])
    scores = study.transfer_scores(virus, held_out, training, pairs, n_human=4)
    unit = virus / np.linalg.norm(virus, axis=1, keepdims=True)
    for row, v in enumerate(held_out):
        for h in range(4):
            partners = [p for p, q in pairs if q == h and p in training]
            expected = max((unit[v] @ unit[p] for p in partners), default=-2.0)
            assert abs(scores[row, h] - expected) < 1e-12


def test_training_pairs_draw_negatives_outside_the_known_partners():
    data = SimpleNamespace(
        human_ids=[f"H{i}" for i in range(30)],
        virus_ids=["V0", "V1", "V2"],
        pairs=np.array([[0, 1], [0, 2], [1, 5], [2, 7]]),
    )
    table = study.training_pairs(data, np.array([0, 1]), seed=0)
    rows = list(zip(table.human_ids, table.virus_ids, table.labels.tolist()))
    assert sorted(r for r in rows if r[2] == 1) == [("H1", "V0", 1), ("H2", "V0", 1), ("H5", "V1", 1)]
    negatives = [r for r in rows if r[2] == 0]
    assert len(negatives) == study.NEGATIVES_PER_POSITIVE * 3
    assert not any((h, v) in {("H1", "V0"), ("H2", "V0"), ("H5", "V1")} for h, v, _ in negatives)
    assert all(v != "V2" for _, v, _ in rows)

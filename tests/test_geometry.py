"""Isotropy metrics (hvppi.geometry.isotropy) against the reference IsoScore package, scikit-learn and brute force."""

import numpy as np
import pytest
from IsoScore import IsoScore as reference
from sklearn.covariance import LedoitWolf, ledoit_wolf_shrinkage

from hvppi.geometry.isotropy import IsotropyAccumulator, isotropy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the reference package on NumPy 2


def anisotropic(rng, m, d, offset=3.0):
    return rng.standard_normal((m, d)) @ rng.standard_normal((d, d)) + offset


def low_rank(rng, m=2000, d=1024, rank=3, noise=1e-3):
    basis, _ = np.linalg.qr(rng.standard_normal((d, rank)))
    return rng.standard_normal((m, rank)) @ basis.T + noise * rng.standard_normal((m, d))


def reference_star(X):
    d = X.shape[1]
    c0 = np.trace(np.cov(X.T)) / d * np.eye(d)
    return float(reference.IsoScore_star(X, c0, LedoitWolf().fit(X).shrinkage_))


@pytest.mark.parametrize("shape", [(500, 20), (300, 64), (40, 120)])
def test_isoscore_and_isoscore_star_match_the_reference_package(rng, shape):
    X = anisotropic(rng, *shape)
    result = isotropy(X)
    assert result.isoscore == pytest.approx(float(reference.IsoScore(X)), abs=1e-6)
    assert result.isoscore_star == pytest.approx(reference_star(X), abs=1e-6)
    assert result.shrinkage == pytest.approx(ledoit_wolf_shrinkage(X), rel=1e-9, abs=1e-15)
    assert result.effective_dims == pytest.approx(result.participation_ratio, rel=1e-12)
    eigenvalues = np.linalg.eigvalsh(np.cov(X.T))
    assert result.participation_ratio == pytest.approx(eigenvalues.sum() ** 2 / (eigenvalues**2).sum(), rel=1e-9)


def test_low_rank_data_has_about_three_effective_dimensions(rng):
    X = low_rank(rng)
    result = isotropy(X)
    assert result.isoscore == pytest.approx(float(reference.IsoScore(X)), abs=1e-6)
    assert 2.8 < result.effective_dims <= 3.0
    assert result.effective_dims_ceil == 3


def test_fewer_points_than_dimensions(rng):
    """Reference IsoScore 1.x failed for m < d (its PCA step); 2.0.1 works and agrees with the closed form.
    The sample covariance then has rank ≤ m − 1, which bounds IsoScore; shrinkage lifts IsoScore*."""
    m, d = 30, 200
    X = rng.standard_normal((m, d))  # isotropic in truth
    result = isotropy(X)
    assert result.isoscore == pytest.approx(float(reference.IsoScore(X)), abs=1e-6)
    assert result.isoscore <= (m - 2) / (d - 1) + 1e-12
    assert result.isoscore_star == pytest.approx(reference_star(X), abs=1e-6)
    assert result.shrinkage > 0.5
    assert result.isoscore_star > 5 * result.isoscore


def test_isotropic_gaussian_scores_near_one(rng):
    result = isotropy(rng.standard_normal((20000, 8)))
    assert result.isoscore > 0.99
    assert result.effective_dims_ceil == 8
    assert abs(result.avg_cosine) < 1e-3


def test_average_cosine_matches_brute_force(rng):
    X = anisotropic(rng, 60, 5, offset=0.5)
    X[7] = 0.0
    unit = X / np.linalg.norm(X, axis=1, keepdims=True).clip(1e-300)
    keep = np.linalg.norm(X, axis=1) > 0
    cos = unit[keep] @ unit[keep].T
    m = keep.sum()
    brute = (cos.sum() - np.trace(cos)) / (m * (m - 1))
    result = isotropy(X)
    assert result.zero_vectors == 1
    assert result.avg_cosine == pytest.approx(brute, rel=1e-12)


def test_streaming_chunks_equal_one_batch(rng):
    X = anisotropic(rng, 1000, 16, offset=50.0)
    whole = isotropy(X)
    for sizes in ([1] * 10 + [990], [333, 333, 334], [999, 1]):
        acc = IsotropyAccumulator()
        for chunk in np.split(X, np.cumsum(sizes)[:-1]):
            acc.update(chunk)
        part = acc.result()
        for key, value in whole.to_dict().items():
            assert getattr(part, key) == pytest.approx(value, rel=1e-10, abs=1e-12), key


def test_merged_accumulators_equal_the_whole(rng):
    X = anisotropic(rng, 900, 12, offset=-20.0)
    X[::50] = 0.0
    parts = [IsotropyAccumulator().update(c) for c in np.array_split(X, 4)]
    merged = IsotropyAccumulator()
    for p in [IsotropyAccumulator()] + parts[::-1]:
        merged.merge(p)
    whole = IsotropyAccumulator().update(X)
    np.testing.assert_allclose(merged.comoment, whole.comoment, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(merged.norm2_weighted, whole.norm2_weighted, rtol=1e-9, atol=1e-6)
    assert merged.norm4 == pytest.approx(whole.norm4, rel=1e-10)
    a, b = merged.result(), whole.result()
    assert (a.n, a.zero_vectors) == (b.n, b.zero_vectors) == (900, 18)
    for key in ("avg_cosine", "isoscore", "isoscore_star", "shrinkage"):
        assert getattr(a, key) == pytest.approx(getattr(b, key), rel=1e-10)


def test_float32_input_is_accumulated_in_float64(rng):
    """A large common offset ruins float32 moments; chunks are cast to float64 before any sum."""
    X = (1e4 + rng.standard_normal((4000, 6)) * np.arange(1, 7)).astype(np.float32)
    acc = IsotropyAccumulator()
    for chunk in np.array_split(X, 40):
        acc.update(chunk)
    exact = np.cov(X.astype(np.float64).T)
    np.testing.assert_allclose(acc.covariance(), exact, rtol=1e-9, atol=1e-9)
    naive32 = (X.T @ X / len(X) - np.outer(X.mean(0), X.mean(0))).astype(np.float64)
    assert np.abs(naive32 - exact).max() > 0.5 * np.abs(exact).max()  # what float32 raw moments would give


def test_non_finite_rows_are_errors(rng):
    X = rng.standard_normal((10, 4))
    X[3, 2] = np.nan
    acc = IsotropyAccumulator().update(rng.standard_normal((5, 4)))
    with pytest.raises(ValueError, match=r"point 8 .*NaN or infinite"):
        acc.update(X)
    X[3, 2] = np.inf
    with pytest.raises(ValueError, match="point 3"):
        isotropy(X)


def test_degenerate_sets_are_errors(rng):
    with pytest.raises(ValueError, match="identical"):
        isotropy(np.tile([[0.1, 0.2, 0.3]], (7, 1)))
    with pytest.raises(ValueError, match="d = 1"):
        isotropy(rng.standard_normal((10, 1)))
    with pytest.raises(ValueError, match="at least 2 points"):
        isotropy(rng.standard_normal((1, 5)))
    with pytest.raises(ValueError, match="at least 2 points"):
        IsotropyAccumulator().result()
    with pytest.raises(ValueError, match="2-d"):
        isotropy(np.ones(5))
    acc = IsotropyAccumulator().update(rng.standard_normal((3, 5)))
    with pytest.raises(ValueError, match="4 dimensions, earlier points have 5"):
        acc.update(rng.standard_normal((3, 4)))


def test_all_zero_vectors_leave_the_cosine_undefined_but_not_the_covariance(rng):
    X = np.zeros((6, 3))
    X[0] = [1.0, 2.0, 3.0]
    result = isotropy(X)
    assert result.zero_vectors == 5 and result.avg_cosine is None
    assert result.effective_dims == pytest.approx(1.0)

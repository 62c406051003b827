"""Isotropy of an embedding set X (m points × d dimensions), in one streaming, mergeable pass.

The metrics of Hakim, Roy & Rahman (2025), "A Look at the Isotropy of Pretrained Protein Language
Models", computed in closed form from float64 moments (numpy only, nothing of any model):

* average cosine similarity over all pairs i ≠ j, exact: with unit vectors u_i it is
  (‖Σu_i‖² − m) / (m(m − 1));
* participation ratio PR = (tr C)² / ‖C‖²_F of the covariance C;
* IsoScore (Rudman et al. 2022) = (PR − 1)/(d − 1); it equals the reference ``IsoScore`` package's
  value, whose formula through the singular values of C reduces to this one;
* effective dimensions = IsoScore·(d − 1) + 1 (= PR), raw and rounded up as the paper reports them;
* IsoScore* = the IsoScore of the shrunk covariance (1 − s)·C + s·(tr C/d)·I, with s the
  Ledoit–Wolf optimal shrinkage intensity (the target (tr C/d)·I keeps it scale-invariant; s agrees
  with ``sklearn.covariance.LedoitWolf``). It matters when m is not much larger than d: with m ≤ d
  the sample covariance has rank < m and IsoScore is bounded by (m − 2)/(d − 1).

:class:`IsotropyAccumulator` keeps, per pass, the count, mean, co-moment matrix Σ(x − x̄)(x − x̄)ᵀ,
Σ‖x − x̄‖²(x − x̄) and Σ‖x − x̄‖⁴ (the last two give the Ledoit–Wolf intensity), all centred and
merged exactly with the pairwise update of Chan et al.; chunks are cast to float64 one at a time,
so float32 input never accumulates in float32.

Bad input: a row with NaN or ±inf is an error naming the row; d = 1 and fewer than 2 points are
errors; data whose points are all identical (C = 0) is an error. A zero vector is a valid point of
the covariance but has no direction: it is left out of the average cosine and counted in
``zero_vectors``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class IsotropyResult:
    """Isotropy metrics of one embedding set; ``to_dict()`` gives plain JSON-ready values."""

    n: int
    d: int
    avg_cosine: float | None
    zero_vectors: int
    participation_ratio: float
    isoscore: float
    effective_dims: float
    effective_dims_ceil: int
    isoscore_star: float
    effective_dims_star: float
    shrinkage: float
    total_variance: float

    def to_dict(self) -> dict:
        return asdict(self)


class IsotropyAccumulator:
    """Streaming, mergeable float64 moments of an embedding set.

    >>> import numpy as np
    >>> chunks = np.array_split(np.random.default_rng(0).standard_normal((1000, 4)), 3)
    >>> acc = IsotropyAccumulator()
    >>> for chunk in chunks:          # (rows, d) arrays, any float dtype
    ...     _ = acc.update(chunk)
    >>> result = acc.result()
    >>> result.n, result.isoscore > 0.9
    (1000, True)

    ``merge(other)`` adds another accumulator's points exactly (e.g. from parallel workers).
    """

    def __init__(self, d: int | None = None) -> None:
        self.d: int | None = None
        self.n = 0
        self.zero_vectors = 0
        if d is not None:
            self._allocate(d)

    def _allocate(self, d: int) -> None:
        if d < 2:
            raise ValueError(f"d = {d}: isotropy needs at least 2 dimensions")
        self.d = d
        self.mean = np.zeros(d)
        self.comoment = np.zeros((d, d))
        self.norm2_weighted = np.zeros(d)  # Σ‖z‖² z, z = x − mean
        self.norm4 = 0.0  # Σ‖z‖⁴
        self.unit_sum = np.zeros(d)
        self.minimum = np.full(d, np.inf)
        self.maximum = np.full(d, -np.inf)

    def _dims(self) -> int:
        """The dimension; ValueError while the accumulator holds no points."""
        if self.d is None:
            raise ValueError("the accumulator holds no points yet")
        return self.d

    def update(self, X: ArrayLike) -> IsotropyAccumulator:
        """Add the rows of X (shape (rows, d)); returns self."""
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"expected a 2-d array (points × dimensions), got shape {X.shape}")
        if self.d is None:
            self._allocate(X.shape[1])
        elif X.shape[1] != self.d:
            raise ValueError(f"chunk has {X.shape[1]} dimensions, earlier points have {self.d}")
        if X.shape[0] == 0:
            return self
        X = X.astype(np.float64, copy=False)
        finite = np.isfinite(X).all(axis=1)
        if not finite.all():
            row = int(np.argmin(finite))
            raise ValueError(f"point {self.n + row} (0-based) has a NaN or infinite value")
        chunk = IsotropyAccumulator()
        chunk._allocate(self._dims())
        chunk.n = X.shape[0]
        chunk.mean = X.mean(axis=0)
        Z = X - chunk.mean
        chunk.comoment = Z.T @ Z
        sq = np.einsum("ij,ij->i", Z, Z)
        chunk.norm2_weighted = sq @ Z
        chunk.norm4 = float(sq @ sq)
        norms = np.sqrt(np.einsum("ij,ij->i", X, X))
        nonzero = norms > 0
        chunk.zero_vectors = int(X.shape[0] - nonzero.sum())
        chunk.unit_sum = np.divide(1.0, norms, out=np.zeros_like(norms), where=nonzero) @ X
        chunk.minimum = X.min(axis=0)
        chunk.maximum = X.max(axis=0)
        return self.merge(chunk)

    def merge(self, other: IsotropyAccumulator) -> IsotropyAccumulator:
        """Add the points of ``other`` (exact, Chan et al.); returns self."""
        if other.n == 0:
            return self
        if self.d is not None and other.d != self.d:
            raise ValueError(f"cannot merge accumulators of {self.d} and {other.d} dimensions")
        if self.n == 0:
            self._allocate(other._dims())
        d = self._dims()
        n = self.n + other.n
        mean = self.mean + (other.mean - self.mean) * (other.n / n)
        comoment = np.zeros((d, d))
        norm2_weighted = np.zeros(d)
        norm4 = 0.0
        for part in (self, other):
            if part.n == 0:
                continue
            delta = part.mean - mean
            c = float(delta @ delta)
            trace = float(np.trace(part.comoment))
            m_delta = part.comoment @ delta
            norm4 += (
                part.norm4
                + 4 * float(delta @ m_delta)
                + part.n * c * c
                + 4 * float(delta @ part.norm2_weighted)
                + 2 * c * trace
            )
            norm2_weighted += part.norm2_weighted + trace * delta + 2 * m_delta + part.n * c * delta
            comoment += part.comoment + part.n * np.outer(delta, delta)
        self.n, self.mean, self.comoment = n, mean, comoment
        self.norm2_weighted, self.norm4 = norm2_weighted, norm4
        self.zero_vectors += other.zero_vectors
        self.unit_sum = self.unit_sum + other.unit_sum
        self.minimum = np.minimum(self.minimum, other.minimum)
        self.maximum = np.maximum(self.maximum, other.maximum)
        return self

    def covariance(self) -> np.ndarray:
        """The sample covariance (divided by n − 1, as ``numpy.cov``)."""
        if self.n < 2:
            raise ValueError(f"{self.n} point(s): a covariance needs at least 2")
        return self.comoment / (self.n - 1)

    def ledoit_wolf_shrinkage(self) -> float:
        """Ledoit–Wolf optimal intensity toward (tr C/d)·I, as ``sklearn.covariance.ledoit_wolf_shrinkage``."""
        n, d = self.n, self._dims()
        trace = float(np.trace(self.comoment))
        mu = trace / (n * d)
        delta_ = float(np.sum(self.comoment**2)) / n**2
        beta = (self.norm4 / n - delta_) / (d * n)
        delta = (delta_ - 2 * mu * trace / n + d * mu**2) / d
        beta = min(beta, delta)
        return 0.0 if beta <= 0 else beta / delta

    def result(self) -> IsotropyResult:
        if self.d is None or self.n < 2:
            raise ValueError(f"{self.n} point(s): isotropy needs at least 2 points")
        if np.array_equal(self.minimum, self.maximum):
            raise ValueError(f"all {self.n} points are identical: the covariance is zero and IsoScore undefined")
        d, n = self.d, self.n
        trace = float(np.trace(self.comoment))
        frobenius2 = float(np.sum(self.comoment**2))
        pr = trace**2 / frobenius2
        isoscore = (pr - 1) / (d - 1)
        effective = isoscore * (d - 1) + 1
        s = self.ledoit_wolf_shrinkage()
        # ‖(1 − s)E + s(tr E/d)I‖²_F with E = comoment/n, in units of the comoment
        shrunk2 = (1 - s) ** 2 * frobenius2 + 2 * s * (1 - s) * trace**2 / d + s**2 * trace**2 / d
        pr_star = trace**2 / shrunk2
        isoscore_star = (pr_star - 1) / (d - 1)
        m = n - self.zero_vectors
        avg_cosine = (float(self.unit_sum @ self.unit_sum) - m) / (m * (m - 1)) if m >= 2 else None
        return IsotropyResult(
            n=n,
            d=d,
            avg_cosine=avg_cosine,
            zero_vectors=self.zero_vectors,
            participation_ratio=pr,
            isoscore=isoscore,
            effective_dims=effective,
            effective_dims_ceil=_ceil(effective),
            isoscore_star=isoscore_star,
            effective_dims_star=isoscore_star * (d - 1) + 1,
            shrinkage=s,
            total_variance=trace / (n - 1),
        )


def _ceil(x: float) -> int:
    """Round up, forgiving a relative 1e-9 of rounding error (3.0000000000000004 is 3 effective dimensions)."""
    return int(math.ceil(x - 1e-9 * max(1.0, abs(x))))


def isotropy(X: ArrayLike) -> IsotropyResult:
    """Isotropy metrics of the rows of X in one call."""
    return IsotropyAccumulator().update(X).result()

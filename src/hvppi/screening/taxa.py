"""The virus (NCBI taxon) and family of viral proteins, as inputs of the screening model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ViralTaxa:
    """NCBI taxon and virus family of some viral proteins, ``None`` where unknown.

    >>> ViralTaxa.unknown(2).taxa
    [None, None]
    """

    taxa: list[str | None]
    families: list[str | None]

    def __post_init__(self) -> None:
        if len(self.taxa) != len(self.families):
            raise ValueError("taxa and families differ in length")

    @classmethod
    def unknown(cls, n: int) -> ViralTaxa:
        return cls([None] * n, [None] * n)

    def __len__(self) -> int:
        return len(self.taxa)

    def take(self, index: Sequence[int] | np.ndarray) -> ViralTaxa:
        return ViralTaxa([self.taxa[int(i)] for i in index], [self.families[int(i)] for i in index])

    def known(self) -> int:
        return sum(t is not None for t in self.taxa)


def same_group(queries: Sequence[str | None], references: Sequence[str | None]) -> np.ndarray:
    """(n_queries, n_references) float32: 1 where both are known and equal."""
    codes: dict[str, int] = {}
    query = np.array([codes.setdefault(q, len(codes)) if q is not None else -1 for q in queries], dtype=np.int64)
    reference = np.array([codes.get(r, -2) if r is not None else -2 for r in references], dtype=np.int64)
    return (query[:, None] == reference[None, :]).astype(np.float32)

"""A sequence-blind baseline: score a pair by how often its two proteins are positive in training.

score(h, v) = r(h) · r(v), with r(p) = (positives(p) + a·π) / (pairs(p) + a), where π is the
positive share of the training pairs and a = 1 a pseudo-count; a protein unseen in training gets
r = π. The rates of human and viral proteins are counted separately. A model that scores no
better than this on a split has not shown that it learned anything from sequences.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from hvppi.io.pairs import PairTable


class FrequencyBaseline:
    def __init__(self, pseudo_count: float = 1.0) -> None:
        self.pseudo_count = pseudo_count

    def fit(self, pairs: PairTable) -> FrequencyBaseline:
        labels = pairs.require_both_classes("baseline training pairs").astype(int)
        self.prior_ = float(labels.mean())
        self.human_ = self._counts(pairs.human_ids, labels)
        self.virus_ = self._counts(pairs.virus_ids, labels)
        return self

    @staticmethod
    def _counts(ids, labels) -> dict[str, tuple[int, int]]:
        total, positive = Counter(ids), Counter(pid for pid, y in zip(ids, labels) if y == 1)
        return {pid: (positive[pid], n) for pid, n in total.items()}

    def _rate(self, counts: dict, pid: str) -> float:
        pos, n = counts.get(pid, (0, 0))
        return (pos + self.pseudo_count * self.prior_) / (n + self.pseudo_count)

    def score(self, pairs: PairTable) -> np.ndarray:
        return np.array(
            [self._rate(self.human_, h) * self._rate(self.virus_, v) for h, v in zip(pairs.human_ids, pairs.virus_ids)]
        )

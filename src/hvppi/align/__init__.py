"""Pairwise protein alignment: exact Needleman–Wunsch scores and identities on SIMD kernels, and
all-against-all alignment in resumable, cached row blocks.

Used by the data-set builder (dissimilarity-based negatives) and by geometry (embedding distance
vs alignment score).
"""

from hvppi.align.blocks import PairAlignment, aligned_pairs
from hvppi.align.kernels import all_pairs_scores, all_pairs_stats, biopython_aligner, global_scores, pair_stats

__all__ = [
    "PairAlignment",
    "aligned_pairs",
    "all_pairs_scores",
    "all_pairs_stats",
    "biopython_aligner",
    "global_scores",
    "pair_stats",
]

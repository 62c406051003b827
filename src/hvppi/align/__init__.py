"""Pairwise protein alignment: exact Needleman–Wunsch scores and identities on SIMD kernels.

Used by the data-set builder (dissimilarity-based negatives) and by geometry (embedding distance
vs alignment score).
"""

from hvppi.align.kernels import all_pairs_stats, biopython_aligner, global_scores, pair_stats

__all__ = ["all_pairs_stats", "biopython_aligner", "global_scores", "pair_stats"]

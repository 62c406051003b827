"""Interaction data sets: HPIDB PSI-MITAB, CD-HIT clustering, dissimilarity-based negatives, splits."""

from hvppi.datasets.build import BuildSettings, build_dataset
from hvppi.datasets.clustering import cdhit_clusters
from hvppi.datasets.mitab import read_mitab
from hvppi.datasets.splits import viral_disjoint_split

__all__ = ["BuildSettings", "build_dataset", "cdhit_clusters", "read_mitab", "viral_disjoint_split"]

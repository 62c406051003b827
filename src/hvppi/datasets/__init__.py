"""Interaction data sets: HPIDB PSI-MITAB, CD-HIT clustering, dissimilarity-based negatives, splits, virus taxonomy."""

from hvppi.datasets.build import BuildSettings, build_dataset
from hvppi.datasets.clustering import cdhit_clusters
from hvppi.datasets.mitab import read_mitab
from hvppi.datasets.splits import viral_disjoint_split
from hvppi.datasets.taxonomy import VirusTaxonomy, read_virus_taxonomy

__all__ = [
    "BuildSettings",
    "VirusTaxonomy",
    "build_dataset",
    "cdhit_clusters",
    "read_mitab",
    "read_virus_taxonomy",
    "viral_disjoint_split",
]

"""Geometry of protein embeddings: isotropy, embedding readers, embedders, alignment correlation,
reports and plots.

Reads embeddings from any file (:mod:`hvppi.geometry.readers`); the only way it reaches hvppi's own
predictor is the embedder interface of :mod:`hvppi.pretrained.embed`.
"""

from hvppi.geometry.isotropy import IsotropyAccumulator, IsotropyResult, isotropy
from hvppi.geometry.readers import measure_isotropy, open_embeddings, read_protein_vectors

__all__ = [
    "IsotropyAccumulator",
    "IsotropyResult",
    "isotropy",
    "measure_isotropy",
    "open_embeddings",
    "read_protein_vectors",
]

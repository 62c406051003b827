"""hvppi: sequence-based human–virus protein–protein interaction prediction and protein embedding geometry.

The public API, importable from ``hvppi`` directly (submodules load on first use, so
``import hvppi`` stays fast):

>>> import hvppi
>>> pairs = hvppi.PairTable.from_lists(["P04637"], ["P0DTC2"], [1])
>>> len(pairs), pairs.labels.tolist()
(1, [1])

Subpackages, lowest layer first: :mod:`hvppi.io` (sequences, pairs, files, errors),
:mod:`hvppi.align` (alignment kernels), :mod:`hvppi.datasets` (HPIDB data sets, clustering,
splits), :mod:`hvppi.ppi` (the interaction predictor), :mod:`hvppi.geometry` (embedding
geometry), :mod:`hvppi.cli` (the ``hvppi`` command).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hvppi._version import __version__

_EXPORTS = {
    # io
    "HvppiError": "hvppi.io.errors",
    "InputError": "hvppi.io.errors",
    "ModelFileError": "hvppi.io.errors",
    "PairTable": "hvppi.io.pairs",
    "read_pairs": "hvppi.io.pairs",
    "merge_sequences": "hvppi.io.pairs",
    "read_sequences": "hvppi.io.sequences",
    # align
    "global_scores": "hvppi.align.kernels",
    "all_pairs_stats": "hvppi.align.kernels",
    # datasets
    "BuildSettings": "hvppi.datasets.build",
    "build_dataset": "hvppi.datasets.build",
    "read_mitab": "hvppi.datasets.mitab",
    "cdhit_clusters": "hvppi.datasets.clustering",
    "viral_disjoint_split": "hvppi.datasets.splits",
    "read_virus_taxonomy": "hvppi.datasets.taxonomy",
    "VirusTaxonomy": "hvppi.datasets.taxonomy",
    # ppi
    "ModelConfig": "hvppi.ppi.model",
    "InteractionModel": "hvppi.ppi.model",
    "ModelInfo": "hvppi.ppi.modelfile",
    "load_model": "hvppi.ppi.modelfile",
    "save_model": "hvppi.ppi.modelfile",
    "score_pairs": "hvppi.ppi.inference",
    "TrainConfig": "hvppi.ppi.training",
    "train": "hvppi.ppi.training",
    "evaluate_model": "hvppi.ppi.evaluation",
    "binary_metrics": "hvppi.ppi.metrics",
    "FrequencyBaseline": "hvppi.ppi.baseline",
    "ScreenSettings": "hvppi.ppi.screening",
    "screen": "hvppi.ppi.screening",
    "protein_attention": "hvppi.ppi.attention",
    "load_screening_model": "hvppi.ppi.modelfile",
    "load_any_model": "hvppi.ppi.modelfile",
    "ScreeningModel": "hvppi.ppi.screen_model",
    "ScreeningConfig": "hvppi.ppi.screen_model",
    "ViralTaxa": "hvppi.ppi.screen_model",
    "fit_screening_model": "hvppi.ppi.screen_model",
    "screen_with_screening_model": "hvppi.ppi.screening",
    "ScreeningData": "hvppi.ppi.screen_benchmark",
    "run_screening_benchmark": "hvppi.ppi.screen_benchmark",
    # geometry
    "isotropy": "hvppi.geometry.isotropy",
    "IsotropyAccumulator": "hvppi.geometry.isotropy",
    "open_embeddings": "hvppi.geometry.readers",
    "measure_isotropy": "hvppi.geometry.readers",
    "load_embedder": "hvppi.geometry.embedders",
    "embed_sequences": "hvppi.geometry.embedders",
    "alignment_correlation": "hvppi.geometry.align_corr",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hvppi' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from hvppi.align.kernels import all_pairs_stats as all_pairs_stats
    from hvppi.align.kernels import global_scores as global_scores
    from hvppi.datasets.build import BuildSettings as BuildSettings
    from hvppi.datasets.build import build_dataset as build_dataset
    from hvppi.datasets.clustering import cdhit_clusters as cdhit_clusters
    from hvppi.datasets.mitab import read_mitab as read_mitab
    from hvppi.datasets.splits import viral_disjoint_split as viral_disjoint_split
    from hvppi.datasets.taxonomy import VirusTaxonomy as VirusTaxonomy
    from hvppi.datasets.taxonomy import read_virus_taxonomy as read_virus_taxonomy
    from hvppi.geometry.align_corr import alignment_correlation as alignment_correlation
    from hvppi.geometry.embedders import embed_sequences as embed_sequences
    from hvppi.geometry.embedders import load_embedder as load_embedder
    from hvppi.geometry.isotropy import IsotropyAccumulator as IsotropyAccumulator
    from hvppi.geometry.isotropy import isotropy as isotropy
    from hvppi.geometry.readers import measure_isotropy as measure_isotropy
    from hvppi.geometry.readers import open_embeddings as open_embeddings
    from hvppi.io.errors import HvppiError as HvppiError
    from hvppi.io.errors import InputError as InputError
    from hvppi.io.errors import ModelFileError as ModelFileError
    from hvppi.io.pairs import PairTable as PairTable
    from hvppi.io.pairs import merge_sequences as merge_sequences
    from hvppi.io.pairs import read_pairs as read_pairs
    from hvppi.io.sequences import read_sequences as read_sequences
    from hvppi.ppi.attention import protein_attention as protein_attention
    from hvppi.ppi.baseline import FrequencyBaseline as FrequencyBaseline
    from hvppi.ppi.evaluation import evaluate_model as evaluate_model
    from hvppi.ppi.inference import score_pairs as score_pairs
    from hvppi.ppi.metrics import binary_metrics as binary_metrics
    from hvppi.ppi.model import InteractionModel as InteractionModel
    from hvppi.ppi.model import ModelConfig as ModelConfig
    from hvppi.ppi.modelfile import ModelInfo as ModelInfo
    from hvppi.ppi.modelfile import load_any_model as load_any_model
    from hvppi.ppi.modelfile import load_model as load_model
    from hvppi.ppi.modelfile import load_screening_model as load_screening_model
    from hvppi.ppi.modelfile import save_model as save_model
    from hvppi.ppi.screen_benchmark import ScreeningData as ScreeningData
    from hvppi.ppi.screen_benchmark import run_screening_benchmark as run_screening_benchmark
    from hvppi.ppi.screen_model import ScreeningConfig as ScreeningConfig
    from hvppi.ppi.screen_model import ScreeningModel as ScreeningModel
    from hvppi.ppi.screen_model import ViralTaxa as ViralTaxa
    from hvppi.ppi.screen_model import fit_screening_model as fit_screening_model
    from hvppi.ppi.screening import ScreenSettings as ScreenSettings
    from hvppi.ppi.screening import screen as screen
    from hvppi.ppi.screening import screen_with_screening_model as screen_with_screening_model
    from hvppi.ppi.training import TrainConfig as TrainConfig
    from hvppi.ppi.training import train as train

"""hvppi: sequence-based human–virus protein–protein interaction prediction and protein embedding geometry.

The public API, importable from ``hvppi`` directly (submodules load on first use, so ``import hvppi`` stays
fast):

>>> import hvppi
>>> pairs = hvppi.PairTable.from_lists(["P04637"], ["P0DTC2"], [1])
>>> len(pairs), pairs.labels.tolist()
(1, [1])
>>> scorer = hvppi.load_scorer()  # the default (screening) model, behind the one Scorer interface
>>> scorer.kind, scorer.columns[0]
('screening', ('virus_id', 'string'))

Subpackages, lowest layer first (a module imports only from its own layer and those before it):
:mod:`hvppi.io` (sequences, pairs, files, errors, bundled model names), :mod:`hvppi.align` (alignment kernels),
:mod:`hvppi.datasets` (HPIDB data sets, clustering, splits, taxonomy), :mod:`hvppi.pretrained` (protein language
models, embeddings to H5), :mod:`hvppi.evaluation` (metrics, baselines, plots), :mod:`hvppi.scoring` (the Scorer
interface, screens on one process or Dask, output), :mod:`hvppi.lstm` (the paper's BiLSTM-attention model),
:mod:`hvppi.screening` (the default screening model and its benchmark), :mod:`hvppi.registry` (model files and
embedders by name), :mod:`hvppi.geometry` (embedding geometry), :mod:`hvppi.web` (``hvppi serve``),
:mod:`hvppi.cli` (the ``hvppi`` command).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hvppi._version import __version__

if TYPE_CHECKING:  # the one list of public names: read at run time by _exports() for the lazy imports
    from hvppi.align.kernels import all_pairs_stats as all_pairs_stats
    from hvppi.align.kernels import global_scores as global_scores
    from hvppi.datasets.build import BuildSettings as BuildSettings
    from hvppi.datasets.build import build_dataset as build_dataset
    from hvppi.datasets.clustering import cdhit_clusters as cdhit_clusters
    from hvppi.datasets.mitab import read_mitab as read_mitab
    from hvppi.datasets.splits import viral_disjoint_split as viral_disjoint_split
    from hvppi.datasets.taxonomy import VirusTaxonomy as VirusTaxonomy
    from hvppi.datasets.taxonomy import read_virus_taxonomy as read_virus_taxonomy
    from hvppi.evaluation.baseline import FrequencyBaseline as FrequencyBaseline
    from hvppi.evaluation.metrics import binary_metrics as binary_metrics
    from hvppi.geometry.align_corr import alignment_correlation as alignment_correlation
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
    from hvppi.lstm.attention import protein_attention as protein_attention
    from hvppi.lstm.evaluation import evaluate_model as evaluate_model
    from hvppi.lstm.inference import score_pairs as score_pairs
    from hvppi.lstm.model import InteractionModel as InteractionModel
    from hvppi.lstm.model import ModelConfig as ModelConfig
    from hvppi.lstm.modelfile import ModelInfo as ModelInfo
    from hvppi.lstm.modelfile import load_model as load_model
    from hvppi.lstm.modelfile import save_model as save_model
    from hvppi.lstm.scorer import InteractionScorer as InteractionScorer
    from hvppi.lstm.training import TrainConfig as TrainConfig
    from hvppi.lstm.training import train as train
    from hvppi.pretrained.embed import embed_sequences as embed_sequences
    from hvppi.registry.embedders import load_embedder as load_embedder
    from hvppi.registry.models import load_scorer as load_scorer
    from hvppi.scoring.distributed import screen_distributed as screen_distributed
    from hvppi.scoring.interface import Scorer as Scorer
    from hvppi.scoring.interface import ScreenSettings as ScreenSettings
    from hvppi.scoring.screen import screen as screen
    from hvppi.screening.benchmark.data import ScreeningData as ScreeningData
    from hvppi.screening.benchmark.run import run_screening_benchmark as run_screening_benchmark
    from hvppi.screening.config import ScreeningConfig as ScreeningConfig
    from hvppi.screening.fitting import fit_screening_model as fit_screening_model
    from hvppi.screening.model import ScreeningModel as ScreeningModel
    from hvppi.screening.modelfile import load_screening_model as load_screening_model
    from hvppi.screening.recipe import fit_default_model as fit_default_model
    from hvppi.screening.scorer import ScreeningScorer as ScreeningScorer
    from hvppi.screening.taxa import ViralTaxa as ViralTaxa


def _exports() -> dict[str, str]:
    """Public name → its module, from the ``if TYPE_CHECKING:`` imports above (the one list of public names)."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    return {a.asname or a.name: n.module for n in block.body if isinstance(n, ast.ImportFrom) for a in n.names}  # type: ignore[misc]


_EXPORTS = _exports()
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

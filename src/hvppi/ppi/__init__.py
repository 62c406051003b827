"""The interaction predictor: features, model, model files, training, inference, evaluation,
baselines, screening, attention, structure and t-SNE analyses, plots."""

from hvppi.ppi.baseline import FrequencyBaseline
from hvppi.ppi.evaluation import evaluate_model
from hvppi.ppi.inference import score_pairs
from hvppi.ppi.model import InteractionModel, ModelConfig
from hvppi.ppi.modelfile import ModelInfo, load_model, save_model
from hvppi.ppi.screening import ScreenSettings, screen
from hvppi.ppi.training import TrainConfig, train

__all__ = [
    "FrequencyBaseline",
    "InteractionModel",
    "ModelConfig",
    "ModelInfo",
    "ScreenSettings",
    "TrainConfig",
    "evaluate_model",
    "load_model",
    "save_model",
    "score_pairs",
    "screen",
    "train",
]

"""Saving and loading trained models as safetensors files that describe themselves.

A model file holds the weights (the feature table included) and, in the safetensors metadata, a
JSON document with the model configuration, the feature set, the decision cutoff, the training
recipe, a hash of the training data and the package version. Loading never executes code from
the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from hvppi._version import __version__
from hvppi.io.alphabet import N_TOKENS
from hvppi.io.errors import ModelFileError
from hvppi.io.files import atomic_path
from hvppi.ppi.features import FEATURE_SET
from hvppi.ppi.model import InteractionModel, ModelConfig

FORMAT_NAME = "hvppi-interaction-model"
FORMAT_VERSION = 1
BUNDLED_MODELS = {
    "default": "default.safetensors",
    "viral-disjoint": "viral_disjoint.safetensors",
}


@dataclass
class ModelInfo:
    """What a model file says about itself."""

    config: ModelConfig
    cutoff: float
    feature_set: str = FEATURE_SET
    package_version: str = __version__
    training_data_sha256: str | None = None
    training: dict = field(default_factory=dict)
    path: str | None = None
    file_sha256: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "config": self.config.to_dict(),
                "cutoff": self.cutoff,
                "feature_set": self.feature_set,
                "package_version": self.package_version,
                "training_data_sha256": self.training_data_sha256,
                "training": self.training,
            },
            sort_keys=True,
        )


def bundled_model_path(name: str = "default") -> Path:
    """Path of a model shipped with hvppi: "default" (trained on the benchmark's training split) or
    "viral-disjoint" (trained without the held-out viral proteins; see MODEL_CARD.md)."""
    if name not in BUNDLED_MODELS:
        raise ModelFileError(f"no bundled model {name!r}; bundled: {', '.join(BUNDLED_MODELS)}")
    return Path(str(resources.files("hvppi.models").joinpath(BUNDLED_MODELS[name])))


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """A model file path, or the path of a bundled model given by name (None → "default")."""
    if model is None:
        return bundled_model_path()
    path = Path(model)
    if not path.exists() and str(model) in BUNDLED_MODELS:
        return bundled_model_path(str(model))
    return path


def save_model(path: str | os.PathLike, model: InteractionModel, info: ModelInfo) -> None:
    """Write ``model`` and ``info`` atomically to a safetensors file."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"hvppi": info.to_json()})


def read_model_info(path: str | os.PathLike) -> ModelInfo:
    """Read and check the self-description of a model file, without loading the weights."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors model file ({exc})") from None
    if "hvppi" not in metadata:
        raise ModelFileError(f"{path}: a safetensors file, but not an hvppi model (no 'hvppi' metadata)")
    try:
        doc = json.loads(metadata["hvppi"])
        if doc.get("format") != FORMAT_NAME:
            raise ValueError(f"format is {doc.get('format')!r}")
        if int(doc.get("format_version", -1)) > FORMAT_VERSION:
            raise ValueError(f"format version {doc['format_version']} is newer than this hvppi ({__version__}) reads")
        if doc["feature_set"] != FEATURE_SET:
            raise ValueError(f"feature set {doc['feature_set']!r} is unknown to this hvppi (knows {FEATURE_SET!r})")
        return ModelInfo(
            config=ModelConfig.from_dict(doc["config"]),
            cutoff=float(doc["cutoff"]),
            feature_set=doc["feature_set"],
            package_version=doc["package_version"],
            training_data_sha256=doc.get("training_data_sha256"),
            training=doc.get("training") or {},
            path=str(path),
            file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: invalid hvppi model description ({exc})") from None


def load_model(
    path: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> tuple[InteractionModel, ModelInfo]:
    """Load a model file, or a bundled model by name ("default" when ``path`` is None), in evaluation mode."""
    path = resolve_model_path(path)
    info = read_model_info(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: corrupt model weights ({exc})") from None
    table = state.get("human_tower.features")
    if table is None or tuple(table.shape) != (N_TOKENS, info.config.n_features):
        raise ModelFileError(f"{path}: the weights lack a ({N_TOKENS}, {info.config.n_features}) feature table")
    try:
        model = InteractionModel(info.config, table)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(f"{path}: weights do not fit the configuration ({exc})") from None
    return model.to(device).eval(), info

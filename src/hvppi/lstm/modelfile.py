"""Saving and loading trained models as safetensors files that describe themselves.

A model file holds the weights (the feature table included) and, in the safetensors metadata, a
JSON document with the model configuration, the feature set, the decision cutoff, the training
recipe, a hash of the training data and the package version. A model that reads per-protein
embeddings records, per side, the embedder it needs (``embeddings``: {"human": {"embedder",
"fingerprint", "dim"}, ...}; format version 2), and :func:`check_embedding_source` refuses the numbers
of any other embedder. Loading never executes code from the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from hvppi._version import __version__
from hvppi.io.alphabet import N_TOKENS
from hvppi.io.bundled import (
    DAMAGED,
    DEFAULT_INTERACTION_MODEL,
    check_model_file,
    model_kind,
    resolve_model_path,
)
from hvppi.io.embeddings import EmbeddingSource
from hvppi.io.errors import InputError, ModelFileError
from hvppi.io.files import atomic_path
from hvppi.lstm.features import FEATURE_SET
from hvppi.lstm.model import TOWER_NAMES, InteractionModel, ModelConfig

FORMAT_NAME = "hvppi-interaction-model"
FORMAT_VERSION = 2
"""The newest format this hvppi reads; a model without embeddings is still written as version 1."""


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
    embeddings: dict[str, EmbeddingSource] = field(default_factory=dict)
    """The embedder each side reads ("human", "virus"), for a model that reads per-protein embeddings."""

    def require_file_sha256(self) -> str:
        """The SHA-256 of the model file; ModelFileError for a description not read from a file."""
        if self.file_sha256 is None:
            raise ModelFileError("the model was not loaded from a file, so it has no file SHA-256; save and load it")
        return self.file_sha256

    def to_json(self) -> str:
        check_embedding_entries(self.config, self.embeddings)
        doc = {
            "format": FORMAT_NAME,
            "format_version": 1,
            "config": self.config.to_dict(),
            "cutoff": self.cutoff,
            "feature_set": self.feature_set,
            "package_version": self.package_version,
            "training_data_sha256": self.training_data_sha256,
            "training": self.training,
        }
        if self.embeddings or not self.config.towers:
            doc["format_version"] = 2
            doc["embeddings"] = {side: source.to_dict() for side, source in self.embeddings.items()}
        return json.dumps(doc, sort_keys=True)

    def embedder_of(self, side: str) -> EmbeddingSource | None:
        """The embedder whose per-protein vectors ``side`` reads, or None."""
        return self.embeddings.get(side)


def check_embedding_entries(config: ModelConfig, embeddings: dict[str, EmbeddingSource]) -> None:
    """ValueError unless ``embeddings`` names an embedder for exactly the sides that read embeddings, of their size."""
    unknown = set(embeddings) - set(TOWER_NAMES)
    if unknown:
        raise ValueError(f"embeddings for unknown sides {sorted(unknown)}; the sides are human and virus")
    for side in TOWER_NAMES:
        dim, source = config.embedding_dim(side), embeddings.get(side)
        if dim and source is None:
            raise ValueError(f"the configuration reads {dim}-d {side} protein embeddings but names no embedder")
        if source is not None and source.dim != dim:
            raise ValueError(f"the {side} embedder gives {source.dim}-d vectors, the configuration reads {dim}-d")


def check_embedding_source(info: ModelInfo, side: str, source: EmbeddingSource | None, option: str) -> None:
    """InputError unless ``source`` (the embedder of the file given as ``option``, or None if none was given)
    is the embedder the ``side`` of the model reads."""
    needed = info.embedder_of(side)
    model = info.path or "the model"
    if needed is None and source is not None:
        raise InputError(f"{option} given, but {model} reads no {side} protein embeddings; leave it out", source.path)
    if needed is not None and source is None:
        raise InputError(
            f"{model} reads {side} protein embeddings of {needed.describe()}; give them with {option} "
            f"(the per-protein H5 of 'hvppi embed --model {needed.name}')"
        )
    if (
        needed is not None
        and source is not None
        and (source.fingerprint, source.dim) != (needed.fingerprint, needed.dim)
    ):
        raise InputError(
            f"embeddings of {source.describe()}, but {model} was trained on embeddings of {needed.describe()}; "
            f"embed the proteins with {needed.name}",
            source.path,
        )


def save_model(path: str | os.PathLike, model: InteractionModel, info: ModelInfo) -> None:
    """Write ``model`` and ``info`` atomically to a safetensors file."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"hvppi": info.to_json()})


MAX_WIDTH = 4096
"""Largest LSTM, attention or head layer a model file may ask for (the paper's model uses 32 and 64)."""
MAX_HEAD_LAYERS = 16
MAX_FEATURES = 256
MAX_EMBEDDING_DIM = 65536
"""Largest per-protein embedding a model file may read (ESM-2 15B gives 5,120 dimensions)."""


def check_config_bounds(config: ModelConfig) -> None:
    """ValueError unless every size of ``config`` is within the bounds a model file may ask for, so a
    tampered file cannot make loading allocate gigabytes."""
    for name in ("lstm_hidden", "attention_hidden"):
        if getattr(config, name) > MAX_WIDTH:
            raise ValueError(f"{name} {getattr(config, name)} exceeds the maximum of {MAX_WIDTH}")
    if config.n_features > MAX_FEATURES:
        raise ValueError(f"n_features {config.n_features} exceeds the maximum of {MAX_FEATURES}")
    if len(config.head_widths) > MAX_HEAD_LAYERS:
        raise ValueError(f"{len(config.head_widths)} head layers exceed the maximum of {MAX_HEAD_LAYERS}")
    if any(width > MAX_WIDTH for width in config.head_widths):
        raise ValueError(f"head_widths {list(config.head_widths)} exceed the maximum width of {MAX_WIDTH}")
    for name in ("human_embedding_dim", "virus_embedding_dim"):
        if getattr(config, name) > MAX_EMBEDDING_DIM:
            raise ValueError(f"{name} {getattr(config, name)} exceeds the maximum of {MAX_EMBEDDING_DIM}")


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Shape of every tensor of an interaction model with ``config``, computed without allocating
    (the modules are built on PyTorch's meta device)."""
    with torch.device("meta"):
        model = InteractionModel(config, torch.empty(N_TOKENS, config.n_features))
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def _check_header_shapes(path: Path, config: ModelConfig) -> None:
    """ModelFileError unless the safetensors header lists exactly the tensors ``config`` needs, with their shapes."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            found = {name: tuple(fh.get_slice(name).get_shape()) for name in fh.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors model file ({exc}); {DAMAGED}") from None
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = [name for name in expected if name in found and found[name] != expected[name]]
    problems = []
    if missing:
        problems.append(f"missing tensors {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    if extra:
        problems.append(f"unexpected tensors {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
    if wrong:
        name = wrong[0]
        problems.append(f"tensor {name} has shape {list(found[name])}, the configuration needs {list(expected[name])}")
    if problems:
        raise ModelFileError(f"{path}: weights do not fit the configuration ({'; '.join(problems)})")


def read_model_info(path: str | os.PathLike) -> ModelInfo:
    """Read and check the self-description of a model file, without loading the weights."""
    path = Path(path)
    check_model_file(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors model file ({exc}); {DAMAGED}") from None
    if "hvppi" not in metadata:
        raise ModelFileError(f"{path}: a safetensors file, but not an hvppi model (no 'hvppi' metadata)")
    try:
        doc = json.loads(metadata["hvppi"])
        if not isinstance(doc, dict):
            raise ValueError(f"the metadata is a JSON {type(doc).__name__}, not an object")
        if doc.get("format") != FORMAT_NAME:
            raise ValueError(f"format is {doc.get('format')!r}")
        if int(doc.get("format_version", -1)) > FORMAT_VERSION:
            raise ValueError(f"format version {doc['format_version']} is newer than this hvppi ({__version__}) reads")
        if doc["feature_set"] != FEATURE_SET:
            raise ValueError(f"feature set {doc['feature_set']!r} is unknown to this hvppi (knows {FEATURE_SET!r})")
        if not isinstance(doc["config"], dict):
            raise ValueError("config is not a JSON object")
        config = ModelConfig.from_dict(doc["config"])
        check_config_bounds(config)
        entries = doc.get("embeddings") or {}
        if not isinstance(entries, dict):
            raise ValueError("embeddings is not a JSON object")
        embeddings = {side: EmbeddingSource.from_dict(entry) for side, entry in entries.items()}
        check_embedding_entries(config, embeddings)
        cutoff = float(doc["cutoff"])
        if not (math.isfinite(cutoff) and 0.0 <= cutoff <= 1.0):
            raise ValueError(f"cutoff must be a finite score in [0, 1], got {doc['cutoff']!r}")
        return ModelInfo(
            config=config,
            cutoff=cutoff,
            feature_set=doc["feature_set"],
            package_version=doc["package_version"],
            training_data_sha256=doc.get("training_data_sha256"),
            training=doc.get("training") or {},
            path=str(path),
            file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            embeddings=embeddings,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: invalid hvppi model description ({exc})") from None


def check_interaction_model(path: str | os.PathLike | None = None) -> tuple[Path, ModelInfo]:
    """The path and checked description of an interaction model file (or bundled name; None: ``lstm-phv-benchmark``),
    its tensors' names and shapes checked against it, without reading the weights: ModelFileError (one line) for a
    missing, foreign, damaged or screening model file. :func:`load_model` starts with it; a server checks its model
    with it at start-up."""
    path = resolve_model_path(path, DEFAULT_INTERACTION_MODEL)
    if model_kind(path) == "screening":
        raise ModelFileError(
            f"{path}: a screening model; this needs a BiLSTM-attention interaction model "
            f"(e.g. {DEFAULT_INTERACTION_MODEL}, or a file from 'hvppi train')"
        )
    info = read_model_info(path)
    _check_header_shapes(path, info.config)
    return path, info


def load_model(
    path: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> tuple[InteractionModel, ModelInfo]:
    """Load an interaction (BiLSTM-attention) model file, or a bundled one by name, in evaluation mode.

    ``path`` None loads ``lstm-phv-benchmark``. A screening model is refused with a hint: load it with
    :func:`hvppi.screening.modelfile.load_screening_model`, or :func:`hvppi.registry.load_scorer` to take either kind.
    """
    path, info = check_interaction_model(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: corrupt model weights ({exc}); {DAMAGED}") from None
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(f"{path}: tensor {name} holds NaN or infinite weights; {DAMAGED}")
        if name.endswith(".running_var") and not bool((tensor > 0).all()):
            raise ModelFileError(
                f"{path}: tensor {name} holds a variance that is not positive ({float(tensor.min()):g}); {DAMAGED}"
            )
    table = state.get("human_tower.features")
    if info.config.towers and (table is None or tuple(table.shape) != (N_TOKENS, info.config.n_features)):
        raise ModelFileError(f"{path}: the weights lack a ({N_TOKENS}, {info.config.n_features}) feature table")
    try:
        model = InteractionModel(info.config, table)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError, IndexError) as exc:
        raise ModelFileError(f"{path}: weights do not fit the configuration ({exc})") from None
    return model.to(device).eval(), info

"""Model files by name and kind, before any model code runs: the models shipped with hvppi, the path of a model
given by file or name, and what kind of model a file holds (from its metadata alone)."""

from __future__ import annotations

import json
import os
import stat
from importlib import resources
from pathlib import Path

from safetensors import SafetensorError, safe_open

from hvppi.io.errors import ModelFileError

SCREENING_KIND = "hvppi-screening"
"""The ``kind`` of a screening model file's metadata; any other hvppi model file is a BiLSTM-attention model."""

BUNDLED_MODELS = {
    "default": "screening.safetensors",
    "screening": "screening.safetensors",
    "lstm-phv-benchmark": "lstm_phv_benchmark.safetensors",
    "lstm-phv-viral-disjoint": "lstm_phv_viral_disjoint.safetensors",
    "viral-disjoint": "lstm_phv_viral_disjoint.safetensors",
}
"""Models shipped with hvppi, by name: ``default`` (= ``screening``) is the screening model of
:mod:`hvppi.screening.model`; ``lstm-phv-benchmark`` the paper's BiLSTM-attention model trained on
the LSTM-PHV benchmark's training split (for reproducing the paper's table); ``lstm-phv-viral-disjoint``
(alias ``viral-disjoint``) the same recipe without 20% of the viral proteins. See MODEL_CARD.md."""
DEFAULT_MODEL = "default"
DEFAULT_INTERACTION_MODEL = "lstm-phv-benchmark"

DAMAGED = "if it was copied or downloaded, the copy may be truncated or damaged: copy or download it again"


def bundled_model_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of a model shipped with hvppi, by its name in ``BUNDLED_MODELS``."""
    if name not in BUNDLED_MODELS:
        raise ModelFileError(f"no bundled model {name!r}; bundled: {', '.join(BUNDLED_MODELS)}")
    return Path(str(resources.files("hvppi.models").joinpath(BUNDLED_MODELS[name])))


def resolve_model_path(model: str | os.PathLike | None, default: str = DEFAULT_MODEL) -> Path:
    """A model file path, or the path of a bundled model given by name (None → ``default``)."""
    if model is None:
        return bundled_model_path(default)
    path = Path(model)
    if not path.exists() and str(model) in BUNDLED_MODELS:
        return bundled_model_path(str(model))
    return path


def check_model_file(path: Path) -> None:
    """ModelFileError naming ``path`` unless it is an existing file (a directory is a common slip)."""
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a model file; give the path of the .safetensors file")
    if not stat.S_ISREG(path.stat().st_mode):
        raise ModelFileError(f"{path}: not a regular file (a pipe or device?); give the path of the .safetensors file")


def model_kind(path: str | os.PathLike) -> str:
    """ "interaction" (a BiLSTM-attention model) or "screening", from the file's metadata alone."""
    path = Path(path)
    check_model_file(path)
    try:
        with safe_open(str(path), framework="numpy") as fh:
            metadata = fh.metadata() or {}
        document = json.loads(metadata.get("hvppi", "{}"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors model file ({exc}); {DAMAGED}") from None
    if not isinstance(document, dict):
        raise ModelFileError(f"{path}: its hvppi metadata is not a JSON object")
    return "screening" if document.get("kind") == SCREENING_KIND else "interaction"

"""Screening model files: safetensors arrays and a JSON description; nothing in a file is executed."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from safetensors import SafetensorError

from hvppi._version import __version__
from hvppi.io.bundled import DEFAULT_MODEL, model_kind, resolve_model_path
from hvppi.io.errors import ModelFileError
from hvppi.io.files import atomic_path
from hvppi.screening.calibration import IsotonicCalibration
from hvppi.screening.config import FORMAT_VERSION, MODEL_KIND, ScreeningConfig
from hvppi.screening.features import FEATURES
from hvppi.screening.model import Reference, ScreeningModel
from hvppi.screening.taxa import ViralTaxa
from hvppi.screening.trees import TreeEnsemble


def save_screening_model(self: ScreeningModel, path: str | os.PathLike) -> None:
    """Write a safetensors file: arrays, and all settings and reference IDs as JSON metadata."""
    from safetensors.numpy import save_file

    ref = self.reference
    tensors = {
        **self.trees.arrays("trees"),
        "calibration.x": self.calibration.x,
        "calibration.y": self.calibration.y,
        "composition.mean": np.asarray(self.composition_mean, np.float64),
        "composition.sd": np.asarray(self.composition_sd, np.float64),
        "reference.pair_virus": ref.pair_virus.astype(np.int64),
        "reference.pair_human": ref.pair_human.astype(np.int64),
        "reference.virus_sequences": pack_sequences(ref.virus_sequences),
        "reference.human_sequences": pack_sequences(ref.human_sequences),
    }
    document = {
        "kind": MODEL_KIND,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "features": list(FEATURES),
        "config": asdict(self.config),
        "trees_baseline": self.trees.baseline,
        "virus_ids": ref.virus_ids,
        "human_ids": ref.human_ids,
        "virus_lengths": [len(s) for s in ref.virus_sequences],
        "human_lengths": [len(s) for s in ref.human_sequences],
        "virus_taxa": ref.taxa.taxa,
        "virus_families": ref.taxa.families,
        "known_taxa": {a: list(tf) for a, tf in sorted(self.known_taxa.items())},
        **{"metadata": self.metadata},
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"hvppi": json.dumps(document)})
    self.file_sha256 = file_sha256(Path(path))
    self.path = str(path)


def read_screening_model(path: str | os.PathLike) -> ScreeningModel:
    """Read a file written by :meth:`save`; nothing in it is executed."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (OSError, ValueError, SafetensorError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        document = json.loads(meta["hvppi"])
        if not isinstance(document, dict) or document.get("kind") != MODEL_KIND:
            raise ModelFileError(f"{path}: not an hvppi screening model")
        if document["format_version"] > FORMAT_VERSION:
            raise ModelFileError(f"{path}: format version {document['format_version']} is newer than hvppi reads")
        if document["format_version"] < FORMAT_VERSION:
            raise ModelFileError(
                f"{path}: a screening model of format version {document['format_version']}, made by an older "
                f"hvppi with other features; this hvppi reads version {FORMAT_VERSION}: retrain it "
                "(scripts/train_screening_model.py, or fit_screening_model)"
            )
        if list(document["features"]) != list(FEATURES):
            raise ModelFileError(f"{path}: made with other features than this hvppi computes")
        virus_sequences = unpack_sequences(tensors["reference.virus_sequences"], document["virus_lengths"])
        human_sequences = unpack_sequences(tensors["reference.human_sequences"], document["human_lengths"])
        reference = Reference(
            list(document["virus_ids"]),
            virus_sequences,
            list(document["human_ids"]),
            human_sequences,
            tensors["reference.pair_virus"],
            tensors["reference.pair_human"],
            ViralTaxa(
                [None if t is None else str(t) for t in document["virus_taxa"]],
                [None if f is None else str(f) for f in document["virus_families"]],
            ),
        )
        model = ScreeningModel(
            reference,
            TreeEnsemble.from_arrays(tensors, "trees", float(document["trees_baseline"])),
            IsotonicCalibration(tensors["calibration.x"], tensors["calibration.y"]),
            tensors["composition.mean"],
            tensors["composition.sd"],
            ScreeningConfig.from_dict(document["config"]),
            dict(document.get("metadata", {})),
            known_taxa={
                str(a): (None if t is None else str(t), None if f is None else str(f))
                for a, (t, f) in document["known_taxa"].items()
            },
        )
    except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{path}: corrupt screening model ({exc})") from None
    check_screening_model(model, path)
    model.file_sha256 = file_sha256(path)
    model.path = str(path)
    return model


def check_screening_model(self: ScreeningModel, path: Path) -> None:
    """ModelFileError naming ``path`` unless the arrays of ``self`` fit together."""
    ref, trees = self.reference, self.trees
    n_nodes = len(trees.feature)
    problems = []
    if len(ref.pair_virus) != len(ref.pair_human):
        problems.append("pair arrays differ in length")
    if len(ref.pair_virus) and (
        ref.pair_virus.max() >= len(ref.virus_ids) or ref.pair_human.max() >= len(ref.human_ids)
    ):
        problems.append("pairs point outside the reference proteins")
    if any(len(a) != n_nodes for a in (trees.threshold, trees.left, trees.right, trees.leaf, trees.value)):
        problems.append("tree arrays differ in length")
    if len(trees.missing_left) != n_nodes or len(trees.roots) == 0:
        problems.append("tree arrays differ in length")
    elif not problems:
        internal = np.flatnonzero(~trees.leaf)
        starts = np.sort(trees.roots)
        if starts[0] != 0 or (np.diff(starts) <= 0).any() or starts[-1] >= n_nodes:
            problems.append("tree roots point outside the nodes")
        # children come after their parent within the parent's tree: every path ends at a leaf
        tree_end = np.append(starts[1:], n_nodes)[np.searchsorted(starts, internal, side="right") - 1]
        for child in (trees.left[internal], trees.right[internal]):
            if ((child <= internal) | (child >= tree_end)).any():
                problems.append("tree nodes point outside their tree")
                break
        if ((trees.feature[internal] < 0) | (trees.feature[internal] >= len(FEATURES))).any():
            problems.append("tree nodes read features that do not exist")
    arrays = (
        trees.value,
        trees.threshold,
        self.calibration.x,
        self.calibration.y,
        self.composition_mean,
        self.composition_sd,
    )
    if not all(np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in arrays):
        problems.append("non-finite values")
    if len(self.calibration.x) != len(self.calibration.y) or len(self.calibration.x) == 0:
        problems.append("calibration arrays differ in length")
    if np.shape(self.composition_mean) != (420,) or np.shape(self.composition_sd) != (420,):
        problems.append("composition statistics have the wrong shape")
    if problems:
        raise ModelFileError(f"{path}: corrupt screening model ({'; '.join(problems)})")


def file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pack_sequences(sequences: Sequence[str]) -> np.ndarray:
    return np.frombuffer("".join(sequences).encode("ascii"), dtype=np.uint8).copy()


def unpack_sequences(data: np.ndarray, lengths: Sequence[int]) -> list[str]:
    text = bytes(np.asarray(data, dtype=np.uint8)).decode("ascii")
    if sum(lengths) != len(text):
        raise ValueError("sequence lengths do not match the stored letters")
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [text[bounds[i] : bounds[i + 1]] for i in range(len(lengths))]


def load_screening_model(path: str | os.PathLike | None = None) -> ScreeningModel:
    """Load a screening model file, or a bundled one by name (``default`` when ``path`` is None)."""
    path = resolve_model_path(path, DEFAULT_MODEL)
    if model_kind(path) != "screening":
        raise ModelFileError(f"{path}: a BiLSTM-attention interaction model, not a screening model")
    return read_screening_model(path)

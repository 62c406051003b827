"""Screening model files: safetensors arrays and a JSON description; nothing in a file is executed."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError

from hvppi._version import __version__
from hvppi.datasets.taxonomy import check_name, taxid
from hvppi.io.alphabet import ALPHABET
from hvppi.io.bundled import DEFAULT_MODEL, check_model_file, model_kind, resolve_model_path
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
    if ref.pair_sources is not None:
        tensors["reference.pair_sources"] = np.asarray(ref.pair_sources, np.uint8)
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
        "pair_source_names": list(ref.source_names),
        **{"metadata": self.metadata},
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"hvppi": json.dumps(document)})
    self.file_sha256 = file_sha256(Path(path))
    self.path = str(path)


COMPOSITION_SIZE = 420
"""Length of the composition statistics: 20 amino-acid and 400 dipeptide frequencies."""
TREE_TENSORS = {
    "roots": np.int64,
    "feature": np.int32,
    "threshold": np.float64,
    "missing_left": np.bool_,
    "left": np.int64,
    "right": np.int64,
    "leaf": np.bool_,
    "value": np.float64,
}
"""dtype of each ``trees.*`` tensor (as :meth:`TreeEnsemble.from_sklearn` makes them); all but ``roots`` have one
entry per node."""
OPTIONAL_TENSORS = {"reference.pair_sources": np.uint8}
"""Tensors a screening model file may hold or not (one entry per reference pair)."""
UNKNOWN_TAXA = ("0",)
"""Taxids that mean "not known" in the training data (merged-hvi writes 0): read as no taxon."""
UNKNOWN_FAMILIES = ("unknown", "")
"""Family names (in any case) that mean "not known": read as no family."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LETTER = np.zeros(256, dtype=bool)
_LETTER[np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)] = True
"""The bytes a reference sequence may hold: the upper-case letters of hvppi's alphabet (as the model stores them)."""


def read_screening_model(path: str | os.PathLike) -> ScreeningModel:
    """Read a file written by :meth:`save`; nothing in it is executed.

    Everything is checked before use (ModelFileError naming ``path`` otherwise): a regular file; the dtype and
    shape of every tensor against the metadata (:func:`check_screening_tensors`); the metadata's types, lengths,
    names free of control characters and IDs without duplicates (:func:`check_screening_document`); the values
    (:func:`check_screening_model`). Taxids ``0`` and families ``Unknown`` are read as unknown."""
    from safetensors import safe_open

    path = Path(path)
    check_model_file(path)  # a FIFO or device would block safe_open
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
        version = document["format_version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise ModelFileError(f"{path}: corrupt screening model (format version {version!r} is not a number)")
        if version > FORMAT_VERSION:
            raise ModelFileError(f"{path}: format version {version} is newer than hvppi reads")
        if version < FORMAT_VERSION:
            raise ModelFileError(
                f"{path}: a screening model of format version {version}, made by an older "
                f"hvppi with other features; this hvppi reads version {FORMAT_VERSION}: retrain it "
                "(scripts/train_screening_model.py, or fit_screening_model)"
            )
        if not isinstance(document["features"], list) or list(document["features"]) != list(FEATURES):
            raise ModelFileError(f"{path}: made with other features than this hvppi computes")
        check_screening_document(document, path)
        check_screening_tensors(tensors, document, path)
        check_reference_letters(tensors, document, path)
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
                [_known_taxon(t) for t in document["virus_taxa"]],
                [_known_family(f) for f in document["virus_families"]],
            ),
            tensors.get("reference.pair_sources"),
            [str(name) for name in document.get("pair_source_names", [])],
        )
        model = ScreeningModel(
            reference,
            TreeEnsemble.from_arrays(tensors, "trees", float(document["trees_baseline"])),
            IsotonicCalibration(tensors["calibration.x"], tensors["calibration.y"]),
            tensors["composition.mean"],
            tensors["composition.sd"],
            ScreeningConfig.from_dict(document["config"]),
            dict(document.get("metadata", {})),
            known_taxa={str(a): (_known_taxon(t), _known_family(f)) for a, (t, f) in document["known_taxa"].items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, json.JSONDecodeError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelFileError(f"{path}: corrupt screening model ({detail})") from None
    check_screening_model(model, path)
    model.file_sha256 = file_sha256(path)
    model.path = str(path)
    return model


def _known_taxon(taxon: str | None) -> str | None:
    return None if taxon is None or taxon in UNKNOWN_TAXA else taxon


def _known_family(family: str | None) -> str | None:
    return None if family is None or family.strip().lower() in UNKNOWN_FAMILIES else family


def _corrupt(path: Path, problem: str) -> ModelFileError:
    return ModelFileError(f"{path}: corrupt screening model ({problem})")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_names(names: object, what: str, path: Path, optional: bool = False, unique: bool = False) -> None:
    """ModelFileError unless ``names`` is a list of text (or None where ``optional``) free of control characters (tab,
    newline, ...), which would break the TSV they land in, and, with ``unique``, without repeats. ``what``: the
    singular of what they are ("reference virus protein ID")."""
    if not isinstance(names, list) or not all(isinstance(n, str) or (optional and n is None) for n in names):
        raise _corrupt(path, f"the {what}s are not a list of text")
    text = [n for n in names if n is not None]
    if _CONTROL.search("".join(text)):  # one scan in C; the loop below only finds the name to report
        for name in text:
            try:
                check_name(name, what)
            except ValueError as exc:
                raise _corrupt(path, str(exc)) from None
    if unique and len(set(text)) != len(text):
        seen: set[str] = set()
        for name in text:
            if name in seen:
                raise _corrupt(path, f"{what} {name!r} is listed twice")
            seen.add(name)


def check_screening_document(document: dict, path: Path) -> None:
    """ModelFileError naming ``path`` unless the metadata's lists and values have the types and lengths the model
    needs, every name that reaches an output (protein IDs, families, taxids) is free of control characters, and
    reference IDs are unique."""
    path = Path(path)
    for side in ("virus", "human"):
        _check_names(document[f"{side}_ids"], f"reference {side} protein ID", path, unique=True)
        lengths = document[f"{side}_lengths"]
        if not isinstance(lengths, list) or not all(_is_int(n) and n > 0 for n in lengths):
            raise _corrupt(path, f"{side}_lengths are not positive whole numbers")
        if len(lengths) != len(document[f"{side}_ids"]):
            raise _corrupt(path, f"{len(lengths)} {side}_lengths for {len(document[f'{side}_ids'])} IDs")
    n_virus = len(document["virus_ids"])
    _check_names(document["virus_taxa"], "reference virus taxon", path, optional=True)
    _check_names(document["virus_families"], "reference virus family", path, optional=True)
    for what in ("virus_taxa", "virus_families"):
        if len(document[what]) != n_virus:
            raise _corrupt(path, f"{len(document[what])} {what} for {n_virus} viral proteins")
    known = document["known_taxa"]
    if not isinstance(known, dict) or not all(isinstance(v, list) and len(v) == 2 for v in known.values()):
        raise _corrupt(path, "known_taxa is not a map of accession to [taxon, family]")
    _check_names(list(known), "known accession", path)
    _check_names([t for t, _ in known.values()], "known taxon", path, optional=True)
    _check_names([f for _, f in known.values()], "known family", path, optional=True)
    taxa = {t for t in document["virus_taxa"] if t is not None} | {t for t, _ in known.values() if t is not None}
    bad = next((t for t in sorted(taxa) if taxid(t) != t), None)
    if bad is not None:
        raise _corrupt(path, f"taxon {bad[:20]!r} is not an NCBI taxid")
    sources = document.get("pair_source_names", [])
    _check_names(sources, "pair source name", path, unique=True)
    if len(sources) > 8:
        raise _corrupt(path, f"{len(sources)} pair source names; a source mask has 8 bits")
    baseline = document["trees_baseline"]
    if not isinstance(baseline, (int, float)) or isinstance(baseline, bool) or not math.isfinite(baseline):
        raise _corrupt(path, f"trees_baseline {baseline!r} is not a finite number")
    if not isinstance(document["config"], dict) or not isinstance(document.get("metadata", {}), dict):
        raise _corrupt(path, "config or metadata is not a JSON object")
    for key in ("names", "virus_codes"):  # they go into output rows: text without tabs or line breaks
        table = document.get("metadata", {}).get(key, {})
        if not isinstance(table, dict):
            raise _corrupt(path, f"metadata {key} is not a JSON object")
        _check_names(list(table), f"metadata {key} key", path)
        _check_names(list(table.values()), f"metadata {key} value", path)


def check_screening_tensors(tensors: dict[str, np.ndarray], document: dict, path: Path) -> None:
    """ModelFileError naming ``path`` unless every tensor has the dtype and shape the metadata implies: one entry per
    tree node in each ``trees.*`` tensor, the calibration's two equal-length curves, the composition statistics,
    one entry per reference pair, and as many sequence letters as the lengths add up to; no tensor beyond these."""
    path = Path(path)

    def length(name: str) -> int:
        """The length of a one-dimensional tensor, -1 for one that is missing or not one-dimensional."""
        return len(tensors[name]) if name in tensors and tensors[name].ndim == 1 else -1

    n_nodes, n_roots = length("trees.feature"), length("trees.roots")
    n_points, n_pairs = length("calibration.x"), length("reference.pair_virus")
    expected: dict[str, tuple[Any, tuple[int, ...]]] = {
        f"trees.{name}": (dtype, (n_roots if name == "roots" else n_nodes,)) for name, dtype in TREE_TENSORS.items()
    }
    expected.update(
        {
            "calibration.x": (np.float64, (n_points,)),
            "calibration.y": (np.float64, (n_points,)),
            "composition.mean": (np.float64, (COMPOSITION_SIZE,)),
            "composition.sd": (np.float64, (COMPOSITION_SIZE,)),
            "reference.pair_virus": (np.int64, (n_pairs,)),
            "reference.pair_human": (np.int64, (n_pairs,)),
            "reference.virus_sequences": (np.uint8, (sum(document["virus_lengths"]),)),
            "reference.human_sequences": (np.uint8, (sum(document["human_lengths"]),)),
        }
    )
    problems = []
    for name, (dtype, shape) in expected.items():
        if name not in tensors:
            problems.append(f"no tensor {name}")
        elif tensors[name].dtype != dtype:
            problems.append(f"{name} is {tensors[name].dtype}, not {np.dtype(dtype)}")
        elif tensors[name].shape != shape or min(shape) < 0:
            problems.append(f"{name} has shape {list(tensors[name].shape)}, not {list(shape)}")
    for name, dtype in OPTIONAL_TENSORS.items():
        if name in tensors and (tensors[name].dtype != dtype or tensors[name].shape != (n_pairs,)):
            problems.append(f"{name} is {tensors[name].dtype} of shape {list(tensors[name].shape)}")
    unknown = sorted(set(tensors) - set(expected) - set(OPTIONAL_TENSORS))
    if unknown:
        problems.append(f"unexpected tensor {unknown[0]}")
    if n_nodes == 0 or n_roots == 0 or n_points == 0:
        problems.append("no trees or no calibration points")
    if problems:
        raise _corrupt(path, "; ".join(problems[:3]))


def check_reference_letters(tensors: dict[str, np.ndarray], document: dict, path: Path) -> None:
    """ModelFileError naming ``path`` and the protein unless every letter of the reference sequences is an upper-case
    letter of hvppi's alphabet (:data:`hvppi.io.alphabet.ALPHABET`): no other letter, lower case, NUL or non-ASCII
    byte. One table lookup per letter (the reference holds millions); run after :func:`check_screening_tensors`."""
    for side in ("virus", "human"):
        letters = tensors[f"reference.{side}_sequences"]
        bad = np.flatnonzero(~_LETTER[letters])
        if bad.size == 0:
            continue
        pos = int(bad[0])
        ends = np.cumsum(document[f"{side}_lengths"])
        index = int(np.searchsorted(ends, pos, side="right"))
        start = int(ends[index - 1]) if index else 0
        byte = int(letters[pos])
        letter = f"the letter {chr(byte)!r}" if byte < 128 else f"the byte 0x{byte:02x}"
        raise _corrupt(
            Path(path),
            f"reference {side} protein {document[f'{side}_ids'][index]!r} has {letter} at position "
            f"{pos - start + 1}, outside hvppi's amino-acid alphabet ({ALPHABET})",
        )


def check_screening_model(self: ScreeningModel, path: Path) -> None:
    """ModelFileError naming ``path`` unless the arrays of ``self`` fit together and hold sensible values: trees
    whose nodes stay inside their tree and read existing features, finite values, a calibration with ``x`` strictly
    increasing and ``y`` non-decreasing within [0, 1], positive composition SDs, pairs inside the reference."""
    ref, trees = self.reference, self.trees
    n_nodes = len(trees.feature)
    n_features = len(FEATURES)
    problems = []
    if len(ref.pair_virus) != len(ref.pair_human):
        problems.append("pair arrays differ in length")
    pairs = [np.asarray(ref.pair_virus), np.asarray(ref.pair_human)]
    if not all(np.issubdtype(p.dtype, np.integer) for p in pairs):
        problems.append("pair indices are not whole numbers")
    elif len(ref.pair_virus) and (
        min(pairs[0].min(), pairs[1].min()) < 0
        or pairs[0].max() >= len(ref.virus_ids)
        or pairs[1].max() >= len(ref.human_ids)
    ):
        problems.append("pairs point outside the reference proteins")
    if any(len(a) != n_nodes for a in (trees.threshold, trees.left, trees.right, trees.leaf, trees.value)):
        problems.append("tree arrays differ in length")
    if len(trees.missing_left) != n_nodes or len(trees.roots) == 0 or n_nodes == 0:
        problems.append("tree arrays differ in length")
    elif not all(np.issubdtype(np.asarray(a).dtype, np.integer) for a in (trees.feature, trees.left, trees.right)):
        problems.append("tree node indices are not whole numbers")
    elif not problems:
        leaf = np.asarray(trees.leaf, dtype=bool)
        internal = np.flatnonzero(~leaf)
        starts = np.sort(trees.roots)
        if starts[0] != 0 or (np.diff(starts) <= 0).any() or starts[-1] >= n_nodes:
            problems.append("tree roots point outside the nodes")
        else:
            # children come after their parent within the parent's tree: every path ends at a leaf
            tree_end = np.append(starts[1:], n_nodes)[np.searchsorted(starts, internal, side="right") - 1]
            for child in (trees.left[internal], trees.right[internal]):
                if ((child <= internal) | (child >= tree_end)).any():
                    problems.append("tree nodes point outside their tree")
                    break
        if ((trees.feature[internal] < 0) | (trees.feature[internal] >= n_features)).any():
            problems.append(f"tree nodes read features that do not exist (this hvppi computes {n_features})")
    arrays = (
        trees.value,
        trees.threshold,
        self.calibration.x,
        self.calibration.y,
        self.composition_mean,
        self.composition_sd,
    )
    finite = all(np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in arrays)
    if not finite or not math.isfinite(float(trees.baseline)):
        problems.append("non-finite values")
    x, y = np.asarray(self.calibration.x, np.float64), np.asarray(self.calibration.y, np.float64)
    if len(x) != len(y) or len(x) == 0:
        problems.append("calibration arrays differ in length")
    elif finite:
        if (np.diff(x) <= 0).any():
            problems.append("calibration scores are not strictly increasing")
        if (y < 0).any() or (y > 1).any() or (np.diff(y) < 0).any():
            problems.append("calibration probabilities are not non-decreasing within [0, 1]")
    if np.shape(self.composition_mean) != (COMPOSITION_SIZE,) or np.shape(self.composition_sd) != (COMPOSITION_SIZE,):
        problems.append("composition statistics have the wrong shape")
    elif finite and (np.asarray(self.composition_sd) <= 0).any():
        problems.append("composition SDs are not all positive")
    if problems:
        raise _corrupt(Path(path), "; ".join(problems))


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

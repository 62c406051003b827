"""Training the interaction model (Tsukiyama et al. 2020 recipe).

* Pairs are split 8:2 (stratified, seeded) into training and validation unless a validation set
  is given.
* Minibatches of 256 with about the same positive:negative ratio in every batch.
* RAdam, learning rate 1e-3.
* Class-balanced binary cross-entropy (Cui et al. 2019): label y weighs (1−β)/(1−β^n_y) with
  β = 0.9999. By default n_y is counted in each minibatch, as the paper's text reads
  (``class_count="dataset"`` counts over the epoch's training pairs instead). Weights are
  normalised to sum to the number of classes present, so a batch that lacks a class is an
  ordinary mean over the class it has.
* Early stopping when the validation loss has not reached a new minimum for 35 epochs; the model
  kept is the one with the lowest validation loss, and its decision cutoff is Youden's cutoff on
  the validation pairs.
* Optionally, negatives are subsampled afresh each epoch to ``negative_ratio`` × the positives.

Every epoch writes ``checkpoint.pt`` (resumable exactly: batch order and dropout are seeded from
(seed, epoch)), adds a line to ``log.jsonl`` and, on improvement, rewrites ``model.safetensors``. The
checkpoint holds the log too and ``log.jsonl`` is rewritten from it, so a kill between the two loses no
line (a resume restores them). The output lock (``.OUT.lock`` beside the folder) refuses a second
training run into the same folder while one runs.

Per-protein embeddings (``embeddings``: {"human": ProteinEmbeddings, "virus": ...}) feed the sides
that read them (:class:`hvppi.lstm.model.ModelConfig`); the model file names their embedders, and a
resume must use the same ones. A model without towers never runs an LSTM, and takes proteins of any
length.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import torch

from hvppi._version import __version__
from hvppi.datasets.splits import held_out_count, stratified_parts, stratified_split
from hvppi.evaluation.metrics import binary_metrics
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_path, atomic_write, output_lock
from hvppi.io.pairs import PairTable
from hvppi.io.progress import iterate
from hvppi.io.validation import require_choice, require_fraction, require_int, require_positive
from hvppi.lstm.inference import (
    TRAINING_MAX_LENGTH,
    Embeddings,
    check_embeddings,
    describe_long,
    encode_pairs,
    long_proteins,
    pad_tokens,
    sigmoid,
    tokenize_sequences,
)
from hvppi.lstm.model import InteractionModel, ModelConfig
from hvppi.lstm.modelfile import ModelInfo, save_model
from hvppi.pretrained.base import resolve_device

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
MODEL = "model.safetensors"

ClassCount = Literal["batch", "dataset"]
"""Where the class-balanced loss counts n_y: in each minibatch, or over the epoch's training pairs."""


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe; defaults are the paper's. Checked on construction: a bad value raises
    ValueError naming the field."""

    batch_size: int = 256
    learning_rate: float = 1e-3
    beta: float = 0.9999
    class_count: ClassCount = "batch"
    patience: int = 35
    max_epochs: int = 1000
    negative_ratio: float | None = None
    validation_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        require_int("batch_size", self.batch_size, minimum=1)
        require_positive("learning_rate", self.learning_rate)
        require_fraction("beta", self.beta, closed_low=False, closed_high=False)
        require_choice("class_count", self.class_count, get_args(ClassCount))
        require_int("patience", self.patience, minimum=1)
        require_int("max_epochs", self.max_epochs, minimum=0)
        if self.negative_ratio is not None:
            require_positive("negative_ratio", self.negative_ratio)
        require_fraction("validation_fraction", self.validation_fraction, closed_low=False, closed_high=False)
        require_int("seed", self.seed, minimum=0)


def class_balanced_weights(labels: torch.Tensor, beta: float, counts: tuple[int, int] | None = None) -> torch.Tensor:
    """Per-sample weights (1−β)/(1−β^n_y), normalised to sum to the number of classes present.

    ``counts`` = (n_negative, n_positive); counted in ``labels`` when None. A class with n_y = 0
    gets no weight (it has no samples here either).
    """
    if counts is None:
        n_pos = int(labels.sum().item())
        counts = (len(labels) - n_pos, n_pos)
    raw = [(1.0 - beta) / (1.0 - beta**n) if n > 0 else 0.0 for n in counts]
    present = sum(1 for n in counts if n > 0)
    total = sum(raw)
    class_weight = torch.tensor([w * present / total for w in raw], dtype=torch.float32, device=labels.device)
    return class_weight[labels.long()]


def class_balanced_loss(
    logits: torch.Tensor, labels: torch.Tensor, beta: float, counts: tuple[int, int] | None = None
) -> torch.Tensor:
    """Mean class-balanced binary cross-entropy of ``logits`` (see :func:`class_balanced_weights`)."""
    weights = class_balanced_weights(labels, beta, counts)
    losses = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
    return (weights * losses).mean()


def stratified_batches(labels: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled minibatches, each with about the same share of positives as ``labels``."""
    n_batches = max(1, math.ceil(len(labels) / batch_size))

    def cuts(n: int) -> list[slice]:  # the parts of np.array_split(rows, n_batches)
        size, extra = divmod(n, n_batches)
        bounds = np.cumsum([0] + [size + 1] * extra + [size] * (n_batches - extra)).tolist()
        return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]

    return stratified_parts(labels, cuts, rng, classes=(1, 0))


def epoch_pairs(labels: np.ndarray, negative_ratio: float | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of the training pairs used in one epoch: all positives and, if ``negative_ratio`` is
    set, a fresh random subset of negatives of that many times the positives."""
    if negative_ratio is None:
        return np.arange(len(labels))
    positives = np.flatnonzero(labels == 1)
    negatives = np.flatnonzero(labels == 0)
    n_neg = min(len(negatives), int(round(negative_ratio * len(positives))))
    return np.sort(np.concatenate([positives, rng.choice(negatives, n_neg, replace=False)]))


def split_validation(pairs: PairTable, fraction: float, seed: int) -> tuple[PairTable, PairTable]:
    """Stratified, seeded split of ``pairs`` into training and validation parts, in input order
    (:func:`hvppi.datasets.splits.stratified_split` with ``np.random.default_rng(seed)``)."""
    if pairs.labels is None:
        raise InputError("pairs to split must be labelled (0/1)", pairs.path)
    labels = pairs.labels
    counts = np.bincount(labels.astype(int), minlength=2)
    if any(not 0 < held_out_count(int(n), fraction) < n for n in counts):
        raise InputError(
            f"cannot split off a stratified validation set ({fraction:g} of each class) from {counts[1]} positive "
            f"and {counts[0]} negative pairs: each class needs pairs on both sides; give more pairs, or a "
            "--validation file",
            pairs.path,
        )
    train_idx, val_idx = stratified_split(labels, fraction, np.random.default_rng(seed))
    return pairs.subset(np.sort(train_idx)), pairs.subset(np.sort(val_idx))


def _log_lines(path: Path) -> list[str]:
    """The complete JSON lines of a training log (a line cut off by a crash is dropped)."""
    lines = []
    for line in path.read_text().splitlines():
        try:
            json.loads(line)
        except ValueError:
            continue
        lines.append(line)
    return lines


def _seed_everything(seed: int, epoch: int) -> np.random.Generator:
    torch.manual_seed(seed * 1_000_003 + epoch)
    return np.random.default_rng([seed, epoch])


@dataclass
class _State:
    epoch: int = 0
    best_loss: float = math.inf
    best_epoch: int = 0
    best_cutoff: float = 0.5
    best_metrics: dict | None = None


@dataclass
class _Run:
    """A training run in progress: the model, its optimizer, the best weights so far and where it is written."""

    model: InteractionModel
    optimizer: torch.optim.Optimizer
    state: _State
    best_state: dict[str, torch.Tensor]
    out_dir: Path
    identity: dict
    model_config: ModelConfig
    config: TrainConfig
    log_entries: list[dict] = dataclasses.field(default_factory=list)
    embeddings: Embeddings = dataclasses.field(default_factory=dict)

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT

    @property
    def log_path(self) -> Path:
        return self.out_dir / LOG


@dataclass
class _EpochData:
    """The training pairs as arrays, the validation pairs and every protein's tokens."""

    labels: np.ndarray
    human_ids: np.ndarray
    virus_ids: np.ndarray
    validation: PairTable
    tokens: dict[str, np.ndarray]
    embeddings: Embeddings = dataclasses.field(default_factory=dict)
    rows: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # side → each pair's embedding row
    matrices: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)  # side → embeddings on the device


def _checkpoint_payload(
    model: InteractionModel,
    optimizer: torch.optim.Optimizer,
    state: _State,
    best_state: dict,
    identity: dict,
    log_entries: list[dict] | None = None,
) -> dict:
    return {
        "log": json.dumps(log_entries or []),
        "format": "hvppi-checkpoint",
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "best_state": best_state,
        "epoch": state.epoch,
        "best_loss": state.best_loss,
        "best_epoch": state.best_epoch,
        "best_cutoff": state.best_cutoff,
        "best_metrics": json.dumps(state.best_metrics),
        "identity": json.dumps(identity, sort_keys=True),
    }


def _evaluate(
    model: InteractionModel,
    pairs: PairTable,
    tokens: dict[str, np.ndarray],
    device: torch.device,
    beta: float,
    embeddings: Embeddings | None = None,
) -> tuple[float, dict, np.ndarray]:
    """Validation loss, metrics and scores of ``pairs`` (each protein encoded once, in evaluation mode)."""
    label_array = pairs.require_both_classes("validation pairs")
    logits = encode_pairs(model, pairs, tokens=tokens, device=device, embeddings=embeddings).logits(model, device)
    labels = torch.from_numpy(label_array.astype(np.float32))
    n_pos = int(label_array.sum())
    loss = class_balanced_loss(torch.from_numpy(logits).float(), labels, beta, (len(labels) - n_pos, n_pos))
    scores = sigmoid(logits)
    return float(loss), binary_metrics(label_array, scores), scores


def train(
    pairs: PairTable,
    sequences: dict[str, str],
    out_dir: str | os.PathLike,
    model_config: ModelConfig | None = None,
    config: TrainConfig | None = None,
    validation: PairTable | None = None,
    resume: bool = False,
    device: str | torch.device = "auto",
    progress: bool = True,
    log: Callable[[str], None] = print,
    time_limit: float | None = None,
    max_length: int = TRAINING_MAX_LENGTH,
    sequences_path: str | os.PathLike | None = None,
    embeddings: Embeddings | None = None,
) -> dict:
    """Train a model on labelled ``pairs``; returns a summary. See the module docstring.

    ``time_limit`` (seconds): start no new epoch once this call has run that long; the run can be
    continued later with ``resume=True``. ``max_length``: proteins longer than this many residues
    are rejected before any batch is built (InputError naming them and ``sequences_path``); 0: no limit
    (a model without towers has none). ``embeddings``: per-protein embeddings by side, covering the
    proteins of ``pairs`` and ``validation``; a side's embedding size is filled into ``model_config``
    when it reads none."""
    call_started = time.perf_counter()
    config = config or TrainConfig()
    embeddings = dict(embeddings or {})
    model_config = embedding_config(model_config or ModelConfig(), embeddings)
    if model_config.towers:
        check_lengths(pairs, validation, sequences, max_length, sequences_path)
    device = resolve_device(device)
    out_dir = Path(out_dir)
    with output_lock(out_dir):
        return _train_locked(
            pairs,
            sequences,
            out_dir,
            model_config,
            config,
            validation,
            resume,
            device,
            progress,
            log,
            time_limit,
            call_started,
            embeddings,
        )


def embedding_config(model_config: ModelConfig, embeddings: Embeddings) -> ModelConfig:
    """``model_config`` with the embedding size of each side given ``embeddings`` (ValueError if it says another)."""
    sizes: dict[str, Any] = {}
    for side, found in embeddings.items():
        name = f"{side}_embedding_dim"
        if side in ("human", "virus") and model_config.embedding_dim(side) == 0:
            sizes[name] = found.source.dim
    model_config = dataclasses.replace(model_config, **sizes) if sizes else model_config
    check_embeddings(model_config, embeddings)
    return model_config


def check_lengths(
    pairs: PairTable,
    validation: PairTable | None,
    sequences: dict[str, str],
    max_length: int,
    sequences_path: str | os.PathLike | None = None,
) -> None:
    """InputError naming the proteins of the pairs longer than ``max_length`` residues (0: no limit)."""
    require_int("max_length", max_length, minimum=0)
    if max_length == 0:
        return
    ids = [*pairs.human_ids, *pairs.virus_ids]
    if validation is not None:
        ids += [*validation.human_ids, *validation.virus_ids]
    found = long_proteins(sequences, ids, max_length)
    if found:
        raise InputError(
            f"{len(found)} protein(s) longer than the training maximum of {max_length:,} residues: "
            f"{describe_long(found)}; remove or split them, or raise --max-length (0: no limit)",
            sequences_path if sequences_path is not None else pairs.path,
            None,
            found[0][0] if len(found) == 1 else None,
        )


def _train_locked(
    pairs: PairTable,
    sequences: dict[str, str],
    out_dir: Path,
    model_config: ModelConfig,
    config: TrainConfig,
    validation: PairTable | None,
    resume: bool,
    device: torch.device,
    progress: bool,
    log: Callable[[str], None],
    time_limit: float | None,
    call_started: float,
    embeddings: Embeddings,
) -> dict:
    """The body of :func:`train`, run under the output lock of ``out_dir``."""
    train_pairs, val_pairs = _training_and_validation(pairs, validation, config)
    ids = set(train_pairs.human_ids) | set(train_pairs.virus_ids) | set(val_pairs.human_ids) | set(val_pairs.virus_ids)
    data = _EpochData(
        train_pairs.require_both_classes("training pairs"),
        np.asarray(train_pairs.human_ids, dtype=object),
        np.asarray(train_pairs.virus_ids, dtype=object),
        val_pairs,
        tokenize_sequences(sequences, ids) if model_config.towers else {},
        embeddings,
    )
    for side, found in embeddings.items():
        found.rows(val_pairs.human_ids if side == "human" else val_pairs.virus_ids)  # a missing protein fails now
        data.rows[side] = found.rows(data.human_ids if side == "human" else data.virus_ids)
        data.matrices[side] = torch.from_numpy(found.matrix).to(device)
    identity = _run_identity(train_pairs, val_pairs, sequences, model_config, config, embeddings)
    run = _new_run(out_dir, identity, model_config, config, device)
    run.embeddings = embeddings
    _resume_or_start(run, resume, device, log)
    val_positives = int(val_pairs.require_both_classes("validation pairs").sum())
    log(
        f"training on {len(train_pairs)} pairs ({int(data.labels.sum())} positive), validating on "
        f"{len(val_pairs)} ({val_positives} positive); {run.model.n_parameters()} parameters; device {device}"
        + "".join(f"; {side} embeddings of {found.source.describe()}" for side, found in embeddings.items())
        + ("; no towers" if not model_config.towers else "")
    )
    stopped = "max_epochs"
    while run.state.epoch < config.max_epochs:
        reason = _stop_reason(run.state, config, call_started, time_limit)
        if reason is not None:
            stopped = reason
            if reason == "time_limit":
                log(f"time limit reached after epoch {run.state.epoch}; continue with --resume")
            break
        _run_epoch(run, data, device, progress, log)
    if not (out_dir / MODEL).exists():
        raise RuntimeError("training ended without a model (no epoch was run)")
    state = run.state
    return {
        "model": str(out_dir / MODEL),
        "epochs": state.epoch,
        "best_epoch": state.best_epoch,
        "best_val_loss": state.best_loss,
        "cutoff": state.best_cutoff,
        "validation_metrics": state.best_metrics,
        "stopped": stopped,
    }


def _training_and_validation(
    pairs: PairTable, validation: PairTable | None, config: TrainConfig
) -> tuple[PairTable, PairTable]:
    """The training and validation pairs: ``validation`` when given, else a stratified split of ``pairs``."""
    pairs.require_both_classes("training pairs")
    if validation is None:
        train_pairs, val_pairs = split_validation(pairs, config.validation_fraction, config.seed)
    else:
        train_pairs, val_pairs = pairs, validation
    val_pairs.require_both_classes("validation pairs")
    train_pairs.require_both_classes("training pairs")
    return train_pairs, val_pairs


def _run_identity(
    train_pairs: PairTable,
    val_pairs: PairTable,
    sequences: dict[str, str],
    model_config: ModelConfig,
    config: TrainConfig,
    embeddings: Embeddings | None = None,
) -> dict:
    """What a checkpoint must match to be resumed: the data, the model, the recipe (not its stopping rules)
    and the embedders, if any."""
    identity = {
        "train_sha256": train_pairs.fingerprint(sequences),
        "validation_sha256": val_pairs.fingerprint(sequences),
        "model_config": model_config.to_dict(),
        "train_config": {k: v for k, v in dataclasses.asdict(config).items() if k not in ("max_epochs", "patience")},
    }
    if embeddings:
        identity["embeddings"] = {side: found.source.to_dict() for side, found in sorted(embeddings.items())}
    return identity


def _new_run(
    out_dir: Path, identity: dict, model_config: ModelConfig, config: TrainConfig, device: torch.device
) -> _Run:
    """A freshly initialised model (seeded) and optimizer."""
    torch.manual_seed(config.seed)
    model = InteractionModel(model_config).to(device)
    optimizer = torch.optim.RAdam(model.parameters(), lr=config.learning_rate)
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return _Run(model, optimizer, _State(), best_state, out_dir, identity, model_config, config)


def _resume_or_start(run: _Run, resume: bool, device: torch.device, log: Callable[[str], None]) -> None:
    """Load the checkpoint when resuming (and cut the log back to it), refuse to overwrite a run, or start afresh."""
    if resume and run.checkpoint_path.exists():
        _load_checkpoint(run, device)
        state = run.state
        log(
            f"resuming after epoch {state.epoch} (best validation loss {state.best_loss:.5f} at epoch {state.best_epoch})"
        )
        if not run.log_entries and run.log_path.exists():  # a checkpoint of an hvppi that kept no log in it
            run.log_entries = [e for e in map(json.loads, _log_lines(run.log_path)) if e["epoch"] <= state.epoch]
        _write_log(run)
    elif run.checkpoint_path.exists():
        raise InputError(
            "a training run is already here; use --resume to continue it or another output folder", run.out_dir
        )
    else:
        if resume:
            log(f"no checkpoint in {run.out_dir}; starting afresh")
        if run.log_path.exists():
            run.log_path.unlink()
    run.out_dir.mkdir(parents=True, exist_ok=True)


def _load_checkpoint(run: _Run, device: torch.device) -> None:
    """Restore model, optimizer, best weights and state from the checkpoint, which must match the run's identity."""
    path = run.checkpoint_path
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
        saved = json.loads(ckpt["identity"])
    except Exception as exc:  # a truncated or foreign file: torch raises several kinds
        raise InputError(f"not a readable hvppi checkpoint ({type(exc).__name__}: {exc})", path) from None
    identity = run.identity
    if saved != json.loads(json.dumps(identity, sort_keys=True)):
        changed = [k for k in identity if saved.get(k) != json.loads(json.dumps(identity[k]))]
        raise InputError(f"cannot resume: the checkpoint was written for other {', '.join(changed)}", path)
    run.model.load_state_dict(ckpt["model"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.best_state = ckpt["best_state"]
    run.state = _State(
        ckpt["epoch"], ckpt["best_loss"], ckpt["best_epoch"], ckpt["best_cutoff"], json.loads(ckpt["best_metrics"])
    )
    run.log_entries = json.loads(ckpt.get("log", "[]"))


def _stop_reason(state: _State, config: TrainConfig, call_started: float, time_limit: float | None) -> str | None:
    """Why no further epoch starts ("early_stopping", "time_limit"), or None to go on."""
    if state.epoch - state.best_epoch >= config.patience:
        return "early_stopping"
    if time_limit is not None and time.perf_counter() - call_started >= time_limit:
        return "time_limit"
    return None


def _run_epoch(run: _Run, data: _EpochData, device: torch.device, progress: bool, log: Callable[[str], None]) -> None:
    """One epoch: train, validate, keep the best model, write the checkpoint and the log line."""
    epoch = run.state.epoch + 1
    rng = _seed_everything(run.config.seed, epoch)
    started = time.perf_counter()
    chosen, train_loss, residues = _train_one_epoch(run, data, epoch, rng, device, progress)
    train_seconds = time.perf_counter() - started
    val_loss, val_metrics, _ = _evaluate(
        run.model, data.validation, data.tokens, device, run.config.beta, data.embeddings
    )
    entry = {
        "epoch": epoch,
        "train_loss": train_loss,
        "val_loss": val_loss,
        **{f"val_{k}": v for k, v in val_metrics.items()},
        "train_pairs": len(chosen),
        "residues_per_s": residues / train_seconds,
        "seconds": time.perf_counter() - started,
        "best": val_loss < run.state.best_loss,
    }
    improved = _record_epoch(run, epoch, val_loss, val_metrics, entry)
    _write_log(run)
    log(
        f"epoch {epoch}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, val ROC AUC "
        f"{val_metrics['roc_auc']:.4f}, PR AUC {val_metrics['pr_auc']:.4f}"
        f"{' *' if improved else ''} ({entry['seconds']:.0f} s)"
    )


def _train_one_epoch(
    run: _Run, data: _EpochData, epoch: int, rng: np.random.Generator, device: torch.device, progress: bool
) -> tuple[np.ndarray, float, int]:
    """The optimisation steps of one epoch → (pairs used, mean training loss, residues read)."""
    config, model, optimizer = run.config, run.model, run.optimizer
    chosen = epoch_pairs(data.labels, config.negative_ratio, rng)
    counts = None
    if config.class_count == "dataset":
        n_pos = int(data.labels[chosen].sum())
        counts = (len(chosen) - n_pos, n_pos)
    model.train()
    total, residues = 0.0, 0
    batches = [chosen[b] for b in stratified_batches(data.labels[chosen], config.batch_size, rng)]
    bar = iterate(batches, desc=f"epoch {epoch}", unit="batch", enabled=progress, leave=False)
    tokens, human_ids, virus_ids = data.tokens, data.human_ids, data.virus_ids
    for batch in bar:
        inputs: dict[str, torch.Tensor | None] = {}
        if model.config.towers:
            h_tokens, h_lengths = pad_tokens([tokens[p] for p in human_ids[batch]])
            v_tokens, v_lengths = pad_tokens([tokens[p] for p in virus_ids[batch]])
            inputs = {
                "human_tokens": h_tokens.to(device),
                "human_lengths": h_lengths,
                "virus_tokens": v_tokens.to(device),
                "virus_lengths": v_lengths,
            }
            residues += int(h_lengths.sum() + v_lengths.sum())
        for side, matrix in data.matrices.items():
            inputs[f"{side}_embeddings"] = matrix[torch.from_numpy(data.rows[side][batch]).to(device)]
        labels = torch.from_numpy(data.labels[batch].astype(np.float32)).to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = model(**inputs)
        loss = class_balanced_loss(logits, labels, config.beta, counts)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
        bar.set_postfix(loss=f"{loss.item():.4f}")
    return chosen, total / len(chosen), residues


def _write_log(run: _Run) -> None:
    """Rewrite ``log.jsonl`` (atomically) from the log entries the checkpoint holds."""
    with atomic_write(run.log_path) as fh:
        fh.write("".join(json.dumps(entry) + "\n" for entry in run.log_entries))


def _record_epoch(run: _Run, epoch: int, val_loss: float, val_metrics: dict, entry: dict | None = None) -> bool:
    """Advance the state; on a new best validation loss keep the weights and rewrite the model file.
    Always rewrite the checkpoint, with the log ``entry`` of this epoch added to the log it holds (so
    log and checkpoint are one atomic step; ``log.jsonl`` is rewritten from it). Returns whether this
    epoch is the new best."""
    state = run.state
    state.epoch = epoch
    improved = val_loss < state.best_loss
    if improved:
        state.best_loss, state.best_epoch = val_loss, epoch
        state.best_cutoff, state.best_metrics = val_metrics["cutoff"], val_metrics
        run.best_state = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
        _save_best(
            run.out_dir / MODEL, run.model_config, run.best_state, state, run.identity, run.config, run.embeddings
        )
    if entry is not None:
        run.log_entries = [e for e in run.log_entries if e.get("epoch") != epoch] + [entry]
    with atomic_path(run.checkpoint_path) as tmp:
        payload = _checkpoint_payload(run.model, run.optimizer, state, run.best_state, run.identity, run.log_entries)
        torch.save(payload, tmp)
    return improved


def _save_best(
    path: Path,
    model_config: ModelConfig,
    best_state,
    state: _State,
    identity: dict,
    config: TrainConfig,
    embeddings: Embeddings | None = None,
) -> None:
    model = InteractionModel(model_config)
    model.load_state_dict(best_state)
    info = ModelInfo(
        embeddings={side: found.source for side, found in (embeddings or {}).items()},
        config=model_config,
        cutoff=state.best_cutoff,
        training_data_sha256=identity["train_sha256"],
        package_version=__version__,
        training={
            "recipe": dataclasses.asdict(config),
            "best_epoch": state.best_epoch,
            "validation_loss": state.best_loss,
            "validation_sha256": identity["validation_sha256"],
            "validation_metrics": state.best_metrics,
            "cutoff_rule": "Youden's index on the validation pairs at the best epoch",
        },
    )
    save_model(path, model, info)

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
(seed, epoch)), appends a line to ``log.jsonl`` and, on improvement, rewrites ``model.safetensors``.
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

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from hvppi._version import __version__
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_path, atomic_write
from hvppi.io.pairs import PairTable
from hvppi.ppi.inference import encode_pair_proteins, head_logits, pad_tokens, resolve_device, tokenize_sequences
from hvppi.ppi.metrics import binary_metrics
from hvppi.ppi.model import InteractionModel, ModelConfig
from hvppi.ppi.modelfile import ModelInfo, save_model

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
MODEL = "model.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe; defaults are the paper's."""

    batch_size: int = 256
    learning_rate: float = 1e-3
    beta: float = 0.9999
    class_count: str = "batch"
    patience: int = 35
    max_epochs: int = 1000
    negative_ratio: float | None = None
    validation_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if self.class_count not in ("batch", "dataset"):
            raise ValueError("class_count must be 'batch' or 'dataset'")
        if self.batch_size < 1 or self.max_epochs < 0 or self.patience < 1 or self.learning_rate <= 0:
            raise ValueError("batch_size, patience and learning_rate must be positive, max_epochs not negative")
        if not 0 < self.beta < 1:
            raise ValueError("beta must lie strictly between 0 and 1")
        if not 0 < self.validation_fraction < 1:
            raise ValueError("validation_fraction must lie strictly between 0 and 1")
        if self.negative_ratio is not None and self.negative_ratio <= 0:
            raise ValueError("negative_ratio must be positive")


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


def class_balanced_loss(logits: torch.Tensor, labels: torch.Tensor, beta: float, counts=None) -> torch.Tensor:
    weights = class_balanced_weights(labels, beta, counts)
    losses = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
    return (weights * losses).mean()


def stratified_batches(labels: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled minibatches, each with about the same share of positives as ``labels``."""
    positives = rng.permutation(np.flatnonzero(labels == 1))
    negatives = rng.permutation(np.flatnonzero(labels == 0))
    n_batches = max(1, math.ceil(len(labels) / batch_size))
    return [
        rng.permutation(np.concatenate([p, n]))
        for p, n in zip(np.array_split(positives, n_batches), np.array_split(negatives, n_batches))
    ]


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
    """Stratified, seeded split of ``pairs`` into training and validation parts."""
    counts = np.bincount(pairs.labels.astype(int), minlength=2)
    if counts.min() < 2:
        raise InputError(
            f"cannot split off a stratified validation set from {counts[1]} positive and {counts[0]} negative "
            "pairs; give at least 2 of each, or a --validation file",
            pairs.path,
        )
    index = np.arange(len(pairs))
    train_idx, val_idx = train_test_split(index, test_size=fraction, random_state=seed, stratify=pairs.labels)
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


def _checkpoint_payload(model, optimizer, state: _State, best_state, identity: dict) -> dict:
    return {
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


def _evaluate(model, pairs: PairTable, tokens, device, beta) -> tuple[float, dict, np.ndarray]:
    hv, vv, hi, vi = encode_pair_proteins(model, pairs, tokens, device)
    logits = head_logits(model, hv, vv, hi, vi, device)
    labels = torch.from_numpy(pairs.labels.astype(np.float32))
    n_pos = int(pairs.labels.sum())
    loss = class_balanced_loss(torch.from_numpy(logits).float(), labels, beta, (len(labels) - n_pos, n_pos))
    scores = 1.0 / (1.0 + np.exp(-logits))
    return float(loss), binary_metrics(pairs.labels, scores), scores


def train(
    pairs: PairTable,
    sequences: dict[str, str],
    out_dir: str | os.PathLike,
    model_config: ModelConfig | None = None,
    config: TrainConfig | None = None,
    validation: PairTable | None = None,
    resume: bool = False,
    device: str = "auto",
    progress: bool = True,
    log: Callable[[str], None] = print,
    time_limit: float | None = None,
) -> dict:
    """Train a model on labelled ``pairs``; returns a summary. See the module docstring.

    ``time_limit`` (seconds): start no new epoch once this call has run that long; the run can be
    continued later with ``resume=True``."""
    call_started = time.perf_counter()
    model_config = model_config or ModelConfig()
    config = config or TrainConfig()
    device = resolve_device(device)
    out_dir = Path(out_dir)
    pairs.require_both_classes("training pairs")
    if validation is None:
        train_pairs, val_pairs = split_validation(pairs, config.validation_fraction, config.seed)
    else:
        train_pairs, val_pairs = pairs, validation
    val_pairs.require_both_classes("validation pairs")
    train_pairs.require_both_classes("training pairs")

    ids = set(train_pairs.human_ids) | set(train_pairs.virus_ids) | set(val_pairs.human_ids) | set(val_pairs.virus_ids)
    tokens = tokenize_sequences(sequences, ids)
    identity = {
        "train_sha256": train_pairs.fingerprint(sequences),
        "validation_sha256": val_pairs.fingerprint(sequences),
        "model_config": model_config.to_dict(),
        "train_config": {k: v for k, v in dataclasses.asdict(config).items() if k not in ("max_epochs", "patience")},
    }

    torch.manual_seed(config.seed)
    model = InteractionModel(model_config).to(device)
    optimizer = torch.optim.RAdam(model.parameters(), lr=config.learning_rate)
    state = _State()
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    checkpoint_path = out_dir / CHECKPOINT
    log_path = out_dir / LOG
    if resume and checkpoint_path.exists():
        try:
            ckpt = torch.load(checkpoint_path, map_location=device, weights_only=True)
            saved = json.loads(ckpt["identity"])
        except Exception as exc:  # a truncated or foreign file: torch raises several kinds
            raise InputError(
                f"not a readable hvppi checkpoint ({type(exc).__name__}: {exc})", checkpoint_path
            ) from None
        if saved != json.loads(json.dumps(identity, sort_keys=True)):
            changed = [k for k in identity if saved.get(k) != json.loads(json.dumps(identity[k]))]
            raise InputError(
                f"cannot resume: the checkpoint was written for other {', '.join(changed)}", checkpoint_path
            )
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        best_state = ckpt["best_state"]
        state = _State(
            ckpt["epoch"], ckpt["best_loss"], ckpt["best_epoch"], ckpt["best_cutoff"], json.loads(ckpt["best_metrics"])
        )
        log(
            f"resuming after epoch {state.epoch} (best validation loss {state.best_loss:.5f} at epoch {state.best_epoch})"
        )
        if log_path.exists():
            kept = [l for l in _log_lines(log_path) if json.loads(l)["epoch"] <= state.epoch]
            with atomic_write(log_path) as fh:
                fh.write("".join(line + "\n" for line in kept))
    elif checkpoint_path.exists():
        raise InputError(
            "a training run is already here; use --resume to continue it or another output folder", out_dir
        )
    else:
        if resume:
            log(f"no checkpoint in {out_dir}; starting afresh")
        if log_path.exists():
            log_path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)

    train_labels = train_pairs.labels
    human_ids = np.asarray(train_pairs.human_ids, dtype=object)
    virus_ids = np.asarray(train_pairs.virus_ids, dtype=object)
    log(
        f"training on {len(train_pairs)} pairs ({int(train_labels.sum())} positive), validating on "
        f"{len(val_pairs)} ({int(val_pairs.labels.sum())} positive); {model.n_parameters()} parameters; device {device}"
    )
    stopped = "max_epochs"
    while state.epoch < config.max_epochs:
        if state.epoch - state.best_epoch >= config.patience:
            stopped = "early_stopping"
            break
        if time_limit is not None and time.perf_counter() - call_started >= time_limit:
            stopped = "time_limit"
            log(f"time limit reached after epoch {state.epoch}; continue with --resume")
            break
        epoch = state.epoch + 1
        rng = _seed_everything(config.seed, epoch)
        started = time.perf_counter()
        chosen = epoch_pairs(train_labels, config.negative_ratio, rng)
        counts = None
        if config.class_count == "dataset":
            n_pos = int(train_labels[chosen].sum())
            counts = (len(chosen) - n_pos, n_pos)
        model.train()
        total, residues = 0.0, 0
        batches = [chosen[b] for b in stratified_batches(train_labels[chosen], config.batch_size, rng)]
        bar = tqdm(batches, desc=f"epoch {epoch}", unit="batch", disable=not progress, leave=False)
        for batch in bar:
            h_tokens, h_lengths = pad_tokens([tokens[p] for p in human_ids[batch]])
            v_tokens, v_lengths = pad_tokens([tokens[p] for p in virus_ids[batch]])
            labels = torch.from_numpy(train_labels[batch].astype(np.float32)).to(device)
            optimizer.zero_grad(set_to_none=True)
            logits = model(h_tokens.to(device), h_lengths, v_tokens.to(device), v_lengths)
            loss = class_balanced_loss(logits, labels, config.beta, counts)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            residues += int(h_lengths.sum() + v_lengths.sum())
            bar.set_postfix(loss=f"{loss.item():.4f}")
        train_loss = total / len(chosen)
        train_seconds = time.perf_counter() - started
        val_loss, val_metrics, _ = _evaluate(model, val_pairs, tokens, device, config.beta)
        state.epoch = epoch
        improved = val_loss < state.best_loss
        if improved:
            state.best_loss, state.best_epoch = val_loss, epoch
            state.best_cutoff, state.best_metrics = val_metrics["cutoff"], val_metrics
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            _save_best(out_dir / MODEL, model_config, best_state, state, identity, config)
        with atomic_path(checkpoint_path) as tmp:
            torch.save(_checkpoint_payload(model, optimizer, state, best_state, identity), tmp)
        entry = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            **{f"val_{k}": v for k, v in val_metrics.items()},
            "train_pairs": len(chosen),
            "residues_per_s": residues / train_seconds,
            "seconds": time.perf_counter() - started,
            "best": improved,
        }
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        log(
            f"epoch {epoch}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, val ROC AUC "
            f"{val_metrics['roc_auc']:.4f}, PR AUC {val_metrics['pr_auc']:.4f}"
            f"{' *' if improved else ''} ({entry['seconds']:.0f} s)"
        )
    if not (out_dir / MODEL).exists():
        raise RuntimeError("training ended without a model (no epoch was run)")
    return {
        "model": str(out_dir / MODEL),
        "epochs": state.epoch,
        "best_epoch": state.best_epoch,
        "best_val_loss": state.best_loss,
        "cutoff": state.best_cutoff,
        "validation_metrics": state.best_metrics,
        "stopped": stopped,
    }


def _save_best(
    path: Path, model_config: ModelConfig, best_state, state: _State, identity: dict, config: TrainConfig
) -> None:
    model = InteractionModel(model_config)
    model.load_state_dict(best_state)
    info = ModelInfo(
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

"""Inference with a trained model, encoding each protein once.

In evaluation mode a protein's tower vector depends only on the protein and the model, so a set of
pairs is scored by encoding its distinct human and viral proteins once each and running only the
small head per pair. A model that reads per-protein embeddings takes them as ``embeddings``
({"human": ProteinEmbeddings, "virus": ...}, :mod:`hvppi.io.embeddings`); they are projected once
per protein too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch

from hvppi.io.alphabet import tokenize
from hvppi.io.embeddings import ProteinEmbeddings
from hvppi.io.pairs import PairTable
from hvppi.io.progress import progress as bar_or_lines
from hvppi.lstm.model import TOWER_NAMES, InteractionModel, ModelConfig, Tower, TowerName
from hvppi.pretrained.base import length_batches

Embeddings = Mapping[str, ProteinEmbeddings]
"""Per-protein embeddings by side ("human", "virus"), for a model that reads them."""

TRAINING_MAX_LENGTH = 1000
"""The longest protein the bundled BiLSTM-attention models were trained on (the model card; LSTM-PHV's
limit): ``hvppi train`` rejects longer ones by default, and predict/screen warn about them."""


def long_proteins(sequences: dict[str, str], ids: Iterable[str], limit: int) -> list[tuple[str, int]]:
    """(ID, length) of the proteins among ``ids`` longer than ``limit`` residues, longest first."""
    found = {pid: len(sequences[pid]) for pid in set(ids) if pid in sequences and len(sequences[pid]) > limit}
    return sorted(found.items(), key=lambda item: (-item[1], item[0]))


def describe_long(found: list[tuple[str, int]], shown: int = 5) -> str:
    """'ID (N aa), ...' for the first ``shown`` of ``found``, with the count of the rest."""
    text = ", ".join(f"{pid} ({n:,} aa)" for pid, n in found[:shown])
    return text + (f" and {len(found) - shown} more" if len(found) > shown else "")


def warn_long_proteins(
    sequences: dict[str, str], ids: Iterable[str], log: Callable[[str], None], limit: int = TRAINING_MAX_LENGTH
) -> None:
    """Log one warning naming the proteins longer than the BiLSTM model's training maximum."""
    found = long_proteins(sequences, ids, limit)
    if found:
        log(
            f"warning: {len(found)} protein(s) longer than the model's training maximum of {limit:,} residues: "
            f"{describe_long(found)}; their scores are extrapolations"
        )


def pad_tokens(token_arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token arrays with 0 → tokens (B, T) int64, lengths (B,) int64."""
    lengths = np.fromiter((len(t) for t in token_arrays), dtype=np.int64, count=len(token_arrays))
    padded = np.zeros((len(token_arrays), int(lengths.max())), dtype=np.int64)
    for row, tokens in zip(padded, token_arrays):
        row[: len(tokens)] = tokens
    return torch.from_numpy(padded), torch.from_numpy(lengths)


@torch.inference_mode()
def encode_proteins(
    tower: Tower,
    token_arrays: Sequence[np.ndarray],
    device: torch.device | str = "cpu",
    with_attention: bool = False,
    progress: bool = False,
    desc: str = "encoding",
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """Tower vectors (n, 64) float32 of the given token arrays, and optionally per-residue attention."""
    was_training = tower.training
    tower.eval()
    device = torch.device(device)
    lengths = np.array([len(t) for t in token_arrays], dtype=np.int64)
    vectors = np.zeros((len(token_arrays), tower.protein_dim), dtype=np.float32)
    weights_of: dict[int, np.ndarray] = {}  # index → attention weights, with_attention only
    batches = length_batches(lengths)
    with bar_or_lines(len(token_arrays), desc, "protein", progress, leave=False) as bar:
        for batch in batches:
            tokens, batch_lengths = pad_tokens([token_arrays[i] for i in batch])
            pooled, weights = tower(tokens.to(device), batch_lengths)
            vectors[batch] = pooled.float().cpu().numpy()
            if with_attention:
                weights = weights.float().cpu().numpy()
                for row, i in enumerate(batch):
                    weights_of[i] = weights[row, : lengths[i]].copy()
            bar.update(len(batch))
    tower.train(was_training)
    attention = [weights_of[i] for i in range(len(token_arrays))] if with_attention else None
    return vectors, attention


@torch.inference_mode()
def head_logits(
    model: InteractionModel,
    human_vectors: np.ndarray,
    virus_vectors: np.ndarray,
    human_index: np.ndarray,
    virus_index: np.ndarray,
    device: torch.device | str = "cpu",
    batch_size: int = 65536,
) -> np.ndarray:
    """Logits of the pairs (human_vectors[human_index[k]], virus_vectors[virus_index[k]])."""
    was_training = model.training
    model.eval()
    device = torch.device(device)
    human_t = torch.from_numpy(human_vectors).to(device)
    virus_t = torch.from_numpy(virus_vectors).to(device)
    out = np.empty(len(human_index), dtype=np.float64)
    for start in range(0, len(human_index), batch_size):
        h = torch.from_numpy(np.asarray(human_index[start : start + batch_size])).to(device)
        v = torch.from_numpy(np.asarray(virus_index[start : start + batch_size])).to(device)
        logits = model.head(torch.cat([human_t[h], virus_t[v]], dim=1))
        out[start : start + len(h)] = logits.double().cpu().numpy()
    model.train(was_training)
    return out


class EncodedPairs(NamedTuple):
    """The distinct proteins of a pair set, each encoded once, and each pair's rows among them."""

    human_vectors: np.ndarray
    virus_vectors: np.ndarray
    human_index: np.ndarray
    virus_index: np.ndarray

    def intermediate(self) -> np.ndarray:
        """Intermediate vectors (human ‖ virus; 128-d without embeddings) of the pairs, in input order."""
        return np.concatenate([self.human_vectors[self.human_index], self.virus_vectors[self.virus_index]], axis=1)

    def logits(self, model: InteractionModel, device: torch.device | str = "cpu") -> np.ndarray:
        """The head's logit of every pair, in input order."""
        return head_logits(model, *self, device)


def check_embeddings(config: ModelConfig, embeddings: Embeddings | None) -> None:
    """ValueError unless ``embeddings`` has, of the right size, exactly the sides a model of ``config`` reads."""
    given = dict(embeddings or {})
    for side in given:
        if side not in TOWER_NAMES:
            raise ValueError(f"embeddings for {side!r}: the sides are 'human' and 'virus'")
    for side in TOWER_NAMES:
        dim, found = config.embedding_dim(side), given.get(side)
        if dim and found is None:
            raise ValueError(f"the model reads {dim}-d {side} protein embeddings; none were given")
        if not dim and found is not None:
            raise ValueError(f"{side} protein embeddings given, but the model reads none")
        if found is not None and found.source.dim != dim:
            raise ValueError(f"{found.source.dim}-d {side} protein embeddings given; the model reads {dim}-d")


@torch.inference_mode()
def project_embeddings(
    model: InteractionModel,
    side: TowerName,
    vectors: np.ndarray,
    device: torch.device | str = "cpu",
    batch_size: int = 65536,
) -> np.ndarray:
    """The ``side``'s projection (evaluation mode) of per-protein embeddings (n, dim) → (n, protein_dim) float32."""
    module = model.projection(side)
    was_training = module.training
    module.eval()
    out = np.empty((len(vectors), model.config.protein_dim), dtype=np.float32)
    for start in range(0, len(vectors), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(vectors[start : start + batch_size])).to(device)
        out[start : start + len(batch)] = module(batch).float().cpu().numpy()
    module.train(was_training)
    return out


def side_vectors(
    model: InteractionModel,
    side: TowerName,
    ids: Sequence[str],
    tokens: Mapping[str, np.ndarray] | None = None,
    embeddings: ProteinEmbeddings | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    tower_vectors: np.ndarray | None = None,
) -> np.ndarray:
    """Protein vectors (n, side_dim) of ``ids`` on one side: tower vectors (from ``tokens``, or given as
    ``tower_vectors``) ‖ projected embeddings, as the model's configuration asks."""
    parts = []
    if model.config.towers:
        if tower_vectors is None:
            if tokens is None:
                raise ValueError(f"the {side} tower needs the proteins' tokens")
            desc = "human proteins" if side == "human" else "viral proteins"
            tower_vectors, _ = encode_proteins(
                model.tower(side), [tokens[p] for p in ids], device, progress=progress, desc=desc
            )
        parts.append(tower_vectors)
    if model.config.embedding_dim(side):
        if embeddings is None:
            raise ValueError(f"the model reads {side} protein embeddings; none were given")
        parts.append(project_embeddings(model, side, embeddings.vectors(ids), device))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def encode_pair_proteins(
    model: InteractionModel,
    pairs: PairTable,
    tokens: Mapping[str, np.ndarray] | None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    embeddings: Embeddings | None = None,
) -> EncodedPairs:
    """Encode the distinct proteins of ``pairs`` → (human vectors, virus vectors, human index, virus index)."""
    check_embeddings(model.config, embeddings)
    embeddings = embeddings or {}
    human_ids, human_index = np.unique(np.asarray(pairs.human_ids, dtype=object), return_inverse=True)
    virus_ids, virus_index = np.unique(np.asarray(pairs.virus_ids, dtype=object), return_inverse=True)
    human_vectors = side_vectors(model, "human", list(human_ids), tokens, embeddings.get("human"), device, progress)
    virus_vectors = side_vectors(model, "virus", list(virus_ids), tokens, embeddings.get("virus"), device, progress)
    return EncodedPairs(human_vectors, virus_vectors, human_index, virus_index)


def tokenize_sequences(sequences: dict[str, str], ids: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Tokens of the sequences of ``ids`` (default: all), keyed by ID."""
    ids = sequences.keys() if ids is None else ids
    return {pid: tokenize(sequences[pid]) for pid in ids}


def encode_pairs(
    model: InteractionModel,
    pairs: PairTable,
    sequences: dict[str, str] | None = None,
    tokens: dict[str, np.ndarray] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    embeddings: Embeddings | None = None,
) -> EncodedPairs:
    """Encode the distinct proteins of ``pairs`` from ``tokens``, or from ``sequences`` tokenized here
    (a model without towers needs neither), and the ``embeddings`` the model reads."""
    if tokens is None and model.config.towers:
        if sequences is None:
            raise ValueError("give the sequences or the tokens of the pairs' proteins")
        tokens = tokenize_sequences(sequences, set(pairs.human_ids) | set(pairs.virus_ids))
    return encode_pair_proteins(model, pairs, tokens, device, progress, embeddings)


def pair_logits(
    model: InteractionModel,
    pairs: PairTable,
    sequences: dict[str, str] | None = None,
    tokens: dict[str, np.ndarray] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    embeddings: Embeddings | None = None,
) -> np.ndarray:
    """Logits of every pair, in input order."""
    return encode_pairs(model, pairs, sequences, tokens, device, progress, embeddings).logits(model, device)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities 1 / (1 + exp(−logit)), float64: how hvppi turns every logit into a score."""
    with np.errstate(over="ignore"):  # exp overflows to inf for logits below about −709: the score is 0
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def score_pairs(
    model: InteractionModel,
    pairs: PairTable,
    sequences: dict[str, str] | None = None,
    tokens: dict[str, np.ndarray] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    embeddings: Embeddings | None = None,
) -> np.ndarray:
    """Interaction probabilities of every pair, in input order (``embeddings``: those the model reads)."""
    return sigmoid(pair_logits(model, pairs, sequences, tokens, device, progress, embeddings))


def set_threads(threads: int) -> None:
    """Let PyTorch use ``threads`` CPU threads; 0 leaves PyTorch's own choice."""
    if threads < 0:
        raise ValueError(f"threads must be 0 (PyTorch's choice) or more, not {threads}")
    if threads:
        torch.set_num_threads(threads)

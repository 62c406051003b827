"""The two-tower BiLSTM-attention interaction model of Tsukiyama et al. (2020).

Tower (one for human, one for viral proteins, same structure, separate weights)::

    tokens → Guo 2008 features (7) → BiLSTM (32 per direction) → Dropout(0.5)
           → attention: Linear(64→32) → ReLU → Dropout(0.5) → Linear(32→1), softmax over the
             valid positions only → Dropout(0.2) on the weights
           → Σ_t weight_t · output_t  = 64-d protein vector

Head: human ‖ virus (128-d intermediate vector) → Linear 64, 32, 16, 8, 4, each followed by
BatchNorm, sigmoid and Dropout(0.5) → Linear(4→1) → logit (sigmoid gives the probability).

Pretrained features (not in the paper): a side given per-protein embeddings (``human_embedding_dim``,
``virus_embedding_dim``) projects them with Linear(dim → 64) → ReLU → Dropout(head_dropout); its
protein vector is tower ‖ projection (128-d), or the projection alone when ``towers`` is False. The
head's input width follows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, cast, get_args

import numpy as np
import torch
from torch import nn

from hvppi.io.validation import require_fraction, require_int
from hvppi.lstm.features import feature_table

TowerName = Literal["human", "virus"]
"""The two towers of the model, by the proteins they read."""
TOWER_NAMES: tuple[str, ...] = get_args(TowerName)


def check_tower(name: str) -> TowerName:
    """``name`` if it names a tower ("human" or "virus"); else ValueError (a typo never picks a tower)."""
    if name not in TOWER_NAMES:
        raise ValueError(f"tower must be 'human' or 'virus', got {name!r}")
    return cast(TowerName, name)


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and dropout rates of the model; the defaults are the paper's. Checked on construction:
    sizes are positive integers, dropout rates lie in [0, 1)."""

    n_features: int = 7
    lstm_hidden: int = 32
    attention_hidden: int = 32
    lstm_dropout: float = 0.5
    attention_dropout: float = 0.5
    attention_weight_dropout: float = 0.2
    head_widths: tuple[int, ...] = (64, 32, 16, 8, 4)
    head_dropout: float = 0.5
    human_embedding_dim: int = 0
    virus_embedding_dim: int = 0
    towers: bool = True

    def __post_init__(self) -> None:
        for name in ("n_features", "lstm_hidden", "attention_hidden"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("human_embedding_dim", "virus_embedding_dim"):
            require_int(name, getattr(self, name), minimum=0)
        if not isinstance(self.towers, bool):
            raise ValueError(f"towers must be true or false, got {self.towers!r}")
        if not self.towers and not (self.human_embedding_dim and self.virus_embedding_dim):
            raise ValueError("a model without towers needs embeddings of both sides (human and virus)")
        for name in ("lstm_dropout", "attention_dropout", "attention_weight_dropout", "head_dropout"):
            require_fraction(name, getattr(self, name), closed_high=False)
        if isinstance(self.head_widths, str) or not isinstance(self.head_widths, (tuple, list)):
            raise ValueError(f"head_widths must be a tuple of positive integers, got {self.head_widths!r}")
        for width in self.head_widths:
            require_int("head_widths", width, minimum=1)
        object.__setattr__(self, "head_widths", tuple(int(w) for w in self.head_widths))

    @property
    def protein_dim(self) -> int:
        """Size of a tower's protein vector (both LSTM directions)."""
        return 2 * self.lstm_hidden

    def embedding_dim(self, side: str) -> int:
        """Size of the per-protein embeddings the ``side`` ("human"/"virus") reads; 0: none."""
        return self.human_embedding_dim if check_tower(side) == "human" else self.virus_embedding_dim

    def side_dim(self, side: str) -> int:
        """Size of a side's protein vector: tower vector and/or projected embedding."""
        return self.protein_dim * (int(self.towers) + int(self.embedding_dim(side) > 0))

    @property
    def intermediate_dim(self) -> int:
        """Size of the head's input (human ‖ virus protein vectors)."""
        return self.side_dim("human") + self.side_dim("virus")

    @property
    def uses_embeddings(self) -> bool:
        """Whether either side reads per-protein embeddings."""
        return bool(self.human_embedding_dim or self.virus_embedding_dim)

    def to_dict(self) -> dict:
        """The settings as JSON-ready data (:meth:`from_dict` reads them back); the embedding settings only
        when they differ from the defaults, so a model without embeddings is described as before them."""
        data = dataclasses.asdict(self)
        for name, default in _OMITTED_AT_DEFAULT.items():
            if data[name] == default:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Settings from :meth:`to_dict`'s data; unknown keys and bad values raise ValueError."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**data)


_OMITTED_AT_DEFAULT = {"human_embedding_dim": 0, "virus_embedding_dim": 0, "towers": True}


class Dropout(nn.Dropout):
    """Inverted dropout whose mask comes from ``rand_like``: same semantics as ``nn.Dropout``, but
    PyTorch's CPU ``bernoulli_`` is about 3.5x slower and took a quarter of a training step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = torch.empty_like(x).uniform_().ge_(self.p).mul_(1.0 / (1.0 - self.p))
        return x * mask


class _RowPermutation(torch.autograd.Function):
    """Rows of a flattened tensor picked by a self-inverse permutation; the gradient is picked the
    same way (cheaper than the scatter-add of a general gather's backward)."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.save_for_backward(index)
        return x.index_select(0, index)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return grad.index_select(0, index), None


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row of x (B, T, ...) over its first ``lengths[b]`` steps; padding stays in place."""
    batch, steps = x.shape[:2]
    t = torch.arange(steps, device=x.device)[None, :]
    index = lengths.to(x.device)[:, None] - 1 - t
    index = torch.where(index >= 0, index, t) + steps * torch.arange(batch, device=x.device)[:, None]
    flat = x.reshape(batch * steps, *x.shape[2:])
    return _RowPermutation.apply(flat, index.reshape(-1)).view(x.shape)


class Tower(nn.Module):
    """BiLSTM with attention pooling: a padded batch of tokens → protein vectors and attention.

    The two LSTM directions run as two unidirectional LSTMs on padded input, the backward one on
    each sequence reversed within its own length. This equals a packed bidirectional LSTM, so a
    protein's output never depends on the rest of its batch, while staying on oneDNN's fast padded
    path (packed variable-length input falls back to a path about 10x slower on the CPU). Batches
    are cut into length-sorted chunks of ``chunk_size`` sequences so little padding is computed.
    """

    chunk_size = 32
    features: torch.Tensor  # a registered buffer: (tokens, n_features)

    def __init__(self, config: ModelConfig, features: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("features", features.clone())
        self.lstm_forward = nn.LSTM(config.n_features, config.lstm_hidden, batch_first=True)
        self.lstm_backward = nn.LSTM(config.n_features, config.lstm_hidden, batch_first=True)
        self.lstm_dropout = Dropout(config.lstm_dropout)
        self.attention = nn.Sequential(
            nn.Linear(config.protein_dim, config.attention_hidden),
            nn.ReLU(),
            Dropout(config.attention_dropout),
            nn.Linear(config.attention_hidden, 1),
        )
        self.weight_dropout = Dropout(config.attention_weight_dropout)
        self.protein_dim = config.protein_dim

    def _bilstm(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """BiLSTM outputs (B, T, 64); rows past a sequence's length hold meaningless values."""
        forward, _ = self.lstm_forward(nn.functional.embedding(tokens, self.features))
        reversed_tokens = reverse_within_length(tokens, lengths)
        backward, _ = self.lstm_backward(nn.functional.embedding(reversed_tokens, self.features))
        return torch.cat([forward, reverse_within_length(backward, lengths)], dim=2)

    def residue_outputs(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """BiLSTM outputs (B, T, 64) of a padded batch; rows past a sequence's length are zero."""
        valid = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths.to(tokens.device)[:, None]
        return self._bilstm(tokens, lengths) * valid[:, :, None]

    def _pool(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Padding rows are left unmasked: their attention weight is exactly zero after the softmax.
        out = self.lstm_dropout(self._bilstm(tokens, lengths))
        scores = self.attention(out).squeeze(-1)
        valid = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths.to(tokens.device)[:, None]
        weights = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=1)
        pooled = torch.bmm(self.weight_dropout(weights).unsqueeze(1), out).squeeze(1)
        return pooled, weights

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, T) with 0 as padding, lengths (B,) → vectors (B, 64), attention (B, T)."""
        lengths = lengths.cpu()
        if tokens.shape[0] <= self.chunk_size:
            steps = int(lengths.max())
            pooled, weights = self._pool(tokens[:, :steps], lengths)
            return pooled, nn.functional.pad(weights, (0, tokens.shape[1] - steps))
        order = torch.argsort(lengths, descending=True)
        weights = tokens.new_zeros(tokens.shape, dtype=self.features.dtype)
        pooled_chunks, weight_chunks = [], []
        for chunk in torch.split(order, self.chunk_size):
            steps = int(lengths[chunk].max())
            index = chunk.to(tokens.device)
            p, w = self._pool(tokens[index, :steps], lengths[chunk])
            pooled_chunks.append((index, p))
            weight_chunks.append((index, w, steps))
        pooled = torch.cat([p for _, p in pooled_chunks])[torch.argsort(order).to(tokens.device)]
        for index, w, steps in weight_chunks:
            weights[index, :steps] = w
        return pooled, weights


class InteractionHead(nn.Module):
    """MLP from the intermediate vector (128-d without embeddings) to an interaction logit."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = config.intermediate_dim
        for out_width in config.head_widths:
            layers += [
                nn.Linear(width, out_width),
                nn.BatchNorm1d(out_width),
                nn.Sigmoid(),
                Dropout(config.head_dropout),
            ]
            width = out_width
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, intermediate: torch.Tensor) -> torch.Tensor:
        return self.layers(intermediate).squeeze(-1)


def embedding_projection(config: ModelConfig, dim: int) -> nn.Sequential:
    """Linear(dim → protein_dim) → ReLU → Dropout(head_dropout): a side's embedding as a protein vector."""
    return nn.Sequential(nn.Linear(dim, config.protein_dim), nn.ReLU(), Dropout(config.head_dropout))


class InteractionModel(nn.Module):
    """Human side + viral side + head. ``forward`` returns logits.

    A side is a tower, a projection of per-protein embeddings, or both (see the module docstring)."""

    human_tower: Tower
    virus_tower: Tower

    def __init__(self, config: ModelConfig | None = None, features: np.ndarray | torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        if self.config.towers:
            table = torch.as_tensor(feature_table() if features is None else features, dtype=torch.float32)
            if table.shape[1] != self.config.n_features:
                raise ValueError(f"feature table has {table.shape[1]} columns, config says {self.config.n_features}")
            self.human_tower = Tower(self.config, table)
            self.virus_tower = Tower(self.config, table)
        if self.config.human_embedding_dim:
            self.human_projection = embedding_projection(self.config, self.config.human_embedding_dim)
        if self.config.virus_embedding_dim:
            self.virus_projection = embedding_projection(self.config, self.config.virus_embedding_dim)
        self.head = InteractionHead(self.config)

    def tower(self, name: TowerName) -> Tower:
        """The human or the viral tower by name; any other name, or a model without towers, is a ValueError."""
        side = check_tower(name)
        if not self.config.towers:
            raise ValueError("this model has no towers: it reads per-protein embeddings only")
        return self.human_tower if side == "human" else self.virus_tower

    def projection(self, name: TowerName) -> nn.Module:
        """The embedding projection of a side; ValueError if the side reads no embeddings."""
        side = check_tower(name)
        if not self.config.embedding_dim(side):
            raise ValueError(f"this model reads no {side} protein embeddings")
        return self.human_projection if side == "human" else self.virus_projection

    def side_vectors(
        self,
        name: TowerName,
        tokens: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        embeddings: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """A side's protein vectors: the tower's of padded tokens ‖ the projection of embeddings (B, dim)."""
        side = check_tower(name)
        parts = []
        if self.config.towers:
            if tokens is None or lengths is None:
                raise ValueError(f"the {side} tower needs the proteins' tokens and lengths")
            parts.append(self.tower(side)(tokens, lengths)[0])
        dim = self.config.embedding_dim(side)
        if dim:
            if embeddings is None:
                raise ValueError(f"the model reads {dim}-d {side} protein embeddings; none were given")
            if embeddings.ndim != 2 or embeddings.shape[1] != dim:
                raise ValueError(
                    f"{side} protein embeddings of shape {tuple(embeddings.shape)}; the model reads {dim}-d"
                )
            parts.append(self.projection(side)(embeddings))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def intermediate(
        self,
        human_tokens: torch.Tensor | None = None,
        human_lengths: torch.Tensor | None = None,
        virus_tokens: torch.Tensor | None = None,
        virus_lengths: torch.Tensor | None = None,
        *,
        human_embeddings: torch.Tensor | None = None,
        virus_embeddings: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The intermediate vectors (human ‖ virus protein vectors; 128-d without embeddings)."""
        human = self.side_vectors("human", human_tokens, human_lengths, human_embeddings)
        virus = self.side_vectors("virus", virus_tokens, virus_lengths, virus_embeddings)
        return torch.cat([human, virus], dim=1)

    def forward(
        self,
        human_tokens: torch.Tensor | None = None,
        human_lengths: torch.Tensor | None = None,
        virus_tokens: torch.Tensor | None = None,
        virus_lengths: torch.Tensor | None = None,
        *,
        human_embeddings: torch.Tensor | None = None,
        virus_embeddings: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Interaction logits of padded token batches (tokens (B, T), 0 as padding; lengths (B,)) and/or
        per-protein embeddings (B, dim), as the configuration asks."""
        intermediate = self.intermediate(
            human_tokens,
            human_lengths,
            virus_tokens,
            virus_lengths,
            human_embeddings=human_embeddings,
            virus_embeddings=virus_embeddings,
        )
        return self.head(intermediate)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

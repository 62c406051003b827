"""ProteinBERT (Brandes et al. 2022, protein-bert 1.0.1) in PyTorch, its checkpoint converter and embedder.

The published checkpoint (``epoch_92400_sample_23500000.pkl``) is a pickle of ``(n_annotations,
model_weights, optimizer_weights)``, ``model_weights`` being Keras ``model.get_weights()``. It is read
with :func:`~hvppi.pretrained.safe_pickle.load_numpy_pickle`, which runs nothing from the file, and
:func:`convert_checkpoint` stores it as safetensors with the configuration in the metadata.

The port follows ``conv_and_global_attention_model.create_model``: per block, the sequence track adds
a dense projection of the global track and a narrow (dilation 1) and a wide (dilation 5) convolution
with Keras "same" padding, then a dense layer, each followed by a LayerNorm (epsilon 1e-3, Keras's);
the global track adds a dense layer and a global attention (queries from the global track, keys and
values from the sequence; tanh on queries and keys, GELU on values; no padding mask), then a dense
layer, each followed by a LayerNorm. GELU is exact (erf). Without GO annotations (the input of
``InputEncoder.encode_X`` is all zeros) the global input is GELU of the input layer's bias.

Sequences are tokenized as protein-bert does (22 residue letters, ``<OTHER>`` for B, Z, O and J,
``<START>`` before, ``<END>`` after) and padded with ``<PAD>`` to ``seq_len`` (default 512). The
numbers depend on ``seq_len`` (padding positions are seen by the convolutions and the attention), so
it is part of the configuration and of the fingerprint.

Representations are those of ``get_model_with_hidden_layers_as_outputs``, which the paper uses:

* global (per protein): the global input layer, the two LayerNorm outputs of every block and the
  sigmoid annotation predictions, concatenated (512 + 12 × 512 + 8943 = 15,599 values for the
  published model);
* local (per residue): the two LayerNorm outputs of every block and the softmax token predictions,
  concatenated (12 × 128 + 26 = 1,562 values), for the residue positions only (no START, END or PAD).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from hvppi.io.errors import HvppiError, ModelFileError
from hvppi.io.files import atomic_path
from hvppi.pretrained.base import Embedder, Vectors, resolve_device
from hvppi.pretrained.safe_pickle import load_numpy_pickle

RESIDUES = "ACDEFGHIKLMNPQRSTUVWXY"
SPECIAL_TOKENS = ("<OTHER>", "<START>", "<END>", "<PAD>")
VOCAB = (*RESIDUES, *SPECIAL_TOKENS)
OTHER, START, END, PAD = (len(RESIDUES) + i for i in range(len(SPECIAL_TOKENS)))
LAYER_NORM_EPS = 1e-3
FORMAT = "hvppi-proteinbert"
FORMAT_VERSION = 1
WEIGHTS_PER_BLOCK = 23
WEIGHTS_OUTSIDE_BLOCKS = 7
_TOKEN_INDEX = np.full(256, OTHER, dtype=np.int64)
for _i, _aa in enumerate(RESIDUES):
    _TOKEN_INDEX[ord(_aa)] = _i


@dataclasses.dataclass(frozen=True)
class ProteinBertConfig:
    """The sizes of a ProteinBERT model (defaults: the published one) and the length it pads to."""

    seq_len: int = 512
    d_hidden_seq: int = 128
    d_hidden_global: int = 512
    n_blocks: int = 6
    n_heads: int = 4
    d_key: int = 64
    conv_kernel_size: int = 9
    wide_conv_dilation_rate: int = 5
    n_annotations: int = 8943
    vocab: tuple[str, ...] = VOCAB

    LIMITS: ClassVar[dict[str, int]] = {
        "seq_len": 1 << 17,
        "d_hidden_seq": 8192,
        "d_hidden_global": 8192,
        "n_blocks": 64,
        "n_heads": 256,
        "d_key": 8192,
        "conv_kernel_size": 257,
        "wide_conv_dilation_rate": 1024,
        "n_annotations": 1 << 18,
    }

    def __post_init__(self) -> None:
        for name, limit in self.LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                raise ValueError(f"{name} must be an integer from 1 to {limit}, got {value!r}")
        if self.seq_len < 3:
            raise ValueError(f"seq_len must be at least 3 (START, a residue, END), got {self.seq_len}")
        if self.d_hidden_global % self.n_heads:
            raise ValueError(f"d_hidden_global {self.d_hidden_global} is not a multiple of n_heads {self.n_heads}")
        if tuple(self.vocab) != VOCAB:
            raise ValueError(f"vocab {list(self.vocab)} is not ProteinBERT's {list(VOCAB)}")

    @property
    def d_value(self) -> int:
        return self.d_hidden_global // self.n_heads

    @property
    def global_dim(self) -> int:
        """Values per protein: input layer, two LayerNorms per block, annotation predictions."""
        return self.d_hidden_global * (1 + 2 * self.n_blocks) + self.n_annotations

    @property
    def local_dim(self) -> int:
        """Values per residue: two LayerNorms per block, token predictions."""
        return 2 * self.n_blocks * self.d_hidden_seq + len(self.vocab)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "vocab": list(self.vocab)}

    @classmethod
    def from_dict(cls, doc: Any) -> ProteinBertConfig:
        if not isinstance(doc, dict):
            raise ValueError(f"the configuration is a JSON {type(doc).__name__}, not an object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(doc) - names)
        if unknown:
            raise ValueError(f"unknown configuration keys {', '.join(unknown)}")
        values = dict(doc)
        if "vocab" in values:
            if not isinstance(values["vocab"], list):
                raise ValueError("vocab is not a list")
            values["vocab"] = tuple(values["vocab"])
        return cls(**values)


def _same_pad(x: torch.Tensor, kernel_size: int, dilation: int) -> torch.Tensor:
    """Zero padding of (batch, channels, length) as Keras/TensorFlow "same" does it (the odd one on the right)."""
    total = (kernel_size - 1) * dilation
    return F.pad(x, (total // 2, total - total // 2))


class GlobalAttention(nn.Module):
    """Heads whose one query comes from the global track and whose keys and values come from every position."""

    def __init__(self, d_global: int, d_seq: int, n_heads: int, d_key: int, d_value: int) -> None:
        super().__init__()
        self.d_key = d_key
        self.wq = nn.Parameter(torch.empty(n_heads, d_global, d_key))
        self.wk = nn.Parameter(torch.empty(n_heads, d_seq, d_key))
        self.wv = nn.Parameter(torch.empty(n_heads, d_seq, d_value))

    def forward(self, hidden_global: torch.Tensor, hidden_seq: torch.Tensor) -> torch.Tensor:
        query = torch.tanh(torch.einsum("bg,hgk->bhk", hidden_global, self.wq))
        keys = torch.tanh(torch.einsum("bls,hsk->bhlk", hidden_seq, self.wk))
        values = F.gelu(torch.einsum("bls,hsv->bhlv", hidden_seq, self.wv))
        weights = torch.softmax(torch.einsum("bhk,bhlk->bhl", query, keys) / math.sqrt(self.d_key), dim=-1)
        return torch.einsum("bhl,bhlv->bhv", weights, values).flatten(1)


class ProteinBertBlock(nn.Module):
    """One block: sequence track (convolutions, dense) and global track (dense, global attention)."""

    def __init__(self, config: ProteinBertConfig) -> None:
        super().__init__()
        d_seq, d_global, k = config.d_hidden_seq, config.d_hidden_global, config.conv_kernel_size
        self.kernel_size, self.dilation = k, config.wide_conv_dilation_rate
        self.global_to_seq = nn.Linear(d_global, d_seq)
        self.narrow_conv = nn.Conv1d(d_seq, d_seq, k)
        self.wide_conv = nn.Conv1d(d_seq, d_seq, k, dilation=self.dilation)
        self.seq_norm1 = nn.LayerNorm(d_seq, eps=LAYER_NORM_EPS)
        self.seq_dense = nn.Linear(d_seq, d_seq)
        self.seq_norm2 = nn.LayerNorm(d_seq, eps=LAYER_NORM_EPS)
        self.global_dense1 = nn.Linear(d_global, d_global)
        self.attention = GlobalAttention(d_global, d_seq, config.n_heads, config.d_key, config.d_value)
        self.global_norm1 = nn.LayerNorm(d_global, eps=LAYER_NORM_EPS)
        self.global_dense2 = nn.Linear(d_global, d_global)
        self.global_norm2 = nn.LayerNorm(d_global, eps=LAYER_NORM_EPS)

    def forward(self, seq: torch.Tensor, glob: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(batch, length, d_seq), (batch, d_global) → both LayerNorm outputs of each track."""
        channels = seq.transpose(1, 2)
        narrow = F.gelu(self.narrow_conv(_same_pad(channels, self.kernel_size, 1))).transpose(1, 2)
        wide = F.gelu(self.wide_conv(_same_pad(channels, self.kernel_size, self.dilation))).transpose(1, 2)
        seq1 = self.seq_norm1(seq + F.gelu(self.global_to_seq(glob))[:, None, :] + narrow + wide)
        seq2 = self.seq_norm2(seq1 + F.gelu(self.seq_dense(seq1)))
        glob1 = self.global_norm1(glob + F.gelu(self.global_dense1(glob)) + self.attention(glob, seq2))
        glob2 = self.global_norm2(glob1 + F.gelu(self.global_dense2(glob1)))
        return seq1, seq2, glob1, glob2


class ProteinBert(nn.Module):
    """ProteinBERT: tokens (batch, seq_len) → local (batch, seq_len, local_dim) and global (batch, global_dim)."""

    def __init__(self, config: ProteinBertConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(len(config.vocab), config.d_hidden_seq)
        self.global_input = nn.Linear(config.n_annotations, config.d_hidden_global)
        self.blocks = nn.ModuleList(ProteinBertBlock(config) for _ in range(config.n_blocks))
        self.output_seq = nn.Linear(config.d_hidden_seq, len(config.vocab))
        self.output_annotations = nn.Linear(config.d_hidden_global, config.n_annotations)

    def forward(self, tokens: torch.Tensor, local: bool = True) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Local and global representations of ``tokens`` (no annotations); local None unless asked for."""
        seq = self.embedding(tokens)
        glob = F.gelu(self.global_input.bias).expand(tokens.shape[0], -1)
        seq_layers, global_layers = [], [glob]
        for block in self.blocks:
            seq1, seq, glob1, glob = block(seq, glob)
            seq_layers += [seq1, seq]
            global_layers += [glob1, glob]
        global_layers.append(torch.sigmoid(self.output_annotations(glob)))
        if not local:
            return None, torch.cat(global_layers, dim=-1)
        seq_layers.append(torch.softmax(self.output_seq(seq), dim=-1))
        return torch.cat(seq_layers, dim=-1), torch.cat(global_layers, dim=-1)


def keras_weight_layout(config: ProteinBertConfig) -> list[tuple[str, str, str]]:
    """(Keras weight name, state-dict key, how the array becomes the tensor) in ``model.get_weights()`` order.

    The ways: ``same``, ``dense`` (Keras (in, out) → PyTorch (out, in)) and ``conv`` ((kernel, in, out) →
    (out, in, kernel)).
    """

    def dense(keras: str, torch_name: str) -> list[tuple[str, str, str]]:
        return [(f"{keras}/kernel", f"{torch_name}.weight", "dense"), (f"{keras}/bias", f"{torch_name}.bias", "same")]

    def conv(keras: str, torch_name: str) -> list[tuple[str, str, str]]:
        return [(f"{keras}/kernel", f"{torch_name}.weight", "conv"), (f"{keras}/bias", f"{torch_name}.bias", "same")]

    def norm(keras: str, torch_name: str) -> list[tuple[str, str, str]]:
        return [(f"{keras}/gamma", f"{torch_name}.weight", "same"), (f"{keras}/beta", f"{torch_name}.bias", "same")]

    layout = dense("dense-global-input", "global_input")
    layout.append(("embedding-seq-input/embeddings", "embedding.weight", "same"))
    for i in range(config.n_blocks):
        b, p = f"block{i + 1}", f"blocks.{i}"
        layout += dense(f"global-to-seq-dense-{b}", f"{p}.global_to_seq")
        layout += conv(f"narrow-conv-{b}", f"{p}.narrow_conv")
        layout += conv(f"wide-conv-{b}", f"{p}.wide_conv")
        layout += norm(f"seq-merge1-norm-{b}", f"{p}.seq_norm1")
        layout += dense(f"seq-dense-{b}", f"{p}.seq_dense")
        layout += norm(f"seq-merge2-norm-{b}", f"{p}.seq_norm2")
        layout += dense(f"global-dense1-{b}", f"{p}.global_dense1")
        layout += [(f"global-attention-{b}/W{x}", f"{p}.attention.w{x}", "same") for x in "qkv"]
        layout += norm(f"global-merge1-norm-{b}", f"{p}.global_norm1")
        layout += dense(f"global-dense2-{b}", f"{p}.global_dense2")
        layout += norm(f"global-merge2-norm-{b}", f"{p}.global_norm2")
    return layout + dense("output-seq", "output_seq") + dense("output-annotations", "output_annotations")


def expected_shapes(config: ProteinBertConfig) -> dict[str, tuple[int, ...]]:
    """Shape of every tensor of a model with ``config``, computed without allocating."""
    with torch.device("meta"):
        model = ProteinBert(config)
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def _keras_shape(shape: tuple[int, ...], way: str) -> tuple[int, ...]:
    if way == "dense":
        return shape[::-1]
    if way == "conv":
        return (shape[2], shape[1], shape[0])
    return shape


def _to_torch(array: np.ndarray, way: str) -> torch.Tensor:
    tensor = torch.from_numpy(np.array(array, dtype=np.float32))
    if way == "dense":
        tensor = tensor.T
    elif way == "conv":
        tensor = tensor.permute(2, 1, 0)
    return tensor.contiguous()


def _checkpoint_config(
    path: Path, n_annotations: Any, weights: list, seq_len: int, wide_conv_dilation_rate: int
) -> ProteinBertConfig:
    """The configuration the arrays of a checkpoint imply (seq_len and the dilation are not in it)."""
    blocks, extra = divmod(len(weights) - WEIGHTS_OUTSIDE_BLOCKS, WEIGHTS_PER_BLOCK)
    if blocks < 1 or extra:
        raise ModelFileError(
            f"{path}: holds {len(weights)} model weights; a ProteinBERT model has "
            f"{WEIGHTS_OUTSIDE_BLOCKS} + {WEIGHTS_PER_BLOCK} per block (145 for the published model)"
        )
    try:
        return ProteinBertConfig(
            n_annotations=int(n_annotations),
            d_hidden_global=int(weights[1].shape[0]),
            d_hidden_seq=int(weights[2].shape[1]),
            n_blocks=blocks,
            conv_kernel_size=int(weights[5].shape[0]),
            n_heads=int(weights[17].shape[0]),
            d_key=int(weights[17].shape[2]),
            seq_len=seq_len,
            wide_conv_dilation_rate=wide_conv_dilation_rate,
        )
    except (ValueError, IndexError) as exc:
        raise ModelFileError(f"{path}: not a ProteinBERT checkpoint ({exc})") from None


def _read_checkpoint(path: Path, seq_len: int, wide_conv_dilation_rate: int) -> tuple[dict, ProteinBertConfig]:
    """State dict and configuration from the original pickle, read without running code from it."""
    content = load_numpy_pickle(path)
    if not isinstance(content, (tuple, list)) or len(content) != 3:
        raise ModelFileError(
            f"{path}: not a ProteinBERT checkpoint (expected a pickled (n_annotations, model_weights, "
            f"optimizer_weights), found a {type(content).__name__})"
        )
    n_annotations, weights, _ = content
    if not isinstance(n_annotations, (int, np.integer)) or isinstance(n_annotations, bool):
        raise ModelFileError(
            f"{path}: not a ProteinBERT checkpoint (n_annotations is a {type(n_annotations).__name__})"
        )
    if not isinstance(weights, list) or not all(isinstance(w, np.ndarray) and w.ndim for w in weights):
        raise ModelFileError(f"{path}: not a ProteinBERT checkpoint (model_weights is not a list of NumPy arrays)")
    config = _checkpoint_config(path, n_annotations, weights, seq_len, wide_conv_dilation_rate)
    shapes = expected_shapes(config)
    state = {}
    for i, ((keras_name, key, way), array) in enumerate(zip(keras_weight_layout(config), weights)):
        expected = _keras_shape(shapes[key], way)
        if array.shape != expected:
            raise ModelFileError(
                f"{path}: model weight {i} ({keras_name}) has shape {list(array.shape)}; "
                f"the configuration its other weights imply needs {list(expected)}"
            )
        if array.dtype.kind != "f" or not np.isfinite(array).all():
            raise ModelFileError(f"{path}: model weight {i} ({keras_name}) is not finite floating-point numbers")
        state[key] = _to_torch(array, way)
    return state, config


def convert_checkpoint(
    pkl_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    seq_len: int = 512,
    wide_conv_dilation_rate: int = 5,
) -> ProteinBertConfig:
    """Convert the original ProteinBERT pickle to a safetensors file (written atomically) and return its config.

    Nothing in the pickle is executed (:mod:`hvppi.pretrained.safe_pickle`). The sizes come from the
    arrays; ``seq_len`` (the length sequences are padded to) and the wide convolutions' dilation are not
    in the checkpoint and are stored as given. The optimizer weights are dropped. The metadata key
    ``hvppi`` holds ``{"format": "hvppi-proteinbert", "format_version", "config", "source"}``.
    """
    pkl_path, out_path = Path(pkl_path), Path(out_path)
    if out_path.exists() and pkl_path.exists() and out_path.samefile(pkl_path):
        raise HvppiError(f"{out_path}: the output would overwrite the checkpoint; choose another file")
    state, config = _read_checkpoint(pkl_path, seq_len, wide_conv_dilation_rate)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "source": pkl_path.name,
    }
    with atomic_path(out_path) as tmp:
        save_file(state, str(tmp), metadata={"hvppi": json.dumps(document)})
    return config


_DAMAGED = "if it was copied or downloaded, the copy may be truncated or damaged"


def _read_safetensors(path: Path) -> tuple[dict, ProteinBertConfig]:
    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
            found = {name: tuple(fh.get_slice(name).get_shape()) for name in fh.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors file ({exc}); {_DAMAGED}") from None
    try:
        document = json.loads(metadata["hvppi"])
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT!r}")
        if int(document.get("format_version", -1)) > FORMAT_VERSION:
            raise ValueError(f"format version {document['format_version']} is newer than this hvppi reads")
        config = ProteinBertConfig.from_dict(document["config"])
    except KeyError as exc:
        raise ModelFileError(f"{path}: not a converted ProteinBERT model (no {exc} in its metadata)") from None
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: not a converted ProteinBERT model ({exc})") from None
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        names = missing or extra
        what = "lacks tensors" if missing else "has unexpected tensors"
        raise ModelFileError(f"{path}: {what} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}")
    for name, shape in expected.items():
        if found[name] != shape:
            raise ModelFileError(
                f"{path}: tensor {name} has shape {list(found[name])}; the configuration needs {list(shape)}"
            )
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: corrupt weights ({exc}); {_DAMAGED}") from None
    for name, tensor in state.items():
        if tensor.dtype != torch.float32 or not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(f"{path}: tensor {name} is not finite float32 numbers; {_DAMAGED}")
    return state, config


def load_proteinbert(
    path: str | os.PathLike, *, seq_len: int = 512, wide_conv_dilation_rate: int = 5
) -> tuple[ProteinBert, ProteinBertConfig]:
    """A ProteinBERT model in evaluation mode, on the CPU, from the original pickle or a converted safetensors file.

    The kind is told by the content. ``seq_len`` and ``wide_conv_dilation_rate`` apply to a pickle; a
    converted file has its own.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such ProteinBERT weights file")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory; give the ProteinBERT .pkl or .safetensors file")
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) == 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= path.stat().st_size:
        state, config = _read_safetensors(path)
    elif head[:1] == b"\x80":
        state, config = _read_checkpoint(path, seq_len, wide_conv_dilation_rate)
    else:
        raise ModelFileError(
            f"{path}: neither a ProteinBERT pickle (.pkl) nor a converted safetensors file; {_DAMAGED}"
        )
    model = ProteinBert(config)
    model.load_state_dict(state, strict=True)
    return model.eval(), config


def fingerprint(model: ProteinBert) -> str:
    """SHA-256 of the configuration and the weights (the same for a pickle and its conversion)."""
    digest = hashlib.sha256(b"proteinbert\0")
    digest.update(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def tokenize(sequences: Sequence[str], seq_len: int) -> np.ndarray:
    """protein-bert's tokens, (n, seq_len): START, one token per residue, END, then PAD."""
    tokens = np.full((len(sequences), seq_len), PAD, dtype=np.int64)
    for i, sequence in enumerate(sequences):
        if len(sequence) > seq_len - 2:
            raise HvppiError(f"a sequence of {len(sequence)} residues; ProteinBERT takes at most {seq_len - 2} here")
        codes = np.frombuffer(sequence.upper().encode("ascii", "replace"), dtype=np.uint8)
        tokens[i, 0] = START
        tokens[i, 1 : len(sequence) + 1] = _TOKEN_INDEX[codes]
        tokens[i, len(sequence) + 1] = END
    return tokens


class ProteinBertEmbedder(Embedder):
    """ProteinBERT from the original ``.pkl`` (converted in memory, nothing written) or a converted ``.safetensors``.

    Per protein the global representation (``dim`` values), per residue the local one (``residue_dim``
    values); see the module description.
    """

    pooling = "global-track"
    batch_residues = 8192

    def __init__(
        self, weights: str | os.PathLike, device: str | torch.device = "auto", label: str | None = None
    ) -> None:
        self.device = resolve_device(device)
        model, self.config = load_proteinbert(weights)
        self.fingerprint = fingerprint(model)
        self.model = model.to(self.device)
        self.name = label or "proteinbert"
        self.source = str(weights)
        self.dim = self.config.global_dim
        self.residue_dim = self.config.local_dim
        self.max_length = self.config.seq_len - 2
        self.chunk = max(1, 16384 // self.config.seq_len)

    @torch.inference_mode()
    def embed(self, sequences: Sequence[str], residues: bool = False) -> Vectors:
        tokens = torch.from_numpy(tokenize(sequences, self.config.seq_len))
        vectors, per_residue = [], []
        for start in range(0, len(sequences), self.chunk):
            local, glob = self.model(tokens[start : start + self.chunk].to(self.device), local=residues)
            vectors.append(glob.float().cpu().numpy())
            if local is not None:
                local_np = local.float().cpu().numpy()
                for i, sequence in enumerate(sequences[start : start + self.chunk]):
                    per_residue.append(local_np[i, 1 : len(sequence) + 1].copy())
        return np.concatenate(vectors), per_residue if residues else None

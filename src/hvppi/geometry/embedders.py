"""Protein embeddings to H5: protein language models (HuggingFace transformers) and hvppi's own encoders.

Embedders (``load_embedder(name)``):

* a HuggingFace model by hub name or local directory; the family comes from ``config.model_type``:
  ``bert`` (ProtBERT, ProtBERT-BFD: residues separated by spaces, U/Z/O/B read as X, ``[CLS] … [SEP]``),
  ``xlnet`` (ProtXLNet: as ProtBERT, padded on the left, ``… <sep><cls>``) and ``esm`` (ESM-2: residues
  not separated, ``<cls> … <eos>``). Residue tokens are those with attention mask 1 that the tokenizer
  does not mark as special; their number must equal the sequence length. The per-protein vector is the
  mean of the last hidden states over exactly those tokens.
* ``hvppi-tower-human`` / ``hvppi-tower-virus``: a trained tower of an hvppi model; per protein its
  64-d attention-pooled vector, per residue its BiLSTM outputs.
* ``hvppi-features``: the 7 z-scored Guo 2008 properties per residue; per protein their mean.

Output layout (UniProt's ``per-protein.h5`` / ``per-residue.h5``): one float32 dataset per protein at
the root, shape (d,) or (L, d), named by the ID with '%' written '%25' and '/' written '%2F', with
attributes ``original_id`` and ``sequence_sha256``. Root attributes: ``format`` = "hvppi-embeddings",
``embedder`` (a label), ``embedder_fingerprint`` (SHA-256 of what determines the numbers: weights,
vocabulary, model file), ``level`` ("protein" or "residue"), ``pooling`` ("mean" or "attention"; "none"
at residue level), ``dim`` and ``hvppi_version``.

Work goes into ``OUT.part`` beside OUT, flushed after each batch, and is renamed to OUT when every
protein is done. A re-run continues an unfinished ``.part`` of the same embedder and extends a
complete OUT of the same embedder; proteins whose sequence SHA-256 matches are not computed again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm.auto import tqdm

from hvppi._version import __version__
from hvppi.io.alphabet import STANDARD_AMINO_ACIDS, check_letters, tokenize
from hvppi.io.errors import HvppiError, InputError
from hvppi.io.files import output_lock
from hvppi.io.h5layout import dataset_key, sequence_sha256, write_protein_array
from hvppi.io.orphans import remove_orphaned_parts
from hvppi.ppi.features import FEATURE_SET, feature_table, residue_features
from hvppi.ppi.inference import encode_proteins, length_batches, pad_tokens, resolve_device
from hvppi.ppi.model import TowerName, check_tower

FORMAT = "hvppi-embeddings"
TRANSFORMER_FAMILIES = ("bert", "xlnet", "esm")

Vectors = tuple[np.ndarray, "list[np.ndarray] | None"]


class TokenizationError(HvppiError):
    """A sequence (number ``index`` of its batch) that the tokenizer did not turn into one token per residue."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


class Embedder(ABC):
    """Turns a batch of sequences into per-protein vectors (n, dim) and, if asked, per-residue arrays (L, dim).

    ``name`` labels the output files, ``fingerprint`` identifies the numbers it makes (a file of another
    fingerprint is never extended), ``pooling`` says how residues become the protein vector,
    ``max_length`` is the longest sequence it takes (None: no limit) and ``batch_residues`` its default
    batch budget.
    """

    name: str
    fingerprint: str
    dim: int
    pooling: str
    max_length: int | None = None
    batch_residues = 65536

    @abstractmethod
    def embed(self, sequences: Sequence[str], residues: bool = False) -> Vectors:
        """float32 vectors (n, dim) and, with ``residues``, a list of float32 (L_i, dim) arrays."""


class FeatureEmbedder(Embedder):
    """The 7 z-scored Guo 2008 properties per residue; their mean per protein."""

    pooling = "mean"

    def __init__(self) -> None:
        self.name = "hvppi-features"
        self.dim = feature_table().shape[1]
        self.fingerprint = hashlib.sha256(FEATURE_SET.encode() + feature_table().tobytes()).hexdigest()

    def embed(self, sequences: Sequence[str], residues: bool = False) -> Vectors:
        per_residue = [residue_features(s) for s in sequences]
        vectors = np.stack([r.mean(axis=0, dtype=np.float64) for r in per_residue]).astype(np.float32)
        return vectors, per_residue if residues else None


class TowerEmbedder(Embedder):
    """One tower of an hvppi model: the attention-pooled vector per protein, BiLSTM outputs per residue."""

    pooling = "attention"

    def __init__(
        self, tower: TowerName, model: str | os.PathLike | None = None, device: str | torch.device = "auto"
    ) -> None:
        from hvppi.ppi.modelfile import load_model

        tower = check_tower(tower)
        self.device = resolve_device(device)
        interaction_model, info = load_model(model, self.device)
        self.tower = interaction_model.tower(tower)
        self.tower.eval()
        self.name = f"hvppi-tower-{tower}"
        self.model_path = info.path
        self.dim = self.tower.protein_dim
        self.fingerprint = hashlib.sha256(f"{self.name}:{info.file_sha256}".encode()).hexdigest()

    def embed(self, sequences: Sequence[str], residues: bool = False) -> Vectors:
        tokens = [tokenize(s) for s in sequences]
        vectors, _ = encode_proteins(self.tower, tokens, self.device)
        if not residues:
            return vectors, None
        with torch.inference_mode():
            padded, lengths = pad_tokens(tokens)
            outputs = self.tower.residue_outputs(padded.to(self.device), lengths).float().cpu().numpy()
        return vectors, [outputs[i, : len(t)].copy() for i, t in enumerate(tokens)]


def _import_transformers():
    try:
        import transformers
    except ImportError:
        raise HvppiError(
            "protein language models need the 'transformers' package: pip install 'hvppi[embed]'"
        ) from None
    return transformers


class TransformerEmbedder(Embedder):
    """A HuggingFace protein language model (ProtBERT, ProtBERT-BFD, ProtXLNet, ESM-2) by hub name or directory.

    ``label`` names it in the output files (default: the hub name, or the directory's name).
    """

    pooling = "mean"
    batch_residues = 4096

    def __init__(
        self, name_or_path: str | os.PathLike, device: str | torch.device = "auto", label: str | None = None
    ) -> None:
        transformers = _import_transformers()
        self.device = resolve_device(device)
        source = str(name_or_path)
        local = Path(source).expanduser()
        if local.is_dir():
            source = str(local)
        elif local.exists():
            raise HvppiError(f"{name_or_path}: not a directory (a HuggingFace model is a directory with config.json)")
        elif source.startswith((".", "/", "~")) or source.count("/") > 1:
            raise HvppiError(f"{name_or_path}: no such model directory")
        logging = transformers.utils.logging
        verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
        logging.set_verbosity_error()
        logging.disable_progress_bar()
        try:
            config = _load(lambda: transformers.AutoConfig.from_pretrained(source), name_or_path, local.is_dir())
            self.family = config.model_type
            if self.family not in TRANSFORMER_FAMILIES:
                raise HvppiError(
                    f"{name_or_path}: model type {self.family!r} is not supported "
                    f"(supported: {', '.join(TRANSFORMER_FAMILIES)}: ProtBERT, ProtXLNet, ESM-2)"
                )
            self.tokenizer = _load(
                lambda: transformers.AutoTokenizer.from_pretrained(source), name_or_path, local.is_dir()
            )
            extra = {} if self.family == "xlnet" else {"add_pooling_layer": False}
            model = _load(lambda: transformers.AutoModel.from_pretrained(source, **extra), name_or_path, local.is_dir())
        finally:
            logging.set_verbosity(verbosity)
            if bars:
                logging.enable_progress_bar()
        self.model = model.eval()
        self.name = label or (local.name if local.is_dir() else source)
        self.source = source
        self.dim = int(config.hidden_size if self.family != "xlnet" else config.d_model)
        self.max_length = self._max_length(config)
        self._check_residue_tokens()
        self.fingerprint = self._fingerprint()
        self.model.to(self.device)

    def _max_length(self, config) -> int | None:
        """Residues that fit learned absolute positions (BERT; ESM-1b); None for XLNet and rotary ESM-2."""
        if self.family == "bert":
            return int(config.max_position_embeddings) - 2
        if self.family == "esm" and getattr(config, "position_embedding_type", "absolute") == "absolute":
            return int(config.max_position_embeddings) - 3 - int(config.pad_token_id or 0)
        return None

    def _text(self, sequence: str) -> str:
        if self.family == "esm":
            return sequence
        return " ".join(re.sub("[UZOB]", "X", sequence))

    def _check_residue_tokens(self) -> None:
        """Each standard amino acid must be one token of its own, not the unknown token."""
        ids = {aa: self.tokenizer(self._text(aa), add_special_tokens=False)["input_ids"] for aa in STANDARD_AMINO_ACIDS}
        shared = {aa for aa in ids if sum(enc == ids[aa] for enc in ids.values()) > 1}
        problems = [
            aa for aa, enc in ids.items() if len(enc) != 1 or enc[0] == self.tokenizer.unk_token_id or aa in shared
        ]
        if problems:
            raise HvppiError(
                f"{self.source}: the tokenizer does not give each amino acid a token of its own "
                f"({', '.join(f'{aa} → {ids[aa]}' for aa in problems)}); "
                "is it lower-casing the input? ProtBERT and ProtXLNet need do_lower_case=False in tokenizer_config.json"
            )

    def _fingerprint(self) -> str:
        digest = hashlib.sha256(self.family.encode())
        digest.update(json.dumps(sorted(self.tokenizer.get_vocab().items())).encode())
        for key, tensor in self.model.state_dict().items():
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
        return digest.hexdigest()

    @torch.inference_mode()
    def embed(self, sequences: Sequence[str], residues: bool = False) -> Vectors:
        encoded = self.tokenizer(
            [self._text(s) for s in sequences], padding=True, return_tensors="pt", return_special_tokens_mask=True
        )
        special = encoded.pop("special_tokens_mask").bool()
        mask = encoded["attention_mask"].bool() & ~special
        counts = mask.sum(dim=1)
        expected = torch.tensor([len(s) for s in sequences])
        wrong = torch.nonzero(counts != expected).flatten()
        if len(wrong):
            i = int(wrong[0])
            raise TokenizationError(
                f"{len(sequences[i])} residues became {int(counts[i])} residue tokens of "
                f"{self.source}; its tokenizer does not give one token per residue",
                i,
            )
        hidden = self.model(**{k: v.to(self.device) for k, v in encoded.items()}).last_hidden_state.float()
        mask = mask.to(self.device)
        sums = torch.where(mask[:, :, None], hidden, 0.0).sum(dim=1)
        vectors = (sums / counts.to(self.device)[:, None]).cpu().numpy()
        if not residues:
            return vectors, None
        hidden = hidden.cpu().numpy()
        mask = mask.cpu().numpy()
        return vectors, [hidden[i][mask[i]] for i in range(len(sequences))]


def _load(load: Callable, name, local: bool):
    try:
        return load()
    except (OSError, ValueError, ImportError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if local or not isinstance(exc, OSError):
            raise HvppiError(f"{name}: could not load the model ({reason})") from None
        raise HvppiError(
            f"{str(name)!r} is not a local directory and could not be loaded from the HuggingFace hub or its local "
            f"cache ({reason}). Without network access, download it where there is "
            "(e.g. `hf download NAME --local-dir DIR`) and give the directory"
        ) from None


def load_embedder(
    name: str,
    *,
    hvppi_model: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    label: str | None = None,
) -> Embedder:
    """An embedder by name: ``hvppi-features``, ``hvppi-tower-human``, ``hvppi-tower-virus`` (of ``hvppi_model``,
    default the bundled model), or a HuggingFace hub name / local model directory. ``label`` renames it in the
    output files."""
    embedder: Embedder
    if name in ("hvppi-tower-human", "hvppi-tower-virus"):
        embedder = TowerEmbedder(check_tower(name.rsplit("-", 1)[1]), hvppi_model, device)
    elif hvppi_model is not None:
        raise ValueError("an hvppi model file goes only with the hvppi-tower-human and hvppi-tower-virus embedders")
    elif name == "hvppi-features":
        embedder = FeatureEmbedder()
    else:
        return TransformerEmbedder(name, device, label)
    if label:
        embedder.name = label
    return embedder


class _EmbeddingFile:
    """One output file and its ``.part``: which proteins are done, writing, and the final rename."""

    def __init__(self, path: str | os.PathLike, level: str, embedder: Embedder, restart: bool) -> None:
        self.path = Path(path)
        self.part = self.path.with_name(self.path.name + ".part")
        self.level = level
        self.embedder = embedder
        self.file: h5py.File | None = None
        if restart and self.part.exists():
            self.part.unlink()
        if self.part.exists():
            self._check(self.part, "an unfinished embedding run", "run with --restart to discard it")
        elif self.path.exists():
            self._check(self.path, "embeddings", "choose another output file or delete it")

    @property
    def attributes(self) -> dict:
        return {
            "format": FORMAT,
            "embedder": self.embedder.name,
            "embedder_fingerprint": self.embedder.fingerprint,
            "level": self.level,
            "pooling": self.embedder.pooling if self.level == "protein" else "none",
            "dim": self.embedder.dim,
            "hvppi_version": __version__,
        }

    def _check(self, path: Path, what: str, remedy: str) -> None:
        try:
            with h5py.File(path, "r") as fh:
                found = dict(fh.attrs)
        except OSError as exc:
            raise InputError(f"not a readable H5 file ({exc}); {remedy}", path) from None
        if found.get("format") != FORMAT:
            raise InputError(f"not an hvppi embeddings file (no format='hvppi-embeddings' attribute); {remedy}", path)
        if found.get("embedder_fingerprint") != self.embedder.fingerprint or found.get("level") != self.level:
            raise InputError(
                f"holds {what} of another embedder or level ({found.get('level')}-level, "
                f"{found.get('embedder')!r}; asked for {self.level}-level, {self.embedder.name!r}); "
                f"{remedy}",
                path,
            )

    def done(self, sequences: dict[str, str]) -> set[str]:
        """IDs whose stored sequence SHA-256 matches."""
        source = self.part if self.part.exists() else self.path
        if not source.exists():
            return set()
        with h5py.File(source, "r") as fh:
            return {
                pid
                for pid, seq in sequences.items()
                if (d := fh.get(dataset_key(pid))) is not None
                and d.attrs.get("sequence_sha256") == sequence_sha256(seq)
            }

    def open(self) -> None:
        if not self.part.exists():
            self.part.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                shutil.copyfile(self.path, self.part)
        self.file = h5py.File(self.part, "a")
        self.file.attrs.update(self.attributes)  # same fingerprint: the label of this run (--name) wins

    def write(self, ids: Sequence[str], arrays: Iterable[np.ndarray], sequences: dict[str, str]) -> None:
        """Write one array per ID (``arrays``: a list, or the rows of an (n, d) array) and flush."""
        if self.file is None:
            raise RuntimeError(f"{self.part} is not open for writing: call open() first")
        for pid, array in zip(ids, arrays):
            write_protein_array(self.file, pid, array, sequences[pid], id_attribute="original_id")
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def finish(self) -> None:
        self.close()
        if self.part.exists():
            os.replace(self.part, self.path)


@dataclasses.dataclass
class EmbedResult:
    """What a run did: proteins in the input, how many were computed and how many found already done."""

    embedder: str
    dim: int
    proteins: int
    computed: int
    reused: int
    out_protein: str
    out_residue: str | None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _checked(sequences: dict[str, str], max_length: int | None) -> dict[str, str]:
    checked = {}
    for pid, seq in sequences.items():
        seq = str(seq).upper()
        if not seq:
            raise InputError("empty sequence", protein_id=pid)
        try:
            check_letters(seq)
        except ValueError as exc:
            raise InputError(str(exc), protein_id=pid) from None
        if max_length is not None and len(seq) > max_length:
            raise InputError(f"{len(seq)} residues; the model takes at most {max_length}", protein_id=pid)
        checked[str(pid)] = seq
    return checked


def embed_sequences(
    sequences: dict[str, str],
    embedder: Embedder,
    out_protein: str | os.PathLike,
    out_residue: str | os.PathLike | None = None,
    *,
    batch_residues: int | None = None,
    max_batch: int = 256,
    restart: bool = False,
    progress: bool = True,
    on_batch: Callable[[list[str]], None] | None = None,
) -> EmbedResult:
    """Embed ``sequences`` (ID → sequence) into ``out_protein`` (and ``out_residue``), resumably.

    Batches hold proteins of similar length, at most ``batch_residues`` padded residues (default: the
    embedder's, 4096 for transformers, 65536 for hvppi's encoders; a longer protein goes alone). ``on_batch(ids)`` is called after each batch is written and flushed.
    """
    batch_residues = embedder.batch_residues if batch_residues is None else batch_residues
    if not isinstance(batch_residues, int) or batch_residues < 1:
        raise ValueError("batch_residues must be a positive integer")
    if out_residue is not None and Path(out_residue).resolve() == Path(out_protein).resolve():
        raise ValueError("the per-protein and per-residue outputs must be different files")
    sequences = _checked(sequences, embedder.max_length)
    if not sequences:
        raise ValueError("no sequences to embed")
    residue_lock = output_lock(out_residue) if out_residue is not None else contextlib.nullcontext()
    with output_lock(out_protein), residue_lock:
        for out in (out_protein, out_residue):
            if out is not None:
                remove_orphaned_parts(out)
        files = [_EmbeddingFile(out_protein, "protein", embedder, restart)]
        if out_residue is not None:
            files.append(_EmbeddingFile(out_residue, "residue", embedder, restart))
        done = set(sequences)
        for f in files:
            done &= f.done(sequences)
        pending = [pid for pid in sequences if pid not in done]
        if pending:
            lengths = np.array([len(sequences[p]) for p in pending], dtype=np.int64)
            try:
                for f in files:
                    f.open()
                with tqdm(
                    total=len(pending), desc=f"embedding with {embedder.name}", unit="protein", disable=not progress
                ) as bar:
                    for batch in length_batches(lengths, batch_residues, max_batch):
                        ids = [pending[i] for i in batch]
                        try:
                            vectors, residues = embedder.embed(
                                [sequences[p] for p in ids], residues=out_residue is not None
                            )
                        except TokenizationError as exc:
                            raise InputError(str(exc), protein_id=ids[exc.index]) from None
                        files[0].write(ids, vectors, sequences)
                        if residues is not None:
                            files[1].write(ids, residues, sequences)
                        bar.update(len(ids))
                        if on_batch is not None:
                            on_batch(ids)
            finally:
                for f in files:
                    f.close()
        for f in files:
            f.finish()
        return EmbedResult(
            embedder.name,
            embedder.dim,
            len(sequences),
            len(pending),
            len(sequences) - len(pending),
            str(out_protein),
            None if out_residue is None else str(out_residue),
        )

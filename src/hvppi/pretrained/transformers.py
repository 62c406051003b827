"""HuggingFace protein language models (ProtBERT, ProtBERT-BFD, ProtXLNet, ESM-2) as embedders."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from hvppi.io.alphabet import STANDARD_AMINO_ACIDS
from hvppi.io.errors import HvppiError
from hvppi.pretrained.base import Embedder, TokenizationError, Vectors, resolve_device

TRANSFORMER_FAMILIES = ("bert", "xlnet", "esm")


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

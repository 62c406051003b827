"""The BiLSTM-attention model behind the :class:`~hvppi.scoring.interface.Scorer` interface.

The towers are independent, so each protein is encoded once (optionally reusing vectors stored by
``hvppi encode``) and only the small head runs per pair; a model that reads per-protein embeddings takes them
from the files it was trained with (their embedder is checked when the scorer is made), projected once per
protein. The head runs in float64: its sigmoid layers saturate, and in float32 the top scores of a viral
protein collapse onto a few identical values (2 distinct among the top 50 for typical viral proteins against
the benchmark's human proteins), so their ranks would follow input order rather than the model.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hvppi.io.alphabet import tokenize
from hvppi.io.embeddings import ProteinEmbeddings, embedding_source, load_protein_embeddings
from hvppi.io.pairs import PairTable
from hvppi.lstm.inference import encode_proteins, score_pairs, side_vectors, warn_long_proteins
from hvppi.lstm.model import InteractionModel, TowerName
from hvppi.lstm.modelfile import ModelInfo, check_embedding_source
from hvppi.lstm.vectors import VectorStore
from hvppi.scoring.interface import Column, Log, RankedBlock, ScreenSettings, ranked

LSTM_COLUMNS: tuple[Column, ...] = (
    ("human_id", "string"),
    ("virus_id", "string"),
    ("score", "float64"),
    ("call", "int8"),
    ("rank", "int64"),
)
"""Rows of a screen with a BiLSTM-attention model."""


def _quiet(message: str) -> None:
    pass


def tower_vectors(
    model: InteractionModel,
    tower: TowerName,
    sequences: dict[str, str],
    store: VectorStore | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    log: Log = print,
) -> np.ndarray:
    """(n, 64) vectors of ``sequences`` (in their order) from the ``tower`` ("human"/"virus") of ``model``."""
    module = model.tower(tower)
    found, missing, changed = store.lookup(sequences) if store is not None else ({}, list(sequences), [])
    if store is not None and changed:
        log(f"{len(changed)} {tower} proteins changed sequence since {store.path} was written; encoding them again")
    todo = missing + changed
    if todo:
        vectors, _ = encode_proteins(
            module, [tokenize(sequences[p]) for p in todo], device, progress=progress, desc=f"encoding {tower} proteins"
        )
        fresh = dict(zip(todo, vectors))
        if store is not None:
            store.store(sequences, fresh)
        found.update(fresh)
    return np.stack([found[p] for p in sequences]) if sequences else np.zeros((0, module.protein_dim), np.float32)


def protein_vectors(
    model: InteractionModel,
    side: TowerName,
    sequences: dict[str, str],
    store: VectorStore | None = None,
    embeddings: ProteinEmbeddings | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    log: Log = print,
) -> np.ndarray:
    """(n, side_dim) protein vectors of ``sequences`` on one side: tower vectors (via :func:`tower_vectors`,
    reusing ``store``) ‖ projected ``embeddings``, as the model reads them."""
    if not sequences:
        return np.zeros((0, model.config.side_dim(side)), np.float32)
    towers = None
    if model.config.towers:
        towers = tower_vectors(model, side, sequences, store, device, progress, log)
    return side_vectors(model, side, list(sequences), None, embeddings, device, tower_vectors=towers)


@torch.inference_mode()
def head_scores_against(head: torch.nn.Module, human: torch.Tensor, virus_vectors: torch.Tensor) -> np.ndarray:
    """Scores (k, n_human) of k viral vectors against all human vectors, computed in ``head``'s dtype."""
    k, n = virus_vectors.shape[0], human.shape[0]
    pairs = torch.cat([human.repeat(k, 1), virus_vectors.repeat_interleave(n, dim=0)], dim=1)
    return torch.sigmoid(head(pairs)).double().cpu().numpy().reshape(k, n)


class InteractionScorer:
    """A BiLSTM-attention model ready to screen and score pairs.

    ``embedding_files``: side → per-protein H5 of the embedder the model was trained with (checked here);
    ``vector_files``: side → an H5 of ``hvppi encode`` whose tower vectors are reused and extended.
    """

    kind = "interaction"
    columns = LSTM_COLUMNS
    chunk_size = 8

    def __init__(
        self,
        model: InteractionModel,
        info: ModelInfo,
        device: torch.device | str = "cpu",
        embedding_files: dict[str, str | None] | None = None,
        vector_files: dict[str, str | None] | None = None,
    ) -> None:
        self.model, self.info, self.device = model.eval(), info, torch.device(device)
        self.cutoff = float(info.cutoff)
        self.embedding_files = {s: p for s, p in (embedding_files or {}).items() if p}
        for side in ("human", "virus"):
            path = self.embedding_files.get(side)
            check_embedding_source(info, side, None if path is None else embedding_source(path), f"--{side}-embeddings")
        given = {s: p for s, p in (vector_files or {}).items() if p}
        if given and not model.config.towers:
            raise ValueError("--human-vectors/--virus-vectors hold tower vectors, and this model has no towers")
        self.stores: dict[str, VectorStore] = {}
        for side, path in given.items():
            width = model.config.protein_dim
            self.stores[side] = VectorStore(path, side, info.require_file_sha256(), width=width)  # type: ignore[arg-type]
        self.head = copy.deepcopy(model.head).double().eval()

    def with_names(self, names: dict[str, str]) -> InteractionScorer:
        """This model's rows carry no names: returns itself."""
        return self

    def with_viruses(
        self, virus_ids: list[str], taxon: str | None = None, family: str | None = None, taxonomy: Any = None
    ) -> InteractionScorer:
        """This model reads no virus: refuses ``taxon``, ``family`` and ``taxonomy``."""
        if taxon or family or taxonomy is not None:
            raise ValueError("--taxon/--family/--taxonomy are inputs of the screening model only")
        return self

    def reference_proteins(self, side: str) -> dict[str, str]:
        return {}

    def fingerprint(self) -> str:
        return str(self.info.file_sha256)

    def identity(self, virus_ids: Sequence[str]) -> dict[str, Any]:
        return {}

    def check_inputs(self, virus: dict[str, str], human: dict[str, str], log: Log) -> None:
        if self.model.config.towers:
            warn_long_proteins(virus, virus, log)
            warn_long_proteins(human, human, log)

    def _embeddings(self, side: str, sequences: dict[str, str]) -> ProteinEmbeddings | None:
        path = self.embedding_files.get(side)
        return None if path is None else load_protein_embeddings(path, list(sequences), sequences)

    def _vectors(self, side: TowerName, sequences: dict[str, str], progress: bool, log: Log) -> np.ndarray:
        vectors = protein_vectors(
            self.model,
            side,
            sequences,
            self.stores.get(side),
            self._embeddings(side, sequences),
            self.device,
            progress,
            log,
        )
        return vectors.astype(np.float64)

    def prepare_human(self, human: dict[str, str], progress: bool = False, log: Log | None = None) -> np.ndarray:
        return self._vectors("human", human, progress, log or _quiet)

    def prepare_virus(self, virus: dict[str, str]) -> np.ndarray:
        return self._vectors("virus", virus, False, _quiet)

    def rank_block(
        self,
        human: np.ndarray,
        virus: np.ndarray,
        human_ids: np.ndarray,
        virus_ids: list[str],
        settings: ScreenSettings,
    ) -> RankedBlock:
        scores = head_scores_against(
            self.head, torch.from_numpy(human).to(self.device), torch.from_numpy(virus).to(self.device)
        )
        rows = []
        for i, virus_id in enumerate(virus_ids):
            order, ranks = ranked(scores[i], settings)
            rows.append(
                {
                    "human_id": human_ids[order],
                    "virus_id": np.full(len(order), virus_id, dtype=object),
                    "score": scores[i][order],
                    "call": (scores[i][order] >= self.cutoff).astype(np.int8),
                    "rank": ranks,
                    "_order": order,
                }
            )
        return RankedBlock(rows, scores)

    def flat_warning(self, virus_id: str, spread: float, nearest_similarity: float) -> str | None:
        return None

    def portable(self) -> InteractionScorer:
        if self.embedding_files:
            raise ValueError("--dask runs models without per-protein embeddings only; screen this model without --dask")
        if not self.model.config.towers:
            raise ValueError("--dask runs models without per-protein embeddings only; screen this model without --dask")
        if self.stores:
            raise ValueError("--human-vectors/--virus-vectors are not used with --dask (each tile's workers encode)")
        return InteractionScorer(self.model, self.info, "cpu")

    def check_pairs(self, pairs: PairTable, sequences: dict[str, str], log: Log) -> None:
        if self.model.config.towers:
            warn_long_proteins(sequences, [*pairs.human_ids, *pairs.virus_ids], log)

    def score_pairs(
        self, pairs: PairTable, sequences: dict[str, str], progress: bool = False, log: Log | None = None
    ) -> np.ndarray:
        embeddings = {}
        for side, ids in (("human", pairs.human_ids), ("virus", pairs.virus_ids)):
            path = self.embedding_files.get(side)
            if path is not None:
                embeddings[side] = load_protein_embeddings(path, ids, sequences)
        return score_pairs(self.model, pairs, sequences, device=self.device, progress=progress, embeddings=embeddings)

    def known_pairs(self, pairs: PairTable, sequences: dict[str, str]) -> list[str] | None:
        """None: an interaction model file keeps no training pairs."""
        return None

    def close(self) -> None:
        for store in self.stores.values():
            store.close()

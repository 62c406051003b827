"""Screening every viral protein against every human protein.

The towers are independent, so each protein is encoded once (optionally reusing vectors stored by
``hvppi encode``) and only the small head runs per pair; a model that reads per-protein embeddings
takes them from ``embeddings`` ({"human": ProteinEmbeddings, "virus": ...}), projected once per
protein. Results stream to disk in chunks of viral proteins: each chunk is written to ``OUT.parts/``
atomically, so a re-run of an interrupted screen skips the chunks already written and no row appears
twice; at the end the chunks are joined into OUT (TSV, or Parquet if OUT ends in ``.parquet``).
Memory stays flat in the number of pairs. The
output lock (``.OUT.lock`` beside OUT, :func:`hvppi.io.files.output_lock`) refuses a second screen of
the same OUT while one runs, so ``restart`` never discards the parts of a live process.

The head runs in float64: its sigmoid layers saturate, and in float32 the top scores of a viral
protein collapse onto a few identical values (2 distinct among the top 50 for typical viral proteins
against the benchmark's human proteins), so their ranks would follow input order rather than the model.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from hvppi.io.alphabet import tokenize
from hvppi.io.embeddings import ProteinEmbeddings
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_path, atomic_write, output_lock
from hvppi.io.orphans import remove_orphaned_parts
from hvppi.io.validation import require_fraction, require_int
from hvppi.ppi.inference import Embeddings, check_embeddings, encode_proteins, side_vectors
from hvppi.ppi.model import InteractionModel, TowerName
from hvppi.ppi.modelfile import ModelInfo
from hvppi.ppi.screen_model import FEATURES, Evidence, ScreeningModel, ViralSimilarities, ViralTaxa
from hvppi.ppi.vectors import VectorStore


def tower_vectors(
    model: InteractionModel,
    tower: TowerName,
    sequences: dict[str, str],
    store: VectorStore | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    log: Callable[[str], None] = print,
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
    log: Callable[[str], None] = print,
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


@dataclass
class ScreenSettings:
    """What a screen keeps and how it works: the ``top_k`` human proteins of each viral protein (None:
    all), only scores of at least ``min_score`` (a probability in [0, 1]; None: all), viral proteins in
    chunks of ``chunk_size``. Checked on construction."""

    top_k: int | None = None
    min_score: float | None = None
    chunk_size: int = 8

    def __post_init__(self) -> None:
        if self.top_k is not None:
            require_int("top_k", self.top_k, minimum=1)
        if self.min_score is not None:
            require_fraction("min_score", self.min_score)
        require_int("chunk_size", self.chunk_size, minimum=1)


def _digest(sequences: dict[str, str]) -> str:
    h = hashlib.sha256()
    for pid, seq in sequences.items():
        h.update(f"{pid}\t{seq}\n".encode())
    return h.hexdigest()


def _identity(model_sha256: str | None, human: dict, virus: dict, settings: ScreenSettings, fmt: str) -> dict:
    return {
        "model_sha256": model_sha256,
        "human": _digest(human),
        "virus": _digest(virus),
        "top_k": settings.top_k,
        "min_score": settings.min_score,
        "chunk_size": settings.chunk_size,
        "format": fmt,
    }


def _ranked(
    scores: np.ndarray, settings: ScreenSettings, keep_score: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Order of the candidates kept (best first) and their ranks; ``min_score`` applies to ``keep_score``."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.arange(1, len(order) + 1)
    keep = np.ones(len(order), dtype=bool)
    if settings.top_k is not None:
        keep &= ranks <= settings.top_k
    if settings.min_score is not None:
        keep &= (scores if keep_score is None else keep_score)[order] >= settings.min_score
    return order[keep], ranks[keep]


def _rows(scores: np.ndarray, human_ids: np.ndarray, virus_id: str, cutoff: float, settings: ScreenSettings) -> dict:
    order, ranks = _ranked(scores, settings)
    return {
        "human_id": human_ids[order],
        "virus_id": np.full(len(order), virus_id, dtype=object),
        "score": scores[order],
        "call": (scores[order] >= cutoff).astype(np.int8),
        "rank": ranks,
    }


Column = tuple[str, str]
"""A output column: name and type ("string", "float64", "int8" or "int64")."""

LSTM_COLUMNS: tuple[Column, ...] = (
    ("human_id", "string"),
    ("virus_id", "string"),
    ("score", "float64"),
    ("call", "int8"),
    ("rank", "int64"),
)


def _text(value: object, kind: str) -> str:
    if kind == "float64":
        return f"{value:.7g}"
    return str(value)


def _write_chunk(path: Path, blocks: list[dict], fmt: str, columns: tuple[Column, ...] = LSTM_COLUMNS) -> None:
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in columns])
            data: dict[str, np.ndarray | list] = {
                name: np.concatenate([b[name] for b in blocks]) if blocks else [] for name, _ in columns
            }
            pq.write_table(pa.table(data, schema=schema), tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for b in blocks:
                    values = [b[name] for name, _ in columns]
                    kinds = [kind for _, kind in columns]
                    fh.writelines("\t".join(_text(v, k) for v, k in zip(row, kinds)) + "\n" for row in zip(*values))


def _join_chunks(parts: list[Path], out: Path, fmt: str, columns: tuple[Column, ...] = LSTM_COLUMNS) -> None:
    with atomic_path(out) as tmp:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in columns])
            with pq.ParquetWriter(tmp, schema) as writer:
                for part in parts:
                    writer.write_table(pq.read_table(part).cast(schema))
        else:
            with open(tmp, "wb") as fh:
                fh.write(("\t".join(name for name, _ in columns) + "\n").encode())
                for part in parts:
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, fh)


def _open_parts(out: Path, identity: dict, restart: bool, suffix: str = ".parts") -> tuple[Path, str]:
    """The parts folder of ``out`` (OUT.parts, or OUT + ``suffix``), checked against (or started for) a screen
    with ``identity``; ``restart`` discards an unfinished one."""
    parts_dir = out.with_name(out.name + suffix)
    manifest = parts_dir / "screen.json"
    if parts_dir.exists():
        previous = json.loads(manifest.read_text()) if manifest.exists() else None
        if restart:
            shutil.rmtree(parts_dir)
        elif previous != identity:
            raise InputError(
                "an unfinished screen with other inputs, settings or model is here; rerun with --restart to discard it",
                parts_dir,
            )
    parts_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(manifest) as fh:
        json.dump(identity, fh)
    return parts_dir, identity["format"]


def screen(
    model: InteractionModel,
    info: ModelInfo,
    virus: dict[str, str],
    human: dict[str, str],
    out: str | Path,
    settings: ScreenSettings | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    human_store: VectorStore | None = None,
    virus_store: VectorStore | None = None,
    restart: bool = False,
    log: Callable[[str], None] = print,
    embeddings: Embeddings | None = None,
) -> dict:
    """Score every viral × human pair and write ranked rows to ``out``. See the module docstring."""
    settings = settings or ScreenSettings()
    check_embeddings(model.config, embeddings)
    embeddings = embeddings or {}
    if not model.config.towers and (human_store is not None or virus_store is not None):
        raise ValueError("this model has no towers, so it has no tower vectors to store or reuse")
    out = Path(out)
    with output_lock(out):
        remove_orphaned_parts(out, log)
        fmt = "parquet" if out.suffix == ".parquet" else "tsv"
        parts_dir, _ = _open_parts(out, _identity(info.file_sha256, human, virus, settings, fmt), restart)

        model.eval()
        device = torch.device(device)
        human_ids = np.array(list(human), dtype=object)
        virus_ids = list(virus)
        head = copy.deepcopy(model.head).double().eval()
        human_matrix = torch.from_numpy(
            protein_vectors(model, "human", human, human_store, embeddings.get("human"), device, progress, log)
        )
        human_matrix = human_matrix.to(device, torch.float64)
        chunks = [virus_ids[i : i + settings.chunk_size] for i in range(0, len(virus_ids), settings.chunk_size)]
        parts = [parts_dir / f"chunk-{k:06d}.{fmt}" for k in range(len(chunks))]
        done = sum(p.exists() for p in parts)
        if done:
            log(f"resuming: {done} of {len(chunks)} chunks of viral proteins already screened")
        with tqdm(
            total=len(virus_ids) * len(human_ids), desc="screening", unit="pair", unit_scale=True, disable=not progress
        ) as bar:
            for chunk, part in zip(chunks, parts):
                if part.exists():
                    bar.update(len(chunk) * len(human_ids))
                    continue
                sub = {v: virus[v] for v in chunk}
                vv = torch.from_numpy(
                    protein_vectors(model, "virus", sub, virus_store, embeddings.get("virus"), device, False, log)
                )
                scores = head_scores_against(head, human_matrix, vv.to(device, torch.float64))
                blocks = [_rows(scores[i], human_ids, v, info.cutoff, settings) for i, v in enumerate(chunk)]
                _write_chunk(part, blocks, fmt)
                bar.update(len(chunk) * len(human_ids))
        _join_chunks(parts, out, fmt)
        shutil.rmtree(parts_dir)
        return {
            "out": str(out),
            "viral_proteins": len(virus_ids),
            "human_proteins": len(human_ids),
            "pairs_scored": len(virus_ids) * len(human_ids),
            "format": fmt,
        }


SCREENING_COLUMNS: tuple[Column, ...] = (
    ("virus_id", "string"),
    ("human_id", "string"),
    ("rank", "int64"),
    ("score", "float64"),
    ("probability", "float64"),
    ("best_partner_virus", "string"),
    ("best_partner_similarity", "float64"),
    ("nearest_training_virus", "string"),
    ("nearest_similarity", "float64"),
    ("nearest_identity", "float64"),
    ("nearest_binds", "int8"),
    ("virus_taxon", "string"),
    ("virus_family", "string"),
    ("same_virus_partners", "int64"),
)
"""Rows of a screen with the screening model; the evidence columns say why a pair ranks where it does."""

FLAT_SPREAD = 1e-3
"""A viral protein whose calibrated probabilities vary less than this (SD over candidates) gets a warning."""


@dataclass
class ViralBlock:
    """What the screening model needs of a block of viral proteins, computed once per block: their
    similarities to the reference, the nearest reference viral protein and its global identity."""

    similarities: ViralSimilarities
    nearest: np.ndarray
    identity: np.ndarray
    taxa: ViralTaxa


def viral_block(model: ScreeningModel, virus_sequences: list[str], taxa: ViralTaxa | None = None) -> ViralBlock:
    """Compare a block of viral proteins (of the viruses ``taxa``, None: not given) with the model's reference."""
    from hvppi.align.kernels import pair_stats

    taxa = taxa or ViralTaxa.unknown(len(virus_sequences))
    similarities = model.similarities(virus_sequences, taxa)
    nearest = similarities.smith_waterman.argmax(axis=1)
    _, identity = pair_stats(
        virus_sequences,
        [model.reference.virus_sequences[j] for j in nearest],
        matrix="BLOSUM62",
        gap_open=11,
        gap_extend=1,
    )
    return ViralBlock(similarities, nearest, np.asarray(identity, dtype=np.float64), taxa)


def screening_rows(
    model: ScreeningModel,
    evidence: Evidence,
    block: ViralBlock,
    virus_ids: list[str],
    human_ids: np.ndarray,
    settings: ScreenSettings,
) -> tuple[list[dict], np.ndarray]:
    """Ranked rows (``SCREENING_COLUMNS``, plus ``_order``: the candidates' indices) of each viral protein of
    ``block`` against the candidates of ``evidence``, and the probabilities of all their pairs."""
    features = evidence.features(block.similarities)
    raw, probability = model.score(features)
    same_virus = np.rint(np.expm1(features[:, :, FEATURES.index("taxon_log_popularity")])).astype(np.int64)
    del features
    sw = block.similarities.smith_waterman
    nearest = block.nearest
    reference = model.reference
    by_candidate = evidence.adjacency.tocsc()
    nearest_binds = np.asarray(evidence.adjacency[nearest].todense()) > 0
    blocks = []
    for i, virus_id in enumerate(virus_ids):
        order, ranks = _ranked(raw[i], settings, keep_score=probability[i])
        partner_virus = np.full(len(order), "", dtype=object)
        partner_similarity = np.zeros(len(order))
        for k, c in enumerate(order):
            rows = by_candidate.indices[by_candidate.indptr[c] : by_candidate.indptr[c + 1]]
            if rows.size:
                best = rows[np.argmax(sw[i, rows])]
                partner_virus[k] = reference.virus_ids[best]
                partner_similarity[k] = sw[i, best]
        blocks.append(
            {
                "virus_id": np.full(len(order), virus_id, dtype=object),
                "human_id": human_ids[order],
                "rank": ranks,
                "score": raw[i, order],
                "probability": probability[i, order],
                "best_partner_virus": partner_virus,
                "best_partner_similarity": partner_similarity,
                "nearest_training_virus": np.full(len(order), reference.virus_ids[nearest[i]], dtype=object),
                "nearest_similarity": np.full(len(order), float(sw[i, nearest[i]])),
                "nearest_identity": np.full(len(order), float(block.identity[i])),
                "nearest_binds": nearest_binds[i, order].astype(np.int8),
                "virus_taxon": np.full(len(order), block.taxa.taxa[i] or "", dtype=object),
                "virus_family": np.full(len(order), block.taxa.families[i] or "", dtype=object),
                "same_virus_partners": same_virus[i, order],
                "_order": order,
            }
        )
    return blocks, probability


def warn_unknown_virus(model: ScreeningModel, taxa: ViralTaxa, log: Callable[[str], None]) -> None:
    """Warn about viral proteins whose virus the model cannot use: not given, or of no reference protein."""
    unknown = int((~model.known_to_reference(taxa)).sum())
    if unknown:
        log(
            f"warning: the virus of {unknown} of {len(taxa)} viral proteins is not given or not among the training "
            "proteins' (--taxon, --family, --taxonomy); they are ranked without what is known of their virus's "
            "other proteins"
        )


def warn_flat(virus_id: str, spread: float, nearest_similarity: float, log: Callable[[str], None]) -> None:
    """Warn about a viral protein whose probabilities barely vary (SD ``spread`` below ``FLAT_SPREAD``)."""
    if spread < FLAT_SPREAD:
        log(
            f"warning: {virus_id}: its scores barely vary (probability SD {spread:.2g}); the nearest training viral "
            f"protein has similarity {nearest_similarity:.2f}, so the ranking rests mostly on the human proteins' "
            "popularity"
        )


def _screening_rows(
    model: ScreeningModel,
    evidence: Evidence,
    virus_ids: list[str],
    virus_sequences: list[str],
    human_ids: np.ndarray,
    settings: ScreenSettings,
    log: Callable[[str], None],
    taxa: ViralTaxa,
) -> list[dict]:
    block = viral_block(model, virus_sequences, taxa)
    blocks, probability = screening_rows(model, evidence, block, virus_ids, human_ids, settings)
    sw = block.similarities.smith_waterman
    for i, virus_id in enumerate(virus_ids):
        warn_flat(virus_id, float(probability[i].std()), float(sw[i, block.nearest[i]]), log)
    return blocks


def screen_with_screening_model(
    model: ScreeningModel,
    virus: dict[str, str],
    human: dict[str, str],
    out: str | Path,
    settings: ScreenSettings | None = None,
    progress: bool = True,
    restart: bool = False,
    log: Callable[[str], None] = print,
    taxa: ViralTaxa | None = None,
) -> dict:
    """Rank every human protein for every viral protein with the screening model, with evidence columns.

    Rows (``SCREENING_COLUMNS``) are grouped by viral protein in input order, best first; ``min_score``
    applies to the calibrated probability. ``taxa``: the virus (NCBI taxon) and family of each viral protein,
    in input order (default: :meth:`ScreeningModel.taxa_of`, by UniProt accession among the reference proteins).
    Chunks of viral proteins are written to ``OUT.parts/`` as they finish, so an interrupted screen continues
    where it stopped.
    """
    settings = settings or ScreenSettings()
    out = Path(out)
    virus_ids = list(virus)
    taxa = taxa if taxa is not None else model.taxa_of(virus_ids)
    if len(taxa) != len(virus_ids):
        raise ValueError(f"{len(taxa)} taxa for {len(virus_ids)} viral proteins")
    with output_lock(out):
        remove_orphaned_parts(out, log)
        fmt = "parquet" if out.suffix == ".parquet" else "tsv"
        identity = _identity(model.fingerprint(), human, virus, settings, fmt)
        identity["taxa"] = hashlib.sha256(json.dumps([taxa.taxa, taxa.families]).encode()).hexdigest()
        parts_dir, _ = _open_parts(out, identity, restart)
        longest = max((len(s) for s in model.reference.virus_sequences), default=0)
        for virus_id, sequence in virus.items():
            if len(sequence) > longest:
                log(
                    f"warning: {virus_id} has {len(sequence):,} residues, more than any training viral protein "
                    f"({longest:,}); a polyprotein is best screened as its mature chains"
                )
        human_ids = np.array(list(human), dtype=object)
        warn_unknown_virus(model, taxa, log)
        evidence = model.evidence(model.candidates(list(human.values())))
        chunks = [virus_ids[i : i + settings.chunk_size] for i in range(0, len(virus_ids), settings.chunk_size)]
        parts = [parts_dir / f"chunk-{k:06d}.{fmt}" for k in range(len(chunks))]
        done = sum(p.exists() for p in parts)
        if done:
            log(f"resuming: {done} of {len(chunks)} chunks of viral proteins already screened")
        with tqdm(
            total=len(virus_ids) * len(human_ids), desc="screening", unit="pair", unit_scale=True, disable=not progress
        ) as bar:
            for k, (chunk, part) in enumerate(zip(chunks, parts)):
                if not part.exists():
                    start = k * settings.chunk_size
                    block_taxa = taxa.take(range(start, start + len(chunk)))
                    blocks = _screening_rows(
                        model, evidence, chunk, [virus[v] for v in chunk], human_ids, settings, log, block_taxa
                    )
                    _write_chunk(part, blocks, fmt, SCREENING_COLUMNS)
                bar.update(len(chunk) * len(human_ids))
        _join_chunks(parts, out, fmt, SCREENING_COLUMNS)
        shutil.rmtree(parts_dir)
        return {
            "out": str(out),
            "model": "screening",
            "viral_proteins": len(virus_ids),
            "human_proteins": len(human_ids),
            "pairs_scored": len(virus_ids) * len(human_ids),
            "format": fmt,
        }

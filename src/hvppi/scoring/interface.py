"""The one interface every model kind implements, and the settings of a screen.

A :class:`Scorer` ranks human proteins for viral proteins, scikit-learn style: the human side is prepared once
(:meth:`Scorer.prepare_human`), each block of viral proteins once (:meth:`Scorer.prepare_virus`), and
:meth:`Scorer.rank_block` scores a block against the human side and returns ranked rows with the scorer's own
output columns (:attr:`Scorer.columns`). The screen engines (:func:`hvppi.scoring.screen.screen`, one process;
:func:`hvppi.scoring.distributed.screen_distributed`, tiles on Dask) and ``predict``/``serve`` call only this
interface; the model families implement it in their own packages (:class:`hvppi.screening.scorer.ScreeningScorer`,
:class:`hvppi.lstm.scorer.InteractionScorer`), and :func:`hvppi.registry.load_scorer` reads a model file of
either kind once and returns its scorer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hvppi.io.pairs import PairTable
from hvppi.io.validation import require_fraction, require_int

Column = tuple[str, str]
"""An output column: name and type ("string", "float64", "int8" or "int64")."""

Log = Callable[[str], None]

FLAT_SPREAD = 1e-3
"""A viral protein whose calibrated probabilities vary less than this (SD over candidates) gets a warning."""


@dataclass
class ScreenSettings:
    """What a screen keeps and how it works: the ``top_k`` human proteins of each viral protein (None:
    all), only scores of at least ``min_score`` (a probability in [0, 1]; None: all), viral proteins in
    chunks of ``chunk_size`` (None: the scorer's own). Checked on construction."""

    top_k: int | None = None
    min_score: float | None = None
    chunk_size: int | None = None

    def __post_init__(self) -> None:
        if self.top_k is not None:
            require_int("top_k", self.top_k, minimum=1)
        if self.min_score is not None:
            require_fraction("min_score", self.min_score)
        if self.chunk_size is not None:
            require_int("chunk_size", self.chunk_size, minimum=1)


def ranked(
    scores: np.ndarray, settings: ScreenSettings, keep_score: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Order of the candidates kept (best first, ties in input order) and their ranks; ``min_score`` applies to
    ``keep_score`` (default: ``scores``).

    >>> order, ranks = ranked(np.array([0.2, 0.9, 0.5]), ScreenSettings(top_k=2))
    >>> order.tolist(), ranks.tolist()
    ([1, 2], [1, 2])
    """
    order = np.argsort(-scores, kind="stable")
    ranks = np.arange(1, len(order) + 1)
    keep = np.ones(len(order), dtype=bool)
    if settings.top_k is not None:
        keep &= ranks <= settings.top_k
    if settings.min_score is not None:
        keep &= (scores if keep_score is None else keep_score)[order] >= settings.min_score
    return order[keep], ranks[keep]


@dataclass
class RankedBlock:
    """What :meth:`Scorer.rank_block` returns for a block of viral proteins.

    ``rows[i]``: the kept rows of viral protein i, column name → array (the scorer's ``columns``), plus ``_order``
    (the human proteins' positions in the block); ``values``: (n_virus, n_human) the values whose spread is
    checked (probabilities); ``nearest_similarity``: per viral protein, its similarity to the nearest
    training protein where the scorer knows one (else empty)."""

    rows: list[dict[str, np.ndarray]]
    values: np.ndarray
    nearest_similarity: list[float] = field(default_factory=list)


@runtime_checkable
class Scorer(Protocol):
    """A model ready to rank human proteins for viral proteins (see the module docstring)."""

    kind: str
    """ "screening" or "interaction": what the JSON summaries report."""
    columns: tuple[Column, ...]
    """The output columns of a screen, in order."""
    chunk_size: int
    """Viral proteins per part of a single-process screen."""
    cutoff: float
    """The score at which ``predict`` calls a pair interacting."""

    def with_viruses(
        self, virus_ids: list[str], taxon: str | None = None, family: str | None = None, taxonomy: Any = None
    ) -> Scorer:
        """This scorer with the virus of each viral protein bound: ``taxon`` (an NCBI taxid) and/or ``family`` for
        all, or per protein from ``taxonomy`` (a :class:`~hvppi.datasets.taxonomy.VirusTaxonomy`); a model that
        reads no virus refuses them."""
        ...

    def with_names(self, names: dict[str, str]) -> Scorer:
        """This scorer with protein names (ID → name, e.g. from FASTA headers) for the rows that show names."""
        ...

    def reference_proteins(self, side: str) -> dict[str, str]:
        """The proteins of ``side`` ("human" or "virus") the model was trained on, ID → sequence (empty if it keeps
        none): the default human set of the web page, and its examples."""
        ...

    def fingerprint(self) -> str:
        """What makes the scores: the model file's SHA-256 (and anything else bound to this scorer)."""
        ...

    def identity(self, virus_ids: Sequence[str]) -> dict[str, Any]:
        """Inputs besides the sequences that change the rows of ``virus_ids`` (for resuming a screen)."""
        ...

    def check_inputs(self, virus: dict[str, str], human: dict[str, str], log: Log) -> None:
        """Warn (through ``log``) about inputs the model handles poorly; raise for inputs it cannot take."""
        ...

    def prepare_human(self, human: dict[str, str], progress: bool = False, log: Log | None = None) -> Any:
        """Everything about the human proteins that does not depend on the viral ones, computed once."""
        ...

    def prepare_virus(self, virus: dict[str, str]) -> Any:
        """Everything about a block of viral proteins that does not depend on the human ones."""
        ...

    def rank_block(
        self, human: Any, virus: Any, human_ids: np.ndarray, virus_ids: list[str], settings: ScreenSettings
    ) -> RankedBlock:
        """Score the block ``virus`` against ``human`` and keep the ranked rows ``settings`` asks for."""
        ...

    def flat_warning(self, virus_id: str, spread: float, nearest_similarity: float) -> str | None:
        """The warning for a viral protein whose values vary by ``spread`` (SD) only, or None."""
        ...

    def portable(self) -> Scorer:
        """A copy that can be sent to other processes (no open files, CPU, no progress bars)."""
        ...

    def check_pairs(self, pairs: PairTable, sequences: dict[str, str], log: Log) -> None:
        """Refuse or warn about pairs before any output is written (e.g. swapped columns)."""
        ...

    def score_pairs(
        self, pairs: PairTable, sequences: dict[str, str], progress: bool = False, log: Log | None = None
    ) -> np.ndarray:
        """Probability of each pair, in input order (warnings, e.g. about proteins without their virus, to ``log``)."""
        ...

    def known_pairs(self, pairs: PairTable, sequences: dict[str, str]) -> list[str] | None:
        """For each pair, the sources of the training data that hold it ('' if none), or None for a model that
        keeps no training pairs (then ``hvppi predict`` writes no ``known`` column)."""
        ...

    def close(self) -> None:
        """Release open files (vector stores)."""
        ...


def flat_message(virus_id: str, spread: float, nearest_similarity: float) -> str | None:
    """The warning about a viral protein whose probabilities barely vary (SD ``spread`` below ``FLAT_SPREAD``)."""
    if spread >= FLAT_SPREAD:
        return None
    reason = (
        "so the ranking rests mostly on the human proteins' popularity"
        if nearest_similarity < 0.1
        else "the differences between its candidates are small: read its ranks with care"
    )
    return (
        f"warning: {virus_id}: its scores barely vary (probability SD {spread:.2g}); the nearest training viral "
        f"protein has similarity {nearest_similarity:.2f}, {reason}"
    )

"""The alignment a row of the page shows: a job's viral protein against the training viral protein the screening
model names as its nearest (``GET /api/jobs/{id}/alignment?virus_id=V``).

The nearest training viral protein is the one of the job's rows (``nearest_training_virus``, the same on every row
of a viral protein, with ``nearest_similarity``, the normalised Smith–Waterman similarity the model uses). The
alignment is Biopython's ``PairwiseAligner`` in local mode with the screening model's scoring (BLOSUM62, gap open 11,
extend 1, as :mod:`hvppi.align.similarity`; a gap of length L costs 11 + (L - 1)), so its score is the raw score
behind that similarity. Letters outside the matrix's alphabet (``U``, ``O``) are aligned as ``X`` and shown as they
are. Where several alignments share the best score, the first Biopython gives is shown.

Refusals are :class:`AlignmentRefused`, with the HTTP status and a message worded for the page: no nearest
protein (a model without the column, an empty cell, or a similarity under :data:`NOISE_SIMILARITY`, below which
the rows' evidence cites none) is 404; a sequence over :data:`MAX_ALIGNED_RESIDUES` is 400; a results file
that cannot be read is 409.
"""

from __future__ import annotations

import csv
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hvppi.align.kernels import scoring_matrix
from hvppi.align.similarity import LOCAL_GAP_EXTEND, LOCAL_GAP_OPEN, LOCAL_MATRIX
from hvppi.scoring.interface import Column

MAX_ALIGNED_RESIDUES = 5_000
"""The longest sequence (either side) the page aligns: a 5,000 × 5,000 alignment takes about half a second."""

NOISE_SIMILARITY = 0.1
"""Under this normalised similarity the nearest training protein is not close enough to align: the rows' evidence
does not cite it either (``hvppi.screening.scorer.NOISE_SIMILARITY``: the same number, which a test checks, kept here
so that the page's code does not import the screening model's)."""

SCORING = f"Smith–Waterman, {LOCAL_MATRIX}, gap open {LOCAL_GAP_OPEN}, extend {LOCAL_GAP_EXTEND}"

NEAREST_COLUMNS = ("virus_id", "nearest_training_virus", "nearest_similarity")
"""The columns of a job's rows the alignment reads."""


class AlignmentRefused(Exception):
    """No alignment to show, with the HTTP status (404, 400 or 409) and the reason, worded for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def nearest_of(results: Path, columns: tuple[Column, ...], virus_id: str) -> tuple[str, float]:
    """(ID, similarity) of the training viral protein the rows of ``virus_id`` in the results TSV name as nearest.

    Reads up to the first row of ``virus_id`` (the rows are grouped by viral protein). AlignmentRefused 404 for a
    model without these columns (e.g. a BiLSTM model) or a viral protein without rows."""
    if not set(NEAREST_COLUMNS) <= {name for name, _ in columns}:
        raise AlignmentRefused(
            404, "this server's model names no nearest training viral protein (only the screening model does)"
        )
    try:
        found = _first_row(results, virus_id)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AlignmentRefused(409, f"cannot read this job's rows ({' '.join(str(exc).split())[:200]})") from None
    if found is None:
        raise AlignmentRefused(404, f"this job has no rows for the viral protein {virus_id[:80]!r}")
    return found


def _first_row(results: Path, virus_id: str) -> tuple[str, float] | None:
    """(nearest, similarity) of the first row of ``virus_id`` in the results TSV, None if it has none."""
    with open(results, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, [])
        if not set(NEAREST_COLUMNS) <= set(header):
            raise AlignmentRefused(404, "this job's rows name no nearest training viral protein")
        at = [header.index(c) for c in NEAREST_COLUMNS]
        for row in reader:
            if len(row) == len(header) and row[at[0]] == virus_id:
                try:
                    return row[at[1]], float(row[at[2]])
                except ValueError:
                    return row[at[1]], math.nan
    return None


@cache
def local_aligner() -> Any:
    """Biopython's local ``PairwiseAligner`` with the screening model's matrix and gap penalties."""
    from Bio.Align import PairwiseAligner, substitution_matrices

    scoring = scoring_matrix(LOCAL_MATRIX)
    array = substitution_matrices.Array(alphabet=scoring.alphabet, dims=2, data=np.array(list(scoring), dtype=float))
    return PairwiseAligner(
        mode="local", substitution_matrix=array, open_gap_score=-LOCAL_GAP_OPEN, extend_gap_score=-LOCAL_GAP_EXTEND
    )


def _in_alphabet(sequence: str, alphabet: str) -> str:
    """``sequence`` in upper case with letters outside ``alphabet`` (and ``*``) as ``X``: as long as the input."""
    allowed = set(alphabet) - {"*"}
    return "".join(c if c in allowed else "X" for c in sequence.upper())


def gapped(query: str, target: str, coordinates: np.ndarray) -> tuple[str, str]:
    """The two aligned strings, with ``-`` for gaps, from an alignment's ``coordinates`` (2 × k: where each of its
    segments starts and ends on the query and on the target)."""
    top, bottom = [], []
    for (q0, t0), (q1, t1) in zip(coordinates.T[:-1], coordinates.T[1:]):
        dq, dt = int(q1 - q0), int(t1 - t0)
        top.append(query[q0:q1] if dq else "-" * dt)
        bottom.append(target[t0:t1] if dt else "-" * dq)
    return "".join(top), "".join(bottom)


def match_line(top: str, bottom: str) -> str:
    """``|`` for identical letters, ``+`` for a positive substitution score, a space otherwise (gaps too)."""
    scoring = scoring_matrix(LOCAL_MATRIX)
    allowed = set(scoring.alphabet)
    out = []
    for a, b in zip(top.upper(), bottom.upper()):
        if a == b and a != "-":
            out.append("|")
        elif a in allowed and b in allowed and scoring[a, b] > 0:
            out.append("+")
        else:
            out.append(" ")
    return "".join(out)


def local_alignment(query: str, target: str) -> dict[str, Any]:
    """The best local alignment of two sequences: aligned strings, match line, 1-based inclusive coordinates,
    counts and identities (over the aligned columns, gaps included, and over the shorter sequence).

    AlignmentRefused 400 for a sequence over :data:`MAX_ALIGNED_RESIDUES`, 404 for no alignment with a positive
    score."""
    for what, sequence in (("the viral protein", query), ("its nearest training viral protein", target)):
        if len(sequence) > MAX_ALIGNED_RESIDUES:
            raise AlignmentRefused(
                400,
                f"{what} has {len(sequence):,} residues; the page aligns proteins of at most "
                f"{MAX_ALIGNED_RESIDUES:,} residues (align it with a local tool)",
            )
    aligner = local_aligner()
    alphabet = str(aligner.substitution_matrix.alphabet)
    try:  # Biopython gives no alignment (IndexError) where no pair of letters scores above 0
        best = aligner.align(_in_alphabet(query, alphabet), _in_alphabet(target, alphabet))[0]
    except IndexError:
        best = None
    if best is None or best.score <= 0:
        raise AlignmentRefused(404, "no local alignment of the two proteins has a positive score")
    coordinates = np.asarray(best.coordinates)
    top, bottom = gapped(query, target, coordinates)
    match = match_line(top, bottom)
    matches = match.count("|")
    return {
        "query": {"start": int(coordinates[0, 0]) + 1, "end": int(coordinates[0, -1]), "length": len(query)},
        "target": {"start": int(coordinates[1, 0]) + 1, "end": int(coordinates[1, -1]), "length": len(target)},
        "aligned": {"query": top, "match": match, "target": bottom},
        "columns": len(top),
        "matches": matches,
        "positives": matches + match.count("+"),
        "gaps": top.count("-") + bottom.count("-"),
        "identity": matches / len(top),
        "identity_shorter": matches / min(len(query), len(target)),
        "score": float(best.score),
    }


class NearestAlignment:
    """Alignments of a job's viral proteins to their nearest training viral protein, one at a time (each is up to
    half a second of one CPU), the last few kept."""

    def __init__(self, reference: Mapping[str, str], name_of: Callable[[str], str], keep: int = 64) -> None:
        self.reference, self.name_of, self.keep = reference, name_of, keep
        self._done: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, results: Path, columns: tuple[Column, ...], virus_id: str, sequence: str) -> dict[str, Any]:
        """The alignment of ``virus_id`` (``sequence``), a job's viral protein, with the ``id`` and ``name`` of
        both proteins, the row's ``similarity`` and the ``scoring``; AlignmentRefused where there is none."""
        target_id, similarity = nearest_of(results, columns, virus_id)
        if not target_id or target_id not in self.reference:
            raise AlignmentRefused(404, f"the model names no training viral protein near {virus_id[:80]}")
        if math.isnan(similarity):
            raise AlignmentRefused(404, f"the job's rows give no similarity of {virus_id[:80]} to {target_id}")
        if similarity < NOISE_SIMILARITY:
            raise AlignmentRefused(
                404,
                f"no training viral protein is close enough to align: the nearest, {target_id}, is "
                f"{similarity:.0%} similar to {virus_id} (under {NOISE_SIMILARITY:.0%}, the rows' evidence does not "
                "cite it either)",
            )
        key = (sequence, target_id)
        with self._lock:
            found = self._done.get(key)
            if found is None:
                found = local_alignment(sequence, self.reference[target_id])
                self._done[key] = found
                while len(self._done) > self.keep:
                    self._done.popitem(last=False)
            self._done.move_to_end(key)
        aligned = {
            "query": {"id": virus_id, "name": self.name_of(virus_id), **found["query"]},
            "target": {"id": target_id, "name": self.name_of(target_id), **found["target"]},
        }
        return {**found, **aligned, "similarity": similarity, "scoring": SCORING}

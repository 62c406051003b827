"""Benchmark data sets from HPIDB, as Tsukiyama et al. 2020 (section 2.1, Algorithm 1) built theirs.

:func:`build_dataset` runs, and counts after, every step:

1. read the MITAB files (:mod:`hvppi.datasets.mitab`); keep rows with human (9606) on exactly one side (and,
   where the file gives taxid categories, VIRUS on the other), oriented (human, virus);
2. per MI-score threshold: rows whose MI score (:meth:`hvppi.datasets.mitab.Interaction.mi_score`, by default
   the intact-miscore when present, else the highest other miscore) is at or above it; duplicate
   (human, virus) pairs are merged, a pair passing when any of its rows passes;
3. sequences: those of a mitab_plus file, else the ``sequences`` pool looked up by the exact
   identifier (isoform ``-N`` and chain ``-PRO_`` suffixes included: they name other sequences than
   the canonical entry; a RefSeq ``NP_1.2`` also matches ``NP_1``). Proteins without a sequence, with
   letters outside the 20 standard amino acids, or shorter than 50 or longer than 3,000 residues are
   counted and listed in the manifest, and their pairs dropped;
4. redundancy: CD-HIT at identity 0.9 clusters the human and, separately, the viral proteins (once,
   over the proteins of the lowest threshold); in file order, a pair is dropped when a kept pair
   already joins the same human cluster and the same viral cluster;
5. negatives (:mod:`hvppi.datasets.negatives`): all-against-all Needleman–Wunsch scores of the viral proteins
   (BLOSUM30, gap open 10, gap extend 1: a gap of length L costs 10 + (L − 1), the integer scheme
   closest to EMBOSS needle's 10/0.5 default; the paper gives none), outlier removal, distance
   > 0.8, minus every human–virus pair of the input whatever its score, at most n per viral protein.
   n is solved on the data for the balanced (1:1) and imbalanced (1:5) sets, or for the ``ratios``
   given; ``caps="paper"`` uses the paper's n instead (23 and 120 at MI 0.3, 4 and 206 at MI 0.4);
6. per condition, ``replicates`` data sets with different seeds, each split 8:2 stratified by label.

Output, per threshold, condition and replicate (``OUT/mi0.3/balanced/rep1/``): ``pro_seq.txt``,
``protein_pair_label_train.txt``, ``protein_pair_label_test.txt`` and the LSTM-PHV CSVs ``train.csv``
and ``test.csv``; with ``disjoint_test``, also a protein-disjoint split in ``rep1/disjoint/``: a seeded
20% of the human and of the viral CD-HIT clusters are held out, ``protein_pair_label_train.txt`` keeps
the pairs without a held-out protein, and ``test_unseen_virus.txt``, ``test_unseen_human.txt`` and
``test_unseen_both.txt`` the pairs whose viral protein only, human protein only or both are held out
(a random pair-level split leaves almost no such pairs in its test part).
``OUT/manifest.json`` holds the counts, the rules above (``RULES``), parameters and input SHA-256s;
it is written last, and a rebuild removes the earlier one before it touches the earlier data sets,
so a folder without it holds an interrupted build.
The paper's n were tuned on its data to reach 1:1 and about 1:5; on this export they give 0.99, 2.4,
0.79 and 13 negatives per positive, hence n solved for the ratio by default. The manifest gives both
n. The alignment matrix is cached
in ``OUT/cache`` by blocks, keyed by a hash of the viral sequences and the scoring, so an interrupted
or repeated build resumes instead of aligning again. Every file is written atomically.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from hvppi._version import __version__
from hvppi.align.blocks import DEFAULT_BLOCK_ROWS, aligned_pairs
from hvppi.align.kernels import check_matrix, pair_stats
from hvppi.datasets.mitab import MI_SOURCES, Interaction, MiSource, file_sha256, is_human_virus, oriented, read_mitab
from hvppi.datasets.negatives import CandidatePool, candidate_pool, capped_total, self_normalised, solve_cap
from hvppi.datasets.splits import stratified_split
from hvppi.io.alphabet import STANDARD_AMINO_ACIDS
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_write, output_lock
from hvppi.io.validation import (
    require_bool,
    require_choice,
    require_fraction,
    require_int,
    require_number,
    require_positive,
)

PAPER_CAPS = {0.3: {"balanced": 23, "imbalanced": 120}, 0.4: {"balanced": 4, "imbalanced": 206}}
DEFAULT_RATIOS = {"balanced": 1.0, "imbalanced": 5.0}
_STANDARD = frozenset(STANDARD_AMINO_ACIDS)
RULES = {
    "identifier": "first uniprotkb: accession of the ID column, else first refseq:, else the same in the "
    "alternative-ID column; isoform and chain suffixes kept",
    "mi_score": "per row the intact-miscore when present, else the highest other miscore (mi_source 'any'); "
    "a pair passes a threshold when any of its rows does",
    "sequence_lookup": "mitab_plus sequence, else the sequence file by exact identifier (RefSeq also without version)",
    "redundancy": "CD-HIT clusters of the proteins at the lowest threshold; a pair is dropped when a pair "
    "kept before it (file order) joins the same human and viral clusters",
    "outliers": "Ts_j = Q1 - 1.5 IQR of S(., Vj) without self; Vi is an outlier when S(Vi, Vj) < Ts_j for at "
    "least outlier_fraction (90%) of the other Vj; outliers give and get no negatives, their positives stay",
    "similarity": "the global alignment score (similarity 'score', the paper's), or S_ij / sqrt(S_ii S_jj) "
    "(similarity 'self-normalised')",
    "distance": "1 - row-wise min-max normalised similarity, self excluded from min and max",
    "negatives": "(H, Vi) for H a partner of a Vj with distance(Vi, Vj) > distance_threshold (0.8), never a human-virus pair "
    "of the input at any MI score, nor one under IDs with the same sequences (e.g. P12345-1 for P12345); "
    "at most n per viral protein, drawn at random",
    "alignment": "Needleman-Wunsch global score with the parameters' matrix, gap_open and gap_extend "
    "(a gap of length L costs gap_open + (L - 1) gap_extend); end gaps cost as inner gaps",
}


Caps = Literal["ratio", "paper"]
Similarity = Literal["score", "self-normalised"]
Clusterer = Literal["cdhit"]


@dataclass
class BuildSettings:
    """Parameters of :func:`build_dataset`; the defaults are the paper's. Checked on construction
    (and again by :meth:`validate`): a bad value raises ValueError naming the field."""

    mi_thresholds: tuple[float, ...] = (0.3, 0.4)
    mi_source: MiSource = "any"
    ratios: tuple[float, ...] | None = None
    caps: Caps = "ratio"
    replicates: int = 3
    seed: int = 0
    test_fraction: float = 0.2
    min_length: int = 50
    max_length: int = 3000
    identity: float = 0.9
    clusterer: Clusterer = "cdhit"
    matrix: str = "BLOSUM30"
    gap_open: int = 10
    gap_extend: int = 1
    distance_threshold: float = 0.8
    outlier_fraction: float = 0.9
    similarity: Similarity = "score"
    disjoint_test: bool = False
    skip_bad_lines: bool = False
    threads: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field with a bad value."""
        if (
            isinstance(self.mi_thresholds, str)
            or not isinstance(self.mi_thresholds, Sequence)
            or not self.mi_thresholds
        ):
            raise ValueError(
                f"mi_thresholds (MI-score thresholds) must be a non-empty tuple, got {self.mi_thresholds!r}"
            )
        for t in self.mi_thresholds:
            require_fraction("mi_thresholds (MI-score thresholds)", t)
        if len(set(self.mi_thresholds)) != len(self.mi_thresholds):
            raise ValueError("mi_thresholds (MI-score thresholds) must be distinct")
        require_choice("mi_source", self.mi_source, MI_SOURCES)
        require_choice("caps", self.caps, get_args(Caps))
        if self.ratios is not None:
            if isinstance(self.ratios, str) or not isinstance(self.ratios, Sequence) or not self.ratios:
                raise ValueError(f"ratios (negative:positive) must be None or a non-empty tuple, got {self.ratios!r}")
            for r in self.ratios:
                require_positive("ratios (negative:positive)", r)
        if self.caps == "paper" and (
            self.ratios is not None or any(round(t, 6) not in PAPER_CAPS for t in self.mi_thresholds)
        ):
            raise ValueError("the paper's n exist only for the balanced and imbalanced sets at MI 0.3 and 0.4")
        require_int("replicates", self.replicates, minimum=1)
        require_int("seed", self.seed, minimum=0)
        require_fraction("test_fraction", self.test_fraction, closed_low=False, closed_high=False)
        require_int("min_length", self.min_length, minimum=1)
        require_int("max_length", self.max_length, minimum=self.min_length)
        require_number("identity (CD-HIT)", self.identity, 0.4, 1.0)
        require_choice("clusterer", self.clusterer, get_args(Clusterer))
        if not isinstance(self.matrix, str):
            raise ValueError(f"matrix must be a substitution matrix name, got {self.matrix!r}")
        check_matrix(self.matrix)
        require_int("gap_open", self.gap_open, minimum=0)
        require_int("gap_extend", self.gap_extend, minimum=0)
        require_fraction("distance_threshold", self.distance_threshold, closed_high=False)
        require_fraction("outlier_fraction", self.outlier_fraction, closed_low=False)
        require_choice("similarity", self.similarity, get_args(Similarity))
        require_bool("disjoint_test", self.disjoint_test)
        require_bool("skip_bad_lines", self.skip_bad_lines)
        require_int("threads", self.threads, minimum=0)


@dataclass
class HumanVirusPairs:
    """The human–virus rows of the input: per MI-score threshold the distinct (human, virus) pairs in
    first-seen order; every pair whatever its score (``known``); the files' own sequences."""

    by_threshold: dict[float, list[tuple[str, str]]]
    rows_at: dict[float, int]
    rows_by_source: dict[float, dict[str, int]]
    known: set[tuple[str, str]]
    viral_taxid: dict[str, int | None]
    file_sequences: dict[str, str]
    counts: dict


def collect_human_virus(
    interactions: Iterable[Interaction], thresholds: Sequence[float], mi_source: str = "any"
) -> HumanVirusPairs:
    """Orient the human–virus rows and group their pairs by MI-score threshold (a pair passes a
    threshold when any of its rows does)."""
    thresholds = sorted(thresholds)
    by_threshold: dict[float, list[tuple[str, str]]] = {t: [] for t in thresholds}
    seen: dict[float, set[tuple[str, str]]] = {t: set() for t in thresholds}
    rows_at = {t: 0 for t in thresholds}
    rows_by_source = {t: {"intact-miscore": 0, "other miscore": 0} for t in thresholds}
    known: set[tuple[str, str]] = set()
    viral_taxid: dict[str, int | None] = {}
    file_sequences: dict[str, str] = {}
    conflicting: set[str] = set()
    human_virus_rows = scored_rows = 0
    for interaction in interactions:
        if not is_human_virus(interaction):
            continue
        human_virus_rows += 1
        h, v, seq_h, seq_v, taxid = oriented(interaction)
        known.add((h, v))
        viral_taxid.setdefault(v, taxid)
        for pid, seq in ((h, seq_h), (v, seq_v)):
            if seq is not None and file_sequences.setdefault(pid, seq) != seq:
                conflicting.add(pid)
        score = interaction.mi_score(mi_source)
        if score is None:
            continue
        scored_rows += 1
        source = "intact-miscore" if interaction.mi_score("intact-miscore") == score else "other miscore"
        for t in thresholds:
            if score >= t:
                rows_at[t] += 1
                rows_by_source[t][source] += 1
                if (h, v) not in seen[t]:
                    seen[t].add((h, v))
                    by_threshold[t].append((h, v))
    counts: dict[str, Any] = {
        "human_virus_rows": human_virus_rows,
        "human_virus_rows_with_mi_score": scored_rows,
        "human_virus_pairs_known": len(known),
    }
    if conflicting:
        counts["proteins_with_two_file_sequences"] = sorted(conflicting)  # the first one seen is used
    return HumanVirusPairs(by_threshold, rows_at, rows_by_source, known, viral_taxid, file_sequences, counts)


def _species_counts(pairs: Sequence[tuple[str, str]], viral_taxid: dict[str, int | None] | None = None) -> dict:
    counts = {
        "pairs": len(pairs),
        "human_proteins": len({h for h, _ in pairs}),
        "viral_proteins": len({v for _, v in pairs}),
    }
    if viral_taxid is not None:
        counts["viral_taxids"] = len({viral_taxid[v] for _, v in pairs})
    return counts


def _lookup(pool: dict[str, str], protein_id: str) -> str | None:
    seq = pool.get(protein_id)
    if seq is None and protein_id.startswith(("NP_", "YP_", "XP_", "AP_")) and "." in protein_id:
        seq = pool.get(protein_id.rsplit(".", 1)[0])
    return seq


def _load_pool(sequences) -> dict[str, str]:
    if sequences is None:
        return {}
    if isinstance(sequences, dict):
        return {k: v.upper() for k, v in sequences.items()}
    from hvppi.io.sequences import read_sequences

    # Letters are checked only for the proteins the dataset uses (``_check_proteins`` filters them):
    # a '*' or an odd letter in a pool record never used must not abort the build.
    return read_sequences(sequences, validate=False)


def _check_proteins(ids: set[str], sequence_of: dict[str, str], settings: BuildSettings) -> dict[str, list[str]]:
    """Proteins failing the sequence filters, by reason."""
    failed: dict[str, list[str]] = {"without_sequence": [], "nonstandard_letters": [], "too_short": [], "too_long": []}
    for pid in sorted(ids):
        seq = sequence_of.get(pid)
        if seq is None:
            failed["without_sequence"].append(pid)
        elif not _STANDARD.issuperset(seq):
            failed["nonstandard_letters"].append(pid)
        elif len(seq) < settings.min_length:
            failed["too_short"].append(pid)
        elif len(seq) > settings.max_length:
            failed["too_long"].append(pid)
    return failed


def known_by_sequence(
    known: set[tuple[str, str]], sequence_of: Callable[[str], str | None], ids: Iterable[str] = ()
) -> set[tuple[str, str]]:
    """Known (human, virus) pairs under every ID (of the known pairs and ``ids``) that has the same sequence
    as a known partner, so that a negative never pairs e.g. P12345-1 with a viral protein known to bind
    P12345 when the two IDs name the same sequence."""
    ids_of: dict[str, set[str]] = {}
    for pid in {p for pair in known for p in pair} | set(ids):
        seq = sequence_of(pid)
        if seq is not None:
            ids_of.setdefault(seq, set()).add(pid)

    def aliases(pid: str):
        seq = sequence_of(pid)
        return ids_of.get(seq, {pid}) if seq is not None else {pid}

    return {(h2, v2) for h, v in known for h2 in aliases(h) for v2 in aliases(v)}


def _remove_redundant(pairs: list[tuple[str, str]], human_cluster: dict[str, str], viral_cluster: dict[str, str]):
    seen: set[tuple[str, str]] = set()
    kept = []
    for h, v in pairs:
        key = (human_cluster[h], viral_cluster[v])
        if key not in seen:
            seen.add(key)
            kept.append((h, v))
    return kept


def alignment_key(ids: Sequence[str], sequences: dict[str, str], matrix: str, gap_open: int, gap_extend: int) -> str:
    digest = hashlib.sha256(json.dumps({"matrix": matrix, "gap_open": gap_open, "gap_extend": gap_extend}).encode())
    for pid in ids:
        digest.update(f"\n{pid}\t{sequences[pid]}".encode())
    return digest.hexdigest()


def viral_similarity(
    ids: Sequence[str],
    sequences: dict[str, str],
    cache_dir: str | os.PathLike | None = None,
    matrix: str = "BLOSUM30",
    gap_open: int = 10,
    gap_extend: int = 1,
    threads: int = 1,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    progress: bool = False,
) -> tuple[np.ndarray, dict]:
    """Symmetric matrix of global alignment scores between ``ids`` (in that order), with cache info.

    The pairs i < j are aligned by :func:`hvppi.align.blocks.aligned_pairs` in blocks of ``block_rows``
    rows; with ``cache_dir``, each block is saved as it finishes and the whole in
    ``cache_dir/viral-nw-KEY.npz``, so that a later call with the same sequences and scoring reuses the
    finished blocks or the whole. The diagonal (self scores) is aligned afresh each time (n alignments).
    """
    ids = list(ids)
    n = len(ids)
    key = alignment_key(ids, sequences, matrix, gap_open, gap_extend)
    info = {
        "key": key,
        "proteins": n,
        "matrix": matrix,
        "gap_open": gap_open,
        "gap_extend": gap_extend,
        "residues": int(sum(len(sequences[p]) for p in ids)),
        "cached_blocks": 0,
        "aligned_blocks": 0,
        "cached": False,
    }
    seqs = [sequences[p] for p in ids]
    result = np.zeros((n, n), dtype=np.float64)
    if n >= 2:
        aligned = aligned_pairs(
            seqs,
            matrix=matrix,
            gap_open=gap_open,
            gap_extend=gap_extend,
            threads=threads,
            cache=None if cache_dir is None else Path(cache_dir) / f"viral-nw-{key[:16]}.npz",
            key=key,
            block_rows=block_rows,
            progress=progress,
        )
        upper = np.triu_indices(n, 1)
        result[upper] = aligned.score
        result[(upper[1], upper[0])] = aligned.score
        info["cached_blocks"], info["aligned_blocks"] = aligned.blocks_reused, aligned.blocks_aligned
        info["cached"] = aligned.from_cache or aligned.blocks_reused > 0
    if n:
        self_scores, _ = pair_stats(seqs, seqs, matrix=matrix, gap_open=gap_open, gap_extend=gap_extend)
        result[np.diag_indices(n)] = self_scores
    return result, info


def _write_pairs(path: Path, pairs: Sequence[tuple[str, str, int]]) -> None:
    with atomic_write(path) as fh:
        fh.writelines(f"{h}\t{v}\t{y}\n" for h, v, y in pairs)


def _write_csv(path: Path, pairs: Sequence[tuple[str, str, int]], sequences: dict[str, str]) -> None:
    with atomic_write(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["human_id", "virus_id", "human_seq", "virus_seq", "labels"])
        writer.writerows((h, v, sequences[h], sequences[v], y) for h, v, y in pairs)


def _class_counts(pairs: Sequence[tuple[str, str, int]]) -> dict:
    positives = sum(y for _, _, y in pairs)
    return {"pairs": len(pairs), "positives": positives, "negatives": len(pairs) - positives}


def protein_disjoint_split(
    rows: Sequence[tuple[str, str, int]],
    human_cluster: dict[str, str],
    viral_cluster: dict[str, str],
    fraction: float,
    rng: np.random.Generator,
) -> dict[str, list]:
    """Hold out ``fraction`` of the human and of the viral CD-HIT clusters (seeded); returns the pairs
    with no held-out protein (``train``), those whose viral protein only (``unseen_virus``), human
    protein only (``unseen_human``) or both proteins (``unseen_both``) are held out: four disjoint parts."""
    held = []
    for cluster_of, proteins in ((human_cluster, {h for h, _, _ in rows}), (viral_cluster, {v for _, v, _ in rows})):
        clusters = sorted({cluster_of[p] for p in proteins})
        chosen = rng.permutation(len(clusters))[: int(round(fraction * len(clusters)))]
        held.append({clusters[k] for k in chosen})
    split: dict[str, list] = {"train": [], "unseen_virus": [], "unseen_human": [], "unseen_both": []}
    for row in rows:
        new_h, new_v = human_cluster[row[0]] in held[0], viral_cluster[row[1]] in held[1]
        if new_h and new_v:
            split["unseen_both"].append(row)
        elif new_v:
            split["unseen_virus"].append(row)
        elif new_h:
            split["unseen_human"].append(row)
        else:
            split["train"].append(row)
    return split


def write_replicate(
    folder: Path,
    positives: Sequence[tuple[str, str]],
    negatives: Sequence[tuple[str, str]],
    sequences: dict[str, str],
    test_fraction: float,
    rng: np.random.Generator,
    clusters: tuple[dict[str, str], dict[str, str]] | None = None,
) -> dict:
    """Split one replicate 8:2 (stratified) and write its files; with ``clusters`` (human, viral CD-HIT
    representatives) also a protein-disjoint split in ``folder/disjoint``. Returns the counts."""
    rows = [(h, v, 1) for h, v in positives] + [(h, v, 0) for h, v in negatives]
    labels = np.array([y for _, _, y in rows], dtype=np.int8)
    train_idx, test_idx = stratified_split(labels, test_fraction, rng)
    train = [rows[i] for i in train_idx]
    test = [rows[i] for i in test_idx]
    proteins = sorted({h for h, _, _ in rows} | {v for _, v, _ in rows})
    with atomic_write(folder / "pro_seq.txt") as fh:
        fh.writelines(f"{p}\t{sequences[p]}\n" for p in proteins)
    _write_pairs(folder / "protein_pair_label_train.txt", train)
    _write_pairs(folder / "protein_pair_label_test.txt", test)
    _write_csv(folder / "train.csv", train, sequences)
    _write_csv(folder / "test.csv", test, sequences)
    counts: dict[str, Any] = {"train": _class_counts(train), "test": _class_counts(test), "proteins": len(proteins)}
    if clusters is not None:
        shuffled = [rows[i] for i in rng.permutation(len(rows))]
        split = protein_disjoint_split(shuffled, clusters[0], clusters[1], test_fraction, rng)
        counts["disjoint"] = {}
        for name, subset in split.items():
            _write_pairs(
                folder / "disjoint" / ("protein_pair_label_train.txt" if name == "train" else f"test_{name}.txt"),
                subset,
            )
            counts["disjoint"][name] = _class_counts(subset)
    return counts


def _conditions(threshold: float, settings: BuildSettings, sizes: np.ndarray, n_positives: int) -> dict[str, dict]:
    """Name -> {n, how n was chosen, target ratio} of every negative-sampling condition."""
    if settings.ratios is not None:
        wanted = {f"ratio{r:g}": r for r in settings.ratios}
    else:
        wanted = dict(DEFAULT_RATIOS)
    paper = PAPER_CAPS[round(threshold, 6)] if settings.caps == "paper" else None
    conditions = {}
    for name, ratio in wanted.items():
        solved = solve_cap(sizes, ratio * n_positives)
        reachable = capped_total(sizes, solved) >= ratio * n_positives
        if paper is not None:
            n, source = paper[name], "paper"
        else:
            n, source = solved, "solved"
        conditions[name] = {
            "n": int(n),
            "n_source": source,
            "target_ratio": ratio,
            "n_for_target_ratio": int(solved),
            "target_reachable": bool(reachable),
            "paper_n": PAPER_CAPS.get(round(threshold, 6), {}).get(name),
        }
    return conditions


def _resolve_sequences(
    ids: set[str], collected: HumanVirusPairs, pool: dict[str, str], settings: BuildSettings
) -> tuple[dict[str, str], dict]:
    """Sequences of the proteins passing the sequence filters, and the report of those failing them."""
    sequence_of: dict[str, str] = {}
    sources = {"mitab": 0, "pool": 0}
    for pid in ids:
        seq = collected.file_sequences.get(pid)
        source = "mitab"
        if seq is None:
            seq, source = _lookup(pool, pid), "pool"
        if seq is not None:
            sources[source] += 1
            sequence_of[pid] = seq
    failed = _check_proteins(ids, sequence_of, settings)
    for group in failed.values():
        for pid in group:
            sequence_of.pop(pid, None)
    report = {
        "source_counts": sources,
        "failed_filters": {k: len(v) for k, v in failed.items()},
        "proteins_failing_filters": failed,
    }
    return sequence_of, report


def _negative_spread(negatives: list[tuple[str, str]]) -> dict:
    """How the negatives spread over human proteins: a few human proteins carrying most negatives let
    a sequence-blind model separate the classes by protein frequency alone."""
    per_human = Counter(h for h, _ in negatives)
    top = sum(count for _, count in per_human.most_common(30))
    return {
        "human_proteins_in_negatives": len(per_human),
        "negatives_of_top30_human_proteins": round(top / len(negatives), 4) if negatives else 0.0,
    }


def _sampling_report(pool: CandidatePool, positives: list[tuple[str, str]]) -> dict:
    outliers = set(pool.outliers)
    return {
        "viral_proteins": len(pool.virus_ids) + len(outliers),
        "outliers": len(outliers),
        "outlier_ids": sorted(outliers),
        "positives_of_outliers": sum(v in outliers for _, v in positives),
        "viral_proteins_with_candidates": int((pool.sizes > 0).sum()),
        "far_viral_proteins_per_viral_protein_quartiles": np.percentile(pool.far_counts, [0, 25, 50, 75, 100]).tolist()
        if len(pool.far_counts)
        else [],
        "candidate_negatives": pool.total,
    }


def build_dataset(
    mitab_paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    sequences: str | os.PathLike | dict[str, str] | None = None,
    settings: BuildSettings | None = None,
    *,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Build the benchmark data sets in ``out_dir`` (see the module docstring); returns the manifest.

    ``sequences``: a FASTA / ``id<TAB>sequence`` file or a dict keyed by accession, for the proteins
    the MITAB files give no sequence for."""
    settings = settings or BuildSettings()
    settings.validate()
    if not mitab_paths:
        raise ValueError("give at least one MITAB file")
    say = log or (lambda message: None)
    started = time.perf_counter()
    out = Path(out_dir)
    with output_lock(out):
        thresholds = sorted(settings.mi_thresholds)
        parameters = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()}
        manifest: dict = {"hvppi_version": __version__, "rules": RULES, "parameters": parameters}
        interactions, manifest["inputs"] = _read_inputs(mitab_paths, settings, say)
        if isinstance(sequences, (str, os.PathLike)):
            manifest["sequence_file"] = {"path": str(sequences), "sha256": file_sha256(sequences)}
        pool = _load_pool(sequences)

        collected = collect_human_virus(interactions, thresholds, settings.mi_source)
        manifest["counts"] = {
            "rows_read": sum(i["rows"] for i in manifest["inputs"]),
            "rows_parsed": len(interactions),
            **collected.counts,
        }
        filtered = _filter_pairs(collected, pool, thresholds, settings, manifest, mitab_paths[0])
        state = _cluster_and_align(filtered, thresholds, settings, out, progress, say, manifest)
        _remove_earlier_builds(out, say)
        for t in thresholds:
            manifest[f"mi{t:g}"] = _build_threshold(t, state, settings, out, say)

        manifest["elapsed_seconds"] = round(time.perf_counter() - started, 2)
        with atomic_write(out / "manifest.json") as fh:
            json.dump(manifest, fh, indent=2)
        return manifest


@dataclass
class _Filtered:
    """The pairs after the sequence filters (step 3), with the sequences and the known pairs."""

    collected: HumanVirusPairs
    sequence_of: dict[str, str]
    filtered: dict[float, list[tuple[str, str]]]
    without_sequence: set[str]
    known: set[tuple[str, str]]


@dataclass
class _BuildState(_Filtered):
    """What the per-threshold steps need: the filtered pairs, the clusters, the non-redundant
    positives per threshold and the viral similarity matrix (rows in ``index`` order)."""

    human_cluster: dict[str, str]
    viral_cluster: dict[str, str]
    positives: dict[float, list[tuple[str, str]]]
    similarity: np.ndarray
    index: dict[str, int]


def _read_inputs(
    mitab_paths: Sequence[str | os.PathLike], settings: BuildSettings, say: Callable[[str], None]
) -> tuple[list[Interaction], list[dict]]:
    """Step 1: the interactions of every MITAB file, and the manifest's description of each file."""
    interactions, inputs = [], []
    for path in mitab_paths:
        parsed = read_mitab(path, skip_bad_lines=settings.skip_bad_lines)
        interactions.extend(parsed.interactions)
        inputs.append(
            {
                "path": str(path),
                "sha256": file_sha256(path),
                "layout": parsed.layout,
                "rows": parsed.rows,
                "skipped_bad_lines": len(parsed.bad_lines),
                "bad_lines": parsed.bad_lines,
            }
        )
        say(f"{path}: {parsed.rows} rows ({parsed.layout}), {len(parsed.bad_lines)} malformed skipped")
    return interactions, inputs


def _filter_pairs(
    collected: HumanVirusPairs,
    pool: dict[str, str],
    thresholds: list[float],
    settings: BuildSettings,
    manifest: dict,
    first_path: str | os.PathLike,
) -> _Filtered:
    """Step 3: sequences and the sequence filters; the known pairs under every ID of the same sequence."""
    ids = {p for pairs in collected.by_threshold.values() for pair in pairs for p in pair}
    sequence_of, manifest["sequences"] = _resolve_sequences(ids, collected, pool, settings)
    without_sequence = set(manifest["sequences"]["proteins_failing_filters"]["without_sequence"])
    filtered = {
        t: [(h, v) for h, v in collected.by_threshold[t] if h in sequence_of and v in sequence_of] for t in thresholds
    }
    if not filtered[thresholds[0]]:
        raise InputError(
            "no human–virus pair is left after the MI-score and sequence filters"
            + _no_pairs_hint(pool, collected, without_sequence),
            first_path,
        )
    known = known_by_sequence(
        collected.known,
        lambda pid: sequence_of.get(pid) or collected.file_sequences.get(pid) or _lookup(pool, pid),
        sequence_of,
    )
    manifest["counts"]["known_pairs_under_same_sequence_ids"] = len(known)
    return _Filtered(collected, sequence_of, filtered, without_sequence, known)


def _no_pairs_hint(pool: dict[str, str], collected: HumanVirusPairs, without_sequence: set[str]) -> str:
    if not pool and not collected.file_sequences:
        return "; give a sequence file (--sequences)"
    if without_sequence:
        return (
            f"; {len(without_sequence)} proteins have no sequence (e.g. {', '.join(sorted(without_sequence)[:3])})"
            + (f", and the sequence file's IDs look like {', '.join(list(pool)[:3])}" if pool else "")
        )
    return ""


def _cluster_and_align(
    state: _Filtered,
    thresholds: list[float],
    settings: BuildSettings,
    out: Path,
    progress: bool,
    say: Callable[[str], None],
    manifest: dict,
) -> _BuildState:
    """Steps 4 and 5a: CD-HIT clusters and redundancy removal; the viral alignment matrix."""
    from hvppi.datasets.clustering import cdhit_clusters

    lowest = state.filtered[thresholds[0]]
    humans, viruses = sorted({h for h, _ in lowest}), sorted({v for _, v in lowest})
    say(f"CD-HIT at identity {settings.identity} on {len(humans)} human and {len(viruses)} viral proteins")
    human_cluster = cdhit_clusters({h: state.sequence_of[h] for h in humans}, settings.identity, settings.threads)
    viral_cluster = cdhit_clusters({v: state.sequence_of[v] for v in viruses}, settings.identity, settings.threads)
    positives = {t: _remove_redundant(state.filtered[t], human_cluster, viral_cluster) for t in thresholds}

    virus_ids = sorted({v for t in thresholds for _, v in positives[t]})
    say(
        f"aligning {len(virus_ids)} viral proteins all against all ({settings.matrix}, gap open {settings.gap_open}, "
        f"extend {settings.gap_extend})"
    )
    similarity, manifest["alignment"] = viral_similarity(
        virus_ids,
        state.sequence_of,
        out / "cache",
        settings.matrix,
        settings.gap_open,
        settings.gap_extend,
        settings.threads,
        progress=progress,
    )
    if settings.similarity == "self-normalised":
        similarity = self_normalised(similarity)
    index = {v: k for k, v in enumerate(virus_ids)}
    return _BuildState(
        **vars(state),
        human_cluster=human_cluster,
        viral_cluster=viral_cluster,
        positives=positives,
        similarity=similarity,
        index=index,
    )


def _remove_earlier_builds(out: Path, say: Callable[[str], None]) -> None:
    """Remove an earlier build's data sets: this build's manifest will not describe them.

    The earlier manifest goes first, so that an interrupted rebuild leaves no manifest.json describing
    other data; this build's manifest is written at its end."""
    (out / "manifest.json").unlink(missing_ok=True)
    stale = [d for d in out.glob("mi*") if d.is_dir()]
    for folder in stale:
        shutil.rmtree(folder)
    if stale:
        say(f"removed {len(stale)} data set folder(s) of an earlier build in {out}")


def _build_threshold(
    t: float, state: _BuildState, settings: BuildSettings, out: Path, say: Callable[[str], None]
) -> dict:
    """Steps 5b and 6 at one MI-score threshold: candidate negatives, conditions and replicates; its manifest step."""
    collected = state.collected
    kept = state.positives[t]
    step: dict = {
        "rows": collected.rows_at[t],
        "rows_by_source": collected.rows_by_source[t],
        "unique_pairs": _species_counts(collected.by_threshold[t], collected.viral_taxid),
        "after_sequence_filters": _species_counts(state.filtered[t], collected.viral_taxid),
        "after_cdhit": _species_counts(kept, collected.viral_taxid),
    }
    step["after_sequence_filters"]["proteins_without_sequence"] = len(
        {p for pair in collected.by_threshold[t] for p in pair} & state.without_sequence
    )
    step["after_cdhit"]["human_clusters"] = len({state.human_cluster[h] for h, _ in state.filtered[t]})
    step["after_cdhit"]["viral_clusters"] = len({state.viral_cluster[v] for _, v in state.filtered[t]})
    if not kept:
        step["conditions"] = {}
        say(f"MI >= {t:g}: no pair left after the filters; no data set written")
        return step
    own = sorted({v for _, v in kept})
    rows = [state.index[v] for v in own]
    candidates = candidate_pool(
        state.similarity[np.ix_(rows, rows)],
        own,
        kept,
        state.known,
        settings.distance_threshold,
        settings.outlier_fraction,
    )
    step["negative_sampling"] = _sampling_report(candidates, kept)
    conditions = _conditions(t, settings, candidates.sizes, len(kept))
    for c, (name, condition) in enumerate(conditions.items()):
        condition["replicates"] = [
            _build_replicate(t, c, name, rep, condition["n"], candidates, state, settings, out)
            for rep in range(1, settings.replicates + 1)
        ]
        negatives_per_rep = condition["replicates"][0]["negatives"]
        condition["negative_positive_ratio"] = round(negatives_per_rep / max(1, len(kept)), 4)
        say(
            f"MI >= {t:g}, {name}: n = {condition['n']} ({condition['n_source']}), {len(kept)} positives, "
            f"{negatives_per_rep} negatives per replicate"
        )
    step["conditions"] = conditions
    return step


def _build_replicate(
    t: float,
    c: int,
    name: str,
    rep: int,
    n: int,
    candidates: CandidatePool,
    state: _BuildState,
    settings: BuildSettings,
    out: Path,
) -> dict:
    """Step 6 for one replicate of condition number ``c``: sample its negatives, split and write it."""
    kept = state.positives[t]
    seed = [settings.seed, int(round(t * 10000)), c, rep]
    negatives = candidates.sample(n, seed)
    leaked = [pair for pair in negatives if pair in state.known]
    if leaked:
        raise RuntimeError(f"internal error: sampled negatives that are known positives: {leaked[:5]}")
    folder = out / f"mi{t:g}" / name / f"rep{rep}"
    replicate = {
        "seed": seed,
        "folder": folder.relative_to(out).as_posix(),
        "positives": len(kept),
        "negatives": len(negatives),
        "human_proteins": len({h for h, _ in kept} | {h for h, _ in negatives}),
        "viral_proteins": len({v for _, v in kept} | {v for _, v in negatives}),
        **_negative_spread(negatives),
    }
    replicate.update(
        write_replicate(
            folder,
            kept,
            negatives,
            state.sequence_of,
            settings.test_fraction,
            np.random.default_rng(seed + [1]),
            (state.human_cluster, state.viral_cluster) if settings.disjoint_test else None,
        )
    )
    return replicate

"""The screening benchmark: rank every human candidate for viral proteins the model has not seen.

Viral proteins are held out with all their pairs, grouped by CD-HIT identity (0.9, and a strict
0.4) or by virus family; the screening model is trained on the rest; every human protein of the
data set is then ranked for each held-out viral protein, its known partners being the positives.
Each method gets per-viral-protein ROC AUC, average precision, recall in the top 1% and in the top
50, averaged over the held-out viral proteins with a 95% interval from resampling them (1,000
bootstrap resamples), and paired differences of the model against each baseline:

* ``random``: a random order;
* ``popularity``: human proteins by their number of training viral partners (one list for all);
* ``homology``: the highest Smith–Waterman similarity of the viral protein to a training viral
  partner of the human protein (homology transfer);
* ``model``: the screening model (:mod:`hvppi.ppi.screen_model`);
* ``model, constant virus``: the model with every viral protein replaced by the average one — the
  ablation that shows what the viral input adds.

With a virus taxonomy (:func:`hvppi.datasets.taxonomy.read_virus_taxonomy`), every viral protein's
taxon and family are model inputs, as a user gives them to ``hvppi screen``, and two more rows say what
they add: ``virus popularity`` (human proteins by their number of training partners among the proteins
of the same virus, ties by popularity: a baseline) and ``model, virus not given`` (the same model with
the held-out proteins' taxon and family withheld).

With extra training positives (:meth:`ScreeningData.with_extra`, e.g. the other data the bundled model is
trained on), the model and the baselines learn from the union, less every extra viral protein close to a
held-out one; the baselines from the data's own training pairs are reported too
(``popularity, benchmark pairs only``, ``homology, benchmark pairs only``).

Ties (e.g. human proteins that popularity cannot tell apart) are broken at random for average
precision and recall, and count one half for ROC AUC.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from hvppi.datasets.clustering import cdhit_clusters
from hvppi.datasets.taxonomy import VirusTaxonomy, read_virus_taxonomy
from hvppi.io.errors import InputError
from hvppi.io.files import atomic_write
from hvppi.io.pairs import PairTable
from hvppi.ppi.screen_model import (
    FEATURES,
    Candidates,
    Evidence,
    Reference,
    ScreeningConfig,
    SimilarityBundle,
    ViralTaxa,
    fit_on_bundle,
)

METHODS = ("random", "popularity", "homology", "model", "model, constant virus")
BASELINES = ("random", "popularity", "homology")
TAXONOMY_METHODS = ("virus popularity", "model, virus not given")
"""With a virus taxonomy: the same-virus popularity baseline, and the model without the query's virus."""
EXTRA_BASELINES = ("popularity, benchmark pairs only", "homology, benchmark pairs only")
"""With extra training positives, the baselines as computed from this data's training pairs alone."""
METRICS = ("roc_auc", "average_precision", "recall_top_1pct", "recall_top_50")
METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "average_precision": "AP",
    "recall_top_1pct": "recall@1%",
    "recall_top_50": "recall@50",
}


@dataclass
class ScreeningData:
    """Viral proteins with at least one known partner, every human protein, and the positive pairs."""

    virus_ids: list[str]
    virus_sequences: list[str]
    human_ids: list[str]
    human_sequences: list[str]
    pairs: np.ndarray  # (n, 2): viral index, human index
    extra_virus_ids: list[str] = field(default_factory=list)
    extra_virus_sequences: list[str] = field(default_factory=list)
    extra_human_ids: list[str] = field(default_factory=list)
    extra_human_sequences: list[str] = field(default_factory=list)
    extra_pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    """Training-only positives (viral, human) indexed over the universe: this data's proteins first, then the
    extra ones. They train the model (and inform the baselines) when their viral protein is not held out; the
    candidates and the positives scored stay this data's."""

    @property
    def universe_virus_sequences(self) -> list[str]:
        return self.virus_sequences + self.extra_virus_sequences

    @property
    def universe_human_sequences(self) -> list[str]:
        return self.human_sequences + self.extra_human_sequences

    @property
    def has_extra(self) -> bool:
        return len(self.extra_pairs) > 0

    def with_extra(self, pairs: Sequence[tuple[str, str]], sequences: dict[str, str]) -> ScreeningData:
        """This data plus extra positive pairs (human ID, viral ID) for training.

        Proteins are matched by sequence: an extra pair of a protein of this data adds to its known partners;
        other proteins are added as extra ones (never candidates). Pairs with a missing sequence, a letter
        outside the 20 standard amino acids, or a sequence on both sides are skipped.
        """
        from hvppi.io.alphabet import STANDARD_AMINO_ACIDS

        standard = set(STANDARD_AMINO_ACIDS)
        virus_index = {s: i for i, s in enumerate(self.virus_sequences)}
        human_index = {s: i for i, s in enumerate(self.human_sequences)}
        virus_ids, virus_sequences = list(self.extra_virus_ids), list(self.extra_virus_sequences)
        human_ids, human_sequences = list(self.extra_human_ids), list(self.extra_human_sequences)
        for i, s in enumerate(virus_sequences):
            virus_index.setdefault(s, len(self.virus_ids) + i)
        for i, s in enumerate(human_sequences):
            human_index.setdefault(s, len(self.human_ids) + i)
        accepted: list[tuple[str, str]] = []
        names: dict[str, str] = {}  # sequence -> the first ID that brought it
        for human, virus in pairs:
            hs, vs = sequences.get(human), sequences.get(virus)
            if not hs or not vs or hs == vs or set(hs) - standard or set(vs) - standard:
                continue
            accepted.append((hs, vs))
            names.setdefault(hs, human)
            names.setdefault(vs, virus)
        human_side = set(self.human_sequences) | {hs for hs, _ in accepted}
        virus_side = set(self.virus_sequences) | {vs for _, vs in accepted}
        ambiguous = human_side & virus_side
        index = set(map(tuple, self.extra_pairs.tolist()))
        for hs, vs in accepted:
            if hs in ambiguous or vs in ambiguous:
                continue
            if vs not in virus_index:
                virus_index[vs] = len(self.virus_ids) + len(virus_ids)
                virus_ids.append(names[vs])
                virus_sequences.append(vs)
            if hs not in human_index:
                human_index[hs] = len(self.human_ids) + len(human_ids)
                human_ids.append(names[hs])
                human_sequences.append(hs)
            index.add((virus_index[vs], human_index[hs]))
        index -= set(map(tuple, self.pairs.tolist()))
        return ScreeningData(
            self.virus_ids,
            self.virus_sequences,
            self.human_ids,
            self.human_sequences,
            self.pairs,
            virus_ids,
            virus_sequences,
            human_ids,
            human_sequences,
            np.asarray(sorted(index), dtype=np.int64).reshape(-1, 2),
        )

    def universe_taxa(self, taxonomy: VirusTaxonomy | None) -> ViralTaxa:
        """Taxon and family of every viral protein of the universe (this data's, then the extra ones)."""
        ids = self.virus_ids + self.extra_virus_ids
        if taxonomy is None:
            return ViralTaxa.unknown(len(ids))
        known = [taxonomy.of(v) for v in ids]
        return ViralTaxa([t for t, _ in known], [f for _, f in known])

    def universe_reference(self) -> Reference:
        """Every protein (this data's, then the extra ones) and every positive pair, for training."""
        pairs = np.concatenate([self.pairs, self.extra_pairs]) if self.has_extra else self.pairs
        return Reference(
            self.virus_ids + self.extra_virus_ids,
            self.universe_virus_sequences,
            self.human_ids + self.extra_human_ids,
            self.universe_human_sequences,
            pairs[:, 0],
            pairs[:, 1],
        )

    @classmethod
    def from_pairs(cls, pairs: PairTable, sequences: dict[str, str]) -> ScreeningData:
        """Positives are the pairs labelled 1; candidates every human protein of the table.

        IDs with the same sequence are one protein (the first ID in sorted order names it), so a protein is
        never a candidate negative under one ID while a known partner under another.
        """
        labels = pairs.require_labels("pairs of the screening benchmark")
        pairs.check_sequences(sequences)
        human_name = _names_by_sequence(sorted(set(pairs.human_ids)), sequences)
        positive = np.flatnonzero(labels == 1)
        virus_name = _names_by_sequence(sorted({pairs.virus_ids[i] for i in positive}), sequences)
        human_ids = sorted(set(human_name.values()))
        virus_ids = sorted(set(virus_name.values()))
        both = set(human_name) & set(virus_name)
        if both:
            raise InputError(
                f"{len(both)} IDs are both human and viral (e.g. {sorted(both)[0]}); are some columns swapped?",
                pairs.path,
            )
        vi = {v: i for i, v in enumerate(virus_ids)}
        hi = {h: i for i, h in enumerate(human_ids)}
        index = sorted({(vi[virus_name[pairs.virus_ids[i]]], hi[human_name[pairs.human_ids[i]]]) for i in positive})
        return cls(
            virus_ids,
            [sequences[v] for v in virus_ids],
            human_ids,
            [sequences[h] for h in human_ids],
            np.asarray(index, dtype=np.int64).reshape(-1, 2),
        )

    def subset(self, viral: int, human: int, seed: int = 0) -> ScreeningData:
        """A seeded random ``viral`` viral proteins with their pairs; as candidates, their partners plus random
        other human proteins up to ``human`` (for quick, repeatable checks of the benchmark)."""
        rng = np.random.default_rng(seed)
        chosen_viral = np.sort(rng.choice(len(self.virus_ids), min(viral, len(self.virus_ids)), replace=False))
        keep = np.isin(self.pairs[:, 0], chosen_viral)
        partners = np.unique(self.pairs[keep, 1])
        others = np.setdiff1d(np.arange(len(self.human_ids)), partners)
        extra = rng.choice(others, max(0, min(human - len(partners), len(others))), replace=False)
        chosen_human = np.sort(np.concatenate([partners, extra]))
        new_viral = np.full(len(self.virus_ids), -1)
        new_viral[chosen_viral] = np.arange(len(chosen_viral))
        new_human = np.full(len(self.human_ids), -1)
        new_human[chosen_human] = np.arange(len(chosen_human))
        pairs = np.stack([new_viral[self.pairs[keep, 0]], new_human[self.pairs[keep, 1]]], axis=1)
        return ScreeningData(
            [self.virus_ids[i] for i in chosen_viral],
            [self.virus_sequences[i] for i in chosen_viral],
            [self.human_ids[i] for i in chosen_human],
            [self.human_sequences[i] for i in chosen_human],
            pairs,
        )

    def reference(self) -> Reference:
        return Reference(
            self.virus_ids,
            self.virus_sequences,
            self.human_ids,
            self.human_sequences,
            self.pairs[:, 0],
            self.pairs[:, 1],
        )

    def labels(self, viral: np.ndarray) -> np.ndarray:
        """Known-partner matrix (len(viral), n_human), bool."""
        row_of = np.full(len(self.virus_ids), -1)
        row_of[viral] = np.arange(len(viral))
        out = np.zeros((len(viral), len(self.human_ids)), dtype=bool)
        keep = row_of[self.pairs[:, 0]] >= 0
        out[row_of[self.pairs[keep, 0]], self.pairs[keep, 1]] = True
        return out

    def extra_labels(self, viral: np.ndarray) -> np.ndarray:
        """Partners known only from the extra pairs (len(viral), n_human), bool: extra pairs of these viral proteins
        with a candidate human protein, less the data's own pairs."""
        row_of = np.full(len(self.virus_ids) + len(self.extra_virus_ids), -1)
        row_of[viral] = np.arange(len(viral))
        out = np.zeros((len(viral), len(self.human_ids)), dtype=bool)
        pairs = self.extra_pairs[(row_of[self.extra_pairs[:, 0]] >= 0) & (self.extra_pairs[:, 1] < len(self.human_ids))]
        out[row_of[pairs[:, 0]], pairs[:, 1]] = True
        return out & ~self.labels(viral)


def _names_by_sequence(ids: list[str], sequences: dict[str, str]) -> dict[str, str]:
    """Each ID → the first of ``ids`` with the same sequence."""
    first: dict[str, str] = {}
    return {pid: first.setdefault(sequences[pid], pid) for pid in ids}


def read_families(path: str | os.PathLike) -> dict[str, str]:
    """Virus family of each viral accession from a taxonomy table (see :mod:`hvppi.datasets.taxonomy`)."""
    return read_virus_taxonomy(path).families()


# --------------------------------------------------------------------------------------- metrics


def ranking_metrics(scores: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """ROC AUC, average precision, recall in the top 1% and the top 50 of one viral protein's candidates."""
    n, positives = len(scores), int(labels.sum())
    if positives == 0 or positives == n:
        raise ValueError("a viral protein needs known partners and non-partners among the candidates")
    ranks = rankdata(scores)
    auc = (ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * (n - positives))
    order = np.lexsort((rng.random(n), -scores))
    hits = labels[order]
    found = np.cumsum(hits)
    precision_at_hits = found[hits] / (np.flatnonzero(hits) + 1)
    top_1pct = max(1, math.ceil(0.01 * n))
    return {
        "roc_auc": float(auc),
        "average_precision": float(precision_at_hits.sum() / positives),
        "recall_top_1pct": float(found[min(top_1pct, n) - 1] / positives),
        "recall_top_50": float(found[min(50, n) - 1] / positives),
    }


def recall_curve(scores: np.ndarray, labels: np.ndarray, ks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    order = np.lexsort((rng.random(len(scores)), -scores))
    found = np.cumsum(labels[order])
    return found[np.minimum(ks, len(scores)) - 1] / max(int(labels.sum()), 1)


def bootstrap(values: np.ndarray, resamples: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over rows and its 95% percentile interval from resampling rows; values (n, m)."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[index].mean(axis=1)
    return values.mean(0), np.percentile(means, 2.5, axis=0), np.percentile(means, 97.5, axis=0)


# --------------------------------------------------------------------------------------- one split


@dataclass
class SplitResult:
    """Per-viral-protein metrics of every method on one held-out set."""

    name: str
    held_out: list[str]
    per_virus: dict[str, np.ndarray]  # method -> (n_held_out, len(METRICS))
    recall_curves: dict[str, np.ndarray]  # method -> mean recall at CURVE_KS
    info: dict[str, Any] = field(default_factory=dict)
    reliability: list[dict[str, float]] = field(default_factory=list)

    def summary(self, resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {"split": self.name, "held_out_viral_proteins": len(self.held_out), **self.info}
        methods: dict[str, Any] = {}
        for method, values in self.per_virus.items():
            mean, low, high = bootstrap(values, resamples, seed)
            methods[method] = {m: [float(mean[j]), float(low[j]), float(high[j])] for j, m in enumerate(METRICS)}
        out["methods"] = methods
        differences: dict[str, Any] = {}
        for other in ("popularity", "homology", "model, constant virus", *TAXONOMY_METHODS, *EXTRA_BASELINES):
            if other not in self.per_virus:
                continue
            mean, low, high = bootstrap(self.per_virus["model"] - self.per_virus[other], resamples, seed)
            differences[f"model - {other}"] = {
                m: [float(mean[j]), float(low[j]), float(high[j])] for j, m in enumerate(METRICS)
            }
        out["differences"] = differences
        if self.reliability:
            out["reliability"] = self.reliability
        return out


CURVE_KS = np.unique(np.round(np.geomspace(1, 600, 40)).astype(np.int64))


def reliability_table(probabilities: np.ndarray, labels: np.ndarray) -> list[dict[str, float]]:
    """Mean predicted probability against the observed share of partners, in bins of predicted probability."""
    edges = (0.0, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0 + 1e-9)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (probabilities >= low) & (probabilities < high)
        if inside.any():
            rows.append(
                {
                    "bin_low": low,
                    "bin_high": min(high, 1.0),
                    "pairs": int(inside.sum()),
                    "mean_predicted": float(probabilities[inside].mean()),
                    "observed": float(labels[inside].mean()),
                }
            )
    return rows


def candidates_of_data(data: ScreeningData, bundle: SimilarityBundle) -> Candidates:
    """The candidates scored: this data's human proteins (the first of the universe), against every reference human."""
    n = len(data.human_ids)
    c = bundle.candidates
    return Candidates(c.reference_index[:n], c.kmer[:n], c.log_length[:n], c.reference_canonical)


def evaluate_split(
    data: ScreeningData,
    bundle: SimilarityBundle,
    held_out: np.ndarray,
    groups: Sequence[str],
    config: ScreeningConfig,
    name: str,
    calibrate: bool = False,
    exclude: np.ndarray | None = None,
) -> SplitResult:
    """Train on the viral proteins not in ``held_out`` and score every method on the held-out ones.

    ``bundle`` and ``groups`` cover the universe (this data's viral proteins, then the extra ones); ``exclude``
    marks extra viral proteins kept out of training too (those too close to a held-out one).
    """
    held_out = np.asarray(held_out, dtype=np.int64)
    n_universe = len(data.virus_ids) + len(data.extra_virus_ids)
    out_of_training = np.zeros(n_universe, dtype=bool)
    out_of_training[held_out] = True
    if exclude is not None:
        out_of_training |= np.asarray(exclude, dtype=bool)
    training = np.flatnonzero(~out_of_training)
    reference = data.universe_reference()
    n_human = len(reference.human_ids)
    started = time.perf_counter()
    trees, calibration, info = fit_on_bundle(reference, training, bundle, groups, config, calibrate=calibrate)
    candidates = candidates_of_data(data, bundle)
    evidence = Evidence(training, reference.pair_virus, reference.pair_human, n_human, candidates, config.neighbours)
    similarities = bundle.viral.take(held_out, training)
    features = evidence.features(similarities)
    rng = np.random.default_rng(config.seed + 1)
    scores = {
        "random": rng.random(features.shape[:2]),
        "popularity": np.broadcast_to(evidence.popularity[None].astype(np.float64), features.shape[:2]),
        "homology": features[:, :, FEATURES.index("homology_max")].astype(np.float64),
        "model": trees.decision(features),
        "model, constant virus": trees.decision(evidence.features(similarities.constant())),
    }
    if bundle.viral.same_taxon.any() or bundle.viral.same_family.any():  # a taxonomy was given
        same_virus = np.rint(np.expm1(features[:, :, FEATURES.index("taxon_log_popularity")].astype(np.float64)))
        popularity = evidence.popularity.astype(np.float64)
        scores["virus popularity"] = same_virus * (popularity.max(initial=0.0) + 1.0) + popularity[None]
        scores["model, virus not given"] = trees.decision(evidence.features(similarities.without_taxonomy()))
    if data.has_extra:  # the baselines from this data's training pairs alone, as without extra positives
        own = training[training < len(data.virus_ids)]
        own_evidence = Evidence(own, data.pairs[:, 0], data.pairs[:, 1], n_human, candidates, config.neighbours)
        own_features = own_evidence.features(bundle.viral.take(held_out, own))
        scores[EXTRA_BASELINES[0]] = np.broadcast_to(
            own_evidence.popularity[None].astype(np.float64), features.shape[:2]
        )
        scores[EXTRA_BASELINES[1]] = own_features[:, :, FEATURES.index("homology_max")].astype(np.float64)
    labels = data.labels(held_out)
    if data.has_extra:  # the same rankings, with the extra data's partners of the held-out proteins as positives too
        extra = data.extra_labels(held_out)
        known = labels | extra
        info["all_known_partners"] = {
            "extra_partners": int(extra.sum()),
            "viral_proteins_with_extra_partners": int(extra.any(1).sum()),
            "methods": {
                method: dict(zip(METRICS, _per_virus_metrics(scores[method], known, config.seed + 2).mean(0).tolist()))
                for method in ("popularity", "homology", "model")
            },
        }
    per_virus, curves = {}, {}
    for method, matrix in scores.items():
        method_rng = np.random.default_rng(config.seed + 2)
        per_virus[method] = _per_virus_metrics(matrix, labels, method_rng)
        curves[method] = np.mean(
            [recall_curve(matrix[i], labels[i], CURVE_KS, method_rng) for i in range(len(held_out))], axis=0
        )
    info.update(
        {
            "training_viral_proteins": int(len(training)),
            "held_out_pairs": int(labels.sum()),
            "candidates": len(data.human_ids),
            "median_best_similarity_to_training": float(np.median(similarities.smith_waterman.max(1)))
            if training.size
            else 0.0,
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
    if data.has_extra:
        info.update(
            {
                "training_viral_proteins_of_the_data": int((training < len(data.virus_ids)).sum()),
                "extra_viral_proteins_excluded": int(out_of_training[len(data.virus_ids) :].sum()),
                "training_pairs": int(np.isin(reference.pair_virus, training).sum()),
            }
        )
    result = SplitResult(name, [data.virus_ids[i] for i in held_out], per_virus, curves, info)
    if calibration is not None:
        result.reliability = reliability_table(calibration(scores["model"]).ravel(), labels.ravel())
    return result


def close_to_held_out(clusters: Sequence[str], held_out: np.ndarray, n_data: int) -> np.ndarray:
    """Extra viral proteins (index >= ``n_data``) in a cluster with a held-out one: kept out of training."""
    array = np.asarray(clusters)
    out = np.isin(array, array[np.asarray(held_out, dtype=np.int64)])
    out[:n_data] = False
    return out


def hold_out_groups(groups: Sequence[str], fraction: float, seed: int) -> np.ndarray:
    """Indices of whole groups, taken in a seeded random order until at least ``fraction`` of the items."""
    if not 0 < fraction < 1:
        raise ValueError("the held-out fraction must lie strictly between 0 and 1")
    array = np.asarray(groups)
    order = np.random.default_rng(seed).permutation(np.unique(array))
    target = math.ceil(fraction * len(array))
    chosen = np.zeros(len(array), dtype=bool)
    for group in order:
        if chosen.sum() >= target:
            break
        chosen |= array == group
    return np.flatnonzero(chosen)


# --------------------------------------------------------------------------------------- the benchmark


@dataclass
class ScreeningBenchmark:
    """Results of :func:`run_screening_benchmark`."""

    identity_splits: list[SplitResult]
    family_splits: list[SplitResult]
    settings: dict[str, Any]
    resamples: int = 1000

    def to_dict(self) -> dict[str, Any]:
        seed = int(self.settings.get("seed", 0))
        return {
            "settings": self.settings,
            "identity_splits": [s.summary(self.resamples, seed) for s in self.identity_splits],
            "family_splits": [s.summary(self.resamples, seed) for s in self.family_splits],
        }


def run_screening_benchmark(
    data: ScreeningData,
    *,
    identities: Sequence[float] = (0.9, 0.4),
    fraction: float = 0.2,
    taxonomy: VirusTaxonomy | None = None,
    family_count: int = 8,
    config: ScreeningConfig | None = None,
    resamples: int = 1000,
    log: Callable[[str], None] = lambda message: None,
    progress: bool = False,
    bundle: SimilarityBundle | None = None,
) -> ScreeningBenchmark:
    """Hold out viral proteins by CD-HIT identity (and by family, when ``taxonomy`` is given) and score every method.

    With ``taxonomy``, every viral protein's taxon and family are model inputs (those of the held-out proteins
    too, as a user gives them to ``hvppi screen``), and the taxonomy rows are reported (``TAXONOMY_METHODS``).

    The held-out viral proteins are chosen among ``data``'s own; with extra training positives
    (:meth:`ScreeningData.with_extra`), every extra viral protein that clusters with a held-out one at the split's
    identity (for a family: of that family, or clustering with one of its proteins at the folds' identity) is kept
    out of training too. ``bundle``: the universe's similarities, if already computed.
    """
    config = config or ScreeningConfig()
    started = time.perf_counter()
    n_data = len(data.virus_ids)
    log(
        f"{n_data} viral proteins with partners, {len(data.human_ids)} human candidates, {len(data.pairs)} pairs"
        + (
            f"; for training also {len(data.extra_pairs)} extra pairs, {len(data.extra_virus_ids)} extra viral and "
            f"{len(data.extra_human_ids)} extra human proteins"
            if data.has_extra
            else ""
        )
    )
    taxa = data.universe_taxa(taxonomy)
    if bundle is None:
        bundle = SimilarityBundle.compute(
            data.universe_virus_sequences, data.universe_human_sequences, config.threads, progress, taxa
        )
        log(f"similarities computed ({time.perf_counter() - started:.0f} s)")
    viral = dict(zip(data.virus_ids, data.virus_sequences))
    universe = {f"v{i}": s for i, s in enumerate(data.universe_virus_sequences)}
    threads = max(config.threads, 1)

    def universe_groups(identity: float) -> list[str]:
        clusters = cdhit_clusters(universe, identity, threads=threads)
        return [clusters[f"v{i}"] for i in range(len(universe))]

    data_fold_clusters = cdhit_clusters(viral, config.fold_identity, threads=threads)
    fold_groups = (
        universe_groups(config.fold_identity) if data.has_extra else [data_fold_clusters[v] for v in data.virus_ids]
    )
    identity_splits = []
    for k, identity in enumerate(identities):
        data_clusters = (
            data_fold_clusters if identity == config.fold_identity else cdhit_clusters(viral, identity, threads=threads)
        )
        held_out = hold_out_groups([data_clusters[v] for v in data.virus_ids], fraction, config.seed)
        if data.has_extra:  # the folds follow the split's clusters, over every viral protein
            groups = fold_groups if identity == config.fold_identity else universe_groups(identity)
        else:
            groups = [data_clusters[v] for v in data.virus_ids]
        exclude = close_to_held_out(groups, held_out, n_data)
        name = f"held-out viral proteins, CD-HIT {identity:g}"
        result = evaluate_split(data, bundle, held_out, groups, config, name, calibrate=k == 0, exclude=exclude)
        result.info["identity"] = identity
        identity_splits.append(result)
        log(
            f"{name}: {len(held_out)} held out, model ROC AUC {result.per_virus['model'][:, 0].mean():.3f}, "
            f"recall@1% {result.per_virus['model'][:, 2].mean():.3f} ({result.info['seconds']:.0f} s)"
        )
    family_splits = []
    if taxonomy is not None:
        family_of = taxa.families
        counts = Counter(f for f in family_of[:n_data] if f)
        for family, n in counts.most_common(family_count):
            held_out = np.flatnonzero([f == family for f in family_of[:n_data]])
            exclude = close_to_held_out(fold_groups, held_out, n_data)
            exclude[n_data:] |= np.array([f == family for f in family_of[n_data:]], dtype=bool)
            result = evaluate_split(
                data,
                bundle,
                held_out,
                fold_groups,
                config,
                f"family {family} held out",
                exclude=exclude,
            )
            result.info.update({"family": family, "family_viral_proteins": n})
            family_splits.append(result)
            log(
                f"family {family}: {n} held out, model ROC AUC {result.per_virus['model'][:, 0].mean():.3f}, "
                f"popularity {result.per_virus['popularity'][:, 0].mean():.3f} ({result.info['seconds']:.0f} s)"
            )
    settings = {
        "identities": list(identities),
        "fraction": fraction,
        "family_count": family_count if taxonomy is not None else 0,
        "families_known": int(sum(f is not None for f in taxa.families[:n_data])),
        "taxa_known": int(sum(t is not None for t in taxa.taxa[:n_data])),
        "screening_config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "seed": config.seed,
        "extra_training_data": {
            "pairs": int(len(data.extra_pairs)),
            "viral_proteins": len(data.extra_virus_ids),
            "human_proteins": len(data.extra_human_ids),
        }
        if data.has_extra
        else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return ScreeningBenchmark(identity_splits, family_splits, settings, resamples)


# --------------------------------------------------------------------------------------- reports


def _cell(values: list[float], digits: int = 3) -> str:
    mean, low, high = values
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def split_table(summary: dict[str, Any]) -> str:
    """Markdown table of one split: every method, then the model's paired differences."""
    head = "| method | " + " | ".join(METRIC_LABELS[m] for m in METRICS) + " |"
    lines = [head, "|" + " --- |" * (len(METRICS) + 1)]
    for method, metrics in summary["methods"].items():
        lines.append(f"| {method} | " + " | ".join(_cell(metrics[m]) for m in METRICS) + " |")
    for name, metrics in summary["differences"].items():
        lines.append(f"| {name} | " + " | ".join(_cell(metrics[m]) for m in METRICS) + " |")
    return "\n".join(lines)


def family_table(summaries: list[dict[str, Any]]) -> str:
    """Markdown table of leave-one-family-out: per family, mean per-virus ROC AUC and recall@1% of each method."""
    shown = ("popularity", "homology", "model")
    lines = [
        "| family | viral proteins | pairs | "
        + " | ".join(f"{m} AUC" for m in shown)
        + " | "
        + " | ".join(f"{m} recall@1%" for m in shown)
        + " |",
        "|" + " --- |" * (3 + 2 * len(shown)),
    ]
    for s in summaries:
        methods = s["methods"]
        lines.append(
            f"| {s['family']} | {s['held_out_viral_proteins']} | {s['held_out_pairs']} | "
            + " | ".join(f"{methods[m]['roc_auc'][0]:.3f}" for m in shown)
            + " | "
            + " | ".join(f"{methods[m]['recall_top_1pct'][0]:.3f}" for m in shown)
            + " |"
        )
    wins = sum(s["methods"]["model"]["roc_auc"][0] > s["methods"]["popularity"]["roc_auc"][0] for s in summaries)
    lines.append(f"\nThe model's mean per-virus ROC AUC is above popularity's for {wins} of {len(summaries)} families.")
    return "\n".join(lines)


def _per_virus_metrics(scores: np.ndarray, labels: np.ndarray, rng: np.random.Generator | int) -> np.ndarray:
    """(n_viral, len(METRICS)): the ranking metrics of each viral protein's row; ``rng`` breaks ties."""
    rng = np.random.default_rng(rng)
    return np.array([[row[m] for m in METRICS] for row in (ranking_metrics(s, y, rng) for s, y in zip(scores, labels))])


def _all_known_table(summary: dict[str, Any]) -> str:
    known = summary.get("all_known_partners")
    if not known:
        return ""
    lines = [
        f"\n\nThe same rankings with every known partner as a positive: the extra training data also knows "
        f"{known['extra_partners']} partners among the candidates for {known['viral_proteins_with_extra_partners']} "
        "of the held-out viral proteins, counted above as non-partners. Means over held-out viral proteins:\n",
        "| method | " + " | ".join(METRIC_LABELS[m] for m in METRICS) + " |",
        "|" + " --- |" * (len(METRICS) + 1),
    ]
    for method, metrics in known["methods"].items():
        lines.append(f"| {method} | " + " | ".join(f"{metrics[m]:.3f}" for m in METRICS) + " |")
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    """The whole benchmark as Markdown: identity splits, then leave-one-family-out."""
    parts = []
    for s in report["identity_splits"]:
        parts.append(
            f"### {s['split']}\n\n{s['held_out_viral_proteins']} held-out viral proteins, {s['held_out_pairs']} known "
            f"pairs, {s['candidates']} human candidates each; trained on {s['training_viral_proteins']} viral proteins. "
            f"Mean over held-out viral proteins [95% interval from 1,000 resamples of them].\n\n{split_table(s)}"
            + _all_known_table(s)
        )
    if report["family_splits"]:
        parts.append("### Leave one virus family out\n\n" + family_table(report["family_splits"]))
    return "\n\n".join(parts) + "\n"


def write_benchmark(out_dir: str | os.PathLike, benchmark: ScreeningBenchmark, title: str) -> list[str]:
    """benchmark.json, benchmark.md, per_virus.tsv, auc_distribution.png, recall_at_k.png (and reliability.png)."""
    from hvppi.ppi.screen_plots import screening_plots

    out = Path(out_dir)
    report = benchmark.to_dict()
    with atomic_write(out / "benchmark.json") as fh:
        json.dump(report, fh, indent=2)
    with atomic_write(out / "benchmark.md") as fh:
        fh.write(f"# Screening benchmark: {title}\n\n" + format_report(report))
    with atomic_write(out / "per_virus.tsv") as fh:
        fh.write("split\tvirus_id\tmethod\t" + "\t".join(METRICS) + "\n")
        for split in benchmark.identity_splits + benchmark.family_splits:
            for method, values in split.per_virus.items():
                for virus, row in zip(split.held_out, values):
                    fh.write(f"{split.name}\t{virus}\t{method}\t" + "\t".join(f"{x:.6g}" for x in row) + "\n")
    written = ["benchmark.json", "benchmark.md", "per_virus.tsv"]
    written += screening_plots(out, benchmark.identity_splits, CURVE_KS, title)
    return written

"""Running the screening benchmark: train on the rest, score every method on each held-out split."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hvppi.datasets.taxonomy import VirusTaxonomy
from hvppi.screening.benchmark.data import ScreeningData, candidates_of_data
from hvppi.screening.benchmark.methods import ALL_KNOWN, DIFFERENCES, SplitContext, score_methods
from hvppi.screening.benchmark.metrics import (
    CURVE_KS,
    METRICS,
    interval,
    per_virus_metrics,
    recall_curve,
    reliability_table,
)
from hvppi.screening.benchmark.splits import HeldOutSplit, ViralClusters, family_split, held_out_split
from hvppi.screening.calibration import IsotonicCalibration
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import Evidence
from hvppi.screening.fitting import fit_on_bundle
from hvppi.screening.similarity import SimilarityBundle
from hvppi.screening.taxa import ViralTaxa

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
    viruses: list[str] = field(default_factory=list)
    """The virus (taxon) of each held-out viral protein: intervals resample viruses, not proteins (empty: proteins)."""

    def summary(self, resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
        """Means with 95% intervals of every method, and the model's paired differences (:data:`DIFFERENCES`)."""
        out: dict[str, Any] = {"split": self.name, "held_out_viral_proteins": len(self.held_out), **self.info}
        groups = self.viruses or None
        out["resampled"] = f"{len(set(self.viruses))} viruses" if groups else f"{len(self.held_out)} viral proteins"
        out["methods"] = {m: interval(values, resamples, seed, groups) for m, values in self.per_virus.items()}
        out["differences"] = {
            f"model - {other}": interval(self.per_virus["model"] - self.per_virus[other], resamples, seed, groups)
            for other in DIFFERENCES
            if other in self.per_virus
        }
        if self.reliability:
            out["reliability"] = self.reliability
        return out


def training_viral(data: ScreeningData, held_out: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
    """The viral proteins of the universe that train: neither held out nor excluded."""
    out_of_training = np.zeros(len(data.virus_ids) + len(data.extra_virus_ids), dtype=bool)
    out_of_training[held_out] = True
    if exclude is not None:
        out_of_training |= np.asarray(exclude, dtype=bool)
    return np.flatnonzero(~out_of_training)


def fit_split(
    data: ScreeningData,
    bundle: SimilarityBundle,
    held_out: np.ndarray,
    training: np.ndarray,
    groups: Sequence[str],
    config: ScreeningConfig,
    calibrate: bool = False,
    threads: int = 1,
) -> tuple[SplitContext, IsotonicCalibration | None, dict[str, Any]]:
    """Fit the model on ``training`` and describe the held-out proteins against it (what the methods score)."""
    reference = data.universe_reference()
    trees, calibration, info = fit_on_bundle(
        reference, training, bundle, groups, config, calibrate=calibrate, threads=threads
    )
    candidates = candidates_of_data(data, bundle)
    n_human = len(reference.human_ids)
    evidence = Evidence(training, reference.pair_virus, reference.pair_human, n_human, candidates, config.neighbours)
    similarities = bundle.viral.take(held_out, training)
    features = evidence.features(similarities)
    context = SplitContext(data, bundle, held_out, training, config, trees, evidence, similarities, features)
    return context, calibration, info


def all_known_partners(
    data: ScreeningData, held_out: np.ndarray, labels: np.ndarray, scores: dict[str, np.ndarray], seed: int
) -> dict[str, Any]:
    """The same rankings with the extra data's partners of the held-out proteins as positives too."""
    extra = data.extra_labels(held_out)
    known = labels | extra
    return {
        "extra_partners": int(extra.sum()),
        "viral_proteins_with_extra_partners": int(extra.any(1).sum()),
        "methods": {
            method: dict(zip(METRICS, per_virus_metrics(scores[method], known, seed + 2).mean(0).tolist()))
            for method in ALL_KNOWN
        },
    }


def closed_world(data: ScreeningData, held_out: np.ndarray, scores: dict[str, np.ndarray], seed: int) -> dict[str, Any]:
    """The old, closed-world table, for comparison: the same scores ranked among this data's human proteins only
    (every one a partner of some viral protein: candidates chosen by the labels) with this data's pairs as the
    positives."""
    labels = data.labels(held_out)
    n = len(data.human_ids)
    return {
        "candidates": n,
        "methods": {
            method: dict(zip(METRICS, per_virus_metrics(scores[method][:, :n], labels, seed + 2).mean(0).tolist()))
            for method in ALL_KNOWN
        },
    }


def per_virus_and_curves(
    scores: dict[str, np.ndarray], labels: np.ndarray, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each method's per-viral-protein metrics and mean recall curve (ties broken by one seeded stream each)."""
    per_virus, curves = {}, {}
    for method, matrix in scores.items():
        method_rng = np.random.default_rng(seed + 2)
        per_virus[method] = per_virus_metrics(matrix, labels, method_rng)
        curves[method] = np.mean(
            [recall_curve(matrix[i], labels[i], CURVE_KS, method_rng) for i in range(len(labels))], axis=0
        )
    return per_virus, curves


def split_counts(context: SplitContext, labels: np.ndarray) -> dict[str, Any]:
    """How large the split is: training viral proteins, held-out pairs, candidates."""
    training = context.training
    return {
        "training_viral_proteins": int(len(training)),
        "held_out_pairs": int(labels.sum()),
        "candidates": int(labels.shape[1]),
        "median_best_similarity_to_training": float(np.median(context.similarities.smith_waterman.max(1)))
        if training.size
        else 0.0,
    }


def partnerless_positives(context: SplitContext, labels: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, Any]:
    """The held-out pairs whose human protein has no partner in training: no popularity, homology or same-virus
    evidence can reach them (only the k-mer neighbours of the human protein can). How many, and where each method
    ranks them: the mean share of a held-out protein's negatives scored below such a positive (0.5: random), and
    the share of the model's ROC AUC shortfall (1 - AUC, summed over held-out proteins) that they carry."""
    labels = np.asarray(labels, dtype=bool)
    no_partner = np.asarray(context.evidence.popularity) == 0
    hit = labels & no_partner[None, :]
    out: dict[str, Any] = {
        "pairs": int(hit.sum()),
        "viral_proteins": int(hit.any(1).sum()),
        "candidates_without_training_partner": int(no_partner.sum()),
        "mean_percentile": {},
    }
    for method in ("model", "popularity", "homology", "virus popularity"):
        if method not in scores or not hit.any():
            continue
        values, shortfall_hit, shortfall_all = [], 0.0, 0.0
        for i in np.flatnonzero(labels.any(1)):
            negatives = np.sort(scores[method][i][~labels[i]])
            positives = scores[method][i][labels[i]]
            below = np.searchsorted(negatives, positives, "left") + np.searchsorted(negatives, positives, "right")
            percentile = below / (2.0 * max(len(negatives), 1))
            shortfall_all += float((1.0 - percentile).mean())
            unreached = hit[i][labels[i]]
            if unreached.any():
                values.extend(percentile[unreached].tolist())
                shortfall_hit += float((1.0 - percentile[unreached]).sum() / len(positives))
        out["mean_percentile"][method] = float(np.mean(values))
        if method == "model":
            out["share_of_model_shortfall"] = shortfall_hit / shortfall_all if shortfall_all else 0.0
    return out


def extra_counts(data: ScreeningData, training: np.ndarray) -> dict[str, Any]:
    """With extra training data: the data's own training viral proteins, the extra ones left out, training pairs."""
    n_data = len(data.virus_ids)
    return {
        "training_viral_proteins_of_the_data": int((training < n_data).sum()),
        "extra_viral_proteins_excluded": int(len(data.extra_virus_ids) - (training >= n_data).sum()),
        "training_pairs": int(np.isin(data.universe_reference().pair_virus, training).sum()),
    }


def evaluate_split(
    data: ScreeningData,
    bundle: SimilarityBundle,
    held_out: np.ndarray,
    groups: Sequence[str],
    config: ScreeningConfig,
    name: str,
    calibrate: bool = False,
    exclude: np.ndarray | None = None,
    threads: int = 1,
    viruses: Sequence[str | None] | None = None,
) -> SplitResult:
    """Train on the viral proteins not in ``held_out`` and score every method on the held-out ones.

    ``bundle`` and ``groups`` cover the universe (this data's viral proteins, then the extra ones); ``exclude``
    marks extra viral proteins kept out of training too (those too close to a held-out one). The model is fitted
    on ``threads`` threads. In the open world (:attr:`ScreeningData.open_world`) every human protein of the universe
    is a candidate and every known partner (this data's pairs and the extra ones) a positive; the closed-world table
    (this data's human proteins and pairs) is kept in ``info["closed_world"]`` for comparison. ``viruses``: the virus
    of each viral protein of the universe; intervals then resample viruses.
    """
    held_out = np.asarray(held_out, dtype=np.int64)
    training = training_viral(data, held_out, exclude)
    started = time.perf_counter()
    context, calibration, info = fit_split(data, bundle, held_out, training, groups, config, calibrate, threads)
    scores = score_methods(context)
    labels = data.open_labels(held_out) if data.open_world else data.labels(held_out)
    if data.open_world:
        info["closed_world"] = closed_world(data, held_out, scores, config.seed)
    elif data.has_extra:
        info["all_known_partners"] = all_known_partners(data, held_out, labels, scores, config.seed)
    per_virus, curves = per_virus_and_curves(scores, labels, config.seed)
    info.update(split_counts(context, labels))
    if data.open_world:
        info["partnerless_positives"] = partnerless_positives(context, labels, scores)
    info["seconds"] = round(time.perf_counter() - started, 1)
    if data.has_extra:
        info.update(extra_counts(data, training))
    groups = [str(viruses[i]) if viruses[i] is not None else f"protein {i}" for i in held_out] if viruses else []
    result = SplitResult(name, [data.virus_ids[i] for i in held_out], per_virus, curves, info, viruses=groups)
    if calibration is not None:
        result.reliability = reliability_table(calibration(scores["model"]).ravel(), labels.ravel())
    return result


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


def describe(data: ScreeningData) -> str:
    """One line: the data's viral proteins, candidates and pairs (and the extra training data's)."""
    return (
        f"{len(data.virus_ids)} viral proteins with partners, {len(data.human_ids)} human proteins in the pairs, "
        f"{len(data.pairs)} pairs"
        + (f"; {len(data.universe_human_sequences):,} human candidates in the open world" if data.open_world else "")
        + (
            f"; for training also {len(data.extra_pairs)} extra pairs, {len(data.extra_virus_ids)} extra viral and "
            f"{len(data.extra_human_ids)} extra human proteins"
            if data.has_extra
            else ""
        )
    )


def run_identity_splits(
    data: ScreeningData,
    bundle: SimilarityBundle,
    clusters: ViralClusters,
    identities: Sequence[float],
    fraction: float,
    config: ScreeningConfig,
    threads: int,
    log: Callable[[str], None],
    clean: bool = True,
    viruses: Sequence[str | None] | None = None,
) -> list[SplitResult]:
    """One split per CD-HIT identity (:func:`held_out_split`, identity-checked when ``clean``); the first is
    calibrated."""
    results = []
    for k, identity in enumerate(identities):
        name = f"held-out viral proteins, CD-HIT {identity:g}"
        log(
            f"{name} (split {k + 1} of {len(identities)}): holding out {fraction:.0%} of the viral proteins, training "
            "on the rest, ranking every human candidate ..."
        )
        split = held_out_split(data, identity, fraction, config.seed, threads, clusters, identity_check=clean)
        result = run_split(data, bundle, split, config, name, threads, calibrate=k == 0, viruses=viruses)
        result.info["identity"] = identity
        results.append(result)
        log(
            f"{name}: {len(split.held_out)} held out, model ROC AUC {result.per_virus['model'][:, 0].mean():.3f}, "
            f"recall@50 {result.per_virus['model'][:, METRICS.index('recall_top_50')].mean():.3f} "
            f"({result.info['seconds']:.0f} s)"
        )
    return results


def run_family_splits(
    data: ScreeningData,
    bundle: SimilarityBundle,
    clusters: ViralClusters,
    taxa: ViralTaxa,
    family_count: int,
    config: ScreeningConfig,
    threads: int,
    log: Callable[[str], None],
    clean: bool = True,
) -> list[SplitResult]:
    """Each of the ``family_count`` largest families of the data's viral proteins held out in turn (``clean``: with
    every protein at least 40% identical to one of the family's left out of training too)."""
    results = []
    counts = Counter(f for f in taxa.families[: len(data.virus_ids)] if f)
    for k, (family, n) in enumerate(counts.most_common(family_count)):
        log(
            f"family {family} (family {k + 1} of {min(family_count, len(counts))}): holding out its {n} viral proteins ..."
        )
        split = family_split(data, taxa.families, family, clusters, config.fold_identity, clean, threads)
        result = run_split(data, bundle, split, config, f"family {family} held out", threads, viruses=taxa.taxa)
        result.info.update({"family": family, "family_viral_proteins": n})
        results.append(result)
        log(
            f"family {family}: {n} held out, model ROC AUC {result.per_virus['model'][:, 0].mean():.3f}, "
            f"popularity {result.per_virus['popularity'][:, 0].mean():.3f} ({result.info['seconds']:.0f} s)"
        )
    return results


def run_split(
    data: ScreeningData,
    bundle: SimilarityBundle,
    split: HeldOutSplit,
    config: ScreeningConfig,
    name: str,
    threads: int,
    calibrate: bool = False,
    viruses: Sequence[str | None] | None = None,
) -> SplitResult:
    """:func:`evaluate_split` of a :class:`HeldOutSplit`."""
    result = evaluate_split(
        data,
        bundle,
        split.held_out,
        split.groups,
        config,
        name,
        calibrate,
        exclude=split.exclude,
        threads=threads,
        viruses=viruses,
    )
    result.info["excluded_by_identity"] = split.excluded_by_identity
    return result


def benchmark_settings(
    data: ScreeningData,
    taxa: ViralTaxa,
    identities: Sequence[float],
    fraction: float,
    family_count: int,
    config: ScreeningConfig,
    threads: int,
) -> dict[str, Any]:
    """The settings benchmark.json records (``seconds`` is added at the end of the run)."""
    n_data = len(data.virus_ids)
    return {
        "identities": list(identities),
        "fraction": fraction,
        "family_count": family_count,
        "families_known": int(sum(f is not None for f in taxa.families[:n_data])),
        "taxa_known": int(sum(t is not None for t in taxa.taxa[:n_data])),
        "screening_config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "threads": threads,
        "seed": config.seed,
        "open_world": data.open_world,
        "candidates": len(data.universe_human_sequences) if data.open_world else len(data.human_ids),
        "extra_training_data": {
            "pairs": int(len(data.extra_pairs)),
            "viral_proteins": len(data.extra_virus_ids),
            "human_proteins": len(data.extra_human_ids),
        }
        if data.has_extra
        else None,
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
    threads: int = 1,
    clean: bool = True,
) -> ScreeningBenchmark:
    """Hold out viral proteins by CD-HIT identity (and by family, when ``taxonomy`` is given) and score every method.

    With ``taxonomy``, every viral protein's taxon and family are model inputs (those of the held-out proteins
    too, as a user gives them to ``hvppi screen``), and the taxonomy rows are reported (``TAXONOMY_METHODS``).

    The held-out viral proteins are chosen among ``data``'s own; with extra training positives
    (:meth:`ScreeningData.with_extra`), every extra viral protein that clusters with a held-out one at the split's
    identity (for a family: of that family, or clustering with one of its proteins at the folds' identity) is kept
    out of training too; with ``clean``, so is every viral protein at least 90% identical over the shorter sequence to
    a held-out one (40% for a held-out family), whatever its cluster or label. ``bundle``: the universe's similarities, if already computed. CD-HIT, the alignments and
    the trees run on ``threads`` threads.
    """
    config = config or ScreeningConfig()
    started = time.perf_counter()
    log(describe(data))
    taxa = data.universe_taxa(taxonomy)
    if bundle is None:
        bundle = SimilarityBundle.compute(
            data.universe_virus_sequences, data.universe_human_sequences, threads, progress, taxa
        )
        log(f"similarities computed ({time.perf_counter() - started:.0f} s)")
    clusters = ViralClusters(data, threads)
    viruses = taxa.taxa if taxonomy is not None else None
    identity_splits = run_identity_splits(
        data, bundle, clusters, identities, fraction, config, threads, log, clean, viruses
    )
    family_splits = []
    if taxonomy is not None:
        family_splits = run_family_splits(data, bundle, clusters, taxa, family_count, config, threads, log, clean)
    settings = benchmark_settings(
        data, taxa, identities, fraction, family_count if taxonomy is not None else 0, config, threads
    )
    settings["seconds"] = round(time.perf_counter() - started, 1)
    return ScreeningBenchmark(identity_splits, family_splits, settings, resamples)

"""Fitting the screening model: out-of-fold features, training rows, trees and calibration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from hvppi.io.progress import iterate
from hvppi.screening.calibration import IsotonicCalibration
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import FEATURES, Evidence
from hvppi.screening.known import KNOWN_FEATURES, known_features
from hvppi.screening.model import Reference, ScreeningModel
from hvppi.screening.publications import PairPublications
from hvppi.screening.similarity import SimilarityBundle
from hvppi.screening.taxa import ViralTaxa
from hvppi.screening.trees import TreeEnsemble, fit_trees, group_folds, per_virus_weights


def out_of_fold_features(
    reference: Reference,
    train_viral: np.ndarray,
    bundle: SimilarityBundle,
    groups: Sequence[str],
    config: ScreeningConfig,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of every (training viral protein, human protein) pair, each fold's from the other folds' pairs.

    Returns (features (n_train, n_human, len(FEATURES)), known-partner labels (n_train, n_human), fold of each
    training viral protein). ``groups`` names the CD-HIT cluster of each viral protein of the universe; folds keep
    clusters together, so a training protein's features look like those of an unseen viral protein.
    """
    train_viral = np.asarray(train_viral, dtype=np.int64)
    train_groups = [groups[i] for i in train_viral]
    if len(set(train_groups)) < config.folds:
        raise ValueError(
            f"{len(set(train_groups))} CD-HIT clusters of training viral proteins; the out-of-fold features need at "
            f"least {config.folds} (ScreeningConfig.folds)"
        )
    fold = group_folds(train_groups, config.folds, config.seed)
    n_human = len(reference.human_ids)
    labels = np.zeros((len(train_viral), n_human), dtype=bool)
    row_of = {int(v): i for i, v in enumerate(train_viral)}
    for v, h in zip(reference.pair_virus, reference.pair_human):
        if int(v) in row_of:
            labels[row_of[int(v)], h] = True
    features = np.zeros((len(train_viral), n_human, len(FEATURES)), dtype=np.float32)
    for f in iterate(range(config.folds), desc="out-of-fold features", unit="fold", enabled=progress, leave=False):
        inside = np.flatnonzero(fold == f)
        if not inside.size:
            continue
        evidence = Evidence(
            train_viral[fold != f],
            reference.pair_virus,
            reference.pair_human,
            n_human,
            bundle.candidates,
            config.neighbours,
        )
        features[inside] = evidence.features(bundle.viral.take(train_viral[inside], train_viral[fold != f]))
    return features, labels, fold


def training_rows(
    features: np.ndarray, labels: np.ndarray, human_sequences: Sequence[str], config: ScreeningConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows the trees learn from: every known pair and ``config.negatives_per_virus`` sampled non-partners
    per viral protein (never a human protein with a partner's sequence). Returns (x, y, row of the viral protein)."""
    rng = np.random.default_rng(config.seed)
    sequence_group = np.unique(np.asarray(human_sequences, dtype=object), return_inverse=True)[1]
    rows, ys, owner = [], [], []
    for i in range(len(labels)):
        positives = np.flatnonzero(labels[i])
        if not positives.size:
            continue
        allowed = np.flatnonzero(~np.isin(sequence_group, sequence_group[positives]))
        negatives = rng.choice(allowed, size=min(config.negatives_per_virus, allowed.size), replace=False)
        chosen = np.concatenate([positives, negatives])
        rows.append(features[i, chosen])
        ys.append(np.r_[np.ones(positives.size), np.zeros(negatives.size)])
        owner.append(np.full(chosen.size, i))
    return np.concatenate(rows), np.concatenate(ys), np.concatenate(owner)


KNOWN_PROTEIN_FRACTION = 0.2
"""The share of a known protein's partners its training rows hide (as the known-protein evaluation holds out)."""


def known_protein_rows(
    reference: Reference,
    train_viral: np.ndarray,
    bundle: SimilarityBundle,
    fold: np.ndarray,
    config: ScreeningConfig,
    publications: PairPublications | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows for a screen of a *known* viral protein, which the out-of-fold rows never show: the protein is in the
    reference itself (similarity 1 to its own copy) with part of its partners known, and ranks the rest.

    For every training viral protein with at least ``config.known_protein_min_partners`` partners, a seeded
    :data:`KNOWN_PROTEIN_FRACTION` of its pairs is hidden; its features are computed against the other folds'
    proteins plus itself with the remaining pairs; the hidden partners are positives and
    ``config.negatives_per_virus`` sampled human proteins without its partners' sequences negatives (its known
    partners are not ranked, as in a screen, where they are flagged known). Returns (x, y, index into
    ``train_viral`` of the protein each row is for).

    ``publications``: the PubMed IDs of ``reference``'s pairs (in their order); given, x has the
    :data:`~hvppi.screening.known.KNOWN_FEATURES` (publication and co-partner evidence after :data:`FEATURES`, from
    the shown pairs only)."""
    train_viral = np.asarray(train_viral, dtype=np.int64)
    n_features = len(FEATURES) if publications is None else len(KNOWN_FEATURES)
    empty = (np.zeros((0, n_features), np.float32), np.zeros(0), np.zeros(0, np.int64))
    if not config.known_protein_min_partners:
        return empty
    rng = np.random.default_rng(config.seed + 11)
    pair_virus, pair_human = np.asarray(reference.pair_virus), np.asarray(reference.pair_human)
    n_human = len(reference.human_ids)
    degree = np.bincount(pair_virus, minlength=int(train_viral.max(initial=0)) + 1)
    sequence_group = np.unique(np.asarray(reference.human_sequences, dtype=object), return_inverse=True)[1]
    xs, ys, owners = [], [], []
    for f in range(config.folds):
        inside = np.flatnonzero(fold == f)
        studied = [i for i in inside.tolist() if degree[train_viral[i]] >= config.known_protein_min_partners]
        if not studied:
            continue
        others = train_viral[fold != f]
        side = Evidence(others, pair_virus, pair_human, n_human, bundle.candidates, config.neighbours).human_side
        for i in studied:
            v = int(train_viral[i])
            mine = np.flatnonzero(pair_virus == v)
            hidden = rng.choice(mine, max(1, round(KNOWN_PROTEIN_FRACTION * len(mine))), replace=False)
            keep = np.ones(len(pair_virus), dtype=bool)
            keep[hidden] = False
            shown = pair_human[keep & (pair_virus == v)]
            if side.reference_canonical is not None:
                shown = side.reference_canonical[shown]
            near = bundle.candidates.kmer[:, shown].max(1).astype(np.float32)[None]
            evidence = Evidence(
                np.r_[others, v],
                pair_virus[keep],
                pair_human[keep],
                n_human,
                replace(side, near_partner=np.vstack([side.near_partner, near])),
                config.neighbours,
            )
            similarities = bundle.viral.take(np.array([v]), np.r_[others, v])
            similarities.smith_waterman[0, -1] = similarities.kmer[0, -1] = similarities.composition[0, -1] = 1.0
            if publications is None:
                features = evidence.features(similarities)[0]
            else:
                features = known_features(
                    evidence,
                    similarities,
                    pair_virus[keep],
                    pair_human[keep],
                    publications.take(keep),
                    config.neighbours,
                )[0]
            positives = np.unique(pair_human[hidden])
            allowed = np.flatnonzero(~np.isin(sequence_group, sequence_group[pair_human[mine]]))
            negatives = rng.choice(allowed, size=min(config.negatives_per_virus, allowed.size), replace=False)
            xs.append(features[np.r_[positives, negatives]])
            ys.append(np.r_[np.ones(positives.size), np.zeros(negatives.size)])
            owners.append(np.full(positives.size + negatives.size, i))
    if not xs:
        return empty
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owners)


def fit_on_bundle(
    reference: Reference,
    train_viral: np.ndarray,
    bundle: SimilarityBundle,
    groups: Sequence[str],
    config: ScreeningConfig,
    calibrate: bool = True,
    progress: bool = False,
    threads: int = 1,
) -> tuple[TreeEnsemble, IsotonicCalibration | None, dict[str, Any]]:
    """Fit trees (and calibration) on the viral proteins ``train_viral`` of a universe whose similarities are known.

    ``groups`` names the CD-HIT cluster of each viral protein of the universe; folds keep clusters together.
    Human proteins are the universe's (``reference.human_*``); candidates are all of them.
    """
    train_viral = np.asarray(train_viral, dtype=np.int64)
    features, labels, fold = out_of_fold_features(reference, train_viral, bundle, groups, config, progress)
    x, y, virus = training_rows(features, labels, reference.human_sequences, config)
    xk, yk, known = known_protein_rows(reference, train_viral, bundle, fold, config)
    owner = np.r_[virus, len(train_viral) + known]  # a known protein's rows weigh as one more viral protein
    row_fold = np.r_[fold[virus], fold[known]]
    x, y = np.concatenate([x, xk]), np.r_[y, yk]
    weight = per_virus_weights(y, owner)
    trees = fit_trees(x, y, weight, config, threads)
    calibration = None
    if calibrate:
        calibration = out_of_fold_calibration(features, labels, fold, x, y, weight, row_fold, config, progress, threads)
    info = {
        "training_rows": int(len(y)),
        "training_positives": int(y.sum()),
        "viral_proteins": int(len(train_viral)),
        "known_protein_rows": int(len(yk)),
    }
    return trees, calibration, info


def calibration_sample(labels: np.ndarray, config: ScreeningConfig) -> tuple[np.ndarray, np.ndarray]:
    """(flat indices, weights) of the pairs the calibration is fitted on: every known pair and a seeded sample of
    ``config.calibration_negatives`` other candidates per viral protein, each weighted by how many negatives it
    stands for (so the map sees the true share of partners among all candidates)."""
    rng = np.random.default_rng(config.seed + 7)
    n_human = labels.shape[1]
    chosen, weights = [], []
    for i in range(len(labels)):
        positives = np.flatnonzero(labels[i])
        negatives = np.flatnonzero(~labels[i])
        take = min(config.calibration_negatives, negatives.size)
        sample = rng.choice(negatives, size=take, replace=False) if take < negatives.size else negatives
        chosen.append(i * n_human + np.concatenate([positives, np.sort(sample)]))
        weights.append(np.r_[np.ones(positives.size), np.full(sample.size, negatives.size / max(sample.size, 1))])
    return np.concatenate(chosen), np.concatenate(weights)


def out_of_fold_calibration(
    features: np.ndarray,
    labels: np.ndarray,
    fold: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    row_fold: np.ndarray,
    config: ScreeningConfig,
    progress: bool = False,
    threads: int = 1,
) -> IsotonicCalibration:
    """The isotonic map from score to probability, fitted on out-of-fold scores: each fold's pairs scored by trees
    fitted without that fold, over every known pair and a weighted sample of the other candidates."""
    flat, pair_weight = calibration_sample(labels, config)
    rows = flat // labels.shape[1]
    scores = np.zeros(len(flat), dtype=np.float64)
    for f in iterate(range(config.folds), desc="calibration", unit="fold", enabled=progress, leave=False):
        inside = np.flatnonzero(fold[rows] == f)
        if not inside.size:
            continue
        held = row_fold != f
        trees = fit_trees(x[held], y[held], weight[held], config, threads)
        scores[inside] = trees.decision(features.reshape(-1, features.shape[-1])[flat[inside]])
    return IsotonicCalibration.fit(
        scores, labels.ravel()[flat].astype(np.float64), seed=config.seed, weights=pair_weight
    )


def first_by_sequence(sequences: Sequence[str]) -> tuple[list[int], np.ndarray]:
    """Indices of the first protein of each distinct sequence, and each protein's new index among them."""
    first: dict[str, int] = {}
    keep: list[int] = []
    new_index = np.empty(len(sequences), dtype=np.int64)
    for i, sequence in enumerate(sequences):
        if sequence not in first:
            first[sequence] = len(keep)
            keep.append(i)
        new_index[i] = first[sequence]
    return keep, new_index


def merged_taxa(virus_taxa: ViralTaxa | None, new_index: np.ndarray, n: int) -> ViralTaxa:
    """The taxon and family of each of ``n`` merged viral proteins (``new_index``: each input protein's): the first
    known of its inputs, each on its own."""
    taxa: list[str | None] = [None] * n
    families: list[str | None] = [None] * n
    if virus_taxa is not None:
        for i, (t, f) in enumerate(zip(virus_taxa.taxa, virus_taxa.families)):
            k = int(new_index[i])
            taxa[k] = taxa[k] if taxa[k] is not None else t
            families[k] = families[k] if families[k] is not None else f
    return ViralTaxa(taxa, families)


def fit_screening_model(
    virus_ids: Sequence[str],
    virus_sequences: Sequence[str],
    human_ids: Sequence[str],
    human_sequences: Sequence[str],
    pairs: Sequence[tuple[int, int]],
    config: ScreeningConfig | None = None,
    progress: bool = False,
    metadata: dict[str, Any] | None = None,
    virus_taxa: ViralTaxa | None = None,
    known_taxa: dict[str, tuple[str | None, str | None]] | None = None,
    threads: int = 1,
    pair_sources: Sequence[int] | None = None,
    source_names: Sequence[str] = (),
) -> ScreeningModel:
    """Fit a screening model on positive pairs (viral index, human index) over the given proteins.

    Proteins with the same sequence become one (the first ID names it, the first known taxon and family
    are its); pairs are merged accordingly. ``virus_taxa``: taxon and family of each viral protein;
    ``known_taxa``: UniProt accession → (taxon, family), to find the virus of a query by its ID
    (:meth:`ScreeningModel.taxa_of`). ``pair_sources``: per pair, a bit mask of the ``source_names`` that report it
    (kept in the model, so that a screen can say which known pairs it found and where they are from). Human proteins
    without a pair are candidates the model learns to rank too (the open world: most human proteins have no known
    viral partner).
    """
    from hvppi.datasets.clustering import cdhit_clusters

    config = config or ScreeningConfig()
    pair_array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    virus_keep, virus_map = first_by_sequence(virus_sequences)
    human_keep, human_map = first_by_sequence(human_sequences)
    mapped_pairs = np.stack([virus_map[pair_array[:, 0]], human_map[pair_array[:, 1]]], axis=1)
    pair_array, owner = np.unique(mapped_pairs, axis=0, return_inverse=True)
    sources = np.zeros(len(pair_array), dtype=np.int64)
    if pair_sources is not None:
        np.bitwise_or.at(sources, owner.ravel(), np.asarray(pair_sources, dtype=np.int64))
    if virus_taxa is not None and len(virus_taxa) != len(virus_ids):
        raise ValueError("one taxon and family per viral protein")
    reference = Reference(
        [virus_ids[i] for i in virus_keep],
        [virus_sequences[i] for i in virus_keep],
        [human_ids[i] for i in human_keep],
        [human_sequences[i] for i in human_keep],
        pair_array[:, 0],
        pair_array[:, 1],
        merged_taxa(virus_taxa, virus_map, len(virus_keep)),
        sources.astype(np.uint8) if pair_sources is not None else None,
        list(source_names),
    )
    bundle = SimilarityBundle.compute(
        reference.virus_sequences, reference.human_sequences, threads, progress, reference.taxa
    )
    clusters = cdhit_clusters(
        dict(zip(reference.virus_ids, reference.virus_sequences)), config.fold_identity, threads=max(threads, 1)
    )
    groups = [clusters[v] for v in reference.virus_ids]
    trees, calibration, info = fit_on_bundle(
        reference,
        np.unique(reference.pair_virus),
        bundle,
        groups,
        config,
        calibrate=True,
        progress=progress,
        threads=threads,
    )
    assert calibration is not None
    return ScreeningModel(
        reference,
        trees,
        calibration,
        bundle.composition_mean,
        bundle.composition_sd,
        config,
        {**(metadata or {}), "training": info},
        known_taxa=dict(known_taxa or {}),
    )

"""Two more kinds of held-out evidence: a new study, and new partners of a known protein.

* **New study** (:func:`new_study_splits`): HPIDB rows carry the PubMed ID of the study that found them. A study is
  held out whole and ranked from everything published before it: the model is trained on the pairs of earlier
  studies only (a smaller PubMed ID: PubMed numbers papers in order of entry, so this is "published before" up to
  weeks), and each of the study's viral proteins ranks the open universe of human proteins; the positives are the
  partners the study found that no earlier study had reported, and the partners known before are left out of the
  ranking (a user would see them flagged known). The studies are the largest of the latest quarter of PubMed IDs.
* **Known protein, new partners** (:func:`known_protein_split`): for well-studied viral proteins (at least
  ``min_partners`` known partners), a seeded 20% of their partners is held out; the model is trained with the rest
  known (the protein itself stays a training protein) and ranks the held-out partners among every human candidate
  but its remaining known partners, as a screen of a known protein ranks its novel candidates. Drawn one by one,
  most held-out partners sit beside known pairs of the same publication; :func:`known_protein_publication_split`
  holds out whole publications of each such protein instead (a new study of it, as a screen meets it).

Both compare the model with popularity, homology and virus popularity from the same training pairs, per viral
protein (ROC AUC, AP, recall at 10, 50 and 100), with 95% intervals from resampling viruses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from hvppi.datasets.clustering import cdhit_clusters
from hvppi.datasets.mitab import HUMAN_TAXID, parse_taxid, pick_identifier
from hvppi.io.files import text_lines
from hvppi.screening.benchmark.metrics import METRICS, interval, per_virus_metrics
from hvppi.screening.config import ScreeningConfig
from hvppi.screening.features import COLUMN, Evidence
from hvppi.screening.fitting import fit_on_bundle
from hvppi.screening.model import Reference
from hvppi.screening.publications import PairPublications
from hvppi.screening.recipe import (
    TrainingUnion,
    default_taxonomy,
    default_training_positives,
    open_universe,
    training_union,
)
from hvppi.screening.similarity import SimilarityBundle, viral_similarities
from hvppi.screening.taxa import ViralTaxa

PUBMED = re.compile(r"pubmed:(\d+)")
STUDY_METHODS = ("popularity", "homology", "virus popularity", "model")
MIN_VIRUSES = 5
"""Fewer viruses than this are too few to resample: the intervals then resample proteins (and say so)."""


def hpidb_pairs_by_study(path: str | os.PathLike) -> list[tuple[str, str, int]]:
    """(human ID, viral ID, PubMed ID) of every human–virus row of an HPIDB PSI-MITAB export (zip or text), one per
    publication it names; rows without a PubMed ID are left out."""
    out: list[tuple[str, str, int]] = []
    for line in text_lines(path):
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 11 or line.startswith("#"):
            continue
        try:
            taxid_a, taxid_b = parse_taxid(fields[9]), parse_taxid(fields[10])
        except ValueError:
            continue
        id_a, id_b = pick_identifier(fields[0], fields[2]), pick_identifier(fields[1], fields[3])
        if not id_a or not id_b or (taxid_a == HUMAN_TAXID) == (taxid_b == HUMAN_TAXID):
            continue
        human, virus = (id_a, id_b) if taxid_a == HUMAN_TAXID else (id_b, id_a)
        out.extend((human, virus, int(pmid)) for pmid in set(PUBMED.findall(fields[8])))
    return out


@dataclass
class Universe:
    """Every viral and human protein of a study of held-out evidence, their similarities (once) and their viruses."""

    virus_ids: list[str]
    virus_sequences: list[str]
    human_ids: list[str]
    human_sequences: list[str]
    taxa: ViralTaxa
    bundle: SimilarityBundle
    groups: list[str]

    @classmethod
    def build(
        cls,
        viral: Mapping[str, str],
        human: Mapping[str, str],
        taxa: ViralTaxa,
        fold_identity: float = 0.9,
        threads: int = 1,
    ) -> Universe:
        bundle = SimilarityBundle.compute(list(viral.values()), list(human.values()), threads, taxa=taxa)
        clusters = cdhit_clusters(dict(viral), fold_identity, threads=max(threads, 1))
        return cls(
            list(viral),
            list(viral.values()),
            list(human),
            list(human.values()),
            taxa,
            bundle,
            [clusters[v] for v in viral],
        )


def union_universe(data_folder: str | os.PathLike, threads: int = 1) -> tuple[Universe, TrainingUnion, dict[str, str]]:
    """The studies' open world: the bundled model's training union of the shared data folder (its positives by
    source, merged by sequence, with their viruses), a :class:`Universe` of its viral proteins and every human protein
    of the data (:func:`~hvppi.screening.recipe.open_universe`), and every protein's sequence by its IDs."""
    sources, sequences = default_training_positives(data_folder)
    union = training_union(sources, sequences, default_taxonomy(data_folder))
    human_ids, human_sequences = open_universe(union, data_folder)
    universe = Universe.build(
        dict(zip(union.virus_ids, union.virus_sequences)),
        dict(zip(human_ids, human_sequences)),
        union.virus_taxa,
        threads=threads,
    )
    return universe, union, sequences


@dataclass
class HeldOutPairs:
    """What one evaluation holds out: the training pairs (viral index, human index), the query viral proteins, and
    per query the held-out partners (positives) and the partners known at training time (left out of its ranking)."""

    name: str
    training_pairs: np.ndarray
    queries: np.ndarray
    positives: list[set[int]]
    known: list[set[int]]
    unpublished: dict[int, set[int]] = field(default_factory=dict)
    """Per viral protein, the publications held out for it (a new study of it): what they report of its pairs is
    not known at training time, even of a pair that another publication makes known."""


def held_out_metrics(
    universe: Universe, split: HeldOutPairs, scores: Mapping[str, np.ndarray], seed: int = 0
) -> tuple[dict[str, np.ndarray], list[int], str, list[str] | None]:
    """Per method of ``scores`` (name → (n_queries, n_human) scores of ``split.queries``): the per-query metrics
    (:data:`~hvppi.screening.benchmark.metrics.METRICS`) over every human protein but the query's known partners.

    Returns (metrics per method, (n_kept, len(METRICS)); the queries kept (those with a held-out partner left);
    what the intervals resample, in words; the virus of each kept query to resample, or None to resample the
    queries when there are fewer than :data:`MIN_VIRUSES` viruses)."""
    per_virus: dict[str, list[np.ndarray]] = {m: [] for m in scores}
    kept = []
    for q in range(len(split.queries)):
        ranked = np.ones(len(universe.human_ids), dtype=bool)
        ranked[list(split.known[q])] = False
        labels = np.zeros(len(universe.human_ids), dtype=bool)
        labels[list(split.positives[q])] = True
        labels &= ranked
        if not labels.any():
            continue
        kept.append(q)
        for m, score in scores.items():
            per_virus[m].append(per_virus_metrics(score[q : q + 1, ranked], labels[None, ranked], seed + 2)[0])
    viruses = [universe.taxa.taxa[split.queries[q]] or f"protein {split.queries[q]}" for q in kept]
    groups: list[str] | None = viruses
    if len(set(viruses)) < MIN_VIRUSES:  # too few viruses to resample: resample the proteins, and say so
        unit, groups = f"{len(kept)} viral proteins (only {len(set(viruses))} virus)", None
    else:
        unit = f"{len(set(viruses))} viruses"
    arrays = {m: np.array(v).reshape(-1, len(METRICS)) for m, v in per_virus.items()}
    return arrays, kept, unit, groups


def score_held_out(universe: Universe, split: HeldOutPairs, config: ScreeningConfig, threads: int = 1) -> dict:
    """Fit the recipe on ``split.training_pairs`` and score every method for each query (see the module docstring).

    Returns the per-query metrics of each method (``per_virus``), their means with virus-resampled intervals
    (``methods``) and the model's paired differences (``differences``)."""
    pairs = np.asarray(split.training_pairs, dtype=np.int64).reshape(-1, 2)
    reference = Reference(
        universe.virus_ids, universe.virus_sequences, universe.human_ids, universe.human_sequences,
        pairs[:, 0], pairs[:, 1], universe.taxa,
    )  # fmt: skip
    training = np.unique(pairs[:, 0])
    trees, _, info = fit_on_bundle(reference, training, universe.bundle, universe.groups, config, False, False, threads)
    evidence = Evidence(training, pairs[:, 0], pairs[:, 1], len(universe.human_ids), universe.bundle.candidates)
    queries = [universe.virus_sequences[q] for q in split.queries]
    similarities = viral_similarities(
        queries,
        [universe.virus_sequences[t] for t in training],
        (universe.bundle.composition_mean, universe.bundle.composition_sd),
        threads,
        query_taxa=universe.taxa.take(split.queries),
        reference_taxa=universe.taxa.take(training),
    )
    features = evidence.features(similarities)
    popularity = evidence.popularity.astype(np.float64)
    same_virus = evidence.same_group_partners(similarities.same_taxon).astype(np.float64)
    scores = {
        "popularity": np.broadcast_to(popularity[None], features.shape[:2]),
        "homology": features[:, :, COLUMN["homology_max"]].astype(np.float64),
        "virus popularity": same_virus * (popularity.max(initial=0.0) + 1.0) + popularity[None],
        "model": trees.decision(features),
    }
    arrays, kept, unit, groups = held_out_metrics(universe, split, scores, config.seed)
    return {
        "split": split.name,
        "viral_proteins": len(kept),
        "held_out_pairs": int(sum(len(split.positives[q] - split.known[q]) for q in kept)),
        "training_pairs": int(len(pairs)),
        "training_viral_proteins": int(info["viral_proteins"]),
        "candidates": len(universe.human_ids),
        "resampled": unit,
        "methods": {m: interval(a, 1000, config.seed, groups) for m, a in arrays.items()},
        "differences": {
            f"model - {m}": interval(arrays["model"] - arrays[m], 1000, config.seed, groups)
            for m in STUDY_METHODS
            if m != "model"
        },
    }


def new_study_splits(
    rows: Sequence[tuple[str, str, int]],
    universe: Universe,
    count: int = 5,
    min_pairs: int = 30,
    late_quantile: float = 0.75,
    twins: Sequence[tuple[int, int]] = (),
) -> list[HeldOutPairs]:
    """The ``count`` largest studies (by new pairs among the universe's proteins) among the latest quarter of PubMed
    IDs, each held out against the pairs of the studies before it.

    ``twins``: (viral protein, its twin) pairs (≥ 90% identical over the shorter sequence): a partner that an earlier
    study reported for a twin of the query is not new; it is known (left out of the ranking), not a positive."""
    vi = {v: i for i, v in enumerate(universe.virus_ids)}
    hi = {h: i for i, h in enumerate(universe.human_ids)}
    by_study: dict[int, set[tuple[int, int]]] = {}
    for human, virus, pmid in rows:
        if virus in vi and human in hi:
            by_study.setdefault(pmid, set()).add((vi[virus], hi[human]))
    pmids = sorted(by_study)
    if not pmids:
        return []
    twin_of: dict[int, set[int]] = {}
    for a, b in twins:
        twin_of.setdefault(int(a), set()).add(int(b))
        twin_of.setdefault(int(b), set()).add(int(a))
    cut = np.quantile(pmids, late_quantile)
    first_seen: dict[tuple[int, int], int] = {}
    for pmid in pmids:
        for pair in by_study[pmid]:
            first_seen.setdefault(pair, pmid)
    new_pairs = {p: {pair for pair in by_study[p] if first_seen[pair] == p} for p in pmids}
    late = sorted((p for p in pmids if p >= cut and len(new_pairs[p]) >= min_pairs), key=lambda p: -len(new_pairs[p]))
    splits = []
    for pmid in sorted(late[:count]):
        earlier = np.array(sorted({pair for pair, p in first_seen.items() if p < pmid}), dtype=np.int64)
        queries = np.array(sorted({v for v, _ in new_pairs[pmid]}), dtype=np.int64)
        before: dict[int, set[int]] = {}
        for v, h in earlier.tolist():
            before.setdefault(v, set()).add(h)
        known = [
            before.get(q, set()).union(*(before.get(t, set()) for t in twin_of.get(q, ()))) for q in queries.tolist()
        ]
        positives = [{h for v, h in new_pairs[pmid] if v == q} - k for q, k in zip(queries.tolist(), known)]
        splits.append(HeldOutPairs(f"study PMID {pmid}", earlier, queries, positives, known))
    return splits


def twin_groups(n_viral: int, twins: Sequence[tuple[int, int]]) -> np.ndarray:
    """(n_viral,) int64: each viral protein's group, the connected components of the ``twins`` pairs (a protein
    without twins is a group of its own).

    >>> twin_groups(5, [(0, 2), (2, 3)]).tolist()
    [0, 1, 0, 0, 4]
    """
    edges = np.asarray(list(twins), dtype=np.int64).reshape(-1, 2)
    graph = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_viral, n_viral))
    _, labels = connected_components(graph, directed=False)
    first = np.full(labels.max(initial=-1) + 1, n_viral, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n_viral))
    return first[labels]


def known_protein_split(
    pairs: np.ndarray,
    n_viral: int,
    min_partners: int = 20,
    fraction: float = 0.2,
    seed: int = 0,
    twins: Sequence[tuple[int, int]] = (),
) -> HeldOutPairs:
    """Hold out a seeded ``fraction`` of the partners of every viral protein with at least ``min_partners``.

    ``twins``: (viral protein, its twin) pairs, e.g. of :func:`hvppi.align.identity.twins` at 90% over the shorter
    sequence (another strain, a chain and its polyprotein). Twins are held out together, so that a held-out pair
    does not train (or count as known) under another name: per group of twins (:func:`twin_groups`) that holds a
    query, a seeded ``fraction`` of the human proteins that bind some member is drawn, uniformly and whatever their
    popularity, and every member's pairs with them leave training (they are a query's positives; its other
    partners are known). Each query so holds out about ``fraction`` of its partners. (Before 0.2.0 the draw was per
    query and a twin that was a query too kept the pair: 1,236 of the 5,976 held-out pairs of the studies script
    were known for a twin.)"""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    rng = np.random.default_rng(seed)

    def draw(rows: np.ndarray) -> np.ndarray:
        partners = np.unique(pairs[rows, 1])
        return rng.choice(partners, max(1, round(fraction * len(partners))), replace=False)

    name = "known protein, 20% of its partners held out"
    return _hold_out_per_group(pairs, n_viral, min_partners, twins, draw, name)


def _hold_out_per_group(
    pairs: np.ndarray,
    n_viral: int,
    min_partners: int,
    twins: Sequence[tuple[int, int]],
    draw: Callable[[np.ndarray], Sequence[int] | np.ndarray],
    name: str,
) -> HeldOutPairs:
    """The known-protein splits' common part: per group of twins holding a viral protein with at least
    ``min_partners`` partners (in group order), ``draw(rows)`` (the group's rows of ``pairs``) names the human
    proteins that leave training for every member; the rest of each query's partners are known."""
    degree = np.bincount(pairs[:, 0], minlength=n_viral)
    queries = np.flatnonzero(degree >= min_partners)
    group = twin_groups(n_viral, twins)
    pair_group = group[pairs[:, 0]]
    held = np.zeros(len(pairs), dtype=bool)
    for g in np.unique(group[queries]).tolist():
        rows = np.flatnonzero(pair_group == g)
        held[rows] = np.isin(pairs[rows, 1], np.asarray(draw(rows), dtype=np.int64))
    positives = [set(pairs[held & (pairs[:, 0] == q), 1].tolist()) for q in queries.tolist()]
    known = [set(pairs[~held & (pairs[:, 0] == q), 1].tolist()) for q in queries.tolist()]
    return HeldOutPairs(name, pairs[~held], queries, positives, known)


def known_protein_publication_split(
    pairs: np.ndarray,
    n_viral: int,
    publications: PairPublications,
    min_partners: int = 20,
    fraction: float = 0.2,
    seed: int = 0,
    twins: Sequence[tuple[int, int]] = (),
    min_publications: int = 5,
    min_known: int = 10,
) -> HeldOutPairs:
    """As :func:`known_protein_split`, but what is held out is whole publications, not partners drawn one by one.

    Per group of twins that holds a viral protein with at least ``min_partners`` partners and whose pairs at least
    ``min_publications`` publications report, a seeded ``fraction`` of those publications is drawn, and a human
    protein leaves training for every member when the group's pairs with it are reported, and only by drawn
    publications (a partner no publication reports stays known). The drawn publications are the members'
    :attr:`HeldOutPairs.unpublished`: a known pair that one of them also reports is known through the others only.
    A query keeps at least ``min_known`` known partners (else it is not one: it is left out of the queries, its
    pairs still held out). A held-out partner was so found by a new study of a known protein, as a screen meets it;
    drawing partners one by one hides partners beside known ones of the same study, which evidence from
    publications would find. ``publications``: the PubMed IDs of each pair, in ``pairs``' order.

    >>> from hvppi.screening.publications import PairPublications
    >>> pairs = np.array([[0, 0], [0, 1], [0, 2], [0, 3], [1, 3]])
    >>> pubs = PairPublications.from_lists([[5], [5, 6], [6], [], [7]])
    >>> split = known_protein_publication_split(pairs, 2, pubs, 3, 0.5, 1, min_publications=2, min_known=1)
    >>> split.queries.tolist(), split.positives, split.known, split.unpublished  # 5 drawn: 1 is known through 6
    ([0], [{0}], [{1, 2, 3}], {0: {5}})
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(publications) != len(pairs):
        raise ValueError(f"{len(pairs)} pairs but publications for {len(publications)}")
    rng = np.random.default_rng(seed)
    unpublished: dict[int, set[int]] = {}

    def draw(rows: np.ndarray) -> list[int]:
        reported = sorted({int(p) for k in rows.tolist() for p in publications.of(k)})
        if len(reported) < min_publications:
            return []
        drawn = set(rng.choice(reported, max(1, round(fraction * len(reported))), replace=False).tolist())
        for v in np.unique(pairs[rows, 0]).tolist():
            unpublished[int(v)] = drawn
        new_only: dict[int, bool] = {}
        for k in rows.tolist():
            found = set(publications.of(k).tolist())
            if found:  # a pair no publication reports neither holds its partner back nor holds it out
                human = int(pairs[k, 1])
                new_only[human] = new_only.get(human, True) and found <= drawn
        return [h for h, only in new_only.items() if only]

    split = _hold_out_per_group(
        pairs, n_viral, min_partners, twins, draw, "known protein, 20% of its publications held out"
    )
    keep = [k for k, q in enumerate(split.queries.tolist()) if q in unpublished and len(split.known[k]) >= min_known]
    return HeldOutPairs(
        split.name,
        split.training_pairs,
        split.queries[keep],
        [split.positives[k] for k in keep],
        [split.known[k] for k in keep],
        unpublished,
    )


def studies_table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown: per split, each method's mean ROC AUC and recall@50, and the model's AUC difference to each."""
    lines = [
        "| split | viral proteins | resampled | held-out pairs | "
        + " | ".join(f"{m} AUC / R@50" for m in STUDY_METHODS)
        + " | model − popularity AUC (95%) | model − homology AUC (95%) |",
        "|" + " --- |" * (6 + len(STUDY_METHODS)),
    ]
    for r in results:
        m, d = r["methods"], r["differences"]
        cells = " | ".join(f"{m[k]['roc_auc'][0]:.3f} / {m[k]['recall_top_50'][0]:.3f}" for k in STUDY_METHODS)
        diffs = " | ".join(
            "{:+.3f} [{:+.3f}, {:+.3f}]".format(*d[f"model - {k}"]["roc_auc"]) for k in ("popularity", "homology")
        )
        lines.append(
            f"| {r['split']} | {r['viral_proteins']} | {r['resampled']} | {r['held_out_pairs']} | {cells} | {diffs} |"
        )
    return "\n".join(lines)

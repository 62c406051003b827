"""Evaluating models on labelled pairs, with replicates and the sequence-blind baseline."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hvppi.evaluation.baseline import FrequencyBaseline
from hvppi.evaluation.metrics import METRIC_NAMES, binary_metrics, mean_sd
from hvppi.io.files import atomic_write
from hvppi.io.pairs import PairTable
from hvppi.lstm.inference import Embeddings, score_pairs
from hvppi.lstm.model import InteractionModel
from hvppi.lstm.modelfile import ModelInfo


@dataclass
class EvaluationResult:
    """Metrics of one model on one labelled pair set."""

    name: str
    pairs_path: str
    model_path: str | None
    labels: np.ndarray
    scores: np.ndarray
    at_model_cutoff: dict
    at_youden_cutoff: dict
    baseline_scores: np.ndarray | None = None
    baseline: dict | None = None

    def to_dict(self) -> dict:
        """The metrics as JSON-ready data (without the per-pair labels and scores)."""
        out = {
            "name": self.name,
            "pairs": self.pairs_path,
            "model": self.model_path,
            "at_model_cutoff": self.at_model_cutoff,
            "at_youden_cutoff_of_these_pairs": self.at_youden_cutoff,
        }
        if self.baseline is not None:
            out["frequency_baseline"] = self.baseline
        return out


def evaluate_model(
    model: InteractionModel,
    info: ModelInfo,
    pairs: PairTable,
    sequences: dict[str, str],
    baseline_pairs: PairTable | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    name: str | None = None,
    embeddings: Embeddings | None = None,
) -> EvaluationResult:
    """Score labelled ``pairs`` and compute the metrics at the model's stored cutoff and at Youden's
    cutoff of these pairs; with ``baseline_pairs``, also the frequency baseline fitted on them.
    ``embeddings``: the per-protein embeddings the model reads, if any."""
    labels = pairs.require_both_classes("evaluation pairs")
    scores = score_pairs(model, pairs, sequences, device=device, progress=progress, embeddings=embeddings)
    result = EvaluationResult(
        name=name or Path(pairs.path).name,
        pairs_path=pairs.path,
        model_path=info.path,
        labels=labels.astype(int),
        scores=scores,
        at_model_cutoff=binary_metrics(labels, scores, info.cutoff),
        at_youden_cutoff=binary_metrics(labels, scores),
    )
    if baseline_pairs is not None:
        result.baseline_scores = FrequencyBaseline().fit(baseline_pairs).score(pairs)
        result.baseline = {**binary_metrics(labels, result.baseline_scores), "fitted_on": baseline_pairs.path}
    return result


def summarize(results: list[EvaluationResult]) -> dict:
    """Mean ± SD over replicate results (sample SD)."""
    summary: dict[str, Any] = {"replicates": len(results)}
    summary["at_model_cutoff"] = mean_sd([r.at_model_cutoff for r in results])
    summary["at_youden_cutoff_of_these_pairs"] = mean_sd([r.at_youden_cutoff for r in results])
    baselines = [r.baseline for r in results if r.baseline is not None]
    if len(baselines) == len(results):
        summary["frequency_baseline"] = mean_sd(baselines)
    return summary


def format_report(results: list[EvaluationResult]) -> str:
    """A plain-text table: one column per replicate (and mean ± SD when there are several)."""
    rows = [("metric", *[r.name for r in results])]
    several = len(results) > 1
    if several:
        rows[0] = (*rows[0], "mean ± SD")
    names = METRIC_NAMES

    def add(section: str, getter):
        rows.append((section,) + ("",) * (len(rows[0]) - 1))
        for metric in names:
            values = [getter(r)[metric] for r in results]
            cells = [f"{v:.4f}" for v in values]
            if several:
                cells.append(f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}")
            rows.append((f"  {metric}", *cells))

    rows.append(
        ("pairs (positive)", *[f"{r.at_model_cutoff['n_pairs']} ({r.at_model_cutoff['n_positive']})" for r in results])
        + (("",) if several else ())
    )
    add("model, at the model's cutoff", lambda r: r.at_model_cutoff)
    add("model, at Youden's cutoff of these pairs", lambda r: r.at_youden_cutoff)
    if all(r.baseline is not None for r in results):
        add("frequency baseline (no sequence), at its Youden cutoff", lambda r: r.baseline)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def write_scores(path: str | os.PathLike, pairs: PairTable, result: EvaluationResult) -> None:
    """Write each pair's label, score (and baseline score) in input order, atomically."""
    with atomic_write(path) as fh:
        header = "human_id\tvirus_id\tlabel\tscore" + ("\tbaseline_score" if result.baseline_scores is not None else "")
        fh.write(header + "\n")
        for k, (h, v) in enumerate(zip(pairs.human_ids, pairs.virus_ids)):
            row = f"{h}\t{v}\t{result.labels[k]}\t{result.scores[k]:.6g}"
            if result.baseline_scores is not None:
                row += f"\t{result.baseline_scores[k]:.6g}"
            fh.write(row + "\n")


@dataclass(frozen=True)
class EvaluationJob:
    """One model on one labelled pair file; ``baseline_path``: training pairs of the frequency baseline."""

    name: str
    pairs_path: str
    model: str | None = None  # a model file or a bundled model's name; None: the bundled default
    baseline_path: str | None = None


def short_names(paths: list[str]) -> list[str]:
    """The shortest trailing parts of ``paths`` that tell different paths apart (rep1/test.txt, rep2/test.txt)."""
    parts = [Path(p).parts or (str(p),) for p in paths]
    distinct = len(set(map(str, paths)))
    for k in range(1, max(len(x) for x in parts) + 1):
        names = ["/".join(x[-k:]) for x in parts]
        if len(set(names)) == distinct:
            return names
    return [str(p) for p in paths]


def plan_evaluation(
    pairs_paths: list[str], models: list[str | None] | None = None, baselines: list[str] | None = None
) -> list[EvaluationJob]:
    """Match models, pair files and baseline files, and name each evaluation.

    One model (or none: the bundled default) is evaluated on every pair file; several models with one
    pair file are each evaluated on it; n models with n pair files are paired in order, model i on
    pairs i. ``baselines``: none, one, or one per pair file. A result is named by its pair file when
    there is one model, by its model when there is one pair file, else "MODEL on PAIRS" (the shortest
    trailing parts of the paths that tell them apart).
    """
    n, models, baselines = len(pairs_paths), list(models or [None]), list(baselines or [])
    m = len(models)
    if n == 0:
        raise ValueError("no pair file to evaluate")
    if m > 1 and n > 1 and m != n:
        raise ValueError(
            f"{m} models and {n} pair files: give one model, one model per pair file (model i is evaluated "
            "on pairs i), or several models with one pair file"
        )
    if len(baselines) not in (0, 1, n):
        raise ValueError(f"{len(baselines)} baseline files for {n} pair files: give one, or one per pair file")
    k = max(m, n)
    pairs_index = [i if n == k else 0 for i in range(k)]
    model_of = [models[i if m == k else 0] for i in range(k)]
    pair_names = short_names([pairs_paths[j] for j in pairs_index])
    given = [str(x) for x in model_of if x is not None]
    path_names = iter(short_names(given)) if given else iter(())
    model_names = ["lstm-phv-benchmark" if x is None else next(path_names) for x in model_of]
    jobs = []
    for i in range(k):
        if len(set(model_of)) == 1:
            name = pair_names[i]
        elif n == 1:
            name = model_names[i]
        else:
            name = f"{model_names[i]} on {pair_names[i]}"
        j = pairs_index[i]
        baseline = baselines[j if len(baselines) == n else 0] if baselines else None
        jobs.append(
            EvaluationJob(name, str(pairs_paths[j]), None if model_of[i] is None else str(model_of[i]), baseline)
        )
    return jobs


def same_recipe(infos: list[ModelInfo]) -> bool:
    """Whether models share configuration, feature set and training recipe (seed and data may differ)."""

    def key(info: ModelInfo) -> tuple:
        recipe = dict(info.training.get("recipe") or {})
        recipe.pop("seed", None)
        return (info.config.to_dict(), info.feature_set, recipe)

    return all(key(info) == key(infos[0]) for info in infos[1:])


@dataclass
class EvaluationRun:
    """The results of several evaluations and whether they are replicates (then mean ± SD is meaningful)."""

    results: list[EvaluationResult]
    pairs: list[PairTable]
    replicates: str | None = None  # what the mean ± SD is over; None: the results are not replicates
    note: str | None = None  # why there is no mean ± SD, when there are several results

    def summary(self) -> dict | None:
        """Mean ± SD over the results when they are replicates, else None."""
        return {**summarize(self.results), "over": self.replicates} if self.replicates else None

    def to_dict(self) -> dict:
        """Results and summary as JSON-ready data."""
        return {
            "results": [r.to_dict() for r in self.results],
            "replicates": self.replicates,
            "summary": self.summary(),
        }


def evaluate_files(
    jobs: list[EvaluationJob],
    sequences_path: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    embedding_paths: dict[str, str | os.PathLike | None] | None = None,
) -> EvaluationRun:
    """Run the evaluations of :func:`plan_evaluation` (all inputs are read first, each file once).

    ``embedding_paths``: per-protein embedding files by side ("human", "virus") for the models that read
    embeddings; each such model must have been trained on the file's embedder, and a file that no model
    reads is refused.

    The results are replicates, reported with mean ± SD, when one model is evaluated on several pair
    files, or when model i is evaluated on pairs i and the models share their recipe
    (:func:`same_recipe`); several models on one pair file, or paired models of different recipes,
    are compared side by side.
    """
    from hvppi.io.pairs import merge_sequences, read_pairs
    from hvppi.io.sequences import read_sequences
    from hvppi.lstm.modelfile import load_model

    sequences = read_sequences(sequences_path) if sequences_path else None
    models = {}
    for job in jobs:
        if job.model not in models:
            models[job.model] = load_model(job.model, device)
    tables: dict[str, PairTable] = {}
    for path in [job.pairs_path for job in jobs] + [job.baseline_path for job in jobs if job.baseline_path]:
        if path not in tables:
            tables[path] = read_pairs(path)
    merged = {path: merge_sequences(tables[path], sequences, sequences_path) for path in {j.pairs_path for j in jobs}}
    embeddings = _read_embeddings(
        [models[job.model][1] for job in jobs], [tables[job.pairs_path] for job in jobs], merged, embedding_paths or {}
    )
    results = []
    for job in jobs:
        model, info = models[job.model]
        baseline = tables[job.baseline_path] if job.baseline_path else None
        pairs = tables[job.pairs_path]
        used = {side: found for side, found in embeddings.items() if info.embedder_of(side) is not None}
        results.append(
            evaluate_model(
                model,
                info,
                pairs,
                merged[job.pairs_path],
                baseline,
                device,
                progress=progress,
                name=job.name,
                embeddings=used,
            )
        )
    run = EvaluationRun(results, [tables[job.pairs_path] for job in jobs])
    infos = [models[job.model][1] for job in jobs]
    n_models = len({info.file_sha256 for info in infos})
    n_pairs = len({job.pairs_path for job in jobs})
    if len(jobs) == 1:
        pass
    elif n_models == 1:
        run.replicates = f"{len(jobs)} pair files, one model"
    elif n_pairs == 1:
        run.note = "several models on one pair file: compared side by side, no mean ± SD"
    elif same_recipe(infos):
        run.replicates = f"{len(jobs)} replicates (model i on pairs i)"
    else:
        run.note = "model i on pairs i, but the models differ in configuration or training recipe: no mean ± SD"
    return run


def _read_embeddings(
    infos: list[ModelInfo],
    tables: list[PairTable],
    sequences: dict[str, dict[str, str]],
    paths: dict[str, str | os.PathLike | None],
) -> Embeddings:
    """The per-protein embeddings of the pairs' proteins, by side, from ``paths``, checked against every model."""
    from hvppi.io.embeddings import embedding_source, load_protein_embeddings
    from hvppi.lstm.modelfile import check_embedding_source

    known: dict[str, str] = {}
    for merged in sequences.values():
        known.update(merged)
    found = {}
    for side in ("human", "virus"):
        option = f"--{side}-embeddings"
        path = paths.get(side)
        source = None if path is None else embedding_source(path)
        readers = [info for info in infos if info.embedder_of(side) is not None]
        if source is not None and not readers:
            check_embedding_source(infos[0], side, source, option)
        for info in readers:
            check_embedding_source(info, side, source, option)
        if path is not None:
            ids = [pid for table in tables for pid in (table.human_ids if side == "human" else table.virus_ids)]
            found[side] = load_protein_embeddings(path, ids, known)
    return found


def format_evaluation(run: EvaluationRun) -> str:
    """A plain-text table, one column per result, and a mean ± SD column when the results are replicates."""
    results = run.results
    with_mean = run.replicates is not None
    rows = [("metric", *[r.name for r in results]) + (("mean ± SD",) if with_mean else ())]
    names = METRIC_NAMES

    def add(section: str, getter) -> None:
        rows.append((section,) + ("",) * (len(rows[0]) - 1))
        for metric in names:
            values = [getter(r)[metric] for r in results]
            cells = [f"{v:.4f}" for v in values]
            if with_mean:
                cells.append(f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}")
            rows.append((f"  {metric}", *cells))

    counts = [f"{r.at_model_cutoff['n_pairs']} ({r.at_model_cutoff['n_positive']})" for r in results]
    rows.append(("pairs (positive)", *counts) + (("",) if with_mean else ()))
    add("model, at the model's cutoff", lambda r: r.at_model_cutoff)
    add("model, at Youden's cutoff of these pairs", lambda r: r.at_youden_cutoff)
    if all(r.baseline is not None for r in results):
        add("frequency baseline (no sequence), at its Youden cutoff", lambda r: r.baseline)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
    if with_mean:
        table = f"mean ± SD over {run.replicates}\n{table}"
    elif run.note:
        table = f"{run.note}\n{table}"
    return table


def evaluation_subtitle(jobs: list[EvaluationJob]) -> str:
    """The subtitle of the ROC and PR plots of :func:`plan_evaluation`'s jobs: the models (bundled name
    or file name) on the pair files (the shortest path ends that tell them apart)."""
    from hvppi.evaluation.plots import model_label, plot_subtitle

    return plot_subtitle([model_label(j.model) for j in jobs], short_names([j.pairs_path for j in jobs]))


def write_evaluation(out_dir: str | os.PathLike, run: EvaluationRun, subtitle: str | None = None) -> list[str]:
    """Write scores TSVs (scores.tsv, or scores_1.tsv, scores_2.tsv, ... in result order), roc.png, pr.png
    and metrics.json (each result names its scores file) to ``out_dir``; return the names written.

    ``subtitle``: the plots' subtitle (:func:`evaluation_subtitle`); None names the results' model
    files and pair files."""
    import json

    from hvppi.evaluation.plots import model_label, plot_subtitle, roc_pr_plots

    out = Path(out_dir)
    several = len(run.results) > 1
    score_files = [f"scores_{k}.tsv" if several else "scores.tsv" for k in range(1, len(run.results) + 1)]
    curves, baselines_drawn = [], set()
    one_pair_file = len({r.pairs_path for r in run.results}) == 1
    for result, pairs, name in zip(run.results, run.pairs, score_files):
        write_scores(out / name, pairs, result)
        curves.append((f"model, {result.name}" if several else "model", result.labels, result.scores))
        fitted_on = (result.baseline or {}).get("fitted_on")
        if result.baseline_scores is not None and (result.pairs_path, fitted_on) not in baselines_drawn:
            baselines_drawn.add((result.pairs_path, fitted_on))
            label = "frequency baseline" if one_pair_file else f"frequency baseline, {result.name}"
            curves.append((label, result.labels, result.baseline_scores))
    if subtitle is None:
        subtitle = plot_subtitle(
            [model_label(r.model_path) for r in run.results], short_names([r.pairs_path for r in run.results])
        )
    roc_pr_plots(curves, out / "roc.png", out / "pr.png", subtitle=subtitle)
    report = run.to_dict()
    for entry, name in zip(report["results"], score_files):
        entry["scores_file"] = name
    with atomic_write(out / "metrics.json") as fh:
        json.dump(report, fh, indent=2)
    return ["metrics.json", *score_files, "roc.png", "pr.png"]

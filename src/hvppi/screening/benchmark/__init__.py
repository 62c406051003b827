"""The screening benchmark: rank every human candidate for viral proteins the model has not seen.

Viral proteins are held out with all their pairs, grouped by CD-HIT identity (0.9, and a strict 0.4) or by virus
family (:mod:`~hvppi.screening.benchmark.splits`); the screening model is trained on the rest
(:mod:`~hvppi.screening.benchmark.run`); every human protein of the data set is then ranked for each held-out viral
protein, its known partners being the positives. Each method gets per-viral-protein ROC AUC, average precision,
recall in the top 1% and in the top 50 (:mod:`~hvppi.screening.benchmark.metrics`), averaged over the held-out
viral proteins with a 95% interval from resampling them (1,000 bootstrap resamples), and paired differences of the
model against the baselines (:mod:`~hvppi.screening.benchmark.report`).

The methods are declared once, in :data:`~hvppi.screening.benchmark.methods.METHODS`: ``random``, ``popularity``
(human proteins by their number of training viral partners), ``homology`` (homology transfer from the training
viral partners of the human protein), ``model`` (the screening model, :mod:`hvppi.screening.model`) and ``model,
constant virus`` (every viral protein replaced by the average one: what the viral input adds).

With a virus taxonomy (:func:`hvppi.datasets.taxonomy.read_virus_taxonomy`), every viral protein's taxon and family
are model inputs, as a user gives them to ``hvppi screen``, and two more rows say what they add: ``virus
popularity`` (human proteins by their number of training partners among the proteins of the same virus, ties by
popularity: a baseline) and ``model, virus not given`` (the same model with the held-out proteins' taxon and family
withheld).

With extra training positives (:meth:`ScreeningData.with_extra`, e.g. the other data the bundled model is trained
on, merged by the union rules of its recipe, :mod:`hvppi.screening.recipe`), the model and the baselines learn
from the union, less every extra viral protein close to a held-out one; the baselines from the data's own training
pairs are reported too (``popularity, benchmark pairs only``, ``homology, benchmark pairs only``).

Ties (e.g. human proteins that popularity cannot tell apart) are broken at random for average precision and
recall, and count one half for ROC AUC. How many threads run (CD-HIT, the alignments, the trees) is an argument of
:func:`run_screening_benchmark`, not a setting of the model.

The studies around it: :mod:`~hvppi.screening.benchmark.seeds` (the first split over seeds),
:mod:`~hvppi.screening.benchmark.ablation` (the recipe without feature groups) and
:mod:`~hvppi.screening.benchmark.subset` (the model card's quick check).
"""

from hvppi.screening.benchmark.data import (
    ScreeningData,
    benchmark_data,
    candidates_of_data,
    names_by_sequence,
    read_families,
    sample_benchmark_proteins,
)
from hvppi.screening.benchmark.methods import (
    ALL_KNOWN,
    BASE_METHODS,
    DIFFERENCES,
    EXTRA_BASELINES,
    FAMILY_TABLE,
    METHODS,
    TAXONOMY_METHODS,
    Method,
    SplitContext,
    method_names,
    score_methods,
)
from hvppi.screening.benchmark.metrics import (
    CURVE_KS,
    METRIC_LABELS,
    METRICS,
    bootstrap,
    per_virus_metrics,
    ranking_metrics,
    recall_curve,
    reliability_table,
)
from hvppi.screening.benchmark.report import family_table, format_report, split_table, write_benchmark
from hvppi.screening.benchmark.run import ScreeningBenchmark, SplitResult, evaluate_split, run_screening_benchmark
from hvppi.screening.benchmark.splits import (
    HeldOutSplit,
    ViralClusters,
    close_to_held_out,
    family_split,
    held_out_split,
    hold_out_groups,
)

__all__ = [
    "ALL_KNOWN",
    "BASE_METHODS",
    "CURVE_KS",
    "DIFFERENCES",
    "EXTRA_BASELINES",
    "FAMILY_TABLE",
    "METHODS",
    "METRICS",
    "METRIC_LABELS",
    "TAXONOMY_METHODS",
    "HeldOutSplit",
    "Method",
    "ScreeningBenchmark",
    "ScreeningData",
    "SplitContext",
    "SplitResult",
    "ViralClusters",
    "benchmark_data",
    "bootstrap",
    "candidates_of_data",
    "close_to_held_out",
    "evaluate_split",
    "family_split",
    "family_table",
    "format_report",
    "held_out_split",
    "hold_out_groups",
    "method_names",
    "names_by_sequence",
    "per_virus_metrics",
    "ranking_metrics",
    "read_families",
    "recall_curve",
    "reliability_table",
    "run_screening_benchmark",
    "sample_benchmark_proteins",
    "score_methods",
    "split_table",
    "write_benchmark",
]

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, roc_auc_score

from conftest import BENCHMARK
from hvppi.evaluation.baseline import FrequencyBaseline
from hvppi.evaluation.metrics import binary_metrics, mean_sd, youden_cutoff
from hvppi.io.pairs import read_pairs


def test_youden_cutoff_maximises_sensitivity_plus_specificity(rng):
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(labels * 0.8, 1.0)

    def j(c):
        calls = scores >= c
        return calls[labels == 1].mean() + (~calls)[labels == 0].mean() - 1

    best = max(j(c) for c in np.unique(scores))
    assert j(youden_cutoff(labels, scores)) == pytest.approx(best)


def test_metrics_agree_with_scikit_learn(rng):
    labels = rng.integers(0, 2, 500)
    scores = rng.normal(labels, 1.0)
    m = binary_metrics(labels, scores, cutoff=0.4)
    calls = (scores >= 0.4).astype(int)
    assert m["mcc"] == pytest.approx(matthews_corrcoef(labels, calls))
    assert m["f1"] == pytest.approx(f1_score(labels, calls))
    assert m["accuracy"] == pytest.approx(accuracy_score(labels, calls))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert m["sensitivity"] == pytest.approx(calls[labels == 1].mean())
    assert m["specificity"] == pytest.approx(1 - calls[labels == 0].mean())


def test_metrics_need_both_classes():
    with pytest.raises(ValueError, match="both"):
        binary_metrics(np.ones(4), np.arange(4.0))


def test_mean_sd_over_replicates():
    runs = [
        dict(roc_auc=a, pr_auc=a, sensitivity=a, specificity=a, accuracy=a, mcc=a, f1=a, cutoff=a)
        for a in (0.9, 0.92, 0.94)
    ]
    mean, sd = mean_sd(runs)["roc_auc"]
    assert mean == pytest.approx(0.92) and sd == pytest.approx(0.02)


def test_frequency_baseline_reaches_the_counted_auc_on_the_benchmark():
    """The issue counted ROC AUC 0.9947 for this baseline on the benchmark's own split."""
    train = read_pairs(BENCHMARK / "protein_pair_label_train.txt")
    test = read_pairs(BENCHMARK / "protein_pair_label_test.txt")
    auc = roc_auc_score(test.labels, FrequencyBaseline().fit(train).score(test))
    assert auc == pytest.approx(0.9947, abs=5e-4)


def test_frequency_baseline_scores_unseen_proteins_with_the_prior(tmp_path):
    (tmp_path / "t.txt").write_text("H1\tV1\t1\nH1\tV2\t0\nH2\tV2\t0\nH2\tV1\t0\n")
    (tmp_path / "q.txt").write_text("H9\tV9\n")
    baseline = FrequencyBaseline().fit(read_pairs(tmp_path / "t.txt"))
    assert baseline.score(read_pairs(tmp_path / "q.txt"))[0] == pytest.approx(0.25 * 0.25)

"""The bundled models reproduce the numbers of their model card, on the full benchmark splits."""

import json
import shutil

import pytest

from conftest import BENCHMARK
from hvppi.datasets.splits import viral_disjoint_split
from hvppi.io.bundled import bundled_model_path
from hvppi.io.pairs import PairTable, read_pairs
from hvppi.lstm.evaluation import evaluate_model
from hvppi.lstm.modelfile import load_model


@pytest.fixture(scope="module")
def card():
    return json.loads((bundled_model_path().parent / "model_card.json").read_text())


@pytest.fixture(scope="module")
def benchmark_pairs(shared_data):
    return read_pairs(BENCHMARK / "protein_pair_label_train.txt"), read_pairs(BENCHMARK / "protein_pair_label_test.txt")


def check_against_card(result, card):
    """AUCs to 1e-4; metrics at the cutoff may move by a few pairs on another CPU's arithmetic."""
    for key in ("roc_auc", "pr_auc"):
        assert result.at_model_cutoff[key] == pytest.approx(card["model_at_model_cutoff"][key], abs=1e-4), key
    for key in ("mcc", "sensitivity", "specificity", "f1", "accuracy"):
        assert result.at_model_cutoff[key] == pytest.approx(card["model_at_model_cutoff"][key], abs=3e-3), key
    for key in ("roc_auc", "pr_auc", "mcc", "sensitivity", "specificity", "f1", "accuracy"):
        assert result.baseline[key] == pytest.approx(card["frequency_baseline"][key], abs=1e-9), key


@pytest.mark.slow
def test_default_model_on_the_benchmark_test_split(card, benchmark_pairs, benchmark_sequences):
    train, test = benchmark_pairs
    model, info = load_model()
    result = evaluate_model(model, info, test, benchmark_sequences, baseline_pairs=train)
    assert result.at_model_cutoff["n_pairs"] == 49_243 and result.at_model_cutoff["n_positive"] == 4_477
    check_against_card(result, card["default"]["test"])
    assert result.at_model_cutoff["roc_auc"] >= 0.97


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cd-hit") is None, reason="cd-hit is not installed")
def test_viral_disjoint_model_against_the_frequency_baseline(card, benchmark_pairs, benchmark_sequences):
    vd_train, vd_test, split = viral_disjoint_split(PairTable.concat(list(benchmark_pairs)), benchmark_sequences)
    assert {k: split[k] for k in card["viral_disjoint"]["split"]} == card["viral_disjoint"]["split"]
    model, info = load_model("viral-disjoint")
    assert info.training_data_sha256 is not None
    result = evaluate_model(model, info, vd_test, benchmark_sequences, baseline_pairs=vd_train)
    check_against_card(result, card["viral_disjoint"]["test"])
    # The card reports the model next to the sequence-blind baseline; on this split the baseline
    # still sees the human side of the shortcut (see MODEL_CARD.md), and it scores higher.
    assert result.at_model_cutoff["roc_auc"] > 0.95

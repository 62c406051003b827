"""The bundled screening model (``default``): what the screening issue asks of it, on real proteins."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hvppi.cli import main
from hvppi.io.bundled import bundled_model_path, model_kind
from hvppi.registry import load_scorer
from hvppi.screening.modelfile import load_screening_model

SARS_COV_2 = {"S": "P0DTC2", "N": "P0DTC9", "ORF3a": "P0DTC3", "M": "P0DTC5", "E": "P0DTC4"}
CARD = bundled_model_path().parent / "screening_card.json"


@pytest.fixture(scope="module")
def model():
    return load_screening_model()


def test_the_default_model_is_the_screening_model(model):
    assert model_kind(bundled_model_path()) == "screening"
    assert load_scorer().fingerprint() == model.fingerprint()
    assert model_kind(bundled_model_path("lstm-phv-benchmark")) == "interaction"
    summary = model.metadata["training_data"]
    assert summary["positive_pairs"] == len(model.reference.pair_virus)
    assert len(set(model.reference.human_sequences)) == len(model.reference.human_ids)  # merged by sequence
    # scikit-learn's early stopping ended the fit before max_iter (as ScreeningConfig.max_iter says)
    assert 0 < len(model.trees.roots) < model.config.max_iter


def test_sars_cov_2_rankings_depend_on_the_viral_protein(model, shared_data, benchmark_sequences):
    """The lists differ between SARS-CoV-2 proteins, with and without their virus given: five different top-10
    lists among 2,000 human proteins, probabilities strictly inside (0, 1). (The open-world model ranks the bulk of
    human proteins, those with no protein-specific evidence, by how many viral proteins bind them, so lists of proteins
    without such evidence are alike; the top-50 overlap against the whole universe is tested in test_open_world.py.)"""
    from hvppi.io.sequences import read_sequences

    pool = read_sequences(shared_data / "sequences" / "sequence_pool.fasta.gz")
    viral = {line.split("\t")[1] for line in (shared_data / "lstm-phv-benchmark" / "protein_pair_label_pos.txt").open()}
    humans = sorted(set(benchmark_sequences) - viral)
    chosen = sorted(np.random.default_rng(0).choice(humans, 2000, replace=False))
    viral = [pool[v] for v in SARS_COV_2.values()]
    for taxa in (None, model.taxa_of(list(SARS_COV_2.values()), taxon="2697049")):  # virus not given, and given
        raw, probability = model.score_matrix(viral, [benchmark_sequences[h] for h in chosen], taxa=taxa, threads=2)
        assert ((probability > 0) & (probability < 1)).all()
        assert len({tuple(np.argsort(-row)[:10]) for row in raw}) == len(SARS_COV_2)  # five different top-10 lists
    assert taxa is not None and set(taxa.families) == {"Coronaviridae"}


def test_predict_uses_the_screening_model_by_default(tmp_path, benchmark_sequences):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("P19838\tQ6VGT6\nP04637\tQ6VGT6\n")
    fasta = tmp_path / "s.fasta"
    fasta.write_text("".join(f">{p}\n{benchmark_sequences[p]}\n" for p in ("P19838", "P04637", "Q6VGT6")))
    out = tmp_path / "out.tsv"
    assert main(["predict", "--pairs", str(pairs), "--sequences", str(fasta), "--out", str(out), "--quiet"]) == 0
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    model = load_screening_model()
    _, expected = model.score_pairs(["P19838", "P04637"], ["Q6VGT6", "Q6VGT6"], benchmark_sequences)
    np.testing.assert_allclose([float(r[2]) for r in rows], expected, rtol=1e-6)
    assert [int(r[3]) for r in rows] == [int(p >= 0.5) for p in expected]


@pytest.mark.slow
def test_model_card_numbers_repeat_on_the_subset_check(shared_data):
    """The card's subset check, run again: every mean of every method equals the card's."""
    from hvppi.screening.benchmark.data import benchmark_data
    from hvppi.screening.benchmark.subset import subset_check
    from hvppi.screening.recipe import default_taxonomy

    if not CARD.exists():
        pytest.fail(f"{CARD} is missing: run scripts/screening_card.py")

    card = json.loads(CARD.read_text())["subset_check"]
    fresh = subset_check(benchmark_data(shared_data / "lstm-phv-benchmark"), default_taxonomy(shared_data))
    assert fresh["held_out"] == card["held_out"]
    for method, metrics in card["methods"].items():
        for metric, (mean, _, _) in metrics.items():
            assert fresh["methods"][method][metric][0] == pytest.approx(mean, abs=1e-9), (method, metric)

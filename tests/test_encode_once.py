"""predict, evaluate and screen encode each distinct protein once, however often it recurs in the pairs.

The towers' forward calls are counted per protein (conftest.EncodedProteins), through the command
line and through the library functions behind it.
"""

from collections import Counter

import numpy as np
import pytest
import torch

from hvppi.cli import main
from hvppi.io.pairs import PairTable
from hvppi.lstm.evaluation import evaluate_model
from hvppi.lstm.inference import score_pairs
from hvppi.lstm.model import InteractionModel, ModelConfig
from hvppi.lstm.modelfile import ModelInfo, load_model, save_model
from hvppi.lstm.scorer import InteractionScorer
from hvppi.scoring.interface import ScreenSettings
from hvppi.scoring.screen import screen


def random_set(rng, prefix, n):
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    return {f"{prefix}{i}": "".join(rng.choice(letters, rng.integers(20, 70))) for i in range(n)}


@pytest.fixture()
def setting(tmp_path, rng):
    """A small saved model, 5 human and 4 viral proteins, and 14 labelled pairs in which every
    protein occurs two to four times."""
    torch.manual_seed(5)
    config = ModelConfig(lstm_hidden=8, attention_hidden=8, head_widths=(8, 4))
    path = tmp_path / "model.safetensors"
    save_model(path, InteractionModel(config), ModelInfo(config, cutoff=0.5))
    human, virus = random_set(rng, "H", 5), random_set(rng, "V", 4)
    pairs = [(f"H{k % 5}", f"V{k % 4}", k % 3 == 0) for k in range(14)]
    (tmp_path / "pairs.txt").write_text("".join(f"{h}\t{v}\t{int(y)}\n" for h, v, y in pairs))
    (tmp_path / "seqs.fasta").write_text("".join(f">{k}\n{s}\n" for k, s in {**human, **virus}.items()))
    table = PairTable.from_lists(*zip(*pairs))
    assert min(Counter(table.human_ids).values()) >= 2 and min(Counter(table.virus_ids).values()) >= 2
    return path, human, virus, table


def assert_each_encoded_once(recorded, human, virus, towers=None):
    """Two towers ran: one encoded exactly the human proteins, once each; the other the viral ones."""
    if towers is None:
        assert len(recorded.towers()) == 2
        by_set = {frozenset(recorded.of(t)): recorded.of(t) for t in recorded.towers()}
        human_counts, virus_counts = by_set[frozenset(human.values())], by_set[frozenset(virus.values())]
    else:
        human_counts, virus_counts = recorded.of(towers[0]), recorded.of(towers[1])
        assert recorded.towers() <= set(towers)
    assert human_counts == Counter(human.values())
    assert virus_counts == Counter(virus.values())


def test_cli_predict_encodes_each_protein_once(tmp_path, setting, encoded_proteins):
    path, human, virus, table = setting
    args = ["--model", str(path), "--pairs", str(tmp_path / "pairs.txt"), "--sequences", str(tmp_path / "seqs.fasta")]
    assert main(["predict", *args, "--out", str(tmp_path / "scores.tsv"), "--quiet"]) == 0
    assert len((tmp_path / "scores.tsv").read_text().splitlines()) == 1 + len(table)
    assert_each_encoded_once(encoded_proteins, human, virus)


def test_cli_evaluate_encodes_each_protein_once(tmp_path, setting, encoded_proteins, capsys):
    path, human, virus, _ = setting
    args = ["--model", str(path), "--pairs", str(tmp_path / "pairs.txt"), "--sequences", str(tmp_path / "seqs.fasta")]
    assert main(["evaluate", *args, "--quiet"]) == 0
    assert "roc_auc" in capsys.readouterr().out
    assert_each_encoded_once(encoded_proteins, human, virus)


def test_library_predict_evaluate_and_screen_encode_each_protein_once(tmp_path, setting, encoded_proteins):
    path, human, virus, table = setting
    model, info = load_model(path)
    towers = (model.human_tower, model.virus_tower)
    sequences = {**human, **virus}

    scores = score_pairs(model, table, sequences)
    assert scores.shape == (len(table),)
    assert_each_encoded_once(encoded_proteins, human, virus, towers)

    encoded_proteins.clear()
    result = evaluate_model(model, info, table, sequences)
    np.testing.assert_array_equal(result.scores, scores)
    assert_each_encoded_once(encoded_proteins, human, virus, towers)

    # screening: 4 viral proteins in chunks of 3, so the human vectors serve two chunks
    encoded_proteins.clear()
    summary = screen(
        InteractionScorer(model, info),
        virus,
        human,
        tmp_path / "s.tsv",
        ScreenSettings(chunk_size=3),
        progress=False,
        log=lambda m: None,
    )
    assert summary["pairs_scored"] == 20
    assert_each_encoded_once(encoded_proteins, human, virus, towers)

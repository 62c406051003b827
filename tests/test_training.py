import json

import numpy as np
import pytest
import torch

from hvppi.io.errors import InputError
from hvppi.io.pairs import read_pairs
from hvppi.ppi.modelfile import load_model
from hvppi.ppi.training import (
    TrainConfig,
    class_balanced_loss,
    class_balanced_weights,
    epoch_pairs,
    split_validation,
    stratified_batches,
    train,
)


def test_class_balanced_weights_follow_cui_et_al():
    labels = torch.tensor([1, 0, 0, 0])
    beta = 0.9
    raw_neg, raw_pos = (1 - beta) / (1 - beta**3), (1 - beta) / (1 - beta**1)
    expected_pos = raw_pos * 2 / (raw_neg + raw_pos)
    w = class_balanced_weights(labels, beta)
    assert w[0].item() == pytest.approx(expected_pos, rel=1e-6)
    assert w[1].item() == pytest.approx(2 - expected_pos, rel=1e-6)


def test_dataset_counts_override_batch_counts():
    labels = torch.tensor([1, 0])
    w = class_balanced_weights(labels, 0.9999, counts=(90_000, 10_000))
    assert w[0] > w[1]
    assert torch.allclose(class_balanced_weights(labels, 0.9999), torch.ones(2))


def test_a_batch_with_one_class_gives_the_plain_mean_loss():
    logits = torch.tensor([0.3, -1.2, 2.0])
    for labels in (torch.zeros(3), torch.ones(3)):
        loss = class_balanced_loss(logits, labels, 0.9999)
        plain = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        assert torch.isfinite(loss) and loss.item() == pytest.approx(plain.item(), rel=1e-6)


def test_stratified_batches_share_positives_evenly(rng):
    labels = np.array([1] * 100 + [0] * 900)
    batches = stratified_batches(labels, 256, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    shares = [labels[b].sum() for b in batches]
    assert max(shares) - min(shares) <= 1 and len(batches) == 4


def test_epoch_pairs_keeps_all_positives_and_subsamples_negatives(rng):
    labels = np.array([1] * 50 + [0] * 500)
    chosen = epoch_pairs(labels, 2.0, rng)
    assert labels[chosen].sum() == 50 and len(chosen) == 150 and len(set(chosen)) == 150
    assert len(epoch_pairs(labels, None, rng)) == 550


def test_validation_split_is_stratified_and_seeded(small_pairs_file):
    pairs = read_pairs(small_pairs_file)
    train_a, val_a = split_validation(pairs, 0.2, seed=3)
    train_b, val_b = split_validation(pairs, 0.2, seed=3)
    assert val_a.lines == val_b.lines and len(val_a) == 48
    assert val_a.labels.mean() == pytest.approx(pairs.labels.mean(), abs=0.01)
    assert not set(val_a.lines) & set(train_a.lines)


def run(small_pairs_file, sequences, out, epochs, **kw):
    config = TrainConfig(max_epochs=epochs, batch_size=64, seed=7, **kw)
    return train(
        read_pairs(small_pairs_file), sequences, out, config=config, device="cpu", progress=False, log=lambda m: None
    )


def test_training_writes_model_log_and_checkpoint(tmp_path, small_pairs_file, benchmark_sequences):
    summary = run(small_pairs_file, benchmark_sequences, tmp_path, 2, negative_ratio=1.0)
    lines = [json.loads(l) for l in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [l["epoch"] for l in lines] == [1, 2]
    assert all(l["train_pairs"] == 96 for l in lines)
    assert {"train_loss", "val_loss", "val_roc_auc", "val_mcc"} <= set(lines[0])
    model, info = load_model(tmp_path / "model.safetensors")
    assert info.cutoff == pytest.approx(summary["cutoff"])
    assert info.training["best_epoch"] == summary["best_epoch"]
    assert len(info.training_data_sha256) == 64
    best = min(lines, key=lambda l: l["val_loss"])
    assert best["epoch"] == summary["best_epoch"]


def test_resume_continues_exactly(tmp_path, small_pairs_file, benchmark_sequences):
    run(small_pairs_file, benchmark_sequences, tmp_path / "straight", 3)
    run(small_pairs_file, benchmark_sequences, tmp_path / "resumed", 1)
    config = TrainConfig(max_epochs=3, batch_size=64, seed=7)
    train(
        read_pairs(small_pairs_file),
        benchmark_sequences,
        tmp_path / "resumed",
        config=config,
        resume=True,
        device="cpu",
        progress=False,
        log=lambda m: None,
    )
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    log_a = [json.loads(l)["val_loss"] for l in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]
    log_b = [json.loads(l)["val_loss"] for l in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()]
    assert log_a == log_b


def test_resume_refuses_other_data(tmp_path, small_pairs_file, benchmark_sequences):
    run(small_pairs_file, benchmark_sequences, tmp_path, 1)
    pairs = read_pairs(small_pairs_file).subset(np.arange(200))
    with pytest.raises(InputError, match="cannot resume"):
        train(
            pairs,
            benchmark_sequences,
            tmp_path,
            config=TrainConfig(max_epochs=2, batch_size=64, seed=7),
            resume=True,
            device="cpu",
            progress=False,
            log=lambda m: None,
        )


def test_existing_run_is_not_overwritten_without_resume(tmp_path, small_pairs_file, benchmark_sequences):
    run(small_pairs_file, benchmark_sequences, tmp_path, 1)
    with pytest.raises(InputError, match="--resume"):
        run(small_pairs_file, benchmark_sequences, tmp_path, 1)


def test_validation_set_with_one_class_is_rejected(tmp_path, small_pairs_file, benchmark_sequences):
    pairs = read_pairs(small_pairs_file)
    negatives = pairs.subset(np.flatnonzero(pairs.labels == 0)[:20])
    with pytest.raises(InputError, match="validation pairs hold only negative"):
        train(
            pairs,
            benchmark_sequences,
            tmp_path,
            validation=negatives,
            config=TrainConfig(max_epochs=1),
            device="cpu",
            progress=False,
            log=lambda m: None,
        )
    assert not (tmp_path / "model.safetensors").exists()


def test_time_limit_stops_before_a_new_epoch(tmp_path, small_pairs_file, benchmark_sequences):
    run(small_pairs_file, benchmark_sequences, tmp_path, 1)
    summary = train(
        read_pairs(small_pairs_file),
        benchmark_sequences,
        tmp_path,
        config=TrainConfig(max_epochs=5, batch_size=64, seed=7),
        resume=True,
        device="cpu",
        progress=False,
        log=lambda m: None,
        time_limit=0,
    )
    assert summary["stopped"] == "time_limit" and summary["epochs"] == 1


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, small_pairs_file, benchmark_sequences):
    (tmp_path / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable hvppi checkpoint"):
        train(
            read_pairs(small_pairs_file),
            benchmark_sequences,
            tmp_path,
            config=TrainConfig(max_epochs=1),
            resume=True,
            device="cpu",
            progress=False,
            log=lambda m: None,
        )


def test_too_few_positives_to_split_is_a_clear_error(tmp_path, small_pairs_file, benchmark_sequences):
    pairs = read_pairs(small_pairs_file)
    one_positive = pairs.subset(
        np.concatenate([np.flatnonzero(pairs.labels == 1)[:1], np.flatnonzero(pairs.labels == 0)])
    )
    with pytest.raises(InputError, match="1 positive"):
        train(one_positive, benchmark_sequences, tmp_path, device="cpu", progress=False, log=lambda m: None)


def test_a_cut_off_log_line_does_not_stop_resume(tmp_path, small_pairs_file, benchmark_sequences):
    run(small_pairs_file, benchmark_sequences, tmp_path, 1)
    with open(tmp_path / "log.jsonl", "a") as fh:
        fh.write('{"epoch": 2, "train_lo')
    train(
        read_pairs(small_pairs_file),
        benchmark_sequences,
        tmp_path,
        config=TrainConfig(max_epochs=2, batch_size=64, seed=7),
        resume=True,
        device="cpu",
        progress=False,
        log=lambda m: None,
    )
    assert [json.loads(l)["epoch"] for l in (tmp_path / "log.jsonl").read_text().splitlines()] == [1, 2]

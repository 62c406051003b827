import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hvppi.io.errors import InputError
from hvppi.io.pairs import PairTable, read_pairs
from hvppi.lstm.inference import pair_logits
from hvppi.lstm.model import ModelConfig
from hvppi.lstm.modelfile import load_model
from hvppi.lstm.training import (
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


TIMING_FIELDS = ("residues_per_s", "seconds")


def log_entries(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def without_timing(entries):
    return [{k: v for k, v in e.items() if k not in TIMING_FIELDS} for e in entries]


@pytest.mark.slow
def test_resume_with_negative_subsampling_and_dataset_counts_continues_exactly(
    tmp_path, small_pairs_file, benchmark_sequences
):
    """4 epochs straight = 2 epochs, then resumed to 4: the negatives drawn afresh each epoch, the
    class counts over each epoch's pairs, batch order, dropout and optimizer state all carry over."""
    recipe = {"negative_ratio": 2.0, "class_count": "dataset"}
    run(small_pairs_file, benchmark_sequences, tmp_path / "straight", 4, **recipe)
    run(small_pairs_file, benchmark_sequences, tmp_path / "resumed", 2, **recipe)
    first_half = (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()
    messages = []
    train(
        read_pairs(small_pairs_file),
        benchmark_sequences,
        tmp_path / "resumed",
        config=TrainConfig(max_epochs=4, batch_size=64, seed=7, **recipe),
        resume=True,
        device="cpu",
        progress=False,
        log=messages.append,
    )
    straight, resumed = log_entries(tmp_path / "straight"), log_entries(tmp_path / "resumed")
    # the resumed call ran epochs 3 and 4 only: the first two lines are the first call's, timings included
    assert (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()[:2] == first_half
    assert [e["epoch"] for e in resumed] == [1, 2, 3, 4]
    assert all(e["train_pairs"] == 48 * 3 for e in resumed)  # 48 positives and 2 × 48 negatives
    assert without_timing(resumed) == without_timing(straight)

    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    _, info_a = load_model(tmp_path / "straight" / "model.safetensors")
    _, info_b = load_model(tmp_path / "resumed" / "model.safetensors")
    assert (info_a.cutoff, info_a.training) == (info_b.cutoff, info_b.training)
    assert info_a.training["best_epoch"] == min(straight, key=lambda e: e["val_loss"])["epoch"]
    # the last epoch's weights, whether or not epoch 4 was the best
    last_a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)["model"]
    last_b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)["model"]
    for key in last_a:
        assert torch.equal(last_a[key], last_b[key]), key


def first_stale_epoch(val_losses, patience):
    """The epoch after which training should stop: the first whose best epoch lies `patience` back."""
    best_loss, best_epoch = float("inf"), 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best_loss:
            best_loss, best_epoch = loss, epoch
        if epoch - best_epoch >= patience:
            return epoch, best_epoch
    return None, best_epoch


def test_early_stopping_stops_after_patience_and_keeps_the_best_epoch(tmp_path, small_pairs_file, benchmark_sequences):
    """Validation pairs: the training pairs with their labels flipped. The validation loss first falls
    (the untrained model's calibration improves), then rises once the model fits its training pairs,
    so it has a minimum part-way and training must stop `patience` epochs after it."""
    pairs = read_pairs(small_pairs_file)
    chosen = np.concatenate([np.flatnonzero(pairs.labels == 1)[:48], np.flatnonzero(pairs.labels == 0)[:48]])
    train_pairs = pairs.subset(chosen)
    flipped = PairTable.from_lists(train_pairs.human_ids, train_pairs.virus_ids, 1 - train_pairs.labels)
    model_config = ModelConfig(lstm_hidden=8, attention_hidden=8, head_widths=(8, 4))
    config = TrainConfig(max_epochs=10, patience=2, batch_size=16, learning_rate=0.1, seed=1)
    summary = train(
        train_pairs,
        benchmark_sequences,
        tmp_path,
        model_config=model_config,
        config=config,
        validation=flipped,
        device="cpu",
        progress=False,
        log=lambda m: None,
    )
    entries = log_entries(tmp_path)
    losses = [e["val_loss"] for e in entries]
    stop, best = first_stale_epoch(losses, config.patience)
    assert stop is not None and 1 < best < stop < config.max_epochs, losses  # the premise of this test
    assert summary["stopped"] == "early_stopping"
    assert summary["epochs"] == len(entries) == stop == best + config.patience
    assert summary["best_epoch"] == best and summary["best_val_loss"] == losses[best - 1]
    assert [e["best"] for e in entries] == [loss == min(losses[:k]) for k, loss in enumerate(losses, start=1)]

    # the kept model is the best epoch's: its own validation loss is the best epoch's logged one
    model, info = load_model(tmp_path / "model.safetensors")
    assert info.training["best_epoch"] == best
    logits = torch.from_numpy(pair_logits(model, flipped, benchmark_sequences)).float()
    n_pos = int(flipped.labels.sum())
    loss = class_balanced_loss(
        logits, torch.from_numpy(flipped.labels).float(), config.beta, (len(flipped) - n_pos, n_pos)
    )
    assert loss.item() == pytest.approx(losses[best - 1], rel=1e-5)
    assert abs(loss.item() - losses[-1]) > 1e-4  # and not the last epoch's


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

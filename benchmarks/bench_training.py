"""Training throughput of the whole model against a bare nn.LSTM, on the same batches.

Prints residues/s of a full training step of hvppi's model (both towers, attention, head, class-
balanced loss, backward, RAdam step) and of a bare bidirectional ``nn.LSTM(7, 32)`` forward +
backward over the same proteins, cut into the same length-sorted chunks (so the reference wastes no
more on padding than the model), interleaved and repeated; then the time of one real training
epoch of the default recipe on the benchmark's training split (all positives of the 80% training
part plus as many fresh negatives). Last line: ``ratio: X`` = model / bare LSTM residues/s
(median over repeats). Run from the repository root:

    python benchmarks/bench_training.py [--threads 1] [--repeats 5] [--skip-epoch]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from hvppi.io.pairs import read_pairs
from hvppi.io.sequences import read_sequences
from hvppi.lstm.inference import pad_tokens, tokenize_sequences
from hvppi.lstm.model import InteractionModel
from hvppi.lstm.training import (
    TrainConfig,
    class_balanced_loss,
    epoch_pairs,
    split_validation,
    stratified_batches,
    train,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lstm-phv-benchmark"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, default=4, help="batches of 256 pairs per timed pass")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-epoch", action="store_true", help="skip the real one-epoch timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, oneDNN enabled: {torch.backends.mkldnn.enabled}"
    )

    sequences = read_sequences(args.data / "pro_seq.txt")
    pairs = read_pairs(args.data / "protein_pair_label_train.txt")
    train_pairs, _ = split_validation(pairs, 0.2, seed=0)
    rng = np.random.default_rng(0)
    chosen = epoch_pairs(train_pairs.labels, 1.0, rng)
    batches = [chosen[b] for b in stratified_batches(train_pairs.labels[chosen], 256, rng)][: args.batches]
    tokens = tokenize_sequences(sequences)
    human = np.asarray(train_pairs.human_ids, dtype=object)
    virus = np.asarray(train_pairs.virus_ids, dtype=object)
    prepared = []
    for b in batches:
        h = pad_tokens([tokens[p] for p in human[b]])
        v = pad_tokens([tokens[p] for p in virus[b]])
        prepared.append((h, v, torch.from_numpy(train_pairs.labels[b].astype(np.float32))))
    residues = sum(int(h[1].sum() + v[1].sum()) for h, v, _ in prepared)

    torch.manual_seed(0)
    model = InteractionModel().train()
    optimizer = torch.optim.RAdam(model.parameters(), lr=1e-3)
    chunk = model.human_tower.chunk_size
    bare = torch.nn.LSTM(7, 32, batch_first=True, bidirectional=True)
    features = model.human_tower.features

    def model_step(batch) -> None:
        (h, hl), (v, vl), y = batch
        optimizer.zero_grad(set_to_none=True)
        class_balanced_loss(model(h, hl, v, vl), y, 0.9999).backward()
        optimizer.step()

    def bare_step(batch) -> None:
        (h, hl), (v, vl), _ = batch
        for x, lengths in ((h, hl), (v, vl)):
            for c in torch.split(torch.argsort(lengths, descending=True), chunk):
                steps = int(lengths[c].max())
                out, _ = bare(torch.nn.functional.embedding(x[c, :steps], features))
                out.sum().backward()

    for batch in prepared:  # warm-up: oneDNN builds a primitive for every new shape
        model_step(batch), bare_step(batch)
    # Model and reference alternate batch by batch, so drifts of a shared machine hit both alike.
    model_rates, bare_rates, ratios = [], [], []
    for _ in range(args.repeats):
        model_seconds = bare_seconds = 0.0
        for batch in prepared:
            start = time.perf_counter()
            model_step(batch)
            middle = time.perf_counter()
            bare_step(batch)
            model_seconds += middle - start
            bare_seconds += time.perf_counter() - middle
        model_rates.append(residues / model_seconds)
        bare_rates.append(residues / bare_seconds)
        ratios.append(bare_seconds / model_seconds)
    print(f"{len(prepared)} batches of 256 pairs, {residues:,} residues per pass, {args.repeats} interleaved repeats")
    print(f"whole model, training step:   {statistics.median(model_rates):>10,.0f} residues/s (median)")
    print(f"bare nn.LSTM fwd + bwd:       {statistics.median(bare_rates):>10,.0f} residues/s (median)")

    if not args.skip_epoch:
        epoch_residues = sum(len(tokens[human[i]]) + len(tokens[virus[i]]) for i in chosen)
        config = TrainConfig(max_epochs=1, negative_ratio=1.0, seed=0)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            train(pairs, sequences, tmp, config=config, device="cpu", progress=False, log=lambda m: None)
            seconds = time.perf_counter() - start
        print(
            f"one epoch of the default recipe ({len(chosen):,} pairs, {epoch_residues:,} residues, "
            f"plus validation on {len(pairs) - len(train_pairs):,} pairs): {seconds:.1f} s"
        )
    print(f"ratio: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()

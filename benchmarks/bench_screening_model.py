"""Screening-model speed: pairs/s after the proteins are compared with the reference, on one thread.

Screens 30 viral × 5,000 human proteins of the LSTM-PHV benchmark with the bundled screening model and
times its stages: the viral proteins against the reference viral proteins (Smith–Waterman, k-mers,
composition: the screening model's "encoding"), the human candidates against the reference human
proteins (once per human set), and then per pair the features, the tree ensemble and the
calibration. As the reference measured in the same run, the BiLSTM model's screen after encoding (its
head on every pair, in float64, as ``hvppi screen`` runs it). NumPy and PyTorch are held to one thread.
Last line: ``ratio: X`` = screening-model pairs/s after encoding ÷ BiLSTM head pairs/s. Goal: at least
50,000 pairs/s. Run from the repository root:

    python benchmarks/bench_screening_model.py [--viral 30] [--human 5000]
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from hvppi.screening.benchmark.data import sample_benchmark_proteins

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lstm-phv-benchmark"


def main() -> None:
    from hvppi.lstm.modelfile import load_model
    from hvppi.lstm.scorer import head_scores_against, tower_vectors
    from hvppi.screening.modelfile import load_screening_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--viral", type=int, default=30)
    parser.add_argument("--human", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    virus, human = sample_benchmark_proteins(args.data, args.viral, args.human)
    n_pairs = len(virus) * len(human)
    with threadpool_limits(1):
        model = load_screening_model()
        start = time.perf_counter()
        taxa = model.taxa_of(list(virus))  # their viruses, where the training data knows the accession
        similarities = model.similarities(list(virus.values()), taxa)
        viral_seconds = time.perf_counter() - start
        start = time.perf_counter()
        evidence = model.evidence(model.candidates(list(human.values())))
        human_seconds = time.perf_counter() - start
        start = time.perf_counter()
        _, probability = model.score(evidence.features(similarities))
        pair_seconds = time.perf_counter() - start

        lstm, _ = load_model("lstm-phv-benchmark")
        human_vectors = torch.from_numpy(tower_vectors(lstm, "human", human, None, "cpu", False, lambda m: None))
        virus_vectors = torch.from_numpy(tower_vectors(lstm, "virus", virus, None, "cpu", False, lambda m: None))
        head = copy.deepcopy(lstm.head).double().eval()
        start = time.perf_counter()
        head_scores_against(head, human_vectors.double(), virus_vectors.double())
        head_seconds = time.perf_counter() - start

    rate, head_rate = n_pairs / pair_seconds, n_pairs / head_seconds
    print(
        f"{len(virus)} viral x {len(human)} human proteins = {n_pairs:,} pairs; one thread; virus known for {taxa.known()}"
    )
    print(f"viral proteins vs {len(model.reference.virus_ids):,} reference viral proteins: {viral_seconds:8.2f} s")
    print(f"human proteins vs {len(model.reference.human_ids):,} reference human proteins: {human_seconds:8.2f} s")
    print(f"features + trees + calibration: {pair_seconds:8.2f} s  {rate:12,.0f} pairs/s")
    print(f"BiLSTM head after encoding (reference): {head_seconds:8.2f} s  {head_rate:12,.0f} pairs/s")
    print(
        f"probabilities: min {probability.min():.3g}, max {probability.max():.3g}; goal >= 50,000 pairs/s: "
        f"{'met' if rate >= 50_000 else 'not met'}"
    )
    print(f"ratio: {rate / head_rate:.2f}")


if __name__ == "__main__":
    main()

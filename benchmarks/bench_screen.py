"""Screening speed: encode-once against a per-pair predictor, on 30 viral × 5,000 human proteins.

The encode-once path is ``hvppi.scoring.screen.screen`` (each protein through its tower once, the head
per pair, ranked rows streamed to a TSV). The per-pair path runs the whole model (both towers and
the head) for every pair, as a per-pair predictor such as LSTM-PHV does, in length-sorted batches
of pairs; both run the towers in float32 and the head in float64 (as ``screen`` does, so that tied
float32 scores are ranked by the model). Both use the bundled model, one thread. Prints pairs/s of each, the largest score
difference, then peak memory of the screen in fresh processes as the number of pairs grows, and
last ``ratio: X`` (cold encode-once pairs/s ÷ per-pair pairs/s; it also prints the ratio when the
human vectors come from an ``hvppi encode`` file, and the bound that residue counts put on the
cold ratio: each path runs the same tower code, so the saving is only the residues not re-encoded). Run from the repository root:

    python benchmarks/bench_screen.py [--viral 30] [--human 5000] [--per-pair-sample N]
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hvppi.screening.benchmark.data import sample_benchmark_proteins

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lstm-phv-benchmark"


def peak_memory_child(n_viral: int, n_human: int, data: Path) -> float:
    """Peak resident memory (MB) of a fresh process that screens n_viral × n_human pairs."""
    code = f"""
import resource, sys, tempfile, torch
from hvppi.screening.benchmark.data import sample_benchmark_proteins
from hvppi.registry import load_scorer
from hvppi.scoring.screen import screen
torch.set_num_threads(1)
virus, human = sample_benchmark_proteins({str(data)!r}, {n_viral}, {n_human})
scorer = load_scorer('lstm-phv-benchmark')
with tempfile.TemporaryDirectory() as tmp:
    screen(scorer, virus, human, tmp + '/s.tsv', progress=False, log=lambda m: None)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--viral", type=int, default=30)
    parser.add_argument("--human", type=int, default=5000)
    parser.add_argument(
        "--per-pair-sample",
        type=int,
        default=None,
        metavar="N",
        help="time the per-pair path on a random N of the pairs (default: all)",
    )
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from hvppi.io.alphabet import tokenize
    from hvppi.lstm.inference import pad_tokens
    from hvppi.lstm.modelfile import load_model
    from hvppi.lstm.scorer import InteractionScorer
    from hvppi.scoring.screen import screen

    virus, human = sample_benchmark_proteins(args.data, args.viral, args.human)
    model, info = load_model()
    n_pairs = len(virus) * len(human)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        screen(InteractionScorer(model, info), virus, human, Path(tmp) / "s.tsv", progress=False, log=lambda m: None)
        encode_once_seconds = time.perf_counter() - start
        rows = [l.split("\t") for l in (Path(tmp) / "s.tsv").read_text().splitlines()[1:]]
    screened = {(r[0], r[1]): float(r[2]) for r in rows}
    assert len(screened) == n_pairs
    from hvppi.lstm.scorer import tower_vectors
    from hvppi.lstm.vectors import VectorStore

    with tempfile.TemporaryDirectory() as tmp:
        with VectorStore(Path(tmp) / "human.h5", "human", info.require_file_sha256()) as store:
            tower_vectors(model, "human", human, store)  # what `hvppi encode --tower human` stores
        scorer = InteractionScorer(model, info, vector_files={"human": str(Path(tmp) / "human.h5")})
        start = time.perf_counter()
        screen(scorer, virus, human, Path(tmp) / "s.tsv", progress=False, log=lambda m: None)
        warm_seconds = time.perf_counter() - start
        scorer.close()

    pairs = [(h, v) for v in virus for h in human]
    rng = np.random.default_rng(1)
    if args.per_pair_sample and args.per_pair_sample < n_pairs:
        pairs = [pairs[i] for i in rng.choice(n_pairs, args.per_pair_sample, replace=False)]
    tokens = {p: tokenize(s) for p, s in {**virus, **human}.items()}
    order = sorted(range(len(pairs)), key=lambda i: len(tokens[pairs[i][0]]))
    per_pair_scores = np.empty(len(pairs))
    head = copy.deepcopy(model.head).double().eval()  # the head in float64, as screen runs it
    start = time.perf_counter()
    with torch.inference_mode():
        for k in range(0, len(order), 256):
            batch = order[k : k + 256]
            h, hl = pad_tokens([tokens[pairs[i][0]] for i in batch])
            v, vl = pad_tokens([tokens[pairs[i][1]] for i in batch])
            hv, _ = model.human_tower(h, hl)
            vv, _ = model.virus_tower(v, vl)
            per_pair_scores[batch] = torch.sigmoid(head(torch.cat([hv, vv], dim=1).double())).numpy().ravel()
    per_pair_seconds = time.perf_counter() - start
    difference = max(abs(per_pair_scores[i] - screened[p]) for i, p in enumerate(pairs))

    encode_once_rate = n_pairs / encode_once_seconds
    per_pair_rate = len(pairs) / per_pair_seconds
    print(f"{len(virus)} viral x {len(human)} human proteins = {n_pairs:,} pairs; torch threads 1")
    print(f"encode-once screen (ranked TSV written): {encode_once_seconds:8.2f} s  {encode_once_rate:12,.0f} pairs/s")
    print(f"per-pair model on {len(pairs):,} pairs:      {per_pair_seconds:8.2f} s  {per_pair_rate:12,.0f} pairs/s")
    print(
        f"encode-once screen, human vectors from an 'hvppi encode' H5: {warm_seconds:8.2f} s  "
        f"{n_pairs / warm_seconds:12,.0f} pairs/s (ratio {n_pairs / warm_seconds / per_pair_rate:.0f})"
    )
    lh = np.mean([len(s) for s in human.values()])
    lv = np.mean([len(s) for s in virus.values()])
    bound = len(virus) * len(human) * (lh + lv) / (len(human) * lh + len(virus) * lv)
    print(
        f"residue-count bound on the cold ratio, V*H*(Lh+Lv)/(H*Lh+V*Lv) with mean lengths {lh:.0f}/{lv:.0f}: {bound:.0f}"
    )
    print(f"largest |score difference| (screen's TSV has 7 significant digits): {difference:.2e}")
    if not args.skip_memory:
        for n_viral in (10, 30, 90):
            mb = peak_memory_child(n_viral, args.human, args.data)
            print(
                f"peak memory, {n_viral:3d} viral x {args.human} human = {n_viral * args.human:>9,} pairs: {mb:7.0f} MB"
            )
    print(f"ratio: {encode_once_rate / per_pair_rate:.1f}")


if __name__ == "__main__":
    main()

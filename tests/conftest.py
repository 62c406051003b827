import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HVPPI_SHARED_DATA", REPO.parent / "shared" / "data"))
BENCHMARK = SHARED / "lstm-phv-benchmark"

torch.set_num_threads(1)


def pytest_configure(config):
    if not BENCHMARK.exists():
        raise pytest.UsageError(f"the shared data folder is missing: {SHARED} (set HVPPI_SHARED_DATA)")


@pytest.fixture(scope="session")
def benchmark_sequences():
    from hvppi.io.sequences import read_sequences

    return read_sequences(BENCHMARK / "pro_seq.txt")


@pytest.fixture(scope="session")
def small_pairs_file(tmp_path_factory, benchmark_sequences):
    """Up to 60 positive and 180 negative training pairs of the benchmark whose proteins are short."""
    rows = {0: [], 1: []}
    with open(BENCHMARK / "protein_pair_label_train.txt") as fh:
        for line in fh:
            h, v, y = line.split()
            y = int(y)
            limit = 60 if y else 180
            if len(rows[y]) < limit and len(benchmark_sequences[h]) < 150 and len(benchmark_sequences[v]) < 150:
                rows[y].append(line)
            if len(rows[0]) >= 180 and len(rows[1]) >= 60:
                break
    path = tmp_path_factory.mktemp("pairs") / "small_pairs.txt"
    path.write_text("".join(rows[1] + rows[0]))
    return path


@pytest.fixture()
def rng():
    return np.random.default_rng(12345)

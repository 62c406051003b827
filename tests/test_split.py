import os
import shutil

import pytest

from hvppi.datasets.clustering import cdhit_clusters
from hvppi.datasets.splits import viral_disjoint_split
from hvppi.io.pairs import read_pairs

if shutil.which("cd-hit") is None and not os.environ.get("CI"):
    pytest.skip("cd-hit is not installed (apt-get install cd-hit); CI installs it", allow_module_level=True)


def mutate(seq, rng, n):
    letters = list(seq)
    for i in rng.choice(len(letters), n, replace=False):
        letters[i] = "W" if letters[i] != "W" else "A"
    return "".join(letters)


def test_cdhit_groups_near_identical_sequences(rng):
    base = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 200))
    other = "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 200))
    seqs = {"a": base, "a95": mutate(base, rng, 10), "a70": mutate(base, rng, 60), "b": other, "tiny": "MKV"}
    clusters = cdhit_clusters(seqs, 0.9)
    assert clusters["a"] == clusters["a95"]
    assert len({clusters["a"], clusters["a70"], clusters["b"], clusters["tiny"]}) == 4


def test_viral_disjoint_split_keeps_clusters_together(small_pairs_file, benchmark_sequences):
    pairs = read_pairs(small_pairs_file)
    train, test, info = viral_disjoint_split(pairs, benchmark_sequences, fraction=0.3, seed=1)
    assert len(train) + len(test) == len(pairs)
    assert not set(train.virus_ids) & set(test.virus_ids)
    assert set(test.virus_ids) == set(info["held_out_viral_ids"])
    viral = sorted(set(pairs.virus_ids))
    clusters = cdhit_clusters({v: benchmark_sequences[v] for v in viral}, 0.9)
    for v in test.virus_ids:
        assert all(w in set(test.virus_ids) for w in viral if clusters[w] == clusters[v])
    assert info["held_out_viral_proteins"] >= 0.3 * len(viral)

"""hvppi.align.blocks: all-against-all alignment in resumable, cached row blocks."""

import numpy as np
import pytest

from hvppi.align.blocks import aligned_pairs
from hvppi.align.kernels import all_pairs_stats, global_scores
from hvppi.io.alphabet import STANDARD_AMINO_ACIDS


@pytest.fixture
def sequences(rng):
    letters = np.array(list(STANDARD_AMINO_ACIDS))
    return ["".join(rng.choice(letters, rng.integers(15, 40))) for _ in range(9)]


def test_scores_and_identities_match_the_kernels_whatever_the_blocks(sequences):
    full = global_scores(sequences, matrix="BLOSUM30", threads=1)
    upper = full[np.triu_indices(len(sequences), 1)]
    stats = all_pairs_stats(sequences, matrix="PAM250", threads=1)
    for block_rows in (1, 3, 64):
        scores = aligned_pairs(sequences, matrix="BLOSUM30", threads=1, block_rows=block_rows)
        assert scores.identity is None and np.array_equal(scores.score, upper)
        with_identity = aligned_pairs(sequences, matrix="PAM250", identities=True, threads=1, block_rows=block_rows)
        assert np.array_equal(with_identity.score, stats[0]) and np.array_equal(with_identity.identity, stats[1])
        assert with_identity.blocks_aligned == -(-(len(sequences) - 1) // block_rows)


def test_cache_is_reused_only_under_its_key(tmp_path, sequences):
    cache = tmp_path / "pairs.npz"
    first = aligned_pairs(sequences, matrix="BLOSUM30", threads=1, cache=cache, key="k1", block_rows=4)
    assert cache.exists() and not (tmp_path / "pairs.npz.parts").exists() and not first.from_cache
    again = aligned_pairs(sequences, matrix="BLOSUM30", threads=1, cache=cache, key="k1", block_rows=4)
    assert again.from_cache and again.blocks_aligned == 0 and np.array_equal(again.score, first.score)
    other = aligned_pairs(sequences, matrix="BLOSUM30", threads=1, cache=cache, key="k2", block_rows=4)
    assert not other.from_cache and other.blocks_aligned == 2
    asked_for_identity = aligned_pairs(
        sequences, matrix="BLOSUM30", identities=True, threads=1, cache=cache, key="k2", block_rows=4
    )
    assert not asked_for_identity.from_cache and asked_for_identity.identity is not None


def test_bad_arguments(sequences, tmp_path):
    with pytest.raises(ValueError, match="block_rows"):
        aligned_pairs(sequences, matrix="BLOSUM30", block_rows=0)
    with pytest.raises(ValueError, match="key"):
        aligned_pairs(sequences, matrix="BLOSUM30", cache=tmp_path / "c.npz")
    with pytest.raises(ValueError, match="two sequences"):
        aligned_pairs(sequences[:1], matrix="BLOSUM30")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_cache_is_aligned_again(tmp_path, sequences, damage):
    cache = tmp_path / "pairs.npz"
    first = aligned_pairs(sequences, matrix="BLOSUM30", threads=1, cache=cache, key="k", block_rows=4)
    data = cache.read_bytes()
    cache.write_bytes(b"not an npz file at all" if damage == "garbage" else data[: len(data) // 2])
    again = aligned_pairs(sequences, matrix="BLOSUM30", threads=1, cache=cache, key="k", block_rows=4)
    assert not again.from_cache and np.array_equal(again.score, first.score)
    assert aligned_pairs(sequences, matrix="BLOSUM30", threads=1, cache=cache, key="k", block_rows=4).from_cache

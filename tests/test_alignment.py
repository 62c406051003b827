import itertools

import numpy as np
import pytest

from hvppi.align.kernels import all_pairs_stats, biopython_aligner, global_scores, pair_stats

AMINO = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def _mutated(rng, sequence: str, rate: float) -> str:
    out = []
    for letter in sequence:
        u = rng.random()
        if u < rate / 3:
            continue
        if u < 2 * rate / 3:
            out.append(str(rng.choice(AMINO)))
        if u < rate:
            out.append(str(rng.choice(AMINO)))
            continue
        out.append(letter)
    return "".join(out) or "A"


def _random_set(rng, n: int, low: int, high: int) -> list[str]:
    """Random proteins, half of them mutated copies of others, so scores span unrelated to near-identical."""
    sequences = ["".join(rng.choice(AMINO, rng.integers(low, high + 1))) for _ in range(n // 2)]
    sequences += [_mutated(rng, sequences[k], 0.2) for k in range(n - n // 2)]
    return sequences


@pytest.mark.parametrize("matrix,gap_open,gap_extend", [("BLOSUM30", 10, 1), ("PAM250", 10, 1), ("BLOSUM62", 5, 2)])
def test_global_scores_equal_biopython(rng, matrix, gap_open, gap_extend):
    sequences = _random_set(rng, 16, 1, 120)
    aligner = biopython_aligner(matrix, gap_open, gap_extend)
    expected = np.array([[aligner.score(a, b) for b in sequences] for a in sequences])
    assert np.array_equal(
        global_scores(sequences, matrix=matrix, gap_open=gap_open, gap_extend=gap_extend, threads=2), expected
    )
    queries, targets = sequences[:5], sequences[5:]
    rect = global_scores(queries, targets, matrix=matrix, gap_open=gap_open, gap_extend=gap_extend, threads=1)
    assert np.array_equal(rect, expected[:5, 5:])


def test_all_pairs_stats_scores_equal_biopython_and_identity_is_an_optimal_alignments(rng):
    sequences = _random_set(rng, 14, 8, 30)
    aligner = biopython_aligner("PAM250")
    scores, identity = all_pairs_stats(sequences, threads=2)
    rows, cols = np.triu_indices(len(sequences), 1)
    assert len(scores) == len(rows)
    checked = 0
    for k, (i, j) in enumerate(zip(rows, cols)):
        alignments = aligner.align(sequences[i], sequences[j])
        assert scores[k] == alignments.score
        if len(alignments) <= 200:
            identities = {round(a.counts().identities / a.shape[1], 12) for a in alignments}
            assert round(identity[k], 12) in identities
            checked += 1
    assert checked > len(rows) // 2


def test_stats_of_identical_and_gapped_sequences():
    base = "MKTAYIAKQRQISFVKSHFSRQ"
    scores, identity = pair_stats([base, base], [base, base[:10] + base[14:]])
    assert identity[0] == 1.0
    assert identity[1] == pytest.approx((len(base) - 4) / len(base))
    assert scores[0] == biopython_aligner("PAM250").score(base, base)


def test_scores_beyond_16_bits_fall_back_to_wider_kernels():
    long = "W" * 2500  # 2500 x 17 = 42,500 > 32,767
    other = "W" * 2400 + "A" * 100
    expected = biopython_aligner("PAM250").score(long, other)
    assert expected > 2**15
    scores, identity = pair_stats([long], [other])
    assert scores[0] == expected and identity[0] == pytest.approx(
        2400 / 2600
    )  # two 100-residue gaps beat 100 W/A mismatches
    assert global_scores([long], [other], matrix="PAM250")[0, 0] == expected


def test_all_pairs_order_matches_triu_indices():
    sequences = ["MKV", "MKVL", "AAAA", "MK"]
    scores, _ = all_pairs_stats(sequences, threads=1)
    full = global_scores(sequences, matrix="PAM250")
    assert np.array_equal(scores, full[np.triu_indices(4, 1)])
    for a, b in itertools.combinations(range(4), 2):
        assert full[a, b] == full[b, a]


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: global_scores(["MKV", "MJV"]), "outside the matrix alphabet: J"),
        (lambda: global_scores(["MKV", ""]), "query 1 is empty"),
        (lambda: global_scores(["MKV"], matrix="NOPE"), "unknown substitution matrix"),
        (lambda: global_scores(["MKV"], gap_open=-1), "non-negative integers"),
        (lambda: all_pairs_stats(["MKV"]), "at least two"),
        (lambda: pair_stats(["MKV"], []), "same length"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_row_blocks_are_slices_of_all_pairs(rng):
    from hvppi.align.kernels import pair_offsets

    sequences = _random_set(rng, 10, 5, 25)[:9]
    scores, identity = all_pairs_stats(sequences, threads=1)
    offsets = pair_offsets(9)
    parts = [all_pairs_stats(sequences, threads=1, rows=(a, b)) for a, b in ((0, 3), (3, 3), (3, 8))]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), scores)
    assert np.array_equal(np.concatenate([p[1] for p in parts]), identity)
    assert np.array_equal(parts[2][0], scores[offsets[3] : offsets[8]])
    with pytest.raises(ValueError, match="rows must"):
        all_pairs_stats(sequences, rows=(2, 9))

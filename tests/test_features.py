import numpy as np
import pytest

from conftest import SHARED
from hvppi.io.alphabet import ALPHABET, STANDARD_AMINO_ACIDS, tokenize
from hvppi.lstm.features import feature_table, raw_properties, residue_features


def test_packaged_table_equals_shared_source():
    packaged = raw_properties()
    lines = (SHARED / "features" / "guo2008_aa_7props.tsv").read_text().splitlines()[1:]
    shared = {row.split("\t")[0]: [float(x) for x in row.split("\t")[1:]] for row in lines}
    np.testing.assert_array_equal(packaged, np.array([shared[aa] for aa in STANDARD_AMINO_ACIDS]))


def test_standard_rows_are_population_z_scores():
    table = feature_table()
    z = table[1:21]
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(z.std(axis=0, ddof=0), 1, atol=1e-6)
    raw = raw_properties()
    a = STANDARD_AMINO_ACIDS.index("W")
    np.testing.assert_allclose(z[a], (raw[a] - raw.mean(0)) / raw.std(0), rtol=1e-6)


def test_padding_row_is_zero():
    assert not feature_table()[0].any()


def test_non_standard_letters_follow_the_documented_rule():
    f = {aa: residue_features(aa)[0] for aa in ALPHABET}
    np.testing.assert_allclose(f["X"], 0, atol=1e-6)
    np.testing.assert_allclose(f["B"], (f["D"] + f["N"]) / 2, rtol=1e-6)
    np.testing.assert_allclose(f["Z"], (f["E"] + f["Q"]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(f["U"], f["C"])
    np.testing.assert_array_equal(f["O"], f["K"])


def test_lower_case_reads_as_upper_case():
    np.testing.assert_array_equal(tokenize("mkv"), tokenize("MKV"))


@pytest.mark.parametrize("bad, letter, position", [("MKJL", "J", 3), ("MK*", "*", 3), ("M K", " ", 2), ("MKé", "é", 3)])
def test_unknown_letters_are_rejected_with_their_position(bad, letter, position):
    with pytest.raises(ValueError, match=f"{letter!r} at position {position}"):
        tokenize(bad)

"""Per-residue physicochemical features of Guo et al. 2008.

A residue becomes the 7-vector (hydrophobicity, hydrophilicity, side-chain volume, polarity,
polarizability, solvent-accessible surface area, net charge index), each property z-scored over
the 20 standard amino acids with the population standard deviation.

Sequences are first turned into small integer tokens (:func:`hvppi.io.alphabet.tokenize`); the model looks the
features up from a table it stores, so a model file carries the features it was trained with.
Token 0 is padding. Non-standard letters follow a fixed rule:

* ``X`` (unknown): the mean of the 20 amino acids, i.e. the zero vector after z-scoring;
* ``B`` (Asx): the mean of D and N;  ``Z`` (Glx): the mean of E and Q;
* ``U`` (selenocysteine): as C;  ``O`` (pyrrolysine): as K.

Lower-case letters are read as upper case. Any other character is rejected.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import numpy as np

from hvppi.io.alphabet import EXTENDED_LETTERS, N_TOKENS, STANDARD_AMINO_ACIDS, tokenize

FEATURE_SET = "guo2008-7props-zscore"


@lru_cache(maxsize=1)
def raw_properties() -> np.ndarray:
    """The published raw values, shape (20, 7), rows in ``STANDARD_AMINO_ACIDS`` order."""
    text = resources.files("hvppi.data").joinpath("guo2008_aa_7props.tsv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    values = {row[0]: [float(v) for v in row[1:]] for row in rows[1:] if row}
    return np.array([values[aa] for aa in STANDARD_AMINO_ACIDS], dtype=np.float64)


@lru_cache(maxsize=1)
def _feature_table() -> np.ndarray:
    raw = raw_properties()
    z = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    index = {aa: i for i, aa in enumerate(STANDARD_AMINO_ACIDS)}
    extra = {
        "X": z.mean(axis=0),
        "B": (z[index["D"]] + z[index["N"]]) / 2,
        "Z": (z[index["E"]] + z[index["Q"]]) / 2,
        "U": z[index["C"]],
        "O": z[index["K"]],
    }
    table = np.zeros((N_TOKENS, z.shape[1]), dtype=np.float32)
    table[1:21] = z
    for offset, letter in enumerate(EXTENDED_LETTERS, start=21):
        table[offset] = extra[letter]
    table.setflags(write=False)
    return table


def feature_table() -> np.ndarray:
    """Token → feature lookup table, shape (26, 7); row 0 (padding) is zero."""
    return _feature_table().copy()


def residue_features(sequence: str) -> np.ndarray:
    """Sequence → (L, 7) float32 feature matrix."""
    return _feature_table()[tokenize(sequence)]

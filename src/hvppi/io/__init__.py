"""Reading and writing: sequences, pairs, the per-protein H5 layout, atomic files, errors.

The lowest layer of hvppi: it imports nothing from the other subpackages.
"""

from hvppi.io.alphabet import ALPHABET, STANDARD_AMINO_ACIDS, tokenize
from hvppi.io.errors import HvppiError, InputError, ModelFileError
from hvppi.io.files import atomic_path, atomic_write, open_text
from hvppi.io.pairs import PairTable, merge_sequences, read_pairs
from hvppi.io.sequences import read_sequences

__all__ = [
    "ALPHABET",
    "STANDARD_AMINO_ACIDS",
    "HvppiError",
    "InputError",
    "ModelFileError",
    "PairTable",
    "atomic_path",
    "atomic_write",
    "merge_sequences",
    "open_text",
    "read_pairs",
    "read_sequences",
    "tokenize",
]

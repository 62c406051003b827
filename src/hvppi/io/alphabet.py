"""The amino-acid alphabet hvppi reads, and sequences as integer tokens.

Tokens: 0 is padding; 1..20 the standard amino acids in ``STANDARD_AMINO_ACIDS`` order; 21..25 the
extended letters ``X B Z U O``. Lower-case letters are read as upper case; anything else is rejected.

>>> tokenize("ACdx").tolist()
[1, 2, 3, 21]
"""

from __future__ import annotations

import re

import numpy as np

STANDARD_AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
EXTENDED_LETTERS = "XBZUO"
ALPHABET = STANDARD_AMINO_ACIDS + EXTENDED_LETTERS
N_TOKENS = 1 + len(ALPHABET)
"""Size of the token vocabulary, padding included."""

_LOOKUP = np.full(256, -1, dtype=np.int16)
for _i, _aa in enumerate(ALPHABET, start=1):
    _LOOKUP[ord(_aa)] = _i
    _LOOKUP[ord(_aa.lower())] = _i
_UNKNOWN = re.compile(f"[^{ALPHABET}{ALPHABET.lower()}]")


def unknown_letter(sequence: str) -> int | None:
    """0-based position of the first letter outside the alphabet, or None if every letter is in it.

    >>> unknown_letter("ACDX"), unknown_letter("AC1D")
    (None, 2)
    """
    match = _UNKNOWN.search(sequence)
    return None if match is None else match.start()


def _unknown_letter_error(sequence: str, pos: int) -> ValueError:
    return ValueError(f"unknown amino-acid letter {sequence[pos]!r} at position {pos + 1}")


def check_letters(sequence: str) -> None:
    """Raise ValueError naming the first letter outside the alphabet (a cheap check: no tokens are made)."""
    pos = unknown_letter(sequence)
    if pos is not None:
        raise _unknown_letter_error(sequence, pos)


def tokenize(sequence: str) -> np.ndarray:
    """Sequence → int64 tokens (1..25). Raises ValueError on a letter outside the alphabet."""
    if not sequence.isascii():
        check_letters(sequence)
    tokens = _LOOKUP[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]
    bad = np.flatnonzero(tokens < 0)
    if bad.size:
        raise _unknown_letter_error(sequence, int(bad[0]))
    return tokens.astype(np.int64)

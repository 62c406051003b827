"""Checks that settings objects run on construction: each raises ValueError naming the field.

>>> require_int("replicates", 0, minimum=1)
Traceback (most recent call last):
...
ValueError: replicates must be an integer >= 1, got 0
>>> require_fraction("lstm_dropout", 1.5, closed_high=False)
Traceback (most recent call last):
...
ValueError: lstm_dropout must be a finite number in [0, 1), got 1.5
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def require_int(name: str, value: Any, minimum: int | None = None) -> None:
    """``value`` must be an integer (not a bool), at least ``minimum`` when given."""
    if not _is_int(value) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be an integer{bound}, got {value!r}")


def require_number(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    closed_low: bool = True,
    closed_high: bool = True,
) -> None:
    """``value`` must be a finite real number (not a bool) within the given bounds."""
    ok = _is_number(value)
    if ok and low is not None:
        ok = value >= low if closed_low else value > low
    if ok and high is not None:
        ok = value <= high if closed_high else value < high
    if not ok:
        if low is None and high is None:
            where = ""
        elif high is None:
            where = f" {'>=' if closed_low else '>'} {low:g}"
        elif low is None:
            where = f" {'<=' if closed_high else '<'} {high:g}"
        else:
            where = f" in {'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"
        raise ValueError(f"{name} must be a finite number{where}, got {value!r}")


def require_fraction(name: str, value: Any, *, closed_low: bool = True, closed_high: bool = True) -> None:
    """``value`` must be a finite number in [0, 1], with the bounds open where asked."""
    require_number(name, value, 0.0, 1.0, closed_low=closed_low, closed_high=closed_high)


def require_positive(name: str, value: Any) -> None:
    """``value`` must be a finite number > 0."""
    require_number(name, value, 0.0, closed_low=False)


def require_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """``value`` must be one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")


def require_bool(name: str, value: Any) -> None:
    """``value`` must be True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")

"""Progress that suits where it goes: a tqdm bar on a terminal, a plain line every ``every`` seconds elsewhere.

A bar redrawn with carriage returns fills a log file or a CI log with fragments; :func:`progress` gives a bar only
when stderr is a terminal and otherwise prints ``desc: 40% (2,000 of 5,000 pairs)`` lines at most every ``every``
seconds, and one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from tqdm.auto import tqdm


class PlainProgress:
    """The part of tqdm's interface the screens use (``update``, a context manager), as periodic plain lines."""

    def __init__(self, total: int, desc: str, unit: str, log: Callable[[str], None], every: float = 10.0):
        self.total, self.desc, self.unit, self.log, self.every = total, desc, unit, log, every
        self.n = 0
        self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            self._line()

    def _line(self) -> None:
        share = self.n / self.total if self.total else 1.0
        self.log(f"{self.desc}: {share:.0%} ({self.n:,} of {self.total:,} {self.unit}s)")

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None and self.total:
            self._line()


def progress(
    total: int, desc: str, unit: str, enabled: bool = True, log: Callable[[str], None] | None = None, **kwargs: Any
) -> Any:
    """A tqdm bar on a terminal, :class:`PlainProgress` lines otherwise, nothing when not ``enabled``."""
    if enabled and not sys.stderr.isatty():
        return PlainProgress(total, desc, unit, log or (lambda m: print(m, file=sys.stderr, flush=True)))
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, **kwargs)

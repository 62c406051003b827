"""Progress that suits where it goes: a tqdm bar on a terminal, a plain line every ``every`` seconds elsewhere.

A bar redrawn with carriage returns fills a log file or a CI log with fragments; :func:`progress` gives a bar only
when stderr is a terminal and otherwise prints ``desc: 40% (2,000 of 5,000 pairs)`` lines at most every ``every``
seconds, and one at the end. :func:`iterate` does the same for a loop over an iterable. Nothing is printed when
progress is not ``enabled``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def plural(unit: str) -> str:
    """``unit`` in the plural: pairs, proteins, batches."""
    return unit + ("es" if unit.endswith(("s", "x", "ch", "sh")) else "s")


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class PlainProgress:
    """The part of tqdm's interface the long loops use (``update``, ``set_postfix``, ``close``, iteration, a context
    manager), as periodic plain lines. ``update`` may be called from several threads."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str,
        log: Callable[[str], None],
        every: float = 10.0,
        initial: int = 0,
        iterable: Iterable[Any] | None = None,
    ):
        self.total, self.desc, self.unit, self.log, self.every = total, desc, unit, log, every
        self.n = initial
        self.iterable = iterable
        self.postfix = ""
        self.last = time.monotonic()
        self.closed = False
        self.shown = ""  # the last line logged
        self.lock = threading.Lock()

    def update(self, n: int = 1) -> None:
        with self.lock:
            self.n += n
            now = time.monotonic()
            if now - self.last >= self.every and not self.closed:
                self.last = now
                self.show()

    def set_postfix(self, **values: object) -> None:
        """Shown after the counts in the lines to come, as tqdm shows it after the bar."""
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def show(self) -> None:
        self.shown = self.line()
        self.log(self.shown)

    def line(self) -> str:
        share = self.n / self.total if self.total else 1.0
        extra = f", {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {share:.0%} ({self.n:,} of {self.total:,} {plural(self.unit)}{extra})"

    def close(self) -> None:
        """The final line (once; none for an empty total, nor when the last periodic line said the same)."""
        with self.lock:
            if not self.closed and self.total and self.line() != self.shown:
                self.show()
            self.closed = True

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("this PlainProgress was made without an iterable")
        for item in self.iterable:
            yield item
            self.update()
        self.close()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


def progress(
    total: int, desc: str, unit: str, enabled: bool = True, log: Callable[[str], None] | None = None, **kwargs: Any
) -> Any:
    """A tqdm bar on a terminal, :class:`PlainProgress` lines otherwise, nothing when not ``enabled``.

    ``kwargs`` go to tqdm (``leave``, ``unit_scale``...); ``initial`` counts for the plain lines too.
    """
    if enabled and not sys.stderr.isatty():
        return PlainProgress(total, desc, unit, log or to_stderr, initial=kwargs.get("initial", 0))
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, **kwargs)


def iterate(
    iterable: Iterable[T],
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    log: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> Any:
    """``iterable`` with progress, as :func:`progress` shows it: ``for f in iterate(range(5), desc="fold", ...)``.

    ``total`` None takes ``len(iterable)``. The result iterates over the items and has ``set_postfix``.
    """
    if total is None:
        total = len(iterable)  # type: ignore[arg-type]
    if enabled and not sys.stderr.isatty():
        return PlainProgress(total, desc, unit, log or to_stderr, iterable=iterable)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, **kwargs)

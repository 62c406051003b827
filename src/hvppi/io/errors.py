"""Exceptions raised for bad user input and bad model files."""

from __future__ import annotations

import errno
import os


class HvppiError(Exception):
    """Base class of the errors hvppi reports to users."""


class InputError(HvppiError, ValueError):
    """A problem in an input file, located by file, line and protein ID where known."""

    def __init__(
        self,
        message: str,
        path: str | os.PathLike | None = None,
        line: int | None = None,
        protein_id: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.protein_id = protein_id
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if protein_id is not None:
            where.append(f"ID {protein_id!r}")
        self.reason = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ModelFileError(HvppiError, ValueError):
    """A model file that is corrupt, foreign or incompatible."""


class DiskFullError(InputError, OSError):
    """No space left on the device that holds an output file.

    An :class:`InputError` naming the file for the user, and an ``OSError`` with errno ``ENOSPC`` for
    code that handles a full disk itself."""

    def __init__(self, path: str | os.PathLike) -> None:
        InputError.__init__(self, "no space left on the device (the disk is full); free space or write elsewhere", path)
        self.errno = errno.ENOSPC

"""Small file helpers: transparent gzip reading, zip members read as streams within size limits, read errors
that name the file, atomic writes and atomic figure files."""

from __future__ import annotations

import codecs
import contextlib
import errno
import fcntl
import gzip
import io
import os
import shutil
import sys
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from hvppi.io.errors import DiskFullError, HvppiError, InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
ZIP_MAX_MEMBER_BYTES = 4 * 10**9
"""Largest uncompressed zip member hvppi reads (the shared data's largest, HPIDB's MITAB, has 24 MB)."""
ZIP_MAX_RATIO = 100
"""Highest compression ratio (uncompressed / compressed size) of a zip member of more than ``ZIP_RATIO_FROM`` bytes
that hvppi reads; real text data compress about 10 to 1 (HPIDB 9.9, merged-hvi 8.3), a zip bomb 1,000 to 1."""
ZIP_RATIO_FROM = 16 * 2**20
"""Uncompressed size from which ``ZIP_MAX_RATIO`` applies (a small file of repeated lines may compress well)."""


def open_zip_member(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    path: str | os.PathLike,
    max_bytes: int = ZIP_MAX_MEMBER_BYTES,
    max_ratio: float = ZIP_MAX_RATIO,
) -> IO[bytes]:
    """A stream of ``member``'s uncompressed bytes, read as it goes (never whole), after checking its sizes.

    InputError naming the archive ``path`` for a member that unpacks to more than ``max_bytes``, or, above
    ``ZIP_RATIO_FROM`` bytes, is compressed more than ``max_ratio`` to 1 (a zip bomb). The sizes are those of the
    archive's directory; :mod:`zipfile` never unpacks more than the stated size (the member's checksum fails first).
    """
    size, packed = member.file_size, max(member.compress_size, 1)
    if size > max_bytes:
        raise InputError(
            f"{member.filename} unpacks to {size:,} bytes, more than the {max_bytes:,} hvppi reads from a zip archive",
            path,
        )
    if size > ZIP_RATIO_FROM and size > max_ratio * packed:
        raise InputError(
            f"{member.filename} unpacks to {size:,} bytes from {packed:,} ({size / packed:,.0f} to 1, more than the "
            f"{max_ratio:g} to 1 of real data files): not read, it looks like a zip bomb",
            path,
        )
    return archive.open(member)


def text_lines(path: str | os.PathLike) -> Iterator[str]:
    """The lines of a text file, or of the first member of a zip archive (streamed, with the limits of
    :func:`open_zip_member`); undecodable bytes are replaced."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive, open_zip_member(archive, archive.infolist()[0], path) as raw:
            yield from io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
    else:
        with open(path, encoding="utf-8", errors="replace") as fh:
            yield from fh


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether the file starts with the gzip magic number."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_binary(path: str | os.PathLike) -> gzip.GzipFile | io.BufferedReader:
    """Open a file for reading bytes, transparently decompressing gzip. The file is opened once and its first bytes
    peeked, not read, so a pipe (``--virus <(zcat v.fa.gz)``, ``/dev/stdin``) loses nothing."""
    raw = open(path, "rb")  # noqa: SIM115 (returned open, closed by the caller)
    try:
        magic = raw.peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)]
    except BaseException:
        raw.close()
        raise
    if magic != GZIP_MAGIC:
        return raw
    packed = gzip.GzipFile(fileobj=raw, mode="rb")
    packed.myfileobj = raw  # type: ignore[assignment]  # closed with the GzipFile, as gzip.open(path) closes its file
    return packed


def open_text(path: str | os.PathLike, errors: str = "strict") -> IO[str]:
    """Open a text file for reading, gzip-compressed or not; a UTF-8 byte-order mark is dropped."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors=errors, newline="")


@contextlib.contextmanager
def read_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn the errors of reading a damaged or mistaken input file into :class:`InputError` naming ``path``.

    Wrap the whole read (opening and consuming the file): a directory, a truncated or corrupt gzip
    file, a corrupt zip archive and text that is not UTF-8 each become one message that says what is
    wrong and what to do. Other errors pass through unchanged.
    """
    try:
        yield
    except IsADirectoryError:
        raise InputError("is a directory, not a file; give the path of the file itself", path) from None
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise InputError(_damage_message(path, exc), path) from None
    except UnicodeDecodeError as exc:
        packed = _packed_kind(_magic(path))
        if packed is not None:
            raise InputError(
                f"packed as {packed}; this input is read as plain text or gzip: unpack it first", path
            ) from None
        line, column = _undecodable_place(path)
        raise InputError(_undecodable_message(exc, column), path, line) from None
    except OSError as exc:
        # a seek to an offset read from damaged archive data (a zip's directory): EINVAL, without a file name
        if exc.errno != errno.EINVAL or exc.filename is not None or not _magic(path):
            raise
        damage = zipfile.BadZipFile if _magic(path).startswith(ZIP_MAGIC) else zlib.error
        raise InputError(_damage_message(path, damage(exc.strerror or str(exc))), path) from None


PACKED_MAGIC = {
    ZIP_MAGIC: "zip",
    b"\xfd7zX": "xz",
    b"BZh": "bzip2",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"7z\xbc\xaf": "7-Zip",
}
"""First bytes of archives and compressed files that a text reader cannot read (its "not UTF-8" would mislead)."""


def _packed_kind(magic: bytes) -> str | None:
    """The kind of archive or compressed file that starts with ``magic`` (None: none of PACKED_MAGIC)."""
    return next((kind for start, kind in PACKED_MAGIC.items() if magic.startswith(start)), None)


def _magic(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(4)
    except OSError:
        return b""


def _damage_message(path: str | os.PathLike, exc: BaseException) -> str:
    magic = _magic(path)
    if isinstance(exc, zipfile.BadZipFile) or magic.startswith(ZIP_MAGIC):
        kind = "zip archive"
    elif magic.startswith(GZIP_MAGIC):
        kind = "gzip file"
    else:
        kind = "compressed file"
    if isinstance(exc, EOFError):
        return f"truncated {kind}: its compressed data ends early; download or copy it again"
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return f"corrupt {kind} ({detail}); download or copy it again"


def _undecodable_message(exc: UnicodeDecodeError, column: int | None) -> str:
    shown = " ".join(f"0x{b:02x}" for b in exc.object[exc.start : exc.end][:4])
    where = "" if column is None else f" at column {column}"
    return f"not UTF-8 text (byte {shown}{where}); save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"


def _undecodable_place(path: str | os.PathLike) -> tuple[int | None, int | None]:
    """1-based line and byte column of the first bytes that are not UTF-8; (None, None) if not found.

    Lines are split as the readers split them (at ``\\n``, ``\\r\\n`` or ``\\r``)."""
    try:
        with io.TextIOWrapper(open_binary(path), encoding="latin-1", newline="") as fh:
            for number, line in enumerate(fh, start=1):
                raw = line.encode("latin-1")
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return number, exc.start + 1
    except (OSError, EOFError, zlib.error):
        pass
    return None, None


def output_target(path: str | os.PathLike) -> Path:
    """Where an output given as ``path`` is written: the file a symbolic link points to (the link is kept);
    InputError for an existing folder."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise InputError("is a folder; give the path of a file to write", path)
    return path


def is_special_file(path: Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a folder: a device (``/dev/null``) or a FIFO,
    which an output is written into, never replaced."""
    return path.exists() and not path.is_file() and not path.is_dir()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    A symbolic link's target is replaced, not the link; a device or FIFO (``--out /dev/null``) is written into
    directly (yielded itself); an existing folder is an InputError before any work."""
    path = output_target(path)
    if is_special_file(path):
        try:
            yield path
        except Exception as exc:
            if not isinstance(exc, HvppiError) and _disk_full(exc, path):
                raise DiskFullError(path) from None
            raise
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        # mkstemp makes 0600, and writers that replace the file (safetensors) keep that: give the file the
        # permissions open() would
        if tmp.is_file():
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except Exception as exc:
        if not isinstance(exc, HvppiError) and _disk_full(exc, tmp):
            raise DiskFullError(path) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


_FULL_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_ALMOST_FULL = 256 << 10
"""Free bytes below which a failed write is put down to a full disk (writers such as safetensors and
numpy report a short write without the errno: 'unexpected pos ...', '... requested and ... written')."""


def _disk_full(exc: BaseException, tmp: Path) -> bool:
    """Whether the failure of a write to ``tmp`` came from a full disk."""
    if isinstance(exc, OSError) and exc.errno in _FULL_DISK_ERRNOS:
        return True
    if "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc):
        return True
    if not isinstance(exc, (OSError, RuntimeError)) and "Safetensor" not in type(exc).__name__:
        return False  # a bug or a bad value, whatever the free space
    try:
        stat = os.statvfs(tmp.parent)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < _ALMOST_FULL


SPACE_RESERVE = 256 << 10
"""Bytes an HDF5 write leaves free besides its data (for the file's metadata, written when it is flushed)."""


def ensure_space(path: str | os.PathLike, nbytes: int) -> None:
    """DiskFullError naming ``path`` unless the disk that holds it has ``nbytes`` free besides
    :data:`SPACE_RESERVE` (256 KiB). HDF5 meets a full disk with a cascade of errors from its destructors and often a
    segmentation fault, not one error: its writes are checked before they are made."""
    try:
        stat = os.statvfs(Path(path).parent)
    except OSError:
        return
    if stat.f_bavail * stat.f_frsize < nbytes + SPACE_RESERVE:
        raise DiskFullError(path)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` only when the block succeeds."""
    with atomic_path(path) as tmp:
        kwargs: dict[str, Any] = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 150, format: str = "png") -> None:
    """Write a matplotlib figure to ``path`` atomically (PNG by default, tight bounding box) and close it.

    matplotlib is imported here, not when :mod:`hvppi.io` is imported."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=format, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)


_HELD_LOCKS: dict[str, int] = {}
_HELD_LOCKS_GUARD = threading.Lock()


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of the output ``path``: ``.NAME.lock`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def _lock_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8", "replace")
    except OSError:
        return "?"
    pid = text.split("\n", 1)[0].strip()
    return pid if pid.isdigit() else "?"


@contextlib.contextmanager
def output_lock(path: str | os.PathLike, command: str | None = None) -> Iterator[Path]:
    """Hold the advisory lock of the output ``path`` (a file or a folder) while the block runs.

    The lock is an ``fcntl.flock`` on ``.NAME.lock`` beside ``path``, which holds the holder's PID and
    command line. A second process that asks for it gets :class:`InputError` naming the holder's PID;
    the kernel drops the lock of a process that dies, so a lock file left by a killed run is simply
    taken over. The lock is re-entrant within a process (nested library calls on one output), and its
    file is removed on release. Yields the lock file's path.
    """
    lock = lock_path(path).absolute()
    key = str(lock)
    with _HELD_LOCKS_GUARD:
        if key in _HELD_LOCKS:
            _HELD_LOCKS[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield lock
        finally:
            with _HELD_LOCKS_GUARD:
                _HELD_LOCKS[key] -= 1
        return
    fd = _acquire(lock, path, command)
    with _HELD_LOCKS_GUARD:
        _HELD_LOCKS[key] = 1
    try:
        yield lock
    finally:
        with _HELD_LOCKS_GUARD:
            del _HELD_LOCKS[key]
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)


def _acquire(lock: Path, path: str | os.PathLike, command: str | None) -> int:
    """Open and flock ``lock``; the returned descriptor holds the lock. InputError if another process holds it."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output's folder ({exc.strerror or exc})", lock.parent) from None
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(
                f"cannot create the lock file {lock.name} ({exc.strerror or exc}); check the folder is writable", path
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise InputError(
                f"another hvppi process (PID {holder}) is writing this output; wait for it to finish or stop it", path
            ) from None
        except OSError:
            os.close(fd)
            raise
        # the holder before us may have removed the file between our open and our lock: lock the file on disk
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        text = f"{os.getpid()}\n{command or ' '.join(sys.argv)}\n"
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, text.encode(), 0)
        return fd


@contextlib.contextmanager
def staged_directory(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden folder inside ``out_dir`` to write a set of outputs into; when the block succeeds every
    file is moved to the same place under ``out_dir`` (replacing older ones), otherwise the folder is removed,
    so a failure never leaves part of the set beside older outputs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        yield stage
        staged = [path for path in sorted(stage.rglob("*")) if path.is_file()]
        for path in staged:  # every target checked before the first is replaced
            target = out / path.relative_to(stage)
            if target.is_dir() and not target.is_symlink():
                raise InputError("is a folder, where an output file goes; move it away", target)
        for path in staged:
            target = out / path.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)

"""Reading pickled NumPy arrays without running code from the pickle.

A pickle names the functions that rebuild its objects, and :func:`pickle.load` calls them, whatever
they are (``os.system`` included). :func:`load_numpy_pickle` admits only the NumPy functions that
rebuild arrays, dtypes and scalars (and ``_codecs.encode`` of text as Latin-1, which protocol-2 pickles
use for bytes); anything else is refused before it is called. Plain containers (tuples, lists, dicts),
numbers and strings need no function and load as usual.

The pickle's dtypes are not handed to NumPy as they come: NumPy lets a dtype's pickled state set the
flags that make it hold Python object pointers, so each array gets a fresh dtype built from the
pickled one and checked to hold no objects, and the BUILD opcode (``__setstate__``) is admitted only
for arrays and dtypes.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hvppi.io.errors import ModelFileError

MAX_PICKLE_BYTES = 4 << 30
"""Largest pickle read (the published ProteinBERT checkpoint has 192 MB)."""

_OBJECT_FLAGS = 0x01 | 0x02 | 0x04
"""NPY_ITEM_REFCOUNT, NPY_LIST_PICKLE, NPY_ITEM_IS_POINTER: a dtype whose items are object pointers."""

try:  # NumPy 2
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]


class UnsafePickleError(ModelFileError):
    """A pickle that asks for something other than NumPy arrays."""


class _Refused(Exception):
    pass


class _Guarded:
    """A function the pickle may call; it takes no attributes."""

    __slots__ = ("_call",)
    _call: Callable[..., Any]

    def __init__(self, call: Callable[..., Any]) -> None:
        object.__setattr__(self, "_call", call)

    def __setattr__(self, name: str, value: Any) -> None:
        raise _Refused(f"setting attribute {name!r} of a NumPy function")

    def __call__(self, *args: Any) -> Any:
        return self._call(*args)


class _NDArrayType:
    """Stands for ``numpy.ndarray``: only ``_reconstruct`` takes it, and it cannot be called."""

    __slots__ = ()


class _DTypeSpec:
    """A pickled dtype: its constructor arguments and state, made into a checked dtype where used."""

    __slots__ = ("args", "state")

    def __init__(self, *args: Any) -> None:
        self.args = args
        self.state: Any = None


_NDARRAY = _NDArrayType()


def _real(value: Any) -> Any:
    """``value`` with every pickled dtype in it (in tuples, lists, dicts) made a fresh, checked dtype."""
    if isinstance(value, _DTypeSpec):
        dtype = np.dtype(*(_real(a) for a in value.args))
        if value.state is not None:
            dtype.__setstate__(_real(value.state))
        if dtype.hasobject or dtype.flags & _OBJECT_FLAGS:
            raise _Refused("an array of Python objects")
        return dtype
    if isinstance(value, tuple):
        return tuple(_real(v) for v in value)
    if isinstance(value, list):
        return [_real(v) for v in value]
    if isinstance(value, dict):
        return {k: _real(v) for k, v in value.items()}
    return value


def _dtype_of(value: Any) -> np.dtype:
    if not isinstance(value, _DTypeSpec):
        raise _Refused("an array or scalar without a pickled NumPy dtype")
    return _real(value)


def _array(subtype: Any, shape: Any, typecode: Any) -> Any:
    if subtype is not _NDARRAY or shape != (0,):
        raise _Refused("an array that is not a plain numpy.ndarray")
    return _reconstruct(np.ndarray, (0,), b"b")


def _from_buffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if not isinstance(buffer, (bytes, bytearray)):
        raise _Refused("an array whose data is not bytes")
    return _frombuffer(buffer, _dtype_of(dtype), shape, order)


def _scalar(dtype: Any, *data: Any) -> Any:
    return scalar(_dtype_of(dtype), *data)


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode other than of text as Latin-1")
    return text.encode("latin1")


_ALLOWED: dict[tuple[str, str], Any] = {("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): _Guarded(_DTypeSpec)}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_module}.multiarray", "_reconstruct")] = _Guarded(_array)
    _ALLOWED[(f"{_module}.multiarray", "scalar")] = _Guarded(_scalar)
    _ALLOWED[(f"{_module}.numeric", "_frombuffer")] = _Guarded(_from_buffer)
_ALLOWED[("_codecs", "encode")] = _Guarded(_latin1)


class NumpyUnpickler(pickle._Unpickler):
    """An unpickler that admits only NumPy arrays, dtypes and scalars in plain containers."""

    dispatch: ClassVar[dict[int, Callable[[pickle.Unpickler], None]]] = dict(pickle._Unpickler.dispatch)
    stack: list[Any]

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise _Refused(f"the pickle asks for {module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("the pickle asks for a persistent object")

    def load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, _DTypeSpec):
            target.state = state
        elif type(target) is np.ndarray and isinstance(state, tuple) and len(state) == 5:
            version, shape, dtype, fortran, data = state
            target.__setstate__((version, shape, _dtype_of(dtype), fortran, data))
        else:
            raise _Refused(f"the pickle sets the state of a {type(target).__name__}")

    dispatch[pickle.BUILD[0]] = load_build  # type: ignore[assignment]


def load_numpy_pickle(path: str | os.PathLike, max_bytes: int = MAX_PICKLE_BYTES) -> Any:
    """The object in the pickle file ``path``, which may hold only NumPy arrays, numbers, strings, tuples,
    lists and dicts.

    Raises :class:`UnsafePickleError` naming the file and what the pickle asked for (nothing of it has
    run), and :class:`~hvppi.io.errors.ModelFileError` for a missing, huge, truncated or non-pickle file.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a pickle file")
    size = path.stat().st_size
    if size > max_bytes:
        raise ModelFileError(f"{path}: {size:,} bytes, more than the {max_bytes:,} a checkpoint pickle may have")
    data = path.read_bytes()
    if len(data) < 2 or data[0] != pickle.PROTO[0]:
        raise ModelFileError(f"{path}: not a pickle file (it does not start with a pickle protocol marker)")
    try:
        return NumpyUnpickler(io.BytesIO(data)).load()
    except _Refused as exc:
        raise UnsafePickleError(f"{path}: refused to load: {exc}; only NumPy arrays are allowed") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
        RecursionError,
    ) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelFileError(
            f"{path}: not a readable pickle ({detail}); the file may be truncated or damaged"
        ) from None
    except MemoryError:
        raise ModelFileError(f"{path}: not a readable pickle (it asks for more memory than there is)") from None

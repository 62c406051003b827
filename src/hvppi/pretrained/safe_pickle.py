"""Reading pickled NumPy arrays without running code from the pickle.

A pickle names the functions that rebuild its objects, and :func:`pickle.load` calls them, whatever
they are (``os.system`` included). :func:`load_numpy_pickle` admits only the NumPy functions that
rebuild arrays, dtypes and scalars (and ``_codecs.encode`` of text as Latin-1, which protocol-2 pickles
use for bytes, and ``bytes()`` for empty bytes); anything else is refused before it is called. Plain
containers (tuples, lists, dicts), numbers and strings need no function and load as usual.

The pickle's dtypes are never handed to NumPy as they come: NumPy lets a dtype's pickled state set the
flags that say whether its items are Python object pointers, so a pickle could make NumPy read 8 chosen
bytes as a ``PyObject*``. Each pickled dtype is instead rebuilt from its *description* alone (the type
code, byte order, field names, formats and offsets, sub-array shape, string length, datetime unit), a
fresh dtype whose flags NumPy computes itself; a description whose type code, or any field's or
sub-array's, is ``O`` (Python objects) is refused before anything is built, as is state whose flags
claim object pointers; otherwise the pickled flags, alignment and other state are never applied. The BUILD opcode (``__setstate__``) is admitted only for
arrays (whose data must be bytes) and dtypes, and a scalar's data must be bytes of its dtype's size.
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

_ENDIANS = ("<", ">", "|", "=")
_KINDS = "biufcSUVMm"
"""Kinds of dtype a pickle may describe: booleans, numbers, byte and Unicode strings, void (raw bytes,
structured records, sub-arrays) and datetimes; never ``O`` (Python objects)."""
_OBJECT_FLAGS = 0x01 | 0x02 | 0x04
"""NPY_ITEM_REFCOUNT, NPY_LIST_PICKLE, NPY_ITEM_IS_POINTER: pickled flags that claim object pointers (refused;
flags that do not are ignored, never trusted to say a dtype is safe)."""
_MAX_DEPTH = 32
"""Deepest nesting of structured dtypes (fields of fields ...) a pickle may describe."""

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
        return _rebuild(value)
    if isinstance(value, tuple):
        return tuple(_real(v) for v in value)
    if isinstance(value, list):
        return [_real(v) for v in value]
    if isinstance(value, dict):
        return {k: _real(v) for k, v in value.items()}
    return value


def _holds_objects(dtype: np.dtype) -> bool:
    """Whether ``dtype``, or any of its fields or sub-array bases, has the type code ``O`` (by the codes, not flags)."""
    if dtype.char == "O" or dtype.kind == "O":
        return True
    if dtype.subdtype is not None and _holds_objects(dtype.subdtype[0]):
        return True
    return any(_holds_objects(field[0]) for field in (dtype.fields or {}).values())


def _code(spec: _DTypeSpec) -> np.dtype:
    """The dtype of a pickled dtype's type code alone (``"f8"``, ``"V16"``, ``"U"``), refused if it holds objects."""
    args = spec.args
    if not 1 <= len(args) <= 3 or not isinstance(args[0], str) or not all(isinstance(a, bool) for a in args[1:]):
        raise _Refused("a dtype that is not given by a type code")
    if len(args[0]) > 16 or "O" in args[0]:
        raise _Refused(f"a dtype of type code {args[0][:16]!r}" if "O" not in args[0] else "an array of Python objects")
    code = np.dtype(args[0])
    if code.kind not in _KINDS or code.fields is not None or code.subdtype is not None or _holds_objects(code):
        raise _Refused("an array of Python objects" if _holds_objects(code) else f"a dtype of type code {args[0]!r}")
    return code


def _rebuild(spec: Any, depth: int = 0) -> np.dtype:
    """A fresh dtype from the description in a pickled dtype's constructor arguments and state, never its flags."""
    if not isinstance(spec, _DTypeSpec):
        raise _Refused("a field or sub-array without a pickled NumPy dtype")
    if depth > _MAX_DEPTH:
        raise _Refused("a dtype nested too deeply")
    code = _code(spec)
    state = spec.state
    if state is None:
        dtype = code
    else:
        if not isinstance(state, tuple) or len(state) not in (8, 9) or state[1] not in _ENDIANS:
            raise _Refused("a dtype with a state NumPy does not write")
        _, endian, subarray, names, fields, elsize, _, flags = state[:8]
        if not isinstance(flags, int) or flags & _OBJECT_FLAGS:
            raise _Refused("an array of Python objects")
        if code.kind == "V":
            dtype = _void(code, subarray, names, fields, elsize, depth)
        elif subarray is not None or names is not None or fields is not None:
            raise _Refused("fields or a sub-array on a dtype that is not void")
        elif code.kind in "SU" and isinstance(elsize, int) and not isinstance(elsize, bool) and elsize > 0:
            width = 4 if code.kind == "U" else 1
            if elsize % width:
                raise _Refused(f"a {code.kind} dtype of {elsize} bytes")
            dtype = np.dtype(f"{code.kind}{elsize // width}")
        elif code.kind in "Mm":
            dtype = _datetime(code, state[8] if len(state) == 9 else None)
        else:
            dtype = code
        if endian in "<>" and dtype.byteorder != "|":
            dtype = dtype.newbyteorder(endian)
    if _holds_objects(dtype) or dtype.hasobject:
        raise _Refused("an array of Python objects")
    return dtype


def _void(code: np.dtype, subarray: Any, names: Any, fields: Any, elsize: Any, depth: int) -> np.dtype:
    """A void dtype: raw bytes, a structured record (names, fields, item size) or a sub-array."""
    if names is not None or fields is not None:
        if not (isinstance(names, tuple) and isinstance(fields, dict) and set(names) <= set(fields)):
            raise _Refused("a structured dtype whose field names and fields differ")
        for key in set(fields) - set(names):  # a field's title is a second key of the same field
            entry = fields[key]
            if not (isinstance(entry, tuple) and len(entry) == 3 and entry[2] == key):
                raise _Refused("a structured dtype whose field names and fields differ")
        if not isinstance(elsize, int) or isinstance(elsize, bool) or not 0 <= elsize <= 1 << 31:
            raise _Refused("a structured dtype without an item size")
        formats, offsets, titles = [], [], []
        for name in names:
            field = fields[name]
            if not isinstance(name, str) or not isinstance(field, tuple) or len(field) not in (2, 3):
                raise _Refused("a structured dtype with a field NumPy does not write")
            offset = field[1]
            if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
                raise _Refused("a structured dtype with a negative or non-integer field offset")
            title = field[2] if len(field) == 3 else None
            if title is not None and not isinstance(title, str):
                raise _Refused("a structured dtype with a field title that is not text")
            formats.append(_rebuild(field[0], depth + 1))
            offsets.append(offset)
            titles.append(title)
        description: dict[str, Any] = {"names": list(names), "formats": formats, "offsets": offsets, "itemsize": elsize}
        if any(t is not None for t in titles):
            description["titles"] = titles
        return np.dtype(description)  # type: ignore[call-overload]
    if subarray is not None:
        if not (isinstance(subarray, tuple) and len(subarray) == 2 and isinstance(subarray[1], tuple)):
            raise _Refused("a sub-array dtype NumPy does not write")
        shape = subarray[1]
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 1 << 31 for n in shape):
            raise _Refused("a sub-array dtype with a shape that is not of sizes")
        return np.dtype((_rebuild(subarray[0], depth + 1), shape))
    if isinstance(elsize, int) and not isinstance(elsize, bool) and elsize > 0:
        return np.dtype(f"V{elsize}")
    return code


def _datetime(code: np.dtype, metadata: Any) -> np.dtype:
    """A datetime or timedelta dtype with the unit in its pickled metadata (``(None, (b"s", 1, 1, 1))``)."""
    if metadata is None:
        return code
    try:
        unit, count = metadata[1][0], metadata[1][1]
        unit = unit.decode("ascii") if isinstance(unit, bytes) else unit
        if not (isinstance(unit, str) and unit.isalpha() and isinstance(count, int) and 0 < count < 1 << 31):
            raise TypeError
    except (TypeError, IndexError, KeyError, UnicodeDecodeError):
        raise _Refused("a datetime dtype whose unit is not a unit") from None
    return np.dtype(f"{code.str[1:]}[{count}{unit}]")


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
    checked = _dtype_of(dtype)
    if len(data) != 1 or not isinstance(data[0], bytes) or len(data[0]) != checked.itemsize:
        raise _Refused("a scalar whose data is not bytes of its dtype's size")
    return scalar(checked, data[0])


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode other than of text as Latin-1")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    if args:
        raise _Refused("bytes() of anything but nothing")
    return b""


_ALLOWED: dict[tuple[str, str], Any] = {("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): _Guarded(_DTypeSpec)}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_module}.multiarray", "_reconstruct")] = _Guarded(_array)
    _ALLOWED[(f"{_module}.multiarray", "scalar")] = _Guarded(_scalar)
    _ALLOWED[(f"{_module}.numeric", "_frombuffer")] = _Guarded(_from_buffer)
_ALLOWED[("_codecs", "encode")] = _Guarded(_latin1)
for _module in ("builtins", "__builtin__"):  # protocol 2 writes b"" as bytes()
    _ALLOWED[(_module, "bytes")] = _Guarded(_empty_bytes)


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
            checked = _dtype_of(dtype)  # before NumPy sees the data: a list of objects is refused with the dtype
            if not isinstance(data, (bytes, bytearray)):
                raise _Refused("an array whose data is not bytes")
            target.__setstate__((version, shape, checked, fortran, data))  # type: ignore[arg-type]
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
    if not path.is_file():
        raise ModelFileError(f"{path}: not a regular file (a pipe or device?); give the path of the pickle file")
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

"""Issue 23: crafted pickles, tampered screening model files and zip bombs end in one clear refusal.

* ProteinBERT-style pickles that ask NumPy for Python object pointers (an object scalar or array whose dtype's
  pickled flags are cleared, a structured dtype with an object field, a sub-array of objects, flags that claim
  objects): each is refused in one line by ``load_numpy_pickle`` and by ``hvppi embed``, run in a subprocess so
  that a crash (a segmentation fault) fails the test instead of killing pytest;
* the bundled screening model file, tampered one way at a time (values, dtypes, shapes, names, IDs) and at
  random (a seeded fuzz): every tampered file is refused with a one-line ModelFileError, or loads into a model
  whose scores are finite, whose probabilities lie in [0, 1] and whose names hold no control characters;
  through ``hvppi screen`` a refused model exits 2 with one line and writes no output;
* a zip bomb (200 MB of repeated lines in well under 1 MB) given as a taxonomy or MITAB file is refused in
  under 5 s with under 200 MB of memory, and a zip whose directory understates a member's size fails its
  checksum instead of being read past the stated size.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import random
import re
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from hvppi.cli import main
from hvppi.io.bundled import bundled_model_path
from hvppi.io.errors import InputError, ModelFileError
from hvppi.screening.features import FEATURES
from hvppi.screening.modelfile import read_screening_model

try:  # NumPy 2
    from numpy._core.multiarray import _reconstruct
    from numpy._core.multiarray import scalar as numpy_scalar
    from numpy._core.numeric import _frombuffer  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    from numpy.core.multiarray import scalar as numpy_scalar  # type: ignore[no-redef]
    from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=REPO)


# ------------------------------------------------------------------------------------------ crafted pickles


class _Dtype:
    """Pickles as ``numpy.dtype(code, False, True)`` with the given state (flags included)."""

    def __init__(self, code: str, state: tuple) -> None:
        self.code, self.state = code, state

    def __reduce__(self):
        return (np.dtype, (self.code, False, True), self.state)


class _Call:
    """Pickles as ``function(*args)``, then ``__setstate__(state)`` if a state is given."""

    def __init__(self, function, args: tuple, state=None) -> None:
        self.function, self.args, self.state = function, args, state

    def __reduce__(self):
        return (self.function, self.args) if self.state is None else (self.function, self.args, self.state)


ADDRESS = (0x4141414141414141).to_bytes(8, "little")
"""8 bytes NumPy would take for a PyObject* if the dtype were one of objects: an address nothing owns."""


def _objects_cleared() -> _Dtype:
    """An object dtype whose pickled state clears the flags that say it holds object pointers."""
    return _Dtype("O8", (3, "|", None, None, None, -1, -1, 0))


def _array(dtype: _Dtype) -> _Call:
    return _Call(_reconstruct, (np.ndarray, (0,), b"b"), (1, (1,), dtype, False, ADDRESS))


def _structured_with_object_field() -> _Dtype:
    return _Dtype("V8", (3, "|", None, ("a",), {"a": (_objects_cleared(), 0)}, 8, 1, 0))


CRAFTED = {
    "object scalar, flags cleared": lambda: _Call(numpy_scalar, (_objects_cleared(), ADDRESS)),
    "object array, flags cleared": lambda: _array(_objects_cleared()),
    "object array from a buffer": lambda: _Call(_frombuffer, (ADDRESS, _objects_cleared(), (1,), "C")),
    "structured array with an object field": lambda: _array(_structured_with_object_field()),
    "structured scalar with an object field": lambda: _Call(numpy_scalar, (_structured_with_object_field(), ADDRESS)),
    "sub-array of objects": lambda: _array(_Dtype("V8", (3, "|", (_objects_cleared(), (1,)), None, None, 8, 1, 0))),
    "void dtype whose flags claim objects": lambda: _array(_Dtype("V8", (3, "|", None, None, None, 8, 1, 0x3F))),
    "object array with a list of objects": lambda: _Call(
        _reconstruct, (np.ndarray, (0,), b"b"), (1, (1,), _objects_cleared(), False, [len])
    ),
}

LOAD = textwrap.dedent(
    """
    import sys
    from hvppi.pretrained.safe_pickle import load_numpy_pickle
    try:
        value = load_numpy_pickle(sys.argv[1])
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")
    else:
        print("loaded:", repr(value))  # printing an object array of a forged pointer is what crashed
    """
)


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> dict[str, Path]:
    """Each crafted object in a checkpoint-shaped pickle, ``(n_annotations, [weights], [])``, protocol 4."""
    folder = tmp_path_factory.mktemp("crafted-pickles")
    paths = {}
    for k, (name, make) in enumerate(CRAFTED.items()):
        paths[name] = folder / f"crafted{k}.pkl"
        paths[name].write_bytes(pickle.dumps((7, [make()], []), protocol=4))
    return paths


@pytest.mark.parametrize("name", list(CRAFTED))
def test_a_crafted_pickle_is_refused_in_one_line_without_a_crash(crafted, name):
    done = _run([sys.executable, "-c", LOAD, str(crafted[name])])
    assert done.returncode == 0, f"{name}: the loader died (exit {done.returncode}): {done.stderr[-400:]}"
    out = done.stdout.strip()
    assert out.startswith("UnsafePickleError: ") and "refused to load" in out, f"{name}: {out[:300]}"
    assert len(out.splitlines()) == 1


@pytest.mark.parametrize("name", ["object scalar, flags cleared", "structured array with an object field"])
def test_hvppi_embed_refuses_a_crafted_checkpoint_in_one_line(crafted, name, tmp_path):
    fasta = tmp_path / "p.fasta"
    fasta.write_text(">p\nMKVLAAGIVG\n")
    out = tmp_path / "e.h5"
    argv = ["embed", "--sequences", str(fasta), "--model", "proteinbert", "--weights", str(crafted[name])]
    done = _run([sys.executable, "-m", "hvppi.cli", *argv, "--out", str(out), "--quiet"])
    assert done.returncode == 2, f"exit {done.returncode}: {done.stderr[-400:]}"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hvppi embed: error: ") and "refused to load" in lines[0]
    assert not out.exists()


def test_a_fifo_given_as_a_pickle_is_refused_at_once(tmp_path):
    from hvppi.pretrained.safe_pickle import load_numpy_pickle

    fifo = tmp_path / "weights.pkl"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        load_numpy_pickle(fifo)  # reading it would wait for a writer forever


def test_the_unpickler_still_rebuilds_plain_dtypes_exactly(tmp_path):
    from hvppi.pretrained.safe_pickle import load_numpy_pickle

    values = [
        np.arange(6, dtype=">f8").reshape(2, 3),
        np.array(["ab", "c"], dtype="<U3"),
        np.array([b"xy"], dtype="S2"),
        np.zeros(2, dtype=[("a", ">f4"), ("b", [("c", "i2"), ("d", "U2")])]),
        np.zeros(2, dtype=np.dtype([("a", "u1"), ("b", "f8")], align=True)),
        np.zeros(2, dtype=np.dtype({"names": ["x"], "formats": ["f4"], "titles": ["tx"]})),
        np.zeros(2, dtype=("f4", (2, 3))),
        np.array(["2020-01-01"], dtype="M8[s]"),
        np.float16(1.5),
        np.bool_(True),
    ]
    for protocol in (2, 4, 5):
        path = tmp_path / f"ok{protocol}.pkl"
        path.write_bytes(pickle.dumps(values, protocol=protocol))
        loaded = load_numpy_pickle(path)
        expected = pickle.loads(path.read_bytes())
        for got, want in zip(loaded, expected):
            assert got.dtype == want.dtype and np.asarray(got).tobytes() == np.asarray(want).tobytes()


# ------------------------------------------------------------------------------------------ the screening model


@pytest.fixture(scope="module")
def model_parts():
    """The bundled screening model's tensors and metadata document."""
    path = bundled_model_path("screening")
    tensors = load_file(str(path))
    with safe_open(str(path), framework="numpy") as fh:
        document = json.loads(fh.metadata()["hvppi"])
    return tensors, document


def _write_model(path: Path, tensors: dict, document: dict) -> Path:
    save_file(tensors, str(path), metadata={"hvppi": json.dumps(document)})
    return path


def _relabel(path: Path, name: str, dtype: str) -> None:
    """Change the dtype a safetensors header declares for ``name`` (the bytes stay as they are)."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    header[name]["dtype"] = dtype
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n :])


def _set(name, index, value):
    def change(tensors, document):
        array = tensors[name].copy()
        array[index] = value
        tensors[name] = array

    return change


def _doc(key, change):
    def apply(tensors, document):
        document[key] = change(copy.deepcopy(document[key]))

    return apply


def _first_family(families, text):
    k = next(i for i, f in enumerate(families) if f)
    families[k] = text
    return families


def _internal(tensors) -> int:
    return int(np.flatnonzero(~tensors["trees.leaf"])[0])


TAMPERED = {
    "calibration x not increasing": (
        lambda t, d: t.__setitem__("calibration.x", t["calibration.x"][::-1].copy()),
        "strictly increasing",
    ),
    "calibration y above 1": (
        lambda t, d: t.__setitem__("calibration.y", t["calibration.y"] * 3.39),
        r"within \[0, 1\]",
    ),
    "calibration y below 0": (
        lambda t, d: t.__setitem__("calibration.y", t["calibration.y"] - 2.0),
        r"within \[0, 1\]",
    ),
    "calibration y decreasing": (
        lambda t, d: t.__setitem__("calibration.y", t["calibration.y"][::-1].copy()),
        "non-decreasing",
    ),
    "trees_baseline NaN": (_doc("trees_baseline", lambda v: float("nan")), "trees_baseline nan is not a finite"),
    "trees_baseline -inf": (_doc("trees_baseline", lambda v: float("-inf")), "trees_baseline -inf is not a finite"),
    "trees_baseline text": (_doc("trees_baseline", lambda v: "0.5"), "is not a finite number"),
    "a NaN leaf value": (_set("trees.value", 3, np.nan), "non-finite values"),
    "an infinite threshold": (lambda t, d: _set("trees.threshold", _internal(t), np.inf)(t, d), "non-finite"),
    "a composition SD of 0": (_set("composition.sd", 7, 0.0), "composition SDs are not all positive"),
    "a negative composition SD": (_set("composition.sd", 0, -1.0), "composition SDs are not all positive"),
    "thresholds as float16": (
        lambda t, d: t.__setitem__("trees.threshold", t["trees.threshold"].astype(np.float16)),
        "trees.threshold is float16, not float64",
    ),
    "feature indices as floats": (
        lambda t, d: t.__setitem__("trees.feature", t["trees.feature"].astype(np.float32)),
        "trees.feature is float32, not int32",
    ),
    "a feature index past the features": (
        lambda t, d: _set("trees.feature", _internal(t), len(FEATURES))(t, d),
        "features that do not exist",
    ),
    "a negative feature index": (
        lambda t, d: _set("trees.feature", _internal(t), -1)(t, d),
        "features that do not exist",
    ),
    "a negative pair index": (_set("reference.pair_virus", 5, -1), "pairs point outside"),
    "a pair index past the human proteins": (
        lambda t, d: _set("reference.pair_human", 0, len(d["human_ids"]))(t, d),
        "pairs point outside",
    ),
    "a child pointing back": (
        lambda t, d: _set("trees.left", _internal(t), _internal(t))(t, d),
        "outside their tree",
    ),
    "a duplicate viral ID": (_doc("virus_ids", lambda ids: [ids[1], *ids[1:]]), "listed twice"),
    "a duplicate human ID": (_doc("human_ids", lambda ids: [*ids[:-1], ids[0]]), "listed twice"),
    "a family with a tab": (_doc("virus_families", lambda f: _first_family(f, "Corona\tviridae")), "control char"),
    "a family with a newline": (_doc("virus_families", lambda f: _first_family(f, "Coronaviridae\n")), "control char"),
    "a viral ID with a newline": (_doc("virus_ids", lambda ids: ["P0\nX", *ids[1:]]), "control char"),
    "a known family with a tab": (
        _doc("known_taxa", lambda k: {**k, "Q99999": ["11676", "Retro\tviridae"]}),
        "control char",
    ),
    "a taxon that is not a taxid": (_doc("virus_taxa", lambda t: ["abc", *t[1:]]), "not an NCBI taxid"),
    "a length list of the wrong size": (_doc("virus_lengths", lambda n: n[:-1]), "virus_lengths for"),
    "a negative length": (_doc("human_lengths", lambda n: [-n[0], *n[1:]]), "positive whole numbers"),
    "a composition of the wrong shape": (
        lambda t, d: t.__setitem__("composition.mean", t["composition.mean"][:-1].copy()),
        "composition.mean has shape",
    ),
    "calibration curves of unequal length": (
        lambda t, d: t.__setitem__("calibration.y", t["calibration.y"][:-1].copy()),
        "calibration.y has shape",
    ),
    "a missing tensor": (lambda t, d: t.pop("trees.value"), "no tensor trees.value"),
    "an unexpected tensor": (lambda t, d: t.__setitem__("extra", np.zeros(3)), "unexpected tensor extra"),
    "a two-dimensional tensor": (
        lambda t, d: t.__setitem__("trees.value", np.stack([t["trees.value"]] * 2)),
        "trees.value has shape",
    ),
    "a feature list of another length": (_doc("features", lambda f: f[:-1]), "other features"),
    "taxa of the wrong type": (_doc("virus_taxa", lambda t: [5, *t[1:]]), "not a list of text"),
    "known_taxa of the wrong shape": (_doc("known_taxa", lambda k: {"P1": "11676"}), "known_taxa is not a map"),
    "a format version as text": (_doc("format_version", str), "format version"),
    "a protein name with a tab": (
        _doc("metadata", lambda m: {**m, "names": {**m.get("names", {}), "P27824": "CA\tNX"}}),
        "control char",
    ),
    "a virus code with a newline": (
        _doc("metadata", lambda m: {**m, "virus_codes": {"694009": "CVH\nSA"}}),
        "control char",
    ),
    "names that are not a map": (_doc("metadata", lambda m: {**m, "names": ["ACE2"]}), "names is not a JSON object"),
}


@pytest.mark.parametrize("name", list(TAMPERED))
def test_a_tampered_screening_model_is_refused_in_one_line(model_parts, name, tmp_path):
    tensors, document = copy.copy(model_parts[0]), copy.deepcopy(model_parts[1])
    change, message = TAMPERED[name]
    change(tensors, document)
    path = _write_model(tmp_path / "tampered.safetensors", tensors, document)
    with pytest.raises(ModelFileError, match=message) as info:
        read_screening_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_relabelled_dtype_and_a_fifo_are_refused(model_parts, tmp_path):
    path = _write_model(tmp_path / "relabelled.safetensors", *model_parts)
    _relabel(path, "trees.threshold", "I64")  # the float64 thresholds read as integers (~4e18)
    with pytest.raises(ModelFileError, match="trees.threshold is int64, not float64"):
        read_screening_model(path)
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(ModelFileError, match="not a regular file"):
        read_screening_model(fifo)
    assert time.monotonic() - started < 5


def test_unknown_taxa_of_the_reference_are_read_as_unknown(model_parts, tmp_path):
    tensors, document = model_parts[0], copy.deepcopy(model_parts[1])
    document["virus_taxa"][:2] = ["0", "0"]
    document["virus_families"][:2] = ["Unknown", "unknown"]
    document["known_taxa"]["Q00001"] = ["0", "Unknown"]
    model = read_screening_model(_write_model(tmp_path / "m.safetensors", tensors, document))
    taxa = model.reference.taxa
    assert taxa.taxa[:2] == [None, None] and taxa.families[:2] == [None, None]
    assert model.known_taxa["Q00001"] == (None, None)
    assert "0" not in taxa.taxa and "Unknown" not in taxa.families


def test_hvppi_screen_refuses_a_tampered_model_in_one_line_and_writes_nothing(model_parts, tmp_path, capsys):
    fasta = tmp_path / "v.fasta"
    fasta.write_text(">v1\nMSDNGPQNQRNAPRITFGGPSDSTGSNQNG\n")
    human = tmp_path / "h.fasta"
    human.write_text(">h1\nMKTAYIAKQRQISFVKSHFSRQLEERLGLI\n>h2\nMADEEKLPPGWEKRMSRSSGRVYYFNHITN\n")
    for name in ("trees_baseline NaN", "calibration y above 1", "a family with a tab", "thresholds as float16"):
        tensors, document = copy.copy(model_parts[0]), copy.deepcopy(model_parts[1])
        TAMPERED[name][0](tensors, document)
        model = _write_model(tmp_path / "tampered.safetensors", tensors, document)
        out = tmp_path / "out.tsv"
        argv = ["screen", "--virus", str(fasta), "--human", str(human), "--out", str(out), "--model", str(model)]
        assert main([*argv, "--quiet"]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("hvppi screen: error: ") and "corrupt screening model" in err[0]
        assert not out.exists(), name


# --- the seeded fuzz


SPECIAL_FLOATS = [np.nan, np.inf, -np.inf, 0.0, -1.0, 1e300, -1e300, 2.0, 0.5]
SPECIAL_INTS = [-1, 0, 1, 2**31 - 1, -(2**31), 7, 10**6]
DOCUMENT_VALUES = [None, 5, -1, 1.5, "", "a\tb", "x\ny", "Unknown", "0", [], {}, True, float("nan")]


def _fuzz(tensors: dict, document: dict, rng: random.Random) -> str:
    """One random damage to a copy of the model's parts (in place); returns what was done."""
    kind = rng.choice(["values", "values", "values", "dtype", "shape", "document", "document"])
    if kind in ("values", "dtype", "shape"):
        name = rng.choice(sorted(tensors))
        array = tensors[name].copy()
        if kind == "values" and array.size:
            index = rng.sample(range(array.size), min(array.size, rng.randint(1, 5)))
            flat = array.reshape(-1)
            for i in index:
                if array.dtype.kind == "f":
                    flat[i] = rng.choice(SPECIAL_FLOATS)
                elif array.dtype.kind == "b":
                    flat[i] = not flat[i]
                else:
                    value = rng.choice(SPECIAL_INTS)
                    info = np.iinfo(array.dtype)
                    flat[i] = min(max(value, info.min), info.max)
            tensors[name] = array
            return f"values of {name} at {index}"
        if kind == "dtype":
            dtype = rng.choice([np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_])
            tensors[name] = array.astype(dtype)
            return f"{name} as {np.dtype(dtype)}"
        cut = rng.randint(1, 3)
        tensors[name] = array[:-cut].copy() if len(array) > cut else np.zeros((2, 2))
        return f"{name} cut by {cut}"
    key = rng.choice(sorted(document))
    value = document[key]
    if isinstance(value, list) and value and rng.random() < 0.7:
        value = list(value)
        value[rng.randrange(len(value))] = rng.choice(DOCUMENT_VALUES + [value[0]])
    elif isinstance(value, dict) and value and rng.random() < 0.7:
        value = dict(value)
        value[rng.choice(sorted(value))] = rng.choice(DOCUMENT_VALUES + [["1", "a\nb"], ["11676", None]])
    else:
        value = rng.choice(DOCUMENT_VALUES)
    document[key] = value
    return f"document {key}"


def test_randomly_tampered_screening_models_load_sanely_or_fail_in_one_line(model_parts, tmp_path):
    x = np.random.default_rng(3).normal(size=(400, len(FEATURES))) * 3
    x[::7, 0] = np.nan
    failures = []
    outcomes = {"loaded": 0, "refused": 0}
    for case in range(160):
        rng = random.Random(f"screening-model:{case}")
        tensors, document = copy.copy(model_parts[0]), copy.deepcopy(model_parts[1])
        what = _fuzz(tensors, document, rng)
        path = _write_model(tmp_path / f"fuzz{case}.safetensors", tensors, document)
        try:
            model = read_screening_model(path)
        except ModelFileError as exc:
            outcomes["refused"] += 1
            if "\n" in str(exc):
                failures.append(f"case {case} ({what}): a message of several lines")
            continue
        except Exception as exc:
            failures.append(f"case {case} ({what}): {type(exc).__name__}: {exc}")
            continue
        finally:
            path.unlink()
        outcomes["loaded"] += 1
        raw, probability = model.score(x)
        ref = model.reference
        names = [*ref.virus_ids, *ref.human_ids, *(t for t in ref.taxa.taxa if t), *(f for f in ref.taxa.families if f)]
        if not (np.isfinite(raw).all() and ((probability >= 0) & (probability <= 1)).all()):
            failures.append(f"case {case} ({what}): loaded, but scores are not finite or probabilities not in [0, 1]")
        elif any(CONTROL.search(n) for n in names) or len(set(ref.virus_ids)) != len(ref.virus_ids):
            failures.append(f"case {case} ({what}): loaded with names that would break a TSV")
    assert not failures, "\n".join(failures[:10])
    assert outcomes["refused"] > 40 and outcomes["loaded"] > 0, outcomes


# ------------------------------------------------------------------------------------------ zip bombs


MITAB_LINE = (
    b'uniprotkb:P12345\tuniprotkb:P0DTC2\t-\t-\t-\t-\tpsi-mi:"MI:0018"\t-\tpubmed:1\ttaxid:9606(x)\t'
    b'taxid:2697049(y)\tpsi-mi:"MI:0915"\t-\t-\tintact-miscore:0.5\n'
)


def _bomb(path: Path, size: int = 200 * 10**6, line: bytes = MITAB_LINE) -> Path:
    """A zip of one member of ``size`` bytes of repeated ``line``s, compressed about 250 to 1."""
    block = line * (2**20 // len(line) + 1)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("hpidb.txt", "w", force_zip64=True) as member,
    ):
        written = 0
        while written < size:
            member.write(block)
            written += len(block)
    return path


MEASURE = textwrap.dedent(
    """
    import sys, time
    from hvppi.datasets.mitab import read_mitab
    from hvppi.datasets.taxonomy import read_virus_taxonomy
    read = read_mitab if sys.argv[1] == "mitab" else read_virus_taxonomy
    started = time.monotonic()
    try:
        read(sys.argv[2])
        outcome = "read"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    # the peak resident memory of this process (ru_maxrss would count the forking pytest's too)
    peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(round(time.monotonic() - started, 3), int(peak) // 1024)
    print(outcome)
    """
)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return _bomb(tmp_path_factory.mktemp("bomb") / "hpidb.zip")


@pytest.mark.parametrize("reader", ["taxonomy", "mitab"])
def test_a_zip_bomb_is_refused_in_seconds_with_little_memory(bomb, reader):
    from hvppi.io.files import ZIP_MAX_RATIO

    if not Path("/proc/self/status").exists():
        pytest.skip("measures memory with /proc/self/status (Linux)")
    info = zipfile.ZipFile(bomb).infolist()[0]
    assert info.file_size >= 200 * 10**6 and info.file_size / info.compress_size > ZIP_MAX_RATIO
    assert bomb.stat().st_size < 10**6
    done = _run([sys.executable, "-c", MEASURE, reader, str(bomb)])
    assert done.returncode == 0, done.stderr[-400:]
    timing, outcome = done.stdout.strip().splitlines()
    seconds, megabytes = timing.split()
    assert outcome.startswith("InputError: ") and "looks like a zip bomb" in outcome, outcome
    assert float(seconds) < 5 and int(megabytes) < 200, timing


def test_a_zip_that_understates_a_member_is_not_read_past_the_stated_size(tmp_path):
    data = MITAB_LINE * 400_000  # 70 MB, compresses ~250 to 1
    path = tmp_path / "lying.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("hpidb.txt", data)
    raw = bytearray(path.read_bytes())
    stated = 2**20  # 1 MiB: under the size from which the ratio is checked
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.index(signature)
        raw[at + offset : at + offset + 4] = struct.pack("<I", stated)
    path.write_bytes(bytes(raw))
    assert zipfile.ZipFile(path).infolist()[0].file_size == stated
    from hvppi.datasets.taxonomy import read_virus_taxonomy

    started = time.monotonic()
    with pytest.raises(InputError, match="corrupt zip archive") as info:
        read_virus_taxonomy(path)
    assert time.monotonic() - started < 5 and "\n" not in str(info.value)


def test_open_zip_member_states_its_limits(tmp_path):
    from hvppi.io.files import open_zip_member

    path = tmp_path / "small.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.txt", b"x" * 5000)
    with zipfile.ZipFile(path) as archive:
        member = archive.infolist()[0]
        with open_zip_member(archive, member, path) as fh:
            assert fh.read() == b"x" * 5000  # small members are not judged by their ratio
        with pytest.raises(InputError, match=r"unpacks to 5,000 bytes, more than the 4,000"):
            open_zip_member(archive, member, path, max_bytes=4000)


def test_hvppi_errors_are_one_line(tmp_path, bomb):
    """The refusals above reach the user as hvppi's one line (here through the taxonomy reader of a screen)."""
    fasta = tmp_path / "v.fasta"
    fasta.write_text(">P0DTC2\nMSDNGPQNQRNAPRITFGGPSDSTGSNQNG\n")
    human = tmp_path / "h.fasta"
    human.write_text(">h1\nMKTAYIAKQRQISFVKSHFSRQLEERLGLI\n")
    out = tmp_path / "out.tsv"
    argv = ["screen", "--virus", str(fasta), "--human", str(human), "--out", str(out), "--taxonomy", str(bomb)]
    done = _run([sys.executable, "-m", "hvppi.cli", *argv, "--quiet"])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "zip bomb" in lines[0], done.stderr[-400:]
    assert lines[0].startswith("hvppi screen: error: ") and not out.exists()

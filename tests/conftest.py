"""Shared fixtures and helpers.

The real data live in ``../shared/data`` beside the repository (or wherever ``HVPPI_SHARED_DATA``
points). Without them the suite still runs: the ``shared_data`` fixture, and every fixture built on
it, skips its tests, and tests whose code reads the data folder directly (``BENCHMARK``,
``SHARED`` or a module-level path under it) are skipped at collection, each with the reason.
"""

import os
import sys
import tempfile
import types
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HVPPI_SHARED_DATA") or REPO.parent / "shared" / "data")
BENCHMARK = SHARED / "lstm-phv-benchmark"
HAVE_SHARED_DATA = BENCHMARK.is_dir()
NO_DATA = f"the shared data folder is absent: {BENCHMARK} (set HVPPI_SHARED_DATA to the data folder)"

torch.set_num_threads(1)

# the screening model's human-side cache (hvppi.screening.humancache) goes to a folder of this run, never the
# user's ~/.cache; CLI subprocesses inherit it
_CACHE = tempfile.TemporaryDirectory(prefix="hvppi-test-cache-")
os.environ["HVPPI_CACHE_DIR"] = _CACHE.name


@pytest.fixture(scope="session")
def shared_data():
    """The shared data folder; tests that ask for it are skipped when it is absent."""
    if not HAVE_SHARED_DATA:
        pytest.skip(NO_DATA)
    return SHARED


@pytest.fixture(scope="session")
def benchmark_sequences(shared_data):
    from hvppi.io.sequences import read_sequences

    return read_sequences(BENCHMARK / "pro_seq.txt")


@pytest.fixture(scope="session")
def small_pairs_file(tmp_path_factory, benchmark_sequences):
    """Up to 60 positive and 180 negative training pairs of the benchmark whose proteins are short."""
    rows = {0: [], 1: []}
    with open(BENCHMARK / "protein_pair_label_train.txt") as fh:
        for line in fh:
            h, v, y = line.split()
            y = int(y)
            limit = 60 if y else 180
            if len(rows[y]) < limit and len(benchmark_sequences[h]) < 150 and len(benchmark_sequences[v]) < 150:
                rows[y].append(line)
            if len(rows[0]) >= 180 and len(rows[1]) >= 60:
                break
    path = tmp_path_factory.mktemp("pairs") / "small_pairs.txt"
    path.write_text("".join(rows[1] + rows[0]))
    return path


@pytest.fixture()
def rng():
    return np.random.default_rng(12345)


# --- counting what the towers encode ------------------------------------------------------------


class EncodedProteins:
    """Every protein that any ``Tower`` encodes while active, as (tower, sequence) → times.

    A global forward hook on all modules sees each call of a tower, whichever function makes it,
    so a count of 1 per protein shows the protein was encoded once, not merely that the scores
    came out right. Sequences are read back from the tokens of each batch row, within its length.
    """

    def __init__(self):
        self.counts: Counter = Counter()
        self._handle = None

    def _hook(self, module, args, kwargs, output):
        from hvppi.io.alphabet import ALPHABET
        from hvppi.lstm.model import Tower

        if not isinstance(module, Tower):
            return
        tokens = args[0] if args else kwargs["tokens"]
        lengths = args[1] if len(args) > 1 else kwargs["lengths"]
        for row, n in zip(tokens.cpu().tolist(), lengths.cpu().tolist()):
            self.counts[(module, "".join(ALPHABET[t - 1] for t in row[:n]))] += 1

    def __enter__(self):
        self._handle = torch.nn.modules.module.register_module_forward_hook(self._hook, with_kwargs=True)
        return self

    def __exit__(self, *exc):
        self._handle.remove()

    def towers(self) -> set:
        return {tower for tower, _ in self.counts}

    def of(self, tower) -> Counter:
        """Sequence → times, for one tower module."""
        return Counter({seq: n for (t, seq), n in self.counts.items() if t is tower})

    def clear(self) -> None:
        self.counts.clear()


@pytest.fixture()
def encoded_proteins():
    with EncodedProteins() as recorder:
        yield recorder


# --- without the shared data folder -------------------------------------------------------------


def _is_data_path(value) -> bool:
    if not isinstance(value, (str, os.PathLike)):
        return False
    try:
        return Path(value).is_relative_to(SHARED)
    except (TypeError, ValueError):
        return False


def _code_reads_data(code: types.CodeType, module, seen: set) -> bool:
    """Whether compiled code names the data folder (``SHARED``, ``BENCHMARK``, a module-level path
    under it), here or in a function of its own module that it calls, or in a nested function."""
    if code in seen:
        return False
    seen.add(code)
    for name in code.co_names:
        if name in ("SHARED", "BENCHMARK"):
            return True
        target = vars(module).get(name) if module is not None else None
        if _is_data_path(target):
            return True
        if (
            isinstance(target, types.FunctionType)
            and target.__module__ == module.__name__
            and _code_reads_data(target.__code__, module, seen)
        ):
            return True
    return any(isinstance(c, types.CodeType) and _code_reads_data(c, module, seen) for c in code.co_consts)


def _needs_shared_data(item) -> bool:
    functions = [getattr(item, "function", None)]
    fixture_info = getattr(item, "_fixtureinfo", None)
    if fixture_info is not None:
        for name in item.fixturenames:
            functions += [getattr(d, "func", None) for d in fixture_info.name2fixturedefs.get(name, ())]
    for function in functions:
        function = getattr(function, "__wrapped__", function)
        if isinstance(function, types.FunctionType) and _code_reads_data(
            function.__code__, sys.modules.get(function.__module__), set()
        ):
            return True
    return False


def pytest_collection_modifyitems(config, items):
    if HAVE_SHARED_DATA:
        return
    skip = pytest.mark.skip(reason=NO_DATA)
    for item in items:
        if _needs_shared_data(item):
            item.add_marker(skip)

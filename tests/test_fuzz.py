"""Issue 11: hvppi's readers fed a few thousand randomly corrupted versions of small real files.

A seeded mutator (byte flips, truncation, inserted random bytes, deleted ranges, duplicated lines,
swapped columns, NUL bytes, bytes that are not UTF-8) damages slices of the shared data (FASTA,
id<TAB>seq, pairs, HPIDB MITAB; plain, gzip and zip), small H5/NPY/NPZ embedding files and the
bundled model files. Each reader must either succeed or raise :class:`HvppiError` (InputError /
ModelFileError), never another exception and never hang; a sample of the damaged files goes
through ``hvppi`` itself, which must exit 0 or 2 with one error line and no traceback.

Everything is seeded: a failure names the kind and case number, which reproduce it.
"""

import contextlib
import gzip
import io
import itertools
import random
import signal
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from hvppi.cli import main
from hvppi.datasets.mitab import read_mitab
from hvppi.geometry.readers import measure_isotropy, open_embeddings
from hvppi.io.bundled import bundled_model_path
from hvppi.io.errors import HvppiError
from hvppi.io.pairs import read_pairs
from hvppi.io.sequences import read_sequences
from hvppi.registry import load_scorer

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow warnings of values near 1e300

CASE_BUDGET_S = 10.0
"""Seconds one reader call may take on a corrupted file (they take milliseconds)."""


class CaseTimeout(BaseException):
    """Raised by the alarm inside a reader that runs past its budget (a BaseException: no reader catches it)."""


def _alarm(signum, frame):
    raise CaseTimeout()


# --- the mutator ---------------------------------------------------------------------------------


def _flip(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _insert(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]


def _delete(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 256) :]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [data]


def _duplicate_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 4)):
        k = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[k])
    return b"".join(lines)


def _swap_columns(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    for k in rng.sample(range(len(lines)), min(len(lines), rng.randint(1, 6))):
        body = lines[k].rstrip(b"\r\n")
        end = lines[k][len(body) :]
        fields = body.split(b"\t")
        if len(fields) >= 2:
            i, j = rng.sample(range(len(fields)), 2)
            fields[i], fields[j] = fields[j], fields[i]
        lines[k] = b"\t".join(fields) + end
    return b"".join(lines)


def _nul(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        out[at:at] = b"\x00" * rng.randint(1, 8)
    return bytes(out)


def _not_utf8(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(out) + 1)
        out[at:at] = rng.choice([b"\xff", b"\xe9", b"\xc3", b"\x80\x80", b"\xed\xa0\x80", b"\xfe\xff"])
    return bytes(out)


MUTATORS = [_flip, _truncate, _insert, _delete, _duplicate_lines, _swap_columns, _nul, _not_utf8]
BINARY_MUTATORS = [_flip, _flip, _truncate, _insert, _delete, _nul]


def mutate(data: bytes, rng: random.Random, mutators=MUTATORS) -> bytes:
    """``data`` with one to three random damages."""
    for _ in range(rng.randint(1, 3)):
        data = rng.choice(mutators)(data, rng)
    return data


def _zip_bytes(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def mutated_variants(data: bytes, container: str, rng: random.Random) -> bytes:
    """A damaged version of ``data`` packed as ``container`` (plain, gz, zip): half the time the text is
    damaged and then packed, half the time the packed bytes are damaged."""
    if container == "plain":
        return mutate(data, rng)
    pack = gzip.compress if container == "gz" else (lambda b: _zip_bytes("hpidb.txt", b))
    if rng.random() < 0.5:
        return pack(mutate(data, rng))
    return mutate(pack(data), rng, BINARY_MUTATORS)


# --- small real files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def originals(shared_data, tmp_path_factory):
    """name → (original bytes, container) of the files the fuzzing starts from, and their folder."""
    folder = tmp_path_factory.mktemp("fuzz_originals")
    bench = shared_data / "lstm-phv-benchmark"
    sequences = {pid: seq for pid, seq in read_sequences(bench / "pro_seq.txt").items() if len(seq) < 250}
    pairs_lines, used = [], {}
    with open(bench / "protein_pair_label_test.txt") as fh:
        for line in fh:
            h, v, _ = line.split()
            if h in sequences and v in sequences:
                pairs_lines.append(line)
                used[h], used[v] = sequences[h], sequences[v]
            if len(pairs_lines) >= 24:
                break
    fasta = "".join(f">{pid} protein {pid}\n{seq[:60]}\n{seq[60:]}\n" for pid, seq in used.items()).encode()
    table = "".join(f"{pid}\t{seq}\n" for pid, seq in used.items()).encode()
    pairs = "".join(pairs_lines).encode()
    archive = shared_data / "hpidb3-virus" / "hpidb_virus_25_10_22.zip"
    with zipfile.ZipFile(archive) as zf, zf.open(zf.namelist()[0]) as member:
        mitab = b"".join(itertools.islice(member, 12))
    files = {
        "fasta": (fasta, "plain"),
        "table": (table, "plain"),
        "fasta.gz": (fasta, "gz"),
        "table.gz": (table, "gz"),
        "pairs": (pairs, "plain"),
        "pairs.gz": (pairs, "gz"),
        "mitab": (mitab, "plain"),
        "mitab.gz": (mitab, "gz"),
        "mitab.zip": (mitab, "zip"),
    }
    rng = np.random.default_rng(7)
    ids = list(used)[:10]
    h5 = folder / "per-protein.h5"
    with h5py.File(h5, "w") as fh:
        for pid in ids:
            fh.create_dataset(pid, data=rng.normal(size=16).astype(np.float32))
    h5_residues = folder / "per-residue.h5"
    with h5py.File(h5_residues, "w") as fh:
        fh.attrs["format"] = "hvppi-embeddings"
        fh.attrs["level"] = "residue"
        for k, pid in enumerate(ids[:5]):
            ds = fh.create_dataset(f"d{k}", data=rng.normal(size=(4 + k, 8)).astype(np.float32))
            ds.attrs["original_id"] = pid
    npy = folder / "rows.npy"
    np.save(npy, rng.normal(size=(40, 12)))
    npz = folder / "ids.npz"
    np.savez(npz, **{pid: rng.normal(size=12) for pid in ids})
    npz_compressed = folder / "residues.npz"
    np.savez_compressed(npz_compressed, **{pid: rng.normal(size=(5, 6)) for pid in ids[:4]})
    for name, path in [
        ("h5", h5),
        ("h5-residues", h5_residues),
        ("npy", npy),
        ("npz", npz),
        ("npz-compressed", npz_compressed),
    ]:
        files[name] = (path.read_bytes(), "binary")
    files["model"] = (bundled_model_path("lstm-phv-benchmark").read_bytes(), "binary")
    files["screening-model"] = (bundled_model_path("screening").read_bytes(), "binary")
    for name, (data, container) in files.items():  # the originals themselves are read without error
        (folder / f"orig-{name}").write_bytes(data if container in ("plain", "binary") else _pack(data, container))
    return files, folder


def _pack(data: bytes, container: str) -> bytes:
    return gzip.compress(data) if container == "gz" else _zip_bytes("hpidb.txt", data)


def _read_embeddings(path: Path) -> None:
    with open_embeddings(path) as reader:
        for _ in reader.points():
            pass
        if reader.info.level != "rows":
            reader.protein_vectors()
        else:
            for _ in reader.points(local=True, chunk_rows=7):
                pass
    measure_isotropy(path)


def _read_mitab_both(path: Path) -> None:
    with contextlib.suppress(HvppiError):
        read_mitab(path)
    read_mitab(path, skip_bad_lines=True)


READERS = {
    "fasta": read_sequences,
    "table": read_sequences,
    "fasta.gz": read_sequences,
    "table.gz": read_sequences,
    "pairs": read_pairs,
    "pairs.gz": read_pairs,
    "mitab": _read_mitab_both,
    "mitab.gz": _read_mitab_both,
    "mitab.zip": _read_mitab_both,
    "h5": _read_embeddings,
    "h5-residues": _read_embeddings,
    "npy": _read_embeddings,
    "npz": _read_embeddings,
    "npz-compressed": _read_embeddings,
    "model": load_scorer,
    "screening-model": load_scorer,
}
CASES = {  # corrupted versions per file kind: 3,600 in all
    "fasta": 400,
    "table": 250,
    "fasta.gz": 250,
    "table.gz": 150,
    "pairs": 350,
    "pairs.gz": 150,
    "mitab": 300,
    "mitab.gz": 150,
    "mitab.zip": 150,
    "h5": 300,
    "h5-residues": 200,
    "npy": 200,
    "npz": 200,
    "npz-compressed": 150,
    "model": 300,
    "screening-model": 120,
}


def corrupted(files, name: str, case: int) -> bytes:
    data, container = files[name]
    rng = random.Random(f"{name}:{case}")
    if container == "binary":
        return mutate(data, rng, BINARY_MUTATORS if rng.random() < 0.7 else MUTATORS)
    return mutated_variants(data, container, rng)


def _run_bounded(function, path: Path, what: str) -> BaseException | None:
    """Call ``function(path)`` within the time budget; the exception it raised (None if it succeeded)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_BUDGET_S)
    started = time.monotonic()
    try:
        function(path)
    except CaseTimeout:
        pytest.fail(f"{what}: the reader ran past its {CASE_BUDGET_S} s budget")
    except Exception as exc:  # judged by the caller
        return exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < CASE_BUDGET_S, what
    return None


@pytest.mark.parametrize("name", list(CASES))
def test_readers_succeed_or_raise_hvppi_error(name, originals, tmp_path):
    files, folder = originals
    reader = READERS[name]
    assert _run_bounded(reader, folder / f"orig-{name}", f"{name} original") is None
    failures = []
    outcomes = {"ok": 0, "HvppiError": 0}
    for case in range(CASES[name]):
        path = tmp_path / f"{name}-{case}"
        path.write_bytes(corrupted(files, name, case))
        exc = _run_bounded(reader, path, f"{name} case {case}")
        if exc is None:
            outcomes["ok"] += 1
        elif isinstance(exc, HvppiError):
            outcomes["HvppiError"] += 1
            assert "\n" not in str(exc), f"{name} case {case}: a message of several lines: {exc}"
        else:
            failures.append(f"case {case}: {type(exc).__name__}: {exc}")
        path.unlink()
    assert not failures, f"{name}: {len(failures)} of {CASES[name]} cases raised other errors:\n" + "\n".join(
        failures[:10]
    )
    assert outcomes["HvppiError"] > 0  # the mutator does damage


# --- through the command line --------------------------------------------------------------------


CLI_KINDS = ["fasta", "table.gz", "pairs", "pairs.gz", "h5", "npy", "npz", "model"]


def _cli_case(name: str, path: Path, folder: Path, out: Path) -> list[str]:
    pairs, sequences = str(folder / "orig-pairs"), str(folder / "orig-fasta")
    if name in ("fasta", "table.gz"):
        sequences = str(path)
    elif name in ("pairs", "pairs.gz"):
        pairs = str(path)
    elif name in ("h5", "npy", "npz"):
        return ["geometry", "isotropy", str(path), "--quiet"]
    model = str(path) if name == "model" else "lstm-phv-benchmark"
    return ["predict", "--pairs", pairs, "--sequences", sequences, "--out", str(out), "--model", model, "--quiet"]


def test_cli_exits_0_or_2_without_a_traceback(originals, tmp_path, capsys):
    files, folder = originals
    rng = random.Random("cli")
    failures = []
    for k in range(104):
        name = CLI_KINDS[k % len(CLI_KINDS)]
        case = rng.randrange(CASES[name])
        suffix = {"pairs.gz": ".gz", "table.gz": ".gz", "h5": ".h5", "npy": ".npy", "npz": ".npz"}.get(name, "")
        path = tmp_path / f"{name}-{case}{suffix}"
        path.write_bytes(corrupted(files, name, case))
        out = tmp_path / f"out-{k}.tsv"
        argv = _cli_case(name, path, folder, out)
        try:
            status = main(argv)
        except SystemExit as exc:  # argparse
            status = exc.code
        except Exception as exc:
            failures.append(f"{name} case {case}: {type(exc).__name__}: {exc} escaped hvppi's error path")
            continue
        err = capsys.readouterr().err
        command = " ".join(argv[:2]) if argv[0] == "geometry" else argv[0]
        errors = [line for line in err.splitlines() if line.startswith(f"hvppi {command}: error: ")]
        if status not in (0, 2) or "Traceback" in err:
            failures.append(f"{name} case {case}: exit {status}: {err[-500:]}")
        elif status == 2 and (len(errors) != 1 or err.splitlines()[-1] != errors[0]):
            failures.append(f"{name} case {case}: exit 2 without one final error line: {err[-500:]}")
        elif status == 2 and argv[0] == "predict" and out.exists():
            failures.append(f"{name} case {case}: exit 2 but {out.name} was written")
        leftovers = [p.name for p in tmp_path.glob(".*.part")]
        if leftovers:
            failures.append(f"{name} case {case}: left {leftovers}")
    assert not failures, "\n".join(failures[:10])

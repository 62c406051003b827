"""Screening jobs of the web page: parsing submitted FASTA, a job folder on disk and worker threads.

Every job lives in ``ROOT/<32 hex digits>/``: ``input.fasta`` (the checked viral proteins),
``status.json`` (state, progress, warnings or the error, and the ``inputs`` it runs with: the model's
fingerprint and the human set's digest) and, when finished, ``results.tsv`` (the rows of ``hvppi screen``
with the screening model, byte for byte). Each viral protein is screened on its own into ``parts/``, so
the progress is known and a server restarted mid-job continues where it stopped, if it has the same
inputs: an unfinished job recorded with another model or human set fails (it is never finished with
other inputs than it started with). Finished jobs are found again on start-up; a job folder that cannot
be read (a damaged ``status.json``) is one failed job, never a failed start. One server at a time uses a
jobs folder (``ROOT/.lock``, an ``fcntl.flock``). Job IDs are random and checked against ``JOB_ID``
before any folder is touched, so no client-supplied text reaches a file path.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import io
import json
import os
import queue
import re
import shutil
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvppi.io.errors import InputError
from hvppi.io.files import atomic_path, atomic_write
from hvppi.io.sequences import header_id, read_sequences

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
"""The form of a job ID (``uuid4().hex``)."""

STATES = ("queued", "running", "done", "failed")
LOCK_FILE = ".lock"
"""The lock file of a jobs folder, held (``fcntl.flock``) by the one server that uses the folder."""


class JobsFolderLock:
    """The lock of a jobs folder: taken on creation (InputError naming the holder's PID if another process holds
    it), released by :meth:`release` or when the process ends (the kernel drops it, so a killed server's lock is
    simply taken over)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"cannot use this folder for jobs ({exc.strerror or exc})", self.root) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").split("\n")[0].strip()
            os.close(self._fd)
            self._fd = None
            raise InputError(
                f"another hvppi serve (PID {holder if holder.isdigit() else '?'}) uses this jobs folder; stop it or "
                "give another --jobs folder",
                self.root,
            ) from None
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class Limits:
    """What one submission may hold: request body bytes, viral proteins, residues per protein, characters per
    protein ID (each of a job's rows repeats it), queued jobs."""

    max_body_bytes: int = 2_000_000
    max_proteins: int = 100
    max_residues: int = 10_000
    max_id_length: int = 100
    max_queued: int = 1000

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_proteins", "max_residues", "max_id_length", "max_queued"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, not {value!r}")


def _source_name(filename: str | None) -> str:
    """The name an error message gives the submitted text: the upload's base name, or "pasted text"."""
    if not filename:
        return "pasted text"
    base = re.split(r"[\\/]", filename)[-1]
    base = re.sub(r"[^\w.+-]", "_", base)[:80]
    return base or "uploaded file"


BARE_ID = "query"
"""The ID of a bare sequence (text without a FASTA header or a tab): one protein."""


def is_bare_sequence(data: bytes) -> bool:
    """Whether a submission is one bare sequence: no line starts with ``>`` and no tab separates an ID (one or more
    lines of letters, as copied from a sequence viewer; spaces inside are dropped, other characters are then named
    as unknown letters by the FASTA checks)."""
    lines = data.removeprefix(b"\xef\xbb\xbf").splitlines()  # a UTF-8 byte order mark is not text
    return b"\t" not in data and not any(line.lstrip().startswith(b">") for line in lines)


def parse_fasta(data: bytes, filename: str | None, limits: Limits, scratch: Path) -> dict[str, str]:
    """Viral proteins of a submission (FASTA, ``id<TAB>sequence`` or one bare sequence, plain or gzip), checked as
    by the CLI. A bare sequence (see :func:`is_bare_sequence`) is one protein with the ID :data:`BARE_ID`.

    Errors are the CLI's InputError messages, naming the upload (or "pasted text") instead of a path:
    ``pasted text, line 2, ID 'p1': unknown amino-acid letter 'J' at position 5``.
    """
    source = _source_name(filename)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.GzipFile(fileobj=io.BytesIO(data)).read(limits.max_body_bytes * 4 + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"cannot decompress the gzip file ({exc})", source) from None
        if len(data) > limits.max_body_bytes * 4:
            raise InputError("the decompressed file is too large", source)
    if not data.strip():
        raise InputError("no sequences found", source)
    bare = is_bare_sequence(data)
    if bare:
        data = f">{BARE_ID}\n".encode() + data.removeprefix(b"\xef\xbb\xbf")
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / f"{uuid.uuid4().hex}.fasta"
    try:
        path.write_bytes(data)
        try:
            sequences = read_sequences(path, allow_duplicates=False)
        except InputError as exc:
            line = exc.line - 1 if bare and exc.line else exc.line  # the line of the text as given, without ours
            reason = exc.reason.replace(str(path), source)  # "first at <the scratch file>, line 1"
            raise InputError(reason, source, line or None, _shown_id(exc.protein_id)) from None
    finally:
        path.unlink(missing_ok=True)
    check_ids(sequences, data, source, limits)
    if len(sequences) > limits.max_proteins:
        raise InputError(
            f"{len(sequences):,} viral proteins; this server takes at most {limits.max_proteins:,} per job", source
        )
    for protein_id, sequence in sequences.items():
        if len(sequence) > limits.max_residues:
            raise InputError(
                f"{len(sequence):,} residues, more than this server's limit of {limits.max_residues:,} per protein "
                "(screen a polyprotein as its mature chains)",
                source,
                None,
                protein_id,
            )
    return sequences


def _shown_id(protein_id: str | None, width: int = 60) -> str | None:
    """A protein ID as an error message shows it: at most ``width`` characters."""
    if protein_id is None or len(protein_id) <= width:
        return protein_id
    return f"{protein_id[: width - 1]}…"


def check_ids(sequences: dict[str, str], data: bytes, source: str, limits: Limits) -> None:
    """InputError (naming the line) for an ID longer than ``limits.max_id_length`` or one that a job's FASTA would
    read back as another ID: a table (``id<TAB>sequence``) keeps an ID as written, but FASTA reads a header's first
    word, and the accession of ``db|ACCESSION|NAME``."""
    for protein_id in sequences:
        problem = None
        if len(protein_id) > limits.max_id_length:
            problem = f"an ID of {len(protein_id):,} characters; this server takes at most {limits.max_id_length}"
        elif len(protein_id.split()) != 1 or header_id(protein_id) != protein_id:
            word = header_id(protein_id.split()[0]) if protein_id.split() else ""
            problem = f"a job keeps its proteins as FASTA, which reads this ID as {word!r}; give it as one word"
        if problem is not None:
            prefix = protein_id.encode("utf-8")
            line = next(
                (k for k, text in enumerate(data.splitlines(), start=1) if text.lstrip(b">").startswith(prefix)), None
            )
            raise InputError(problem, source, line, _shown_id(protein_id))


Runner = Callable[[dict[str, str], Path, Callable[[str], None], "str | None"], None]
"""Screens viral proteins (ID → sequence) of a virus (NCBI taxid, or None: not given) into a TSV file (with header),
reporting warnings to the callback."""


def write_fasta(path: Path, sequences: dict[str, str]) -> None:
    with atomic_write(path) as fh:
        for pid, seq in sequences.items():
            fh.write(f">{pid}\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))


class JobStore:
    """Jobs on disk under ``root``, run in submission order by ``workers`` threads calling ``runner``.

    ``inputs``: what the runner's results depend on besides the viral proteins (e.g. the model's fingerprint and the
    human set's digest), recorded in each job; an unfinished job recorded with other inputs fails on start-up
    (None: not checked). ``lock``: the folder's lock if the caller took it already (else it is taken here);
    :meth:`close` releases it."""

    def __init__(
        self,
        root: str | Path,
        runner: Runner,
        workers: int = 1,
        limits: Limits | None = None,
        inputs: dict[str, str] | None = None,
        lock: JobsFolderLock | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.root = Path(root)
        self.lock = lock or JobsFolderLock(self.root)
        self.runner = runner
        self.limits = limits or Limits()
        self.inputs = dict(inputs) if inputs is not None else None
        self._lock = threading.Lock()
        self._status: dict[str, dict[str, Any]] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.threads: list[threading.Thread] = []
        try:
            self._recover()
        except BaseException:
            self.lock.release()
            raise
        for k in range(workers):
            thread = threading.Thread(target=self._work, name=f"hvppi-job-worker-{k}", daemon=True)
            thread.start()
            self.threads.append(thread)

    # ---------------------------------------------------------------------------------------- state
    def _recover(self) -> None:
        """Load every job of ``root``; unfinished ones go back on the queue, oldest first (those recorded with other
        inputs than this store's fail instead); a folder whose status cannot be read is a failed job."""
        pending = []
        for folder in sorted(self.root.iterdir()):
            if not JOB_ID.match(folder.name) or not folder.is_dir():
                continue
            status = _read_status(folder)
            if status["state"] == "done" and not (folder / "results.tsv").is_file():
                status["state"] = "queued"
            if status["state"] in ("queued", "running") and self.inputs is not None:
                recorded = status.get("inputs")
                if recorded is None and not (folder / "parts").exists():
                    status["inputs"] = dict(self.inputs)  # not started: it runs with this server's inputs
                elif recorded != self.inputs:
                    status.update(state="failed", error=_other_inputs(recorded, self.inputs))
            self._status[folder.name] = status
            if status["state"] in ("queued", "running"):
                status["state"] = "queued"
                pending.append(status)
        for status in sorted(pending, key=lambda s: s["created"]):
            self._queue.put(status["id"])

    def _save(self, job_id: str) -> None:
        with atomic_write(self.root / job_id / "status.json") as fh:
            json.dump(self._status[job_id], fh, indent=1)

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            self._status[job_id].update(changes)
            self._save(job_id)

    def folder(self, job_id: str) -> Path | None:
        """The folder of a known job, or None (also for anything that is not a job ID)."""
        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            return None
        with self._lock:
            known = job_id in self._status
        return self.root / job_id if known else None

    def status(self, job_id: str) -> dict[str, Any] | None:
        """A copy of the job's status (None if unknown), with ``position`` in the queue while queued."""
        if self.folder(job_id) is None:
            return None
        with self._lock:
            status = dict(self._status[job_id])
            if status["state"] == "queued":
                earlier = [
                    s for s in self._status.values() if s["state"] == "queued" and s["created"] < status["created"]
                ]
                status["position"] = len(earlier) + 1
            return status

    def fail(self, job_id: str, error: str) -> None:
        """Mark a job failed with ``error`` (e.g. its results file turned out damaged), worded without the server's
        paths (:meth:`without_paths`); kept in memory if its status file cannot be written."""
        with self._lock:
            if job_id in self._status:
                self._status[job_id].update(state="failed", error=self.without_paths(error))
                with contextlib.suppress(OSError):
                    self._save(job_id)

    def without_paths(self, message: str) -> str:
        """``message`` on one line, without the paths of this jobs folder: a job's files are named inside its
        folder (``parts/000000.tsv``), the folder itself as "the jobs folder".

        >>> store = JobStore.__new__(JobStore); store.root = Path("/srv/jobs")
        >>> store.without_paths("/srv/jobs/" + "a" * 32 + "/results.tsv: no space left (in /srv/jobs)")
        'results.tsv: no space left (in the jobs folder)'
        """
        message = re.sub(re.escape(str(self.root)) + r"/[0-9a-f]{32}/", "", " ".join(str(message).split()))
        return message.replace(str(self.root), "the jobs folder")

    def jobs(self) -> list[dict[str, Any]]:
        """Every job's status, newest first (for the server's owner; the HTTP API lists none)."""
        with self._lock:
            return sorted((dict(s) for s in self._status.values()), key=lambda s: -s["created"])

    def sequences(self, job_id: str) -> dict[str, str]:
        folder = self.folder(job_id)
        if folder is None:
            raise KeyError(job_id)
        return read_sequences(folder / "input.fasta")

    # ---------------------------------------------------------------------------------------- work
    def submit(self, virus: dict[str, str], taxon: str | None = None) -> str:
        """Queue a screen of ``virus`` (checked sequences) of the virus ``taxon`` (an NCBI taxid); return the job ID."""
        with self._lock:
            waiting = sum(s["state"] in ("queued", "running") for s in self._status.values())
        if waiting >= self.limits.max_queued:
            raise OverflowError(f"{waiting} jobs are waiting; try again later")
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        status = {
            "id": job_id,
            "state": "queued",
            "created": time.time(),
            "proteins": list(virus),
            "taxon": taxon,
            "total": len(virus),
            "done": 0,
            "warnings": [],
            "error": None,
        }
        if self.inputs is not None:
            status["inputs"] = dict(self.inputs)
        try:
            folder.mkdir()
            write_fasta(folder / "input.fasta", virus)
            with self._lock:
                self._status[job_id] = status
                self._save(job_id)
        except OSError:  # e.g. a full disk: no job, and nothing of it left behind
            with self._lock:
                self._status.pop(job_id, None)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._queue.put(job_id)
        return job_id

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self._run(job_id)
            except Exception as exc:  # a worker must outlive any one job, even one whose failure cannot be saved
                self.fail(job_id, str(exc) or type(exc).__name__)
                shutil.rmtree(self.root / job_id / "parts", ignore_errors=True)  # a failed job is not resumed
            finally:
                self._queue.task_done()

    def _run(self, job_id: str) -> None:
        folder = self.root / job_id
        virus = read_sequences(folder / "input.fasta")
        with self._lock:
            taxon = self._status[job_id].get("taxon")
        self._update(job_id, state="running", started=time.time())
        parts = folder / "parts"
        parts.mkdir(exist_ok=True)
        warnings: list[str] = []

        def warn(message: str) -> None:
            text = " ".join(str(message).split())
            warnings.append(text[9:] if text.startswith("warning: ") else text)

        files = []
        for k, (protein_id, sequence) in enumerate(virus.items()):
            part = parts / f"{k:06d}.tsv"
            if not part.exists():
                scratch = parts / f"{k:06d}.work.tsv"
                self.runner({protein_id: sequence}, scratch, warn, taxon)
                scratch.replace(part)
            files.append(part)
            self._update(job_id, done=k + 1, warnings=list(warnings))
        with atomic_path(folder / "results.tsv") as tmp, open(tmp, "wb") as out:
            for k, part in enumerate(files):
                with open(part, "rb") as fh:
                    header = fh.readline()
                    if k == 0:
                        out.write(header)
                    shutil.copyfileobj(fh, out)
        shutil.rmtree(parts)
        self._update(job_id, state="done", finished=time.time())

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the queue is empty (for tests and scripts); False if ``timeout`` seconds ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        """Stop the workers after the jobs they are running, and release the jobs folder."""
        for _ in self.threads:
            self._queue.put(None)
        self.lock.release()


_STATUS_TYPES: dict[str, Any] = {
    "created": (int, float),
    "total": int,
    "done": int,
    "proteins": list,
    "warnings": list,
}


def _read_status(folder: Path) -> dict[str, Any]:
    """The status of the job in ``folder``, checked; a failed job saying what is wrong if it cannot be read."""
    problem = None
    try:
        status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        problem = "it has no status.json"
    except (OSError, ValueError) as exc:
        problem = f"its status.json cannot be read ({' '.join(str(exc).split())[:200]})"
    else:
        if not isinstance(status, dict):
            problem = "its status.json is not a JSON object"
        elif status.get("id") != folder.name:
            problem = "its status.json names another job"
        elif status.get("state") not in STATES:
            problem = f"its status.json has no valid state ({str(status.get('state'))[:40]!r})"
        else:
            for key, kind in _STATUS_TYPES.items():
                value = status.get(key)
                if not isinstance(value, kind) or isinstance(value, bool):
                    problem = f"its status.json has no valid {key!r}"
                    break
            for key in ("error", "taxon"):
                if status.get(key) is not None and not isinstance(status.get(key), str):
                    problem = f"its status.json has no valid {key!r}"
            if status.get("inputs") is not None and not isinstance(status.get("inputs"), dict):
                problem = "its status.json has no valid 'inputs'"
    if problem is None:
        return status
    try:
        created = folder.stat().st_mtime
    except OSError:
        created = 0.0
    return {
        "id": folder.name,
        "state": "failed",
        "created": created,
        "proteins": [],
        "taxon": None,
        "total": 0,
        "done": 0,
        "warnings": [],
        "error": f"this job's folder is damaged: {problem}; submit the proteins again",
    }


def _other_inputs(recorded: dict[str, str] | None, current: dict[str, str]) -> str:
    """The error of an unfinished job that was started with other inputs than this server's."""
    if not recorded:
        return "this job was started before its inputs were recorded; submit the proteins again"
    changed = [name for name in sorted(set(recorded) | set(current)) if recorded.get(name) != current.get(name)]
    names = {"model": "screening model", "human": "human proteins"}
    what = " and ".join(names.get(n, n) for n in changed)
    return (
        f"this job was started with other {what} than this server has now; it is not finished with other inputs "
        "than it started with: submit the proteins again"
    )

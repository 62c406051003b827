"""Screening jobs of the web page: parsing submitted FASTA, a job folder on disk and worker threads.

Every job lives in ``ROOT/<32 hex digits>/``: ``input.fasta`` (the checked viral proteins),
``status.json`` (state, progress, warnings or the error) and, when finished, ``results.tsv`` (the rows
of ``hvppi screen`` with the screening model, byte for byte). Each viral protein is screened on its own
into ``parts/``, so the progress is known and a server restarted mid-job continues where it stopped;
finished jobs are found again on start-up. Job IDs are random and checked against ``JOB_ID`` before
any folder is touched, so no client-supplied text reaches a file path.
"""

from __future__ import annotations

import gzip
import io
import json
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
from hvppi.io.sequences import read_sequences

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
"""The form of a job ID (``uuid4().hex``)."""

STATES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class Limits:
    """What one submission may hold: request body bytes, viral proteins, residues per protein, queued jobs."""

    max_body_bytes: int = 2_000_000
    max_proteins: int = 100
    max_residues: int = 10_000
    max_queued: int = 1000

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_proteins", "max_residues", "max_queued"):
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


def parse_fasta(data: bytes, filename: str | None, limits: Limits, scratch: Path) -> dict[str, str]:
    """Viral proteins of a submission (FASTA or ``id<TAB>sequence``, plain or gzip), checked as by the CLI.

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
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / f"{uuid.uuid4().hex}.fasta"
    try:
        path.write_bytes(data)
        try:
            sequences = read_sequences(path, allow_duplicates=False)
        except InputError as exc:
            raise InputError(exc.reason, source, exc.line, exc.protein_id) from None
    finally:
        path.unlink(missing_ok=True)
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


Runner = Callable[[dict[str, str], Path, Callable[[str], None], "str | None"], None]
"""Screens viral proteins (ID → sequence) of a virus (NCBI taxid, or None: not given) into a TSV file (with header),
reporting warnings to the callback."""


def write_fasta(path: Path, sequences: dict[str, str]) -> None:
    with atomic_write(path) as fh:
        for pid, seq in sequences.items():
            fh.write(f">{pid}\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))


class JobStore:
    """Jobs on disk under ``root``, run in submission order by ``workers`` threads calling ``runner``."""

    def __init__(self, root: str | Path, runner: Runner, workers: int = 1, limits: Limits | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.runner = runner
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._status: dict[str, dict[str, Any]] = {}
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.threads: list[threading.Thread] = []
        self._recover()
        for k in range(workers):
            thread = threading.Thread(target=self._work, name=f"hvppi-job-worker-{k}", daemon=True)
            thread.start()
            self.threads.append(thread)

    # ---------------------------------------------------------------------------------------- state
    def _recover(self) -> None:
        """Load every job of ``root``; unfinished ones go back on the queue, oldest first."""
        pending = []
        for folder in self.root.iterdir():
            if not (JOB_ID.match(folder.name) and (folder / "status.json").is_file()):
                continue
            try:
                status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if status.get("state") == "done" and not (folder / "results.tsv").is_file():
                status["state"] = "queued"
            self._status[folder.name] = status
            if status.get("state") in ("queued", "running"):
                status["state"] = "queued"
                pending.append(status)
        for status in sorted(pending, key=lambda s: s.get("created", 0)):
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

    def jobs(self) -> list[dict[str, Any]]:
        """Every job's status, newest first."""
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
        folder.mkdir()
        write_fasta(folder / "input.fasta", virus)
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
        with self._lock:
            self._status[job_id] = status
            self._save(job_id)
        self._queue.put(job_id)
        return job_id

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self._run(job_id)
            except Exception as exc:  # a worker must outlive any one job
                self._update(job_id, state="failed", error=" ".join(str(exc).split()) or type(exc).__name__)
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
        """Stop the workers after the jobs they are running."""
        for _ in self.threads:
            self._queue.put(None)

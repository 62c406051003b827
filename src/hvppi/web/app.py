"""The FastAPI application of ``hvppi serve``: an HTTP API and the page that uses it.

API (JSON unless said otherwise; errors are ``{"error": "..."}`` with status 400, 403, 404, 405, 409, 413, 503 or
507, the server's disk full):

* ``GET /api/config``: limits, the human set's size and source, the models, example inputs (each named by its
  viral protein's ID, name, virus and length).
* ``POST /api/jobs``: multipart form with ``fasta`` (text: FASTA, ``id<TAB>sequence`` lines or one bare
  sequence, taken as the protein ``query``) or ``file`` (an upload, plain or gzip), and optionally ``taxon``
  (the NCBI taxid of the proteins' virus, checked as the model checks it: 9606 is refused);
  201 and the job's status. The FASTA is checked as by the CLI; errors name the record.
* ``GET /api/jobs/{id}``: one job's status (``state`` queued/running/done/failed, ``done`` of ``total``
  viral proteins, ``warnings``, ``error``; worded for the page: the CLI's ``--taxon`` is the page's
  "virus" field). There is no list of jobs (``GET /api/jobs`` is 405): a job is seen by whoever has its
  (random, unguessable) ID, which the page keeps in its address (``#job=ID``).
* ``GET /api/jobs/{id}/results?virus_id=V``: ``{"columns": [...], "types": [...], "proteins": [{"id": ..., "rows":
  ...}, ...], "virus_id": V, "rows": [[...], ...], "names": {...}}``: the scorer's columns with their types, the
  job's viral proteins with their number of rows, the rows of one of them (V; the first if not given: one protein
  at a time, so that no request holds a whole job) and the names the training data gives the viral proteins the
  rows cite; ``results.tsv`` and ``results.parquet`` download every row.
  A job whose results file turns out damaged becomes a failed job (409), never a server error.
* ``GET /api/jobs/{id}/alignment?virus_id=V``: the local alignment (Smith–Waterman, BLOSUM62, gap open 11,
  extend 1) of the job's viral protein V with the training viral protein the screening model names as its nearest
  (:mod:`hvppi.web.alignment`): ``query`` and ``target`` (``id``, ``name``, ``length``, 1-based ``start`` and
  ``end``), ``aligned`` (``query`` and ``target`` with ``-`` for gaps, ``match``: ``|`` identical, ``+`` a positive
  BLOSUM62 score), ``columns``, ``matches``, ``positives``, ``gaps``, ``identity`` (over the aligned columns),
  ``identity_shorter`` (over the shorter protein), ``score``, ``similarity`` (the row's ``nearest_similarity``) and
  ``scoring``. 404 where there is no nearest protein close enough to align (or the model names none); 400 for a
  protein over 5,000 residues; 409 for a job not done or ranked by another model than the server's.
* ``GET /api/jobs/{id}/attention?virus_id=V&human_id=H``: per-residue attention of both proteins in
  the towers of the paper's BiLSTM-attention model (``lstm-phv-benchmark`` by default), not the model that
  ranked the rows.

Requests from other web sites are refused (:class:`RequestGuard`): a ``Host`` that is not one of the server's
own names (``ServerConfig.allowed_hosts``; ``hvppi serve`` sets its address, ``localhost``, ``127.0.0.1`` and
``[::1]`` with its port) gets 400, which defeats DNS rebinding; a POST whose ``Origin`` (or, without one,
``Referer``) is not the page's own, or whose ``Sec-Fetch-Site`` is not ``same-origin``, gets 403, which defeats
cross-site form posts. A POST with neither header (curl, scripts: browsers always send ``Origin`` with a POST)
is taken. Every request body over the limit gets 413, with or without ``Content-Length``.

The page and its script and style sheet are files of this package (``hvppi/web/static``); nothing is
fetched from elsewhere, and the OpenAPI pages (/docs, /redoc) are off.
"""

from __future__ import annotations

import contextlib
import errno
import json
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from hvppi.datasets.taxonomy import taxid
from hvppi.io.errors import HvppiError, InputError, ModelFileError
from hvppi.scoring.interface import Scorer, ScreenSettings
from hvppi.scoring.output import digest
from hvppi.scoring.screen import screen
from hvppi.web.alignment import AlignmentRefused, NearestAlignment
from hvppi.web.jobs import JobsFolderLock, JobStore, Limits, parse_fasta
from hvppi.web.results import DamagedResults, ResultsIndex, write_parquet

STATIC = Path(__file__).parent / "static"
"""The page, its script and its style sheet."""

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@dataclass
class ServerConfig:
    """What ``create_app`` serves: the job folder, the human proteins to screen against and the models."""

    jobs_dir: Path
    human: dict[str, str] | None = None
    """Human proteins (ID → sequence); None: the screening model's reference human proteins."""
    human_source: str = "the screening model's reference human proteins"
    model: str | None = None
    """Screening model file or bundled name (None: ``default``)."""
    attention_model: str = "lstm-phv-benchmark"
    workers: int = 1
    threads: int = 1
    limits: Limits = field(default_factory=Limits)
    allowed_hosts: frozenset[str] | None = None
    """``Host`` header values the server answers (lower case, with the port: ``127.0.0.1:8000``); None: any (an
    app used in-process, e.g. by a test client). ``hvppi serve`` always sets them (:func:`served_hosts`)."""


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def served_hosts(host: str, port: int, names: tuple[str, ...] = ()) -> frozenset[str]:
    """The ``Host`` values of a server bound to ``host``:``port``: the bound address, ``localhost``, ``127.0.0.1``
    and ``[::1]`` with the port, for a server on every interface (``0.0.0.0``, ``::``) also the machine's name and
    addresses, and ``names`` (names it is reached by, e.g. through a proxy: with the port unless they give one).
    With port 80 the bare names too (browsers leave out the default port)."""
    import ipaddress
    import socket

    bare = {host.strip("[]").lower(), *LOOPBACK_NAMES}
    try:
        every = ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        every = False
    if every:
        try:
            machine = {socket.gethostname(), socket.getfqdn()}
            bare |= {m.lower() for m in machine if m}
            for name in machine:
                bare |= {str(info[4][0]).lower() for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this asks which address the default route uses
            bare.add(str(probe.getsockname()[0]))
    out = set()
    for name in (*bare, *(n.lower() for n in names)):
        if re.fullmatch(r"(\[[0-9a-f:.]+\]|[^:\[\]]+):[0-9]+", name):  # given with its port
            out.add(name)
            continue
        bracketed = f"[{name.strip('[]')}]" if ":" in name else name
        out.add(f"{bracketed}:{port}")
        if port == 80:
            out.add(bracketed)
    return frozenset(out)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(send: Send, status: int, message: str) -> None:
    """Send ``{"error": message}`` with ``status`` and the security headers (for refusals outside the app)."""
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            + [(b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body})


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestGuard:
    """ASGI middleware that refuses what another web site can make a browser send.

    * ``Host`` not in ``allowed_hosts`` (when given): 400. A page of another site that rebinds its DNS name to this
      machine's address still sends its own name as ``Host``, so it can read nothing here.
    * A state-changing request (POST ...) with ``Sec-Fetch-Site`` other than ``same-origin``/``none``, or whose
      ``Origin`` (or, without one, ``Referer``) is not this server's own origin (``http://`` or ``https://`` and the
      request's ``Host``): 403. Browsers send ``Origin`` with every POST; one without either header comes from a
      program (curl, a script), which could send anything anyway, and is taken.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None = None) -> None:
        self.app, self.allowed_hosts = app, allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for key, value in scope.get("headers") or []:
            headers.setdefault(key.lower(), value)
        host = headers.get(b"host", b"").decode("latin-1").strip().lower()
        if not host or (self.allowed_hosts is not None and host not in self.allowed_hosts):
            shown = sorted(self.allowed_hosts or ())[:3]
            await send_error(
                send,
                400,
                f"this server answers only to its own address ({', '.join(shown)}, ...); the Host "
                f"{host[:60]!r} is refused (a page of another site cannot use it)",
            )
            return
        if scope.get("method", "GET").upper() in UNSAFE_METHODS:
            problem = _cross_site(headers, host)
            if problem:
                await send_error(send, 403, f"refused: {problem} (only this server's own page may submit jobs)")
                return
        await self.app(scope, receive, send)


def _cross_site(headers: dict[bytes, bytes], host: str) -> str | None:
    """Why a state-changing request comes from another site, or None."""
    own = {f"http://{host}", f"https://{host}"}
    site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
    if site and site not in ("same-origin", "none"):
        return f"a {site} request"
    origin = headers.get(b"origin")
    if origin is not None:
        text = origin.decode("latin-1").strip().lower()
        return None if text in own else f"the request comes from {text[:80]!r}"
    referer = headers.get(b"referer")
    if referer is not None:
        try:
            parts = urlsplit(referer.decode("latin-1").strip())
        except ValueError:
            return "the request comes from an unreadable Referer"
        text = f"{parts.scheme}://{parts.netloc}".lower()
        return None if text in own else f"the request comes from {text[:80]!r}"
    return None


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 and a message, before the app sees it.

    A body without ``Content-Length`` (chunked) is read first, up to ``limit`` bytes, and handed to the app only
    if it stays within. An over-long body is read (and dropped) up to ``drain`` bytes so that the browser, still
    sending, receives the answer rather than a broken connection."""

    def __init__(self, app: ASGIApp, limit: int, drain: int = 64 * 2**20) -> None:
        self.app, self.limit, self.drain = app, limit, drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_error(send, 400, "the Content-Length header is not a number")
                return
            if int(declared) > self.limit:
                await self._refuse(int(declared), 0, receive, send)
                return
            await self.app(scope, receive, send)  # the server reads no more than the declared length
            return
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            body = message.get("body", b"")
            seen += len(body)
            if seen > self.limit:
                await self._refuse(None, seen, receive, send, more=message.get("more_body", False))
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, declared: int | None, read: int, receive: Receive, send: Send, more: bool = True) -> None:
        """Drain the body (up to ``drain`` bytes), then answer 413 with its size: ``declared`` by Content-Length, or
        the bytes read (``at least`` them if it was longer than ``drain``)."""
        while more and read <= self.drain:
            message = await receive()
            read += len(message.get("body", b""))
            more = message.get("more_body", False) and message["type"] == "http.request"
        size = f"{_megabytes(declared)}" if declared is not None else f"{'at least ' if more else ''}{_megabytes(read)}"
        await send_error(send, 413, f"the request is {size}; this server takes at most {_megabytes(self.limit)}")


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` first, then whatever ``receive`` gives (e.g. a disconnect)."""
    queued = list(messages)

    async def replayed() -> Message:
        return queued.pop(0) if queued else await receive()

    return replayed


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


_FLAG = r"--(?:taxonomy|taxon|family)(?![\w-])"
_VIRUS_FLAGS = rf"{_FLAG}(?:(?:/|,? (?:or |and )?){_FLAG})*"
"""The CLI's options that give the viral proteins' virus (``--taxon``, ``--family``, ``--taxonomy``), in any of the
ways a message lists them."""
PAGE_WORDING = (
    (
        re.compile(rf"\bgive (?:it|them|the virus|their virus) (?:with|by) (?:{_VIRUS_FLAGS})"),
        'enter the NCBI taxid of the virus in the "virus" field',
    ),
    (re.compile(rf"\b(?:with|by) (?:{_VIRUS_FLAGS})"), 'in the "virus" field'),
    (re.compile(rf"(?:{_VIRUS_FLAGS})"), 'the "virus" field'),
)
"""How the page says what the CLI's messages say with its options: the page's only virus option is its "virus"
field (an NCBI taxid)."""


def for_page(message: str) -> str:
    """A message of the screening code (a warning, a job's error) as the page says it: no CLI options it lacks.

    >>> for_page("the virus of 1 of 1 viral proteins (p) is not given (give it with --taxon, --family or --taxonomy)")
    'the virus of 1 of 1 viral proteins (p) is not given (enter the NCBI taxid of the virus in the "virus" field)'
    >>> for_page("--taxon/--family: taxon 9606 is Homo sapiens, not a virus")
    'the "virus" field: taxon 9606 is Homo sapiens, not a virus'
    """
    for pattern, words in PAGE_WORDING:
        message = pattern.sub(words, message)
    return message


PREFERRED_EXAMPLES = ("P59595", "P03126", "P04601", "P03496")
"""Well-known viral proteins the page's examples start with where the model has them: SARS-CoV N, HPV16 E6,
HIV-1 Nef, influenza A NS1."""


class Screener:
    """The model's scorer, loaded once, ranking against one human set whose side is prepared once."""

    def __init__(self, config: ServerConfig) -> None:
        from hvppi.registry import load_scorer

        self.scorer: Scorer = load_scorer(config.model, threads=config.threads)
        reference = self.scorer.reference_proteins("human")
        self.human = config.human if config.human is not None else reference
        if not self.human:
            raise InputError("this model has no reference human proteins; give the human proteins (--human)")
        self.human_side = self.scorer.prepare_human(self.human)

    def inputs(self) -> dict[str, str]:
        """What a job's rows depend on besides its viral proteins: the model's fingerprint, the human set's digest."""
        return {"model": self.scorer.fingerprint(), "human": digest(self.human)}

    def __call__(self, virus: dict[str, str], out: Path, log: Callable[[str], None], taxon: str | None = None) -> None:
        scorer = self.scorer.with_viruses(list(virus), taxon=taxon) if taxon else self.scorer
        screen(
            scorer,
            virus,
            self.human,
            out,
            ScreenSettings(chunk_size=32),
            progress=False,
            restart=True,
            log=log,
            human_side=self.human_side,
        )

    def name_of(self, protein_id: str) -> str:
        """The protein's name in the training data ('' if none, or if the model keeps no names)."""
        name_of = getattr(self.scorer, "name_of", None)
        return str(name_of(protein_id) or "") if name_of is not None else ""

    def virus_of(self, protein_ids: list[str]) -> list[str]:
        """How the page names each protein's virus ("virus 694009, Coronaviridae"; '' where the model knows none)."""
        taxa_for = getattr(self.scorer, "taxa_for", None)
        if taxa_for is None:
            return [""] * len(protein_ids)
        found = taxa_for(protein_ids)
        return [
            ", ".join(part for part in (f"virus {t}" if t else "", f or "") if part)
            for t, f in zip(found.taxa, found.families)
        ]

    def examples(self, n: int = 3) -> list[dict[str, str]]:
        """A few reference viral proteins of moderate length (well-known ones first, then named ones), one or two
        per example, each named "ID · name · virus · length" ("P59595 · N · virus 694009, Coronaviridae · 422 aa")."""
        viral = self.scorer.reference_proteins("virus")
        fitting = [pid for pid, s in viral.items() if 150 <= len(s) <= 600]
        preferred = [pid for pid in PREFERRED_EXAMPLES if pid in viral and 150 <= len(viral[pid]) <= 600]
        named = [pid for pid in fitting if self.name_of(pid)]
        picked = list(dict.fromkeys([*preferred, *named, *fitting]))[: n + 1]
        names = {pid: self.name_of(pid) for pid in picked}
        viruses = dict(zip(picked, self.virus_of(picked)))

        def fasta(ids: list[str]) -> str:
            return "".join(f">{pid}{' ' + names[pid] if names[pid] else ''}\n{viral[pid]}\n" for pid in ids)

        def label(pid: str) -> str:
            return " · ".join(part for part in (pid, names[pid], viruses[pid], f"{len(viral[pid])} aa") if part)

        out = [{"name": label(pid), "fasta": fasta([pid])} for pid in picked[:n]]
        if len(picked) >= 2:
            both = " and ".join(f"{pid}{' (' + names[pid] + ')' if names[pid] else ''}" for pid in picked[:2])
            out.append({"name": both, "fasta": fasta(picked[:2])})
        return out


class Attention:
    """Per-residue attention of the BiLSTM-attention model's towers: the file checked on creation (a server that
    cannot read it does not start), the weights loaded on first use."""

    def __init__(self, model: str) -> None:
        from hvppi.lstm.modelfile import check_interaction_model

        check_interaction_model(model)
        self.name = model
        self._model: Any = None
        self._lock = threading.Lock()

    def __call__(self, virus: tuple[str, str], human: tuple[str, str]) -> dict[str, Any]:
        from hvppi.lstm.attention import protein_attention
        from hvppi.lstm.modelfile import load_model

        with self._lock:
            if self._model is None:
                self._model, _ = load_model(self.name)
            out: dict[str, Any] = {"model": self.name}
            for tower, (pid, seq) in (("virus", virus), ("human", human)):
                weights = protein_attention(self._model, tower, {pid: seq})[pid]  # type: ignore[arg-type]
                out[tower] = {"id": pid, "sequence": seq, "attention": [round(float(w), 7) for w in weights]}
        return out


@dataclass
class AppState:
    """What the routes share: the settings, the screener, the attention model, the jobs and the alignments."""

    config: ServerConfig
    screener: Screener
    attention: Attention
    jobs: JobStore
    alignment: NearestAlignment
    indexes: dict[str, ResultsIndex] = field(default_factory=dict)
    """The results file of each finished job read so far: where each viral protein's rows lie."""
    reading: threading.Lock = field(default_factory=threading.Lock)
    """Held while a results file is indexed or converted to Parquet (once per job, however many ask at once)."""


# --------------------------------------------------------------------------------------- routes


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.hvppi
    return state


def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


def health() -> dict[str, Any]:
    return {"ok": True}


def server_config(request: Request) -> dict[str, Any]:
    state = app_state(request)
    limits, scorer = state.config.limits, state.screener.scorer
    return {
        "limits": {
            "max_body_bytes": limits.max_body_bytes,
            "max_proteins": limits.max_proteins,
            "max_residues": limits.max_residues,
        },
        "human_proteins": len(state.screener.human),
        "human_source": state.config.human_source,
        "model": state.config.model or "default",
        "attention_model": state.config.attention_model,
        "columns": [name for name, _ in scorer.columns],
        "types": [kind for _, kind in scorer.columns],
        "examples": state.screener.examples(),
    }


async def read_submission(request: Request, limits: Limits) -> tuple[bytes, str | None, str | None]:
    """(data, file name, taxon) of a submitted form; InputError for a form that cannot be read or a bad taxon."""
    try:
        form = await request.form(max_files=1, max_fields=4, max_part_size=limits.max_body_bytes)
    except StarletteHTTPException as exc:
        raise InputError(f"cannot read the form: {exc.detail}") from None
    given = form.get("taxon")
    if given is not None and not isinstance(given, str):
        raise InputError("the virus taxon is a form field (an NCBI taxid), not a file")
    taxon = taxid(given) if isinstance(given, str) else None
    if isinstance(given, str) and given.strip() and taxon is None:
        raise InputError(f"virus taxon {given[:20]!r}: an NCBI taxid is a number (e.g. 2697049 for SARS-CoV-2)")
    for name in ("file", "fasta"):
        value = form.get(name)
        if value is not None and not isinstance(value, str):
            return await value.read(limits.max_body_bytes + 1), value.filename or "uploaded file", taxon
        if isinstance(value, str) and value.strip():
            return value.encode("utf-8"), None, taxon
    return b"", None, taxon


def check_taxon(scorer: Scorer, virus_ids: list[str], taxon: str) -> None:
    """InputError (worded for the page) for a taxon the model refuses (e.g. 9606, human): when submitted, not when
    the job runs."""
    try:
        scorer.with_viruses(virus_ids, taxon=taxon)
    except ValueError as exc:
        raise InputError(for_page(str(exc))) from None


async def submit(request: Request) -> Response:
    state = app_state(request)
    try:
        data, filename, taxon = await read_submission(request, state.config.limits)
        virus = parse_fasta(data, filename, state.config.limits, state.config.jobs_dir / ".incoming")
        if taxon:
            check_taxon(state.screener.scorer, list(virus), taxon)
        job_id = state.jobs.submit(virus, taxon)
    except ClientDisconnect:  # the client left mid-upload: nobody reads an answer
        return Response(status_code=400)
    except OSError as exc:  # e.g. a full disk under the jobs folder (DiskFullError): nothing of the job is left
        problem = "no space left on the server's disk" if exc.errno == errno.ENOSPC else exc.strerror or "an OS error"
        return _error(507, f"the server cannot store the job ({problem}); try again later")
    except InputError as exc:
        return _error(400, for_page(str(exc)))
    except OverflowError as exc:
        return _error(503, str(exc))
    return JSONResponse(_worded(state.jobs.status(job_id)), status_code=201)


def _worded(status: dict[str, Any] | None) -> dict[str, Any] | None:
    """A job's status with its warnings and error worded for the page (:func:`for_page`)."""
    if status is None:
        return None
    warnings = [for_page(str(w)) for w in status.get("warnings") or []]
    error = status.get("error")
    return {**status, "warnings": warnings, "error": for_page(error) if isinstance(error, str) else error}


def _job(state: AppState, job_id: str) -> dict[str, Any]:
    status = _worded(state.jobs.status(job_id))
    if status is None:
        raise StarletteHTTPException(404, "no such job")
    return status


def _damaged(state: AppState, job_id: str, exc: DamagedResults) -> StarletteHTTPException:
    """Fail a job whose results file turned out damaged; the 409 to answer."""
    state.indexes.pop(job_id, None)
    error = state.jobs.without_paths(f"its results file is damaged ({exc}); submit the proteins again")
    state.jobs.fail(job_id, error)
    return StarletteHTTPException(409, f"the job failed: {error}")


def _index(state: AppState, job_id: str) -> ResultsIndex:
    """The index of a finished job's results file, read once (:class:`ResultsIndex`); a damaged file makes the job
    failed (409)."""
    status = _job(state, job_id)
    if status["state"] == "failed":
        raise StarletteHTTPException(409, f"the job failed: {status.get('error')}")
    if status["state"] != "done":
        raise StarletteHTTPException(409, f"the job is {status['state']}, not done")
    with state.reading:
        if job_id not in state.indexes:
            path = state.config.jobs_dir / job_id / "results.tsv"
            try:
                state.indexes[job_id] = ResultsIndex.build(path, state.screener.scorer.columns)
            except DamagedResults as exc:
                raise _damaged(state, job_id, exc) from None
        return state.indexes[job_id]


def _results(state: AppState, job_id: str) -> Path:
    """The results file of a finished job whose shape has been checked (:func:`_index`)."""
    return _index(state, job_id).path


def job_status(request: Request, job_id: str) -> dict[str, Any]:
    return _job(app_state(request), job_id)


def results(request: Request, job_id: str, virus_id: str | None = None) -> Any:
    """The column names and types, the job's viral proteins with their number of rows, and the rows of one of them
    (``virus_id``; the first if not given): one protein at a time, so that no request holds a whole job."""
    state = app_state(request)
    index = _index(state, job_id)
    proteins = index.proteins()
    chosen = proteins[0][0] if virus_id is None and proteins else virus_id
    if chosen is None or chosen not in index.blocks:
        return _error(404, f"no viral protein {str(chosen)[:80]!r} in this job's results")
    try:
        rows = index.rows(chosen)
    except DamagedResults as exc:
        raise _damaged(state, job_id, exc) from None
    data: dict[str, Any] = {"columns": index.columns, "types": index.types, "virus_id": chosen, "rows": rows}
    data["proteins"] = [{"id": pid, "rows": n} for pid, n in proteins]
    return {**data, "names": cited_names(state.screener, data)}


CITED_PROTEINS = ("virus_id", "best_partner_virus", "nearest_training_virus")
"""Columns of viral protein IDs whose names the page shows (the explanation of a row)."""


def cited_names(screener: Screener, data: dict[str, Any]) -> dict[str, str]:
    """ID → name (from the training data) of the viral proteins the rows cite, for those it names."""
    ids: set[str] = {str(p["id"]) for p in data.get("proteins", ())}
    for column in CITED_PROTEINS:
        if column in data["columns"]:
            k = data["columns"].index(column)
            ids.update(str(row[k]) for row in data["rows"])
    names = {pid: screener.name_of(pid) for pid in sorted(ids) if pid}
    return {pid: name for pid, name in names.items() if name}


def results_tsv(request: Request, job_id: str) -> FileResponse:
    return FileResponse(
        _results(app_state(request), job_id),
        media_type="text/tab-separated-values",
        filename=f"hvppi-screen-{job_id[:8]}.tsv",
    )


def results_parquet(request: Request, job_id: str) -> Response:
    state = app_state(request)
    tsv = _results(state, job_id)
    out = tsv.with_suffix(".parquet")
    with state.reading:  # once, however many ask at once
        try:
            if not out.exists():
                write_parquet(tsv, out, state.screener.scorer.columns)
        except ImportError:
            return _error(501, "Parquet needs pyarrow on the server (pip install 'hvppi[parquet]')")
        except (OSError, ValueError) as exc:  # pyarrow's errors are ValueErrors (ArrowInvalid) or OSErrors
            problem = state.jobs.without_paths(str(exc))[:200]
            return _error(409, f"cannot write the job's results as Parquet ({problem})")
    return FileResponse(out, media_type="application/vnd.apache.parquet", filename=f"hvppi-screen-{job_id[:8]}.parquet")


def _job_viral_protein(state: AppState, job_id: str, virus_id: str) -> dict[str, str] | JSONResponse:
    """The job's viral proteins if ``virus_id`` is one of them, else the error response (409 damaged input, 404)."""
    try:
        virus = state.jobs.sequences(job_id)
    except (HvppiError, OSError):
        return _error(409, "this job's input file is damaged or gone; submit the proteins again")
    if virus_id not in virus:
        return _error(404, f"no viral protein {virus_id[:80]!r} in this job")
    return virus


def job_attention(request: Request, job_id: str, virus_id: str, human_id: str) -> Any:
    state = app_state(request)
    _job(state, job_id)
    virus = _job_viral_protein(state, job_id, virus_id)
    if isinstance(virus, JSONResponse):
        return virus
    human = state.screener.human
    if human_id not in human:
        return _error(404, f"no human protein {human_id!r} in this server's human set")
    try:
        return state.attention((virus_id, virus[virus_id]), (human_id, human[human_id]))
    except ModelFileError:  # its weights turned out damaged after the start-up check: the server's fault
        return _error(503, "the server's attention model cannot be read; its owner should check the file")
    except HvppiError as exc:
        return _error(400, str(exc))


def job_alignment(request: Request, job_id: str, virus_id: str) -> Any:
    state = app_state(request)
    results = _results(state, job_id)
    virus = _job_viral_protein(state, job_id, virus_id)
    if isinstance(virus, JSONResponse):
        return virus
    recorded = ((state.jobs.status(job_id) or {}).get("inputs") or {}).get("model")
    if recorded and recorded != state.screener.scorer.fingerprint():
        return _error(
            409,
            "this job was ranked by another model than this server's, so its nearest training viral protein is not "
            "this model's to align; submit the proteins again",
        )
    try:
        return state.alignment(results, state.screener.scorer.columns, virus_id, virus[virus_id])
    except AlignmentRefused as exc:
        return _error(exc.status, str(exc))


ROUTES: tuple[tuple[str, Callable[..., Any], str, int | None], ...] = (
    ("/", index, "GET", None),
    ("/api/health", health, "GET", None),
    ("/api/config", server_config, "GET", None),
    ("/api/jobs", submit, "POST", 201),
    ("/api/jobs/{job_id}", job_status, "GET", None),
    ("/api/jobs/{job_id}/results", results, "GET", None),
    ("/api/jobs/{job_id}/results.tsv", results_tsv, "GET", None),
    ("/api/jobs/{job_id}/results.parquet", results_parquet, "GET", None),
    ("/api/jobs/{job_id}/attention", job_attention, "GET", None),
    ("/api/jobs/{job_id}/alignment", job_alignment, "GET", None),
)
"""Path, handler, method and success status of every route."""


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    response.headers.setdefault("cache-control", "no-store")
    return response


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return _error(500, "internal error")
    response = _error(exc.status_code, str(exc.detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's refusal of a request's parameters, as ``{"error": ...}`` with 400."""
    problems = []
    for error in getattr(exc, "errors", list)()[:3]:
        where = [str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body")]
        kind = {"query": "query parameter", "path": "path parameter"}.get(str((error.get("loc") or ("",))[0]), "field")
        problems.append(f"{kind} {'.'.join(where) or '?'}: {str(error.get('msg', 'invalid')).lower()}")
    return _error(400, "; ".join(problems) or "invalid request")


def create_app(config: ServerConfig, lock: JobsFolderLock | None = None) -> FastAPI:
    """The application; takes the jobs folder's lock (unless given ``lock``, taken already), loads the model and
    starts the job workers (``app.state.jobs``, whose ``close`` releases the folder)."""
    lock = lock or JobsFolderLock(config.jobs_dir)
    try:
        screener = Screener(config)
        attention = Attention(config.attention_model)
        jobs = JobStore(
            config.jobs_dir, screener, workers=config.workers, limits=config.limits, inputs=screener.inputs(), lock=lock
        )
    except BaseException:
        lock.release()
        raise
    app = FastAPI(title="hvppi", docs_url=None, redoc_url=None, openapi_url=None)
    alignment = NearestAlignment(screener.scorer.reference_proteins("virus"), screener.name_of)
    app.state.hvppi = AppState(config, screener, attention, jobs, alignment)
    app.state.jobs = jobs
    app.state.screener = screener
    for path, handler, method, status in ROUTES:
        app.add_api_route(path, handler, methods=[method], status_code=status, include_in_schema=path != "/")
    app.middleware("http")(security_headers)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, limit=config.limits.max_body_bytes)
    app.add_middleware(RequestGuard, allowed_hosts=config.allowed_hosts)  # outermost: before any body is read
    return app

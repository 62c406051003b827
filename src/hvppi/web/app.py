"""The FastAPI application of ``hvppi serve``: an HTTP API and the page that uses it.

API (JSON unless said otherwise; errors are ``{"error": "..."}`` with status 400, 404, 413 or 503):

* ``GET /api/config``: limits, the human set's size and source, the models, example inputs.
* ``POST /api/jobs``: multipart form with ``fasta`` (text) or ``file`` (an upload, plain or gzip), and
  optionally ``taxon`` (the NCBI taxid of the proteins' virus);
  201 and the job's status. The FASTA is checked as by the CLI; errors name the record.
* ``GET /api/jobs``: every job, newest first. ``GET /api/jobs/{id}``: one job's status
  (``state`` queued/running/done/failed, ``done`` of ``total`` viral proteins, ``warnings``, ``error``).
* ``GET /api/jobs/{id}/results``: ``{"columns": [...], "rows": [[...], ...]}`` (the columns of
  the scorer's columns, with their ``types``); ``results.tsv`` and ``results.parquet`` download them.
* ``GET /api/jobs/{id}/attention?virus_id=V&human_id=H``: per-residue attention of both proteins in
  the towers of the BiLSTM-attention model (``lstm-phv-benchmark`` by default).

The page and its script and style sheet are files of this package (``hvppi/web/static``); nothing is
fetched from elsewhere, and the OpenAPI pages (/docs, /redoc) are off.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from hvppi.datasets.taxonomy import taxid
from hvppi.io.errors import HvppiError, InputError
from hvppi.scoring.interface import Column, Scorer, ScreenSettings
from hvppi.scoring.screen import screen
from hvppi.web.jobs import JobStore, Limits, parse_fasta

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


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 and a message, before the app sees it.

    The body is read (and dropped) up to ``drain`` bytes so that the browser, still sending, receives the
    answer rather than a broken connection."""

    def __init__(self, app: ASGIApp, limit: int, drain: int = 64 * 2**20) -> None:
        self.app, self.limit, self.drain = app, limit, drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(int(declared), receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(seen, receive, send)

    async def _refuse(self, size: int, receive: Receive, send: Send) -> None:
        read, more = 0, True
        while more and read <= self.drain:
            message = await receive()
            read += len(message.get("body", b""))
            more = message.get("more_body", False) and message["type"] == "http.request"
        body = json.dumps(
            {"error": f"the request is {_megabytes(size)}; this server takes at most {_megabytes(self.limit)}"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                + [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _typed(value: str, kind: str) -> Any:
    if kind == "float64":
        return float(value)
    if kind in ("int8", "int64"):
        return int(value)
    return value


def read_results(path: Path, columns: tuple[Column, ...]) -> dict[str, Any]:
    """The rows of a results TSV as typed lists, with the column names and types (of ``columns``)."""
    kinds = dict(columns)
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        names = next(reader)
        types = [kinds.get(c, "string") for c in names]
        rows = [[_typed(v, k) for v, k in zip(row, types)] for row in reader]
    return {"columns": names, "types": types, "rows": rows}


def write_parquet(tsv: Path, out: Path, columns: tuple[Column, ...]) -> None:
    """The results TSV as Parquet, with the column types of ``hvppi screen --out X.parquet``."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from hvppi.io.files import atomic_path

    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in columns])
    table = pcsv.read_csv(
        tsv,
        parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pcsv.ConvertOptions(column_types=schema, strings_can_be_null=False),
    )
    with atomic_path(out) as tmp:
        pq.write_table(table.cast(schema), tmp)


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

    def examples(self, n: int = 3) -> list[dict[str, str]]:
        """A few reference viral proteins of moderate length, one or two per example."""
        viral = self.scorer.reference_proteins("virus")
        picked = [pid for pid, s in viral.items() if 150 <= len(s) <= 600][: n + 1]

        def fasta(ids: list[str]) -> str:
            return "".join(f">{pid}\n{viral[pid]}\n" for pid in ids)

        out = [{"name": f"{pid} ({len(viral[pid])} aa)", "fasta": fasta([pid])} for pid in picked[:n]]
        if len(picked) >= 2:
            out.append({"name": f"{picked[0]} and {picked[1]}", "fasta": fasta(picked[:2])})
        return out


class Attention:
    """Per-residue attention of the BiLSTM-attention model's towers, the model loaded on first use."""

    def __init__(self, model: str) -> None:
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
    """What the routes share: the settings, the screener, the attention model and the jobs."""

    config: ServerConfig
    screener: Screener
    attention: Attention
    jobs: JobStore


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


async def submit(request: Request) -> JSONResponse:
    state = app_state(request)
    try:
        data, filename, taxon = await read_submission(request, state.config.limits)
        virus = parse_fasta(data, filename, state.config.limits, state.config.jobs_dir / ".incoming")
        job_id = state.jobs.submit(virus, taxon)
    except InputError as exc:
        return _error(400, str(exc))
    except OverflowError as exc:
        return _error(503, str(exc))
    return JSONResponse(state.jobs.status(job_id), status_code=201)


def list_jobs(request: Request) -> list[dict[str, Any]]:
    return app_state(request).jobs.jobs()


def _job(state: AppState, job_id: str) -> dict[str, Any]:
    status = state.jobs.status(job_id)
    if status is None:
        raise StarletteHTTPException(404, "no such job")
    return status


def _results(state: AppState, job_id: str) -> Path:
    status = _job(state, job_id)
    if status["state"] != "done":
        raise StarletteHTTPException(409, f"the job is {status['state']}, not done")
    return state.config.jobs_dir / job_id / "results.tsv"


def job_status(request: Request, job_id: str) -> dict[str, Any]:
    return _job(app_state(request), job_id)


def results(request: Request, job_id: str) -> dict[str, Any]:
    state = app_state(request)
    return read_results(_results(state, job_id), state.screener.scorer.columns)


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
    if not out.exists():
        try:
            write_parquet(tsv, out, state.screener.scorer.columns)
        except ImportError:
            return _error(501, "Parquet needs pyarrow on the server (pip install 'hvppi[parquet]')")
    return FileResponse(out, media_type="application/vnd.apache.parquet", filename=f"hvppi-screen-{job_id[:8]}.parquet")


def job_attention(request: Request, job_id: str, virus_id: str, human_id: str) -> Any:
    state = app_state(request)
    _job(state, job_id)
    virus = state.jobs.sequences(job_id)
    if virus_id not in virus:
        return _error(404, f"no viral protein {virus_id!r} in this job")
    human = state.screener.human
    if human_id not in human:
        return _error(404, f"no human protein {human_id!r} in this server's human set")
    try:
        return state.attention((virus_id, virus[virus_id]), (human_id, human[human_id]))
    except HvppiError as exc:
        return _error(400, str(exc))


ROUTES: tuple[tuple[str, Callable[..., Any], str, int | None], ...] = (
    ("/", index, "GET", None),
    ("/api/health", health, "GET", None),
    ("/api/config", server_config, "GET", None),
    ("/api/jobs", submit, "POST", 201),
    ("/api/jobs", list_jobs, "GET", None),
    ("/api/jobs/{job_id}", job_status, "GET", None),
    ("/api/jobs/{job_id}/results", results, "GET", None),
    ("/api/jobs/{job_id}/results.tsv", results_tsv, "GET", None),
    ("/api/jobs/{job_id}/results.parquet", results_parquet, "GET", None),
    ("/api/jobs/{job_id}/attention", job_attention, "GET", None),
)
"""Path, handler, method and success status of every route."""


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    response.headers.setdefault("cache-control", "no-store")
    return response


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _error(exc.status_code, str(exc.detail))


def create_app(config: ServerConfig) -> FastAPI:
    """The application; loads the model and starts the job workers (``app.state.jobs``)."""
    screener = Screener(config)
    jobs = JobStore(config.jobs_dir, screener, workers=config.workers, limits=config.limits)
    app = FastAPI(title="hvppi", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hvppi = AppState(config, screener, Attention(config.attention_model), jobs)
    app.state.jobs = jobs
    app.state.screener = screener
    for path, handler, method, status in ROUTES:
        app.add_api_route(path, handler, methods=[method], status_code=status, include_in_schema=path != "/")
    app.middleware("http")(security_headers)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, limit=config.limits.max_body_bytes)
    return app

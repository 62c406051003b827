"""``hvppi serve``: a local web page for screening viral proteins (CLI layer over :mod:`hvppi.web`)."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import math
import os
import socket
from pathlib import Path

from hvppi.cli.options import SEQUENCE_FORMATS, add_threads, log

HELP = "a local web page: paste viral proteins, get ranked human partners"

DESCRIPTION = """\
Serve a small web page (and the HTTP API it uses) on http://HOST:PORT/: paste or upload FASTA of one
or more viral proteins, or pick an example; the job runs in a worker thread (jobs queue), and the
results are a table per viral protein, ranked as by 'hvppi screen' with the screening model, sortable
and filterable, downloadable as TSV or Parquet. Clicking a row shows the per-residue attention of both
proteins in the towers of the BiLSTM-attention model lstm-phv-benchmark.

Jobs are kept under --jobs (a restarted server finds its finished results and continues unfinished
ones started with the same model and human proteins; one started with others fails rather than mix
two human sets). One server at a time uses a --jobs folder. There is no list of jobs: a job's results
are seen by whoever has its random ID (the page keeps it in its address).

The server binds 127.0.0.1 by default and answers only requests addressed to it (the Host header: its
address, localhost, 127.0.0.1 or [::1] with its port, and the names given with --allow-host), so a web
site cannot reach it through DNS rebinding; it refuses job submissions that another site's page makes
the browser send (their Origin is not the page's own). It has no accounts, so bind another address only
on a network you trust. Errors at start-up (port in use, an address that does not resolve, a folder in
use) are one line and exit 2. Needs the web extra: pip install 'hvppi[web]'."""

MAX_UPLOAD_MB = 10_000.0
"""Largest --max-upload-mb (10 GB)."""


def _default_jobs_dir() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "hvppi", "serve-jobs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi serve``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (0: any free port)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another name the server is reached by (e.g. through a proxy), accepted in the Host header; repeatable",
    )
    parser.add_argument(
        "--model", default=None, metavar="FILE", help="screening model file or bundled name (default: default)"
    )
    parser.add_argument(
        "--human",
        metavar="FASTA",
        default=None,
        help=f"human proteins to screen against: {SEQUENCE_FORMATS} (default: the screening model's reference "
        "human proteins)",
    )
    parser.add_argument(
        "--attention-model",
        default="lstm-phv-benchmark",
        metavar="FILE",
        help="BiLSTM-attention model whose towers give the attention profiles",
    )
    parser.add_argument("--jobs", default=_default_jobs_dir(), metavar="DIR", help="folder of the jobs and results")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="jobs run at the same time")
    parser.add_argument("--max-upload-mb", type=float, default=2.0, metavar="MB", help="largest request body")
    parser.add_argument("--max-proteins", type=int, default=100, metavar="N", help="viral proteins per job")
    parser.add_argument("--max-residues", type=int, default=10_000, metavar="N", help="residues per viral protein")
    add_threads(parser, "align")


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket bound to ``host``:``port``; ValueError (one line) if the address does not resolve or
    cannot be bound (port in use, address not of this machine, no permission)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise ValueError(f"--host {host}: cannot resolve this address ({reason})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        where = f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise ValueError(
                f"cannot listen on {where}: the port is in use (another server?); give another --port (0: any free one)"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ValueError(f"cannot listen on {where}: not an address of this machine") from None
        raise ValueError(f"cannot listen on {where} ({exc.strerror or exc})") from None
    return sock


def check_options(args: argparse.Namespace) -> None:
    """ValueError (one line) for an option out of range, before anything is started."""
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must lie in 0..65535, not {args.port}")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    if not (math.isfinite(args.max_upload_mb) and 0 < args.max_upload_mb <= MAX_UPLOAD_MB):
        raise ValueError(
            f"--max-upload-mb must be a number of megabytes in (0, {MAX_UPLOAD_MB:g}], not {args.max_upload_mb}"
        )
    for name in args.allow_host:
        if not name or any(c.isspace() or c in "/@?#" for c in name):
            raise ValueError(f"--allow-host {name!r}: give a host name or address (with :PORT if it differs)")


def run(args: argparse.Namespace) -> int:
    """Check the options, take the jobs folder and the port, load the models, then serve until interrupted."""
    try:
        import uvicorn  # noqa: F401 (checked here, used by serve)

        from hvppi.web.app import ServerConfig, create_app, served_hosts
    except ImportError as exc:
        raise RuntimeError(f"'hvppi serve' needs the web extra (pip install 'hvppi[web]'): {exc}") from None
    from hvppi.io.sequences import read_sequences
    from hvppi.web.jobs import JobsFolderLock, Limits

    check_options(args)
    limits = Limits(
        max_body_bytes=max(int(args.max_upload_mb * 1e6), 1),
        max_proteins=args.max_proteins,
        max_residues=args.max_residues,
    )
    host = args.host.strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    human = read_sequences(args.human, allow_duplicates=False) if args.human else None
    lock = JobsFolderLock(args.jobs)  # before the port and the models: a second server stops at once
    try:
        sock = bind(host, args.port)
    except BaseException:
        lock.release()
        raise
    try:
        if not loopback:
            log(f"warning: binding {args.host}: anyone who can reach this address can submit jobs and read results")
        config = ServerConfig(
            jobs_dir=Path(args.jobs),
            human=human,
            human_source=f"{Path(args.human).name} ({len(human):,} proteins)"
            if human is not None
            else ServerConfig.human_source,
            model=args.model,
            attention_model=args.attention_model,
            workers=args.workers,
            threads=args.threads,
            limits=limits,
            allowed_hosts=served_hosts(host, sock.getsockname()[1], tuple(args.allow_host)),
        )
        log("loading the models ...")
        app = create_app(config, lock)
    except BaseException:
        sock.close()
        lock.release()
        raise
    log(f"jobs and results in {config.jobs_dir}")
    try:
        serve(app, sock)
    finally:
        app.state.jobs.close()
        sock.close()
    return 0


def serve(app: object, sock: socket.socket) -> None:
    """Serve ``app`` on the bound ``sock`` with uvicorn until interrupted; print the address once listening."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))  # type: ignore[arg-type]
    original_startup = server.startup

    async def startup(sockets: list | None = None) -> None:
        await original_startup(sockets)
        for s in server.servers:
            for bound in s.sockets:
                host, port = bound.getsockname()[:2]
                shown = f"[{host}]" if ":" in str(host) else host
                print(f"hvppi serve: http://{shown}:{port}/", flush=True)

    server.startup = startup  # type: ignore[method-assign]
    server.run(sockets=[sock])

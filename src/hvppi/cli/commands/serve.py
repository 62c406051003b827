"""``hvppi serve``: a local web page for screening viral proteins (CLI layer over :mod:`hvppi.web`)."""

from __future__ import annotations

import argparse
import ipaddress
import os
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
ones). The server binds 127.0.0.1 by default; it has no accounts, so bind another address only on a
network you trust. Needs the web extra: pip install 'hvppi[web]'."""


def _default_jobs_dir() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "hvppi", "serve-jobs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi serve``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (0: any free port)")
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


def run(args: argparse.Namespace) -> int:
    """Load the models, then serve until interrupted."""
    try:
        import uvicorn

        from hvppi.web.app import ServerConfig, create_app
    except ImportError as exc:
        raise RuntimeError(f"'hvppi serve' needs the web extra (pip install 'hvppi[web]'): {exc}") from None
    from hvppi.io.sequences import read_sequences
    from hvppi.web.jobs import Limits

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must lie in 0..65535, not {args.port}")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    if not args.max_upload_mb > 0:
        raise ValueError("--max-upload-mb must be positive")
    limits = Limits(
        max_body_bytes=int(args.max_upload_mb * 1e6), max_proteins=args.max_proteins, max_residues=args.max_residues
    )
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        log(f"warning: binding {args.host}: anyone who can reach this address can submit jobs and read results")
    human = read_sequences(args.human, allow_duplicates=False) if args.human else None
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
    )
    log("loading the models ...")
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False))
    log(f"jobs and results in {config.jobs_dir}")

    original_startup = server.startup

    async def startup(sockets: list | None = None) -> None:
        await original_startup(sockets)
        for s in server.servers:
            for sock in s.sockets:
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in str(host) else host
                print(f"hvppi serve: http://{shown}:{port}/", flush=True)

    server.startup = startup  # type: ignore[method-assign]
    server.run()
    app.state.jobs.close()
    return 0

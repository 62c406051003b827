"""``hvppi screen``: every viral protein against every human protein (CLI layer over :mod:`hvppi.scoring.screen`)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hvppi.scoring.interface import Scorer

from hvppi.cli.options import (
    SEQUENCE_FORMATS,
    add_embeddings,
    add_model,
    add_run_options,
    embedding_paths,
    log,
    resolve_device_for,
)

HELP = "score every viral protein against every human protein"

DESCRIPTION = """\
Rank human proteins for each viral protein. Writes rows grouped by viral protein in input order, rank 1
first, to a TSV, or Parquet if OUT ends in .parquet. Results stream to OUT.parts/ as they come; an
interrupted screen, run again with the same arguments, continues where it stopped. Prints a JSON summary.

With the screening model (the default), the rows are virus_id, human_id, rank, score (log-odds),
probability (the share of such pairs that were known partners, calibrated out of fold on training viral
proteins held out from the trees: over every human candidate, most of which have no known partner; a
probability of 1 is never given, and for an unseen viral protein it is a rough guide, see the model card's
reliability table; for a pair already in the training data (known) it is the model's score mapped by the same
calibration, which never saw a protein's own pairs: not a measured probability, and above about 0.43 beyond the
range the table checks), and the evidence: best_partner_virus (the training viral partner of this human protein
most similar to the query) and best_partner_similarity (their normalised Smith-Waterman similarity, 1 =
identical), nearest_training_virus, nearest_similarity and nearest_identity (the training viral protein most
similar to the query; identity of their global alignment) and nearest_binds (1 if that protein has this
human partner), then virus_taxon and virus_family (the query's virus as used), same_virus_partners (how many
training proteins of the same virus bind this human protein), known (the sources of a pair already in the
training data: the query is a training viral protein and this is its partner; empty otherwise) and evidence
(the same in words; similarities under 0.1 are not cited). A viral protein longer than every training viral
protein, or whose scores barely vary, is warned about.

The screening model uses the virus a protein comes from: proteins of one virus share human partners.
Give it with --taxon (an NCBI taxid, e.g. 2697049 for SARS-CoV-2; its family is looked up) and/or
--family (e.g. Coronaviridae) for all viral proteins, or --taxonomy FILE per protein (a table with
columns virus_id and taxon and/or family, or PSI-MITAB; where its rows give a protein several taxa or
families, the most rows win, and a warning names the protein, the rows and the one used). Without them,
a viral protein whose UniProt accession is one of the training proteins' takes that protein's virus; the
others are ranked without it (a warning says how many).

The screening model's first screen against a set of human proteins compares them with its reference human
proteins (~34 s for the default 13,655 on one core, ~21 s with --threads 2) and keeps the result in a cache
folder ($HVPPI_CACHE_DIR, else $XDG_CACHE_HOME/hvppi or ~/.cache/hvppi; 63 MB for the default set; the 3
most recent sets; HVPPI_CACHE_DIR=off: none); later screens against the same human proteins, with any viral
proteins, read it (S, N, ORF3a, M, E of SARS-CoV-2 against the default set: ~1 s). A finished OUT of the same
inputs, settings and model is recognised and not recomputed.

With a BiLSTM-attention model (--model lstm-phv-benchmark or a file of 'hvppi train'), each protein is
encoded once and only the head runs per pair; rows are human_id, virus_id, score, call, rank. That model
learned the benchmark's negatives and ranks human proteins almost alike for every virus (see the model
card). A model trained on per-protein embeddings needs --human-embeddings/--virus-embeddings: files of
the embedder it names, holding every protein screened (files of another embedder are refused).

With --dask local:N (N local worker processes) or --dask ADDRESS (a running dask.distributed scheduler,
e.g. tcp://host:8786, or its scheduler file *.json), the screen runs as one task per tile of
--human-block x --virus-block pairs on the workers; tiles go to OUT.tiles/ (which every worker must
see), a re-run skips finished tiles, and OUT is the same as without --dask. Needs: pip install
'hvppi[dask]'."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi screen``."""
    parser.add_argument("--virus", required=True, metavar="FASTA", help=f"viral proteins: {SEQUENCE_FORMATS}")
    parser.add_argument(
        "--human",
        metavar="FASTA",
        help=f"human proteins: {SEQUENCE_FORMATS} (default: the model's own human proteins; for the screening model "
        "the human universe it was trained on: every human protein with a sequence in the shared data, most without "
        "a known viral partner)",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="output .tsv or .parquet")
    add_model(parser, interaction_only=False)
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        metavar="K",
        help="keep the K best human proteins per viral protein (default: all)",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=None,
        metavar="S",
        help="keep pairs whose probability is at least S (default: all)",
    )
    parser.add_argument(
        "--human-vectors", metavar="H5", help="BiLSTM models: reuse and extend human tower vectors of 'hvppi encode'"
    )
    parser.add_argument(
        "--virus-vectors", metavar="H5", help="BiLSTM models: reuse and extend viral tower vectors of 'hvppi encode'"
    )
    parser.add_argument(
        "--restart", action="store_true", help="discard an unfinished screen at OUT instead of continuing it"
    )
    parser.add_argument(
        "--dask",
        metavar="SPEC",
        default=None,
        help="run on a Dask cluster: local:N (N local worker processes) or a scheduler address or file",
    )
    parser.add_argument(
        "--human-block",
        type=int,
        default=2000,
        metavar="N",
        help="with --dask: human proteins per tile (default: 2000)",
    )
    parser.add_argument(
        "--virus-block",
        type=int,
        default=64,
        metavar="N",
        help="with --dask: viral proteins per tile (default: 64)",
    )
    add_virus_options(parser)
    add_embeddings(parser)
    add_run_options(parser, "models")


def add_virus_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--taxon``, ``--family`` and ``--taxonomy``: the virus of the viral proteins (screening model)."""
    parser.add_argument(
        "--taxon", metavar="TAXID", help="screening model: NCBI taxid of the virus of every viral protein"
    )
    parser.add_argument("--family", metavar="NAME", help="screening model: virus family of every viral protein")
    parser.add_argument(
        "--taxonomy",
        action="append",
        default=[],
        metavar="FILE",
        help="screening model: taxon and family of each viral protein (table or PSI-MITAB; repeatable)",
    )


def load_scorer_for(args: argparse.Namespace, virus_ids: list[str]) -> Scorer:
    """The scorer of ``--model`` with this command's run-time options and the viral proteins' viruses bound."""
    from hvppi.datasets.taxonomy import read_virus_taxonomy
    from hvppi.io.bundled import model_kind, resolve_model_path
    from hvppi.registry import load_scorer

    screening = model_kind(resolve_model_path(args.model)) == "screening"
    scorer = load_scorer(
        args.model,
        threads=args.threads,
        device="cpu" if screening else resolve_device_for(args),  # the screening model needs no PyTorch
        embedding_files=embedding_paths(args),
        vector_files={"human": getattr(args, "human_vectors", None), "virus": getattr(args, "virus_vectors", None)},
    )
    if getattr(args, "taxonomy", None) and (getattr(args, "taxon", None) or getattr(args, "family", None)):
        raise ValueError("give the virus either for all (--taxon/--family) or per protein (--taxonomy), not both")
    taxonomy = read_virus_taxonomy(args.taxonomy) if getattr(args, "taxonomy", None) else None
    return scorer.with_viruses(virus_ids, getattr(args, "taxon", None), getattr(args, "family", None), taxonomy)


def run(args: argparse.Namespace) -> int:
    """Screen and print the summary as JSON."""
    from hvppi.io.sequences import header_name, read_sequences
    from hvppi.scoring.interface import ScreenSettings
    from hvppi.scoring.screen import screen

    settings = ScreenSettings(top_k=args.top_k, min_score=args.min_score)
    headers: dict[str, str] = {}
    virus = read_sequences(args.virus, allow_duplicates=False, descriptions=headers)
    human = read_sequences(args.human, allow_duplicates=False, descriptions=headers) if args.human else None
    scorer = load_scorer_for(args, list(virus))
    scorer = scorer.with_names({pid: name for pid, header in headers.items() if (name := header_name(header))})
    if human is None:
        human = scorer.reference_proteins("human")
        if not human:
            raise ValueError("this model keeps no human proteins: give them with --human")
        log(f"ranking the model's {len(human):,} human proteins (--human to give others)")
    try:
        if args.dask:
            summary = _run_dask(args, scorer, virus, human, settings)
        else:
            summary = screen(
                scorer, virus, human, args.out, settings, progress=not args.quiet, restart=args.restart, log=log
            )
    finally:
        scorer.close()
    print(json.dumps(summary, indent=2))
    return 0


def _run_dask(
    args: argparse.Namespace, scorer: Scorer, virus: dict[str, str], human: dict[str, str], settings: Any
) -> dict:
    from hvppi.scoring.distributed import dask_client, screen_distributed

    scorer.portable()  # refuses what cannot go to the workers before a cluster starts
    for flag, value in (("--human-block", args.human_block), ("--virus-block", args.virus_block)):
        if value < 1:  # before a cluster starts, too
            raise ValueError(f"{flag} {value}: give a positive number of proteins per tile")
    with dask_client(args.dask, log=log) as client:
        return screen_distributed(
            client,
            scorer,
            virus,
            human,
            args.out,
            settings,
            human_block=args.human_block,
            virus_block=args.virus_block,
            progress=not args.quiet,
            restart=args.restart,
            log=log,
        )

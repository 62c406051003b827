"""``hvppi screen``: every viral protein against every human protein (CLI layer over :mod:`hvppi.ppi.screening`)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hvppi.ppi.screening import ScreenSettings

from hvppi.cli.options import (
    SEQUENCE_FORMATS,
    add_embeddings,
    add_model,
    add_run_options,
    load_embeddings_for,
    load_model_for,
    log,
    refuse_embeddings,
)

HELP = "score every viral protein against every human protein"

DESCRIPTION = """\
Rank human proteins for each viral protein. Writes rows grouped by viral protein in input order, rank 1
first, to a TSV, or Parquet if OUT ends in .parquet. Results stream to OUT.parts/ as they come; an
interrupted screen, run again with the same arguments, continues where it stopped. Prints a JSON summary.

With the screening model (the default), the rows are virus_id, human_id, rank, score (log-odds),
probability (calibrated on held-out viral proteins), and the evidence: best_partner_virus (the training
viral partner of this human protein most similar to the query) and best_partner_similarity (their
normalised Smith-Waterman similarity, 1 = identical), nearest_training_virus, nearest_similarity and
nearest_identity (the training viral protein most similar to the query; identity of their global
alignment) and nearest_binds (1 if that protein has this human partner), then virus_taxon and
virus_family (the query's virus as used) and same_virus_partners (how many training proteins of the
same virus bind this human protein). A viral protein longer than every training viral protein, or
whose scores barely vary, is warned about.

The screening model uses the virus a protein comes from: proteins of one virus share human partners.
Give it with --taxon (an NCBI taxid, e.g. 2697049 for SARS-CoV-2; its family is looked up) and/or
--family (e.g. Coronaviridae) for all viral proteins, or --taxonomy FILE per protein (a table with
columns virus_id and taxon and/or family, or PSI-MITAB). Without them, a viral protein whose UniProt
accession is one of the training proteins' takes that protein's virus; the others are ranked without
it (a warning says how many).

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
    parser.add_argument("--human", required=True, metavar="FASTA", help=f"human proteins: {SEQUENCE_FORMATS}")
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
    add_embeddings(parser)
    add_run_options(parser)


def taxa_for(args: argparse.Namespace, model: Any, virus_ids: list[str]) -> Any:
    """The virus and family of each viral protein from --taxon/--family/--taxonomy (see the description)."""
    from hvppi.datasets.taxonomy import read_virus_taxonomy
    from hvppi.ppi.screen_model import ViralTaxa

    if args.taxonomy and (args.taxon or args.family):
        raise ValueError("give the virus either for all (--taxon/--family) or per protein (--taxonomy), not both")
    try:
        if args.taxon or args.family:
            return model.taxa_of(virus_ids, taxon=args.taxon, family=args.family)
    except ValueError as exc:
        raise ValueError(f"--taxon/--family: {exc}") from None
    by_accession = model.taxa_of(virus_ids)
    if not args.taxonomy:
        return by_accession
    table = read_virus_taxonomy(args.taxonomy)
    resolved: dict[tuple[str | None, str | None], tuple[str | None, str | None]] = {}
    taxa, families = [], []
    for k, virus_id in enumerate(virus_ids):
        given = table.of(virus_id)
        if given == (None, None):
            taxon, family = by_accession.taxa[k], by_accession.families[k]
        else:
            if given not in resolved:  # the family of a taxon, and the reference's spelling of a family
                one = model.taxa_of([virus_id], taxon=given[0], family=given[1])
                resolved[given] = (one.taxa[0], one.families[0])
            taxon, family = resolved[given]
        taxa.append(taxon)
        families.append(family)
    return ViralTaxa(taxa, families)


def refuse_taxonomy(args: argparse.Namespace) -> None:
    if args.taxon or args.family or args.taxonomy:
        raise ValueError("--taxon/--family/--taxonomy are inputs of the screening model only")


def run(args: argparse.Namespace) -> int:
    """Screen and print the summary as JSON."""
    from hvppi.io.sequences import read_sequences
    from hvppi.ppi.modelfile import model_kind, resolve_model_path
    from hvppi.ppi.screening import ScreenSettings, screen
    from hvppi.ppi.vectors import VectorStore

    settings = ScreenSettings(top_k=args.top_k, min_score=args.min_score)
    if args.dask:
        return _run_dask(args, settings)
    if model_kind(resolve_model_path(args.model)) == "screening":
        return _run_screening(args, settings)
    from hvppi.ppi.inference import warn_long_proteins

    refuse_taxonomy(args)
    model, info, device = load_model_for(args)
    virus = read_sequences(args.virus, allow_duplicates=False)
    human = read_sequences(args.human, allow_duplicates=False)
    embeddings = load_embeddings_for(args, info, {"human": human, "virus": virus}, {**human, **virus})
    if not model.config.towers and (args.human_vectors or args.virus_vectors):
        raise ValueError("--human-vectors/--virus-vectors hold tower vectors, and this model has no towers")
    if model.config.towers:
        warn_long_proteins(virus, virus, log)
        warn_long_proteins(human, human, log)
    stores = [
        VectorStore(args.human_vectors, "human", info.require_file_sha256()) if args.human_vectors else None,
        VectorStore(args.virus_vectors, "virus", info.require_file_sha256()) if args.virus_vectors else None,
    ]
    try:
        summary = screen(
            model,
            info,
            virus,
            human,
            args.out,
            settings,
            device,
            progress=not args.quiet,
            human_store=stores[0],
            virus_store=stores[1],
            restart=args.restart,
            log=log,
            embeddings=embeddings,
        )
    finally:
        for store in stores:
            if store is not None:
                store.close()
    print(json.dumps(summary, indent=2))
    return 0


def _run_screening(args: argparse.Namespace, settings: ScreenSettings) -> int:
    from hvppi.io.sequences import read_sequences
    from hvppi.ppi.modelfile import load_screening_model
    from hvppi.ppi.screening import screen_with_screening_model

    if args.human_vectors or args.virus_vectors:
        raise ValueError("--human-vectors/--virus-vectors are for BiLSTM-attention models, not the screening model")
    refuse_embeddings(args, "the screening model")
    model = load_screening_model(args.model)
    if args.threads:
        model.config = replace(model.config, threads=args.threads)
    virus = read_sequences(args.virus, allow_duplicates=False)
    human = read_sequences(args.human, allow_duplicates=False)
    summary = screen_with_screening_model(
        model,
        virus,
        human,
        args.out,
        replace(settings, chunk_size=32),
        progress=not args.quiet,
        restart=args.restart,
        log=log,
        taxa=taxa_for(args, model, list(virus)),
    )
    print(json.dumps(summary, indent=2))
    return 0


def _run_dask(args: argparse.Namespace, settings: ScreenSettings) -> int:
    from hvppi.io.sequences import read_sequences
    from hvppi.ppi.distributed import dask_client, screen_distributed
    from hvppi.ppi.modelfile import load_model, load_screening_model, model_kind, resolve_model_path

    if args.human_vectors or args.virus_vectors:
        raise ValueError("--human-vectors/--virus-vectors are not used with --dask (each tile's workers encode)")
    info = None
    model: Any
    if model_kind(resolve_model_path(args.model)) == "screening":
        refuse_embeddings(args, "the screening model")
        model = load_screening_model(args.model)
        if args.threads:
            model.config = replace(model.config, threads=args.threads)
    else:
        refuse_taxonomy(args)
        model, info = load_model(args.model)
        if model.config.uses_embeddings or not model.config.towers:
            raise ValueError("--dask runs models without per-protein embeddings only; screen this model without --dask")
        refuse_embeddings(args, f"{info.path}")
    virus = read_sequences(args.virus, allow_duplicates=False)
    human = read_sequences(args.human, allow_duplicates=False)
    taxa = taxa_for(args, model, list(virus)) if info is None else None  # before starting any cluster
    with dask_client(args.dask, log=log) as client:
        summary = screen_distributed(
            client,
            model,
            virus,
            human,
            args.out,
            settings,
            info=info,
            human_block=args.human_block,
            virus_block=args.virus_block,
            progress=not args.quiet,
            restart=args.restart,
            log=log,
            taxa=taxa,
        )
    print(json.dumps(summary, indent=2))
    return 0

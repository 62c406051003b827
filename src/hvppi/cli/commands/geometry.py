"""``hvppi geometry``: isotropy and alignment correlation of embeddings (CLI layer over :mod:`hvppi.geometry.isotropy`)."""

from __future__ import annotations

import argparse
import json
import sys

from hvppi.cli.options import HelpFormatter, add_quiet, add_threads

HELP = "isotropy and alignment correlation of protein embeddings"

DESCRIPTION = """\
Embedding geometry after Hakim, Roy & Rahman (2025): isotropy of embedding sets (IsoScore, effective
dimensions, average cosine similarity), a report comparing several sets, and how embedding similarity
correlates with global alignment of the sequences."""

ISOTROPY_DESCRIPTION = """\
Isotropy of one embedding set in one streaming float64 pass (per-residue H5 and NPY sets of millions
of residues are never held in memory; a single-array NPZ is read whole). Prints JSON (also to --json)
with:

n, d; avg_cosine: exact mean cosine similarity over all pairs of distinct points (zero vectors left
out, counted in zero_vectors); participation_ratio PR = (tr C)^2/||C||_F^2 of the covariance C;
isoscore = (PR - 1)/(d - 1); effective_dims = isoscore*(d - 1) + 1 and effective_dims_ceil (rounded
up, as the paper reports them); isoscore_star and effective_dims_star: the same of C shrunk toward
(tr C/d) I with the Ledoit-Wolf intensity 'shrinkage' (use them when the points are not many more
than d).

Global points (default): one vector per protein; per-residue files are mean-pooled per protein.
--local: one point per residue (needs a per-residue file). Rows of NPY files are the points either
way. NaN/inf values, d = 1, fewer than 2 points and all-identical points are errors."""

ALIGN_CORR_DESCRIPTION = """\
Sample proteins that have both a sequence and an embedding (1% by default, as the paper; or
--count), and for every pair compute the Needleman-Wunsch global alignment score with PAM250 (gap
open 10, extend 1: a gap of length L costs 10 + (L - 1); end gaps as inner gaps), identity (matches /
alignment columns including gaps), cosine similarity, cosine distance and squared Euclidean distance
(float64). Writes to OUT_DIR: correlations.json, pearson.tsv and spearman.tsv (5 x 5 matrices),
by_identity.tsv (the same within identity bins, with the pairs of each bin), proteins.txt (the
sample), hexbin_*.png (titled with the embedding and sequence files), and alignment.npz (the
alignments; a rerun with the same sample reuses them). The files are moved in together at the end, so
a failed run leaves OUT_DIR as it was; until then the alignments are kept in OUT_DIR.parts/, from
which a rerun resumes. 3,578 proteins make 6.4 million pairs.

An identity bin with fewer than --min-bin-pairs pairs (default 30) gets no correlations: they are nan
in by_identity.tsv (null in correlations.json), and a warning names the bin."""

REPORT_DESCRIPTION = """\
A table as the paper's: per embedding set its dimension, and for global (per-protein) and local
(per-residue) points the IsoScore, effective dimensions (raw and rounded up) and average cosine;
IsoScore* in a second table, and the effective dimensions published for ProtBERT and ProteinBERT.
With --accuracy TSV (header set<TAB>metric..., one row per set, as scripts/isotropy_vs_accuracy.py
writes), each metric becomes a column next to the set's geometry. Writes OUT_DIR/report.md, report.json and isotropy.png. Give sets as
--set NAME=GLOBAL[,LOCAL] (repeat), or --sets TSV with rows name<TAB>global[<TAB>local] (paths
relative to the TSV). GLOBAL may be per-protein or per-residue (then mean-pooled); local points come
from LOCAL, or from GLOBAL itself when it is per-residue."""

FILES_HELP = (
    "H5 (UniProt per-protein.h5 / per-residue.h5, bio_embeddings, 'hvppi embed' or 'hvppi encode' "
    "files: one dataset per protein), NPY (a 2-d array, rows are points) or NPZ (one 2-d array, or one "
    "array per protein ID)"
)


def run_isotropy(args: argparse.Namespace) -> int:
    """Measure one set and print (and write) the JSON."""
    from hvppi.geometry.readers import measure_isotropy
    from hvppi.io.files import atomic_write

    result = measure_isotropy(args.embeddings, local=args.local, chunk_rows=args.chunk_rows, progress=not args.quiet)
    record = {"file": args.embeddings, "points": "local" if args.local else "global", **result.to_dict()}
    text = json.dumps(record, indent=2)
    if args.json:
        with atomic_write(args.json) as fh:
            fh.write(text + "\n")
    print(text)
    return 0


def parse_identity_bins(text: str | None) -> list[float]:
    """The edges of ``--identity-bins`` ('' or None: no bins): numbers strictly between 0 and 1, increasing,
    each once; a ValueError naming the option otherwise."""
    edges = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        try:
            edges.append(float(item))
        except ValueError:
            raise ValueError(f"--identity-bins {text!r}: {item.strip()!r} is not a number") from None
    if any(not 0 < e < 1 for e in edges):  # NaN fails too
        raise ValueError(f"--identity-bins {text!r}: bin edges must lie strictly between 0 and 1")
    if any(a >= b for a, b in zip(edges, edges[1:])):
        raise ValueError(f"--identity-bins {text!r}: bin edges must increase, each given once (e.g. 0.3,0.5)")
    return edges


def run_align_corr(args: argparse.Namespace) -> int:
    """Correlate alignment with embedding similarity and write the tables and plots."""
    from hvppi.geometry.align_corr import VARIABLES, run_alignment_correlation
    from hvppi.io.validation import require_int

    require_int("--seed", args.seed, minimum=0)
    bins = parse_identity_bins(args.identity_bins)
    result = run_alignment_correlation(
        args.sequences,
        args.embeddings,
        args.out_dir,
        fraction=args.fraction,
        count=args.count,
        seed=args.seed,
        identity_bins=bins,
        threads=args.threads,
        progress=not args.quiet,
        plots=not args.no_plots,
        min_bin_pairs=args.min_bin_pairs,
    )
    if result.small_bins:
        named = ", ".join(f"{b['bin']} ({b['n_pairs']} pairs)" for b in result.small_bins)
        print(
            f"warning: identity bins with fewer than {args.min_bin_pairs} pairs, correlations left out (nan in "
            f"by_identity.tsv): {named}",
            file=sys.stderr,
        )
    i, j = VARIABLES.index("score"), VARIABLES.index("cosine_similarity")
    k = VARIABLES.index("squared_euclidean")
    print(
        f"{len(result.ids)} proteins, {result.n_pairs:,} pairs: alignment score vs cosine similarity Pearson "
        f"{result.pearson[i, j]:+.3f} Spearman {result.spearman[i, j]:+.3f}; vs squared Euclidean Pearson "
        f"{result.pearson[i, k]:+.3f} Spearman {result.spearman[i, k]:+.3f}. Wrote {args.out_dir}/correlations.json, "
        "pearson.tsv, spearman.tsv, by_identity.tsv" + ("" if args.no_plots else " and hexbin_*.png"),
        file=sys.stderr,
    )
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Measure several sets and write the report."""
    from hvppi.geometry.report import geometry_report, markdown_table, parse_set, read_accuracy, read_set_list

    sets = [parse_set(s) for s in args.set or []]
    for listing in args.sets or []:
        sets += read_set_list(listing)
    if not sets:
        raise ValueError("give at least one --set NAME=GLOBAL[,LOCAL] or --sets TSV")
    accuracy = read_accuracy(args.accuracy) if args.accuracy else None
    rows = geometry_report(sets, args.out_dir, chunk_rows=args.chunk_rows, progress=not args.quiet, accuracy=accuracy)
    print(markdown_table(rows), end="")
    print(f"wrote report.md, report.json and isotropy.png to {args.out_dir}", file=sys.stderr)
    return 0


def _add_chunk_rows(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--chunk-rows",
        type=int,
        default=None,
        metavar="N",
        help="points per streamed chunk (default: 64 MB of float64, at least 1024 rows)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the analyses of ``hvppi geometry`` (isotropy, align-corr, report) and their options."""
    analyses = parser.add_subparsers(dest="subcommand", required=True, metavar="ANALYSIS")

    p = analyses.add_parser(
        "isotropy",
        help="isotropy metrics of one embedding set",
        description=ISOTROPY_DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument("embeddings", metavar="EMBEDDINGS", help=FILES_HELP)
    p.add_argument("--local", action="store_true", help="per-residue points instead of per-protein vectors")
    p.add_argument("--json", metavar="OUT.json", help="also write the JSON here")
    _add_chunk_rows(p)
    add_quiet(p)
    p.set_defaults(analysis_run=run_isotropy)

    p = analyses.add_parser(
        "align-corr",
        help="correlate embedding similarity with global alignment",
        description=ALIGN_CORR_DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--sequences", required=True, metavar="FILE", help="sequences (FASTA or id<TAB>sequence, gzip ok)")
    p.add_argument(
        "--embeddings",
        required=True,
        metavar="FILE",
        help="embeddings keyed by the same IDs: H5 or NPZ with one array per ID (per-residue: mean-pooled)",
    )
    p.add_argument("--out-dir", required=True, metavar="DIR", help="output folder")
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--fraction",
        type=float,
        default=0.01,
        metavar="F",
        help="share of the proteins with both a sequence and an embedding to sample; the paper's is 1%%",
    )
    size.add_argument("--count", type=int, default=None, metavar="N", help="sample N proteins instead")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument(
        "--identity-bins",
        default="0.3",
        metavar="E1,E2,...",
        help="identity bin edges (0.3: low < 0.3 <= high); '' for no bins",
    )
    p.add_argument(
        "--min-bin-pairs",
        type=int,
        default=30,
        metavar="N",
        help="identity bins with fewer pairs get no correlations (nan in by_identity.tsv, and a warning)",
    )
    add_threads(p, "align")
    p.add_argument("--no-plots", action="store_true", help="skip the hexbin PNGs")
    add_quiet(p)
    p.set_defaults(analysis_run=run_align_corr)

    p = analyses.add_parser(
        "report",
        help="compare several embedding sets (Markdown, JSON, PNG)",
        description=REPORT_DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--set", action="append", metavar="NAME=GLOBAL[,LOCAL]", help="one embedding set; repeat")
    p.add_argument("--sets", action="append", metavar="TSV", help="a list of sets: name<TAB>global[<TAB>local]")
    p.add_argument("--out-dir", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--accuracy",
        metavar="TSV",
        default=None,
        help="accuracy per set (header set<TAB>metric...), added as columns (default: none)",
    )
    _add_chunk_rows(p)
    add_quiet(p)
    p.set_defaults(analysis_run=run_report)


def run(args: argparse.Namespace) -> int:
    """Run the chosen analysis."""
    return args.analysis_run(args)

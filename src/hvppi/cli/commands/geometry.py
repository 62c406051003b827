"""``hvppi geometry``: isotropy and alignment correlation of embeddings (CLI layer over :mod:`hvppi.geometry.isotropy`)."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

FILES_HELP = (
    "H5 (UniProt per-protein.h5 / per-residue.h5, bio_embeddings, 'hvppi embed' or 'hvppi encode' "
    "files: one dataset per protein), NPY (a 2-d array, rows are points) or NPZ (one 2-d array, or one "
    "array per protein ID)"
)


def cmd_isotropy(args) -> int:
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


def cmd_align_corr(args) -> int:
    from hvppi.geometry.align_corr import VARIABLES, run_alignment_correlation

    bins = [float(x) for x in args.identity_bins.split(",") if x.strip()] if args.identity_bins else []
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


def cmd_report(args) -> int:
    from hvppi.geometry.report import geometry_report, markdown_table, parse_set, read_set_list

    sets = [parse_set(s) for s in args.set or []]
    for listing in args.sets or []:
        sets += read_set_list(listing)
    if not sets:
        raise ValueError("give at least one --set NAME=GLOBAL[,LOCAL] or --sets TSV")
    rows = geometry_report(sets, args.out_dir, chunk_rows=args.chunk_rows, progress=not args.quiet)
    print(markdown_table(rows), end="")
    print(f"wrote report.md, report.json and isotropy.png to {args.out_dir}", file=sys.stderr)
    return 0


def _paragraphs(*texts: str) -> str:
    return "\n\n".join(textwrap.fill(t, 100) for t in texts)


def register(sub, run_options) -> None:
    """Add the ``geometry`` subcommand; its options need no device, so ``run_options`` is not used."""
    parser = sub.add_parser(
        "geometry",
        help="isotropy and alignment correlation of protein embeddings",
        description="Embedding geometry after Hakim, Roy & Rahman (2025): isotropy of embedding sets (IsoScore, "
        "effective dimensions, average cosine similarity), a report comparing several sets, and how embedding "
        "similarity correlates with global alignment of the sequences.",
    )
    geometry = parser.add_subparsers(dest="geometry_command", required=True, metavar="ANALYSIS")

    def common(p):
        p.add_argument(
            "--chunk-rows",
            type=int,
            default=None,
            metavar="N",
            help="points per streamed chunk (default: 64 MB of float64, at least 1024 rows)",
        )
        p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = geometry.add_parser(
        "isotropy",
        help="isotropy metrics of one embedding set",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_paragraphs(
            "Isotropy of one embedding set in one streaming float64 pass (per-residue H5 and NPY sets of millions of "
            "residues are never held in memory; a single-array NPZ is read whole). Prints JSON (also to --json) with:",
            "n, d; avg_cosine: exact mean cosine similarity over all pairs of distinct points (zero vectors left out, "
            "counted in zero_vectors); participation_ratio PR = (tr C)^2/||C||_F^2 of the covariance C; isoscore = "
            "(PR - 1)/(d - 1); effective_dims = isoscore*(d - 1) + 1 and effective_dims_ceil (rounded up, as the "
            "paper reports them); isoscore_star and effective_dims_star: the same of C shrunk toward (tr C/d) I with "
            "the Ledoit-Wolf intensity 'shrinkage' (use them when the points are not many more than d).",
            "Global points (default): one vector per protein; per-residue files are mean-pooled per protein. "
            "--local: one point per residue (needs a per-residue file). Rows of NPY files are the points either way. "
            "NaN/inf values, d = 1, fewer than 2 points and all-identical points are errors.",
        ),
    )
    p.add_argument("embeddings", metavar="EMBEDDINGS", help=FILES_HELP)
    p.add_argument("--local", action="store_true", help="per-residue points instead of per-protein vectors")
    p.add_argument("--json", metavar="OUT.json", help="also write the JSON here")
    common(p)
    p.set_defaults(func=cmd_isotropy)

    p = geometry.add_parser(
        "align-corr",
        help="correlate embedding similarity with global alignment",
        description="Sample proteins that have both a sequence and an embedding (default 1%%, as the paper; or "
        "--count), and for every pair compute the Needleman-Wunsch global alignment score with PAM250 (gap open 10, "
        "extend 1: a gap of length L costs 10 + (L - 1); end gaps as inner gaps), identity (matches / alignment "
        "columns including gaps), cosine similarity, cosine distance and squared Euclidean distance (float64). "
        "Writes to OUT_DIR: correlations.json, pearson.tsv and spearman.tsv (5 x 5 matrices), by_identity.tsv "
        "(the same within identity bins), proteins.txt (the sample), hexbin_*.png, and alignment.npz (the "
        "alignments; a rerun with the same sample reuses them). 3,578 proteins make 6.4 million pairs.",
    )
    p.add_argument("--sequences", required=True, metavar="FILE", help="sequences (FASTA or id<TAB>sequence, gzip ok)")
    p.add_argument(
        "--embeddings",
        required=True,
        metavar="FILE",
        help="embeddings keyed by the same IDs: H5 or NPZ with one array per ID (per-residue: mean-pooled)",
    )
    p.add_argument("--out-dir", required=True, metavar="DIR")
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--fraction",
        type=float,
        default=0.01,
        help="share of the proteins with both a sequence and an embedding to sample (default 0.01)",
    )
    size.add_argument("--count", type=int, default=None, metavar="N", help="sample N proteins instead")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    p.add_argument(
        "--identity-bins",
        default="0.3",
        metavar="E1,E2,...",
        help="identity bin edges (default 0.3: low < 0.3 <= high); '' for no bins",
    )
    p.add_argument("--threads", type=int, default=1, metavar="N", help="alignment threads (default 1; 0: all CPUs)")
    p.add_argument("--no-plots", action="store_true", help="skip the hexbin PNGs")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_align_corr)

    p = geometry.add_parser(
        "report",
        help="compare several embedding sets (Markdown, JSON, PNG)",
        description="A table as the paper's: per embedding set its dimension, and for global (per-protein) and "
        "local (per-residue) points the IsoScore, effective dimensions (raw and rounded up) and average cosine; "
        "IsoScore* in a second table. Writes OUT_DIR/report.md, report.json and isotropy.png. Give sets as "
        "--set NAME=GLOBAL[,LOCAL] (repeat), or --sets TSV with rows name<TAB>global[<TAB>local] (paths relative "
        "to the TSV). GLOBAL may be per-protein or per-residue (then mean-pooled); local points come from LOCAL, "
        "or from GLOBAL itself when it is per-residue.",
    )
    p.add_argument("--set", action="append", metavar="NAME=GLOBAL[,LOCAL]", help="one embedding set; repeat")
    p.add_argument("--sets", action="append", metavar="TSV", help="a list of sets: name<TAB>global[<TAB>local]")
    p.add_argument("--out-dir", required=True, metavar="DIR")
    common(p)
    p.set_defaults(func=cmd_report)

"""``hvppi attention``: per-residue attention, its enrichment in regions and at an interface (CLI layer over
:mod:`hvppi.lstm.attention` and :mod:`hvppi.lstm.structure`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hvppi.cli.options import SEQUENCE_FORMATS, add_model, add_run_options, load_model_for, prepare_output

HELP = "per-residue attention: export, plots, region and structure analyses"

DESCRIPTION = """\
Export one tower's attention weights per residue (OUT_DIR/attention.tsv and attention.h5) and plot
profiles (OUT_DIR/profiles/, titled with the protein, the model and the sequence file). With --annotations (TSV: protein_id, start, end, label; 1-based
inclusive), test whether attention is higher inside the regions (circular-shift permutation p-values
per protein and pooled; OUT_DIR/enrichment.tsv). With --structure, compare the attention of
--protein with each residue's minimum heavy-atom distance to the partner chain (Spearman rho;
attention mass within --contact-cutoff; OUT_DIR/structure.tsv and structure_profile.png). Everything
is summed up in OUT_DIR/attention_report.json."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi attention``."""
    parser.add_argument("--sequences", required=True, metavar="FILE", help=f"proteins: {SEQUENCE_FORMATS}")
    parser.add_argument("--tower", required=True, choices=["human", "virus"], help="which tower's attention")
    parser.add_argument("--out-dir", required=True, metavar="DIR", help="output folder")
    add_model(parser)
    parser.add_argument("--plots", type=int, default=20, metavar="N", help="profile plots for the first N proteins")
    regions = parser.add_argument_group("regions")
    regions.add_argument("--annotations", metavar="TSV", help="regions: protein_id, start, end, label")
    regions.add_argument(
        "--permutations", type=int, default=9999, metavar="N", help="circular shifts of the permutation test"
    )
    regions.add_argument("--seed", type=int, default=0, help="seed of the permutations")
    structure = parser.add_argument_group("structure")
    structure.add_argument("--structure", metavar="PDB|CIF", help="complex structure (PDB or mmCIF)")
    structure.add_argument("--chain", help="chain of --protein in the structure")
    structure.add_argument("--partner", help="partner chain in the structure")
    structure.add_argument("--protein", help="ID (in --sequences) of the protein in --chain")
    structure.add_argument(
        "--contact-cutoff",
        type=float,
        default=8.0,
        metavar="Å",
        help="residues this close to the partner (min heavy-atom distance) are at the interface",
    )
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    """Compute the attention and write the outputs."""
    from hvppi.evaluation.plots import model_label, plot_subtitle
    from hvppi.io.sequences import read_sequences
    from hvppi.lstm.attention import protein_attention, read_annotations, write_attention_report

    if args.structure and not (args.chain and args.partner and args.protein):
        raise ValueError("--structure needs --chain, --partner and --protein")
    model, info, device = load_model_for(args)
    sequences = read_sequences(args.sequences, allow_duplicates=False)
    if args.protein and args.protein not in sequences:
        raise ValueError(f"--protein {args.protein!r} is not in {args.sequences}")
    regions = read_annotations(args.annotations, sequences) if args.annotations else []
    structure = None
    if args.structure:
        structure = {
            "structure_path": args.structure,
            "chain": args.chain,
            "partner": args.partner,
            "protein_id": args.protein,
            "cutoff": args.contact_cutoff,
        }
    prepare_output(args.out_dir, is_dir=True)
    attention = protein_attention(model, args.tower, sequences, device, progress=not args.quiet)
    report = write_attention_report(
        args.out_dir,
        attention,
        sequences,
        args.tower,
        info.path,
        info.require_file_sha256(),
        regions=regions,
        permutations=args.permutations,
        seed=args.seed,
        plots=args.plots,
        structure=structure,
        subtitle=f"{plot_subtitle([model_label(args.model)], [Path(args.sequences).name])}, {args.tower} tower",
    )
    pooled = report.get("enrichment_pooled")
    if pooled is not None:
        print(
            f"regions: mean attention inside − outside, pooled over {pooled['proteins']} proteins: "
            f"{pooled.get('mean_difference', float('nan')):.3g} "
            f"(permutation p = {pooled.get('p_value', float('nan')):.3g})"
        )
    if "structure" in report:
        s = report["structure"]
        print(
            f"structure: Spearman rho(attention, distance) = {s['spearman_rho']:.3f}; attention within "
            f"{args.contact_cutoff:g} Å: {s['attention_mass_within_cutoff']:.3f} (uniform: {s['expected_mass_uniform']:.3f})"
        )
    written = "attention.tsv, attention.h5, profiles/"
    written += ", enrichment.tsv" if pooled is not None else ""
    written += ", structure.tsv, structure_profile.png" if "structure" in report else ""
    print(f"wrote {written} and attention_report.json to {args.out_dir}", file=sys.stderr)
    return 0

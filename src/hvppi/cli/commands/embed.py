"""``hvppi embed``: per-protein and per-residue embeddings to H5 (CLI layer over :mod:`hvppi.geometry.embedders`)."""

from __future__ import annotations

import argparse
import json
import sys

DESCRIPTION = """\
Embed proteins with a protein language model or one of hvppi's own encoders and write H5 files in
UniProt's layout: one float32 dataset per protein (named by its ID, '/' written '%2F'), shape (d,) in
the per-protein file (--out) and (L, d) in the per-residue file (--per-residue). These are the files
'hvppi geometry' reads.

--model is one of:
  a HuggingFace model, by hub name or local directory (needs pip install 'hvppi[embed]'):
    Rostlab/prot_bert, Rostlab/prot_bert_bfd   ProtBERT / ProtBERT-BFD (U, Z, O, B read as X)
    Rostlab/prot_xlnet                          ProtXLNet (U, Z, O, B read as X)
    facebook/esm2_t6_8M_UR50D ... esm2_t48_15B  ESM-2
  The family is read from the model's config (model_type bert, xlnet or esm); the per-protein vector
  is the mean of the last hidden states over the residue tokens only (no [CLS]/<cls>, [SEP]/<sep>,
  <eos> or padding). A hub name needs network access or a copy in the HuggingFace cache; offline,
  download the model elsewhere (hf download NAME --local-dir DIR) and give DIR.
  hvppi-features      the 7 z-scored Guo 2008 properties per residue; per protein their mean (d = 7)
  hvppi-tower-human   the human tower of an hvppi model (--hvppi-model, default the bundled one):
  hvppi-tower-virus   per protein its 64-d attention-pooled vector, per residue its BiLSTM outputs

ProteinBERT (TensorFlow) is not supported.

Proteins are batched by length. Work goes to OUT.part and is renamed to OUT when done: an
interrupted run, started again with the same arguments, continues where it stopped, and an existing
OUT of the same embedder is extended (proteins already in it with the same sequence are skipped).
"""


def cmd_embed(args) -> int:
    import torch

    from hvppi.geometry.embedders import embed_sequences, load_embedder
    from hvppi.io.errors import InputError
    from hvppi.io.sequences import read_sequences

    if args.threads:
        torch.set_num_threads(args.threads)
    sequences = read_sequences(args.sequences, allow_duplicates=False)
    embedder = load_embedder(args.model, hvppi_model=args.hvppi_model, device=args.device, label=args.name)
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


def register(sub, run_options) -> None:
    """Add the ``embed`` subcommand; ``run_options(p)`` adds --device/--threads/--quiet."""
    p = sub.add_parser(
        "embed",
        help="per-protein (and per-residue) embeddings of a protein language model or of hvppi's own encoders, to H5",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sequences", required=True, metavar="FILE", help="proteins (FASTA or id<TAB>sequence, gzip ok)")
    p.add_argument(
        "--model",
        required=True,
        metavar="NAME_OR_DIR",
        help="HuggingFace hub name or model directory, hvppi-features, hvppi-tower-human or hvppi-tower-virus",
    )
    p.add_argument("--out", required=True, metavar="H5", help="per-protein embeddings (created or extended)")
    p.add_argument("--per-residue", metavar="H5", help="also write per-residue embeddings here")
    p.add_argument(
        "--hvppi-model",
        metavar="FILE",
        default=None,
        help="model of hvppi-tower-*: a model file, or a bundled model: default (the default) or viral-disjoint",
    )
    p.add_argument(
        "--name",
        metavar="LABEL",
        default=None,
        help="label of the embedder in the output files (default: the --model name; a directory's own name)",
    )
    p.add_argument(
        "--batch-residues",
        type=int,
        default=None,
        metavar="N",
        help="at most N padded residues per batch (default 4096 for HuggingFace models, 65536 for hvppi's "
        "encoders); a longer protein goes alone",
    )
    p.add_argument("--restart", action="store_true", help="discard an unfinished OUT.part instead of continuing it")
    run_options(p)
    p.set_defaults(func=cmd_embed)

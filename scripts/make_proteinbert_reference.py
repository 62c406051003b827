"""Make the Keras reference fixture for tests/test_proteinbert.py (tests/data/proteinbert_tiny/).

Run with a Python that has TensorFlow 2.15 (Keras 2) and protein-bert 1.0.1, not hvppi's venv:

    python3 -m venv /tmp/tfvenv
    printf 'tensorflow==2.15.1\\nnumpy<2\\nkeras<2.16\\ntensorflow-addons==0.23.0\\n' > /tmp/c.txt
    /tmp/tfvenv/bin/pip install -c /tmp/c.txt tensorflow protein-bert==1.0.1
    /tmp/tfvenv/bin/python scripts/make_proteinbert_reference.py

It builds a tiny ProteinBERT with protein-bert's own ``create_model``, gives every weight a random value,
and writes ``tiny.pkl`` in the layout of the published checkpoint, ``(n_annotations, model_weights,
optimizer_weights)``, and ``reference.npz``: the input sequences, protein-bert's tokens, the outputs of
``get_model_with_hidden_layers_as_outputs`` (local: all sequence layers concatenated; global: all global
layers concatenated), the Keras weight names in ``get_weights()`` order for the tiny model and for the
paper's configuration, and the versions used.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf
from proteinbert.conv_and_global_attention_model import (
    create_model,
    get_model_with_hidden_layers_as_outputs,
)
from proteinbert.model_generation import InputEncoder, tokenize_seqs
from proteinbert.tokenization import n_tokens

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "proteinbert_tiny"
SEQ_LEN = 40
CONFIG = {
    "d_hidden_seq": 8,
    "d_hidden_global": 12,
    "n_blocks": 2,
    "n_heads": 2,
    "d_key": 3,
    "conv_kernel_size": 9,
    "wide_conv_dilation_rate": 5,
}
N_ANNOTATIONS = 5
SEQUENCES = ["MKTAYIAKQR", "ACDEFGHIKLMNPQRSTUVWXYBZ", "M", "GSHMSLFDLFRGFFGFPGPRSHRDPFFGGMTRDEDDDE"]


def main() -> None:
    rng = np.random.default_rng(12)
    tf.random.set_seed(12)
    model = create_model(SEQ_LEN, n_tokens, N_ANNOTATIONS, **CONFIG)
    names = [w.name.removesuffix(":0") for w in model.weights]
    weights = []
    for name, w in zip(names, model.get_weights()):
        scale = 0.5 if name.endswith(("bias", "beta")) else 0.4
        value = rng.normal(0.0, scale, w.shape) + (1.0 if name.endswith("gamma") else 0.0)
        weights.append(value.astype(np.float32))
    model.set_weights(weights)
    hidden = get_model_with_hidden_layers_as_outputs(model)
    tokens = tokenize_seqs(SEQUENCES, SEQ_LEN)
    x = InputEncoder(N_ANNOTATIONS).encode_X(SEQUENCES, SEQ_LEN)
    local, global_ = hidden.predict(x, verbose=0)
    paper = create_model(SEQ_LEN, n_tokens, 8943)
    paper_names = [w.name.removesuffix(":0") for w in paper.weights]
    optimizer_weights = [np.array(1000, dtype=np.int64)] + [np.zeros_like(w) for w in weights] * 2
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "tiny.pkl", "wb") as fh:
        pickle.dump((N_ANNOTATIONS, weights, optimizer_weights), fh)
    import keras
    import proteinbert

    versions = {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "protein-bert": getattr(proteinbert, "__version__", "1.0.1"),
    }
    np.savez_compressed(
        OUT / "reference.npz",
        sequences=np.array(SEQUENCES),
        tokens=tokens,
        local=local.astype(np.float32),
        global_=global_.astype(np.float32),
        weight_names=np.array(names),
        paper_weight_names=np.array(paper_names),
        config=np.array(json.dumps({"seq_len": SEQ_LEN, "n_annotations": N_ANNOTATIONS, **CONFIG})),
        versions=np.array(json.dumps(versions)),
    )
    print(f"wrote {OUT}: local {local.shape}, global {global_.shape}, {versions}")


if __name__ == "__main__":
    main()

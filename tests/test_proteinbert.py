"""ProteinBERT: the restricted unpickler, the checkpoint converter, and the PyTorch port against Keras.

``tests/data/proteinbert_tiny`` was made by scripts/make_proteinbert_reference.py with TensorFlow 2.15.1,
Keras 2.15.0 and protein-bert 1.0.1: a tiny randomly initialised model built by protein-bert's own
``create_model``, saved as ``(n_annotations, model_weights, optimizer_weights)`` like the published
checkpoint, and the outputs of its ``get_model_with_hidden_layers_as_outputs``.
"""

import json
import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, safe_open, save_file

from hvppi.cli import main
from hvppi.io.errors import HvppiError, ModelFileError
from hvppi.pretrained.proteinbert import (
    ProteinBertConfig,
    ProteinBertEmbedder,
    convert_checkpoint,
    keras_weight_layout,
    load_proteinbert,
    tokenize,
)
from hvppi.pretrained.safe_pickle import UnsafePickleError, load_numpy_pickle

TINY = Path(__file__).parent / "data" / "proteinbert_tiny"
REFERENCE = np.load(TINY / "reference.npz")
REFERENCE_CONFIG = json.loads(str(REFERENCE["config"]))
SIZES = {"d_seq": 6, "d_global": 10, "n_blocks": 2, "n_heads": 2, "d_key": 4, "kernel": 5, "n_annotations": 7}


def original_layout_weights(rng, d_seq, d_global, n_blocks, n_heads, d_key, kernel, n_annotations, vocab=26):
    """Arrays in the order of Keras ``get_weights()`` for protein-bert's ``create_model``, written out by hand."""
    d_value = d_global // n_heads
    shapes = [(n_annotations, d_global), (d_global,), (vocab, d_seq)]
    for _ in range(n_blocks):
        shapes += [
            (d_global, d_seq), (d_seq,),  # global-to-seq-dense
            (kernel, d_seq, d_seq), (d_seq,),  # narrow-conv
            (kernel, d_seq, d_seq), (d_seq,),  # wide-conv
            (d_seq,), (d_seq,),  # seq-merge1-norm
            (d_seq, d_seq), (d_seq,),  # seq-dense
            (d_seq,), (d_seq,),  # seq-merge2-norm
            (d_global, d_global), (d_global,),  # global-dense1
            (n_heads, d_global, d_key), (n_heads, d_seq, d_key), (n_heads, d_seq, d_value),  # global-attention
            (d_global,), (d_global,),  # global-merge1-norm
            (d_global, d_global), (d_global,),  # global-dense2
            (d_global,), (d_global,),  # global-merge2-norm
        ]  # fmt: skip
    shapes += [(d_seq, vocab), (vocab,), (d_global, n_annotations), (n_annotations,)]
    return [rng.normal(0, 0.3, shape).astype(np.float32) for shape in shapes]


@pytest.fixture
def tiny_checkpoint(tmp_path):
    weights = original_layout_weights(np.random.default_rng(3), **SIZES)
    optimizer = [np.array(7, dtype=np.int64)] + [np.zeros_like(w) for w in weights]
    path = tmp_path / "tiny.pkl"
    path.write_bytes(pickle.dumps((SIZES["n_annotations"], weights, optimizer), protocol=4))
    return path, weights


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def malicious(tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps((5, [np.zeros(3, np.float32), Payload(marker)], []), protocol=4))
    assert b"system" in path.read_bytes()
    return path, marker


def test_checkpoint_converts_and_round_trips(tiny_checkpoint, tmp_path):
    pkl, weights = tiny_checkpoint
    out = tmp_path / "tiny.safetensors"
    config = convert_checkpoint(pkl, out, seq_len=30, wide_conv_dilation_rate=3)
    assert config == ProteinBertConfig(
        seq_len=30,
        d_hidden_seq=6,
        d_hidden_global=10,
        n_blocks=2,
        n_heads=2,
        d_key=4,
        conv_kernel_size=5,
        wide_conv_dilation_rate=3,
        n_annotations=7,
    )
    with safe_open(str(out), framework="pt") as fh:
        document = json.loads(fh.metadata()["hvppi"])
    assert document["format"] == "hvppi-proteinbert" and document["config"]["seq_len"] == 30
    state = load_file(str(out))
    assert len(state) == len(weights) == 7 + 23 * 2
    # a few by hand: Dense kernels are transposed, Conv1D kernels (k, in, out) become (out, in, k)
    np.testing.assert_array_equal(state["global_input.weight"].numpy(), weights[0].T)
    np.testing.assert_array_equal(state["embedding.weight"].numpy(), weights[2])
    np.testing.assert_array_equal(state["blocks.1.wide_conv.weight"].numpy(), weights[23 + 7].transpose(2, 1, 0))
    np.testing.assert_array_equal(state["blocks.0.attention.wv"].numpy(), weights[3 + 16])
    np.testing.assert_array_equal(state["blocks.1.global_norm2.bias"].numpy(), weights[23 + 25])
    np.testing.assert_array_equal(state["output_annotations.bias"].numpy(), weights[-1])
    for (_, key, way), array in zip(keras_weight_layout(config), weights):
        expected = array.T if way == "dense" else array.transpose(2, 1, 0) if way == "conv" else array
        np.testing.assert_array_equal(state[key].numpy(), expected)
    from_pkl = ProteinBertEmbedder(pkl, device="cpu")
    from_safetensors = ProteinBertEmbedder(out, device="cpu")
    assert from_pkl.fingerprint != from_safetensors.fingerprint  # seq_len 512 against 30
    convert_checkpoint(pkl, tmp_path / "default.safetensors")
    assert ProteinBertEmbedder(tmp_path / "default.safetensors", device="cpu").fingerprint == from_pkl.fingerprint
    model, loaded = load_proteinbert(pkl, seq_len=30, wide_conv_dilation_rate=3)
    assert loaded == config
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, from_safetensors.model.state_dict()[key])
    seqs = ["MKV", "ACDEFGHIKLMNPQRSTVWY"]
    vectors, residues = from_safetensors.embed(seqs, residues=True)
    assert vectors.shape == (2, config.global_dim) == (2, 10 * 5 + 7) and vectors.dtype == np.float32
    assert [r.shape for r in residues] == [(3, 6 * 4 + 26), (20, 6 * 4 + 26)]
    assert from_safetensors.max_length == 28 and from_pkl.max_length == 510 and from_pkl.name == "proteinbert"


def test_port_agrees_with_keras(tmp_path):
    out = tmp_path / "tiny.safetensors"
    config = convert_checkpoint(TINY / "tiny.pkl", out, seq_len=REFERENCE_CONFIG["seq_len"])
    assert {k: getattr(config, k) for k in REFERENCE_CONFIG} == REFERENCE_CONFIG
    assert [name for name, _, _ in keras_weight_layout(config)] == list(REFERENCE["weight_names"])
    paper = [name for name, _, _ in keras_weight_layout(ProteinBertConfig())]
    assert paper == list(REFERENCE["paper_weight_names"]) and len(paper) == 145
    sequences = [str(s) for s in REFERENCE["sequences"]]
    tokens = tokenize(sequences, config.seq_len)
    np.testing.assert_array_equal(tokens, REFERENCE["tokens"])
    embedder = ProteinBertEmbedder(out, device="cpu", label="tiny")
    with torch.inference_mode():
        local, global_ = embedder.model(torch.from_numpy(tokens))
    assert np.abs(local.numpy() - REFERENCE["local"]).max() < 1e-5
    assert np.abs(global_.numpy() - REFERENCE["global_"]).max() < 1e-5
    vectors, residues = embedder.embed(sequences, residues=True)
    assert embedder.dim == REFERENCE["global_"].shape[1] and embedder.residue_dim == REFERENCE["local"].shape[2]
    np.testing.assert_allclose(vectors, REFERENCE["global_"], rtol=0, atol=1e-5)
    for i, sequence in enumerate(sequences):
        np.testing.assert_allclose(residues[i], REFERENCE["local"][i, 1 : len(sequence) + 1], rtol=0, atol=1e-5)


def test_malicious_pickle_is_refused_and_creates_nothing(malicious, tmp_path):
    path, marker = malicious
    before = sorted(os.listdir(tmp_path))
    refused = f"{path}: refused to load: the pickle asks for {os.system.__module__}.system; only NumPy arrays"
    for attempt in (
        lambda: convert_checkpoint(path, tmp_path / "out.safetensors"),
        lambda: ProteinBertEmbedder(path, device="cpu"),
        lambda: load_numpy_pickle(path),
    ):
        with pytest.raises(UnsafePickleError) as info:
            attempt()
        assert str(info.value).startswith(refused) and "\n" not in str(info.value)
    assert not marker.exists() and sorted(os.listdir(tmp_path)) == before


class ForgedDtype:
    """A void dtype whose pickled state sets the flags of a dtype of Python object pointers."""

    def __reduce__(self):
        return (np.dtype, ("V8", False, True), (3, "|", None, None, None, 8, 1, 0x3F))


class ForgedArray:
    def __reduce__(self):
        reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
        return (reconstruct, (np.ndarray, (0,), b"b"), (1, (1,), ForgedDtype(), False, b"\x11" * 8))


def test_unpickler_admits_arrays_only(tmp_path):
    data = (3, [np.arange(6, dtype=">f8").reshape(2, 3).T, np.float32(2.5), np.ones(2, "i4,f2")], {"a": b"x"})
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"ok{protocol}.pkl"
        path.write_bytes(pickle.dumps(data, protocol=protocol))
        loaded = load_numpy_pickle(path)
        np.testing.assert_array_equal(loaded[1][0], data[1][0])
        assert loaded[1][1] == np.float32(2.5) and loaded[1][2].dtype == data[1][2].dtype and loaded[2] == {"a": b"x"}
    cases = {
        "objects.pkl": (pickle.dumps(np.array([1, "a"], dtype=object)), "an array of Python objects"),
        "forged.pkl": (pickle.dumps([ForgedArray()], protocol=4), "an array of Python objects"),
        "class.pkl": (pickle.dumps(ProteinBertConfig), "the pickle asks for hvppi.pretrained.proteinbert"),
        "subclass.pkl": (pickle.dumps(np.ma.zeros(2)), "the pickle asks for numpy.ma.core"),
    }
    for name, (raw, reason) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(UnsafePickleError, match=reason):
            load_numpy_pickle(tmp_path / name)


def test_damaged_and_foreign_checkpoints_fail_in_one_line(tiny_checkpoint, tmp_path):
    pkl, weights = tiny_checkpoint
    raw = pkl.read_bytes()
    text = tmp_path / "notes.pkl"
    text.write_text("not a pickle\n")
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(raw[: len(raw) // 2])
    short = tmp_path / "short.pkl"
    short.write_bytes(pickle.dumps((7, weights[:-1], [])))
    swapped = tmp_path / "swapped.pkl"
    swapped.write_bytes(pickle.dumps((7, [weights[0], weights[1], weights[2], weights[4], *weights[4:]], [])))
    cases = {
        text: "neither a ProteinBERT pickle",
        truncated: "truncated or damaged",
        short: "holds 52 model weights",
        swapped: r"model weight 3 \(global-to-seq-dense-block1/kernel\) has shape \[6\]",
        tmp_path / "missing.pkl": "no such ProteinBERT weights file",
        tmp_path: "is a directory",
    }
    for path, reason in cases.items():
        with pytest.raises(ModelFileError, match=reason) as info:
            ProteinBertEmbedder(path, device="cpu")
        assert "\n" not in str(info.value)
    out = tmp_path / "tiny.safetensors"
    convert_checkpoint(pkl, out)
    state = load_file(str(out))
    with safe_open(str(out), framework="pt") as fh:
        document = json.loads(fh.metadata()["hvppi"])
    document["config"]["d_key"] = 5
    save_file(state, str(out), metadata={"hvppi": json.dumps(document)})
    with pytest.raises(ModelFileError, match=r"blocks.0.attention.wq has shape \[2, 10, 4\]; the configuration needs"):
        ProteinBertEmbedder(out, device="cpu")
    with pytest.raises(HvppiError, match="would overwrite the checkpoint"):
        convert_checkpoint(pkl, pkl)


def _embed(*args):
    return main(["embed", *map(str, args), "--quiet"])


def test_cli_embeds_with_a_checkpoint_and_refuses_a_malicious_one(malicious, tmp_path, capsys):
    fasta = tmp_path / "seqs.fasta"
    sequences = {f"P{i}": str(s) for i, s in enumerate(REFERENCE["sequences"])}
    fasta.write_text("".join(f">{pid}\n{seq}\n" for pid, seq in sequences.items()))
    out, per_residue = tmp_path / "x.h5", tmp_path / "y.h5"
    assert _embed("--sequences", fasta, "--model", "proteinbert", "--weights", TINY / "tiny.pkl",
                  "--out", out, "--per-residue", per_residue) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["computed"] == len(sequences)
    embedder = ProteinBertEmbedder(TINY / "tiny.pkl", device="cpu")
    vectors, residues = embedder.embed(list(sequences.values()), residues=True)
    with h5py.File(out, "r") as fh, h5py.File(per_residue, "r") as fr:
        assert fh.attrs["embedder"] == "proteinbert" and fh.attrs["embedder_fingerprint"] == embedder.fingerprint
        assert fh.attrs["dim"] == REFERENCE["global_"].shape[1] and fr.attrs["dim"] == REFERENCE["local"].shape[2]
        for i, pid in enumerate(sequences):
            np.testing.assert_allclose(fh[pid][()], vectors[i], rtol=0, atol=1e-6)
            np.testing.assert_allclose(fr[pid][()], residues[i], rtol=0, atol=1e-6)
    # the converted file, padded to the reference's seq_len, gives Keras's numbers
    converted = tmp_path / "tiny.safetensors"
    convert_checkpoint(TINY / "tiny.pkl", converted, seq_len=REFERENCE_CONFIG["seq_len"])
    assert _embed("--sequences", fasta, "--model", "proteinbert", "--weights", converted,
                  "--out", tmp_path / "k.h5", "--per-residue", tmp_path / "kr.h5") == 0  # fmt: skip
    with h5py.File(tmp_path / "k.h5", "r") as fh, h5py.File(tmp_path / "kr.h5", "r") as fr:
        for i, (pid, seq) in enumerate(sequences.items()):
            np.testing.assert_allclose(fh[pid][()], REFERENCE["global_"][i], rtol=0, atol=1e-5)
            np.testing.assert_allclose(fr[pid][()], REFERENCE["local"][i, 1 : len(seq) + 1], rtol=0, atol=1e-5)
    capsys.readouterr()
    path, marker = malicious
    before = sorted(os.listdir(tmp_path))
    assert _embed("--sequences", fasta, "--model", "proteinbert", "--weights", path,
                  "--out", tmp_path / "bad.h5", "--per-residue", tmp_path / "bad_res.h5") == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "refused to load" in err and f"{os.system.__module__}.system" in err and len(err.splitlines()) == 1
    assert not marker.exists() and sorted(os.listdir(tmp_path)) == before

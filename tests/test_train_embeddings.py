"""Pretrained per-protein embeddings as inputs of the interaction model: beside or instead of the towers,
recorded in the model file, and refused when they come from another embedder."""

import json
import re

import h5py
import numpy as np
import pytest
import torch

from hvppi.cli import main
from hvppi.io.embeddings import embedding_source, load_protein_embeddings, read_protein_embeddings
from hvppi.io.errors import InputError, ModelFileError
from hvppi.io.pairs import read_pairs
from hvppi.lstm.embedders import FeatureEmbedder
from hvppi.lstm.inference import pad_tokens, score_pairs, sigmoid, tokenize_sequences
from hvppi.lstm.model import InteractionModel, ModelConfig
from hvppi.lstm.modelfile import FORMAT_VERSION, MAX_EMBEDDING_DIM, ModelInfo, load_model, read_model_info, save_model
from hvppi.pretrained.base import Embedder
from hvppi.pretrained.embed import embed_sequences

FEATURES = FeatureEmbedder()


class ScaledFeatures(Embedder):
    """Another embedder of the same size: the 7 properties, doubled."""

    name, fingerprint, dim, pooling = "scaled-features", "f" * 64, 7, "mean"

    def embed(self, sequences, residues=False):
        vectors, per_residue = FEATURES.embed(sequences, residues)
        return 2 * vectors, per_residue


@pytest.fixture(scope="module")
def data(tmp_path_factory, small_pairs_file, benchmark_sequences):
    """Small pairs, their sequences, and per-protein embedding files of the human and viral proteins."""
    root = tmp_path_factory.mktemp("embeddings")
    pairs = read_pairs(small_pairs_file)
    human = {p: benchmark_sequences[p] for p in dict.fromkeys(pairs.human_ids)}
    virus = {p: benchmark_sequences[p] for p in dict.fromkeys(pairs.virus_ids)}
    for name, sequences in (("human", human), ("virus", virus)):
        (root / f"{name}.tsv").write_text("".join(f"{p}\t{s}\n" for p, s in sequences.items()))
        embed_sequences(sequences, FEATURES, root / f"{name}.h5", progress=False)
    (root / "sequences.tsv").write_text((root / "human.tsv").read_text() + (root / "virus.tsv").read_text())
    embed_sequences(human, ScaledFeatures(), root / "human-other.h5", progress=False)
    return {
        "root": root,
        "pairs": pairs,
        "pairs_file": small_pairs_file,
        "human": human,
        "virus": virus,
        "sequences": {**human, **virus},
    }


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def train_args(data, out, *extra, epochs=1):
    root = data["root"]
    return [
        "train",
        "--pairs",
        data["pairs_file"],
        "--sequences",
        root / "sequences.tsv",
        "--out",
        out,
        "--max-epochs",
        epochs,
        "--threads",
        1,
        "--quiet",
        *extra,
    ]


def train_cli(capsys, data, out, *extra, epochs=1):
    code, stdout, err = run_cli(capsys, *train_args(data, out, *extra, epochs=epochs))
    assert code == 0, err
    return json.loads(stdout)


def embedding_args(data, human="human.h5", virus="virus.h5"):
    root = data["root"]
    return ["--human-embeddings", root / human, "--virus-embeddings", root / virus]


@pytest.fixture(scope="module")
def beside(tmp_path_factory, data):
    """A model trained with embeddings beside the towers (one epoch)."""
    out = tmp_path_factory.mktemp("beside")
    assert main([str(a) for a in train_args(data, out, *embedding_args(data))]) == 0
    return out / "model.safetensors"


@pytest.fixture(scope="module")
def instead(tmp_path_factory, data):
    """A model trained on embeddings only (two epochs, no towers)."""
    out = tmp_path_factory.mktemp("instead")
    assert main([str(a) for a in train_args(data, out, *embedding_args(data), "--no-towers", epochs=2)]) == 0
    return out / "model.safetensors"


def linear(n_in, n_out):
    return n_in * n_out + n_out


def head_parameters(width, widths=(64, 32, 16, 8, 4)):
    total = 0
    for out in widths:
        total += linear(width, out) + 2 * out
        width = out
    return total + linear(width, 1)


def test_parameter_counts_of_the_projections():
    towers_and_head = 36_507
    tower_pair = towers_and_head - head_parameters(128)
    assert tower_pair == 25_218
    beside = InteractionModel(ModelConfig(human_embedding_dim=1900, virus_embedding_dim=7))
    projections = linear(1900, 64) + linear(7, 64)
    assert beside.n_parameters() == tower_pair + projections + head_parameters(256)
    instead = InteractionModel(ModelConfig(human_embedding_dim=1900, virus_embedding_dim=7, towers=False))
    assert instead.n_parameters() == projections + head_parameters(128) == 121_664 + 512 + 11_289
    one_side = InteractionModel(ModelConfig(virus_embedding_dim=256))
    assert one_side.n_parameters() == tower_pair + linear(256, 64) + head_parameters(192)
    assert InteractionModel().n_parameters() == 36_507


def test_the_default_configuration_is_described_as_before():
    config = ModelConfig()
    assert set(config.to_dict()) == {
        "n_features",
        "lstm_hidden",
        "attention_hidden",
        "lstm_dropout",
        "attention_dropout",
        "attention_weight_dropout",
        "head_widths",
        "head_dropout",
    }
    doc = json.loads(ModelInfo(config=config, cutoff=0.5).to_json())
    assert doc["format_version"] == 1 and "embeddings" not in doc
    with_embeddings = ModelConfig(human_embedding_dim=7, virus_embedding_dim=7, towers=False)
    assert ModelConfig.from_dict(with_embeddings.to_dict()) == with_embeddings
    assert FORMAT_VERSION == 2


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"towers": False}, "needs embeddings of both sides"),
        ({"towers": False, "human_embedding_dim": 7}, "needs embeddings of both sides"),
        ({"human_embedding_dim": -1}, "human_embedding_dim"),
        ({"towers": "no"}, "towers must be true or false"),
    ],
)
def test_bad_embedding_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**settings)


def test_bundled_model_loads_unchanged():
    model, info = load_model("lstm-phv-benchmark")
    assert info.embeddings == {} and model.config.towers and not model.config.uses_embeddings
    assert model.n_parameters() == 36_507


def test_training_beside_the_towers_names_the_embedder(beside, data):
    info = read_model_info(beside)
    for side in ("human", "virus"):
        source = info.embedder_of(side)
        assert (source.name, source.fingerprint, source.dim) == ("hvppi-features", FEATURES.fingerprint, 7)
    assert info.config.towers and info.config.human_embedding_dim == info.config.virus_embedding_dim == 7
    with h5py.File(data["root"] / "human.h5") as fh:
        assert fh.attrs["embedder_fingerprint"] == FEATURES.fingerprint
    from safetensors import safe_open

    with safe_open(str(beside), "pt") as fh:
        doc = json.loads(fh.metadata()["hvppi"])
    assert doc["format_version"] == 2
    assert doc["embeddings"]["human"] == {"embedder": "hvppi-features", "fingerprint": FEATURES.fingerprint, "dim": 7}
    model, _ = load_model(beside)
    assert model.n_parameters() == 25_218 + 2 * linear(7, 64) + head_parameters(256)


def _direct_scores(model, data, pairs):
    """Scores from one forward pass of the whole batch (no encode-once)."""
    tokens = tokenize_sequences(data["sequences"])
    human = load_protein_embeddings(data["root"] / "human.h5", pairs.human_ids)
    virus = load_protein_embeddings(data["root"] / "virus.h5", pairs.virus_ids)
    inputs = {
        "human_embeddings": torch.from_numpy(human.vectors(pairs.human_ids)),
        "virus_embeddings": torch.from_numpy(virus.vectors(pairs.virus_ids)),
    }
    if model.config.towers:
        h, hl = pad_tokens([tokens[p] for p in pairs.human_ids])
        v, vl = pad_tokens([tokens[p] for p in pairs.virus_ids])
        inputs.update(human_tokens=h, human_lengths=hl, virus_tokens=v, virus_lengths=vl)
    with torch.no_grad():
        return sigmoid(model.eval()(**inputs).double().numpy())


@pytest.mark.parametrize("which", ["beside", "instead"])
def test_predict_with_the_files_gives_the_in_memory_scores(which, request, data, tmp_path, capsys):
    path = request.getfixturevalue(which)
    out = tmp_path / "scores.tsv"
    code, _, err = run_cli(
        capsys,
        "predict",
        "--model",
        path,
        "--pairs",
        data["pairs_file"],
        "--sequences",
        data["root"] / "sequences.tsv",
        "--out",
        out,
        *embedding_args(data),
        "--quiet",
        "--threads",
        1,
    )
    assert code == 0, err
    written = np.loadtxt(out, skiprows=1, usecols=2, dtype=np.float64)
    model, _ = load_model(path)
    pairs = data["pairs"]
    embeddings = {
        "human": load_protein_embeddings(data["root"] / "human.h5", pairs.human_ids),
        "virus": load_protein_embeddings(data["root"] / "virus.h5", pairs.virus_ids),
    }
    in_memory = score_pairs(model, pairs, data["sequences"], embeddings=embeddings)
    np.testing.assert_allclose(written, in_memory, rtol=1e-6)
    np.testing.assert_allclose(in_memory, _direct_scores(model, data, pairs), rtol=1e-5, atol=1e-7)


def test_evaluate_and_screen_read_the_files(beside, data, tmp_path, capsys):
    root = data["root"]
    code, table, err = run_cli(
        capsys,
        "evaluate",
        "--model",
        beside,
        "--pairs",
        data["pairs_file"],
        "--sequences",
        root / "sequences.tsv",
        *embedding_args(data),
        "--quiet",
    )
    assert code == 0, err
    assert "roc_auc" in table
    out = tmp_path / "screen.tsv"
    code, _, err = run_cli(
        capsys,
        "screen",
        "--model",
        beside,
        "--virus",
        root / "virus.tsv",
        "--human",
        root / "human.tsv",
        "--out",
        out,
        *embedding_args(data),
        "--human-vectors",
        tmp_path / "human-vectors.h5",
        "--quiet",
    )
    assert code == 0, err
    rows = {}
    for line in out.read_text().splitlines()[1:]:
        h, v, score, _, _ = line.split("\t")
        rows[(h, v)] = float(score)
    assert len(rows) == len(data["human"]) * len(data["virus"])
    model, _ = load_model(beside)
    pairs = data["pairs"]
    expected = _direct_scores(model, data, pairs)
    got = [rows[(h, v)] for h, v in zip(pairs.human_ids, pairs.virus_ids)]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def _one_line_error(code, err):
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def predict_args(model, data, tmp_path, *extra):
    return [
        "predict",
        "--model",
        model,
        "--pairs",
        data["pairs_file"],
        "--sequences",
        data["root"] / "sequences.tsv",
        "--out",
        tmp_path / "p.tsv",
        "--quiet",
        *extra,
    ]


def test_embeddings_of_another_embedder_are_refused(beside, data, tmp_path, capsys):
    code, _, err = run_cli(capsys, *predict_args(beside, data, tmp_path, *embedding_args(data, "human-other.h5")))
    line = _one_line_error(code, err)
    assert "human-other.h5" in line
    assert f"scaled-features (fingerprint {'f' * 12})" in line
    assert f"hvppi-features (fingerprint {FEATURES.fingerprint[:12]})" in line
    assert not (tmp_path / "p.tsv").exists()
    root = data["root"]
    evaluate = ["evaluate", "--model", beside, "--pairs", data["pairs_file"], "--sequences", root / "sequences.tsv"]
    code, _, err = run_cli(capsys, *evaluate, *embedding_args(data, "human-other.h5"))
    assert "scaled-features" in _one_line_error(code, err)
    code, _, err = run_cli(capsys, *evaluate)
    assert "--human-embeddings" in _one_line_error(code, err)
    screen = ["screen", "--model", beside, "--virus", root / "virus.tsv", "--human", root / "human.tsv"]
    code, _, err = run_cli(capsys, *screen, "--out", tmp_path / "s.tsv", *embedding_args(data, "human-other.h5"))
    assert "scaled-features" in _one_line_error(code, err)
    assert not (tmp_path / "s.tsv").exists()


def test_tower_embeddings_are_refused(beside, data, tmp_path, capsys):
    root = data["root"]
    code, _, err = run_cli(
        capsys,
        "embed",
        "--model",
        "hvppi-tower-human",
        "--sequences",
        root / "human.tsv",
        "--out",
        root / "tower.h5",
        "--quiet",
        "--threads",
        1,
    )
    assert code == 0, err
    code, _, err = run_cli(capsys, *predict_args(beside, data, tmp_path, *embedding_args(data, "tower.h5")))
    assert "hvppi-tower-human (fingerprint" in _one_line_error(code, err)


def test_a_model_that_reads_embeddings_needs_the_files(beside, instead, data, tmp_path, capsys):
    code, _, err = run_cli(capsys, *predict_args(instead, data, tmp_path))
    line = _one_line_error(code, err)
    assert "--human-embeddings" in line and "hvppi-features" in line
    code, _, err = run_cli(
        capsys, *predict_args(beside, data, tmp_path, "--human-embeddings", data["root"] / "human.h5")
    )
    line = _one_line_error(code, err)
    assert "--virus-embeddings" in line and "hvppi-features" in line


def test_files_for_a_model_that_reads_none_are_refused(data, tmp_path, capsys):
    args = ["--human-embeddings", data["root"] / "human.h5"]
    code, _, err = run_cli(capsys, *predict_args("lstm-phv-benchmark", data, tmp_path, *args))
    assert "reads no human protein embeddings" in _one_line_error(code, err)
    code, _, err = run_cli(capsys, *predict_args("screening", data, tmp_path, *args))
    assert "the screening model reads no embeddings" in _one_line_error(code, err)


def test_a_missing_protein_is_named(beside, data, tmp_path, capsys):
    pairs = data["pairs"]
    missing = pairs.human_ids[0]
    partial = {p: s for p, s in data["human"].items() if p != missing}
    embed_sequences(partial, FEATURES, tmp_path / "partial.h5", progress=False)
    args = ["--human-embeddings", tmp_path / "partial.h5", "--virus-embeddings", data["root"] / "virus.h5"]
    code, _, err = run_cli(capsys, *predict_args(beside, data, tmp_path, *args))
    line = _one_line_error(code, err)
    assert "partial.h5" in line and repr(missing) in line
    with pytest.raises(InputError, match=re.escape(repr(missing))):
        read_protein_embeddings(tmp_path / "partial.h5", [missing])


def test_a_per_residue_file_is_refused(data, tmp_path):
    few = dict(list(data["human"].items())[:3])
    embed_sequences(few, FEATURES, tmp_path / "p.h5", tmp_path / "r.h5", progress=False)
    with pytest.raises(InputError, match="residue-level embedding file; give the per-protein file"):
        embedding_source(tmp_path / "r.h5")
    matrix, source = read_protein_embeddings(tmp_path / "p.h5", list(few), few)
    assert matrix.shape == (3, 7) and matrix.dtype == np.float32 and source.name == "hvppi-features"


def test_another_sequence_and_non_finite_values_are_named(data, tmp_path):
    few = dict(list(data["human"].items())[:3])
    pid = next(iter(few))
    embed_sequences(few, FEATURES, tmp_path / "p.h5", progress=False)
    with pytest.raises(InputError, match="embedded from another sequence") as info:
        read_protein_embeddings(tmp_path / "p.h5", [pid], {pid: "MKV"})
    assert "p.h5" in str(info.value) and repr(pid) in str(info.value)
    with h5py.File(tmp_path / "p.h5", "a") as fh:
        key = next(iter(fh))
        fh[key][0] = np.nan
        bad = fh[key].attrs["original_id"]
    with pytest.raises(InputError, match="NaN or infinite"):
        read_protein_embeddings(tmp_path / "p.h5", [bad])


def test_resume_continues_and_refuses_another_embedder(data, tmp_path, capsys):
    out = tmp_path / "run"
    train_cli(capsys, data, out, *embedding_args(data), "--no-towers", epochs=1)
    summary = train_cli(capsys, data, out, *embedding_args(data), "--no-towers", "--resume", epochs=2)
    assert summary["epochs"] == 2
    code, _, err = run_cli(
        capsys,
        "train",
        "--pairs",
        data["pairs_file"],
        "--sequences",
        data["root"] / "sequences.tsv",
        "--out",
        out,
        "--max-epochs",
        3,
        "--resume",
        "--quiet",
        *embedding_args(data, "human-other.h5"),
        "--no-towers",
    )
    assert "cannot resume" in _one_line_error(code, err) and "embeddings" in err


def test_no_towers_needs_both_files(data, tmp_path, capsys):
    code, _, err = run_cli(
        capsys,
        "train",
        "--pairs",
        data["pairs_file"],
        "--sequences",
        data["root"] / "sequences.tsv",
        "--out",
        tmp_path / "x",
        "--no-towers",
        "--human-embeddings",
        data["root"] / "human.h5",
    )
    assert "--no-towers needs both" in _one_line_error(code, err)


def _tampered(tmp_path, source_path, change):
    from safetensors.torch import load_file, safe_open, save_file

    with safe_open(str(source_path), "pt") as fh:
        doc = json.loads(fh.metadata()["hvppi"])
    change(doc)
    path = tmp_path / "tampered.safetensors"
    save_file(load_file(str(source_path)), str(path), metadata={"hvppi": json.dumps(doc)})
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["config"].update(human_embedding_dim=MAX_EMBEDDING_DIM + 1), "exceeds the maximum"),
        (lambda d: d["embeddings"].pop("virus"), "names no embedder"),
        (lambda d: d["embeddings"]["human"].update(dim=8), "gives 8-d vectors"),
        (lambda d: d["embeddings"].update(cell={}), "embedder entry"),
        (lambda d: d["config"].update(virus_embedding_dim=8, human_embedding_dim=8), "names no embedder|gives 7-d"),
    ],
)
def test_tampered_embedding_metadata_is_refused(instead, tmp_path, change, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(_tampered(tmp_path, instead, change))


def test_a_saved_in_memory_model_round_trips(tmp_path):
    from hvppi.io.embeddings import EmbeddingSource

    config = ModelConfig(human_embedding_dim=5, virus_embedding_dim=3, towers=False)
    model = InteractionModel(config)
    sources = {"human": EmbeddingSource("a", "1" * 64, 5), "virus": EmbeddingSource("b", "2" * 64, 3)}
    save_model(tmp_path / "m.safetensors", model, ModelInfo(config=config, cutoff=0.5, embeddings=sources))
    loaded, info = load_model(tmp_path / "m.safetensors")
    assert info.embeddings == sources
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)
    with pytest.raises(ValueError, match="has no towers"):
        loaded.tower("human")
    with pytest.raises(ValueError, match="names no embedder"):
        ModelInfo(config=config, cutoff=0.5, embeddings={"human": sources["human"]}).to_json()

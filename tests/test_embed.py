"""hvppi embed: tiny randomly initialised ProtBERT-, ProtXLNet- and ESM-2-shaped models saved to a temporary
directory and loaded through the real from_pretrained code, and hvppi's own encoders."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import json
import math
import shutil
from importlib import resources

import h5py
import numpy as np
import pytest
import torch
import transformers

from hvppi.cli import main
from hvppi.io.alphabet import tokenize
from hvppi.io.errors import HvppiError, InputError
from hvppi.io.h5layout import sequence_sha256
from hvppi.lstm.embedders import FeatureEmbedder, TowerEmbedder
from hvppi.lstm.inference import encode_proteins
from hvppi.lstm.modelfile import load_model
from hvppi.pretrained.embed import FORMAT, embed_sequences
from hvppi.registry.embedders import load_embedder

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

PROTBERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("LAGVESIKRDTPNQFYMHCWXUBZO")
# Rostlab/prot_xlnet's sentencepiece vocabulary: id 0 'X' is also the unknown piece; residues are '▁'-prefixed words.
PROTXLNET_PIECES = [
    "X",
    "<s>",
    "</s>",
    "<cls>",
    "<sep>",
    "<pad>",
    "<mask>",
    "<eod>",
    "<eop>",
    ".",
    "(",
    ")",
    '"',
    "-",
    "–",
    "£",
    "€",
] + ["▁" + aa for aa in "LSAGEVTRDIPKNFQYHMCW"]
ESM2_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>"] + list("LAGVSERTIDPKQNFYMHWCXBUZO.-") + ["<null_1>", "<mask>"]
# residue tokens of a single sequence without padding, by family
RESIDUE_SLICE = {"bert": slice(1, -1), "esm": slice(1, -1), "xlnet": slice(0, -2)}


def _protbert(path, lower_case=False):
    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(PROTBERT_VOCAB) + "\n")
    (path / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": lower_case, "tokenizer_class": "BertTokenizer"})
    )
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(PROTBERT_VOCAB),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    transformers.BertForMaskedLM(config).save_pretrained(path)
    return path


def _protxlnet(path):
    tokenizer = transformers.XLNetTokenizer(
        vocab=[(p, 0.0 if i < 17 else -3.0) for i, p in enumerate(PROTXLNET_PIECES)], unk_id=0, do_lower_case=False
    )
    tokenizer.save_pretrained(path)
    torch.manual_seed(1)
    config = transformers.XLNetConfig(vocab_size=len(PROTXLNET_PIECES), d_model=16, n_layer=2, n_head=2, d_inner=32)
    transformers.XLNetLMHeadModel(config).save_pretrained(path)
    return path


def _esm2(path):
    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(ESM2_VOCAB))
    transformers.EsmTokenizer(str(path / "vocab.txt")).save_pretrained(path)
    torch.manual_seed(2)
    config = transformers.EsmConfig(
        vocab_size=len(ESM2_VOCAB),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        position_embedding_type="rotary",
        token_dropout=True,
        pad_token_id=1,
        mask_token_id=32,
        max_position_embeddings=1026,
        emb_layer_norm_before=False,
    )
    transformers.EsmForMaskedLM(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("plm")
    return {
        "bert": _protbert(root / "prot_bert"),
        "xlnet": _protxlnet(root / "prot_xlnet"),
        "esm": _esm2(root / "esm2"),
    }


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(7)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    seqs = {f"P{k:02d}": "".join(rng.choice(letters, n)) for k, n in enumerate([5, 31, 12, 47, 8, 20])}
    seqs["sp/Q9/odd%id"] = "MKTAYIAKQR"
    seqs["with_x"] = "MKXXLLA"
    return seqs


def _read(path):
    with h5py.File(path, "r") as fh:
        return dict(fh.attrs), {fh[k].attrs["original_id"]: fh[k][()] for k in fh}


def _reference(model_dir, family, sequence):
    """Mean of the last hidden states over the residue tokens of the sequence encoded alone."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModel.from_pretrained(model_dir).eval()
    text = sequence if family == "esm" else " ".join(sequence)
    with torch.no_grad():
        hidden = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]
    residues = hidden[RESIDUE_SLICE[family]].numpy()
    assert len(residues) == len(sequence)
    return residues.mean(axis=0), residues


@pytest.mark.parametrize("family", ["bert", "xlnet", "esm"])
def test_transformer_vectors_are_means_over_exactly_the_residue_tokens(family, model_dirs, sequences, tmp_path):
    embedder = load_embedder(str(model_dirs[family]), device="cpu")
    assert embedder.family == family and embedder.dim == 16
    result = embed_sequences(
        sequences, embedder, tmp_path / "p.h5", tmp_path / "r.h5", batch_residues=10_000, progress=False
    )
    assert (result.proteins, result.computed, result.reused) == (len(sequences), len(sequences), 0)
    _, proteins = _read(tmp_path / "p.h5")
    _, residues = _read(tmp_path / "r.h5")
    for pid in ["P00", "P03", "sp/Q9/odd%id"]:
        mean, per_residue = _reference(model_dirs[family], family, sequences[pid])
        np.testing.assert_allclose(proteins[pid], mean, atol=2e-5)
        np.testing.assert_allclose(residues[pid], per_residue, atol=2e-5)
    for pid, seq in sequences.items():
        assert residues[pid].shape == (len(seq), 16) and residues[pid].dtype == np.float32
        np.testing.assert_allclose(proteins[pid], residues[pid].mean(axis=0), atol=2e-6)


@pytest.mark.parametrize("family", ["bert", "xlnet", "esm"])
def test_padding_does_not_change_vectors(family, model_dirs, sequences):
    """One batch of a short and a long sequence (XLNet pads on the left) gives the vectors of each alone."""
    embedder = load_embedder(str(model_dirs[family]), device="cpu")
    short, long = sequences["P00"], sequences["P03"]
    together, together_residues = embedder.embed([short, long], residues=True)
    for k, seq in enumerate([short, long]):
        alone, alone_residues = embedder.embed([seq], residues=True)
        np.testing.assert_allclose(together[k], alone[0], atol=2e-5)
        np.testing.assert_allclose(together_residues[k], alone_residues[0], atol=2e-5)


@pytest.mark.parametrize("family", ["bert", "xlnet"])
def test_rare_residues_are_read_as_x_by_prottrans_models(family, model_dirs):
    embedder = load_embedder(str(model_dirs[family]), device="cpu")
    vectors, residues = embedder.embed(["MKUZOBAL", "MKXXXXAL", "MKAAAAAL"], residues=True)
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert residues[0].shape == (8, 16)
    assert not np.allclose(vectors[0], vectors[2])


def test_esm_keeps_rare_residues(model_dirs):
    vectors, _ = load_embedder(str(model_dirs["esm"]), device="cpu").embed(["MKUZOBAL", "MKXXXXAL"])
    assert not np.allclose(vectors[0], vectors[1])


def test_a_lower_casing_tokenizer_is_refused(model_dirs, tmp_path):
    with pytest.raises(HvppiError, match="lower-casing"):
        load_embedder(str(_protbert(tmp_path / "lower", lower_case=True)), device="cpu")


def test_a_tokenizer_that_merges_residues_is_refused_naming_the_protein(model_dirs, tmp_path):
    merging = tmp_path / "merging"
    shutil.copytree(model_dirs["esm"], merging)
    (merging / "vocab.txt").write_text("\n".join(ESM2_VOCAB + ["MK"]))
    embedder = load_embedder(str(merging), device="cpu")
    with pytest.raises(InputError, match="ID 'b'.*4 residues became 3 residue tokens"):
        embed_sequences({"a": "ACDE", "b": "MKTA"}, embedder, tmp_path / "p.h5", progress=False)


def test_too_long_for_absolute_positions(model_dirs, tmp_path):
    embedder = load_embedder(str(model_dirs["bert"]), device="cpu")
    assert embedder.max_length == 62
    with pytest.raises(InputError, match="ID 'long'.*at most 62"):
        embed_sequences({"ok": "MKT", "long": "A" * 63}, embedder, tmp_path / "p.h5", progress=False)
    assert not (tmp_path / "p.h5").exists() and not (tmp_path / "p.h5.part").exists()


def test_unsupported_model_type_and_missing_hub_model(tmp_path):
    path = tmp_path / "gpt2"
    transformers.GPT2Config(n_layer=1, n_embd=8, n_head=2).save_pretrained(path)
    with pytest.raises(HvppiError, match="'gpt2' is not supported"):
        load_embedder(str(path))
    with pytest.raises(HvppiError, match="hub"):
        load_embedder("Rostlab/no_such_model_hvppi_test")


class CountingEmbedder:
    """Forwards to an embedder and records every protein it computes."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed(self, sequences, residues=False):
        self.calls.extend(sequences)
        return self.inner.embed(sequences, residues)


def test_resume_after_interruption_computes_each_protein_once(model_dirs, sequences, tmp_path):
    out, per_residue = tmp_path / "p.h5", tmp_path / "r.h5"
    embedder = CountingEmbedder(load_embedder(str(model_dirs["esm"]), device="cpu"))

    def interrupt(ids):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed_sequences(sequences, embedder, out, per_residue, batch_residues=40, on_batch=interrupt, progress=False)
    first = list(embedder.calls)
    assert 0 < len(first) < len(sequences)
    assert not out.exists() and (tmp_path / "p.h5.part").exists() and (tmp_path / "r.h5.part").exists()
    result = embed_sequences(sequences, embedder, out, per_residue, batch_residues=40, progress=False)
    assert sorted(embedder.calls) == sorted(sequences.values())  # each protein computed once over both runs
    assert (result.computed, result.reused) == (len(sequences) - len(first), len(first))
    assert out.exists() and per_residue.exists() and not (tmp_path / "p.h5.part").exists()
    _, resumed = _read(out)
    embed_sequences(sequences, embedder.inner, tmp_path / "fresh.h5", batch_residues=40, progress=False)
    _, fresh = _read(tmp_path / "fresh.h5")
    for pid in sequences:
        np.testing.assert_allclose(resumed[pid], fresh[pid], atol=2e-6)

    # a complete OUT is extended: only new proteins and changed sequences are computed, old ones stay
    embedder.calls.clear()
    more = {"P01": sequences["P01"], "P02": "MKTAYIAKQW", "NEW": "ACDEFGHIK"}
    result = embed_sequences(more, embedder, out, per_residue, progress=False)
    assert sorted(embedder.calls) == ["ACDEFGHIK", "MKTAYIAKQW"] and result.reused == 1
    _, extended = _read(out)
    assert set(extended) == set(sequences) | {"NEW"}
    with h5py.File(per_residue, "r") as fh:
        assert fh["P02"].attrs["sequence_sha256"] == sequence_sha256("MKTAYIAKQW") and fh["P02"].shape == (10, 16)
    embedder.calls.clear()
    assert embed_sequences(more, embedder, out, per_residue, progress=False).computed == 0 and embedder.calls == []


def test_foreign_part_is_refused_unless_restarted(sequences, tmp_path):
    out = tmp_path / "p.h5"

    def interrupt(ids):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        embed_sequences(sequences, FeatureEmbedder(), out, batch_residues=20, on_batch=interrupt, progress=False)
    tower = TowerEmbedder("virus", device="cpu")
    with pytest.raises(InputError, match=r"p\.h5\.part.*--restart"):
        embed_sequences(sequences, tower, out, progress=False)
    result = embed_sequences(sequences, tower, out, restart=True, progress=False)
    assert result.computed == len(sequences)
    attrs, vectors = _read(out)
    assert attrs["embedder"] == "hvppi-tower-virus" and vectors["P00"].shape == (64,)
    with pytest.raises(InputError, match="another embedder"):
        embed_sequences(sequences, FeatureEmbedder(), out, progress=False)


def test_unreadable_part_is_refused_unless_restarted(sequences, tmp_path):
    (tmp_path / "p.h5.part").write_bytes(b"not an H5 file, e.g. left by a killed run")
    with pytest.raises(InputError, match="not a readable H5 file.*--restart"):
        embed_sequences(sequences, FeatureEmbedder(), tmp_path / "p.h5", progress=False)
    assert embed_sequences(sequences, FeatureEmbedder(), tmp_path / "p.h5", restart=True, progress=False).computed == 8


def test_h5_layout_and_attributes(sequences, tmp_path):
    embed_sequences(sequences, FeatureEmbedder(), tmp_path / "p.h5", tmp_path / "r.h5", progress=False)
    with h5py.File(tmp_path / "p.h5", "r") as fh:
        assert {k: fh.attrs[k] for k in ("format", "embedder", "level", "pooling", "dim")} == {
            "format": FORMAT,
            "embedder": "hvppi-features",
            "level": "protein",
            "pooling": "mean",
            "dim": 7,
        }
        assert fh.attrs["hvppi_version"] and len(fh.attrs["embedder_fingerprint"]) == 64
        assert sorted(fh) == sorted(pid.replace("%", "%25").replace("/", "%2F") for pid in sequences)
        dataset = fh["sp%2FQ9%2Fodd%25id"]
        assert dataset.attrs["original_id"] == "sp/Q9/odd%id"
        assert dataset.attrs["sequence_sha256"] == sequence_sha256(sequences["sp/Q9/odd%id"])
        assert dataset.shape == (7,) and dataset.dtype == np.float32
    with h5py.File(tmp_path / "r.h5", "r") as fh:
        assert fh.attrs["level"] == "residue" and fh.attrs["pooling"] == "none"
        assert fh["P03"].shape == (47, 7) and fh["P03"].dtype == np.float32


# the raw table shipped as src/hvppi/data/guo2008_aa_7props.tsv, read here without hvppi.lstm.features
GUO_TSV = resources.files("hvppi.data").joinpath("guo2008_aa_7props.tsv")
GUO_COLUMNS = [
    "H1_hydrophobicity",
    "H2_hydrophilicity",
    "V_side_chain_volume",
    "P1_polarity",
    "P2_polarizability",
    "SASA",
    "NCI_net_charge_index",
]


def guo_zscores():
    """Letter → the 7 Guo 2008 properties z-scored over the 20 amino acids (population SD), from the
    raw table; X, the mean of the 20, is the zero vector."""
    header, *rows = [line.split("\t") for line in GUO_TSV.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert header[1:] == GUO_COLUMNS
    raw = {row[0]: [float(x) for x in row[1:]] for row in rows}
    assert sorted(raw) == sorted("ACDEFGHIKLMNPQRSTVWY")
    z = {aa: [0.0] * 7 for aa in raw}
    for j in range(7):
        column = [values[j] for values in raw.values()]
        mean = sum(column) / 20
        sd = math.sqrt(sum((x - mean) ** 2 for x in column) / 20)
        for aa, values in raw.items():
            z[aa][j] = (values[j] - mean) / sd
    z["X"] = [0.0] * 7
    return z


def test_feature_embedder_means_the_guo_properties(sequences):
    z = guo_zscores()
    seqs = list(sequences.values())
    assert any("X" in s for s in seqs)
    vectors, residues = FeatureEmbedder().embed(seqs, residues=True)
    for seq, vector, per_residue in zip(seqs, vectors, residues):
        expected = np.array([z[aa] for aa in seq])
        assert per_residue.shape == (len(seq), 7) and vector.shape == (7,)
        np.testing.assert_allclose(per_residue, expected, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(vector, expected.mean(axis=0), rtol=1e-5, atol=1e-6)


def tower_by_hand(tower, sequence):
    """The tower in evaluation mode on one unpadded sequence, layer by layer with its own weights:
    BiLSTM (backward direction on the reversed sequence), attention MLP, softmax, weighted sum."""
    lin1, lin2 = (m for m in tower.attention if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        x = tower.features[torch.from_numpy(tokenize(sequence))][None]  # (1, L, 7)
        forward, _ = tower.lstm_forward(x)
        backward, _ = tower.lstm_backward(x.flip(1))
        outputs = torch.cat([forward, backward.flip(1)], dim=2)[0]  # (L, 64)
        scores = torch.relu(outputs @ lin1.weight.T + lin1.bias) @ lin2.weight.T + lin2.bias
        weights = torch.softmax(scores[:, 0], dim=0)
        return (weights @ outputs).numpy(), outputs.numpy()


@pytest.mark.parametrize("tower", ["human", "virus"])
def test_tower_embedder_equals_the_tower_computed_by_hand(tower, sequences):
    model, _ = load_model("lstm-phv-benchmark", "cpu")
    module = getattr(model, f"{tower}_tower").eval()
    seqs = list(sequences.values())
    vectors, residues = load_embedder(f"hvppi-tower-{tower}", device="cpu").embed(seqs, residues=True)
    for seq, vector, per_residue in zip(seqs, vectors, residues):
        expected_vector, expected_residues = tower_by_hand(module, seq)
        assert vector.shape == (64,) and per_residue.shape == (len(seq), 64)
        np.testing.assert_allclose(vector, expected_vector, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(per_residue, expected_residues, rtol=1e-5, atol=1e-5)
    # and they are the vectors that screening and inference use
    expected, _ = encode_proteins(module, [tokenize(s) for s in seqs], "cpu")
    np.testing.assert_array_equal(vectors, expected)


def test_cli_embed(model_dirs, sequences, tmp_path, capsys):
    fasta = tmp_path / "seqs.fasta"
    fasta.write_text("".join(f">{pid}\n{seq}\n" for pid, seq in sequences.items()))
    out, per_residue = tmp_path / "esm.h5", tmp_path / "esm_res.h5"
    code = main(
        [
            "embed",
            "--sequences",
            str(fasta),
            "--model",
            str(model_dirs["esm"]),
            "--out",
            str(out),
            "--per-residue",
            str(per_residue),
            "--name",
            "tiny-esm2",
            "--batch-residues",
            "64",
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["computed"] == len(sequences) and summary["dim"] == 16
    attrs, vectors = _read(out)
    assert attrs["embedder"] == "tiny-esm2" and set(vectors) == set(sequences)
    assert _read(per_residue)[1]["P03"].shape == (47, 16)
    from hvppi.geometry.readers import open_embeddings  # the geometry reader takes the files as written

    with open_embeddings(out) as reader, open_embeddings(per_residue) as residues:
        assert (reader.info.layout, reader.info.level, reader.info.d) == ("hvppi-embeddings", "protein", 16)
        assert residues.info.level == "residue" and sorted(residues.ids()) == sorted(sequences)
        ids, global_vectors = reader.protein_vectors(sorted(sequences))
        np.testing.assert_allclose(global_vectors[0], vectors[ids[0]], rtol=1e-6)
        assert sum(len(chunk) for chunk in residues.points(local=True)) == sum(len(s) for s in sequences.values())
    assert (
        main(
            [
                "embed",
                "--sequences",
                str(fasta),
                "--model",
                "hvppi-tower-human",
                "--hvppi-model",
                "viral-disjoint",
                "--out",
                str(tmp_path / "tower.h5"),
                "--quiet",
            ]
        )
        == 0
    )
    assert _read(tmp_path / "tower.h5")[0]["embedder"] == "hvppi-tower-human"
    capsys.readouterr()
    assert (
        main(
            [
                "embed",
                "--sequences",
                str(fasta),
                "--model",
                "hvppi-features",
                "--hvppi-model",
                "default",
                "--out",
                str(tmp_path / "f.h5"),
                "--quiet",
            ]
        )
        == 2
    )
    assert "hvppi-tower" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["embed", "--help"])
    help_text = capsys.readouterr().out
    for name in (
        "Rostlab/prot_bert",
        "Rostlab/prot_xlnet",
        "esm2",
        "hvppi-features",
        "hvppi-tower-virus",
        "ProteinBERT",
        "--per-residue",
        "--restart",
    ):
        assert name in help_text

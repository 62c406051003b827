"""Input hygiene (issue 11, finding 10 and the ID/length/option findings of 5–8): UniProt headers,
stop codons, unused pool records, contradictory labels, swapped columns, odd IDs, long proteins,
NaN options and orphaned temporary files. Each test reproduces one finding on small inputs."""

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from hvppi.cli import main
from hvppi.datasets.build import BuildSettings, _check_proteins, _load_pool
from hvppi.io.errors import InputError
from hvppi.io.h5layout import MAX_KEY_LENGTH, dataset_key
from hvppi.io.orphans import orphaned_parts
from hvppi.io.pairs import PairTable, read_pairs
from hvppi.io.sequences import read_sequences
from hvppi.lstm.attention import profile_file_name
from hvppi.lstm.model import InteractionModel, ModelConfig
from hvppi.lstm.modelfile import ModelInfo, save_model

HUMAN = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKAL"
VIRUS = "MESLVPGFNEKTHVQLSLPVLQVRDVLVRGFGDSVEEVLSEARQHLKDGTCGLVEVEKGVLPQLEQPYVFIKRSDARTAPHGHVMVELVAELEGIQ"
HVPPI = Path(sys.executable).parent / "hvppi"


def _tiny_model(path: Path) -> Path:
    torch.manual_seed(0)
    config = ModelConfig(lstm_hidden=4, attention_hidden=4, head_widths=(4,))
    save_model(path, InteractionModel(config), ModelInfo(config, cutoff=0.5))
    return path


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"hvppi {command}: error:"), err
    assert "Traceback" not in err
    return err


# --- 1. UniProt-style headers ------------------------------------------------------------------


def test_uniprot_headers_give_the_accession_and_keep_the_header(tmp_path):
    fasta = tmp_path / "s.fa"
    fasta.write_text(
        f">sp|P0DTC2|SPIKE_SARS2 Spike glycoprotein OS=SARS-CoV-2\n{VIRUS}\n"
        f">tr|A0A024R161|A0A024R161_HUMAN Guanine nucleotide-binding protein\n{HUMAN}\n"
        f">ref|NP_000537.3|P53 tumour protein\n{HUMAN}\n>P04637 plain header\n{HUMAN}\n>a|b\n{HUMAN}\n"
    )
    descriptions: dict[str, str] = {}
    sequences = read_sequences(fasta, descriptions=descriptions)
    assert list(sequences) == ["P0DTC2", "A0A024R161", "NP_000537.3", "P04637", "a|b"]
    assert descriptions["P0DTC2"] == "sp|P0DTC2|SPIKE_SARS2 Spike glycoprotein OS=SARS-CoV-2"
    assert descriptions["P04637"] == "P04637 plain header"
    # pairs by accession now find their sequences
    pairs = PairTable.from_lists(["A0A024R161"], ["P0DTC2"])
    pairs.check_sequences(sequences)


# --- 2. stop codons ----------------------------------------------------------------------------


def test_single_trailing_stop_is_stripped(tmp_path):
    fasta = tmp_path / "orfs.fa"
    fasta.write_text(f">V1\n{VIRUS[:50]}\n{VIRUS[50:]}*\n>H1\n{HUMAN}\n")
    assert read_sequences(fasta) == {"V1": VIRUS, "H1": HUMAN}
    table = tmp_path / "orfs.tsv"
    table.write_text(f"V1\t{VIRUS}*\n")
    assert read_sequences(table) == {"V1": VIRUS}


def test_internal_stop_names_file_line_and_id(tmp_path):
    fasta = tmp_path / "orfs.fa"
    fasta.write_text(f">H1\n{HUMAN}\n>V1\n{VIRUS[:50]}\n{VIRUS[50:60]}*{VIRUS[60:]}*\n")
    with pytest.raises(InputError) as caught:
        read_sequences(fasta)
    assert caught.value.path == str(fasta) and caught.value.line == 5 and caught.value.protein_id == "V1"
    assert "stop codon '*'" in str(caught.value) and "position 61" in str(caught.value)


# --- 3. dataset build validates only what it uses ----------------------------------------------


def test_dataset_build_pool_is_not_validated_for_unused_records(tmp_path):
    pool_file = tmp_path / "pool.fa"
    pool_file.write_text(f">USED\n{HUMAN}\n>UNUSED_STOP\nMKV*LLA\n>UNUSED_LETTER\nMKVJ1LA\n")
    with pytest.raises(InputError):  # what dataset build used to do with such a pool
        read_sequences(pool_file)
    pool = _load_pool(pool_file)
    assert pool["USED"] == HUMAN
    failed = _check_proteins({"USED", "UNUSED_STOP"}, pool, BuildSettings())
    assert failed["nonstandard_letters"] == ["UNUSED_STOP"] and all("USED" not in ids for ids in failed.values())


# --- 4. contradictory labels -------------------------------------------------------------------


def test_contradictory_labels_in_one_file_name_both_lines(tmp_path):
    pairs = tmp_path / "p.tsv"
    pairs.write_text("H1\tV1\t1\nH2\tV1\t0\nH1\tV1\t1\nH1\tV1\t0\n")
    with pytest.raises(InputError) as caught:
        read_pairs(pairs)
    assert caught.value.line == 4 and f"{pairs}, line 1" in str(caught.value) and "H1/V1" in str(caught.value)


def test_contradictory_labels_across_files_name_both(tmp_path, capsys):
    (tmp_path / "a.tsv").write_text("H1\tV1\t1\nH2\tV2\t0\n")
    (tmp_path / "b.tsv").write_text("H3\tV3\t1\nH2\tV2\t1\n")
    with pytest.raises(InputError) as caught:
        PairTable.concat([read_pairs(tmp_path / "a.tsv"), read_pairs(tmp_path / "b.tsv")])
    assert caught.value.path == str(tmp_path / "b.tsv") and caught.value.line == 2
    assert f"{tmp_path / 'a.tsv'}, line 2" in str(caught.value)
    (tmp_path / "s.fa").write_text("".join(f">{p}\n{HUMAN}\n" for p in ("H1", "H2", "H3", "V1", "V2", "V3")))
    args = ["train", "--pairs", str(tmp_path / "a.tsv"), "--pairs", str(tmp_path / "b.tsv")]
    args += ["--sequences", str(tmp_path / "s.fa"), "--out", str(tmp_path / "run"), "--quiet"]
    assert main(args) == 2
    assert "labelled 1 here but 0" in _one_line_error(capsys, "train")


# --- 5. swapped columns ------------------------------------------------------------------------


def test_id_in_both_columns_is_refused_with_a_hint(tmp_path):
    pairs = tmp_path / "p.tsv"
    pairs.write_text("H1\tV1\nH2\tV1\nV1\tH3\n")
    with pytest.raises(InputError, match="swap the columns") as caught:
        read_pairs(pairs)
    assert caught.value.line == 3 and caught.value.protein_id == "V1" and "line 1" in str(caught.value)


def test_human_column_of_reference_viral_ids_is_refused():
    known_virus, known_human = ["P0DTC2", "P0DTC9", "P59594"], ["P04637", "Q9Y6K9"]
    swapped = PairTable.from_lists(["P0DTC2", "P0DTC9", "P59594"], ["P04637", "Q9Y6K9", "P04637"])
    with pytest.raises(InputError, match="swap the columns"):
        swapped.check_orientation(known_virus, known_human, "the screening model")
    PairTable.from_lists(["P04637", "P0DTC2"], ["P0DTC9", "P59594"]).check_orientation(known_virus, known_human)
    PairTable.from_lists(["X1", "X2"], ["P0DTC9", "P59594"]).check_orientation(known_virus, known_human)


def test_predict_with_the_screening_model_refuses_virus_first_pairs(tmp_path, capsys):
    from hvppi.screening.modelfile import load_screening_model

    ref = load_screening_model("default").reference
    viral, human = ref.virus_ids[:3], ref.human_ids[:3]
    (tmp_path / "p.tsv").write_text("".join(f"{v}\t{h}\n" for v, h in zip(viral, human)))
    seqs = dict(zip(ref.virus_ids, ref.virus_sequences)) | dict(zip(ref.human_ids, ref.human_sequences))
    (tmp_path / "s.fa").write_text("".join(f">{p}\n{seqs[p]}\n" for p in (*viral, *human)))
    args = ["predict", "--pairs", str(tmp_path / "p.tsv"), "--sequences", str(tmp_path / "s.fa")]
    assert main([*args, "--out", str(tmp_path / "o.tsv"), "--quiet"]) == 2
    assert "swap the columns" in _one_line_error(capsys, "predict")
    assert not (tmp_path / "o.tsv").exists()


# --- 6. IDs '.' and 300 characters -------------------------------------------------------------


def test_dataset_keys_of_odd_ids():
    assert dataset_key("sp/P0DTC2%1") == "sp%2FP0DTC2%251"  # unchanged
    assert dataset_key("P0DTC2.1") == "P0DTC2.1" and dataset_key("...") == "..."
    assert dataset_key(".") == "%2E" and dataset_key("..") == "%2E%2E" and dataset_key("%2E") == "%252E"
    long_id = "x" * 300
    assert len(dataset_key(long_id)) < MAX_KEY_LENGTH and dataset_key(long_id) != dataset_key("x" * 301)
    assert dataset_key("y" * MAX_KEY_LENGTH) == "y" * MAX_KEY_LENGTH
    names = {profile_file_name(p) for p in (".", "..", long_id, "a/b", "a_b", "-x y")}
    assert len(names) == 6 and all(len(n) < 120 and not n.startswith(".") and "/" not in n for n in names)


ODD_IDS = [".", "..", "L" * 300]


@pytest.fixture
def odd_fasta(tmp_path):
    path = tmp_path / "odd.fa"
    path.write_text("".join(f">{pid}\n{VIRUS[: 40 + i]}\n" for i, pid in enumerate(ODD_IDS)))
    return path


def test_encode_and_embed_store_odd_ids(tmp_path, odd_fasta):
    model = _tiny_model(tmp_path / "m.safetensors")
    args = ["encode", "--sequences", str(odd_fasta), "--tower", "virus", "--model", str(model)]
    assert main([*args, "--out", str(tmp_path / "v.h5"), "--quiet"]) == 0
    assert main(["embed", "--sequences", str(odd_fasta), "--model", "hvppi-features"] + [
        "--out", str(tmp_path / "e.h5"), "--quiet"]) == 0  # fmt: skip
    for name, attribute in (("v.h5", "id"), ("e.h5", "original_id")):
        with h5py.File(tmp_path / name, "r") as fh:
            assert sorted(str(fh[k].attrs[attribute]) for k in fh) == sorted(ODD_IDS)
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))
    # the stored vectors are found again: a second encode has nothing to do and the same file
    before = (tmp_path / "v.h5").read_bytes()
    assert main([*args, "--out", str(tmp_path / "v.h5"), "--quiet"]) == 0
    assert (tmp_path / "v.h5").read_bytes() == before


def test_attention_outputs_for_odd_ids(tmp_path, odd_fasta):
    model = _tiny_model(tmp_path / "m.safetensors")
    out = tmp_path / "att"
    args = ["attention", "--model", str(model), "--sequences", str(odd_fasta), "--tower", "virus"]
    assert main([*args, "--out-dir", str(out), "--quiet"]) == 0
    assert len(list((out / "profiles").glob("*.png"))) == 3
    with h5py.File(out / "attention.h5", "r") as fh:
        assert sorted(str(fh[k].attrs["id"]) for k in fh) == sorted(ODD_IDS)


# --- 7. length guard ---------------------------------------------------------------------------


def test_train_rejects_long_proteins_before_any_batch(tmp_path, capsys):
    long_protein = (HUMAN * 400)[:35_000]
    (tmp_path / "s.fa").write_text(f">H1\n{HUMAN}\n>H2\n{long_protein}\n>V1\n{VIRUS}\n>V2\n{VIRUS[:60]}\n")
    (tmp_path / "p.tsv").write_text("H1\tV1\t1\nH2\tV2\t0\nH1\tV2\t0\nH2\tV1\t1\n")
    args = ["train", "--pairs", str(tmp_path / "p.tsv"), "--sequences", str(tmp_path / "s.fa")]
    args += ["--out", str(tmp_path / "run"), "--quiet"]
    assert main(args) == 2
    err = _one_line_error(capsys, "train")
    assert str(tmp_path / "s.fa") in err and "H2 (35,000 aa)" in err and "--max-length" in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    assert main([*args, "--max-length", "-1"]) == 2
    _one_line_error(capsys, "train")


def test_predict_and_screen_warn_about_proteins_beyond_the_training_maximum(tmp_path, capsys):
    model = _tiny_model(tmp_path / "m.safetensors")
    long_virus = (VIRUS * 20)[:1_200]
    (tmp_path / "v.fa").write_text(f">V1\n{long_virus}\n")
    (tmp_path / "h.fa").write_text(f">H1\n{HUMAN}\n")
    (tmp_path / "s.fa").write_text(f">V1\n{long_virus}\n>H1\n{HUMAN}\n")
    (tmp_path / "p.tsv").write_text("H1\tV1\n")
    predict = ["predict", "--pairs", str(tmp_path / "p.tsv"), "--sequences", str(tmp_path / "s.fa")]
    assert main([*predict, "--model", str(model), "--out", str(tmp_path / "o.tsv"), "--quiet"]) == 0
    assert "V1 (1,200 aa)" in capsys.readouterr().err
    screen = ["screen", "--virus", str(tmp_path / "v.fa"), "--human", str(tmp_path / "h.fa")]
    assert main([*screen, "--model", str(model), "--out", str(tmp_path / "sc.tsv"), "--quiet"]) == 0
    assert "V1 (1,200 aa)" in capsys.readouterr().err


# --- 8. NaN/inf options ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "2.0"])
def test_screen_min_score_nan_is_a_one_line_error(tmp_path, capsys, value):
    (tmp_path / "s.fa").write_text(f">V1\n{VIRUS}\n")
    args = ["screen", "--virus", str(tmp_path / "s.fa"), "--human", str(tmp_path / "s.fa")]
    assert main([*args, "--out", str(tmp_path / "o.tsv"), f"--min-score={value}", "--quiet"]) == 2
    assert "min_score must be a finite number in [0, 1]" in _one_line_error(capsys, "screen")
    assert not (tmp_path / "o.tsv").exists()


def test_screen_settings_refuse_nan():
    from hvppi.scoring.interface import ScreenSettings

    for bad in (float("nan"), float("inf"), -0.1):
        with pytest.raises(ValueError, match="min_score"):
            ScreenSettings(min_score=bad)


# --- 9. orphaned hidden .part files ------------------------------------------------------------


def test_screen_and_embed_remove_orphaned_parts(tmp_path):
    model = _tiny_model(tmp_path / "m.safetensors")
    (tmp_path / "v.fa").write_text(f">V1\n{VIRUS}\n")
    (tmp_path / "h.fa").write_text(f">H1\n{HUMAN}\n")
    out = tmp_path / "o.tsv"
    orphan = tmp_path / ".o.tsv.ab_cd123.part"
    orphan.write_bytes(b"\0" * 4096)
    other = tmp_path / ".o.tsv.x.tsv.ab_cd123.part"  # another output's temporary file: kept
    other.write_bytes(b"x")
    assert orphaned_parts(out) == [orphan]
    args = ["screen", "--virus", str(tmp_path / "v.fa"), "--human", str(tmp_path / "h.fa"), "--model", str(model)]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    assert out.exists() and not orphan.exists() and other.exists()
    embedded = tmp_path / "e.h5"
    orphan = tmp_path / ".e.h5.zz99zz99.part"
    orphan.write_bytes(b"\0")
    args = ["embed", "--sequences", str(tmp_path / "v.fa"), "--model", "hvppi-features", "--out", str(embedded)]
    assert main([*args, "--quiet"]) == 0
    assert embedded.exists() and not orphan.exists()
    with h5py.File(embedded, "r") as fh:
        assert np.isfinite(np.asarray(fh["V1"])).all()

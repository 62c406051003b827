"""Bad model files, vector files, IDs and sequences refused (or handled) with a message naming the file and ID.

Findings 8 (model files not fully validated), 9 (vector files), 10 (control characters in IDs) and 15 (a viral
sequence with a non-positive self-score) of the CLI robustness review.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from safetensors import safe_open

from hvppi.cli import main
from hvppi.io.bundled import bundled_model_path
from hvppi.io.errors import InputError, ModelFileError
from hvppi.io.pairs import read_pairs
from hvppi.io.sequences import read_sequences
from hvppi.lstm.vectors import VectorStore

HUMAN = {
    "H1": "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWQAVEHEVLTE",
    "H2": "MSDNGPQNQRNAPRITFGGPSDSTGSNQNGERSGARSKQRRPQGLPNNTASWFTALTQHGKEDLKFPRGQGVPINTNSSPDDQIGYYRRATRRIRGGDGKMKDLSPRWYFYYLGTGPEAGLPYGANKDGIIWVATEGALNTPKDHIGTRNPANNAAIVLQLPQGTTLPKGFYAE",
}
VIRUS = {"V1": "MSTNPKPQRKTKRNTNRRPQDVKFPGGGQIVGGVYLLPRRGPRLGVRATRKTSERSQPRGRRQPIPKARRPEGRTWAQPGYPWPLYGNEGCGWAGWLLS"}


def _fasta(path: Path, records: dict[str, str]) -> Path:
    path.write_text("".join(f">{pid}\n{seq}\n" for pid, seq in records.items()))
    return path


def _tampered(source: Path, target: Path, framework: str, change) -> Path:
    """A copy of the safetensors file ``source`` with ``change(tensors)`` applied, its metadata kept."""
    with safe_open(str(source), framework=framework) as fh:
        metadata = fh.metadata()
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    change(tensors)
    if framework == "pt":
        from safetensors.torch import save_file
    else:
        from safetensors.numpy import save_file
    save_file(tensors, str(target), metadata=metadata)
    return target


# 8a. BatchNorm running variances


@pytest.mark.parametrize("value", [-1.0, 0.0])
def test_a_batchnorm_variance_that_is_not_positive_is_refused_at_load(tmp_path, value):
    from hvppi.lstm.modelfile import load_model

    def change(tensors):
        tensors["head.layers.1.running_var"][3] = value

    path = _tampered(bundled_model_path("lstm-phv-benchmark"), tmp_path / "negvar.safetensors", "pt", change)
    with pytest.raises(ModelFileError, match=r"tensor head\.layers\.1\.running_var holds a variance that is not pos"):
        load_model(path)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)
    load_model("lstm-phv-benchmark")  # the bundled models still load
    load_model("lstm-phv-viral-disjoint")


def test_predict_with_a_negative_variance_model_is_one_line_and_exit_2(tmp_path, capsys):
    def change(tensors):
        tensors["head.layers.1.running_var"][:] = -1.0

    model = _tampered(bundled_model_path("lstm-phv-benchmark"), tmp_path / "negvar.safetensors", "pt", change)
    (tmp_path / "pairs.txt").write_text("H1\tV1\n")
    seqs = _fasta(tmp_path / "s.fa", {**HUMAN, **VIRUS})
    argv = ["predict", "--pairs", str(tmp_path / "pairs.txt"), "--sequences", str(seqs), "--model", str(model)]
    assert main([*argv, "--out", str(tmp_path / "o.tsv"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hvppi predict: error: {model}: tensor head.layers.1.running_var") and "\n" not in err
    assert not (tmp_path / "o.tsv").exists()


# 8b. letters of a screening model's reference sequences


@pytest.mark.parametrize(
    ("side", "letter"), [("virus", "J"), ("virus", "\x00"), ("human", "J"), ("human", "\x00"), ("human", "m")]
)
def test_a_reference_sequence_with_a_bad_letter_is_refused_naming_the_file_and_protein(tmp_path, side, letter):
    from hvppi.screening.modelfile import load_screening_model

    source = bundled_model_path()
    with safe_open(str(source), framework="numpy") as fh:
        document = json.loads(fh.metadata()["hvppi"])
    index = 5
    position = int(sum(document[f"{side}_lengths"][:index])) + 2  # the third letter of the sixth protein

    def change(tensors):
        tensors[f"reference.{side}_sequences"][position] = ord(letter)

    path = _tampered(source, tmp_path / "bad.safetensors", "numpy", change)
    protein = document[f"{side}_ids"][index]
    with pytest.raises(ModelFileError) as caught:
        load_screening_model(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: corrupt screening model (reference {side} protein {protein!r} has the letter")
    assert f"{letter!r} at position 3" in message and "\n" not in message


def test_a_reference_with_a_bad_letter_stops_a_screen_before_any_work(tmp_path, capsys):
    def change(tensors):
        tensors["reference.virus_sequences"][0] = ord("J")

    model = _tampered(bundled_model_path(), tmp_path / "s_virus_J.safetensors", "numpy", change)
    virus, human = _fasta(tmp_path / "v.fa", VIRUS), _fasta(tmp_path / "h.fa", HUMAN)
    argv = ["screen", "--virus", str(virus), "--human", str(human), "--model", str(model), "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "o.tsv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hvppi screen: error: {model}: corrupt screening model (reference virus protein")
    assert "\n" not in err and not (tmp_path / "o.tsv").exists()


def test_the_bundled_screening_model_passes_the_letter_check_quickly():
    import time

    from hvppi.screening.modelfile import check_reference_letters

    path = bundled_model_path()
    with safe_open(str(path), framework="numpy") as fh:
        document = json.loads(fh.metadata()["hvppi"])
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    started = time.perf_counter()
    check_reference_letters(tensors, document, path)
    assert time.perf_counter() - started < 0.5


# 9. vector files


def _vector_file(tmp_path: Path, replace: dict[str, np.ndarray | str], width: int = 64) -> tuple[Path, dict]:
    """A virus-tower vector file of three proteins, the datasets of ``replace`` rewritten (attributes kept)."""
    path = tmp_path / "v.h5"
    sequences = {"P1": "MKV", "P2": "MKL", "P3": "MKM"}
    with VectorStore(path, "virus", "0" * 64) as store:
        store.store(sequences, {p: np.full(width, i, np.float32) for i, p in enumerate(sequences)})
    with h5py.File(path, "a") as fh:
        for pid, data in replace.items():
            attrs = dict(fh[pid].attrs)
            del fh[pid]
            fh.create_dataset(pid, data=data)
            fh[pid].attrs.update(attrs)
    return path, sequences


@pytest.mark.parametrize(
    ("data", "width", "message"),
    [
        (np.zeros(10, np.float32), 64, r"has shape \(10,\), not \(64,\)"),
        (np.zeros((64, 2), np.float32), 64, r"has shape \(64, 2\), not \(64,\)"),
        (np.zeros((64, 2), np.float32), None, r"has shape \(64, 2\), not one dimension"),
        (np.zeros(10, np.float32), None, r"has 10 values, but the vector of 'P1' has 64"),
        (np.float32(1.0), None, r"has shape \(\), not one dimension"),
        ("a string", None, "is not numeric"),
        (np.array([b"x"] * 64), None, "is not numeric"),
        (np.zeros(64, np.complex64), None, "is not numeric"),
        (np.zeros(64, bool), None, "is not numeric"),
    ],
)
def test_a_stored_vector_of_the_wrong_shape_or_type_names_the_file_and_protein(tmp_path, data, width, message):
    path, sequences = _vector_file(tmp_path, {"P2": data})
    given = {} if width is None else {"width": width}
    with VectorStore(path, "virus", "0" * 64, **given) as store, pytest.raises(InputError, match=message) as caught:
        store.lookup(sequences)
    assert str(caught.value).startswith(f"{path}, ID 'P2': the stored vector ")


def test_stored_vectors_of_a_whole_number_type_and_the_right_width_are_read(tmp_path):
    path, sequences = _vector_file(tmp_path, {"P2": np.arange(64, dtype=np.int32)})
    with VectorStore(path, "virus", "0" * 64, width=64) as store:
        found, missing, changed = store.lookup(sequences)
    assert sorted(found) == ["P1", "P2", "P3"] and not missing and not changed
    assert found["P2"].tolist() == list(range(64))


def test_screen_with_a_damaged_vector_file_names_the_file_and_protein(tmp_path, capsys):
    virus = _fasta(tmp_path / "v.fa", {"V1": VIRUS["V1"], "V2": VIRUS["V1"][:-5]})
    human = _fasta(tmp_path / "h.fa", HUMAN)
    vectors = tmp_path / "v.h5"
    assert main(["encode", "--sequences", str(virus), "--tower", "virus", "--out", str(vectors), "--quiet"]) == 0
    capsys.readouterr()
    base = ["screen", "--model", "lstm-phv-benchmark", "--virus", str(virus), "--human", str(human), "--quiet"]
    for data, message in ((np.zeros(10, np.float32), "has shape (10,), not (64,)"), ("text", "is not numeric")):
        with h5py.File(vectors, "a") as fh:
            attrs = dict(fh["V2"].attrs)
            del fh["V2"]
            fh.create_dataset("V2", data=data)
            fh["V2"].attrs.update(attrs)
        assert main([*base, "--virus-vectors", str(vectors), "--out", str(tmp_path / "o.tsv")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"hvppi screen: error: {vectors}, ID 'V2': the stored vector ") and message in err
        assert "\n" not in err and not (tmp_path / "o.tsv").exists()


# 10. control characters in protein IDs


CONTROLS = ["\x00", "\t", "\x01", "\x1b", "\x7f", "\x85", "\x9b", "\u2028"]


@pytest.mark.parametrize("control", CONTROLS)
def test_check_protein_id_refuses_control_characters(control):
    from hvppi.io.sequences import check_protein_id

    with pytest.raises(InputError, match="control character") as caught:
        check_protein_id(f"a{control}b", "f.txt", 7)
    assert str(caught.value).startswith(f"f.txt, line 7, ID {f'a{control}b'!r}: ")
    assert "\n" not in str(caught.value) and "\x00" not in str(caught.value)
    assert check_protein_id("sp-P0DTC2_x.1 (isoform)", "f.txt", 7) == "sp-P0DTC2_x.1 (isoform)"


def test_a_nul_in_a_fasta_header_is_refused_at_its_line(tmp_path):
    path = tmp_path / "nul.fa"
    path.write_bytes(b">ok\nMKTAYIAKQR\n>a\x00b\nMKTAYIAKQR\n")
    with pytest.raises(InputError, match="control character") as caught:
        read_sequences(path)
    assert str(caught.value).startswith(f"{path}, line 3, ID 'a\\x00b': ")


@pytest.mark.parametrize(
    ("name", "text", "shown"),
    [("seq.tsv", "P1\tMKV\nP\x012\tMKL\n", "P\\x012"), ("pairs.txt", "H1\tV1\t1\nH2\tV\x0b2\t0\n", "V\\x0b2")],
    ids=["sequence table", "pair file"],
)
def test_a_control_character_in_a_table_id_is_refused(tmp_path, name, text, shown):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match="control character") as caught:
        read_sequences(path) if name == "seq.tsv" else read_pairs(path)
    assert str(caught.value).startswith(f"{path}, line 2, ID '{shown}': ")


def test_a_tab_or_newline_in_a_quoted_csv_id_is_refused(tmp_path):
    header = "human_pro,virus_pro,labels,human_seq,virus_seq\n"
    tab = tmp_path / "tab.csv"
    tab.write_text(header + '"H1\tX",V1,1,MKTAYIAKQRQISFVKSHFSRQ,MSTNPKPQRKTKRNTNRRPQDV\n')
    with pytest.raises(InputError, match="control character") as caught:
        read_pairs(tab)
    assert str(caught.value).startswith(f"{tab}, line 2, ID 'H1\\tX': ")
    newline = tmp_path / "lf.csv"
    newline.write_text(header + 'H1,"V2\nY",0,MKTAYIAKQRQISFVKSHFSRW,MSTNPKPQRKTKRNTNRRPQDW\n')
    with pytest.raises(InputError, match="control character") as caught:
        read_pairs(newline)
    assert "ID 'V2\\nY'" in str(caught.value)
    no_sequences = tmp_path / "ids.csv"
    no_sequences.write_text('human_pro,virus_pro\nH1,V1\n"H\x002",V2\n')
    with pytest.raises(InputError, match=r"line 3, ID 'H\\x002': .*control character"):
        read_pairs(no_sequences)


def test_predict_with_a_control_character_in_an_id_writes_nothing(tmp_path, capsys):
    pairs = tmp_path / "ctl.csv"
    pairs.write_text(
        'human_pro,virus_pro,labels,human_seq,virus_seq\n"H1\tX",V1,1,MKTAYIAKQRQISFVKSHFSRQ,MSTNPKPQRKTKRNTNRRPQDV\n'
    )
    out = tmp_path / "ctl.tsv"
    assert main(["predict", "--pairs", str(pairs), "--model", "lstm-phv-benchmark", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hvppi predict: error: {pairs}, line 2, ID 'H1\\tX': ") and "\n" not in err
    assert not out.exists()


# 15. a viral sequence with a non-positive self-score


def test_a_sequence_with_a_negative_self_score_is_zero_similar():
    from hvppi.align.similarity import local_similarity, self_scores

    sequences = ["X" * 20, "MKTAYIAKQRQISFVKSHFSRQ", "XXXXXXXXXXXXXXXXXXXXA", "MKTAYIAKQRQISFVKSHFSRQ"]
    assert (self_scores(sequences[:1]) < 0).all() and (self_scores(sequences[2:3]) <= 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        square = local_similarity(sequences, threads=1)
        cross = local_similarity(sequences[:3], sequences[1:], threads=1)
    assert np.isfinite(square).all() and np.isfinite(cross).all()
    assert square[0].tolist() == [0.0] * 4 and square[:, 2].tolist() == [0.0] * 4
    assert square[1, 3] == 1.0 and square[1, 1] == 1.0
    assert cross[0].tolist() == [0.0] * 3 and cross[1, 0] == 1.0


def test_screening_an_all_x_viral_protein_gives_no_nan_and_no_warning(tmp_path):
    import subprocess
    import sys

    virus = tmp_path / "allx.fa"
    virus.write_text(">allx\nXXXXXXXXXXXXXXXXXXXX\n")
    human = _fasta(tmp_path / "h.fa", HUMAN)
    out = tmp_path / "ax.tsv"
    done = subprocess.run(
        [sys.executable, "-m", "hvppi.cli", "screen", "--virus", str(virus), "--human", str(human), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr and "similarity nan" not in done.stderr
    assert "the nearest training viral protein has similarity 0.00" in done.stderr
    lines = out.read_text().splitlines()
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    assert len(rows) == len(HUMAN)
    assert all(float(row[header.index("nearest_similarity")]) == 0.0 for row in rows)
    assert all(row[header.index("nearest_training_virus")] == "" for row in rows)  # nothing is near: none named
    assert all(math.isfinite(float(row[header.index(name)])) for row in rows for name in ("score", "probability"))
    assert not any(field.lower() == "nan" for row in rows for field in row)

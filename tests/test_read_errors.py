"""Damaged or mistaken input files: every reader raises InputError naming the file, with what is wrong and
what to do, and ``hvppi`` reports it as one stderr line with exit status 2 (without searching the
traceback for the file)."""

import gzip
import zipfile

import numpy as np
import pytest

from hvppi.cli import main, router
from hvppi.datasets.mitab import read_mitab
from hvppi.geometry.readers import open_embeddings, read_protein_vectors
from hvppi.io.errors import InputError, ModelFileError
from hvppi.io.pairs import read_pairs
from hvppi.io.sequences import read_sequences
from hvppi.lstm.modelfile import read_model_info

HUMAN = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKA"
VIRUS = "MESLVPGFNEKTHVQLSLPVLQVRDVLVRGFGDSVEEVLSEARQHLKDGTCGLVEVEKGVLPQLEQPYVFIKRSDARTAPHGHVMVELVAELEGIQYG"
MITAB_ROW = "\t".join(
    [
        "uniprotkb:P04637",
        "uniprotkb:P0DTC2",
        "-",
        "-",
        "-",
        "-",
        'psi-mi:"MI:0018"',
        "-",
        "pubmed:1",
        "taxid:9606(Homo sapiens)",
        "taxid:2697049(SARS-CoV-2)",
        'psi-mi:"MI:0915"',
        'psi-mi:"MI:0469"',
        "intact:EBI-1",
        "intact-miscore:0.5",
    ]
)


def _truncated_gzip(data: bytes) -> bytes:
    packed = gzip.compress(data)
    return packed[: len(packed) // 2]


@pytest.fixture()
def files(tmp_path):
    """Good inputs, and bad ones of each kind."""
    fasta = f">H1\n{HUMAN}\n>H2\n{HUMAN[::-1]}\n>V1\n{VIRUS}\n".encode()
    (tmp_path / "seqs.fa").write_bytes(fasta)
    (tmp_path / "pairs.txt").write_text("H1\tV1\t1\nH2\tV1\t0\n")
    (tmp_path / "truncated.fa.gz").write_bytes(_truncated_gzip(fasta * 50))
    (tmp_path / "truncated_pairs.txt.gz").write_bytes(_truncated_gzip(b"H1\tV1\t1\n" * 500))
    (tmp_path / "truncated.mitab.gz").write_bytes(_truncated_gzip((MITAB_ROW + "\n").encode() * 500))
    packed = bytearray(gzip.compress(fasta * 50))
    packed[-8] ^= 0xFF  # the CRC of the uncompressed data
    (tmp_path / "bad_crc.fa.gz").write_bytes(bytes(packed))
    (tmp_path / "not_a.zip").write_bytes(b"PK\x03\x04 not really a zip archive")
    (tmp_path / "latin1_header.fa").write_bytes(f">H1 prot\xe9ine\n{HUMAN}\n".encode("latin-1"))
    (tmp_path / "latin1_line3.fa").write_bytes(f">H1\n{HUMAN}\n>V1 caf\xe9\n{VIRUS}\n".encode("latin-1"))
    (tmp_path / "folder").mkdir()
    return tmp_path


LIBRARY_CASES = {
    "truncated gzip FASTA": (read_sequences, "truncated.fa.gz", "truncated gzip file", None),
    "truncated gzip pairs": (read_pairs, "truncated_pairs.txt.gz", "truncated gzip file", None),
    "truncated gzip MITAB": (read_mitab, "truncated.mitab.gz", "truncated gzip file", None),
    "gzip CRC mismatch": (read_sequences, "bad_crc.fa.gz", "corrupt gzip file", None),
    "zip that is not a zip": (read_mitab, "not_a.zip", "corrupt zip archive", None),
    "Latin-1 in a FASTA header": (read_sequences, "latin1_header.fa", "not UTF-8 text (byte 0xe9 at column 9)", 1),
    "Latin-1 on a later line": (read_sequences, "latin1_line3.fa", "not UTF-8 text (byte 0xe9 at column 8)", 3),
    "directory as FASTA": (read_sequences, "folder", "is a directory", None),
    "directory as pairs": (read_pairs, "folder", "is a directory", None),
    "directory as MITAB": (read_mitab, "folder", "is a directory", None),
    "directory as embeddings": (open_embeddings, "folder", "is a directory", None),
}


@pytest.mark.parametrize("case", list(LIBRARY_CASES))
def test_reader_raises_input_error_naming_the_file(case, files):
    reader, name, reason, line = LIBRARY_CASES[case]
    path = files / name
    with pytest.raises(InputError) as raised:
        reader(path)
    error = raised.value
    assert error.path == str(path)
    assert error.line == line
    assert reason in error.reason
    assert str(error).startswith(str(path))
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # nothing chained
    if "directory" not in case:
        assert "again" in error.reason or "save the file as UTF-8" in error.reason  # what to do


def test_undecodable_line_counts_lines_as_the_reader_does(files):
    path = files / "crlf.fa"
    path.write_bytes(b">H1\r\n" + HUMAN.encode() + b"\r\n>V1\r\n" + VIRUS[:10].encode() + b"\xff\r\n")
    with pytest.raises(InputError) as raised:
        read_sequences(path)
    assert raised.value.line == 4


def test_corrupt_compressed_data_in_a_gzip_file(files):
    packed = bytearray(gzip.compress(f">H1\n{HUMAN}\n".encode() * 200))
    packed[30:60] = b"\x00" * 30  # inside the deflate stream
    path = files / "corrupt.fa.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(InputError) as raised:
        read_sequences(path)
    assert raised.value.path == str(path)
    assert "gzip file" in raised.value.reason


def test_damaged_member_of_an_npz(files):
    rng = np.random.default_rng(0)
    good = files / "vectors.npz"
    np.savez_compressed(good, **{f"P{i}": rng.normal(size=(200, 8)) for i in range(5)})
    data = good.read_bytes()
    with zipfile.ZipFile(good) as archive:
        member = archive.getinfo("P2.npy")
    start = member.header_offset + 30 + len(member.filename) + 1000  # past the array header: read on first use
    damaged = files / "damaged.npz"
    damaged.write_bytes(data[:start] + bytes(40) + data[start + 40 :])
    with pytest.raises(InputError) as raised:
        read_protein_vectors(damaged)
    assert raised.value.path == str(damaged)
    assert raised.value.protein_id == "P2"  # the damaged member is named
    assert "Bad CRC-32" in raised.value.reason and "again" in raised.value.reason


def test_directory_as_model_file(files):
    with pytest.raises(ModelFileError, match="is a directory, not a model file"):
        read_model_info(files / "folder")


def _split(pairs="pairs.txt", sequences="seqs.fa"):
    return ["split", "--pairs", pairs, "--sequences", sequences, "--out", "split_out"]


CLI_CASES = {
    "truncated gzip FASTA": (_split(sequences="truncated.fa.gz"), "split", "truncated.fa.gz", "truncated gzip file"),
    "truncated gzip pairs": (
        _split(pairs="truncated_pairs.txt.gz"),
        "split",
        "truncated_pairs.txt.gz",
        "truncated gzip file",
    ),
    "zip that is not a zip": (
        ["dataset", "build", "--mitab", "not_a.zip", "--out", "ds", "--quiet"],
        "dataset build",
        "not_a.zip",
        "corrupt zip archive",
    ),
    "Latin-1 in a FASTA header": (
        _split(sequences="latin1_header.fa"),
        "split",
        "latin1_header.fa, line 1",
        "not UTF-8 text",
    ),
    "directory as FASTA": (_split(sequences="folder"), "split", "folder", "is a directory"),
}


@pytest.mark.parametrize("without_traceback_search", [False, True])
@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_reports_one_line_naming_the_file(case, without_traceback_search, files, capsys, monkeypatch):
    argv, command, named, reason = CLI_CASES[case]
    if without_traceback_search:  # the readers name the file themselves: the router's fallback is not needed
        monkeypatch.setattr(router, "_file_in_traceback", lambda tb: None)
    monkeypatch.chdir(files)
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"hvppi {command}: error: {named}: "), lines[0]
    assert reason in lines[0], lines[0]
    assert "Traceback" not in err
    assert not (files / "split_out").exists()

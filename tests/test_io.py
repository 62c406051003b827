import gzip

import pytest

from conftest import BENCHMARK
from hvppi.io.errors import InputError
from hvppi.io.pairs import PairTable, merge_sequences, read_pairs
from hvppi.io.sequences import read_sequences


def write(path, text):
    path.write_text(text)
    return path


def test_fasta_multiline_and_gzip(tmp_path):
    text = ">P1 some description\nMKV\nLLA\n\n>P2\nmkk\n"
    plain = write(tmp_path / "a.fasta", text)
    packed = tmp_path / "a.fasta.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        assert read_sequences(path) == {"P1": "MKVLLA", "P2": "MKK"}


def test_benchmark_sequence_table_is_read_whole():
    seqs = read_sequences(BENCHMARK / "pro_seq.txt")
    assert len(seqs) == 7031
    assert min(map(len, seqs.values())) == 31 and max(map(len, seqs.values())) == 999


@pytest.mark.parametrize(
    "text, line, pid, reason",
    [
        (">P1\nMKV\n>P2\n>P3\nMKV\n", 3, "P2", "empty sequence"),
        (">P1\nMKV\n>P2\nMK1V\n", 4, "P2", "unknown amino-acid letter '1'"),
        (">P1\nMKV\n>P2\nMKLV\nMKJV\nMKV\n", 5, "P2", "unknown amino-acid letter 'J' at position 7"),
        (">P1\nMKV\n>P1\nMKL\n", 3, "P1", "two different sequences"),
        ("P1\tMKV\nP2\t\n", 2, "P2", "empty sequence"),
        ("P1\tMKV\nP2\tMJV\n", 2, "P2", "unknown amino-acid letter 'J'"),
    ],
)
def test_bad_sequences_name_file_line_and_id(tmp_path, text, line, pid, reason):
    path = write(tmp_path / "seqs.txt", text)
    with pytest.raises(InputError) as err:
        read_sequences(path)
    assert err.value.path == str(path) and err.value.line == line and err.value.protein_id == pid
    assert reason in str(err.value) and str(path) in str(err.value) and f"line {line}" in str(err.value)


def test_repeated_id_with_the_same_sequence_is_accepted(tmp_path):
    assert read_sequences(write(tmp_path / "s.fa", ">P1\nMKV\n>P1\nmkv\n")) == {"P1": "MKV"}


def test_table_header_line_is_skipped(tmp_path):
    assert read_sequences(write(tmp_path / "s.txt", "id\tsequence\nP1\tMKV\n")) == {"P1": "MKV"}


def test_pair_files_combined_keep_their_own_names_in_errors(tmp_path):
    a = read_pairs(write(tmp_path / "a.txt", "H1\tV1\t1\n"))
    b = read_pairs(write(tmp_path / "b.txt", "H1\tV2\t0\nH2\tV9\t0\n"))
    with pytest.raises(InputError) as err:
        merge_sequences(PairTable.concat([a, b]), {"H1": "MKV", "H2": "MKV", "V1": "MLL", "V2": "MLL"})
    assert err.value.path == str(tmp_path / "b.txt") and err.value.line == 2


def test_pairs_csv_and_sequence_file_disagreeing_is_an_error(tmp_path):
    pairs = read_pairs(write(tmp_path / "p.csv", "human_pro,virus_pro,human_seq,virus_seq\nH1,V1,MKV,MLL\n"))
    with pytest.raises(InputError, match="different sequences") as err:
        merge_sequences(pairs, {"H1": "MKA", "V1": "MLL"}, "seqs.fa")
    assert err.value.protein_id == "H1"


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    from hvppi.io.files import atomic_write

    with atomic_write(tmp_path / "out.txt") as fh:
        fh.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_sequence_before_header_is_an_error(tmp_path):
    with pytest.raises(InputError, match="line 1"):
        read_sequences(write(tmp_path / "s.fa", "MKV\n>P1\nMKV\n"))


def test_benchmark_pairs_with_and_without_labels(tmp_path):
    labelled = read_pairs(write(tmp_path / "p.txt", "H1\tV1\t1\nH2\tV1\t0\n"))
    assert labelled.human_ids == ["H1", "H2"] and labelled.labels.tolist() == [1, 0] and labelled.lines == [1, 2]
    unlabelled = read_pairs(write(tmp_path / "u.txt", "H1\tV1\nH2\tV1\n"))
    assert unlabelled.labels is None and unlabelled.virus_ids == ["V1", "V1"]


@pytest.mark.parametrize("label", ["2", "-1", "yes", "0.5", ""])
def test_labels_other_than_0_or_1_are_rejected(tmp_path, label):
    path = write(tmp_path / "p.txt", f"H1\tV1\t1\nH2\tV2\t{label}\n")
    with pytest.raises(InputError, match="label must be 0 or 1") as err:
        read_pairs(path)
    assert err.value.line == 2 and "H2/V2" in str(err.value)


def test_pair_rows_must_keep_their_column_count(tmp_path):
    with pytest.raises(InputError, match="line 2"):
        read_pairs(write(tmp_path / "p.txt", "H1\tV1\t1\nH2\tV2\n"))


def test_lstm_phv_csv_with_bom_and_sequences(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(
        "\ufeffhuman_pro,virus_pro,human_seq,virus_seq,labels\nH1,V1,MKV,MLL,1\nH2,V1,MKA,MLL,0\n".encode("utf-8")
    )
    pairs = read_pairs(path)
    assert pairs.human_ids == ["H1", "H2"] and pairs.labels.tolist() == [1, 0]
    assert merge_sequences(pairs, None) == {"H1": "MKV", "V1": "MLL", "H2": "MKA"}


def test_lstm_phv_csv_with_id_columns_and_no_labels(tmp_path):
    pairs = read_pairs(write(tmp_path / "p.csv", "human_id,virus_id\nH1,V1\n"))
    assert pairs.labels is None and pairs.sequences == {}


def test_csv_giving_one_id_two_sequences_is_an_error(tmp_path):
    path = write(tmp_path / "p.csv", "human_pro,virus_pro,human_seq,virus_seq\nH1,V1,MKV,MLL\nH2,V1,MKA,MLA\n")
    with pytest.raises(InputError, match="two different sequences") as err:
        read_pairs(path)
    assert err.value.line == 3 and err.value.protein_id == "V1"


def test_pair_id_without_sequence_names_pair_file_line_and_id(tmp_path):
    pairs = read_pairs(write(tmp_path / "p.txt", "H1\tV1\t1\nH2\tV9\t0\n"))
    with pytest.raises(InputError) as err:
        merge_sequences(pairs, {"H1": "MKV", "H2": "MKV", "V1": "MLL"}, "seqs.fa")
    assert err.value.path == str(tmp_path / "p.txt") and err.value.line == 2 and err.value.protein_id == "V9"


def test_one_class_is_rejected_where_both_are_needed(tmp_path):
    pairs = read_pairs(write(tmp_path / "v.txt", "H1\tV1\t0\nH2\tV1\t0\n"))
    with pytest.raises(InputError, match="only negative"):
        pairs.require_both_classes("validation pairs")


def test_concat_subset_and_write_round_trip(tmp_path):
    a = read_pairs(write(tmp_path / "a.txt", "H1\tV1\t1\nH2\tV1\t0\n"))
    b = read_pairs(write(tmp_path / "b.txt", "H3\tV2\t0\n"))
    both = PairTable.concat([a, b])
    assert both.human_ids == ["H1", "H2", "H3"] and both.labels.tolist() == [1, 0, 0]
    both.subset([2, 0]).write_tsv(tmp_path / "c.txt")
    assert (tmp_path / "c.txt").read_text() == "H3\tV2\t0\nH1\tV1\t1\n"


def test_fingerprint_ignores_row_order_but_not_labels(tmp_path):
    seqs = {"H1": "MKV", "H2": "MKA", "V1": "MLL"}
    a = read_pairs(write(tmp_path / "a.txt", "H1\tV1\t1\nH2\tV1\t0\n"))
    b = read_pairs(write(tmp_path / "b.txt", "H2\tV1\t0\nH1\tV1\t1\n"))
    c = read_pairs(write(tmp_path / "c.txt", "H2\tV1\t1\nH1\tV1\t1\n"))
    assert a.fingerprint(seqs) == b.fingerprint(seqs) != c.fingerprint(seqs)
    assert a.fingerprint(seqs) != a.fingerprint({**seqs, "V1": "MLA"})

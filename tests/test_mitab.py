import gzip
import zipfile

import pytest

from conftest import SHARED
from hvppi.datasets.mitab import (
    MITAB_PLUS_COLUMNS,
    Interaction,
    is_human_virus,
    oriented,
    parse_confidence,
    parse_taxid,
    parse_xref,
    pick_identifier,
    read_mitab,
)
from hvppi.io.errors import InputError
from hvppi.io.sequences import read_sequences

HPIDB = SHARED / "hpidb3-virus" / "hpidb_virus_25_10_22.zip"
POOL = SHARED / "sequences" / "sequence_pool.fasta.gz"


@pytest.fixture(scope="module")
def hpidb():
    return read_mitab(HPIDB)


def test_real_export_counts(hpidb):
    """The counts of the shared data README, made independently on the raw file."""
    assert hpidb.layout == "mitab25"
    assert hpidb.rows == len(hpidb.interactions) == 49142
    assert hpidb.bad_lines == []
    human_virus = [i for i in hpidb.interactions if is_human_virus(i)]
    assert len(human_virus) == 47275
    intact = [i.scores["intact-miscore"] for i in hpidb.interactions if "intact-miscore" in i.scores]
    assert (len(intact), sum(s >= 0.3 for s in intact), sum(s >= 0.4 for s in intact)) == (17749, 17679, 5002)
    hv_intact = [i.mi_score("intact-miscore") for i in human_virus]
    assert sum(s is not None and s >= 0.3 for s in hv_intact) == 16709
    assert sum(s is not None and s >= 0.4 for s in hv_intact) == 4470
    # every row carries one miscore at most here, so the "any" rule is the one score of each row
    assert all(len(i.scores) <= 1 for i in hpidb.interactions)
    assert sum(i.mi_score() is not None for i in hpidb.interactions) == 17749 + 27809


def test_real_export_identifiers_and_pool(hpidb):
    """Rows whose two ID columns are one uniprotkb: accession each keep it; 36,656 of those 39,864
    human–non-human rows have both sequences in the pool (README)."""
    with zipfile.ZipFile(HPIDB) as archive:
        raw = archive.read(archive.namelist()[0]).decode().splitlines()
    single = {
        n
        for n, line in enumerate(raw, start=1)
        if all(c.startswith("uniprotkb:") and "|" not in c for c in line.split("\t")[:2])
    }
    pool = read_sequences(POOL)
    rows = [i for i in hpidb.interactions if is_human_virus(i) and i.line in single]
    assert len(rows) == 39864
    for i in rows[:2000]:
        columns = raw[i.line - 1].split("\t")
        assert (i.id_a, i.id_b) == (columns[0][10:], columns[1][10:])
    assert sum(i.id_a in pool and i.id_b in pool for i in rows) == 36656
    first = hpidb.interactions[0]  # dip:DIP-103N|uniprotkb:Q96Q89 / dip:...|refseq:NP_044879|uniprotkb:O41958
    assert (first.id_a, first.id_b, first.taxid_a, first.taxid_b) == ("Q96Q89", "O41958", 9606, 33708)
    assert oriented(first)[:2] == ("Q96Q89", "O41958")


def test_identifier_rules():
    assert parse_xref("uniprotkb:P12345") == ("uniprotkb", "P12345")
    assert parse_xref("taxid:9606(Homo sapiens)") == ("taxid", "9606")
    assert pick_identifier("uniprotkb:P12345-2") == "P12345-2"
    assert pick_identifier("uniprotkb:P27958-PRO_0000037566") == "P27958-PRO_0000037566"
    assert pick_identifier("dip:DIP-1N|refseq:NP_044879|uniprotkb:O41958") == "O41958"
    assert pick_identifier("dip:DIP-1N|refseq:NP_044879") == "NP_044879"
    assert pick_identifier("refseq:NP_1|refseq:NP_2") == "NP_1"
    # entry names in the alternative column are no accessions; accessions there are used
    assert pick_identifier("intact:EBI-1", "uniprotkb:KI20B_HUMAN|uniprotkb:Q96Q89") == "Q96Q89"
    assert pick_identifier("entrez gene/locuslink:3055", "biogrid:109305") == "entrez gene/locuslink:3055"
    assert pick_identifier("-") is None


def test_taxid_and_score_rules():
    assert parse_taxid("9606") == 9606
    assert parse_taxid("taxid:9606(Homo sapiens)") == 9606
    assert parse_taxid("taxid:11676(hiv-1)|taxid:11676(Human immunodeficiency virus 1)") == 11676
    assert parse_taxid("taxid:-1(in vitro)") == -1
    assert parse_taxid("-") is None
    with pytest.raises(ValueError):
        parse_taxid("human")
    assert parse_confidence("author score:4.17|intact-miscore:0.67") == {"intact-miscore": 0.67}
    assert parse_confidence("-") == {}
    scores = parse_confidence("virhostnet-miscore:0.5|intact-miscore:0.35|other-miscore:0.9")
    row = Interaction("A", "B", 9606, 1, scores, 1)
    assert row.mi_score() == 0.35  # the intact-miscore when present
    assert row.mi_score("virhostnet-miscore") == 0.5
    del scores["intact-miscore"]
    assert row.mi_score() == 0.9  # else the highest miscore
    with pytest.raises(ValueError, match="not a number"):
        parse_confidence("intact-miscore:high")
    with pytest.raises(ValueError, match="outside"):
        parse_confidence("intact-miscore:1.5")


def _plus_row(**values) -> str:
    row = {name: "-" for name in MITAB_PLUS_COLUMNS}
    row.update(values)
    return "\t".join(row[name] for name in MITAB_PLUS_COLUMNS) + "\n"


def _plus_text() -> str:
    header = "# " + "\t".join(MITAB_PLUS_COLUMNS) + "\n"
    return (
        header
        + _plus_row(
            protein_xref_1="uniprotkb:P12345",
            protein_xref_2="uniprotkb:Q9WMX2-PRO_0000037551",
            protein_taxid_1="taxid:9606(Homo sapiens)",
            protein_taxid_2="taxid:333284(HCV)",
            confidence="intact-miscore:0.56",
            protein_taxid_1_cat="MAMMALIA",
            protein_taxid_2_cat="VIRUS",
            protein_seq1="MKTAYIAKQR",
            protein_seq2="mstnpkpqrk",
        )
        + _plus_row(  # virus as interactor A: oriented to (human, virus)
            protein_xref_1="refseq:NP_040311",
            protein_xref_2="uniprotkb:O00206",
            protein_taxid_1="taxid:10298(HHV-1)",
            protein_taxid_2="taxid:9606(Homo sapiens)",
            confidence="virhostnet-miscore:0.41",
            protein_taxid_1_cat="VIRUS",
            protein_taxid_2_cat="MAMMALIA",
            protein_seq1="MAAC",
            protein_seq2="MSSW",
        )
        + _plus_row(  # a bacterial partner: not human–virus
            protein_xref_1="uniprotkb:P12345",
            protein_xref_2="uniprotkb:P0A6F5",
            protein_taxid_1="taxid:9606(Homo sapiens)",
            protein_taxid_2="taxid:562(E. coli)",
            confidence="intact-miscore:0.7",
            protein_taxid_1_cat="MAMMALIA",
            protein_taxid_2_cat="BACTERIA",
        )
    )


@pytest.mark.parametrize("packing", ["plain", "gzip", "zip"])
def test_mitab_plus_layouts(tmp_path, packing):
    text = _plus_text()
    if packing == "plain":
        path = tmp_path / "hpidb.mitab_plus.txt"
        path.write_text(text)
    elif packing == "gzip":
        path = tmp_path / "hpidb.mitab_plus.txt.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path = tmp_path / "hpidb.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("hpidb.mitab_plus.txt", text)
    parsed = read_mitab(path)
    assert parsed.layout == "mitab_plus" and parsed.rows == 3
    first, second, third = parsed.interactions
    assert (first.id_a, first.id_b, first.taxid_a, first.taxid_b) == ("P12345", "Q9WMX2-PRO_0000037551", 9606, 333284)
    assert (first.sequence_a, first.sequence_b) == ("MKTAYIAKQR", "MSTNPKPQRK")
    assert first.category_b == "VIRUS" and first.mi_score() == 0.56
    assert oriented(second) == ("O00206", "NP_040311", "MSSW", "MAAC", 10298)
    assert [is_human_virus(i) for i in parsed.interactions] == [True, True, False]
    assert [i.line for i in parsed.interactions] == [2, 3, 4]


def test_zip_with_two_files_is_refused(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", "x")
        archive.writestr("b.txt", "y")
    with pytest.raises(InputError, match="exactly one file"):
        read_mitab(path)


def _mitab25_line(a="uniprotkb:P12345", b="uniprotkb:P03070", taxa="9606", taxb="10633", conf="intact-miscore:0.5"):
    return (
        "\t".join([a, b, "-", "-", "-", "-", "psi-mi:MI:0018", "-", "pubmed:1", taxa, taxb, "-", "-", "-", conf]) + "\n"
    )


def test_malformed_lines_name_file_and_line(tmp_path):
    path = tmp_path / "export.txt"
    good = _mitab25_line()
    path.write_text(
        good
        + good
        + _mitab25_line(taxb="SV40")
        + good
        + good.replace("\t-\t-\t-\t-\t", "\t-\t-\t-\t", 1)
        + _mitab25_line(conf="intact-miscore:abc")
        + _mitab25_line(a="-")
    )
    with pytest.raises(InputError) as info:
        read_mitab(path)
    assert info.value.line == 3 and info.value.path == str(path) and "taxid" in str(info.value)
    parsed = read_mitab(path, skip_bad_lines=True)
    assert parsed.bad_lines == [3, 5, 6, 7]
    assert len(parsed.interactions) == 3 and parsed.rows == 7
    assert "found 14" in parsed.bad_reasons[1]
    assert "not a number" in parsed.bad_reasons[2] and "empty interactor A" in parsed.bad_reasons[3]


def test_not_a_mitab_file(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("P12345\tP03070\t1\n")
    with pytest.raises(InputError, match="not a PSI-MITAB file"):
        read_mitab(path)
    with pytest.raises(InputError, match="file not found"):
        read_mitab(tmp_path / "missing.txt")


def test_a_bad_first_row_is_reported_itself_and_comments_are_skipped(tmp_path):
    good = _mitab25_line()
    path = tmp_path / "first_bad.txt"
    path.write_text(good.replace("\n", "\textra\n") + good + good)
    with pytest.raises(InputError) as info:
        read_mitab(path)
    assert info.value.line == 1 and "16 tab-separated columns" in str(info.value)
    path = tmp_path / "comment.txt"
    path.write_text("# exported from HPIDB on 2022-10-25\n" + good + good)
    parsed = read_mitab(path)
    assert parsed.layout == "mitab25" and len(parsed.interactions) == 2 and parsed.bad_lines == []

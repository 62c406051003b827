"""Virus taxonomy tables and PSI-MITAB taxids (hvppi.datasets.taxonomy)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter

import pytest

from hvppi.datasets.taxonomy import VirusTaxonomy, read_virus_taxonomy
from hvppi.io.errors import InputError

MITAB_ROW = (
    'uniprotkb:{a}\tuniprotkb:{b}\t-\t-\t-\t-\tpsi-mi:"MI:0018"\t-\tpubmed:1\t'
    'taxid:{ta}(x)\ttaxid:{tb}(y)\tpsi-mi:"MI:0915"\t-\t-\tintact-miscore:0.5\n'
)


def test_table_votes_split_cells_and_fill_families_through_the_taxon(tmp_path):
    rows = [
        ("Q1-PRO_0000001", "11676,11706", "Retroviridae"),
        ("Q1", "11676", "Retroviridae"),
        ("Q1-2", "11706", ""),  # 11676: 2 votes (its own cell, and first in a cell of two named alone once each)
        ("P2", "nan", "Flaviviridae"),  # family without a taxon
        ("P3", "10298", "-"),  # taxon without a family
        ("P4", "10298", "Herpesviridae"),  # gives 10298 its family, and so P3's
        ("P5", "10292,10298", "Herpesviridae"),  # the family's taxid first: 10298 is the one named alone
    ]
    text = "Uniprot_human,Uniprot_virus,Taxon_virus,Family_virus\n" + "".join(f'H,{v},"{t}",{f}\n' for v, t, f in rows)
    (tmp_path / "t.csv").write_text(text)
    taxonomy = read_virus_taxonomy(tmp_path / "t.csv")
    assert taxonomy.of("Q1-PRO_0000009") == ("11676", "Retroviridae")
    assert taxonomy.of("P2") == (None, "Flaviviridae")
    assert taxonomy.of("P3") == ("10298", "Herpesviridae")
    assert taxonomy.of("X9") == (None, None)
    assert taxonomy.family_for_taxon("10298") == "Herpesviridae" and taxonomy.family_for_taxon(None) is None
    assert taxonomy.families() == {
        "Q1": "Retroviridae",
        "P2": "Flaviviridae",
        "P3": "Herpesviridae",
        "P4": "Herpesviridae",
        "P5": "Herpesviridae",
    }
    assert taxonomy.of("P5") == ("10298", "Herpesviridae")
    (tmp_path / "t.tsv").write_text("virus_id\ttaxon\n" + "".join(f"{v}\t{t}\n" for v, t, _ in rows))
    assert read_virus_taxonomy(tmp_path / "t.tsv").of("Q1") == ("11676", None)
    with zipfile.ZipFile(tmp_path / "t.zip", "w") as archive:
        archive.writestr("table.csv", text)
    assert read_virus_taxonomy(tmp_path / "t.zip") == taxonomy


def test_mitab_taxids_of_non_human_interactors_merge_with_a_table(tmp_path):
    lines = [
        MITAB_ROW.format(a="P12345", b="P0DTC2", ta=9606, tb=2697049),
        MITAB_ROW.format(a="P0DTC9", b="P12345", ta=2697049, tb=9606),
        MITAB_ROW.format(a="P12345", b="P0DTC2-PRO_0000449647", ta=9606, tb=2697049),
        MITAB_ROW.format(a="Q91X72", b="P0DTC5", ta=10090, tb=2697049),  # a mouse protein: neither side counts
    ]
    (tmp_path / "hpidb.txt").write_text("# exported from HPIDB\n" + "".join(lines))
    (tmp_path / "families.tsv").write_text("virus_id\tfamily\nP0DTC2\tCoronaviridae\n")
    alone = read_virus_taxonomy(tmp_path / "hpidb.txt")
    assert alone.of("P0DTC2") == ("2697049", None) and alone.of("P0DTC9") == ("2697049", None)
    assert alone.of("P12345") == (None, None)  # human
    assert alone.of("Q91X72") == (None, None) and alone.of("P0DTC5") == (None, None)  # no human partner
    both = read_virus_taxonomy([tmp_path / "hpidb.txt", tmp_path / "families.tsv"])
    assert both.of("P0DTC9") == ("2697049", "Coronaviridae")  # the family of its taxon


@pytest.mark.parametrize(
    "text, message",
    [
        ("protein,kind\nP1,x\n", "taxon or family column"),
        ("virus_id,taxon\nP1,SARS-CoV-2\n", "not an NCBI taxid"),
        ("virus_id,taxon\nP1,２６９\n", "not an NCBI taxid"),  # digits, but not ASCII ones
        ('virus_id,family\nP1,"Corona\tviridae"\n', "control character"),
        ("virus_id,family\nP1," + "x" * 200_000 + "\n", "cannot read"),
    ],
)
def test_bad_taxonomy_tables_name_the_file_and_line(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(InputError, match=message) as error:
        read_virus_taxonomy(tmp_path / "bad.csv")
    assert "bad.csv" in str(error.value)


def test_unreadable_taxonomy_files(tmp_path):
    with pytest.raises(InputError):
        read_virus_taxonomy(tmp_path / "missing.csv")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.csv", "virus_id,family\n")
        archive.writestr("b.csv", "virus_id,family\n")
    with pytest.raises(InputError, match="one file"):
        read_virus_taxonomy(tmp_path / "two.zip")


def test_taxonomy_of_the_shared_data(shared_data):
    merged = shared_data / "merged-hvi" / "merged_dataset_complete_redundancy_reduced.zip"
    hpidb = shared_data / "hpidb3-virus" / "hpidb_virus_25_10_22.zip"
    taxonomy = read_virus_taxonomy([merged, hpidb])
    assert taxonomy.of("P0DTC2") == ("2697049", "Coronaviridae")  # SARS-CoV-2 spike
    # every single-taxon merged-hvi accession without HPIDB rows keeps its taxon (counted here)
    with zipfile.ZipFile(merged) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8-sig")
    votes: dict[str, Counter] = {}
    for row in csv.DictReader(io.StringIO(text)):
        for taxon in row["Taxon_virus"].split(","):
            if taxon.strip().isdigit():
                votes.setdefault(row["Uniprot_virus"].split("-")[0], Counter())[taxon.strip()] += 1
    merged_only = read_virus_taxonomy(merged)
    single = {a: next(iter(c)) for a, c in votes.items() if len(c) == 1}
    assert len(single) > 500
    assert all(merged_only.of(a)[0] == t for a, t in single.items())
    assert len(taxonomy) > len(merged_only)


def test_from_counts_is_the_documented_vote():
    taxonomy = VirusTaxonomy.from_counts({"A": {"2": 1, "1": 1}, "B": {"7": 3, "5": 1}}, {"A": {"F": 2}})
    assert taxonomy.of("A") == ("1", "F") and taxonomy.of("B") == ("7", None)
    assert taxonomy.family_of_taxon == {"1": "F"}


def test_taxids_are_canonical():
    from hvppi.datasets.taxonomy import taxid

    assert taxid(" 02697049 ") == "2697049" and taxid("２６９") is None and taxid("-1") is None and taxid("") is None


def test_malformed_mitab_rows_are_an_error_or_counted(tmp_path):
    lines = [
        MITAB_ROW.format(a="P12345", b="P0DTC2", ta=9606, tb=2697049),
        MITAB_ROW.format(a="P12345", b="P0DTC9", ta=9606, tb="abc"),
    ]
    (tmp_path / "hpidb.txt").write_text("".join(lines))
    with pytest.raises(InputError, match=r"hpidb.txt, line 2: taxid 'taxid:abc\(y\)' is not a number") as error:
        read_virus_taxonomy(tmp_path / "hpidb.txt")
    assert "\n" not in str(error.value)
    with pytest.warns(UserWarning, match=r"skipped 1 malformed MITAB rows \(first: line 2, taxid"):
        taxonomy = read_virus_taxonomy(tmp_path / "hpidb.txt", skip_bad_lines=True)
    assert taxonomy.of("P0DTC2") == ("2697049", None) and taxonomy.of("P0DTC9") == (None, None)


def test_a_zipped_table_is_read_as_it_unpacks(tmp_path):
    """One pass over the member (no copy of the whole text), the same taxonomy as the plain table."""
    text = "virus_id\ttaxon\tfamily\n" + "".join(f"P{k:05d}\t{10000 + k % 7}\tF{k % 3}\n" for k in range(20_000))
    (tmp_path / "t.tsv").write_text(text)
    with zipfile.ZipFile(tmp_path / "t.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("t.tsv", text)
    assert read_virus_taxonomy(tmp_path / "t.zip") == read_virus_taxonomy(tmp_path / "t.tsv")
    assert read_virus_taxonomy(tmp_path / "t.zip").of("P00008") == ("10001", "F2")

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
            if taxon.strip().isdigit() and int(taxon) > 0:  # merged-hvi's taxon 0 says nothing
                votes.setdefault(row["Uniprot_virus"].split("-")[0], Counter())[taxon.strip()] += 1
    merged_only = read_virus_taxonomy(merged)
    single = {a: next(iter(c)) for a, c in votes.items() if len(c) == 1}
    assert len(single) > 500
    assert all(merged_only.of(a)[0] == t for a, t in single.items())
    assert len(taxonomy) > len(merged_only)
    # merged-hvi's sampled negatives repeat HCV H77 proteins on ~130 rows each as Paramyxoviridae (taxon 63746);
    # the curated databases that report them say Flaviviridae: a database votes once, so the curated record wins
    for hcv in ("P27958", "P0C045"):
        assert taxonomy.of(hcv)[1] == "Flaviviridae"
    assert taxonomy.of("Q81871")[1] == "Hepeviridae"  # hepatitis E virus, not a phage family
    assert taxonomy.family_for_taxon("11108") == "Flaviviridae"
    assert not [f for f in taxonomy.family.values() if "," in f]  # a joined cell names one family


def test_a_database_votes_once_however_many_rows_repeat_it(tmp_path):
    header = "Uniprot_virus,Taxon_virus,Dataset,Family_virus\n"
    negatives = "P1,63746,tsukiyama_negatives,Paramyxoviridae\n" * 40
    curated = 'P1,11108,"hvidb,hpidb_virus",Flaviviridae\nP1,11108,hvidb,Flaviviridae\n'
    (tmp_path / "merged.csv").write_text(header + negatives + curated)
    taxonomy = read_virus_taxonomy(tmp_path / "merged.csv")
    assert taxonomy.of("P1") == ("11108", "Flaviviridae")  # 2 databases against 1, not 2 rows against 40
    said = taxonomy.disagreement("P1")
    assert said is not None and "11108 in 2 rows" in said and "63746 in 40 rows from 1 source" in said
    # without a Dataset column every row votes: the 40 rows win
    (tmp_path / "rows.csv").write_text(
        header.replace(",Dataset", "")
        + (negatives + curated)
        .replace(",tsukiyama_negatives", "")
        .replace(',"hvidb,hpidb_virus"', "")
        .replace(",hvidb", "")
    )
    assert read_virus_taxonomy(tmp_path / "rows.csv").of("P1") == ("63746", "Paramyxoviridae")


def test_a_cell_of_several_families_counts_as_the_one_named_alone(tmp_path):
    rows = [
        "P1,11589,x,Phenuiviridae",  # the accession's own record names one of the cell's families
        'P1,11589,y,"Orthomyxoviridae,Phenuiviridae"',
        'P1,11589,z,"Orthomyxoviridae,Phenuiviridae"',
        "P2,11320,x,Orthomyxoviridae",
        "P3,11320,x,Orthomyxoviridae",
        'P4,999,y,"Retroviridae,Arenaviridae"',  # none of its own: the family most named alone elsewhere
        "P5,11676,x,Retroviridae",
    ]
    (tmp_path / "t.csv").write_text("Uniprot_virus,Taxon_virus,Dataset,Family_virus\n" + "\n".join(rows) + "\n")
    taxonomy = read_virus_taxonomy(tmp_path / "t.csv")
    assert taxonomy.of("P1")[1] == "Phenuiviridae"
    assert taxonomy.of("P4")[1] == "Retroviridae"
    assert taxonomy.disagreement("P1") is None  # the joined cells resolve to the same family


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


def test_rows_that_disagree_are_recorded_with_their_counts_and_lines(tmp_path):
    """The vote is unchanged; what it outvoted is kept (with the line where each value was first read) for the
    screen to warn about. Agreeing duplicates, a cell of several taxids resolved to the others' taxon and families
    that differ only in case are no disagreement."""
    rows = [
        ("P1", "1002", "Fam0"),
        ("P1", "1004", "Fam0"),
        ("P1-PRO_1", "1002", "fam0"),  # a chain of P1; the family's case does not matter
        ("P2", "1008", "Fam2"),
        ("P2", "01008", "Fam2"),  # the same taxid
        ("P3", "1006,1010", "Fam1"),  # 1010 is named alone below: the cell counts for it
        ("P3", "1010", "Fam1"),
        ("P4", "1000", "Fam0"),
        ("P4", "1000", "Fam9"),  # agrees on the taxon, not the family
    ]
    (tmp_path / "tax.tsv").write_text("virus_id\ttaxon\tfamily\n" + "".join(f"{v}\t{t}\t{f}\n" for v, t, f in rows))
    taxonomy = read_virus_taxonomy(tmp_path / "tax.tsv")
    assert taxonomy.of("P1") == ("1002", "Fam0") and taxonomy.of("P4") == ("1000", "Fam0")  # the vote
    assert set(taxonomy.disagreements) == {"P1", "P4"}
    (taxon,) = taxonomy.disagreements["P1"]
    assert taxon.kind == "taxon" and taxon.rows == {"1002": 2, "1004": 1} and taxon.used == "1002"
    assert taxonomy.disagreement("P1-PRO_9") == (
        "P1 has taxon 1002 in 2 rows (first: tax.tsv line 2) and 1004 in 1 row (tax.tsv line 3), used 1002"
    )
    assert taxonomy.disagreement("P4") == (
        "P4 has family Fam0 in 1 row (tax.tsv line 9) and Fam9 in 1 row (tax.tsv line 10), used Fam0"
    )
    assert taxonomy.disagreement("P2") is None and taxonomy.disagreement("P3") is None
    assert taxonomy.disagreement("Q9") is None
    # a MITAB row counts, without a line; the taxonomy itself compares equal whatever was outvoted where
    (tmp_path / "hpidb.txt").write_text(MITAB_ROW.format(a="P12345", b="P2", ta=9606, tb=1010))
    both = read_virus_taxonomy([tmp_path / "tax.tsv", tmp_path / "hpidb.txt"])
    assert both.disagreement("P2") == "P2 has taxon 1008 in 2 rows (first: tax.tsv line 5) and 1010 in 1 row, used 1008"
    assert both == taxonomy and both.disagreements != taxonomy.disagreements


def test_the_default_sources_are_read_without_a_word(shared_data, capsys):
    """The merged-hvi and HPIDB files the bundled model is built and benchmarked from disagree on hundreds of
    accessions, where the vote is right: reading them warns of nothing (only a user's --taxonomy is warned about,
    by the screening scorer)."""
    import warnings

    from hvppi.screening.recipe import default_taxonomy

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        taxonomy = default_taxonomy(shared_data)
    assert len(taxonomy.disagreements) > 100
    assert capsys.readouterr() == ("", "")


def test_ties_go_to_more_rows_and_string_votes_half(tmp_path):
    header = "Uniprot_virus,Taxon_virus,Dataset,Family_virus\n"
    rows = [
        *["P1,300,mydb,Zeta"] * 10,  # one source, many rows
        "P1,200,mydb,Alpha",
        *["P2,12461,viruses_string,Siphoviridae"] * 4,  # STRING's vote is half a curated one's
        "P2,652674,hvidb,Hepeviridae",
        "P3,0,tsukiyama_negatives,Unknown",  # say nothing
        "P4,11103,hvidb,flaviviridae",  # a family in any case is one family
        "P4,11103,intact_positive,Flaviviridae",
        "P4,11103,virus_mentha,FLAVIVIRIDAE",
        "P4,11103,viruses_string,Paramyxoviridae",
        'P5,11103,"hvidb, HVIDB",Flaviviridae',  # a source named twice in a cell votes once
        "P5,11102,intact_positive,Flaviviridae",
    ]
    (tmp_path / "t.csv").write_text(header + "\n".join(rows) + "\n")
    taxonomy = read_virus_taxonomy(tmp_path / "t.csv")
    assert taxonomy.of("P1") == ("300", "Zeta")  # 1 vote each: the 10 rows win, not the alphabet
    assert taxonomy.of("P2") == ("652674", "Hepeviridae")
    assert taxonomy.of("P3") == (None, None)
    assert taxonomy.of("P4") == ("11103", "flaviviridae")  # its first spelling
    said = taxonomy.disagreement("P4")
    assert said is not None and "flaviviridae in 3 rows" in said
    assert taxonomy.of("P5")[0] == "11102"  # 1 vote each, 1 row each: the alphabetically first


def test_a_mitab_file_votes_once_and_an_intact_id_is_whole(tmp_path):
    lines = [MITAB_ROW.format(a="P12345", b="Q1", ta=9606, tb=11676)] * 3
    lines.append(MITAB_ROW.format(a="P12345", b="EBI-1234567", ta=9606, tb=11676))
    (tmp_path / "hpidb.txt").write_text("".join(lines))
    (tmp_path / "t.csv").write_text('Uniprot_virus,Taxon_virus,Dataset\nQ1,11706,"hvidb,intact_positive"\n')
    taxonomy = read_virus_taxonomy([tmp_path / "hpidb.txt", tmp_path / "t.csv"])
    assert taxonomy.of("Q1")[0] == "11706"  # two databases against one file, however many of its rows
    # an IntAct ID is one molecule, not an accession "EBI" shared by every IntAct ID
    assert taxonomy.of("EBI-1234567") == ("11676", None) and taxonomy.of("EBI-7654321") == (None, None)

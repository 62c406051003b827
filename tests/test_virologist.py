"""What a virologist sees from the command line (issue #24): names, evidence in words, warnings that name things,
refusals of swapped or non-viral inputs, duplicates, and a finished screen that is not recomputed."""

from __future__ import annotations

import pytest

from hvppi.cli import main

SARS2_N = "P0DTC9"


@pytest.fixture(scope="module")
def files(tmp_path_factory, shared_data):
    """Viral proteins (SARS-CoV-2 N with a UniProt header, and an unknown one) and 60 human proteins of the
    benchmark, one of them under a UniProt header with a gene name."""
    from hvppi.io.sequences import read_sequences

    pool = read_sequences(shared_data / "sequences" / "sequence_pool.fasta.gz")
    bench = read_sequences(shared_data / "lstm-phv-benchmark" / "pro_seq.txt")
    folder = tmp_path_factory.mktemp("virologist")
    viral = folder / "viral.fasta"
    viral.write_text(
        f">sp|{SARS2_N}|NCAP_SARS2 Nucleoprotein OS=SARS-CoV-2 GN=N\n{pool[SARS2_N]}\n>myprotein\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSG\n"
    )
    humans = [h for h in bench if not h.startswith(("P0", "Q6"))][:60]
    human = folder / "human.fasta"
    human.write_text(
        f">sp|P27824|CALX_HUMAN Calnexin OS=Homo sapiens OX=9606 GN=CANX\n{pool['P27824']}\n"
        + "".join(f">{h}\n{bench[h]}\n" for h in humans)
    )
    return folder, viral, human, pool, bench, humans


def _rows(path):
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def test_names_come_from_headers_and_from_the_training_data(files, tmp_path):
    _, viral, human, _, _, humans = files
    out = tmp_path / "hits.tsv"
    assert (
        main(
            ["screen", "--virus", str(viral), "--human", str(human), "--out", str(out), "--quiet", "--taxon", "2697049"]
        )
        == 0
    )
    rows = _rows(out)
    by_id = {r["human_id"]: r["human_name"] for r in rows}
    assert by_id["P27824"] == "CANX"  # from the GN= of the input's header
    assert sum(bool(by_id[h]) for h in humans) > len(humans) / 2  # most from the training data (HPIDB aliases)
    assert all(r["evidence"] for r in rows)  # every row says why it is there


def test_unknown_virus_warning_names_the_proteins(files, tmp_path, capsys):
    _, viral, human, *_ = files
    assert (
        main(["screen", "--virus", str(viral), "--human", str(human), "--out", str(tmp_path / "h.tsv"), "--quiet"]) == 0
    )
    err = capsys.readouterr().err
    assert "myprotein" in err and "is not given or not among the training proteins" in err


def test_human_taxid_is_refused(files, tmp_path, capsys):
    _, viral, human, *_ = files
    args = ["screen", "--virus", str(viral), "--human", str(human), "--out", str(tmp_path / "h.tsv"), "--taxon", "9606"]
    assert main(args) == 2
    assert "9606 is Homo sapiens, not a virus" in capsys.readouterr().err


def test_swapped_inputs_are_refused_with_their_ids(files, tmp_path, capsys):
    _, viral, human, *_ = files
    args = ["screen", "--virus", str(human), "--human", str(viral), "--out", str(tmp_path / "h.tsv"), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "are the viral and human inputs swapped?" in err and "P27824" in err
    assert not (tmp_path / "h.tsv").exists()


def test_predict_takes_the_virus_and_refuses_swapped_pairs(files, tmp_path, capsys):
    _, viral, human, pool, bench, humans = files
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(f"{humans[0]}\t{SARS2_N}\n{humans[1]}\t{SARS2_N}\n")
    sequences = tmp_path / "seq.fasta"
    sequences.write_text(f">{SARS2_N}\n{pool[SARS2_N]}\n" + "".join(f">{h}\n{bench[h]}\n" for h in humans[:2]))
    out, given = tmp_path / "p.tsv", tmp_path / "p-taxon.tsv"
    assert main(["predict", "--pairs", str(pairs), "--sequences", str(sequences), "--out", str(out), "--quiet"]) == 0
    assert "is not given or not among the training proteins" in capsys.readouterr().err
    args = ["predict", "--pairs", str(pairs), "--sequences", str(sequences), "--out", str(given), "--quiet"]
    assert main([*args, "--taxon", "2697049"]) == 0
    assert "not given" not in capsys.readouterr().err
    assert out.read_text() != given.read_text()  # the virus changes the scores
    swapped = tmp_path / "swapped.tsv"
    swapped.write_text(f"{SARS2_N}\t{humans[0]}\n")
    assert (
        main(["predict", "--pairs", str(swapped), "--sequences", str(sequences), "--out", str(tmp_path / "s.tsv")]) == 2
    )


def test_identical_sequences_under_two_ids_are_named(files, tmp_path, capsys):
    _, viral, human, _, bench, humans = files
    doubled = tmp_path / "doubled.fasta"
    doubled.write_text(human.read_text() + f">{humans[0]}-copy\n{bench[humans[0]]}\n")
    assert (
        main(["screen", "--virus", str(viral), "--human", str(doubled), "--out", str(tmp_path / "d.tsv"), "--quiet"])
        == 0
    )
    err = capsys.readouterr().err
    assert f"{humans[0]} = {humans[0]}-copy" in err and "the same scores" in err


def test_a_finished_screen_is_not_recomputed(files, tmp_path, capsys, monkeypatch):
    from hvppi.screening.scorer import ScreeningScorer

    _, viral, human, *_ = files
    out = tmp_path / "again.tsv"
    args = ["screen", "--virus", str(viral), "--human", str(human), "--out", str(out), "--quiet", "--taxon", "2697049"]
    assert main(args) == 0
    first = out.read_bytes()
    calls = []
    original = ScreeningScorer.prepare_human
    monkeypatch.setattr(
        ScreeningScorer, "prepare_human", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    assert main(args) == 0
    assert not calls and out.read_bytes() == first  # nothing prepared, nothing rewritten
    assert "already this screen" in capsys.readouterr().err
    out.write_bytes(first.replace(b"\t1\t", b"\t2\t", 1))  # an edited OUT is not taken for the screen
    assert main(args) == 0 and out.read_bytes() == first


def test_progress_is_plain_lines_off_a_terminal():
    from hvppi.io.progress import PlainProgress, progress

    lines: list[str] = []
    bar = progress(100, "screening", "pair", enabled=True, log=lines.append)
    assert isinstance(bar, PlainProgress)  # pytest's stderr is not a terminal
    with bar:
        bar.update(40)
        bar.update(60)
    assert lines[-1] == "screening: 100% (100 of 100 pairs)"
    assert not any("\r" in line for line in lines)


def _mitab(a, b, alias_a, alias_b, taxon_a="9606", taxon_b="694009"):
    return "\t".join([f"uniprotkb:{a}", f"uniprotkb:{b}", "-", "-", alias_a, alias_b, "-", "-", "-", taxon_a, taxon_b])


def test_an_isoform_names_its_accession_and_viruses_get_their_uniprot_code(tmp_path):
    from hvppi.datasets.proteome import protein_names, virus_codes

    path = tmp_path / "export.txt"
    path.write_text(
        "\n".join(
            [
                _mitab("Q9BYF1-1", "P59594", "uniprotkb:ACE2(gene name)", "psi-mi:spike_cvhsa(display_long)"),
                _mitab("P27824", "P59595", "uniprotkb:CALX_HUMAN", "uniprotkb:NCAP_CVHSA|uniprotkb:N(gene name)"),
                _mitab("P27824-2", "P03126", "uniprotkb:OTHER(gene name)", "uniprotkb:VE6_HPV16", taxon_b="333760"),
                _mitab("P11111", "P22222", "uniprotkb:X(gene name)", "uniprotkb:Y_HUMAN", taxon_b="9606"),
            ]
        )
        + "\n"
    )
    names = protein_names(path)
    assert names["Q9BYF1"] == names["Q9BYF1-1"] == "ACE2"  # the accession, given only as an isoform, is named
    assert names["P27824"] == "OTHER"  # an isoform's gene name outranks the accession's own entry name
    assert names["P59595"] == "N"
    assert virus_codes(path) == {"694009": "CVHSA", "333760": "HPV16"}  # human left out


def test_the_bundled_model_names_ace2_and_the_evidence_names_the_virus(files, tmp_path):
    from hvppi.registry import load_scorer
    from hvppi.screening.scorer import virus_label

    scorer = load_scorer("default")
    assert scorer.name_of("Q9BYF1") == "ACE2"
    codes = scorer.model.metadata["virus_codes"]
    assert codes["694009"] == "CVHSA" and codes["333760"] == "HPV16"
    assert "9VIRU" not in codes.values()  # "Viruses" names no virus
    chains = {pid: name for pid, name in scorer.names.items() if "-PRO_" in pid}
    assert chains and all(name.endswith(" chain") for name in chains.values())  # a chain is not its polyprotein
    _, viral, human, *_ = files
    out = tmp_path / "sars.tsv"
    assert main(["screen", "--virus", str(viral), "--human", str(human), "--out", str(out), "--taxon", "694009"]) == 0
    rows = _rows(out)
    label = virus_label("694009", "Coronaviridae", "CVHSA")
    assert any(
        label in r["evidence"] for r in rows
    )  # "2 other proteins of CVHSA, virus 694009 (Coronaviridae) bind it"


def test_known_pair_of_a_training_copy_of_another_virus_counts_its_own_virus_right(files, tmp_path):
    """SARS-CoV N (P59595, taxon 694009) screened as if of SARS-CoV-2: its own training copy is not among the
    SARS-CoV-2 proteins, so the evidence must not subtract it from their count."""
    from hvppi.screening.scorer import virus_label

    _, _, human, pool, *_ = files
    viral = tmp_path / "sars_n.fasta"
    viral.write_text(f">P59595\n{pool['P59595']}\n")
    humans = tmp_path / "with_hnrnpa1.fasta"  # HNRNPA1: a partner of SARS-CoV N and of two SARS-CoV-2 proteins
    humans.write_text(human.read_text() + f">P09651\n{pool['P09651']}\n")
    out = tmp_path / "n.tsv"
    assert main(["screen", "--virus", str(viral), "--human", str(humans), "--out", str(out), "--taxon", "2697049"]) == 0
    label = virus_label("2697049", "Coronaviridae")
    checked = 0
    for row in _rows(out):
        n = int(row["same_virus_partners"])
        if row["known"] and n:
            assert f"{n} other protein{'s' if n > 1 else ''} of {label}" in row["evidence"], row
            checked += 1
    assert checked >= 1

"""The alignment a row of ``hvppi serve``'s page shows (``hvppi.web.alignment``), without a server: the aligned
strings, coordinates and identities, the nearest protein read from a job's rows, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from hvppi.align.similarity import local_scores
from hvppi.web.alignment import (
    MAX_ALIGNED_RESIDUES,
    NOISE_SIMILARITY,
    AlignmentRefused,
    NearestAlignment,
    local_alignment,
    match_line,
    nearest_of,
)

SARS_COV_N = "MSDNGPQNQRNAPRITFGGPSDSTGSNQNGERSGARSKQRRPQGLPNNTASWFTALTQHGKEDLKFPRGQGVPINTNSSPDDQIGYYRRATRRIRGGDG"
COLUMNS = (("virus_id", "string"), ("nearest_training_virus", "string"), ("nearest_similarity", "float64"))


def check_alignment(a: dict, query: str, target: str) -> None:
    """The aligned strings are the two sequences' stretches at the given coordinates, and the counts are theirs."""
    top, match, bottom = a["aligned"]["query"], a["aligned"]["match"], a["aligned"]["target"]
    assert len(top) == len(match) == len(bottom) == a["columns"]
    assert top.replace("-", "") == query[a["query"]["start"] - 1 : a["query"]["end"]]
    assert bottom.replace("-", "") == target[a["target"]["start"] - 1 : a["target"]["end"]]
    identical = sum(x == y != "-" for x, y in zip(top, bottom))
    assert a["matches"] == identical == match.count("|")
    assert a["identity"] == pytest.approx(identical / a["columns"])
    assert a["identity_shorter"] == pytest.approx(identical / min(len(query), len(target)))
    assert a["gaps"] == top.count("-") + bottom.count("-")
    assert a["score"] == local_scores([query], [target])[0, 0]  # pyopal's Smith–Waterman score, as the model's


def test_local_alignment_gives_stretches_of_both_sequences_with_their_coordinates():
    target = "PPPPPPPPPP" + SARS_COV_N[:60] + "GGGGGG"
    query = "WWWW" + SARS_COV_N[:25] + SARS_COV_N[28:60].replace("R", "K") + "CCCC"  # 3 residues deleted, R → K
    a = local_alignment(query, target)
    check_alignment(a, query, target)
    assert (a["query"]["start"], a["target"]["start"]) == (5, 11)
    assert "---" in a["aligned"]["query"] and "+" in a["aligned"]["match"]  # the deletion; K for R scores 2
    assert a["query"]["length"] == len(query) and a["target"]["length"] == len(target)
    same = local_alignment(SARS_COV_N, SARS_COV_N)
    assert same["identity"] == same["identity_shorter"] == 1 and same["gaps"] == 0
    assert same["aligned"]["match"] == "|" * len(SARS_COV_N)
    odd = local_alignment("MKUVLLA", "MKCVLLA")  # selenocysteine is aligned as X and shown as it is
    assert odd["aligned"]["query"] == "MKUVLLA" and odd["aligned"]["match"] == "|| ||||"


def test_match_line_marks_identities_positive_scores_and_nothing_else():
    assert match_line("AKRW-L", "ARDW-I") == "|+ | +"  # K/R 2, R/D -2, L/I 2
    assert match_line("A-", "-A") == "  "


def test_local_alignment_refusals():
    with pytest.raises(AlignmentRefused) as info:
        local_alignment("W" * 5, "P" * 5)
    assert info.value.status == 404 and "positive score" in str(info.value)
    with pytest.raises(AlignmentRefused) as info:
        local_alignment("M" * (MAX_ALIGNED_RESIDUES + 1), "MK")
    assert info.value.status == 400 and "5,001 residues" in str(info.value)


def _rows(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text(
        "virus_id\thuman_id\tnearest_training_virus\tnearest_similarity\n"
        + "".join(f"{v}\th{k}\t{n}\t{s}\n" for k, (v, n, s) in enumerate(rows))
    )
    return path


def test_nearest_of_reads_the_first_row_of_the_protein(tmp_path):
    path = _rows(tmp_path / "results.tsv", [("a", "T1", "0.9"), ("a", "T1", "0.9"), ("b", "T2", "0.05")])
    assert nearest_of(path, COLUMNS, "a") == ("T1", 0.9)
    assert nearest_of(path, COLUMNS, "b") == ("T2", 0.05)
    for virus_id, columns, message in (
        ("c", COLUMNS, "no rows for the viral protein 'c'"),
        ("a", (("virus_id", "string"), ("score", "float64")), "names no nearest training viral protein"),
    ):
        with pytest.raises(AlignmentRefused) as info:
            nearest_of(path, columns, virus_id)
        assert info.value.status == 404 and message in str(info.value), str(info.value)
    with pytest.raises(AlignmentRefused) as info:
        nearest_of(tmp_path / "gone.tsv", COLUMNS, "a")
    assert info.value.status == 409


def test_nearest_alignment_names_both_proteins_and_refuses_a_distant_or_missing_one(tmp_path):
    reference = {"T1": "PPPP" + SARS_COV_N, "T2": "W" * 30}
    names = {"T1": "N", "a": "N of the query"}
    align = NearestAlignment(reference, lambda pid: names.get(pid, ""))
    path = _rows(tmp_path / "results.tsv", [("a", "T1", "0.93"), ("b", "T2", "0.05"), ("c", "", "0"), ("d", "T9", "1")])
    a = align(path, COLUMNS, "a", SARS_COV_N[10:])
    check_alignment(a, SARS_COV_N[10:], reference["T1"])
    assert (a["query"]["id"], a["query"]["name"], a["target"]["id"], a["target"]["name"]) == (
        "a",
        "N of the query",
        "T1",
        "N",
    )
    assert a["similarity"] == 0.93 and "BLOSUM62, gap open 11, extend 1" in a["scoring"]
    assert align(path, COLUMNS, "a", SARS_COV_N[10:]) == a  # kept
    for virus_id, message in (
        ("b", "no training viral protein is close enough to align"),
        ("c", "names no"),
        ("d", "names no"),
    ):
        with pytest.raises(AlignmentRefused) as info:
            align(path, COLUMNS, virus_id, "MKV")
        assert info.value.status == 404 and message in str(info.value), str(info.value)


def test_the_threshold_is_the_one_of_the_rows_evidence():
    from hvppi.screening.scorer import NOISE_SIMILARITY as EVIDENCE_NOISE

    assert NOISE_SIMILARITY == EVIDENCE_NOISE


def test_a_job_ranked_by_another_model_is_not_aligned_with_this_ones(tmp_path):
    """A finished job whose recorded model is not the server's (restarted with another model file): its rows name
    the other model's nearest training protein, so the page refuses to align it (409) instead of aligning a
    protein of this model's under that name."""
    import json

    from fastapi.testclient import TestClient

    from hvppi.registry import load_scorer
    from hvppi.web.app import ServerConfig, create_app

    reference = load_scorer(None).reference_proteins("human")
    human = dict(list(reference.items())[:3])
    jobs = tmp_path / "jobs"
    app = create_app(ServerConfig(jobs_dir=jobs, human=human))
    with TestClient(app) as client:
        job = client.post("/api/jobs", data={"fasta": f">n\n{SARS_COV_N}\n"}).json()
        app.state.jobs.wait(120)
        url = f"/api/jobs/{job['id']}/alignment?virus_id=n"
        assert client.get(url).status_code == 200
    app.state.jobs.close()  # the jobs folder's lock, as a stopped server leaves it
    status_file = jobs / job["id"] / "status.json"
    status = json.loads(status_file.read_text())
    status["inputs"]["model"] = "f" * 64
    status_file.write_text(json.dumps(status))
    app = create_app(ServerConfig(jobs_dir=jobs, human=human))
    with TestClient(app) as client:
        answer = client.get(url)
        assert answer.status_code == 409 and "another model" in answer.json()["error"], answer.text
        assert client.get(f"/api/jobs/{job['id']}/results").status_code == 200  # its rows are still shown
    app.state.jobs.close()

"""``hvppi serve``: the job folder, the HTTP API and the page in headless Chromium.

The server runs as a subprocess on a free loopback port against 200 human proteins of the benchmark.
The browser test needs Selenium and Debian's ``chromium`` and ``chromium-driver`` (scripts/setup.sh
installs them as root); without them it is skipped, with the reason.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi, uvicorn, python-multipart) is not installed")
pytest.importorskip("uvicorn", reason="the web extra (fastapi, uvicorn, python-multipart) is not installed")

from conftest import BENCHMARK, REPO
from hvppi.io.errors import InputError
from hvppi.web.jobs import JobStore, Limits, parse_fasta

SCREENSHOT = Path(os.environ.get("HVPPI_SCREENSHOT") or "/tmp/hvppi-serve.png")
"""Where the browser test saves its screenshot; HVPPI_SCREENSHOT=docs/images/serve.png refreshes the README's."""
WINDOW = (1400, 2150)
"""The browser window of the page test (and of the README's screenshot): 1,400 px wide, tall enough for the table,
a row's explanation and its attention profiles."""
TINY = ["MSDNGPQNQRNAPRITFGGPSDSTGSNQNG", "MKTAYIAKQRQISFVKSHFSRQLEERLGLI", "MADEEKLPPGWEKRMSRSSGRVYYFNHITN"]


# ------------------------------------------------------------------------------------------ helpers


def _fasta(records: dict[str, str]) -> str:
    return "".join(f">{pid}\n{seq}\n" for pid, seq in records.items())


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in (files or {}).items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _request(url: str, data: bytes | None = None, content_type: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _submit(base: str, fasta: str) -> tuple[int, dict]:
    body, kind = _multipart({"fasta": fasta})
    status, data = _request(base + "/api/jobs", body, kind)
    return status, json.loads(data)


def _wait(base: str, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = json.loads(_request(f"{base}/api/jobs/{job_id}")[1])
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def _cli_screen(virus: Path, human: Path, out: Path) -> str:
    from hvppi.cli import main

    assert main(["screen", "--virus", str(virus), "--human", str(human), "--out", str(out), "--quiet"]) == 0
    return out.read_text()


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, benchmark_sequences):
    """200 human and 2 viral proteins of the benchmark's test pairs, as FASTA files."""
    human_ids: list[str] = []
    virus_ids: list[str] = []
    with open(BENCHMARK / "protein_pair_label_test.txt") as fh:
        for line in fh:
            h, v = line.split("\t")[:2]
            if h not in human_ids and len(human_ids) < 200:
                human_ids.append(h)
            if v not in virus_ids and len(virus_ids) < 2 and len(benchmark_sequences[v]) < 600:
                virus_ids.append(v)
    folder = tmp_path_factory.mktemp("serve-inputs")
    human = folder / "human.fasta"
    virus = folder / "virus.fasta"
    human.write_text(_fasta({h: benchmark_sequences[h] for h in human_ids}))
    virus.write_text(_fasta({v: benchmark_sequences[v] for v in virus_ids}))
    return {"human": human, "virus": virus, "folder": folder}


class Server:
    def __init__(self, human: Path, jobs: Path, log: Path) -> None:
        command = [sys.executable, "-m", "hvppi.cli", "serve", "--port", "0", "--human", str(human)]
        command += ["--jobs", str(jobs), "--workers", "4"]
        self.log = log
        self._stderr = open(log, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=REPO)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.process.stdout], daemon=True).start()  # type: ignore[union-attr]
        deadline = time.monotonic() + 90
        self.url = ""
        while not self.url:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                self.stop()
                raise AssertionError(f"hvppi serve did not start: {log.read_text()}") from None
            if line.startswith("hvppi serve: http://"):
                self.url = line.split(": ", 1)[1].strip().rstrip("/")

    def alive(self) -> bool:
        return self.process.poll() is None and _request(self.url + "/api/health")[0] == 200

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._stderr.close()


@pytest.fixture(scope="module")
def server(inputs):
    running = Server(inputs["human"], inputs["folder"] / "jobs", inputs["folder"] / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def expected(inputs):
    """``hvppi screen`` of the two viral proteins against the 200 human proteins."""
    return _cli_screen(inputs["virus"], inputs["human"], inputs["folder"] / "cli.tsv")


# ------------------------------------------------------------------------------------------ jobs, no server


def test_parse_fasta_gives_the_cli_messages_naming_the_record(tmp_path):
    limits = Limits(max_residues=50, max_proteins=2)
    assert parse_fasta(b">a desc\nMKV\nLL\n", None, limits, tmp_path) == {"a": "MKVLL"}
    cases = {
        b"": "pasted text: no sequences found",
        b">x\nMKJV\n": "pasted text, line 2, ID 'x': unknown amino-acid letter 'J' at position 3",
        b">x\n\n>y\nMK\n": "pasted text, line 1, ID 'x': empty sequence",
        b">x\nMK\n>x\nMK\n": "pasted text, line 3, ID 'x': duplicate ID",
        b">x\n" + b"M" * 60 + b"\n": "pasted text, ID 'x': 60 residues, more than this server's limit of 50",
        b">a\nM\n>b\nM\n>c\nM\n": "pasted text: 3 viral proteins; this server takes at most 2",
    }
    for data, message in cases.items():
        with pytest.raises(InputError) as info:
            parse_fasta(data, None, limits, tmp_path)
        assert str(info.value).startswith(message), str(info.value)
    with pytest.raises(InputError, match=r"^evil.fa, line 2, ID 'x'"):
        parse_fasta(b">x\nMK1\n", "../../etc/evil.fa", limits, tmp_path)
    assert list(tmp_path.iterdir()) == []  # the scratch files are gone


def test_a_bare_sequence_is_one_query(tmp_path):
    limits = Limits()
    assert parse_fasta(b"MKVLL", None, limits, tmp_path) == {"query": "MKVLL"}
    assert parse_fasta(b"\xef\xbb\xbfMKVLL QQ\r\n  mkv\n\nAA*\n", "seq.txt", limits, tmp_path) == {
        "query": "MKVLLQQMKVAA"
    }
    assert parse_fasta(gzip.compress(b"MKV\nLL\n"), "q.gz", limits, tmp_path) == {"query": "MKVLL"}
    assert parse_fasta(b"p1\tMKV\n", None, limits, tmp_path) == {"p1": "MKV"}  # a table is still a table
    for data, message in {
        b"MKV\nLJQ\n": "pasted text, line 2, ID 'query': unknown amino-acid letter 'J' at position 5",
        b"P59595\nMKV\n": "pasted text, line 1, ID 'query': unknown amino-acid letter '5' at position 2",
    }.items():
        with pytest.raises(InputError) as info:
            parse_fasta(data, None, limits, tmp_path)
        assert str(info.value) == message
    assert list(tmp_path.iterdir()) == []


def test_messages_for_the_page_name_its_virus_field_not_cli_options():
    from hvppi.web.app import for_page

    cases = {
        "the virus of 2 of 5 viral proteins (a, b) is not given (give it with --taxon, --family or --taxonomy)": (
            'the virus of 2 of 5 viral proteins (a, b) is not given (enter the NCBI taxid of the virus in the "virus" '
            "field)"
        ),
        "--taxon/--family: taxon 9606 is Homo sapiens, not a virus": (
            'the "virus" field: taxon 9606 is Homo sapiens, not a virus'
        ),
        "ranked without their virus (give them with --taxon or --family)": (
            'ranked without their virus (enter the NCBI taxid of the virus in the "virus" field)'
        ),
        "p: its scores barely vary": "p: its scores barely vary",
    }
    for message, worded in cases.items():
        assert for_page(message) == worded


def test_job_store_queues_and_recovers_finished_and_unfinished_jobs(tmp_path):
    calls = []

    def runner(virus, out, log, taxon):
        calls.append(next(iter(virus)))
        out.write_text("virus_id\tn\n" + "".join(f"{v}\t{len(s)}\n" for v, s in virus.items()))

    store = JobStore(tmp_path, runner, workers=2)
    ids = [store.submit({f"v{k}": "MK" * (k + 1), f"w{k}": "M"}) for k in range(5)]
    assert store.wait(30)
    for k, job_id in enumerate(ids):
        assert store.status(job_id)["state"] == "done"
        assert (tmp_path / job_id / "results.tsv").read_text() == f"virus_id\tn\nv{k}\t{2 * k + 2}\nw{k}\t1\n"
    store.close()
    # an unfinished job (as if the server stopped mid-way) is continued; finished ones are kept as they are
    status = json.loads((tmp_path / ids[0] / "status.json").read_text())
    status.update(state="running", done=0)
    (tmp_path / ids[0] / "status.json").write_text(json.dumps(status))
    (tmp_path / ids[0] / "results.tsv").unlink()
    calls.clear()
    again = JobStore(tmp_path, runner)
    assert again.wait(30)
    assert calls == ["v0", "w0"]
    assert all(again.status(j)["state"] == "done" for j in ids)
    assert again.folder("../" + ids[0]) is None and again.status("x" * 32) is None
    again.close()


def test_a_job_that_cannot_be_stored_leaves_nothing_and_a_failure_that_cannot_be_saved_keeps_the_worker(
    tmp_path, monkeypatch
):
    import errno

    import hvppi.web.jobs as jobs_module
    from hvppi.io.errors import DiskFullError

    def runner(virus, out, log, taxon):
        if "full" in virus:
            (out.parent / "chunk.tsv").write_text("half")  # what a screen leaves when the disk fills
            raise DiskFullError(out)
        out.write_text("virus_id\tn\n" + "".join(f"{v}\t{len(s)}\n" for v, s in virus.items()))

    store = JobStore(tmp_path, runner)

    def no_space(path, sequences):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(jobs_module, "write_fasta", no_space)
    with pytest.raises(OSError):
        store.submit({"a": "MKV"})
    assert [p.name for p in tmp_path.iterdir() if p.name != ".lock"] == [] and store.jobs() == []
    monkeypatch.undo()
    # the failure of a job on a full disk: its status cannot be saved either, and the worker goes on with the next
    saved = store._save

    def save(job_id):
        if store._status[job_id]["state"] == "failed":
            raise DiskFullError(tmp_path / job_id / "status.json")
        saved(job_id)

    monkeypatch.setattr(store, "_save", save)
    full, fine = store.submit({"full": "MKV"}), store.submit({"b": "MKV"})
    assert store.wait(30)
    assert store.status(fine)["state"] == "done" and all(t.is_alive() for t in store.threads)
    failed = store.status(full)
    assert failed["state"] == "failed" and "no space left" in failed["error"], failed
    assert str(tmp_path) not in failed["error"] and failed["error"].startswith("parts/000000.work.tsv:")
    assert not (tmp_path / full / "parts").exists()  # a failed job is not resumed: its parts are gone
    store.close()


def test_submitted_ids_are_short_and_kept_as_the_job_reads_them(tmp_path):
    limits = Limits()
    with pytest.raises(InputError) as caught:
        parse_fasta(f">ok\nMKV\n>{'A' * 1_000_000}\nMKV\n".encode(), None, limits, tmp_path)
    message = str(caught.value)
    assert message.startswith("pasted text, line 3, ID 'AAAA") and "1,000,000 characters" in message
    assert len(message) < 300, len(message)
    for table, line, word in (("ok\tMKV\nmy prot\tMKV\n", 2, "my"), ("sp|P11111|X\tMKV\n", 1, "P11111")):
        with pytest.raises(InputError) as caught:
            parse_fasta(table.encode(), "ids.tsv", limits, tmp_path)
        assert str(caught.value).startswith(f"ids.tsv, line {line}, ID "), caught.value
        assert f"reads this ID as {word!r}" in str(caught.value)
    assert parse_fasta(b">sp|P11111|X desc\nMKV\n", None, limits, tmp_path) == {"P11111": "MKV"}  # FASTA as read
    with pytest.raises(InputError) as caught:
        parse_fasta(b">a\nMKV\n>a\nMKL\n", "dup.fa", limits, tmp_path / "scratch")
    assert str(tmp_path) not in str(caught.value) and "(first at dup.fa, line 1)" in str(caught.value)


# ------------------------------------------------------------------------------------------ HTTP API


def test_api_job_matches_hvppi_screen_and_serves_attention_and_parquet(server, inputs, expected):
    status, job = _submit(server.url, inputs["virus"].read_text())
    assert status == 201, job
    assert _wait(server.url, job["id"])["state"] == "done"
    code, tsv = _request(f"{server.url}/api/jobs/{job['id']}/results.tsv")
    assert code == 200 and tsv.decode() == expected
    results = json.loads(_request(f"{server.url}/api/jobs/{job['id']}/results")[1])
    first = expected.splitlines()[1].split("\t")
    top = dict(zip(results["columns"], results["rows"][0]))
    assert (top["virus_id"], top["human_id"], top["rank"]) == (first[0], first[1], 1)
    assert dict(zip(results["columns"], results["types"]))["same_virus_partners"] == "int64"  # types come from the API
    # one viral protein's rows per request; together, every row of the TSV, typed
    lines = [line.split("\t") for line in expected.splitlines()[1:]]
    assert results["proteins"] == [
        {"id": v, "rows": sum(r[0] == v for r in lines)} for v in dict.fromkeys(r[0] for r in lines)
    ]
    rows = []
    for protein in results["proteins"]:
        code, data = _request(f"{server.url}/api/jobs/{job['id']}/results?virus_id={protein['id']}")
        assert code == 200 and json.loads(data)["virus_id"] == protein["id"]
        rows += json.loads(data)["rows"]
    types = results["types"]
    assert len(rows) == len(lines) and all(
        all(float(x) == v if t == "float64" else str(v) == x for v, x, t in zip(row, line, types, strict=True))
        for row, line in zip(rows, lines)
    )
    code, data = _request(f"{server.url}/api/jobs/{job['id']}/results?virus_id=nobody")
    assert code == 404 and "no viral protein 'nobody'" in json.loads(data)["error"]
    code, data = _request(f"{server.url}/api/jobs/{job['id']}/attention?virus_id={first[0]}&human_id={first[1]}")
    attention = json.loads(data)
    assert code == 200 and attention["model"] == "lstm-phv-benchmark"
    for tower in ("virus", "human"):
        weights = attention[tower]["attention"]
        assert len(weights) == len(attention[tower]["sequence"]) and abs(sum(weights) - 1) < 1e-4
    pq = pytest.importorskip("pyarrow.parquet")
    code, data = _request(f"{server.url}/api/jobs/{job['id']}/results.parquet")
    table = pq.read_table(io.BytesIO(data))
    assert code == 200 and table.num_rows == len(expected.splitlines()) - 1
    assert table.column("human_id").to_pylist()[0] == first[1]


def test_api_job_with_a_virus_taxon_matches_hvppi_screen_with_it(server, inputs):
    from hvppi.cli import main

    out = inputs["folder"] / "cli-taxon.tsv"
    argv = ["screen", "--virus", str(inputs["virus"]), "--human", str(inputs["human"]), "--out", str(out)]
    assert main([*argv, "--taxon", "10298", "--quiet"]) == 0
    body, kind = _multipart({"fasta": inputs["virus"].read_text(), "taxon": " 10298 "})
    status, data = _request(server.url + "/api/jobs", body, kind)
    job = json.loads(data)
    assert status == 201 and job["taxon"] == "10298"
    assert _wait(server.url, job["id"])["state"] == "done"
    tsv = _request(f"{server.url}/api/jobs/{job['id']}/results.tsv")[1].decode()
    assert tsv == out.read_text()
    header = tsv.splitlines()[0].split("\t")
    assert {line.split("\t")[header.index("virus_taxon")] for line in tsv.splitlines()[1:]} == {"10298"}
    body, kind = _multipart({"fasta": ">p\nMKV\n", "taxon": "HSV-1"})
    status, data = _request(server.url + "/api/jobs", body, kind)
    assert status == 400 and "NCBI taxid" in json.loads(data)["error"]


def test_api_names_examples_and_proteins_takes_a_bare_sequence_and_refuses_a_human_taxon(server, inputs):
    examples = json.loads(_request(server.url + "/api/config")[1])["examples"]
    assert examples[0]["name"] == "P59595 · N · virus 694009, Coronaviridae · 422 aa"  # SARS-CoV N
    assert all(" aa" in e["name"] or " and " in e["name"] for e in examples) and examples[0]["fasta"].startswith(
        ">P59595 N\n"
    )
    status, job = _submit(server.url, TINY[0][:12] + "\n" + TINY[0][12:] + "\n")
    assert status == 201 and job["proteins"] == ["query"], job
    done = _wait(server.url, job["id"])
    assert done["state"] == "done" and any('the "virus" field' in w for w in done["warnings"]), done
    assert not any("--" in w for w in done["warnings"]), done["warnings"]
    status, job = _submit(server.url, inputs["virus"].read_text())
    assert _wait(server.url, job["id"])["state"] == "done"
    results = json.loads(_request(f"{server.url}/api/jobs/{job['id']}/results")[1])
    assert set(results) == {"columns", "types", "proteins", "virus_id", "rows", "names"}
    viral = {protein["id"] for protein in results["proteins"]}
    assert viral and all(results["names"].get(v) for v in viral), results["names"]  # the training data names them
    body, kind = _multipart({"fasta": _fasta({"p": TINY[0]}), "taxon": "9606"})
    status, data = _request(server.url + "/api/jobs", body, kind)
    error = json.loads(data)["error"]
    assert status == 400 and "Homo sapiens" in error and 'the "virus" field' in error and "--" not in error, error


def test_api_refuses_bad_input_and_paths_and_stays_up(server):
    assert _submit(server.url, "")[1]["error"] == "pasted text: no sequences found"
    assert _submit(server.url, ">ok\nMKB\n")[0] == 201  # B (D or N) is a letter the CLI takes too
    status, body = _submit(server.url, ">p1\nMKVL**\n")  # one trailing stop codon is stripped, not two
    assert status == 400 and body["error"].startswith(
        "pasted text, line 2, ID 'p1': stop codon '*' inside the sequence at position 5"
    )
    status, body = _submit(server.url, ">long\n" + "M" * 100_000 + "\n")
    assert status == 400 and "100,000 residues, more than this server's limit" in body["error"]
    big, kind = _multipart({}, {"file": ("big.fasta", b">x\n" + b"M" * 10_000_000)})
    status, data = _request(server.url + "/api/jobs", big, kind)
    assert status == 413 and "at most 2.0 MB" in json.loads(data)["error"]
    for path in (
        "/api/jobs/..%2F..%2Fetc%2Fpasswd",
        "/api/jobs/" + "0" * 32,
        "/static/../jobs.py",
        "/docs",
        "/openapi.json",
    ):
        assert _request(server.url + path)[0] == 404, path
    assert server.alive()


def test_api_aligns_a_row_with_its_nearest_training_viral_protein(server, inputs):
    from hvppi.io.sequences import read_sequences
    from hvppi.registry import load_scorer
    from test_serve_alignment import check_alignment

    reference = load_scorer(None).reference_proteins("virus")
    virus = read_sequences(inputs["virus"])
    unlike = "W" * 40  # like no training viral protein (similarity under 0.1)
    # enough proteins (training viral ones) that the job is not done when first asked
    more = [s for s in reference.values() if 300 < len(s) < 600][:12]
    status, job = _submit(
        server.url, _fasta({**virus, "unlike": unlike, **{f"more{k}": s for k, s in enumerate(more)}})
    )
    assert status == 201, job
    url = f"{server.url}/api/jobs/{job['id']}/alignment?virus_id="
    first = next(iter(virus))
    code, answer = _call(url + first)
    assert code == 409 and "not done" in answer["error"], (code, answer)
    assert _wait(server.url, job["id"])["state"] == "done"
    for virus_id, sequence in virus.items():
        results = json.loads(_request(f"{server.url}/api/jobs/{job['id']}/results?virus_id={virus_id}")[1])
        row = dict(zip(results["columns"], results["rows"][0]))
        code, a = _call(url + virus_id)
        assert code == 200, a
        target = row["nearest_training_virus"]
        assert (a["query"]["id"], a["target"]["id"]) == (virus_id, target)
        assert a["target"]["name"] == results["names"].get(target, "") and a["similarity"] == row["nearest_similarity"]
        check_alignment(a, sequence, reference[target])
    code, answer = _call(url + "unlike")
    assert code == 404 and answer["error"].startswith("no training viral protein is close enough to align"), answer
    assert _call(url + "nothing") == (404, {"error": "no viral protein 'nothing' in this job"})
    code, answer = _call(url.split("?")[0])
    assert code == 400 and answer["error"].startswith("query parameter virus_id: field required")
    assert _call(f"{server.url}/api/jobs/{'0' * 32}/alignment?virus_id={first}") == (404, {"error": "no such job"})
    assert _call(f"{server.url}/api/jobs/..%2Fx/alignment?virus_id={first}")[0] == 404
    assert server.alive()


def test_fifty_concurrent_submissions_all_finish_correctly(server, inputs):
    tiny = {f"tiny{k}": seq for k, seq in enumerate(TINY)}
    (inputs["folder"] / "tiny.fasta").write_text(_fasta(tiny))
    reference = _cli_screen(inputs["folder"] / "tiny.fasta", inputs["human"], inputs["folder"] / "tiny.tsv")
    header, *rows = reference.splitlines(keepends=True)
    want = {pid: header + "".join(r for r in rows if r.startswith(pid + "\t")) for pid in tiny}
    names = [f"tiny{k % len(TINY)}" for k in range(50)]
    with ThreadPoolExecutor(50) as pool:
        submitted = list(pool.map(lambda name: _submit(server.url, _fasta({name: tiny[name]})), names))
    assert all(status == 201 for status, _ in submitted)
    for name, (_, job) in zip(names, submitted):
        assert _wait(server.url, job["id"])["state"] == "done"
        assert _request(f"{server.url}/api/jobs/{job['id']}/results.tsv")[1].decode() == want[name]
    assert server.alive()


# ------------------------------------------------------------------------------------------ the page


def _browser(download_dir: Path, profile: Path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    driver = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver")) if p and os.path.exists(p)), None)
    if chromium is None or driver is None:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-first-run",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(download_dir), "download.prompt_for_download": False}
    )
    from selenium.webdriver.chrome.service import Service

    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)})
    return browser


def _shown_row(browser, by, selector: str) -> dict[str, str]:
    """Column name → text of the cells of the first table row matching ``selector``."""
    row = browser.find_element(by.CSS_SELECTOR, selector)
    return {td.get_attribute("data-column"): td.text for td in row.find_elements(by.TAG_NAME, "td")}


def _evidence_fits_the_window(browser) -> None:
    """The evidence and known columns are in view without scrolling sideways (a 1,400-px window)."""
    sizes = browser.execute_script(
        "const wrap = document.querySelector('.table-wrap');"
        "const cell = document.querySelector('#results td[data-column=\"evidence\"]');"
        "const known = document.querySelector('#results td[data-column=\"known\"]');"
        "return {inner: window.innerWidth, page: document.documentElement.scrollWidth, wrap: wrap.scrollWidth,"
        " wrapView: wrap.clientWidth, evidence: cell.getBoundingClientRect().right,"
        " known: known.getBoundingClientRect().right, wrapRight: wrap.getBoundingClientRect().right};"
    )
    assert sizes["inner"] >= WINDOW[0] - 20, sizes
    assert sizes["page"] <= sizes["inner"] and sizes["wrap"] <= sizes["wrapView"], sizes
    assert sizes["evidence"] <= sizes["wrapRight"] and sizes["known"] <= sizes["wrapRight"], sizes


def _known_pair(inputs, benchmark_sequences) -> tuple[str, str, str]:
    """(viral ID, its sequence, human ID) of a benchmark positive pair (so one of the training data) whose human
    protein is among the server's and whose viral protein is not among ``inputs``'s."""
    human = _ids(inputs["human"])
    virus = _ids(inputs["virus"])
    with open(BENCHMARK / "protein_pair_label_pos.txt") as fh:
        for line in fh:
            h, v = line.split("\t")[:2]
            if h in human and v not in virus and 150 <= len(benchmark_sequences[v]) <= 600:
                return v, benchmark_sequences[v], h
    raise AssertionError("no benchmark pair has its human protein among the server's")


def _ids(fasta: Path) -> set[str]:
    return {line[1:].split()[0] for line in fasta.read_text().splitlines() if line.startswith(">")}


def _full_page_screenshot(browser) -> None:
    """The whole page at the window's width, as SCREENSHOT (the README's when HVPPI_SCREENSHOT says so)."""
    browser.execute_script("window.scrollTo(0, 0)")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": WINDOW[0], "height": height, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(SCREENSHOT))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_page_screens_shows_attention_downloads_and_reports_bad_input(
    server, inputs, expected, tmp_path, benchmark_sequences
):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser = _browser(downloads, tmp_path / "profile")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    try:
        browser.get(server.url + "/")
        wait.until(lambda b: "human proteins" in b.find_element(By.ID, "server-info").text)
        browser.find_element(By.ID, "fasta").send_keys(inputs["virus"].read_text())
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda b: b.find_element(By.ID, "job-section").get_attribute("data-state") == "done")
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#results tbody tr")))
        first = expected.splitlines()[1].split("\t")
        header = expected.splitlines()[0].split("\t")
        shown = _shown_row(browser, By, "#results tbody tr")
        assert (shown["human_id"], shown["rank"]) == (first[1], "1")
        assert shown["evidence"] == first[header.index("evidence")] and " bind" in shown["evidence"]
        _evidence_fits_the_window(browser)
        # a human protein's name, as the training data gives it, in its own column and found by the filter
        named = next(
            dict(zip(header, line.split("\t")))
            for line in expected.splitlines()[1:]
            if line.startswith(first[0] + "\t") and line.split("\t")[2]
        )
        row = f"#results tbody tr[data-human-id='{named['human_id']}']"
        assert _shown_row(browser, By, row)["human_name"] == named["human_name"]
        browser.find_element(By.ID, "filter").send_keys(named["human_name"])
        assert named["human_id"] in [
            r.get_attribute("data-human-id") for r in browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")
        ]
        browser.find_element(By.ID, "filter").clear()
        # the numbers behind the evidence are one tick away
        browser.find_element(By.ID, "more-columns").click()
        assert [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#results thead th")] == header
        browser.find_element(By.ID, "more-columns").click()
        # sort by human ID (descending after a second click), then filter, then back to rank order
        browser.find_element(By.CSS_SELECTOR, "#results th[data-column='human_id']").click()
        ids = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#results td[data-column='human_id']")]
        assert ids == sorted(ids)
        browser.find_element(By.ID, "filter").send_keys(first[1])
        assert [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#results td[data-column='human_id']")] == [
            first[1]
        ]
        browser.find_element(By.ID, "filter").clear()
        browser.find_element(By.CSS_SELECTOR, "#results th[data-column='rank']").click()
        # a row opens its explanation (in words) and the paper model's attention, labelled as such
        browser.find_element(By.CSS_SELECTOR, "#results tbody tr").click()
        wait.until(lambda b: b.find_element(By.ID, "explain-section").is_displayed())
        explained = {
            dd.get_attribute("data-term"): dd.text for dd in browser.find_elements(By.CSS_SELECTOR, "#explain dd")
        }
        assert explained["evidence"] == first[header.index("evidence")]
        assert explained["known pair"].startswith("yes" if first[header.index("known")] else "no")
        nearest = explained["nearest training viral protein"]
        assert nearest.startswith(first[header.index("nearest_training_virus")]) and "identity" in nearest
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#attention-human svg path"))
        assert browser.find_elements(By.CSS_SELECTOR, "#attention-virus svg path")
        assert first[1] in browser.find_element(By.ID, "attention-human").text
        heading = browser.find_element(By.CSS_SELECTOR, "#attention-section h2").text
        assert "BiLSTM" in heading and "lstm-phv-benchmark" in heading and "not an explanation" in heading
        assert "paper's BiLSTM-attention model" in heading and "not the model that ranked this row" in heading
        # and the alignment to the nearest training viral protein, below the explanation
        nearest_id = first[header.index("nearest_training_virus")]
        wait.until(lambda b: "identity" in b.find_element(By.ID, "alignment-title").text)
        title = browser.find_element(By.ID, "alignment-title").text
        assert title.startswith(f"Alignment to the nearest training viral protein: {nearest_id}"), title
        assert re.search(r" — identity \d+\.\d% over \d+ columns$", title), title
        block = browser.find_element(By.ID, "alignment-text").text.splitlines()
        assert block[0].startswith(first[0]) and block[2].startswith(nearest_id), block[:3]
        assert max(len(line.split()[2]) for line in block[::4]) == 60  # lines of 60 columns
        browser.find_element(By.ID, "download-tsv").click()
        deadline = time.monotonic() + 30
        while not [p for p in downloads.glob("*.tsv")] and time.monotonic() < deadline:
            time.sleep(0.1)
        downloaded = list(downloads.glob("*.tsv"))
        assert len(downloaded) == 1 and downloaded[0].read_text() == expected
        # the other viral protein's rows, fetched when it is chosen: its top row first
        second = next(line.split("\t") for line in expected.splitlines()[1:] if not line.startswith(first[0] + "\t"))
        Select(browser.find_element(By.ID, "protein")).select_by_value(second[0])
        from selenium.common.exceptions import StaleElementReferenceException

        redrawn = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,))
        redrawn.until(lambda b: _shown_row(b, By, "#results tbody tr")["human_id"] == second[1])
        browser.find_element(By.CSS_SELECTOR, "#results tbody tr").click()
        wait.until(lambda b: b.find_element(By.ID, "attention-title").text.endswith(f"{second[0]} × {second[1]}"))
        assert f"of {len(expected.splitlines()) // 2:,} rows" in browser.find_element(By.ID, "table-info").text
        # a pair of the training data: "known" names its sources, in the table and in the explanation
        virus_id, sequence, human_id = _known_pair(inputs, benchmark_sequences)
        browser.execute_script("document.getElementById('fasta').value = arguments[0];", _fasta({virus_id: sequence}))
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda b: virus_id in b.find_element(By.ID, "protein").text)
        row = browser.find_element(By.CSS_SELECTOR, f"#results tbody tr[data-human-id='{human_id}']")
        known = row.find_element(By.CSS_SELECTOR, "td[data-column='known']").text
        assert "benchmark" in known, known
        row.click()
        wait.until(lambda b: b.find_element(By.ID, "attention-title").text.endswith(f"{virus_id} × {human_id}"))
        assert browser.find_element(By.CSS_SELECTOR, "#explain dd[data-term='known pair']").text.startswith("yes")
        wait.until(lambda b: "identity" in b.find_element(By.ID, "alignment-title").text)
        assert (
            f"known partner ({known})"
            in browser.find_element(By.CSS_SELECTOR, "#explain dd[data-term='evidence']").text
        )
        _full_page_screenshot(browser)
        # a bare sequence is one query; its warning names the page's virus field, not the CLI's options
        browser.execute_script(
            "document.getElementById('fasta').value = arguments[0];", TINY[0][:15] + "\n" + TINY[0][15:]
        )
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda b: "query" in b.find_element(By.ID, "protein").text)
        warnings = browser.find_element(By.ID, "warnings").text
        assert "query" in warnings and '"virus" field' in warnings and "--" not in warnings, warnings

        def message_after(action) -> str:
            browser.execute_script("document.getElementById('message').hidden = true")
            action()
            wait.until(lambda b: b.find_element(By.ID, "message").is_displayed())
            return browser.find_element(By.ID, "message").text

        def paste(text: str):
            def action():
                browser.execute_script(
                    "document.getElementById('fasta').value = arguments[0]; document.getElementById('file').value = '';",
                    text,
                )
                browser.find_element(By.ID, "submit").click()

            return action

        assert message_after(paste("")) == "pasted text: no sequences found"
        assert message_after(paste(">bad protein\nMKVLJQ\n")) == (
            "pasted text, line 2, ID 'bad': unknown amino-acid letter 'J' at position 5"
        )
        assert "100,000 residues, more than this server's limit" in message_after(paste(">huge\n" + "A" * 100_000))
        big = tmp_path / "big.fasta"
        big.write_bytes(b">x\n" + b"M" * 10_000_000)

        def upload():
            browser.find_element(By.ID, "file").send_keys(str(big))
            browser.find_element(By.ID, "submit").click()

        assert message_after(upload) == "big.fasta: the file is 10.0 MB; this server takes at most 2.0 MB"
        assert server.alive()
    finally:
        browser.quit()


# ------------------------------------------------------------------------------------------ issue 23: hardening


def _call(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, data: bytes | None = None
) -> tuple[int, dict]:
    """Status and JSON body of a request with the given headers (a ``Host`` header replaces urllib's)."""
    req = urllib.request.Request(url, data=data, method=method)
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw else {}


def test_job_store_locks_its_folder_records_its_inputs_and_fails_jobs_started_with_others(tmp_path):
    calls = []

    def runner(virus, out, log, taxon):
        calls.append(next(iter(virus)))
        out.write_text("virus_id\tn\n" + "".join(f"{v}\t{len(s)}\n" for v, s in virus.items()))

    first = {"model": "m1", "human": "h1"}
    store = JobStore(tmp_path, runner, inputs=first)
    with pytest.raises(InputError, match=r"another hvppi serve \(PID \d+\) uses this jobs folder"):
        JobStore(tmp_path, runner)  # one server per folder, in this process too
    ids = [store.submit({"v0": "MK", "v1": "MKV"}), store.submit({"w0": "MK", "w1": "MKV"})]
    assert store.wait(30) and store.status(ids[0])["inputs"] == first
    store.close()
    for job_id in ids:  # as if the server was killed after the first of two viral proteins
        folder = tmp_path / job_id
        status = json.loads((folder / "status.json").read_text())
        status.update(state="running", done=1)
        (folder / "status.json").write_text(json.dumps(status))
        (folder / "parts").mkdir()
        (folder / "parts" / "000000.tsv").write_text("virus_id\tn\nv0\t2\n")
        (folder / "results.tsv").unlink()
    calls.clear()
    other = JobStore(tmp_path, runner, inputs={"model": "m1", "human": "h2"})  # restarted with another human set
    assert other.wait(30) and calls == []
    for job_id in ids:
        status = other.status(job_id)
        assert status["state"] == "failed" and "started with other human proteins" in status["error"]
        assert not (tmp_path / job_id / "results.tsv").exists()  # never finished with two human sets
    other.close()
    for job_id in ids:
        status = json.loads((tmp_path / job_id / "status.json").read_text())
        (tmp_path / job_id / "status.json").write_text(json.dumps({**status, "state": "running"}))
    same = JobStore(tmp_path, runner, inputs=first)  # the same inputs: the jobs continue where they stopped
    assert same.wait(30) and sorted(calls) == ["v1", "w1"]
    assert all(same.status(j)["state"] == "done" for j in ids)
    same.close()


def _damaged_jobs(root: Path, header: str, row: str) -> dict[str, str]:
    """Job folders damaged in the ways of issue 23 (name → job ID)."""
    cells = row.split("\t")
    done = {"state": "done", "created": time.time(), "proteins": ["p"], "total": 1, "done": 1, "warnings": []}
    cases = {
        "a list": ("[1, 2]", None),
        "not json": ('{"id": ', None),
        "no status": (None, None),
        "no created": ({k: v for k, v in done.items() if k != "created"}, None),
        "truncated results": (done, header + "\n" + row[: len(row) // 2]),
        "non-numeric rank": (done, header + "\n" + "\t".join([*cells[:3], "abc", *cells[4:]]) + "\n"),
        "infinite score": (done, header + "\n" + "\t".join([*cells[:4], "inf", *cells[5:]]) + "\n"),
        "short row": (done, header + "\n" + "\t".join(cells[:5]) + "\n"),
    }
    jobs = {}
    for name, (status, results) in cases.items():
        job_id = uuid.uuid4().hex
        folder = root / job_id
        folder.mkdir(parents=True)
        (folder / "input.fasta").write_text(">p\nMKV\n")
        if isinstance(status, dict):
            status = json.dumps({"id": job_id, **status})
        if status is not None:
            (folder / "status.json").write_text(status)
        if results is not None:
            (folder / "results.tsv").write_text(results)
        jobs[name] = job_id
    return jobs


def _serve_fails(*args: str, timeout: float = 120) -> str:
    """The one stderr line of ``hvppi serve ARGS`` that must exit 2."""
    done = subprocess.run(
        [sys.executable, "-m", "hvppi.cli", "serve", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("hvppi serve: error: ")]
    assert done.returncode == 2, f"exit {done.returncode}: {done.stderr[-600:]}"
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in done.stderr, done.stderr[-600:]
    return errors[0]


def test_host_and_cross_site_requests_are_refused_and_the_page_origin_is_taken(server):
    port = server.url.rsplit(":", 1)[1]
    fasta = _fasta({"p": TINY[0]})
    body, kind = _multipart({"fasta": fasta})
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{int(port) + 1}", "localhost.evil.example"):
        status, answer = _call(server.url + "/api/jobs", headers={"Host": host})
        assert status == 400 and "Host" in answer["error"], (host, status, answer)
        status, answer = _call(server.url + "/", headers={"Host": host})
        assert status == 400, host
    if shutil.which("curl"):  # the issue's own check
        curl = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "Host: evil.example",
                server.url + "/api/jobs",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert curl.stdout == "400"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert _call(server.url + "/api/health", headers={"Host": host}) == (200, {"ok": True})
    status, answer = _call(server.url + "/api/jobs")
    assert status == 405 and "error" in answer  # there is no list of every job
    post = {"Content-Type": kind}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://localhost:{port}"},  # another origin than the page's, though the same machine
        {"Referer": "http://evil.example/page.html"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": server.url},
    ):
        status, answer = _call(server.url + "/api/jobs", "POST", {**post, **headers}, body)
        assert status == 403 and "refused" in answer["error"], (headers, status, answer)
    for headers in ({"Origin": server.url, "Sec-Fetch-Site": "same-origin"}, {"Referer": server.url + "/"}, {}):
        status, answer = _call(server.url + "/api/jobs", "POST", {**post, **headers}, body)
        assert status == 201, (headers, answer)
        assert _wait(server.url, answer["id"])["state"] == "done"


def test_a_chunked_body_over_the_limit_gets_413_and_parameters_errors_are_json(server):
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(server.url)

    def chunked(data: bytes, kind: str) -> tuple[int, dict]:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        try:
            pieces = (data[i : i + 65536] for i in range(0, len(data), 65536))
            connection.request("POST", "/api/jobs", body=pieces, headers={"Content-Type": kind}, encode_chunked=True)
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    big, kind = _multipart({"fasta": ">x\n" + "M" * 3_000_000 + "\n"})
    status, answer = chunked(big, kind)
    assert status == 413 and answer["error"] == "the request is 3.0 MB; this server takes at most 2.0 MB"
    small, kind = _multipart({"fasta": _fasta({"chunked": TINY[1]})})
    status, answer = chunked(small, kind)
    assert status == 201 and _wait(server.url, answer["id"])["state"] == "done"
    status, answer = _call(f"{server.url}/api/jobs/{answer['id']}/attention")
    assert status == 400 and answer["error"].startswith("query parameter virus_id: field required")
    status, answer = _call(f"{server.url}/api/jobs/{'0' * 32}/attention?virus_id=a&human_id=b")
    assert status == 404 and answer == {"error": "no such job"}
    assert server.alive()


def test_damaged_job_folders_are_failed_jobs_and_startup_errors_are_one_line(inputs, expected, tmp_path):
    import hashlib

    from hvppi.io.bundled import bundled_model_path
    from hvppi.io.sequences import read_sequences
    from hvppi.scoring.output import digest

    header, row = expected.splitlines()[:2]
    jobs_dir = tmp_path / "jobs"
    damaged = _damaged_jobs(jobs_dir, header, row)
    # a job killed after the first of two viral proteins, started with another human set than the server's now
    model = hashlib.sha256(bundled_model_path("screening").read_bytes()).hexdigest()
    mixed = uuid.uuid4().hex
    (jobs_dir / mixed / "parts").mkdir(parents=True)
    (jobs_dir / mixed / "input.fasta").write_text(inputs["virus"].read_text())
    (jobs_dir / mixed / "parts" / "000000.tsv").write_text(header + "\n" + row + "\n")
    status = {"id": mixed, "state": "running", "created": time.time(), "proteins": ["a", "b"], "total": 2, "done": 1}
    status.update(warnings=[], error=None, taxon=None, inputs={"model": model, "human": "0" * 64})
    (jobs_dir / mixed / "status.json").write_text(json.dumps(status))
    assert digest(read_sequences(inputs["human"])) != "0" * 64
    running = Server(inputs["human"], jobs_dir, tmp_path / "server.log")  # starts, whatever the folders hold
    try:
        for name, job_id in damaged.items():
            code, answer = _call(f"{running.url}/api/jobs/{job_id}")
            assert code == 200, (name, answer)
            for suffix in ("results", "results.tsv", "results.parquet", "alignment?virus_id=p"):
                code, body = _call(f"{running.url}/api/jobs/{job_id}/{suffix}")
                assert code == 409 and "failed" in body["error"], (name, suffix, code, body)
            code, answer = _call(f"{running.url}/api/jobs/{job_id}")
            assert answer["state"] == "failed" and ("damaged" in answer["error"]), (name, answer)
        (jobs_dir / damaged["a list"] / "input.fasta").unlink()
        code, body = _call(f"{running.url}/api/jobs/{damaged['a list']}/attention?virus_id=p&human_id=h")
        assert code == 409 and "input file is damaged" in body["error"]
        answer = _wait(running.url, mixed)
        assert answer["state"] == "failed" and "started with other human proteins" in answer["error"]
        assert not (jobs_dir / mixed / "results.tsv").exists()
        # a second server on the same folder, a port in use, an address that does not resolve, a bad limit
        port = running.url.rsplit(":", 1)[1]
        line = _serve_fails("--port", "0", "--jobs", str(jobs_dir), "--human", str(inputs["human"]))
        assert "another hvppi serve" in line and "uses this jobs folder" in line
        line = _serve_fails("--port", port, "--jobs", str(tmp_path / "other"), "--human", str(inputs["human"]))
        assert "the port is in use" in line
        line = _serve_fails("--host", "no-such-host.invalid", "--port", "0", "--jobs", str(tmp_path / "other"))
        assert "cannot resolve" in line
        for bad in ("inf", "nan", "-1", "0"):
            assert "--max-upload-mb" in _serve_fails("--max-upload-mb", bad, "--jobs", str(tmp_path / "other"))
        # an attention model that cannot be read stops the start, not every attention request later
        (tmp_path / "attention.safetensors").write_bytes(b"\x80\x04not a model")
        line = _serve_fails("--attention-model", str(tmp_path / "attention.safetensors"), "--jobs", str(tmp_path / "x"))
        assert "attention.safetensors" in line and "safetensors" in line, line
        assert running.alive()
    finally:
        running.stop()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and "Exception" not in log, log[-2000:]


def test_selenocysteine_is_screened_and_a_client_that_leaves_or_sends_a_taxon_file_is_refused(server):
    import socket

    status, job = _submit(server.url, ">seleno\n" + TINY[1][:10] + "U" + TINY[1][10:] + "O\n")
    assert status == 201, job
    assert _wait(server.url, job["id"])["state"] == "done"  # U and O align as X (an unknown residue)
    body, kind = _multipart({"fasta": _fasta({"p": TINY[0]})}, {"taxon": ("taxon.txt", b"2697049")})
    status, data = _request(server.url + "/api/jobs", body, kind)
    assert status == 400 and "not a file" in json.loads(data)["error"]
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:  # an upload cut off before its declared length
        sock.sendall(
            f"POST /api/jobs HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: multipart/form-data; boundary=X\r\n"
            'Content-Length: 100000\r\n\r\n--X\r\nContent-Disposition: form-data; name="file"; filename="a.fa"\r\n'
            "\r\n>a\nMKV".encode()
        )
        time.sleep(0.3)
    assert _request(server.url + "/api/health")[0] == 200


def test_client_errors_leave_no_traceback_in_the_server_log(server):
    """Last of the module: every refusal above was a 4xx with a JSON message, never a server error."""
    log = server.log.read_text()
    assert "Traceback" not in log and "Exception in ASGI" not in log, log[-2000:]

"""Behaviour kept: for the bundled models, ``hvppi screen`` (TSV and Parquet, with and without the virus),
``predict``, ``serve`` and ``screen --dask`` write byte-identical outputs to the fixtures of tests/data/behaviour
(see tests/behaviour_inputs.py for when and how they were written); the single-process, Dask and web paths agree."""

from __future__ import annotations

from pathlib import Path

import pytest

import behaviour_inputs as inputs
from hvppi.cli import main

FIXTURES = Path(__file__).parent / "data" / "behaviour"
SINGLE = [name for name, args in inputs.RUNS.items() if "--dask" not in args]
DASK = [name for name, args in inputs.RUNS.items() if "--dask" in args]


@pytest.fixture(scope="module")
def written(shared_data, tmp_path_factory):
    return inputs.write_inputs(tmp_path_factory.mktemp("inputs"))


def _same(out: Path, expected: Path) -> None:
    if out.read_bytes() != expected.read_bytes() and out.suffix == ".parquet":  # another pyarrow writes other bytes
        import pyarrow.parquet as pq

        assert pq.read_table(out).equals(pq.read_table(expected)), out.name
        pytest.skip(f"{out.name}: the same table, written by another pyarrow version")
    assert out.read_bytes() == expected.read_bytes(), out.name


@pytest.mark.parametrize("name", SINGLE)
def test_cli_outputs_are_byte_identical(written, tmp_path, name):
    out = tmp_path / name
    assert main(inputs.command(name, written, out)) == 0
    _same(out, FIXTURES / name)


@pytest.mark.parametrize("name", DASK)
def test_dask_outputs_are_byte_identical(written, tmp_path, name):
    pytest.importorskip("distributed")
    out = tmp_path / name
    assert main(inputs.command(name, written, out)) == 0
    _same(out, FIXTURES / name)


@pytest.mark.parametrize(("name", "taxon"), [("serve.tsv", None), ("serve-taxon.tsv", "2697049")])
def test_web_results_are_byte_identical(written, tmp_path, name, taxon):
    pytest.importorskip("fastapi")
    assert inputs.web_results(written, tmp_path / "jobs", taxon) == (FIXTURES / name).read_bytes()

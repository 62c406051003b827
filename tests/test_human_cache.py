"""The human side of a screen kept on disk (hvppi.screening.humancache) and the threaded 3-mer cosines under it:
the same bytes out, damaged or foreign entries never used, a switch to turn it off."""

from __future__ import annotations

import numpy as np
import pytest

from hvppi.align.similarity import kmer_cosine
from hvppi.screening import humancache
from hvppi.screening.features import HumanSide


def _sequences(rng, n, low=30, high=300):
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    return ["".join(rng.choice(letters, int(rng.integers(low, high)))) for _ in range(n)]


def test_threaded_kmer_cosine_equals_one_product_bit_for_bit():
    import scipy.sparse as sp

    from hvppi.align.similarity import kmer_counts

    rng = np.random.default_rng(3)
    first, second = _sequences(rng, 230), _sequences(rng, 170)
    unit = [
        sp.diags(1 / np.sqrt(np.asarray(c.multiply(c).sum(1)).ravel())) @ c for c in map(kmer_counts, (first, second))
    ]
    whole = np.asarray((unit[0] @ unit[1].T).toarray(), dtype=np.float32)
    for threads, rows in ((1, 512), (2, 17), (3, 1), (2, 1000)):
        assert np.array_equal(kmer_cosine(first, second, threads=threads, rows=rows), whole)
    assert np.array_equal(kmer_cosine(first, threads=2, rows=50), kmer_cosine(first))
    with pytest.raises(ValueError, match="rows"):
        kmer_cosine(first, rows=0)


def _side(rng, n_known=4, n_cand=6, n_ref=5):
    return HumanSide(
        reference_index=np.array([0, -1, 2, 3, -1, 4][:n_cand], dtype=np.int64),
        reference_canonical=np.arange(n_ref, dtype=np.int64),
        log_length=rng.random(n_cand).astype(np.float32),
        near_partner=rng.random((n_known, n_cand)).astype(np.float32),
        smoothed_popularity=rng.random(n_cand).astype(np.float32),
    )


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HVPPI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(humancache, "MIN_PROTEINS", 1)
    return tmp_path / "cache"


def test_a_kept_side_comes_back_the_same_and_only_for_its_key(cache):
    rng = np.random.default_rng(0)
    side = _side(rng)
    key = humancache.human_side_key("a" * 64, ["MKV", "MAL"])
    path = humancache.save_human_side(key, side)
    assert path is not None and path.parent == cache
    back = humancache.load_human_side(key, 4, 6, 5)
    for name in ("reference_index", "reference_canonical", "log_length", "near_partner", "smoothed_popularity"):
        assert np.array_equal(getattr(back, name), getattr(side, name))
        assert getattr(back, name).dtype == getattr(side, name).dtype
    assert humancache.load_human_side(humancache.human_side_key("b" * 64, ["MKV", "MAL"]), 4, 6, 5) is None
    assert humancache.load_human_side(key, 5, 6, 5) is None  # sizes of another model: refused (and removed)
    assert not path.exists()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda a: a.update(near_partner=np.full_like(a["near_partner"], np.nan)),
        lambda a: a.update(reference_index=np.full_like(a["reference_index"], 99)),
        lambda a: a.update(reference_canonical=a["reference_canonical"].astype(np.int32)),
        lambda a: a.update(extra=np.zeros(3)),
        lambda a: a.pop("smoothed_popularity"),
        lambda a: a.update(log_length=np.array(["x"] * 6, dtype=object)),
    ],
)
def test_a_damaged_entry_is_never_used(cache, tamper):
    rng = np.random.default_rng(1)
    key = humancache.human_side_key("c" * 64, ["MKV"])
    path = humancache.save_human_side(key, _side(rng))
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    tamper(arrays)
    np.savez(path.open("wb"), **arrays)
    assert humancache.load_human_side(key, 4, 6, 5) is None and not path.exists()
    path.write_bytes(b"PK\x03\x04 not a zip")
    assert humancache.load_human_side(key, 4, 6, 5) is None


def test_cache_off_small_sets_and_the_newest_entries_kept(cache, monkeypatch):
    rng = np.random.default_rng(2)
    for i in range(humancache.MAX_ENTRIES + 2):
        humancache.save_human_side(humancache.human_side_key("d" * 64, [f"M{i}"]), _side(rng))
    assert len(list(cache.glob("human-side-*.npz"))) == humancache.MAX_ENTRIES
    monkeypatch.setattr(humancache, "MIN_PROTEINS", 7)
    assert humancache.save_human_side(humancache.human_side_key("e" * 64, ["M"]), _side(rng)) is None
    monkeypatch.setenv("HVPPI_CACHE_DIR", "off")
    assert humancache.cache_dir() is None
    assert humancache.save_human_side(humancache.human_side_key("e" * 64, ["M"]), _side(rng)) is None


def test_a_screen_from_the_cache_writes_the_same_bytes(cache, shared_data, tmp_path, capsys):
    from hvppi.cli import main
    from hvppi.io.sequences import read_sequences

    bench = read_sequences(shared_data / "lstm-phv-benchmark" / "pro_seq.txt")
    ids = list(bench)
    viral = tmp_path / "viral.fasta"
    viral.write_text("".join(f">{v}\n{bench[v]}\n" for v in ids[-3:]))
    human = tmp_path / "human.fasta"
    human.write_text("".join(f">{h}\n{bench[h]}\n" for h in ids[:40]))
    outs = []
    for name in ("cold.tsv", "warm.tsv"):
        out = tmp_path / name
        assert main(["screen", "--virus", str(viral), "--human", str(human), "--out", str(out), "--threads", "2"]) == 0
        outs.append(out.read_bytes())
    err = capsys.readouterr().err
    assert err.count("comparing the 40 human proteins") == 1  # the second screen read the cache
    assert len(list(cache.glob("human-side-*.npz"))) == 1
    assert outs[0] == outs[1]


def test_an_entry_copied_or_linked_under_another_key_is_not_used(cache):
    rng = np.random.default_rng(4)
    first = humancache.human_side_key("f" * 64, ["MKV"])
    second = humancache.human_side_key("f" * 64, ["MKW"])
    path = humancache.save_human_side(first, _side(rng))
    planted = path.with_name(path.name.replace(first[:40], second[:40]))
    planted.symlink_to(path)
    assert humancache.load_human_side(second, 4, 6, 5) is None  # same shapes, another key: refused
    assert humancache.load_human_side(first, 4, 6, 5) is not None


def test_a_read_only_entry_is_still_read_and_odd_damage_means_recompute(cache, monkeypatch):
    import os
    import zipfile

    rng = np.random.default_rng(5)
    key = humancache.human_side_key("g" * 64, ["MKV"])
    path = humancache.save_human_side(key, _side(rng))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "utime", refuse)
    assert humancache.load_human_side(key, 4, 6, 5) is not None  # a cache it may read but not touch
    monkeypatch.undo()
    monkeypatch.setenv("HVPPI_CACHE_DIR", str(cache))
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:  # a compressed entry whose bytes are then damaged
        for name, values in arrays.items():
            with zf.open(f"{name}.npy", "w") as fh:
                np.lib.format.write_array(fh, values)
    raw = bytearray(path.read_bytes())
    raw[200:260] = bytes(60)
    path.write_bytes(bytes(raw))
    assert humancache.load_human_side(key, 4, 6, 5) is None and not path.exists()


def test_a_folder_that_cannot_be_written_is_said_and_the_screen_goes_on(tmp_path, monkeypatch, shared_data):
    from hvppi.io.sequences import read_sequences
    from hvppi.registry import load_scorer

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HVPPI_CACHE_DIR", str(blocker))
    monkeypatch.setattr(humancache, "MIN_PROTEINS", 1)
    bench = read_sequences(shared_data / "lstm-phv-benchmark" / "pro_seq.txt")
    human = dict(list(bench.items())[:20])
    lines: list[str] = []
    scorer = load_scorer("default")
    scorer.prepare_human(human, log=lines.append)
    assert any("could not keep it in" in line and str(blocker) in line for line in lines)
    portable = scorer.portable()  # what Dask workers get: blocks are never kept (they would evict the whole set)
    monkeypatch.setenv("HVPPI_CACHE_DIR", str(tmp_path / "cache"))
    portable.prepare_human(human, log=lines.append)
    assert not (tmp_path / "cache").exists()
    scorer.prepare_human(human, log=lines.append)
    assert len(list((tmp_path / "cache").glob("human-side-*.npz"))) == 1

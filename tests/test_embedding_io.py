"""Embedding readers (hvppi.geometry.readers): every layout, streaming, and clear errors."""

import hashlib

import h5py
import numpy as np
import pytest

from hvppi.geometry.isotropy import isotropy
from hvppi.geometry.readers import measure_isotropy, open_embeddings, read_protein_vectors
from hvppi.io.errors import InputError
from hvppi.lstm.vectors import VectorStore


@pytest.fixture()
def residues(rng):
    """Per-residue embeddings of 12 proteins of lengths 5..60, d = 6, float32."""
    return {f"P{k:05d}": rng.standard_normal((5 + 5 * k, 6)).astype(np.float32) + k for k in range(12)}


def write_h5(path, arrays, root_attrs=None, key=lambda pid: pid, id_attr=None):
    with h5py.File(path, "w") as f:
        f.attrs.update(root_attrs or {})
        for pid, array in arrays.items():
            ds = f.create_dataset(key(pid), data=array)
            if id_attr:
                ds.attrs[id_attr] = pid
    return path


def test_uniprot_per_protein_h5(tmp_path, residues):
    means = {pid: a.mean(0) for pid, a in residues.items()}
    path = write_h5(tmp_path / "per-protein.h5", means)
    with open_embeddings(path) as reader:
        assert (reader.info.layout, reader.info.level, reader.info.items, reader.info.d) == ("h5", "protein", 12, 6)
        assert reader.ids() == sorted(residues)
    ids, X = read_protein_vectors(path, ["P00003", "P00001"])
    assert ids == ["P00003", "P00001"]
    np.testing.assert_array_equal(X, np.stack([means["P00003"], means["P00001"]]))
    assert X.dtype == np.float64
    with pytest.raises(InputError, match="--local needs per-residue"):
        measure_isotropy(path, local=True)


def test_uniprot_per_residue_h5_streams_local_points_in_bounded_chunks(tmp_path, residues):
    path = write_h5(tmp_path / "per-residue.h5", residues)
    all_rows = np.concatenate([residues[pid] for pid in sorted(residues)])
    with open_embeddings(path) as reader:
        assert reader.info.level == "residue"
        chunks = list(reader.points(local=True, chunk_rows=17))
        globals_ = np.concatenate(list(reader.points(local=False, chunk_rows=5)))
    assert max(len(c) for c in chunks) < 2 * 17
    np.testing.assert_array_equal(np.concatenate(chunks), all_rows)
    np.testing.assert_allclose(
        globals_, np.stack([residues[pid].mean(0, dtype=np.float64) for pid in sorted(residues)])
    )
    local = measure_isotropy(path, local=True, chunk_rows=17)
    assert local.n == len(all_rows)
    assert local.isoscore == pytest.approx(isotropy(all_rows).isoscore, rel=1e-10)
    assert measure_isotropy(path).n == 12


def test_bio_embeddings_md5_keys_with_original_id(tmp_path, residues):
    means = {pid: a.mean(0) for pid, a in residues.items()}
    path = write_h5(
        tmp_path / "reduced_embeddings_file.h5",
        means,
        key=lambda pid: hashlib.md5(pid.encode()).hexdigest(),
        id_attr="original_id",
    )
    ids, X = read_protein_vectors(path)
    assert sorted(ids) == sorted(residues)
    np.testing.assert_allclose(X[ids.index("P00004")], means["P00004"])


def test_hvppi_embed_files_and_their_declared_level(tmp_path, residues):
    attrs = {"format": "hvppi-embeddings", "embedder": "tiny-esm", "level": "residue"}
    path = write_h5(
        tmp_path / "embed.h5",
        {f"A/{pid}": a for pid, a in residues.items()},
        attrs,
        key=lambda pid: pid.replace("/", "%2F"),
        id_attr="original_id",
    )
    with open_embeddings(path) as reader:
        assert (reader.info.layout, reader.info.embedder, reader.info.level) == (
            "hvppi-embeddings",
            "tiny-esm",
            "residue",
        )
        assert "A/P00000" in reader.ids()
    wrong = write_h5(tmp_path / "wrong.h5", {"X": np.ones(6)}, {**attrs, "level": "residue"})
    with pytest.raises(InputError, match="level='residue' but its datasets are per-protein"):
        open_embeddings(wrong)


def test_hvppi_tower_vector_files(tmp_path, rng):
    path = tmp_path / "human.h5"
    vectors = {"Q9/1": rng.standard_normal(64), "P2": rng.standard_normal(64), "P3": rng.standard_normal(64)}
    with VectorStore(path, "human", "abc") as store:
        store.store({k: "MKV" for k in vectors}, vectors)
    with open_embeddings(path) as reader:
        assert reader.info.layout == "hvppi-vectors" and reader.info.d == 64
    ids, X = read_protein_vectors(path, ["Q9/1"])
    np.testing.assert_allclose(X[0], vectors["Q9/1"].astype(np.float32))


def test_npy_and_npz_layouts(tmp_path, rng, residues):
    X = rng.standard_normal((50, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "rows.npz", embeddings=X)
    np.savez(tmp_path / "ids.npz", **residues)
    np.savez(tmp_path / "vecs.npz", **{pid: a.mean(0) for pid, a in residues.items()})
    for name in ("x.npy", "rows.npz"):
        with open_embeddings(tmp_path / name) as reader:
            assert reader.info.level == "rows"
            np.testing.assert_array_equal(np.concatenate(list(reader.points(chunk_rows=7))), X)
            with pytest.raises(InputError, match="no protein IDs"):
                reader.ids()
    assert measure_isotropy(tmp_path / "x.npy").isoscore == pytest.approx(isotropy(X).isoscore, rel=1e-12)
    with open_embeddings(tmp_path / "ids.npz") as reader:
        assert (reader.info.layout, reader.info.level, reader.info.items) == ("npz-ids", "residue", 12)
    assert measure_isotropy(tmp_path / "ids.npz", local=True).n == sum(len(a) for a in residues.values())
    ids, V = read_protein_vectors(tmp_path / "vecs.npz", ["P00002"])
    np.testing.assert_allclose(V[0], residues["P00002"].mean(0), rtol=1e-6)
    import zipfile

    with zipfile.ZipFile(tmp_path / "mixed.npz", "w") as zf:
        zf.write(tmp_path / "x.npy", "x.npy")
        zf.writestr("readme.txt", "not an array")
    with pytest.raises(InputError, match="mixed.npz.*'readme.txt' is not a .npy array"):
        open_embeddings(tmp_path / "mixed.npz")


def test_bad_files_name_the_file_and_dataset(tmp_path, rng):
    empty = write_h5(tmp_path / "empty.h5", {})
    with pytest.raises(InputError, match="empty.h5: no embeddings"):
        open_embeddings(empty)
    cube = write_h5(tmp_path / "cube.h5", {"A": np.ones((2, 3, 4))})
    with pytest.raises(InputError, match=r"ID 'A': dataset 'A' has shape \(2, 3, 4\)"):
        open_embeddings(cube)
    mixed_d = write_h5(tmp_path / "d.h5", {"A": np.ones(5), "B": np.ones(6)})
    with pytest.raises(InputError, match="dataset 'B' has 6 dimensions, earlier datasets have 5"):
        open_embeddings(mixed_d)
    mixed_rank = write_h5(tmp_path / "rank.h5", {"A": np.ones(5), "B": np.ones((3, 5))})
    with pytest.raises(InputError, match="per-protein"):
        open_embeddings(mixed_rank)
    no_residues = write_h5(tmp_path / "zero.h5", {"A": np.ones((0, 5))})
    with pytest.raises(InputError, match="no residues"):
        open_embeddings(no_residues)
    text = write_h5(tmp_path / "text.h5", {"A": np.array([b"x", b"y"])})
    with pytest.raises(InputError, match="not numbers"):
        open_embeddings(text)
    bad = rng.standard_normal((4, 3))
    bad[2, 1] = np.nan
    nan = write_h5(tmp_path / "nan.h5", {"OK": np.ones((2, 3)), "P99": bad}, id_attr="original_id")
    with pytest.raises(InputError, match=r"nan.h5, ID 'P99': dataset 'P99' has a NaN"):
        measure_isotropy(nan, local=True)
    with h5py.File(tmp_path / "group.h5", "w") as f:
        f.create_group("nested").create_dataset("A", data=np.ones(3))
    with pytest.raises(InputError, match="'nested' is a group"):
        open_embeddings(tmp_path / "group.h5")
    (tmp_path / "plain.txt").write_text("hello\n")
    with pytest.raises(InputError, match="not an H5, NPY or NPZ file"):
        open_embeddings(tmp_path / "plain.txt")
    with pytest.raises(InputError, match="not found"):
        open_embeddings(tmp_path / "missing.h5")
    np.save(tmp_path / "three.npy", np.ones((2, 2, 2)))
    with pytest.raises(InputError, match=r"shape \(2, 2, 2\)"):
        open_embeddings(tmp_path / "three.npy")
    inf_rows = np.ones((5, 3))
    inf_rows[4, 0] = np.inf
    np.save(tmp_path / "inf.npy", inf_rows)
    with pytest.raises(InputError, match="row 4 "):
        measure_isotropy(tmp_path / "inf.npy")
    np.save(tmp_path / "one_dim.npy", rng.standard_normal((10, 1)))
    with pytest.raises(InputError, match="one_dim.npy: d = 1"):
        measure_isotropy(tmp_path / "one_dim.npy")
    dup = write_h5(
        tmp_path / "dup.h5", {"a": np.ones(3), "b": np.zeros(3)}, key=lambda k: k, root_attrs=None, id_attr=None
    )
    with h5py.File(dup, "a") as f:
        f["a"].attrs["original_id"] = "SAME"
        f["b"].attrs["original_id"] = "SAME"
    with pytest.raises(InputError, match="ID 'SAME': the protein ID occurs in two datasets"):
        read_protein_vectors(dup)
    with pytest.raises(InputError, match="ID 'NOPE': no embedding"):
        read_protein_vectors(nan, ["NOPE"])

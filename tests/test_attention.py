import json

import numpy as np
import pytest
import torch

from hvppi.cli import main
from hvppi.io.errors import InputError
from hvppi.lstm.attention import Region, protein_attention, read_annotations, region_enrichment
from hvppi.lstm.model import InteractionModel, ModelConfig
from hvppi.lstm.modelfile import ModelInfo, save_model
from hvppi.lstm.structure import attention_vs_distance, chain_distances, map_structure_to_sequence

THREE = {"M": "MET", "K": "LYS", "V": "VAL", "L": "LEU", "A": "ALA", "G": "GLY", "W": "TRP"}


def write_pdb(path, chains):
    """chains: {chain_id: [(one_letter, (x, y, z)), ...]}; each residue gets CA and CB (C, heavy) and one H."""
    lines, serial = [], 1
    for cid, residues in chains.items():
        for number, (aa, (x, y, z)) in enumerate(residues, start=1):
            for name, element, dx in (("CA", "C", 0.0), ("CB", "C", 1.0), ("HA", "H", -0.3)):
                lines.append(
                    f"ATOM  {serial:5d}  {name:<3s} {THREE[aa]} {cid}{number:4d}    "
                    f"{x + dx:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {element:>2s}"
                )
                serial += 1
        lines.append("TER")
    path.write_text("\n".join(lines) + "\nEND\n")


@pytest.fixture()
def complex_pdb(tmp_path):
    # Chain A (MKVLA) along x; chain B (GW) sits near A's first residues.
    write_pdb(
        tmp_path / "c.pdb",
        {
            "A": [(aa, (3.8 * i, 0.0, 0.0)) for i, aa in enumerate("MKVLA")],
            "B": [("G", (0.0, 4.0, 0.0)), ("W", (3.8, 6.0, 0.0))],
        },
    )
    return tmp_path / "c.pdb"


def test_chain_distances_use_heavy_atoms_only(complex_pdb):
    sequence, distances = chain_distances(complex_pdb, "A", "B")
    assert sequence == "MKVLA"
    assert distances[0] == pytest.approx(4.0)  # CA(0,0,0) to CA(0,4,0); hydrogens ignored
    assert np.all(np.diff(distances[1:]) > 0)


def test_missing_chain_is_a_clear_error(complex_pdb):
    with pytest.raises(InputError, match="chain 'C' is not in the structure"):
        chain_distances(complex_pdb, "A", "C")


def test_structure_residues_map_onto_a_longer_sequence():
    mapping = map_structure_to_sequence("MKVLA", "GGGMKVLAGGG")
    assert mapping.tolist() == [3, 4, 5, 6, 7]


def test_attention_towards_the_interface_is_detected():
    distances = np.array([3.0, 5.0, 9.0, 12.0, 15.0, 20.0])
    mapping = np.arange(6)
    weights = np.array([0.4, 0.3, 0.1, 0.1, 0.05, 0.05])
    result = attention_vs_distance(weights, distances, mapping)
    assert result["spearman_rho"] < -0.9
    assert result["attention_mass_within_cutoff"] == pytest.approx(0.7)
    assert result["expected_mass_uniform"] == pytest.approx(2 / 6)


def test_annotations_outside_their_sequence_are_errors(tmp_path):
    seqs = {"P1": "M" * 50}
    (tmp_path / "a.tsv").write_text("protein_id\tstart\tend\tlabel\nP1\t5\t10\tdomain\nP1\t45\t51\tmotif\n")
    with pytest.raises(InputError, match="outside the sequence") as err:
        read_annotations(tmp_path / "a.tsv", seqs)
    assert err.value.line == 3 and err.value.protein_id == "P1"
    (tmp_path / "b.tsv").write_text("P1\t9\t5\tx\n")
    with pytest.raises(InputError, match="start > end"):
        read_annotations(tmp_path / "b.tsv", seqs)
    (tmp_path / "c.tsv").write_text("P2\t1\t5\tx\n")
    with pytest.raises(InputError, match="no sequence"):
        read_annotations(tmp_path / "c.tsv", seqs)


def test_enrichment_finds_attention_inside_regions_and_not_elsewhere():
    rng = np.random.default_rng(0)
    regions = [Region("P1", 20, 30, "d"), Region("P2", 5, 12, "d")]
    focused = {}
    for pid, (start, end), length in (("P1", (20, 30), 100), ("P2", (5, 12), 60)):
        w = rng.uniform(0.5, 1.0, length)
        w[start - 1 : end] *= 4
        focused[pid] = w / w.sum()
    rows, pooled = region_enrichment(focused, regions, permutations=999)
    assert all(r["p_value"] <= 0.01 for r in rows) and pooled["p_value"] <= 0.01
    uniform = {pid: np.full(len(w), 1 / len(w)) for pid, w in focused.items()}
    rows, pooled = region_enrichment(uniform, regions, permutations=999)
    assert all(r["difference"] == pytest.approx(0, abs=1e-12) for r in rows) and pooled["p_value"] > 0.5


def test_attention_cli_with_annotations_and_structure(tmp_path, complex_pdb):
    torch.manual_seed(0)
    config = ModelConfig(lstm_hidden=8, attention_hidden=8, head_widths=(8, 4))
    save_model(tmp_path / "m.safetensors", InteractionModel(config), ModelInfo(config, cutoff=0.5))
    (tmp_path / "s.fa").write_text(">P1\nGGMKVLAGGKKLLMMVV\n>P2\nMKVLAWG\n")
    (tmp_path / "a.tsv").write_text("P1\t3\t7\tinterface\n")
    out = tmp_path / "out"
    code = main(
        [
            "attention",
            "--model",
            str(tmp_path / "m.safetensors"),
            "--sequences",
            str(tmp_path / "s.fa"),
            "--tower",
            "virus",
            "--out-dir",
            str(out),
            "--annotations",
            str(tmp_path / "a.tsv"),
            "--permutations",
            "99",
            "--structure",
            str(complex_pdb),
            "--chain",
            "A",
            "--partner",
            "B",
            "--protein",
            "P1",
            "--quiet",
        ]
    )
    assert code == 0
    rows = (out / "attention.tsv").read_text().splitlines()
    assert rows[0] == "protein_id\tposition\tresidue\tattention" and len(rows) == 1 + 17 + 7
    assert sum(float(r.split("\t")[3]) for r in rows[1:18]) == pytest.approx(1, abs=1e-4)
    report = json.loads((out / "attention_report.json").read_text())
    assert report["structure"]["mapped_residues"] == 5 and report["enrichment_pooled"]["proteins"] == 1
    for png in ("profiles/P1.png", "profiles/P2.png", "structure_profile.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert len((out / "structure.tsv").read_text().splitlines()) == 6


def test_tsne_cli_writes_map_and_coordinates(tmp_path, small_pairs_file):
    from conftest import BENCHMARK

    torch.manual_seed(0)
    config = ModelConfig(lstm_hidden=8, attention_hidden=8, head_widths=(8, 4))
    save_model(tmp_path / "m.safetensors", InteractionModel(config), ModelInfo(config, cutoff=0.5))
    out = tmp_path / "tsne"
    assert (
        main(
            [
                "tsne",
                "--model",
                str(tmp_path / "m.safetensors"),
                "--pairs",
                str(small_pairs_file),
                "--sequences",
                str(BENCHMARK / "pro_seq.txt"),
                "--out-dir",
                str(out),
                "--max-pairs",
                "120",
                "--quiet",
            ]
        )
        == 0
    )
    rows = [l.split("\t") for l in (out / "tsne.tsv").read_text().splitlines()]
    assert rows[0] == ["human_id", "virus_id", "label", "score", "call", "x", "y"] and len(rows) == 121
    coords = np.array([[float(r[5]), float(r[6])] for r in rows[1:]])
    assert np.isfinite(coords).all() and coords.std(0).min() > 0
    assert (out / "tsne.png").read_bytes()[:4] == b"\x89PNG"


def test_bundled_model_attention_on_real_viral_proteins(tmp_path, benchmark_sequences):
    from hvppi.lstm.modelfile import load_model

    model, _ = load_model()
    ids = ["Q6VGT6", "Q69027", "Q6TVW2"]
    attention = protein_attention(model, "virus", {p: benchmark_sequences[p] for p in ids})
    for pid in ids:
        weights = attention[pid]
        assert len(weights) == len(benchmark_sequences[pid])
        assert weights.sum() == pytest.approx(1, abs=1e-5) and (weights > 0).all()
    alone = protein_attention(model, "virus", {ids[1]: benchmark_sequences[ids[1]]})
    np.testing.assert_allclose(alone[ids[1]], attention[ids[1]], atol=1e-7)

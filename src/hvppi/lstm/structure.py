"""Attention against a complex structure: does a tower attend to the residues at the interface?

For a protein chain and its partner chain in a PDB or mmCIF file (parsed with Biopython), each
residue's minimum heavy-atom distance to the partner is computed; structure residues are mapped to
the protein's sequence by a global alignment (BLOSUM62, gap open −10, extend −0.5, free end gaps),
and attention is compared with distance: Spearman's ρ (negative if attention favours the
interface), and the attention mass on residues within ``cutoff`` Å of the partner against its
expectation under uniform attention (the share of mapped residues that are that close).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hvppi.io.errors import InputError


def _parser(path: Path):
    from Bio.PDB import MMCIFParser, PDBParser

    return MMCIFParser(QUIET=True) if path.suffix.lower() in (".cif", ".mmcif") else PDBParser(QUIET=True)


def chain_distances(path: str | os.PathLike, chain_id: str, partner_id: str) -> tuple[str, np.ndarray]:
    """(sequence of the chain's amino-acid residues, min heavy-atom distance of each to the partner chain)."""
    from Bio.PDB.Polypeptide import is_aa
    from Bio.SeqUtils import seq1
    from scipy.spatial import cKDTree

    path = Path(path)
    if not path.exists():
        raise InputError("structure file not found", path)
    try:
        structure = _parser(path).get_structure("complex", str(path))
        model = next(iter(structure))
    except Exception as exc:  # Biopython raises several kinds on malformed files
        raise InputError(f"cannot parse the structure ({type(exc).__name__}: {exc})", path) from None
    chains = [c.id for c in model]
    for cid in (chain_id, partner_id):
        if cid not in chains:
            raise InputError(f"chain {cid!r} is not in the structure (chains: {', '.join(chains)})", path)
    if chain_id == partner_id:
        raise InputError("the chain and its partner must differ", path)

    def heavy(residue):
        return np.array([a.coord for a in residue if a.element != "H"], dtype=np.float64)

    residues = [r for r in model[chain_id] if is_aa(r, standard=False) and len(heavy(r))]
    partner_atoms = [heavy(r) for r in model[partner_id] if len(heavy(r))]
    if not residues or not partner_atoms:
        raise InputError(f"chain {chain_id!r} or {partner_id!r} has no atoms", path)
    tree = cKDTree(np.concatenate(partner_atoms))
    distances = np.array([tree.query(heavy(r))[0].min() for r in residues])
    sequence = "".join(seq1(r.get_resname(), custom_map={"MSE": "M"}) for r in residues)
    return sequence, distances


def map_structure_to_sequence(structure_sequence: str, sequence: str) -> np.ndarray:
    """For each structure residue, its 0-based position in ``sequence`` (−1 where unaligned or mismatched)."""
    from Bio import Align
    from Bio.Align import substitution_matrices

    aligner = Align.PairwiseAligner(
        mode="global",
        substitution_matrix=substitution_matrices.load("BLOSUM62"),
        open_gap_score=-10,
        extend_gap_score=-0.5,
    )
    aligner.end_gap_score = 0
    alignment = aligner.align(structure_sequence.replace("X", "A"), sequence)[0]
    mapping = np.full(len(structure_sequence), -1, dtype=np.int64)
    for (s0, s1), (q0, _q1) in zip(*alignment.aligned):
        for k in range(s1 - s0):
            if structure_sequence[s0 + k] == sequence[q0 + k]:
                mapping[s0 + k] = q0 + k
    return mapping


def attention_vs_distance(weights: np.ndarray, distances: np.ndarray, mapping: np.ndarray, cutoff: float = 8.0) -> dict:
    """Spearman ρ between attention and distance, and attention mass within ``cutoff`` Å vs expectation."""
    from scipy.stats import spearmanr

    mapped = mapping >= 0
    if mapped.sum() < 3:
        raise ValueError("fewer than 3 structure residues map onto the sequence")
    w = np.asarray(weights, dtype=np.float64)[mapping[mapped]]
    d = distances[mapped]
    near = d <= cutoff
    rho, p = spearmanr(w, d)
    mass = float(w[near].sum() / w.sum())
    expected = float(near.mean())
    return {
        "mapped_residues": int(mapped.sum()),
        "sequence_length": len(weights),
        "residues_within_cutoff": int(near.sum()),
        "cutoff_angstrom": cutoff,
        "spearman_rho": float(rho),
        "spearman_p": float(p),
        "attention_mass_within_cutoff": mass,
        "expected_mass_uniform": expected,
        "enrichment": mass / expected if expected > 0 else float("nan"),
    }


def write_structure_comparison(
    out_dir: str | os.PathLike,
    structure_path: str | os.PathLike,
    chain: str,
    partner: str,
    protein_id: str,
    sequence: str,
    weights: np.ndarray,
    cutoff: float = 8.0,
) -> dict:
    """Compare one protein's attention with its distances to the partner chain; write the evidence.

    Writes ``out_dir/structure.tsv`` (structure_index, position, residue, min_distance, attention of the
    mapped residues) and ``out_dir/structure_profile.png`` (the attention profile with the residues
    within ``cutoff`` Å of the partner marked). Returns :func:`attention_vs_distance`'s result with the
    file, chains and protein.
    """
    from hvppi.io.files import atomic_write
    from hvppi.lstm.attention import plot_profile

    out = Path(out_dir)
    chain_sequence, distances = chain_distances(structure_path, chain, partner)
    mapping = map_structure_to_sequence(chain_sequence, sequence)
    result = attention_vs_distance(weights, distances, mapping, cutoff)
    with atomic_write(out / "structure.tsv") as fh:
        fh.write("structure_index\tposition\tresidue\tmin_distance\tattention\n")
        for k, (pos, d) in enumerate(zip(mapping, distances)):
            if pos >= 0:
                fh.write(f"{k + 1}\t{pos + 1}\t{sequence[pos]}\t{d:.3f}\t{weights[pos]:.6g}\n")
    contacts = np.zeros(len(sequence), dtype=bool)
    contacts[mapping[(mapping >= 0) & (distances <= cutoff)]] = True
    plot_profile(
        out / "structure_profile.png", f"{protein_id}: chain {chain} vs {partner}", sequence, weights, None, contacts
    )
    return {"file": str(structure_path), "chain": chain, "partner": partner, "protein": protein_id, **result}

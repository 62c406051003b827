"""Sequence clustering by identity with the real CD-HIT binary."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CDHIT_INSTALL_HINT = "install it with 'apt-get install cd-hit' (Debian/Ubuntu) or 'conda install -c bioconda cd-hit'"


def _word_size(identity: float) -> int:
    """CD-HIT's recommended word size for a protein identity threshold."""
    if identity >= 0.7:
        return 5
    if identity >= 0.6:
        return 4
    if identity >= 0.5:
        return 3
    if identity >= 0.4:
        return 2
    raise ValueError("CD-HIT clusters proteins at identity 0.4 or above")


def cdhit_clusters(
    sequences: dict[str, str], identity: float = 0.9, threads: int = 1, executable: str = "cd-hit"
) -> dict[str, str]:
    """Cluster proteins with CD-HIT at ``identity``; returns each ID's cluster representative.

    Sequences CD-HIT skips (shorter than 11 residues) form clusters of their own.
    """
    binary = shutil.which(executable)
    if binary is None:
        raise RuntimeError(f"the '{executable}' program was not found on PATH; {CDHIT_INSTALL_HINT}")
    ids = list(sequences)
    with tempfile.TemporaryDirectory(prefix="hvppi-cdhit-") as tmp:
        fasta, out = Path(tmp) / "in.fasta", Path(tmp) / "out"
        fasta.write_text("".join(f">s{i}\n{sequences[pid]}\n" for i, pid in enumerate(ids)))
        cmd = [
            binary,
            "-i",
            str(fasta),
            "-o",
            str(out),
            "-c",
            str(identity),
            "-n",
            str(_word_size(identity)),
            "-d",
            "0",
            "-M",
            "0",
            "-T",
            str(threads),
        ]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"cd-hit failed (exit {run.returncode}): {run.stderr.strip() or run.stdout[-500:]}")
        members: list[list[int]] = []
        representative: list[int] = []
        for line in (Path(str(out) + ".clstr")).read_text().splitlines():
            if line.startswith(">Cluster"):
                members.append([])
                representative.append(-1)
                continue
            index = int(line.split(">s", 1)[1].split("...", 1)[0])
            members[-1].append(index)
            if line.rstrip().endswith("*"):
                representative[-1] = index
    result = {pid: pid for pid in ids}
    for group, rep in zip(members, representative):
        rep = group[0] if rep < 0 else rep
        for index in group:
            result[ids[index]] = ids[rep]
    return result

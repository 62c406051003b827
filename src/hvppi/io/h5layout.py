"""The per-protein H5 layout hvppi reads and writes.

One dataset per protein at the root of the file, named by the protein ID with ``%`` written
``%25`` and ``/`` written ``%2F`` (H5 names cannot hold '/'), carrying the ID and the SHA-256 of the
sequence as attributes. UniProt's per-protein and per-residue downloads use the same layout.

>>> dataset_key("sp/P0DTC2%1")
'sp%2FP0DTC2%251'
"""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
from numpy.typing import ArrayLike


def sequence_sha256(sequence: str) -> str:
    """SHA-256 of the sequence's ASCII letters, as stored beside each protein's array."""
    return hashlib.sha256(sequence.encode("ascii")).hexdigest()


def dataset_key(protein_id: str) -> str:
    """The H5 dataset name of a protein ID."""
    return protein_id.replace("%", "%25").replace("/", "%2F")


def write_protein_array(file: h5py.File, protein_id: str, array: ArrayLike, sequence: str, id_attribute: str) -> None:
    """(Re)write one protein's float32 dataset at the root, with its ID and sequence SHA-256 as attributes."""
    key = dataset_key(protein_id)
    if key in file:
        del file[key]
    dataset = file.create_dataset(key, data=np.asarray(array, dtype=np.float32))
    dataset.attrs[id_attribute] = str(protein_id)
    dataset.attrs["sequence_sha256"] = sequence_sha256(sequence)

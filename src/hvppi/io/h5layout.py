"""The per-protein H5 layout hvppi reads and writes.

One dataset per protein at the root of the file, named by the protein ID with ``%`` written
``%25`` and ``/`` written ``%2F`` (H5 names cannot hold '/'), carrying the ID and the SHA-256 of the
sequence as attributes. UniProt's per-protein and per-residue downloads use the same layout.
The IDs ``.`` and ``..`` (not valid H5 names) are written ``%2E`` and ``%2E%2E``, and an ID longer
than ``MAX_KEY_LENGTH`` characters is named ``%SHA256-<hex digest of the ID>``; the ID attribute
always holds the ID itself. No other ID gives such names, since ``%`` is always escaped.

>>> dataset_key("sp/P0DTC2%1"), dataset_key(".")
('sp%2FP0DTC2%251', '%2E')
"""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
from numpy.typing import ArrayLike


def sequence_sha256(sequence: str) -> str:
    """SHA-256 of the sequence's ASCII letters, as stored beside each protein's array."""
    return hashlib.sha256(sequence.encode("ascii")).hexdigest()


MAX_KEY_LENGTH = 200
"""IDs longer than this (in characters) are stored under a name made of their SHA-256."""


def dataset_key(protein_id: str) -> str:
    """The H5 dataset name of a protein ID."""
    if len(protein_id) > MAX_KEY_LENGTH:
        return "%SHA256-" + hashlib.sha256(protein_id.encode("utf-8", "surrogatepass")).hexdigest()
    if protein_id in (".", ".."):
        return protein_id.replace(".", "%2E")
    return protein_id.replace("%", "%25").replace("/", "%2F")


PER_DATASET_BYTES = 4096
"""HDF5's bytes per stored protein besides its array (object header, attributes, link): a generous bound, for
checking the free space before a write (:func:`hvppi.io.files.ensure_space`)."""


def write_protein_array(file: h5py.File, protein_id: str, array: ArrayLike, sequence: str, id_attribute: str) -> None:
    """(Re)write one protein's float32 dataset at the root, with its ID and sequence SHA-256 as attributes."""
    key = dataset_key(protein_id)
    if key in file:
        del file[key]
    dataset = file.create_dataset(key, data=np.asarray(array, dtype=np.float32))
    dataset.attrs[id_attribute] = str(protein_id)
    dataset.attrs["sequence_sha256"] = sequence_sha256(sequence)

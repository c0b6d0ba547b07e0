"""The real-space Hamiltonian of a large cell with sparse blocks.

A twisted MoSe2/WSe2 bilayer of 1,014 atoms has 11,500 orbitals: its dense
``[n_R, n, n]`` H0, S and SOC blocks would take 53 GB, although each orbital couples to
the orbitals of a few dozen atoms only. :class:`SparseHamiltonian` holds the same blocks
as :class:`~socscreen.hamiltonian.Hamiltonian` (same conventions: eV, fractional integer
R, ``X[R][μ, ν] = <φ_μ(r - τ_μ)| X |φ_ν(r - τ_ν - R)>``, time reversal by construction)
with each field one CSR matrix of its R blocks stacked row-wise, ``[n_R * n, n]``: row
``i_R * n + μ`` is row μ of block ``R[i_R]``. Its memory grows with the couplings, i.e.
linearly with the atoms of a cell wider than the orbitals' reach.

What large cells need from it: the Bloch sums at one k as sparse matrices
(:mod:`socscreen.sparse_bloch`), which the shift-invert band edges and the Fermi level by
inertia counts of :mod:`socscreen.analysis.band_edges` solve. :meth:`~SparseHamiltonian.
to_dense` and :meth:`~SparseHamiltonian.from_dense` convert exactly (the dense container
is what every small-cell route and the stores speak).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monty.json import MSONable
from pymatgen.core import Structure
from scipy import sparse

from socscreen.hamiltonian import (
    BLOCK_STORAGE_KEY,
    Hamiltonian,
    OrbitalBlocks,
    as_kpoints,
    decode_arrays,
    encode_arrays,
    layout_arrays,
    layout_fields,
    write_npz,
)
from socscreen.orbitals import OrbitalTable

__all__ = [
    "SPARSE_FIELDS",
    "SparseHamiltonian",
    "read_hamiltonian",
    "stacked_blocks",
    "stacked_rows",
]

#: The block fields of a container: real H0 (eV) and S, complex SOC up-up and up-down (eV).
SPARSE_FIELDS = ("h0", "overlap", "soc_uu", "soc_ud")

#: Array-name prefix of each field in a file (those of the dense corpus format).
FILE_NAMES = {"h0": "H0R", "overlap": "SR", "soc_uu": "Hsoc_uu", "soc_ud": "Hsoc_ud"}


def stacked_blocks(blocks: np.ndarray, drop_below: float = 0.0) -> sparse.csr_matrix:
    """Dense ``[n_R, n, n]`` blocks as one CSR ``[n_R * n, n]``, entries ``|x| <= drop_below`` out.

    The default keeps every nonzero, so :meth:`SparseHamiltonian.to_dense` gives the
    blocks back exactly.
    """
    n_r, n, _ = blocks.shape
    flat = blocks.reshape(n_r * n, n)
    return sparse.csr_matrix(np.where(np.abs(flat) > drop_below, flat, 0))


def stacked_rows(stack: sparse.csr_matrix) -> np.ndarray:
    """Row of each stored entry of a CSR stack ``[n_R * n, n]``: ``R`` index ``row // n``."""
    return np.repeat(np.arange(stack.shape[0]), np.diff(stack.indptr))


def _shared_fields(ham: Hamiltonian | SparseHamiltonian) -> dict[str, Any]:
    """Return the constructor arguments of a container other than its blocks."""
    names = ("structure", "orbitals", "R", "nelect", "efermi", "energy", "meta")
    return {name: getattr(ham, name) for name in names}


class SparseHamiltonian(OrbitalBlocks, MSONable):
    """Real-space SOC tight-binding Hamiltonian of a crystal, its blocks sparse.

    Parameters
    ----------
    structure, orbitals, R, nelect, efermi, energy, meta
        As for :class:`~socscreen.hamiltonian.Hamiltonian`.
    h0, overlap
        Real CSR ``[n_R * n, n]``: H0 (eV) and S blocks stacked in the order of ``R``.
    soc_uu, soc_ud
        Complex CSR ``[n_R * n, n]`` (eV), or ``None`` for a Hamiltonian without SOC.
    """

    def __init__(
        self,
        structure: Structure,
        orbitals: OrbitalTable,
        R: np.ndarray,
        h0: sparse.spmatrix,
        overlap: sparse.spmatrix,
        soc_uu: sparse.spmatrix | None = None,
        soc_ud: sparse.spmatrix | None = None,
        nelect: float = 0.0,
        efermi: float | None = None,
        energy: float | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if (soc_uu is None) != (soc_ud is None):
            raise ValueError("give both soc_uu and soc_ud, or neither")
        self.structure = structure
        self.orbitals = orbitals
        self.R = np.asarray(R, dtype=int).reshape(-1, 3)
        self.h0 = sparse.csr_matrix(h0, dtype=float)
        self.overlap = sparse.csr_matrix(overlap, dtype=float)
        self.soc_uu = None if soc_uu is None else sparse.csr_matrix(soc_uu, dtype=complex)
        self.soc_ud = None if soc_ud is None else sparse.csr_matrix(soc_ud, dtype=complex)
        self.nelect = float(nelect)
        self.efermi = None if efermi is None else float(efermi)
        self.energy = None if energy is None else float(energy)
        self.meta = dict(meta or {})
        self.storage = "exact"  # what as_dict writes: "exact" float64 or "compact" float32
        shape = (len(self.R) * self.n_orbitals, self.n_orbitals)
        for name in SPARSE_FIELDS:
            block = getattr(self, name)
            if block is not None and block.shape != shape:
                raise ValueError(f"{name} has shape {block.shape}, expected {shape}")
        if list(structure.atomic_numbers) != list(orbitals.numbers):
            raise ValueError("structure sites and orbital-table atoms differ")
        if not (~self.R.any(axis=1)).any():
            raise ValueError("R must contain the home cell (0, 0, 0)")

    def home_block(self, name: str) -> sparse.csr_matrix:
        """Return the R = 0 block of field ``name``, sparse ``[n, n]``."""
        n = self.n_orbitals
        return getattr(self, name)[self.home_index * n : (self.home_index + 1) * n]

    @property
    def nbytes(self) -> int:
        """Bytes of the stored blocks (values and indices)."""
        return sum(
            b.data.nbytes + b.indices.nbytes + b.indptr.nbytes
            for b in (getattr(self, name) for name in SPARSE_FIELDS)
            if b is not None
        )

    def bloch_sum(
        self, name: str, k: Sequence[float] | np.ndarray, conjugate: bool = False
    ) -> sparse.csr_matrix:
        """``Σ_R exp(2πi k·R) X(R)`` of field ``name`` at one fractional k, sparse ``[n, n]``.

        ``conjugate`` sums ``conj(X(R))`` (the down-spin blocks of time reversal).
        """
        stack = getattr(self, name)
        n = self.n_orbitals
        phase = np.exp(2j * np.pi * (self.R @ as_kpoints(k)[0]))
        rows = stacked_rows(stack)
        values = np.conj(stack.data) if conjugate else stack.data
        return sparse.csr_matrix(
            (values * phase[rows // n], (rows % n, stack.indices)), shape=(n, n)
        )

    @classmethod
    def from_dense(cls, ham: Hamiltonian, drop_below: float = 0.0) -> SparseHamiltonian:
        """Make the sparse copy of a dense container (entries ``|x| <= drop_below`` dropped)."""
        blocks = {name: getattr(ham, name) for name in SPARSE_FIELDS}
        return cls(
            **_shared_fields(ham),
            **{k: None if b is None else stacked_blocks(b, drop_below) for k, b in blocks.items()},
        )

    def to_dense(self) -> Hamiltonian:
        """Make the dense container of the same blocks (``n_R n²`` elements per field)."""
        shape = (len(self.R), self.n_orbitals, self.n_orbitals)
        blocks = {name: getattr(self, name) for name in SPARSE_FIELDS}
        return Hamiltonian(
            **_shared_fields(self),
            **{k: None if b is None else b.toarray().reshape(shape) for k, b in blocks.items()},
        )

    # -- files ----------------------------------------------------------------------------
    def file_arrays(self, double: bool = False) -> dict[str, np.ndarray]:
        """Return the arrays of a sparse corpus-format file (:meth:`to_npz`).

        The arrays of the corpus format other than the blocks (structure, basis layout,
        ``nelect``, ``efermi``, ``meta``), ``R``, and each field as its CSR stack's
        ``<name>_data``, ``<name>_indices`` and ``<name>_indptr`` (names of the corpus
        format: ``H0R``, ``SR``, ``Hsoc_uu``, ``Hsoc_ud``), marked with
        ``meta[BLOCK_STORAGE_KEY] = "csr"``. Values are float32/complex64 as in corpus
        files (``double``: float64/complex128, exact).
        """
        arrays = layout_arrays(self)
        meta = {**json.loads(str(arrays["meta"])), BLOCK_STORAGE_KEY: "csr"}
        arrays |= {"meta": np.array(json.dumps(meta)), "R": self.R.astype(np.int64)}
        for name, prefix in FILE_NAMES.items():
            stack = getattr(self, name)
            if stack is None:
                continue
            single = np.complex64 if np.iscomplexobj(stack.data) else np.float32
            data = stack.data if double else stack.data.astype(single)
            arrays |= {
                f"{prefix}_data": data,
                f"{prefix}_indices": stack.indices,
                f"{prefix}_indptr": stack.indptr,
            }
        return arrays

    @classmethod
    def from_file_arrays(
        cls, arrays: dict[str, np.ndarray], source: str = "the arrays"
    ) -> SparseHamiltonian:
        """Rebuild the container from :meth:`file_arrays`.

        Raises
        ------
        ValueError
            If the arrays hold dense blocks (``source`` names them in the message).
        """
        meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
        if meta.pop(BLOCK_STORAGE_KEY, None) != "csr":
            raise ValueError(f"{source} holds dense blocks: read it with Hamiltonian.from_npz")
        fields = layout_fields(arrays, meta)
        n = fields["orbitals"].n_orbitals
        shape = (len(arrays["R"]) * n, n)
        blocks = {
            name: sparse.csr_matrix(
                (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
                shape=shape,
            )
            if f"{prefix}_data" in arrays
            else None
            for name, prefix in FILE_NAMES.items()
        }
        return cls(R=arrays["R"], **blocks, **fields)

    def to_npz(self, path: str | os.PathLike, double: bool = False) -> Path:
        """Write the container as a sparse corpus-format ``.npz`` atomically.

        The arrays are :meth:`file_arrays` (``double``: exact float64 values).

        Returns
        -------
        pathlib.Path
            The written path.
        """
        return write_npz(path, self.file_arrays(double))

    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> SparseHamiltonian:
        """Read a file :meth:`to_npz` wrote.

        Raises
        ------
        ValueError
            If the file holds dense blocks (read it with ``Hamiltonian.from_npz``).
        """
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        return cls.from_file_arrays(arrays, source=str(path))

    # -- MSONable -------------------------------------------------------------------------
    def stored_compact(self) -> SparseHamiltonian:
        """Copy that :meth:`as_dict` stores at the corpus files' precision (float32).

        As :meth:`Hamiltonian.stored_compact <socscreen.hamiltonian.Hamiltonian.stored_compact>`
        for the data store of a campaign; the copy in memory keeps its exact blocks.
        """
        stored = copy.copy(self)  # shares the (unchanged) blocks
        stored.storage = "compact"
        return stored

    def as_dict(self) -> dict[str, Any]:
        """JSON/BSON-safe dict: :meth:`file_arrays` as base64 ``npz`` bytes.

        Values are exact (``storage == "exact"``) or float32/complex64 (``"compact"``).
        """
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            "storage": self.storage,
            "arrays": encode_arrays(self.file_arrays(double=self.storage == "exact")),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SparseHamiltonian:
        """Inverse of :meth:`as_dict`."""
        ham = cls.from_file_arrays(decode_arrays(d["arrays"]))
        ham.storage = d.get("storage", "exact")
        return ham

    def __repr__(self) -> str:
        return (
            f"SparseHamiltonian({self.structure.composition.reduced_formula}, "
            f"n={self.n_orbitals}, n_R={len(self.R)}, {self.nbytes / 1e6:.1f} MB, "
            f"soc={'yes' if self.has_soc else 'no'})"
        )


def read_hamiltonian(path: str | os.PathLike) -> Hamiltonian | SparseHamiltonian:
    """Read a corpus-format ``.npz``: the dense container, or the sparse one of a sparse file."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
    if meta.get(BLOCK_STORAGE_KEY) == "csr":
        return SparseHamiltonian.from_npz(path)
    return Hamiltonian.from_npz(path)

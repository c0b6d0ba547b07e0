"""The Hamiltonian container that model, analysis, makers and stores all speak.

A :class:`Hamiltonian` holds a crystal's tight-binding Hamiltonian in a non-orthogonal,
atom-centred real-orbital basis:

* ``h0[R]`` real spin-independent blocks (eV), ``overlap[R]`` (dimensionless);
* the spin-orbit part as two spin blocks ``soc_uu[R]``, ``soc_ud[R]`` (eV, complex); the
  other two follow from time reversal, ``H_dd = conj(H_uu)`` and ``H_du = -conj(H_ud)``,
  so every container is time-reversal symmetric by construction.

Conventions (identical to the corpus files, docs/model.md)
----------------------------------------------------------
* ``h0[iR][mu, nu] = <phi_mu(r - tau_mu) | H | phi_nu(r - tau_nu - R)>``, R fractional
  (integer) lattice vectors, rows of ``R``.
* Bloch sum ``H(k) = sum_R exp(+2 pi i k.R) H(R)`` with k fractional (reciprocal
  lattice units).
* Spinor index ``s * n + mu`` (spin-major), spin axis Cartesian z; the full Hamiltonian
  is ``kron(I2, H0(R)) + H_soc(R)`` and the spinor overlap ``kron(I2, S(R))``.
* Bands solve the generalised problem ``H(k) c = E S(k) c``.

The container imports neither torch nor jobflow. It is :class:`monty.json.MSONable`
with every array serialised as base64-encoded compressed ``npz`` bytes, so that jobflow
can keep it in an additional (GridFS) store: exactly (float64, every ``R``) by default,
or, for a copy made by :meth:`Hamiltonian.stored_compact`, in the compact format of the
size-capped training corpus (half ``R``, float32, zeroed tails: about 15 times smaller).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from monty.json import MSONable
from pymatgen.core import Lattice, Structure

from socscreen.eigensolver import generalized_eigh
from socscreen.orbitals import OrbitalTable

__all__ = [
    "BLOCK_STORAGE_KEY",
    "COMPACT_ZERO_THRESHOLDS",
    "CORPUS_ZERO_THRESHOLDS",
    "EIGH_CHUNK_BYTES",
    "R_STORAGE_KEY",
    "STORAGE_FORMATS",
    "Hamiltonian",
    "OrbitalBlocks",
    "as_kpoints",
    "bloch_sum",
    "decode_arrays",
    "encode_arrays",
    "layout_arrays",
    "layout_fields",
    "npz_path",
    "spin_diagonal",
    "spinor_bloch_sum",
    "write_npz",
]

#: Elements smaller than these are stored as exact zeros in corpus files (eV for H0 and
#: SOC, dimensionless for S), as in the shared GPAW files.
CORPUS_ZERO_THRESHOLDS = {"H0R": 1e-4, "SR": 1e-5, "Hsoc": 1e-5}

#: Thresholds of the project's size-capped training corpus (``data/corpus``): SOC
#: elements below 0.1 meV are zeroed too. The many tiny three-centre off-site SOC elements
#: are over half of a file's compressed size; zeroing them shrinks files by about 25 %
#: and moves bands within 2 eV of E_F by at most 0.5 meV (mean 0.08 meV, Bi2Se3 fixture),
#: far below the model's own band error.
COMPACT_ZERO_THRESHOLDS = {**CORPUS_ZERO_THRESHOLDS, "Hsoc": 1e-4}

#: Bytes of one complex ``[chunk, m, m]`` stack that :meth:`Hamiltonian.eigh` solves at once:
#: its work arrays take about eight such stacks (a 114-atom bilayer's Fermi-level grid has
#: four spinor k-points of 0.43 GB each, which were solved together).
EIGH_CHUNK_BYTES = 2.0**27

_ARRAY_FIELDS = ("R", "h0", "overlap", "soc_uu", "soc_ud")

#: ``meta`` key of corpus files that store one lattice vector of each ``±R`` pair
#: (value ``"half"``); readers rebuild ``-R`` from Hermiticity (:meth:`Hamiltonian.symmetrized`).
R_STORAGE_KEY = "R_stored"

#: ``meta`` key of files whose blocks are stored sparse (value ``"csr"``: a large cell's
#: :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`, ``socscreen predict --sparse``).
BLOCK_STORAGE_KEY = "block_storage"

#: How :meth:`Hamiltonian.as_dict` stores the blocks: ``"exact"`` (float64/complex128, every
#: ``R``) or ``"compact"`` (the size-capped training corpus's format, see
#: :meth:`Hamiltonian.stored_compact`).
STORAGE_FORMATS = ("exact", "compact")


def as_kpoints(k: Sequence[float] | np.ndarray) -> np.ndarray:
    """Fractional k-points as a float array of shape ``[n_k, 3]``.

    Raises
    ------
    ValueError
        If ``k`` is not one 3-vector or a list of them.
    """
    k = np.asarray(k, dtype=float)
    if k.ndim == 1:
        k = k[None, :]
    if k.ndim != 2 or k.shape[1] != 3:
        raise ValueError(f"k-points must have shape [n_k, 3] (fractional), got {k.shape}")
    return k


def encode_arrays(arrays: dict[str, np.ndarray]) -> str:
    """Arrays as the base64 text of one compressed ``.npz`` (JSON/BSON-safe)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_arrays(text: str) -> dict[str, np.ndarray]:
    """Inverse of :func:`encode_arrays`."""
    with np.load(io.BytesIO(base64.b64decode(text))) as data:
        return {k: data[k] for k in data.files}


def _is_half_R(R: np.ndarray) -> np.ndarray:
    """Mask of the home cell and of the ``R`` whose first nonzero component is positive."""
    nonzero = R != 0
    first = R[np.arange(len(R)), nonzero.argmax(axis=1)]
    return ~nonzero.any(axis=1) | (first > 0)


def _with_minus_R_blocks(data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Corpus arrays of a half-``R`` file completed with the ``-R`` partners.

    Hermiticity of the spinor Hamiltonian gives ``H0(-R) = H0(R)^T``,
    ``S(-R) = S(R)^T``, ``H_uu(-R) = H_uu(R)^dagger`` and ``H_ud(-R) = -H_ud(R)^T``.
    """
    R = np.asarray(data["R"])
    if not _is_half_R(R).all():
        raise ValueError("a half-R corpus file holds a lattice vector of the other half")
    partners = np.flatnonzero(R.any(axis=1))

    def transposed(name: str, sign: int = 1, conjugate: bool = False) -> np.ndarray:
        blocks = np.asarray(data[name])[partners].transpose(0, 2, 1)
        return sign * (blocks.conj() if conjugate else blocks)

    full = dict(data)
    full["R"] = np.concatenate([R, -R[partners]])
    full["H0R"] = np.concatenate([data["H0R"], transposed("H0R")])
    full["SR"] = np.concatenate([data["SR"], transposed("SR")])
    if "Hsoc_uu" in data:
        full["Hsoc_uu"] = np.concatenate([data["Hsoc_uu"], transposed("Hsoc_uu", conjugate=True)])
        full["Hsoc_ud"] = np.concatenate([data["Hsoc_ud"], transposed("Hsoc_ud", sign=-1)])
    return full


def layout_arrays(ham: OrbitalBlocks) -> dict[str, np.ndarray]:
    """Give the arrays of a corpus-format file other than its blocks and ``R``.

    Structure (``numbers``, ``cell``, ``spos``), basis layout (``l_M``, ``a_M``,
    ``nao_a``), ``efermi``, ``E`` and ``nelect`` (NaN for an unknown energy), and ``meta``
    as JSON with the basis name.
    """
    return {
        "numbers": np.asarray(ham.orbitals.numbers, dtype=np.int64),
        "cell": np.asarray(ham.structure.lattice.matrix, dtype=float),
        "spos": np.asarray(ham.structure.frac_coords, dtype=float),
        "l_M": ham.orbitals.l_of_orbital.astype(np.int64),
        "a_M": ham.orbitals.atom_of_orbital.astype(np.int64),
        "nao_a": ham.orbitals.orbitals_per_atom.astype(np.int64),
        "efermi": np.array(np.nan if ham.efermi is None else ham.efermi),
        "E": np.array(np.nan if ham.energy is None else ham.energy),
        "nelect": np.array(ham.nelect),
        "meta": np.array(json.dumps({"basis": ham.orbitals.basis_name, **ham.meta})),
    }


def layout_fields(data: Mapping[str, np.ndarray], meta: dict[str, Any]) -> dict[str, Any]:
    """Give the constructor arguments other than blocks and ``R`` from :func:`layout_arrays`."""
    numbers = np.asarray(data["numbers"], dtype=int)
    structure = Structure(
        Lattice(np.asarray(data["cell"], dtype=float)),
        numbers.tolist(),
        np.asarray(data["spos"], dtype=float),
        coords_are_cartesian=False,
    )
    orbitals = OrbitalTable.from_l_and_atom(
        numbers, data["l_M"], data["a_M"], basis_name=meta.get("basis", "szp(dzp)")
    )
    return {
        "structure": structure,
        "orbitals": orbitals,
        "nelect": float(data["nelect"]) if "nelect" in data else 0.0,
        "efermi": float(data["efermi"]) if "efermi" in data else None,
        "energy": float(data["E"]) if "E" in data else None,
        "meta": meta,
    }


def npz_path(path: str | os.PathLike) -> Path:
    """``path`` with the ``.npz`` suffix ``numpy.savez`` would give it."""
    path = Path(path)
    if path.suffix == ".npz":
        return path
    return path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` compressed to ``path`` (``.npz``) atomically: temporary file, rename.

    Returns
    -------
    pathlib.Path
        The written path (:func:`npz_path`).
    """
    path = npz_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class OrbitalBlocks:
    """What every container of a crystal's orbital blocks answers, dense or sparse.

    Needs ``orbitals`` (:class:`~socscreen.orbitals.OrbitalTable`), ``R`` ``[n_R, 3]``,
    ``soc_uu`` (``None`` without SOC) and ``meta``.
    """

    orbitals: OrbitalTable
    R: np.ndarray
    meta: dict[str, Any]

    @property
    def n_orbitals(self) -> int:
        """Number of spinless orbitals n."""
        return self.orbitals.n_orbitals

    @property
    def n_spinor(self) -> int:
        """Number of spinor basis functions 2n."""
        return 2 * self.n_orbitals

    @property
    def has_soc(self) -> bool:
        """Whether spin-orbit blocks are present (they may still be zero)."""
        return getattr(self, "soc_uu", None) is not None

    @property
    def home_index(self) -> int:
        """Index of R = (0, 0, 0)."""
        return int(np.flatnonzero(~self.R.any(axis=1))[0])

    @property
    def overlap_cutoff(self) -> float:
        """Smallest eigenvalue of ``S(k)`` whose direction is kept when solving for bands.

        Read from ``meta["overlap_cutoff"]`` (0 when absent: every direction is kept, the
        plain DFT problem). An LCAO basis with diffuse functions has directions of
        ``S(k)`` with eigenvalues of 1e-5 to 1e-3 (alkali halides, bcc metals): an
        approximate ``H`` (a model prediction) turns small errors along them into
        spurious bands hundreds of eV away, which then take occupied slots. Predictions
        therefore carry a cutoff (see :func:`socscreen.model.inference.predict`).
        """
        return float(self.meta.get("overlap_cutoff", 0.0))


class Hamiltonian(OrbitalBlocks, MSONable):
    """Real-space SOC tight-binding Hamiltonian of a crystal with its overlap.

    Parameters
    ----------
    structure
        The crystal; site order equals the atom order of ``orbitals``.
    orbitals
        Orbital table (shells per element, basis name).
    R
        Lattice vectors of the blocks, integer, shape ``[n_R, 3]``; must be closed under
        inversion (``-R`` present for every ``R``).
    h0
        Spin-independent Hamiltonian blocks, eV, real, shape ``[n_R, n, n]``.
    overlap
        Overlap blocks, real, shape ``[n_R, n, n]``.
    soc_uu, soc_ud
        Spin-orbit blocks (up-up, up-down), eV, complex, shape ``[n_R, n, n]``; ``None``
        for a Hamiltonian without spin-orbit coupling.
    nelect
        Number of valence electrons in the cell (per spinor band count: one electron per
        spinor band).
    efermi
        Fermi level, eV, on the same energy scale as ``h0`` (``None`` if unknown).
    energy
        Total energy of the underlying calculation, eV (``None`` if not known).
    meta
        Provenance: code, basis, grids, model version, timings (JSON-serialisable).
    """

    def __init__(
        self,
        structure: Structure,
        orbitals: OrbitalTable,
        R: np.ndarray,
        h0: np.ndarray,
        overlap: np.ndarray,
        soc_uu: np.ndarray | None = None,
        soc_ud: np.ndarray | None = None,
        nelect: float = 0.0,
        efermi: float | None = None,
        energy: float | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.structure = structure
        self.orbitals = orbitals
        self.R = np.asarray(R, dtype=int).reshape(-1, 3)
        self.h0 = np.asarray(h0, dtype=float)
        self.overlap = np.asarray(overlap, dtype=float)
        if (soc_uu is None) != (soc_ud is None):
            raise ValueError("give both soc_uu and soc_ud, or neither")
        self.soc_uu = None if soc_uu is None else np.asarray(soc_uu, dtype=complex)
        self.soc_ud = None if soc_ud is None else np.asarray(soc_ud, dtype=complex)
        self.nelect = float(nelect)
        self.efermi = None if efermi is None else float(efermi)
        self.energy = None if energy is None else float(energy)
        self.meta = dict(meta or {})
        #: Format :meth:`as_dict` writes, one of :data:`STORAGE_FORMATS`.
        self.storage = "exact"
        self._validate()

    # -- validation ---------------------------------------------------------------------
    def _validate(self) -> None:
        n = self.orbitals.n_orbitals
        n_r = len(self.R)
        if len(self.structure) != len(self.orbitals.numbers) or list(
            self.structure.atomic_numbers
        ) != list(self.orbitals.numbers):
            raise ValueError("structure sites and orbital-table atoms differ")
        for name in ("h0", "overlap", "soc_uu", "soc_ud"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n_r, n, n):
                raise ValueError(f"{name} has shape {arr.shape}, expected {(n_r, n, n)}")
        keys = {tuple(r) for r in self.R.tolist()}
        if len(keys) != n_r:
            raise ValueError("R contains duplicate lattice vectors")
        missing = [r for r in keys if tuple(-x for x in r) not in keys]
        if missing:
            raise ValueError(f"R is not closed under inversion, e.g. -{missing[0]} missing")
        if (0, 0, 0) not in keys:
            raise ValueError("R must contain the home cell (0, 0, 0)")

    # -- indices ------------------------------------------------------------------------
    @property
    def minus_R_index(self) -> np.ndarray:
        """Index of ``-R[i]`` in ``R`` for every i, shape ``[n_R]``."""
        lookup = {tuple(r): i for i, r in enumerate(self.R.tolist())}
        return np.array([lookup[tuple(-x for x in r)] for r in self.R.tolist()], dtype=int)

    # -- Bloch sums ---------------------------------------------------------------------
    def h0_k(self, k: Sequence[float] | np.ndarray) -> np.ndarray:
        """Spinless H0(k), eV, shape ``[n_k, n, n]`` (k fractional)."""
        return bloch_sum(self.h0, self.R, as_kpoints(k))

    def overlap_k(self, k: Sequence[float] | np.ndarray) -> np.ndarray:
        """Spinless S(k), shape ``[n_k, n, n]``."""
        return bloch_sum(self.overlap, self.R, as_kpoints(k))

    def hamiltonian_k(self, k: Sequence[float] | np.ndarray, soc: bool = True) -> np.ndarray:
        """Spinor H(k) = kron(I2, H0(k)) + H_soc(k), eV, shape ``[n_k, 2n, 2n]``.

        See :func:`spinor_bloch_sum`; ``soc=False`` (or no SOC blocks) gives kron(I2, H0(k)).
        """
        with_soc = soc and self.has_soc
        return spinor_bloch_sum(
            self.h0,
            self.R,
            as_kpoints(k),
            self.soc_uu if with_soc else None,
            self.soc_ud if with_soc else None,
        )

    def spinor_overlap_k(self, k: Sequence[float] | np.ndarray) -> np.ndarray:
        """Spinor overlap kron(I2, S(k)), shape ``[n_k, 2n, 2n]``."""
        return spin_diagonal(self.overlap_k(k))

    def eigh(
        self,
        k: Sequence[float] | np.ndarray,
        soc: bool = True,
        spinor: bool = True,
        vectors: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Generalised eigenvalues (and eigenvectors) at many k, vectorised over k.

        Solves ``H(k) c = E S(k) c`` through the Cholesky factor ``S = L L^H``, or, when
        the container has an :attr:`overlap_cutoff`, by canonical orthogonalisation
        (directions of ``S(k)`` below the cutoff are put at
        :data:`~socscreen.eigensolver.GHOST_ENERGY`). The
        k-points go in chunks of about :data:`EIGH_CHUNK_BYTES` per matrix stack, so the
        work arrays of a large cell do not grow with the number of k.

        Parameters
        ----------
        k
            Fractional k-points, shape ``[n_k, 3]`` or ``[3]``.
        soc
            Include the spin-orbit part (spinor problem only).
        spinor
            Solve the ``2n`` spinor problem (``True``) or the spinless ``n`` problem of
            ``H0`` alone (``False``; ``soc`` is then ignored).
        vectors
            Also return eigenvectors ``c`` (columns), S-orthonormal.

        Returns
        -------
        numpy.ndarray or tuple
            Eigenvalues in eV, ascending, shape ``[n_k, n_bands]``; with ``vectors``
            also the eigenvectors, shape ``[n_k, n_basis, n_bands]``.

        Raises
        ------
        numpy.linalg.LinAlgError
            If S(k) is not positive definite at some k (aliased R grid or bad overlap).
        """
        k = as_kpoints(k)
        m = self.n_spinor if spinor else self.n_orbitals
        chunk = max(1, int(EIGH_CHUNK_BYTES // (16 * m * m)))
        parts = []
        for start in range(0, len(k), chunk):
            part = k[start : start + chunk]
            h = self.hamiltonian_k(part, soc=soc) if spinor else self.h0_k(part)
            s = self.overlap_k(part).astype(complex)  # spinless: generalized_eigh doubles it
            parts.append(generalized_eigh(h, s, vectors, self.overlap_cutoff))
        if not vectors:
            return np.concatenate(parts)
        return np.concatenate([e for e, _ in parts]), np.concatenate([c for _, c in parts])

    # -- symmetry operations ------------------------------------------------------------
    def hermiticity_error(self) -> float:
        """Largest |H(R) - H(-R)^dagger| over H0, S and the SOC blocks (eV)."""
        m = self.minus_R_index
        err = max(
            np.abs(self.h0 - self.h0[m].transpose(0, 2, 1)).max(),
            np.abs(self.overlap - self.overlap[m].transpose(0, 2, 1)).max(),
        )
        if self.has_soc:
            err = max(
                err,
                np.abs(self.soc_uu - self.soc_uu[m].conj().transpose(0, 2, 1)).max(),
                np.abs(self.soc_ud + self.soc_ud[m].transpose(0, 2, 1)).max(),
            )
        return float(err)

    def symmetrized(self) -> Hamiltonian:
        """Project onto the Hermitian subspace (time reversal holds by construction).

        Hermiticity of the spinor H(R) means ``H0(-R) = H0(R)^T``, ``S(-R) = S(R)^T``,
        ``H_uu(-R) = H_uu(R)^dagger`` and, with ``H_du = -conj(H_ud)``,
        ``H_ud(-R) = -H_ud(R)^T``; each block is replaced by the average of itself and
        its partner.
        """
        m = self.minus_R_index
        h0 = 0.5 * (self.h0 + self.h0[m].transpose(0, 2, 1))
        s = 0.5 * (self.overlap + self.overlap[m].transpose(0, 2, 1))
        uu = ud = None
        if self.has_soc:
            uu = 0.5 * (self.soc_uu + self.soc_uu[m].conj().transpose(0, 2, 1))
            ud = 0.5 * (self.soc_ud - self.soc_ud[m].transpose(0, 2, 1))
        return self._replace(h0=h0, overlap=s, soc_uu=uu, soc_ud=ud)

    @classmethod
    def from_spinor_blocks(
        cls,
        structure: Structure,
        orbitals: OrbitalTable,
        R: np.ndarray,
        h_spinor: np.ndarray,
        overlap: np.ndarray,
        **kwargs: Any,
    ) -> Hamiltonian:
        """Split a full spinor H(R) into ``H0`` and SOC blocks, enforcing time reversal.

        ``H0`` is the real part of the spin trace ``(H_uu + H_dd) / 2``; the SOC blocks are
        the time-reversal-symmetric projection of the rest:
        ``uu = (H_uu + conj(H_dd)) / 2 - H0`` and ``ud = (H_ud - conj(H_du)) / 2``.

        Parameters
        ----------
        h_spinor
            Full spinor blocks, spin-major, eV, shape ``[n_R, 2n, 2n]``.
        """
        n = orbitals.n_orbitals
        h = np.asarray(h_spinor, dtype=complex)
        huu, hud, hdu, hdd = h[:, :n, :n], h[:, :n, n:], h[:, n:, :n], h[:, n:, n:]
        tr_uu = 0.5 * (huu + hdd.conj())
        h0 = tr_uu.real
        return cls(
            structure,
            orbitals,
            R,
            h0,
            overlap,
            soc_uu=tr_uu - h0,
            soc_ud=0.5 * (hud - hdu.conj()),
            **kwargs,
        )

    def with_soc_scaled(self, factor: float) -> Hamiltonian:
        """Copy with the spin-orbit part multiplied by ``factor`` (0 switches it off)."""
        if not self.has_soc:
            raise ValueError("this Hamiltonian has no spin-orbit part to scale")
        meta = {**self.meta, "soc_scale": float(factor) * self.meta.get("soc_scale", 1.0)}
        return self._replace(soc_uu=self.soc_uu * factor, soc_ud=self.soc_ud * factor, meta=meta)

    def _replace(self, **changes: Any) -> Hamiltonian:
        fields = {
            "structure": self.structure,
            "orbitals": self.orbitals,
            "R": self.R,
            "h0": self.h0,
            "overlap": self.overlap,
            "soc_uu": self.soc_uu,
            "soc_ud": self.soc_ud,
            "nelect": self.nelect,
            "efermi": self.efermi,
            "energy": self.energy,
            "meta": self.meta,
        }
        fields.update(changes)
        return type(self)(**fields)

    # -- corpus files -------------------------------------------------------------------
    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> Hamiltonian:
        """Read a corpus-format ``.npz`` file (:meth:`to_npz`; docs/model.md, corpus storage)."""
        with np.load(path, allow_pickle=False) as data:
            return cls.from_corpus_arrays({k: data[k] for k in data.files})

    @classmethod
    def from_corpus_arrays(cls, data: dict[str, np.ndarray]) -> Hamiltonian:
        """Build from the arrays of a corpus file (keys as :meth:`to_npz` writes them)."""
        meta = json.loads(str(data["meta"])) if "meta" in data else {}
        if meta.get(BLOCK_STORAGE_KEY) == "csr":
            raise ValueError(
                "the file holds the sparse blocks of a large cell (socscreen predict --sparse): "
                "read it with socscreen.sparse_hamiltonian.read_hamiltonian"
            )
        required = {"numbers", "cell", "spos", "R", "H0R", "SR", "l_M", "a_M"}
        missing = sorted(required - set(data))
        if missing:
            raise KeyError(f"corpus data lacks key(s) {missing}")
        if meta.pop(R_STORAGE_KEY, "full") == "half":
            data = _with_minus_R_blocks(data)
        has_soc = "Hsoc_uu" in data
        return cls(
            R=data["R"],
            h0=data["H0R"],
            overlap=data["SR"],
            soc_uu=data["Hsoc_uu"] if has_soc else None,
            soc_ud=data["Hsoc_ud"] if has_soc else None,
            **layout_fields(data, meta),
        )

    def to_corpus_arrays(
        self,
        double: bool = False,
        thresholds: Mapping[str, float] | None = None,
        half_R: bool = False,
    ) -> dict[str, np.ndarray]:
        """Arrays in the corpus format.

        Parameters
        ----------
        double
            Keep float64/complex128 and every element and lattice vector. The default
            writes the corpus convention: float32/complex64 with elements below
            ``thresholds`` set to zero, and lattice vectors whose blocks (and those of
            ``-R``) are then all zero left out (the home cell stays).
        thresholds
            Zero thresholds by array (``H0R``, ``SR``, ``Hsoc``); default
            :data:`CORPUS_ZERO_THRESHOLDS` (:data:`COMPACT_ZERO_THRESHOLDS` for the
            size-capped training corpus).
        half_R
            Store the home cell and one lattice vector of each ``±R`` pair (the one whose
            first nonzero component is positive), from the Hermitian part of the blocks,
            and mark the file with ``meta[R_STORAGE_KEY] = "half"``; :meth:`from_npz`
            rebuilds the rest exactly. Halves the size of the size-capped training corpus;
            readers other than this container see only half the lattice vectors.
        """

        def compact(arr: np.ndarray, threshold: float, dtype: type) -> np.ndarray:
            if double:
                return arr.copy()
            out = arr.astype(dtype)
            out[np.abs(arr) < threshold] = 0
            return out

        ham = self.symmetrized() if half_R else self
        soc_uu = ham.soc_uu if ham.has_soc else np.zeros_like(ham.h0, dtype=complex)
        soc_ud = ham.soc_ud if ham.has_soc else np.zeros_like(ham.h0, dtype=complex)
        t = CORPUS_ZERO_THRESHOLDS if thresholds is None else thresholds
        blocks = {
            "H0R": compact(ham.h0, t["H0R"], np.float32),
            "SR": compact(ham.overlap, t["SR"], np.float32),
            "Hsoc_uu": compact(soc_uu, t["Hsoc"], np.complex64),
            "Hsoc_ud": compact(soc_ud, t["Hsoc"], np.complex64),
        }
        keep = np.ones(len(self.R), dtype=bool)
        if not double:
            keep = np.any([b.any(axis=(1, 2)) for b in blocks.values()], axis=0)
            keep |= keep[self.minus_R_index]
            keep[self.home_index] = True
        arrays = layout_arrays(self)
        if half_R:
            keep &= _is_half_R(self.R)
            meta = {**json.loads(str(arrays["meta"])), R_STORAGE_KEY: "half"}
            arrays["meta"] = np.array(json.dumps(meta))
        return {
            **arrays,
            "R": self.R[keep].astype(np.int64),
            **{name: b[keep] for name, b in blocks.items()},
        }

    def to_npz(
        self,
        path: str | os.PathLike,
        double: bool = False,
        thresholds: Mapping[str, float] | None = None,
        half_R: bool = False,
    ) -> Path:
        """Write a corpus-format ``.npz`` atomically (temporary file, then rename).

        ``double``, ``thresholds`` and ``half_R`` as in :meth:`to_corpus_arrays`.

        Returns
        -------
        pathlib.Path
            The written path.
        """
        return write_npz(path, self.to_corpus_arrays(double, thresholds, half_R))

    def content_sha256(self, quantum: float = 1e-7) -> str:
        """Hex sha256 of the physical content, independent of how a file stores it.

        Covers the structure, the basis layout, ``nelect``, and the H0, S and SOC blocks
        in lexicographic order of ``R``, each number rounded to a multiple of ``quantum``
        (eV; far below the 1e-5 storage threshold of corpus files). Full storage, half-``R``
        storage (which keeps the Hermitian part, here equal to 1e-16) and re-compressed
        copies of a corpus file hash alike; their bytes do not (``npz`` members carry a
        time stamp).
        """
        digest = hashlib.sha256()
        order = np.lexsort(self.R.T[::-1])
        blocks = [self.h0, self.overlap]
        if self.has_soc:
            blocks += [self.soc_uu.real, self.soc_uu.imag, self.soc_ud.real, self.soc_ud.imag]
        for array in (
            np.asarray(self.orbitals.numbers, dtype=np.int64),
            self.orbitals.l_of_orbital.astype(np.int64),
            self.orbitals.atom_of_orbital.astype(np.int64),
            self.R[order].astype(np.int64),
            np.asarray(self.structure.lattice.matrix),
            np.asarray(self.structure.frac_coords),
            np.array(self.nelect),
            *(np.asarray(b)[order] for b in blocks),
        ):
            if array.dtype.kind == "f":
                array = np.round(array / quantum).astype(np.int64)
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    # -- MSONable -----------------------------------------------------------------------
    def stored_compact(self) -> Hamiltonian:
        """Copy that :meth:`as_dict` stores compactly (``storage == "compact"``).

        The blocks are written as :meth:`to_corpus_arrays` with ``half_R=True`` and
        :data:`COMPACT_ZERO_THRESHOLDS` (the size-capped training corpus): float32/complex64,
        H0 and SOC elements below 1e-4 eV zeroed, one ``R`` of each ``±R`` pair. S elements
        below 1e-5 are zeroed only when the container has an :attr:`overlap_cutoff` (every
        prediction: S(k) directions below it are dropped anyway); otherwise all are kept,
        as S(k) of a dense metal is within 1e-5 of singular (fcc Pt). A Bi2Se3 prediction
        takes 0.15 MB instead of 1.7 MB, its bands within 2 eV of E_F move by at most
        1 meV (fcc Pt from the baseline: 2 meV). :meth:`from_dict` rebuilds the Hermitian
        container; the copy in memory keeps its exact blocks.
        """
        copy = self._replace()
        copy.storage = "compact"
        return copy

    def as_dict(self) -> dict[str, Any]:
        """JSON/BSON-safe dict; arrays travel as base64 ``npz`` bytes.

        ``arrays`` holds the exact blocks (``storage == "exact"``); ``corpus`` the compact
        corpus-format arrays (``storage == "compact"``, see :meth:`stored_compact`).
        """
        if self.storage == "compact":
            overlap_zero = COMPACT_ZERO_THRESHOLDS["SR"] if self.overlap_cutoff > 0 else 0.0
            thresholds = {**COMPACT_ZERO_THRESHOLDS, "SR": overlap_zero}
            corpus = self.to_corpus_arrays(thresholds=thresholds, half_R=True)
            if not self.has_soc:
                del corpus["Hsoc_uu"], corpus["Hsoc_ud"]
            blocks = {"corpus": encode_arrays(corpus)}
        else:
            arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS}
            blocks = {"arrays": encode_arrays({k: v for k, v in arrays.items() if v is not None})}
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            "structure": self.structure.as_dict(),
            "orbitals": self.orbitals.as_dict(),
            **blocks,
            "nelect": self.nelect,
            "efermi": self.efermi,
            "energy": self.energy,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hamiltonian:
        """Inverse of :meth:`as_dict`, for either storage format."""
        if "corpus" in d:
            corpus = _with_minus_R_blocks(decode_arrays(d["corpus"]))
            arrays = {
                "R": corpus["R"],
                "h0": corpus["H0R"],
                "overlap": corpus["SR"],
                "soc_uu": corpus.get("Hsoc_uu"),
                "soc_ud": corpus.get("Hsoc_ud"),
            }
        else:
            arrays = decode_arrays(d["arrays"])
        ham = cls(
            Structure.from_dict(d["structure"]),
            OrbitalTable.from_dict(d["orbitals"]),
            arrays["R"],
            arrays["h0"],
            arrays["overlap"],
            soc_uu=arrays.get("soc_uu"),
            soc_ud=arrays.get("soc_ud"),
            nelect=d.get("nelect", 0.0),
            efermi=d.get("efermi"),
            energy=d.get("energy"),
            meta=d.get("meta") or {},
        )
        ham.storage = "compact" if "corpus" in d else "exact"
        return ham

    def __repr__(self) -> str:
        return (
            f"Hamiltonian({self.structure.composition.reduced_formula}, "
            f"{self.n_orbitals} orbitals ({self.orbitals.basis_name}), {len(self.R)} R, "
            f"soc={'yes' if self.has_soc else 'no'})"
        )


def _phases(R: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cos`` and ``sin`` of ``2 pi k.R``, each ``[n_k, n_R]`` (k and R fractional)."""
    phase = 2 * np.pi * (np.asarray(k, dtype=float) @ np.asarray(R, dtype=float).T)
    return np.cos(phase), np.sin(phase)


def _real_sums(
    cos: np.ndarray, sin: np.ndarray, blocks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``cos @ B`` and ``sin @ B`` of real blocks ``B`` ``[n_R, n, n]``, each ``[n_k, n, n]``."""
    n_r, n, m = blocks.shape
    flat = blocks.reshape(n_r, n * m)
    return (cos @ flat).reshape(-1, n, m), (sin @ flat).reshape(-1, n, m)


def _complex_sums(
    cos: np.ndarray, sin: np.ndarray, blocks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``sum_R e^{2 pi i k.R} B(R)`` and the same sum of ``conj(B(R))``, ``[n_k, n, n]`` each.

    Both from the four real products of ``Re B`` and ``Im B``: time reversal gives the
    down-spin blocks of the spinor Hamiltonian as sums of conjugated up-spin blocks.
    """
    c_re, s_re = _real_sums(cos, sin, blocks.real)
    c_im, s_im = _real_sums(cos, sin, blocks.imag)
    return (c_re - s_im) + 1j * (s_re + c_im), (c_re + s_im) + 1j * (s_re - c_im)


def spin_diagonal(blocks: np.ndarray) -> np.ndarray:
    """Spin-diagonal ``kron(I2, X)`` of spinless matrices ``X`` ``[n_k, n, n]``, spin-major.

    Returns complex ``[n_k, 2n, 2n]`` in the unit of ``X`` (eV for H0, none for S).
    """
    n_k, n, _ = blocks.shape
    out = np.zeros((n_k, 2 * n, 2 * n), dtype=complex)
    out[:, :n, :n] = out[:, n:, n:] = blocks
    return out


def bloch_sum(blocks: np.ndarray, R: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Bloch sum ``X(k) = sum_R exp(2 pi i k.R) X(R)`` of real blocks.

    Parameters
    ----------
    blocks
        Real ``X(R)``, shape ``[n_R, n, n]`` (H0 in eV, S dimensionless: the unit is kept).
    R
        Integer lattice vectors, ``[n_R, 3]``.
    k
        Fractional k-points, ``[n_k, 3]``.

    Returns
    -------
    numpy.ndarray
        Complex ``X(k)``, ``[n_k, n, n]``, from real cosine and sine products (half the
        work of a complex product).
    """
    re, im = _real_sums(*_phases(R, k), np.asarray(blocks, dtype=float))
    return re + 1j * im


def spinor_bloch_sum(
    h0: np.ndarray,
    R: np.ndarray,
    k: np.ndarray,
    soc_uu: np.ndarray | None = None,
    soc_ud: np.ndarray | None = None,
) -> np.ndarray:
    """Spinor Bloch Hamiltonian ``H(k) = kron(I2, H0(k)) + H_soc(k)``, spin-major.

    The one spinor Bloch sum of socscreen (the container's :meth:`Hamiltonian.hamiltonian_k`
    and :meth:`Hamiltonian.eigh`, the Löwdin systems of :mod:`socscreen.analysis.bloch`;
    :func:`socscreen.model.loss.spinor_bloch` is its differentiable torch twin). The
    down-spin blocks follow from time reversal: ``H_dd(R) = conj(H_uu(R))`` and
    ``H_du(R) = -conj(H_ud(R))``.

    Parameters
    ----------
    h0
        Real spin-independent blocks, eV, ``[n_R, n, n]``.
    R
        Integer lattice vectors, ``[n_R, 3]``.
    k
        Fractional k-points, ``[n_k, 3]``.
    soc_uu, soc_ud
        Complex spin-orbit blocks (up-up, up-down), eV, ``[n_R, n, n]``; ``None``: no SOC.

    Returns
    -------
    numpy.ndarray
        Complex ``H(k)``, eV, ``[n_k, 2n, 2n]``.
    """
    cos, sin = _phases(R, k)
    re, im = _real_sums(cos, sin, np.asarray(h0, dtype=float))
    out = spin_diagonal(re + 1j * im)
    n = re.shape[-1]
    if soc_uu is not None and soc_ud is not None:
        uu, dd = _complex_sums(cos, sin, np.asarray(soc_uu, dtype=complex))
        ud, minus_du = _complex_sums(cos, sin, np.asarray(soc_ud, dtype=complex))
        out[:, :n, :n] += uu
        out[:, n:, n:] += dd
        out[:, :n, n:] = ud
        out[:, n:, :n] = -minus_du
    return out

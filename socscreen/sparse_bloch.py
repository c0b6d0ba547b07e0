"""Sparse Bloch matrices of a large cell: spinor H(k) and S(k) as scipy.sparse matrices.

A cell of hundreds of atoms couples each orbital to the few dozen atoms within its
cutoff: a 114-atom MoSe2/WSe2 bilayer's H(R) blocks are 94 % exact zeros (atom pairs
whose orbitals do not overlap). The Bloch sums here keep only the union of the nonzero
entries over all R, so a k-point costs memory in proportion to the couplings, not to
``n²``, and the matrices feed sparse solvers (:mod:`socscreen.analysis.band_edges`).

Conventions are those of :func:`socscreen.hamiltonian.spinor_bloch_sum`:
``X(k) = Σ_R exp(2πi k·R) X(R)`` with k fractional, spin-major spinor index ``s n + μ``,
``H_dd(R) = conj(H_uu(R))`` and ``H_du(R) = -conj(H_ud(R))``; energies in eV, S
dimensionless. Dropping exact zeros only, the matrices equal the dense sums exactly.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from socscreen.hamiltonian import Hamiltonian
from socscreen.sparse_hamiltonian import SparseHamiltonian

__all__ = [
    "sparse_bloch_sum",
    "sparse_hamiltonian_k",
    "sparse_overlap_k",
    "sparse_soc_k",
    "sparse_spinor_hamiltonian_k",
]


def _pattern(*blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns where any of the ``[n_R, n, n]`` stacks is nonzero at some R."""
    mask = np.zeros(blocks[0].shape[1:], dtype=bool)
    for b in blocks:
        for block in b:  # one R at a time: no [n_R, n, n] temporary
            mask |= block != 0
    return np.nonzero(mask)


def sparse_bloch_sum(
    blocks: np.ndarray,
    R: np.ndarray,
    k: np.ndarray,
    pattern: tuple[np.ndarray, np.ndarray] | None = None,
    conjugate: bool = False,
) -> sparse.csr_matrix:
    """Bloch sum ``Σ_R exp(2πi k·R) X(R)`` at one k as a sparse ``[n, n]`` matrix.

    Parameters
    ----------
    blocks
        ``X(R)``, ``[n_R, n, n]`` (real or complex; the unit is kept).
    R
        Integer lattice vectors ``[n_R, 3]``.
    k
        One fractional k-point ``[3]``.
    pattern
        Rows and columns to keep (default: where some ``X(R)`` is nonzero).
    conjugate
        Sum ``conj(X(R))`` instead (the down-spin blocks of time reversal).
    """
    rows, cols = _pattern(blocks) if pattern is None else pattern
    phase = np.exp(2j * np.pi * (np.asarray(R, dtype=float) @ np.asarray(k, dtype=float)))
    values = blocks[:, rows, cols]  # [n_R, nnz]
    values = phase @ (np.conj(values) if conjugate else values)
    n = blocks.shape[1]
    return sparse.csr_matrix((values, (rows, cols)), shape=(n, n))


def _field_sums(
    ham: Hamiltonian | SparseHamiltonian, name: str, k: np.ndarray, both: bool = False
) -> list[sparse.csr_matrix]:
    """Bloch sum of one field at k, and with ``both`` also the sum of its conjugate."""
    if isinstance(ham, SparseHamiltonian):
        return [ham.bloch_sum(name, k, conjugate=c) for c in (False, True)[: 1 + both]]
    blocks = getattr(ham, name)
    pattern = _pattern(blocks)
    return [sparse_bloch_sum(blocks, ham.R, k, pattern, c) for c in (False, True)[: 1 + both]]


def sparse_overlap_k(ham: Hamiltonian | SparseHamiltonian, k: np.ndarray) -> sparse.csr_matrix:
    """Spinless S(k) at one fractional k, sparse complex ``[n, n]``."""
    return _field_sums(ham, "overlap", k)[0]


def sparse_hamiltonian_k(ham: Hamiltonian | SparseHamiltonian, k: np.ndarray) -> sparse.csr_matrix:
    """Spinless scalar-relativistic H0(k) at one fractional k, sparse complex ``[n, n]`` (eV)."""
    return _field_sums(ham, "h0", k)[0]


def sparse_soc_k(
    ham: Hamiltonian | SparseHamiltonian, k: np.ndarray
) -> tuple[sparse.csr_matrix, sparse.csr_matrix, sparse.csr_matrix, sparse.csr_matrix]:
    """Spin-orbit blocks ``(uu, ud, du, dd)`` of H(k) at one fractional k, sparse ``[n, n]`` (eV).

    The spinor H(k) is ``[[H0 + uu, ud], [du, H0 + dd]]``; ``dd`` and ``du`` follow from
    the stored ``uu`` and ``ud`` by time reversal (module docstring).
    """
    uu, dd = _field_sums(ham, "soc_uu", k, both=True)
    ud, minus_du = _field_sums(ham, "soc_ud", k, both=True)
    return uu, ud, -minus_du, dd


def sparse_spinor_hamiltonian_k(
    ham: Hamiltonian | SparseHamiltonian, k: np.ndarray, soc: bool = True
) -> sparse.csr_matrix:
    """Spinor ``H(k) = kron(I2, H0(k)) + H_soc(k)`` at one fractional k, sparse ``[2n, 2n]`` (eV).

    ``soc=False`` (or a container without SOC blocks) gives ``kron(I2, H0(k))``; the
    container may be dense or a :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`.
    """
    h0 = sparse_hamiltonian_k(ham, k)
    if not (soc and ham.has_soc):
        return sparse.block_diag([h0, h0], format="csr")
    uu, ud, du, dd = sparse_soc_k(ham, k)
    return sparse.bmat([[h0 + uu, ud], [du, h0 + dd]], format="csr")

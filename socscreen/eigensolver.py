"""The batched generalised Hermitian eigensolver behind every band of socscreen.

:func:`generalized_eigh` solves ``H(k) c = E S(k) c`` for stacks of matrices, through the
Cholesky factor of ``S`` or, for an overlap with near-null directions (an LCAO basis with
diffuse functions), by canonical orthogonalisation: the discarded directions are returned
at :data:`GHOST_ENERGY`, far above every band. :meth:`socscreen.hamiltonian.Hamiltonian.eigh`
feeds it the container's Bloch sums k-chunk by k-chunk; plain numpy, no torch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GHOST_ENERGY", "generalized_eigh"]

#: Energy (eV) at which the discarded near-null directions of S(k) are placed when a
#: container has an ``overlap_cutoff``: far above every band of an atomic-orbital basis,
#: so the band count stays ``n`` (``2n``) and no such direction is ever occupied.
GHOST_ENERGY = 1.0e3


def generalized_eigh(
    h: np.ndarray, s: np.ndarray, vectors: bool = False, overlap_cutoff: float = 0.0
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Batched generalised Hermitian eigenproblem ``h c = e s c``.

    With ``overlap_cutoff == 0`` the problem is solved through the Cholesky factor of
    ``s``. With a positive cutoff it is solved by canonical orthogonalisation: in the
    eigenbasis ``s v_i = w_i v_i`` the directions with ``w_i <= overlap_cutoff`` are
    removed from the problem and returned as eigenvalues :data:`GHOST_ENERGY` (their
    eigenvectors are the removed ``v_i``), so the number of eigenvalues stays ``m``.

    Parameters
    ----------
    h
        Hermitian matrices, shape ``[..., m, m]``.
    s
        Hermitian overlaps, ``[..., m, m]``, or the spinless ``[..., m/2, m/2]`` overlap
        of a spin-major spinor problem (``kron(I2, s)``, factorised at a quarter of the
        cost); positive definite (only on the kept directions when ``overlap_cutoff > 0``).
    vectors
        Also return the eigenvectors (columns), S-orthonormal on the kept directions.
    overlap_cutoff
        Smallest kept eigenvalue of ``s`` (dimensionless); 0 keeps every direction.

    Returns
    -------
    numpy.ndarray or tuple
        Ascending eigenvalues ``[..., m]`` (and eigenvectors ``[..., m, m]``).
    """
    m = h.shape[-1]
    if s.shape[-1] != m and 2 * s.shape[-1] != m:
        raise ValueError(f"overlap of shape {s.shape} does not fit Hamiltonians of size {m}")
    if overlap_cutoff > 0:
        w, v = np.linalg.eigh(s)
        keep = w > overlap_cutoff
        basis = v * np.where(keep, w, 1.0)[..., None, :] ** -0.5
    else:
        chol = np.linalg.cholesky(s)  # s = L L^H
        eye = np.broadcast_to(np.eye(s.shape[-1]), s.shape)
        basis = np.conj(np.swapaxes(np.linalg.solve(chol, eye), -1, -2))  # L^-H
        keep = None
    if s.shape[-1] != m:  # spinor problem: the same basis in both spin blocks
        zero = np.zeros_like(basis)
        basis = np.concatenate(
            [np.concatenate([basis, zero], -1), np.concatenate([zero, basis], -1)], -2
        )
        keep = None if keep is None else np.concatenate([keep, keep], -1)
    h_orth = np.conj(np.swapaxes(basis, -1, -2)) @ h @ basis
    if keep is not None:
        h_orth = np.where(keep[..., :, None] & keep[..., None, :], h_orth, 0.0)
        h_orth = h_orth + np.where(keep, 0.0, GHOST_ENERGY)[..., None] * np.eye(m)
    h_orth = 0.5 * (h_orth + np.conj(np.swapaxes(h_orth, -1, -2)))
    if not vectors:
        return np.linalg.eigvalsh(h_orth)
    e, u = np.linalg.eigh(h_orth)
    return e, basis @ u

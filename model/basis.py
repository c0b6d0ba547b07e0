"""Angular conventions of the orbital basis: L matrices, L·σ, Wigner-D matrices.

Conventions (stated once, used everywhere in :mod:`socscreen.model`)
-------------------------------------------------------------------
* Orbitals are GPAW real spherical harmonics (polar axis Cartesian z) in GPAW's m order,
  ``m = -l..l``: l=1 ``(y, z, x)``, l=2 ``(xy, yz, 3z²−r², xz, x²−y²)``, l=3
  ``(3x²y−y³, xyz, 4yz²−y³−x²y, 2z³−3x²z−3y²z, 4xz²−x³−xy², x²z−y²z, x³−3xy²)``, all
  with positive prefactors and unit norm on the sphere.
* e3nn 0.6 evaluated on the permuted vector ``P v = (v_y, v_z, v_x)`` with
  ``normalization="integral"`` returns exactly GPAW's real harmonics for every l
  (the change of basis is the identity, proven in ``tests/model/test_basis.py`` for
  l = 0..4, signs included). The network therefore works on permuted Cartesian vectors
  (:data:`E3NN_FROM_CARTESIAN`) and its irreps are GPAW's orbitals with no further
  rotation of components.
* A rotation ``Q`` (3×3, acting on Cartesian column vectors of the data frame) acts on
  the orbitals of one shell through ``Y(Q v) = D(Q) Y(v)``; Hamiltonian blocks transform
  as ``H_ij -> D_i H_ij D_jᵀ``. For proper rotations ``D(Q) = exp(-i θ n·L)`` with ``L``
  from :func:`angular_momentum` (ħ = 1), and spinors transform with
  ``U(Q) = exp(-i θ n·σ/2)`` (spin axis Cartesian z, basis (up, down)).
* ``L = i A'`` with ``A'`` real antisymmetric (:func:`antisymmetric_l`); a spin-orbit
  operator ``i Σ_α A_α ⊗ σ_α`` with ``A_α = ξ A'_α`` is ``ξ L·σ``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.linalg import expm
from scipy.spatial.transform import Rotation

if TYPE_CHECKING:
    from socscreen.orbitals import OrbitalTable

__all__ = [
    "E3NN_FROM_CARTESIAN",
    "PAULI",
    "angular_momentum",
    "antisymmetric_l",
    "orbital_rotation",
    "spin_rotation",
    "to_e3nn_frame",
    "wigner_d",
]

#: Permutation taking data-frame Cartesian vectors to e3nn's frame, ``v_e3nn = P @ v``.
E3NN_FROM_CARTESIAN = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])

#: Pauli matrices (σ_x, σ_y, σ_z), basis (up, down) along Cartesian z, shape [3, 2, 2].
PAULI = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)


def to_e3nn_frame(vectors: torch.Tensor) -> torch.Tensor:
    """Permute Cartesian ``(x, y, z)`` to e3nn's ``(y, z, x)``, shape ``[..., 3]``."""
    return vectors[..., [1, 2, 0]]


def _complex_to_real(l: int) -> np.ndarray:
    """Rows: GPAW real harmonics as combinations of complex Condon–Shortley Y_lm.

    ``S_m = Σ_m' U[m, m'] Y_m'`` with, for m > 0, ``S_m = ((-1)^m Y_m + Y_-m)/√2``,
    for m < 0 ``S_m = i (Y_m - (-1)^m Y_|m|)/√2`` and ``S_0 = Y_0`` (GPAW's sympy
    definition in ``gpaw.sphere.spherical_harmonics``); index ``m + l``.
    """
    n = 2 * l + 1
    u = np.zeros((n, n), dtype=complex)
    u[l, l] = 1.0
    for m in range(1, l + 1):
        u[l + m, l + m] = (-1) ** m / np.sqrt(2)
        u[l + m, l - m] = 1 / np.sqrt(2)
        u[l - m, l - m] = 1j / np.sqrt(2)
        u[l - m, l + m] = -1j * (-1) ** m / np.sqrt(2)
    return u


@cache
def _angular_momentum_cached(l: int) -> np.ndarray:
    ms = np.arange(-l, l + 1)
    n = 2 * l + 1
    l_plus = np.zeros((n, n), dtype=complex)
    for i, m in enumerate(ms[:-1]):
        l_plus[i + 1, i] = np.sqrt(l * (l + 1) - m * (m + 1))
    l_minus = l_plus.conj().T
    complex_basis = [
        (l_plus + l_minus) / 2,
        (l_plus - l_minus) / 2j,
        np.diag(ms).astype(complex),
    ]
    u = _complex_to_real(l)
    out = np.stack([u.conj() @ lc @ u.T for lc in complex_basis])
    out.real = 0.0  # exactly imaginary in a real basis; drop round-off
    out.setflags(write=False)
    return out


def angular_momentum(l: int) -> np.ndarray:
    """Matrices ``<Y_a|L_α|Y_b>`` (ħ = 1) in the GPAW real-harmonic basis.

    Parameters
    ----------
    l
        Angular momentum, ``l >= 0``.

    Returns
    -------
    numpy.ndarray
        ``(L_x, L_y, L_z)``, complex (purely imaginary, Hermitian), shape
        ``[3, 2l+1, 2l+1]``, Cartesian axes of the data frame.
    """
    if l < 0:
        raise ValueError(f"angular momentum must be >= 0, got {l}")
    return _angular_momentum_cached(l).copy()


def antisymmetric_l(l: int) -> np.ndarray:
    """Real antisymmetric ``A'_α`` with ``L_α = i A'_α``, shape ``[3, 2l+1, 2l+1]``."""
    return (angular_momentum(l) / 1j).real


def _rotation_vector(rotation: np.ndarray) -> tuple[np.ndarray, float]:
    """Axis-angle vector ``θ n`` of the proper part and the determinant of ``rotation``."""
    q = np.asarray(rotation, dtype=float)
    if q.shape != (3, 3) or not np.allclose(q @ q.T, np.eye(3), atol=1e-8):
        raise ValueError("rotation must be an orthogonal 3x3 matrix")
    det = float(np.sign(np.linalg.det(q)))
    return Rotation.from_matrix(q * det).as_rotvec(), det


def wigner_d(l: int, rotation: np.ndarray) -> np.ndarray:
    """Real Wigner-D matrix of one shell in the GPAW basis, ``Y(Q v) = D(Q) Y(v)``.

    ``D = exp(-i θ n·L) = exp(θ n·A')`` for the proper part, times ``(-1)^l`` for an
    improper rotation.

    Parameters
    ----------
    l
        Angular momentum of the shell.
    rotation
        Orthogonal 3×3 matrix ``Q`` acting on data-frame Cartesian column vectors.

    Returns
    -------
    numpy.ndarray
        Shape ``[2l+1, 2l+1]``, float64.
    """
    rotvec, det = _rotation_vector(rotation)
    generator = np.einsum("a,aij->ij", rotvec, antisymmetric_l(l))
    return expm(generator) * det**l


def spin_rotation(rotation: np.ndarray) -> np.ndarray:
    """SU(2) matrix ``U = exp(-i θ n·σ/2)`` of a rotation (spin is a pseudovector).

    Parameters
    ----------
    rotation
        Orthogonal 3×3 matrix; an improper one acts on spin as its proper part
        ``det(Q) Q``.

    Returns
    -------
    numpy.ndarray
        Complex 2×2 matrix, basis (up, down) along Cartesian z; defined up to the sign
        of SU(2), which cancels in ``U H U†``.
    """
    rotvec, _ = _rotation_vector(rotation)
    return expm(-0.5j * np.einsum("a,aij->ij", rotvec, PAULI))


def orbital_rotation(orbitals: OrbitalTable, rotation: np.ndarray) -> np.ndarray:
    """Block-diagonal Wigner-D of every orbital of a structure, shape ``[n, n]``.

    Rotating a structure by ``Q`` maps its blocks to ``D H(R) Dᵀ`` with this ``D``
    (atoms in the same order).
    """
    out = np.zeros((orbitals.n_orbitals, orbitals.n_orbitals))
    start = 0
    for atom in range(len(orbitals.numbers)):
        for ell in orbitals.shells_of_atom(atom):
            width = 2 * ell + 1
            out[start : start + width, start : start + width] = wigner_d(ell, rotation)
            start += width
    return out

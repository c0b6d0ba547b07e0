"""Angular conventions: GPAW real harmonics, L matrices, Wigner-D and SU(2) matrices.

Only the tests that compare with GPAW's own functions need GPAW (the ``gpaw_sh`` fixture
skips them without it); the algebra, the e3nn route and the checks on the stored fixtures
run everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from e3nn import o3
from scipy.linalg import expm

from socscreen.model.basis import (
    E3NN_FROM_CARTESIAN,
    PAULI,
    angular_momentum,
    antisymmetric_l,
    orbital_rotation,
    spin_rotation,
    wigner_d,
)


@pytest.fixture(scope="module")
def gpaw_sh():
    """GPAW's real spherical harmonics (skips the test without GPAW)."""
    return pytest.importorskip("gpaw.sphere.spherical_harmonics")


def l_dot_sigma(l: int) -> np.ndarray:
    """Spinor matrix ``L·σ = Σ_α σ_α ⊗ L_α`` in spin-major order, shape ``[2n, 2n]``."""
    ell = angular_momentum(l)
    return sum(np.kron(PAULI[a], ell[a]) for a in range(3))


RNG = np.random.default_rng(7)


def _unit_vectors(n: int = 64) -> np.ndarray:
    v = RNG.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _gpaw_y(gpaw_sh, l: int, v: np.ndarray) -> np.ndarray:
    """GPAW's own real harmonics, shape [n_points, 2l+1]."""
    return gpaw_sh.Yarr(np.arange(l * l, (l + 1) ** 2), v).T


def _random_rotation(improper: bool = False) -> np.ndarray:
    q, _ = np.linalg.qr(RNG.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    return -q if improper else q


@pytest.mark.parametrize("l", range(5))
def test_e3nn_on_permuted_vectors_is_gpaw_harmonics(gpaw_sh, l):
    v = _unit_vectors()
    e3nn_y = o3.spherical_harmonics(
        l, torch.as_tensor(v @ E3NN_FROM_CARTESIAN.T), normalize=True, normalization="integral"
    ).numpy()
    np.testing.assert_allclose(e3nn_y, _gpaw_y(gpaw_sh, l, v), atol=1e-12)


@pytest.mark.parametrize("l", range(4))
def test_l_matrices_act_as_minus_i_r_cross_nabla_on_gpaw_harmonics(gpaw_sh, l):
    # L_α (r^l Y_b) = -i (r × ∇)_α (r^l Y_b) = Σ_a (r^l Y_a) L_ab on solid harmonics.
    v = _unit_vectors() * 1.3
    solid = np.array([[gpaw_sh.Y(l * l + m, *p) for m in range(2 * l + 1)] for p in v])
    grad = np.array(
        [[gpaw_sh.nablarlYL(l * l + m, p) for m in range(2 * l + 1)] for p in v]
    )  # [n_points, 2l+1, 3]
    r_cross_grad = np.cross(v[:, None, :], grad)  # [n_points, 2l+1, 3]
    ell = angular_momentum(l)
    for a in range(3):
        np.testing.assert_allclose(-1j * r_cross_grad[..., a], solid @ ell[a], atol=1e-10)


@pytest.mark.parametrize("l", range(4))
def test_l_matrices_match_gpaw_spinorbit(l):
    get_L_vlmm = pytest.importorskip("gpaw.spinorbit").get_L_vlmm

    reference = get_L_vlmm()
    for a in range(3):
        np.testing.assert_allclose(angular_momentum(l)[a], reference[a][l], atol=1e-12)


@pytest.mark.parametrize("l", range(4))
def test_commutators_and_casimir(l):
    lx, ly, lz = angular_momentum(l)
    np.testing.assert_allclose(lx @ ly - ly @ lx, 1j * lz, atol=1e-12)
    np.testing.assert_allclose(ly @ lz - lz @ ly, 1j * lx, atol=1e-12)
    np.testing.assert_allclose(lz @ lx - lx @ lz, 1j * ly, atol=1e-12)
    np.testing.assert_allclose(
        lx @ lx + ly @ ly + lz @ lz, l * (l + 1) * np.eye(2 * l + 1), atol=1e-12
    )
    a = antisymmetric_l(l)
    np.testing.assert_allclose(a, -a.transpose(0, 2, 1))
    np.testing.assert_allclose(1j * a, angular_momentum(l))


def test_l_dot_sigma_spectrum_p_shell():
    eig = np.linalg.eigvalsh(l_dot_sigma(1))
    np.testing.assert_allclose(eig, [-2, -2, 1, 1, 1, 1], atol=1e-12)


@pytest.mark.parametrize("l", range(2, 4))
def test_l_dot_sigma_spectrum(l):
    eig = np.linalg.eigvalsh(l_dot_sigma(l))
    expected = np.array([-(l + 1)] * (2 * l) + [l] * (2 * l + 2), dtype=float)
    np.testing.assert_allclose(eig, expected, atol=1e-12)


@pytest.mark.parametrize("improper", [False, True], ids=["proper", "improper"])
@pytest.mark.parametrize("l", range(4))
def test_wigner_d_rotates_gpaw_harmonics(gpaw_sh, l, improper):
    q = _random_rotation(improper)
    v = _unit_vectors()
    d = wigner_d(l, q)
    # Y(Q v) = D(Q) Y(v) for every point (rows of v).
    np.testing.assert_allclose(
        _gpaw_y(gpaw_sh, l, v @ q.T), _gpaw_y(gpaw_sh, l, v) @ d.T, atol=1e-10
    )
    np.testing.assert_allclose(d @ d.T, np.eye(2 * l + 1), atol=1e-12)


@pytest.mark.parametrize("l", range(4))
def test_wigner_d_matches_e3nn_in_permuted_frame(l):
    # Independent route: e3nn's D of the rotation seen in e3nn's frame (P Q Pᵀ); e3nn goes
    # through Euler angles in float32 internally, hence the looser tolerance.
    q = _random_rotation()
    p = E3NN_FROM_CARTESIAN
    d_e3nn = o3.Irrep(l, (-1) ** l).D_from_matrix(torch.as_tensor(p @ q @ p.T)).numpy()
    np.testing.assert_allclose(wigner_d(l, q), d_e3nn, atol=2e-6)
    # and the exponential of a rotation about a known axis
    axis = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    angle = 1.234
    q_axis = expm(angle * np.cross(axis, np.eye(3)).T)  # Q v = v rotated about axis
    np.testing.assert_allclose(q_axis @ np.array([1.0, 0, 0]) @ axis, axis[0], atol=1e-12)
    d = expm(-1j * angle * np.einsum("a,aij->ij", axis, angular_momentum(l)))
    np.testing.assert_allclose(wigner_d(l, q_axis), d.real, atol=1e-12)


@pytest.mark.parametrize("improper", [False, True], ids=["proper", "improper"])
def test_spin_rotation_rotates_pauli_vector_and_keeps_l_dot_sigma(improper):
    q = _random_rotation(improper)
    u = spin_rotation(q)
    np.testing.assert_allclose(u @ u.conj().T, np.eye(2), atol=1e-12)
    proper = q * np.linalg.det(q)
    for a in range(3):
        rotated = np.einsum("b,bij->ij", proper[:, a], PAULI)
        np.testing.assert_allclose(u @ PAULI[a] @ u.conj().T, rotated, atol=1e-12)
    for l in range(1, 4):
        total = np.kron(u, wigner_d(l, q))
        np.testing.assert_allclose(
            total @ l_dot_sigma(l) @ total.conj().T, l_dot_sigma(l), atol=1e-10
        )


def test_orbital_rotation_is_block_diagonal_over_shells(bi2se3):
    q = _random_rotation()
    d = orbital_rotation(bi2se3.orbitals, q)
    np.testing.assert_allclose(d @ d.T, np.eye(bi2se3.n_orbitals), atol=1e-12)
    # Bi (atom 1) shells s, p, d, d start at orbital 9: its p shell is orbitals 10..12.
    np.testing.assert_allclose(d[10:13, 10:13], wigner_d(1, q), atol=1e-14)


def test_gpaw_soc_data_is_xi_times_l_in_this_convention(bi2se3):
    """Bi p on-site SOC in the DFT fixture is ξ L·σ, ξ > 0 (H_uu = i A_z, H_ud = i A_x + A_y)."""
    h = bi2se3
    home = h.home_index
    p = slice(10, 13)  # Bi atom 1, p shell
    a_z = (h.soc_uu[home][p, p] / 1j).real
    a_x = (h.soc_ud[home][p, p] / 1j).real
    a_y = h.soc_ud[home][p, p].real
    blocks = np.stack([a_x, a_y, a_z])
    ref = antisymmetric_l(1)
    xi = np.sum(blocks * ref) / np.sum(ref * ref)
    assert 0.5 < xi < 1.2  # eV, Bi 6p
    assert np.abs(blocks - xi * ref).max() < 1e-3 * xi

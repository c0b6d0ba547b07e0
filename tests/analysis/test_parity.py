"""Inversion on the orbital basis and Fu-Kane parity indices."""

from __future__ import annotations

import numpy as np
import pytest

from socscreen.analysis.bloch import LowdinBloch, trim_points
from socscreen.analysis.models import four_band_ti, fu_kane_mele, kane_mele
from socscreen.analysis.parity import (
    find_inversion,
    hamiltonian_inversion,
    inversion_error,
    parity_matrix,
    parity_z2,
)

RNG = np.random.default_rng(11)


def _inversion(ham):
    s = ham.structure
    return find_inversion(s.frac_coords, s.lattice.matrix, np.array(s.atomic_numbers))


def test_bi2se3_inversion_maps_se_and_bi_pairs(bi2se3):
    inv = _inversion(bi2se3)
    assert inv is not None
    # Se1 at the centre maps onto itself, the Bi and Se2 pairs onto each other
    assert inv.atom_map.tolist() == [0, 2, 1, 4, 3]
    frac = bi2se3.structure.frac_coords
    np.testing.assert_allclose(2 * inv.centre - frac, frac[inv.atom_map] + inv.shifts, atol=1e-6)


def test_parity_operator_is_a_symmetry_of_the_dft_hamiltonian(bi2se3):
    source = LowdinBloch(bi2se3.symmetrized())
    inv = _inversion(bi2se3)
    orb = bi2se3.orbitals
    for k in [RNG.random(3), trim_points(source.periodic)[5]]:
        p = parity_matrix(inv, orb.atom_of_orbital, orb.l_of_orbital, orb.atom_offsets, k)
        np.testing.assert_allclose(p @ np.conj(p.T), np.eye(len(p)), atol=1e-12)
        p_minus = parity_matrix(inv, orb.atom_of_orbital, orb.l_of_orbital, orb.atom_offsets, -k)
        np.testing.assert_allclose(p_minus @ p, np.eye(len(p)), atol=1e-12)  # P^2 = 1
    assert inversion_error(source, inv, RNG.random((3, 3))) < 1e-9


def test_parity_operator_also_commutes_with_the_overlap(bi2se3):
    inv = _inversion(bi2se3)
    orb = bi2se3.orbitals
    k = RNG.random(3)
    p = parity_matrix(inv, orb.atom_of_orbital, orb.l_of_orbital, orb.atom_offsets, k, spinor=False)
    s_plus, s_minus = bi2se3.overlap_k(np.stack([k, -k]))
    np.testing.assert_allclose(p @ s_plus @ np.conj(p.T), s_minus, atol=1e-9)


@pytest.mark.parametrize(
    ("soc", "z2", "deltas"),
    [(True, [1, 0, 0, 0], [1, -1, -1, -1, -1, -1, -1, -1]), (False, [0, 0, 0, 0], [-1] * 8)],
    ids=["soc", "no-soc"],
)
def test_bi2se3_fu_kane(bi2se3, soc, z2, deltas):
    result = parity_z2(LowdinBloch(bi2se3.symmetrized(), soc=soc), 48, _inversion(bi2se3))
    assert result.z2 == z2
    assert result.deltas.tolist() == deltas  # SOC inverts the ordering at Gamma only
    assert result.parity_error < 1e-9
    assert result.trim_gap_eV > 0.2


@pytest.mark.parametrize(
    ("m0", "z2"),
    [
        (1.0, [0, 0, 0, 0]),
        (-2.0, [1, 0, 0, 0]),
        (-6.0, [0, 1, 1, 1]),
        (-10.0, [1, 1, 1, 1]),
        (-14.0, [0, 0, 0, 0]),
    ],
    ids=["trivial", "strong", "weak", "strong-111", "all-inverted"],
)
def test_four_band_model_inverted_trim_follow_the_mass(m0, z2):
    ham = four_band_ti(m0=m0)
    result = parity_z2(LowdinBloch(ham), 2, _inversion(ham))
    assert result.z2 == z2
    # delta_i = +1 exactly where M(k) = m0 + 2 sum(1 - cos k) < 0 puts the even s band below
    trim = result.trim
    mass = m0 + 2 * (1 - np.cos(2 * np.pi * trim)).sum(axis=1)
    assert result.deltas.tolist() == np.where(mass < 0, 1, -1).tolist()


def test_hamiltonian_must_respect_the_structural_inversion():
    symmetric = LowdinBloch(kane_mele())
    inv, error = hamiltonian_inversion(symmetric)
    assert inv is not None and error < 1e-12
    staggered = LowdinBloch(kane_mele(lam_v=0.1))  # equal atoms, unequal potentials
    assert _inversion(staggered.ham) is not None
    inv, error = hamiltonian_inversion(staggered)
    assert inv is None and error == pytest.approx(0.2)
    assert hamiltonian_inversion(LowdinBloch(fu_kane_mele(lam_v=0.05)))[0] is None


def test_odd_filling_is_rejected(silicon):
    with pytest.raises(ValueError, match="Kramers pairs"):
        parity_z2(LowdinBloch(silicon), 7, _inversion(silicon))

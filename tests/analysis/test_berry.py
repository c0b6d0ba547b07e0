"""Berry curvature (own Kubo vs wannierberri), AHC, SHC and valleys."""

from __future__ import annotations

import numpy as np
import pytest
from chern_plane_helpers import chern_planes

from socscreen.analysis.berry import (
    E2_H,
    anomalous_hall,
    berry_curvature,
    berry_curvature_wannierberri,
    spin_hall,
    valley_berry_curvature,
)
from socscreen.analysis.models import haldane, kane_mele
from socscreen.analysis.tb import OrthogonalTB
from socscreen.analysis.wilson import plane_wcc

RNG = np.random.default_rng(23)
PLANE_K = RNG.random((12, 3)) * [1, 1, 0]


@pytest.fixture(scope="module")
def km_tb():
    """Kane-Mele with Rashba and a staggered potential, through the Löwdin/MDRS path."""
    return OrthogonalTB.from_hamiltonian(kane_mele(lam_v=0.1, lam_r=0.05))


@pytest.mark.parametrize("phi", [np.pi / 2, -np.pi / 3], ids=["phi=pi/2", "phi=-pi/3"])
def test_haldane_ahc_is_one_conductance_quantum_in_the_gap(phi):
    tb = haldane(phi=phi)
    chern = plane_wcc(tb, 1, chern_planes(tb.periodic)["2d"]).chern()
    assert abs(chern) == 1
    hall = anomalous_hall(tb, [0.0, 10.0], grid=(60, 60, 1))
    sigma_xy = hall.in_conductance_quanta[:, 2]
    assert sigma_xy[0] == pytest.approx(-chern, abs=1e-3)  # sigma_xy = -C e^2/h
    assert sigma_xy[1] == pytest.approx(0.0, abs=1e-9)  # both bands filled
    assert hall.sigma[0, 2] == pytest.approx(-chern * E2_H, rel=1e-3)  # Siemens


def test_trivial_haldane_has_no_hall_conductance():
    hall = anomalous_hall(haldane(mass=1.0), [0.0], grid=(60, 60, 1))
    assert abs(hall.in_conductance_quanta[0, 2]) < 1e-3


@pytest.mark.parametrize("model", ["haldane", "kane-mele-lowdin"])
def test_kubo_berry_curvature_matches_wannierberri(model, km_tb):
    tb, n_occ = (haldane(), 1) if model == "haldane" else (km_tb, 2)
    ours = berry_curvature(tb, PLANE_K, n_occ=n_occ)
    theirs = berry_curvature_wannierberri(tb, PLANE_K, n_occ)
    np.testing.assert_allclose(ours, theirs, atol=1e-8 * np.abs(ours).max())
    assert np.abs(ours[:, 2]).max() > 0.1  # not trivially zero


def test_fermi_level_occupation_equals_band_count():
    tb = haldane()
    np.testing.assert_allclose(
        berry_curvature(tb, PLANE_K, efermi=0.0), berry_curvature(tb, PLANE_K, n_occ=1)
    )
    with pytest.raises(ValueError, match="exactly one"):
        berry_curvature(tb, PLANE_K)


def test_time_reversal_makes_berry_curvature_odd_and_ahc_vanish(km_tb):
    omega_plus = berry_curvature(km_tb, PLANE_K, n_occ=2)
    omega_minus = berry_curvature(km_tb, -PLANE_K, n_occ=2)
    np.testing.assert_allclose(omega_plus, -omega_minus, atol=1e-9)
    hall = anomalous_hall(km_tb, [0.0], grid=(24, 24, 1))
    assert abs(hall.in_conductance_quanta[0, 2]) < 1e-6


def test_inversion_and_time_reversal_kill_berry_curvature(silicon):
    tb = OrthogonalTB.from_hamiltonian(silicon, grid=(5, 5, 5))
    omega = berry_curvature(tb, RNG.random((4, 3)), n_occ=8)
    assert np.abs(omega).max() < 1e-8
    hall = anomalous_hall(tb, [silicon.efermi], grid=(4, 4, 4))
    assert hall.dimension == 3 and np.abs(hall.sigma).max() < 1e-6  # S/cm


@pytest.mark.parametrize(("lam_v", "quanta"), [(0.1, 1.0), (0.4, 0.0)], ids=["qsh", "trivial"])
def test_kane_mele_spin_hall_conductance_is_quantised(lam_v, quanta):
    tb = OrthogonalTB.from_hamiltonian(kane_mele(lam_v=lam_v))  # S_z conserved
    shc = spin_hall(tb, [0.0], grid=(96, 96, 1))
    # sigma[ef, current, field, spin]: sigma_xy^z in (hbar/e) e^2/h
    values = shc.in_conductance_quanta[0]
    assert values[0, 1, 2] == pytest.approx(quanta, abs=2e-3)
    assert values[1, 0, 2] == pytest.approx(-quanta, abs=2e-3)
    with pytest.raises(ValueError, match="spinor"):
        spin_hall(haldane(), [0.0])


def test_gapped_graphene_valleys_have_opposite_curvature():
    valleys = valley_berry_curvature(haldane(t2=0.0, mass=0.1), n_occ=1)
    assert valleys.omega_k == pytest.approx(-valleys.omega_k_prime, rel=1e-9)
    assert abs(valleys.valley_polarisation) == pytest.approx(1.0)
    # valley Chern numbers approach +-1/2 for a small mass
    assert 0.4 < abs(valleys.valley_chern_k) < 0.5
    assert valleys.valley_chern_k == pytest.approx(-valleys.valley_chern_k_prime, abs=1e-9)
    assert valleys.omega_top_valence_k == pytest.approx(valleys.omega_k)


def test_spinor_valleys_of_a_noncentrosymmetric_sheet(km_tb):
    valleys = valley_berry_curvature(km_tb, n_occ=2, n_k=36)
    assert valleys.omega_k == pytest.approx(-valleys.omega_k_prime, rel=1e-6)  # time reversal
    assert abs(valleys.omega_k) > 1.0
    assert abs(valleys.valley_chern_k + valleys.valley_chern_k_prime) < 1e-6


def test_valleys_need_a_hexagonal_sheet(silicon):
    with pytest.raises(ValueError, match="2D"):
        valley_berry_curvature(OrthogonalTB.from_hamiltonian(silicon, grid=(3, 3, 3)), 8)

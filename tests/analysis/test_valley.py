"""Valley physics of hexagonal sheets: the Kane-Mele model, GPAW WS2 and a predicted MoS2.

The GPAW references are the MX2 benchmark monolayers (``benchmarks/data/sheets``, szp(dzp)
with SOC, 20 Angstrom of vacuum).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from socscreen.analysis.berry import valley_points
from socscreen.analysis.bloch import LowdinBloch
from socscreen.analysis.models import kane_mele
from socscreen.analysis.tb import OrthogonalTB
from socscreen.analysis.valley import hexagonal_sheet, valley_quantities
from socscreen.hamiltonian import Hamiltonian

SHEETS = Path(__file__).parents[2] / "benchmarks" / "data" / "sheets"


@pytest.fixture(scope="module")
def ws2() -> Hamiltonian:
    return Hamiltonian.from_npz(SHEETS / "WS2.npz")


def test_ws2_valleys_are_spin_split_with_opposite_curvature(ws2):
    assert hexagonal_sheet(ws2)
    valleys = valley_quantities(ws2)
    assert valleys.k_valley == pytest.approx([1 / 3, 1 / 3, 0.0])
    # strong W 5d spin-orbit coupling: literature PBE 0.43 eV at K; the CB pair stays small
    assert 0.4 < valleys.valence_splitting_eV < 0.55
    assert 0.0 < valleys.conduction_splitting_eV < 0.06
    assert 1.4 < valleys.direct_gap_k_eV < 1.9
    # time reversal: Omega(K') = -Omega(K), and each valley absorbs one circular polarisation
    assert valleys.omega_k > 5.0 and valleys.omega_k_prime == pytest.approx(-valleys.omega_k)
    assert valleys.circular_dichroism_k == pytest.approx(1.0, abs=1e-3)
    assert valleys.circular_dichroism_k_prime == pytest.approx(-1.0, abs=1e-3)
    # WX2: the lowest conduction band at K has the spin opposite to the top valence band's
    assert valleys.valence_spin_k > 0.9 and valleys.conduction_spin_k < -0.8


def test_time_reversal_maps_spin_up_at_k_onto_spin_down_at_k_prime(ws2):
    """E(K, up) = E(K', down): the same energies, every band's spin reversed."""
    source = LowdinBloch(ws2)
    energies, vectors = np.linalg.eigh(source.hamiltonian_k(np.stack(valley_points(source))))
    half = source.n_basis // 2
    spin = (np.abs(vectors[:, :half]) ** 2).sum(1) - (np.abs(vectors[:, half:]) ** 2).sum(1)
    top = int(ws2.nelect) - 1
    assert energies[0] == pytest.approx(energies[1], abs=1e-6)
    assert spin[0, top - 1 : top + 1] == pytest.approx(-spin[1, top - 1 : top + 1], abs=1e-6)
    assert spin[0, top] == pytest.approx(1.0, abs=0.01)  # spin up at K, down at K'


def test_kane_mele_valleys_have_the_analytic_levels():
    """Staggered honeycomb with intrinsic SOC: at K the levels are +-(lam_v +- 3 sqrt3 lam_so)."""
    lam_so, lam_v = 0.06, 0.5
    valleys = valley_quantities(kane_mele(lam_so=lam_so, lam_v=lam_v))
    soc = 3 * np.sqrt(3) * lam_so
    assert valleys.valence_splitting_eV == pytest.approx(2 * soc, abs=1e-9)
    assert valleys.conduction_splitting_eV == pytest.approx(2 * soc, abs=1e-9)
    assert valleys.direct_gap_k_eV == pytest.approx(2 * (lam_v - soc), abs=1e-9)
    assert abs(valleys.valence_spin_k) == pytest.approx(1.0)
    assert valleys.omega_k == pytest.approx(-valleys.omega_k_prime, rel=1e-6)
    assert abs(valleys.omega_k) > 1.0
    assert abs(valleys.circular_dichroism_k) == pytest.approx(1.0, abs=1e-6)
    assert valleys.circular_dichroism_k_prime == pytest.approx(-valleys.circular_dichroism_k)


def test_lowdin_velocities_equal_the_real_space_models():
    """Central differences of the Löwdin H(k) against the exact d/dk of an orthogonal model."""
    model = kane_mele(lam_v=0.1, lam_r=0.05)
    k = np.random.default_rng(5).random((6, 3)) * [1, 1, 0]
    h, dh = LowdinBloch(model).velocity_k(k)
    h_tb, dh_tb = OrthogonalTB.from_hamiltonian(model).velocity_k(k)
    np.testing.assert_allclose(h, h_tb, atol=1e-10)
    np.testing.assert_allclose(dh, dh_tb, atol=1e-6 * np.abs(dh_tb).max())


@pytest.mark.gpaw
def test_predicted_mos2_sheet_has_the_reference_valleys():
    """The scc prediction of the MoS2 sheet (never seen a sheet) against GPAW of the same cell."""
    from socscreen.model.predictors import predict_hamiltonian

    reference = Hamiltonian.from_npz(SHEETS / "MoS2.npz")
    predicted = valley_quantities(predict_hamiltonian(reference.structure, "scc"))
    gpaw = valley_quantities(reference)
    assert predicted.valence_splitting_eV == pytest.approx(gpaw.valence_splitting_eV, abs=0.03)
    assert predicted.valence_splitting_eV > 0.1
    assert np.sign(predicted.omega_k) == np.sign(gpaw.omega_k) == -np.sign(predicted.omega_k_prime)
    # MoX2: the lowest conduction band at K has the top valence band's spin
    assert predicted.conduction_spin_k * predicted.valence_spin_k > 0.8


def test_bulk_and_soc_free_hamiltonians_are_refused(silicon, ws2):
    assert not hexagonal_sheet(silicon)
    with pytest.raises(ValueError, match="valleys need a 2D model"):
        valley_quantities(silicon)
    with pytest.raises(ValueError, match="need a Hamiltonian with spin-orbit blocks"):
        valley_quantities(Hamiltonian(ws2.structure, ws2.orbitals, ws2.R, ws2.h0, ws2.overlap,
                                      nelect=ws2.nelect))  # fmt: skip

"""Wilson loops and WCC: conventions, invariants, adaptivity."""

from __future__ import annotations

import numpy as np
import pytest
from chern_plane_helpers import chern_planes

from socscreen.analysis.berry import chern_number_kubo
from socscreen.analysis.bloch import LowdinBloch
from socscreen.analysis.models import four_band_ti, fu_kane_mele, haldane, kane_mele
from socscreen.analysis.tb import OrthogonalTB
from socscreen.analysis.wilson import (
    Plane,
    loop_states,
    loop_wcc,
    plane_wcc,
    wilson_z2,
    z2_planes,
)


def _atomic_limit(tau: np.ndarray) -> OrthogonalTB:
    """Isolated orbitals (no hopping) at fractional positions tau."""
    n = len(tau)
    return OrthogonalTB(
        lattice=np.diag([3.0, 4.0, 5.0]),
        positions=tau,
        R=np.zeros((1, 3), dtype=int),
        hoppings=np.diag(np.arange(n, dtype=float))[None] - 10.0 * np.eye(n)[None],
        periodic=np.array([True, True, True]),
    )


def test_wcc_of_isolated_orbitals_are_their_positions():
    tau = np.array([[0.1, 0.2, 0.3], [0.6, 0.7, 0.85]])
    tb = _atomic_limit(tau)
    for axis in range(3):
        k = np.zeros((3, 8, 3))
        k[:, :, axis] = np.arange(8) / 8
        k[:, :, (axis + 1) % 3] = [[0.0], [0.2], [0.4]]
        loop = np.eye(3, dtype=int)[axis]
        wcc = loop_wcc(loop_states(tb, 2, k)[0], tb.positions, loop)
        np.testing.assert_allclose(wcc, np.tile(np.sort(tau[:, axis]), (3, 1)), atol=1e-12)


def test_wcc_are_kramers_pairs_on_time_reversal_invariant_lines():
    ham = fu_kane_mele(dt=0.4, lam_v=0.3)  # no inversion: pairs split away from TRIM lines
    plane = plane_wcc(LowdinBloch(ham), 2, z2_planes(np.array([True] * 3))["k1=0"])
    assert plane.kramers_error() < 1e-10
    assert np.abs(np.diff(plane.wcc[len(plane.t) // 2])).max() > 1e-3


def test_loop_resolution_and_lines_are_refined():
    source = LowdinBloch(kane_mele(lam_so=0.06, lam_v=0.25))  # small gap, fast WCC motion
    coarse = plane_wcc(source, 2, z2_planes(source.periodic)["2d"], n_lines=3, n_k=4)
    assert coarse.converged
    assert len(coarse.t) > 3 and coarse.n_k > 4
    assert np.all(np.diff(coarse.t) > 0) and coarse.t[0] == 0 and coarse.t[-1] == 0.5
    assert coarse.z2() == 1


def test_unconverged_planes_are_reported():
    source = LowdinBloch(kane_mele(lam_so=0.06, lam_v=0.25))
    plane = plane_wcc(source, 2, z2_planes(source.periodic)["2d"], n_lines=3, max_lines=4)
    assert not plane.converged


@pytest.mark.parametrize(
    ("mass", "phi", "chern"),
    [(0.2, np.pi / 2, 1), (0.2, -np.pi / 2, -1), (1.0, np.pi / 2, 0)],
    ids=["C=1", "C=-1", "trivial"],
)
def test_haldane_chern_number_from_wcc_winding_matches_kubo(mass, phi, chern):
    tb = haldane(mass=mass, phi=phi)
    plane = plane_wcc(tb, 1, chern_planes(tb.periodic)["2d"])
    assert plane.chern() == chern
    assert chern_number_kubo(tb, 1, n_k=60) == pytest.approx(chern, abs=1e-3)


def test_chern_needs_a_full_cycle():
    tb = haldane()
    plane = plane_wcc(tb, 1, Plane(2, 0.0, 0, 1, t_max=0.5))
    with pytest.raises(ValueError, match="full pumping cycle"):
        plane.chern()


@pytest.mark.parametrize(
    ("ham", "z2"),
    [
        (kane_mele(lam_v=0.1, lam_r=0.05), [1]),
        (kane_mele(lam_v=0.4, lam_r=0.05), [0]),
        (fu_kane_mele(dt=0.4), [1, 1, 1, 1]),
        (fu_kane_mele(dt=-0.4), [0, 1, 1, 1]),
        (four_band_ti(m0=-2.0), [1, 0, 0, 0]),
    ],
    ids=["qsh", "trivial-2d", "fkm-strong", "fkm-weak", "four-band-strong"],
)
def test_wilson_z2_of_models(ham, z2):
    result = wilson_z2(LowdinBloch(ham), 2)
    assert result.z2 == z2
    assert result.flags == []
    assert result.min_gap_eV > 0.1


def test_odd_filling_and_wrong_planes_are_rejected():
    with pytest.raises(ValueError, match="Kramers"):
        wilson_z2(LowdinBloch(kane_mele()), 1)
    with pytest.raises(ValueError, match="permutation"):
        Plane(0, 0.0, 0, 1)
    with pytest.raises(ValueError, match="2D or 3D"):
        z2_planes(np.array([True, False, False]))

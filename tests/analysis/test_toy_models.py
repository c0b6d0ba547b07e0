"""The textbook models are valid containers with the right spectra."""

from __future__ import annotations

import numpy as np
import pytest

from socscreen.analysis.bloch import LowdinBloch, eigh_k
from socscreen.analysis.models import four_band_ti, fu_kane_mele, haldane, kane_mele
from socscreen.hamiltonian import Hamiltonian

RNG = np.random.default_rng(5)
MODELS = {
    "fkm": fu_kane_mele(),
    "kane-mele-rashba": kane_mele(lam_v=0.1, lam_r=0.05),
    "four-band": four_band_ti(m0=-2.0),
}


@pytest.mark.parametrize("name", MODELS)
def test_models_are_hermitian_time_reversal_symmetric_containers(name, tmp_path):
    ham = MODELS[name]
    assert ham.hermiticity_error() < 1e-14
    overlap_home = ham.overlap[ham.home_index]
    np.testing.assert_allclose(overlap_home, np.eye(ham.n_orbitals))
    k = RNG.random((3, 3))
    e_plus, e_minus = eigh_k(LowdinBloch(ham), k), eigh_k(LowdinBloch(ham), -k)
    np.testing.assert_allclose(e_plus, e_minus, atol=1e-12)  # Kramers: E(k) = E(-k)
    back = Hamiltonian.from_npz(ham.to_npz(tmp_path / f"{name}.npz", double=True))
    np.testing.assert_allclose(eigh_k(LowdinBloch(back), k), e_plus, atol=1e-12)


def test_kane_mele_spectrum_at_k():
    # without Rashba each spin is a massive Dirac cone at K: E = +-|lam_v -+ 3 sqrt(3) lam_so|
    lam_so, lam_v = 0.06, 0.1
    ham = kane_mele(lam_so=lam_so, lam_v=lam_v)
    e = eigh_k(LowdinBloch(ham), np.array([[1 / 3, -1 / 3, 0.0]]))[0]
    small, large = abs(lam_v - 3 * np.sqrt(3) * lam_so), lam_v + 3 * np.sqrt(3) * lam_so
    np.testing.assert_allclose(np.sort(np.abs(e)), [small, small, large, large], atol=1e-12)


def test_four_band_dispersion_is_a_massive_dirac_cone():
    m0, b, a = -2.0, 1.0, 1.0
    ham = four_band_ti(m0=m0, b=b, a_so=a)
    k = RNG.random((5, 3))
    q = 2 * np.pi * k
    mass = m0 + 2 * b * (1 - np.cos(q)).sum(axis=1)
    energy = np.sqrt(mass**2 + a**2 * (np.sin(q) ** 2).sum(axis=1))
    e = eigh_k(LowdinBloch(ham), k)
    cone = np.stack([-energy, -energy, energy, energy], axis=1)
    np.testing.assert_allclose(e[:, :4], cone, atol=1e-12)
    np.testing.assert_allclose(e[:, 4:], 20.0, atol=1e-12)


def test_fkm_bands_touch_at_x_without_dimerisation():
    ham = fu_kane_mele(dt=0.0)
    x_point = np.array([[0.5, 0.0, 0.5]])
    e = eigh_k(LowdinBloch(ham), x_point)[0]
    assert e[2] - e[1] < 1e-12  # Dirac points at X (Fu, Kane, Mele 2007)
    assert eigh_k(LowdinBloch(fu_kane_mele(dt=0.4)), x_point)[0][2] > 0.3


def test_haldane_is_a_spinless_orthogonal_model():
    tb = haldane()
    assert not tb.spinor and tb.n_occupied == 1
    k = np.array([[1 / 3, -1 / 3, 0.0], [-1 / 3, 1 / 3, 0.0]])
    e = eigh_k(tb, k)
    # time reversal broken: the two valleys have different gaps |M -+ 3 sqrt(3) t2|
    gaps = e[:, 1] - e[:, 0]
    np.testing.assert_allclose(
        sorted(gaps),
        sorted([2 * abs(0.2 - 3 * np.sqrt(3) * 0.15), 2 * abs(0.2 + 3 * np.sqrt(3) * 0.15)]),
        atol=1e-12,
    )

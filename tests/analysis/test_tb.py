"""Löwdin orthogonal tight-binding models: exactness on the grid, truncation, velocities."""

from __future__ import annotations

import numpy as np
import pytest

from socscreen.analysis.bloch import LowdinBloch, eigh_k, monkhorst_pack
from socscreen.analysis.models import kane_mele
from socscreen.analysis.tb import OrthogonalTB, default_grid

RNG = np.random.default_rng(17)


@pytest.fixture(scope="module")
def silicon_tb(silicon):
    return OrthogonalTB.from_hamiltonian(silicon)


def test_model_is_exact_on_its_grid(silicon, silicon_tb):
    k = monkhorst_pack(tuple(silicon_tb.meta["grid"]))[::37]
    np.testing.assert_allclose(eigh_k(silicon_tb, k), eigh_k(LowdinBloch(silicon), k), atol=1e-9)


def test_truncation_error_shrinks_with_the_grid(silicon, silicon_tb):
    k = RNG.random((12, 3))
    coarse = OrthogonalTB.from_hamiltonian(silicon, grid=default_grid(silicon.R, pad=0))
    error_default = silicon_tb.eigenvalue_error(silicon, k)
    assert silicon_tb.meta["grid"] == list(default_grid(silicon.R))
    assert error_default < 5e-3  # eV over all 36 bands, 2.7 meV measured
    assert coarse.eigenvalue_error(silicon, k) > 10 * error_default


def test_model_without_soc_is_spin_degenerate(silicon):
    tb = OrthogonalTB.from_hamiltonian(silicon, soc=False, grid=(5, 5, 5))
    e = eigh_k(tb, RNG.random((3, 3)))
    np.testing.assert_allclose(e[:, ::2], e[:, 1::2], atol=1e-10)


def test_sheet_keeps_single_layer_along_vacuum():
    tb = OrthogonalTB.from_hamiltonian(kane_mele(lam_r=0.05))
    assert tb.meta["grid"][2] == 1 and np.all(tb.R[:, 2] == 0)
    assert tb.periodic.tolist() == [True, True, False]
    # orthogonal model in, same model out (S = 1 makes Löwdin the identity)
    k = RNG.random((4, 3)) * [1, 1, 0]
    np.testing.assert_allclose(
        eigh_k(tb, k), eigh_k(LowdinBloch(kane_mele(lam_r=0.05)), k), atol=1e-12
    )
    with pytest.raises(ValueError, match="non-periodic"):
        OrthogonalTB.from_hamiltonian(kane_mele(), grid=(3, 3, 3))


def test_velocity_is_the_derivative_of_the_position_gauge_hamiltonian(silicon_tb):
    k = RNG.random(3)
    recip = 2 * np.pi * np.linalg.inv(silicon_tb.lattice).T
    h, dh = silicon_tb.velocity_k(k[None])
    step = 1e-5
    for axis in range(3):
        dk = step * np.eye(3)[axis] @ np.linalg.inv(recip)  # Cartesian step in fractional
        hp, _ = silicon_tb.velocity_k((k + dk)[None])
        hm, _ = silicon_tb.velocity_k((k - dk)[None])
        np.testing.assert_allclose((hp - hm)[0] / (2 * step), dh[0, axis], atol=1e-6)
    # same spectrum as the periodic-gauge H(k)
    np.testing.assert_allclose(np.linalg.eigvalsh(h[0]), eigh_k(silicon_tb, k[None])[0], atol=1e-10)


def test_invalid_models_are_rejected():
    good = dict(
        lattice=np.eye(3),
        positions=np.zeros((1, 3)),
        R=np.zeros((1, 3), int),
        hoppings=np.ones((1, 1, 1)),
        periodic=np.ones(3, bool),
    )
    with pytest.raises(ValueError, match="not Hermitian"):
        OrthogonalTB(**{**good, "hoppings": np.ones((1, 1, 1)) * 1j})
    with pytest.raises(ValueError, match="shape"):
        OrthogonalTB(**{**good, "hoppings": np.ones((1, 2, 2))})
    with pytest.raises(ValueError, match="closed under inversion"):
        OrthogonalTB(**{**good, "R": np.array([[1, 0, 0]])})

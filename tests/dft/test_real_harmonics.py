"""GPAW-convention real spherical harmonics and Gaunt coefficients against GPAW's tables."""

from __future__ import annotations

import numpy as np
import pytest

from socscreen.dft.real_harmonics import gaunt_coefficients, real_harmonics


@pytest.fixture(scope="module")
def directions() -> np.ndarray:
    v = np.random.default_rng(7).normal(size=(64, 3))
    return np.concatenate([v, [[0, 0, 1], [0, 0, -2], [3, 0, 0], [0, 0.5, 0]]])


def test_equal_gpaw_table_up_to_l8(directions):
    from gpaw.sphere.spherical_harmonics import Y

    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    reference = np.array([[Y(L, *p) for L in range(81)] for p in unit])
    np.testing.assert_allclose(real_harmonics(8, directions), reference, rtol=0, atol=1e-12)


def test_gpaw_m_order_and_signs():
    y = real_harmonics(2, np.array([[1.0, 2.0, 3.0]]))[0]
    x, yy, z = np.array([1.0, 2.0, 3.0]) / np.sqrt(14.0)
    c1 = np.sqrt(3 / (4 * np.pi))
    np.testing.assert_allclose(y[1:4], c1 * np.array([yy, z, x]))  # l=1: (y, z, x)
    c2 = np.sqrt(15 / (4 * np.pi))
    expected = [c2 * x * yy, c2 * yy * z, np.sqrt(5 / (16 * np.pi)) * (3 * z * z - 1)]
    expected += [c2 * x * z, c2 / 2 * (x * x - yy * yy)]
    np.testing.assert_allclose(y[4:9], expected)


def test_gaunt_coefficients_equal_gpaw():
    from gpaw.sphere.gaunt import gaunt

    reference = gaunt(3)
    for l1 in range(4):
        for l2 in range(4):
            ours = gaunt_coefficients(l1, l2)
            ref = reference[l1 * l1 : (l1 + 1) ** 2, l2 * l2 : (l2 + 1) ** 2, : (l1 + l2 + 1) ** 2]
            np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-13)


def test_zero_vector_and_negative_lmax_rejected():
    with pytest.raises(ValueError, match="zero vector"):
        real_harmonics(2, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="lmax"):
        real_harmonics(-1, np.ones((1, 3)))

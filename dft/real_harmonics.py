"""GPAW's real spherical harmonics and their Gaunt coefficients (pure numpy).

Convention (GPAW, ``gpaw.sphere.spherical_harmonics``): polar axis Cartesian z, unit norm
on the sphere, no Condon–Shortley phase, flat index ``L = l² + l + m`` with ``m = -l..l``::

    Y_lm = N_l|m| P_l^|m|(cos θ) · { √2 sin(|m| φ)  (m < 0);  1  (m = 0);  √2 cos(m φ)  (m > 0) }

so that l = 1 is ``(y, z, x)`` and l = 2 is ``(xy, yz, 3z²−r², xz, x²−y²)``, every
prefactor positive. The same functions are the orbitals' angular parts in the corpus
(``socscreen.orbitals``); ``tests/model/test_overlap.py`` checks them against GPAW's table.
"""

from __future__ import annotations

from functools import cache
from math import factorial, pi, sqrt

import numpy as np
from scipy.special import lpmv

__all__ = ["gaunt_coefficients", "real_harmonics"]


def real_harmonics(lmax: int, vectors: np.ndarray) -> np.ndarray:
    """Real spherical harmonics ``Y_L(v̂)`` for all ``L < (lmax + 1)²``.

    Parameters
    ----------
    lmax
        Largest angular momentum.
    vectors
        Directions, shape ``[n, 3]`` (any length > 0; only the direction matters).

    Returns
    -------
    numpy.ndarray
        ``Y[n, L]`` with ``L = l² + l + m``, shape ``[n, (lmax + 1)²]``.

    Raises
    ------
    ValueError
        If ``lmax`` is negative or a vector has zero length.
    """
    if lmax < 0:
        raise ValueError(f"lmax must be >= 0, got {lmax}")
    v = np.asarray(vectors, dtype=float).reshape(-1, 3)
    norm = np.linalg.norm(v, axis=1)
    if np.any(norm == 0.0):
        raise ValueError("spherical harmonics of a zero vector are undefined")
    cos_theta = np.clip(v[:, 2] / norm, -1.0, 1.0)
    phi = np.arctan2(v[:, 1], v[:, 0])
    out = np.empty((len(v), (lmax + 1) ** 2))
    for ell in range(lmax + 1):
        for m in range(-ell, ell + 1):
            am = abs(m)
            norm_lm = sqrt((2 * ell + 1) / (4 * pi) * factorial(ell - am) / factorial(ell + am))
            # scipy's lpmv carries the Condon-Shortley phase (-1)^m; GPAW's harmonics do not.
            legendre = (-1) ** am * lpmv(am, ell, cos_theta)
            if m < 0:
                angular = sqrt(2.0) * np.sin(am * phi)
            elif m > 0:
                angular = sqrt(2.0) * np.cos(am * phi)
            else:
                angular = 1.0
            out[:, ell * ell + ell + m] = norm_lm * legendre * angular
    return out


@cache
def _sphere_quadrature(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights integrating polynomials of ``degree`` exactly over the sphere."""
    n_theta = degree // 2 + 1
    n_phi = degree + 1
    x, w = np.polynomial.legendre.leggauss(n_theta)
    phi = 2 * pi * np.arange(n_phi) / n_phi
    sin_theta = np.sqrt(1.0 - x**2)
    points = np.stack(
        [
            np.outer(sin_theta, np.cos(phi)).ravel(),
            np.outer(sin_theta, np.sin(phi)).ravel(),
            np.repeat(x, n_phi),
        ],
        axis=1,
    )
    weights = np.repeat(w, n_phi) * (2 * pi / n_phi)
    return points, weights


@cache
def gaunt_coefficients(l1: int, l2: int) -> np.ndarray:
    """Real Gaunt coefficients ``G[m1, m2, L] = ∫ Y_l1m1 Y_l2m2 Y_L dΩ``.

    Parameters
    ----------
    l1, l2
        Angular momenta of the two factors.

    Returns
    -------
    numpy.ndarray
        Shape ``[2 l1 + 1, 2 l2 + 1, (l1 + l2 + 1)²]`` (flat ``L = l² + l + m`` over all
        l up to ``l1 + l2``; entries vanish unless ``|l1 - l2| <= l <= l1 + l2`` and
        ``l1 + l2 + l`` is even). Read-only.
    """
    lmax = l1 + l2
    points, weights = _sphere_quadrature(2 * lmax)
    y = real_harmonics(lmax, points)
    y1 = y[:, l1 * l1 : (l1 + 1) ** 2]
    y2 = y[:, l2 * l2 : (l2 + 1) ** 2]
    g = np.einsum("p,pa,pb,pL->abL", weights, y1, y2, y)
    g[np.abs(g) < 1e-14] = 0.0
    g.setflags(write=False)
    return g

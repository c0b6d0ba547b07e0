"""Two-centre Fourier–Bessel overlaps against brute-force real-space integration."""

from __future__ import annotations

import numpy as np
import pytest

from socscreen.dft.basis_functions import load_basis
from socscreen.dft.paw_setups import load_setup
from socscreen.dft.radial import RadialFunction
from socscreen.dft.real_harmonics import real_harmonics
from socscreen.dft.two_centre import TwoCentreTable


def _composite_gauss(a: float, b: float, pieces: int, nodes: int = 8):
    x, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(a, b, pieces + 1)
    half, mid = np.diff(edges) / 2, (edges[1:] + edges[:-1]) / 2
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


def brute_force_overlap(fa: RadialFunction, fb: RadialFunction, d: float) -> np.ndarray:
    """<φ_a | φ_b(· − d ẑ)> on a cylindrical (ρ, z, φ) product grid, all m pairs."""
    rho, w_rho = _composite_gauss(0.0, max(fa.cutoff, fb.cutoff), 40)
    z, w_z = _composite_gauss(-fa.cutoff, max(fa.cutoff, d + fb.cutoff), 80)
    n_phi = 2 * (fa.ell + fb.ell) + 2  # exact for the trigonometric polynomial in φ
    rr, zz = np.meshgrid(rho, z, indexing="ij")
    weight = (np.outer(w_rho * rho, w_z) * fa(np.hypot(rr, zz)) * fb(np.hypot(rr, zz - d))).ravel()
    out = np.zeros((2 * fa.ell + 1, 2 * fb.ell + 1))
    for phi in 2 * np.pi * np.arange(n_phi) / n_phi:
        pa = np.stack([rr * np.cos(phi), rr * np.sin(phi), zz], axis=-1).reshape(-1, 3)
        pb = pa - [0.0, 0.0, d]
        pa[~pa.any(axis=1)] = [0, 0, 1]
        pb[~pb.any(axis=1)] = [0, 0, 1]
        ya = real_harmonics(fa.ell, pa)[:, fa.ell**2 :]
        yb = real_harmonics(fb.ell, pb)[:, fb.ell**2 :]
        out += np.einsum("g,ga,gb->ab", weight, ya, yb) * (2 * np.pi / n_phi)
    return out


def _block(table: TwoCentreTable, functions_a, functions_b, ia: int, ib: int, d: np.ndarray):
    oa = np.cumsum([0] + [2 * f.ell + 1 for f in functions_a])
    ob = np.cumsum([0] + [2 * f.ell + 1 for f in functions_b])
    return table(d[None])[0, oa[ia] : oa[ia + 1], ob[ib] : ob[ib + 1]]


@pytest.mark.parametrize(
    ("pair", "ia", "ib", "d"),
    [
        (("Bi", "Se"), 1, 1, 0.0),  # p-p on one centre
        (("Bi", "Se"), 1, 2, 4.5),  # 6p with the Se d polarisation function
        (("Bi", "Bi"), 2, 3, 2.3),  # 5d with the Bi d polarisation function
        (("Bi", "Se"), 0, 1, 9.1),  # s-p near the end of the range
    ],
)
def test_basis_overlap_equals_brute_force(pair, ia, ib, d):
    fa, fb = load_basis(pair[0]).functions, load_basis(pair[1]).functions
    table = TwoCentreTable(fa, fb)
    ours = _block(table, fa, fb, ia, ib, np.array([0.0, 0.0, d]))
    reference = brute_force_overlap(fa[ia], fb[ib], d)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-8)
    assert np.abs(reference).max() > 1e-3  # a non-trivial block


def test_projector_overlap_equals_brute_force():
    projectors, basis = load_setup("Zn").projectors, load_basis("Zn").functions
    table = TwoCentreTable(projectors, basis)
    for ip, ib, d in [(0, 0, 0.0), (1, 1, 3.0), (4, 2, 5.5)]:
        ours = _block(table, projectors, basis, ip, ib, np.array([0.0, 0.0, d]))
        reference = brute_force_overlap(projectors[ip], basis[ib], d)
        np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-8)


def test_exchange_symmetry_and_range():
    fa, fb = load_basis("Bi").functions, load_basis("Se").functions
    forward, backward = TwoCentreTable(fa, fb), TwoCentreTable(fb, fa)
    d = np.random.default_rng(3).normal(size=(50, 3)) * 3.0
    # <φ_a | φ_b(· − d)> = <φ_b | φ_a(· + d)>: swapping the centres transposes the block.
    np.testing.assert_allclose(forward(d), backward(-d).transpose(0, 2, 1), rtol=0, atol=1e-13)
    far = np.array([[0.0, 0.0, forward.range], [forward.range, 1.0, 0.0]])
    assert not forward(far).any()

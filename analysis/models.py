"""Textbook tight-binding models as :class:`~socscreen.hamiltonian.Hamiltonian` containers.

The models use an orthonormal basis (``S(R=0) = 1``) and the container's spin-orbit form
``H = kron(I2, H0) + i sum_a A_a sigma_a`` with real ``H0`` and real ``A_a``
(``A_a(-R) = -A_a(R)^T``): every time-reversal-symmetric spin-orbit term fits, so the
same code paths as for DFT data are exercised. Haldane's model breaks time reversal and
is returned as a spinless :class:`~socscreen.analysis.tb.OrthogonalTB` instead.

* :func:`fu_kane_mele`: diamond lattice, s orbitals, spin-orbit next-nearest hopping
  (Fu, Kane, Mele, PRL 98, 106803 (2007)).
* :func:`kane_mele`: honeycomb with intrinsic and Rashba spin-orbit coupling and a
  staggered potential (Kane and Mele, PRL 95, 146802 (2005)).
* :func:`four_band_ti`: the Bi2Se3-type four-band model (Zhang et al., Nat. Phys. 5, 438
  (2009)) regularised on a simple cubic lattice, with an s and a p_z orbital.
* :func:`haldane`: Haldane's Chern insulator (PRL 61, 2015 (1988)).

Energies in eV, lengths in Angstrom.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
from pymatgen.core import Lattice, Structure

from socscreen.analysis.tb import OrthogonalTB
from socscreen.hamiltonian import Hamiltonian
from socscreen.orbitals import OrbitalTable

__all__ = ["four_band_ti", "fu_kane_mele", "haldane", "kane_mele"]

Bond = tuple[int, int, tuple[int, int, int], np.ndarray]


class _Builder:
    """Collects ``H0``, ``A_a`` blocks per lattice vector."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.h0: dict[tuple[int, int, int], np.ndarray] = defaultdict(lambda: np.zeros((n, n)))
        self.soc: dict[tuple[int, int, int], np.ndarray] = defaultdict(lambda: np.zeros((3, n, n)))

    def hop(self, i: int, j: int, r: tuple[int, int, int], value: float) -> None:
        """Spin-independent ``<i, 0|H|j, R>`` (eV); the caller adds the partner."""
        self.h0[r][i, j] += value
        self.soc[r]  # noqa: B018  (create the block so R sets agree)

    def spin_orbit(self, i: int, j: int, r: tuple[int, int, int], vector: np.ndarray) -> None:
        """Add ``i sigma . A`` with real ``A`` (eV) to ``<i, 0|H|j, R>``."""
        self.soc[r][:, i, j] += vector
        self.h0[r]  # noqa: B018

    def build(
        self, structure: Structure, shells: dict[str, tuple[int, ...]], nelect: float, name: str
    ) -> Hamiltonian:
        keys = sorted(set(self.h0) | set(self.soc) | {(0, 0, 0)})
        keys = sorted(set(keys) | {tuple(-x for x in r) for r in keys})
        h0 = np.array([self.h0[r] for r in keys])
        a = np.array([self.soc[r] for r in keys])  # [n_R, 3, n, n]
        uu = 1j * a[:, 2]
        ud = 1j * a[:, 0] + a[:, 1]
        overlap = np.zeros_like(h0)
        overlap[keys.index((0, 0, 0))] = np.eye(self.n)
        orbitals = OrbitalTable(tuple(structure.atomic_numbers), shells, basis_name=f"model:{name}")
        ham = Hamiltonian(
            structure,
            orbitals,
            np.array(keys),
            h0,
            overlap,
            uu,
            ud,
            nelect=nelect,
            efermi=0.0,
            meta={"model": name},
        )
        error = ham.hermiticity_error()
        if error > 1e-12:
            raise RuntimeError(f"model {name} is not Hermitian ({error:.1e} eV)")
        return ham


def _bonds(lattice: Lattice, frac: np.ndarray, length: float, tol: float = 1e-6) -> list[Bond]:
    """All ordered bonds ``(i, j, R, d)`` of a given length (Angstrom), d Cartesian."""
    out = []
    for i, j in itertools.product(range(len(frac)), repeat=2):
        for r in itertools.product(range(-2, 3), repeat=3):
            d = lattice.get_cartesian_coords(frac[j] + np.array(r) - frac[i])
            if abs(np.linalg.norm(d) - length) < tol:
                out.append((i, j, r, d))
    return out


def _second_neighbour_paths(
    bonds: list[Bond],
) -> list[tuple[int, int, tuple, np.ndarray, np.ndarray]]:
    """Paths ``i -> k -> j`` through two nearest-neighbour bonds with ``j != i``.

    Returns ``(i, j, R, d1, d2)`` with ``d1`` the bond ``i -> k`` and ``d2`` ``k -> j``.
    """
    by_start = defaultdict(list)
    for bond in bonds:
        by_start[bond[0]].append(bond)
    paths = []
    for i, k, r1, d1 in bonds:
        for _, j, r2, d2 in by_start[k]:
            r = tuple(a + b for a, b in zip(r1, r2, strict=True))
            if j == i and r == (0, 0, 0):
                continue
            paths.append((i, j, r, d1, d2))
    return paths


def fu_kane_mele(
    t: float = 1.0,
    dt: float = 0.4,
    lam_so: float = 0.125,
    lam_v: float = 0.0,
    a: float = 4.0,
) -> Hamiltonian:
    """Fu-Kane-Mele diamond-lattice model.

    ``H = sum_<ij> t_ij c_i^dagger c_j + i (8 lam_so / a^2) sum_<<ij>> c_i^dagger
    sigma . (d1_ij x d2_ij) c_j + lam_v sum_i xi_i c_i^dagger c_i``; the nearest-neighbour
    bond along [111] has ``t + dt``, the other three ``t``; ``xi = +1 (-1)`` on sublattice
    A (B) breaks inversion. Half filling (two electrons per cell).

    Parameters
    ----------
    t, dt
        Nearest-neighbour hopping and its change on the [111] bond, eV.
    lam_so
        Spin-orbit strength, eV.
    lam_v
        Staggered sublattice potential, eV (0 keeps inversion symmetry).
    a
        Cubic lattice constant, Angstrom.
    """
    lattice = Lattice(0.5 * a * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float))
    frac = np.array([[0.0, 0.0, 0.0], [0.25, 0.25, 0.25]])
    structure = Structure(lattice, ["C", "C"], frac)
    bonds = _bonds(lattice, frac, np.sqrt(3) * a / 4)
    b = _Builder(2)
    for i, j, r, d in bonds:
        along_111 = abs(abs(d.sum()) - 0.75 * a) < 1e-9 and np.all(np.sign(d) == np.sign(d[0]))
        b.hop(i, j, r, t + dt if along_111 else t)
    for i, j, r, d1, d2 in _second_neighbour_paths(bonds):
        b.spin_orbit(i, j, r, 8 * lam_so / a**2 * np.cross(d1, d2))
    for i, xi in enumerate((1.0, -1.0)):
        b.hop(i, i, (0, 0, 0), lam_v * xi)
    return b.build(structure, {"C": (0,)}, nelect=2, name="fu_kane_mele")


def _honeycomb(a: float, vacuum: float) -> tuple[Lattice, np.ndarray, list[Bond]]:
    lattice = Lattice([[a, 0, 0], [a / 2, a * np.sqrt(3) / 2, 0], [0, 0, vacuum]])
    frac = np.array([[1 / 3, 1 / 3, 0.0], [2 / 3, 2 / 3, 0.0]])
    bonds = [bond for bond in _bonds(lattice, frac, a / np.sqrt(3)) if bond[2][2] == 0]
    return lattice, frac, bonds


def kane_mele(
    t: float = 1.0,
    lam_so: float = 0.06,
    lam_v: float = 0.0,
    lam_r: float = 0.0,
    a: float = 2.46,
    vacuum: float = 15.0,
) -> Hamiltonian:
    """Kane-Mele model of a honeycomb sheet (2D, vacuum along the third axis).

    ``H = t sum_<ij> c_i^dagger c_j + i lam_so sum_<<ij>> nu_ij c_i^dagger sigma_z c_j
    + i lam_r sum_<ij> c_i^dagger (sigma x d_ij)_z c_j + lam_v sum_i xi_i c_i^dagger c_i``
    with ``nu_ij = (2 / sqrt 3)(d1 x d2)_z`` over unit bond vectors and ``xi = +-1`` on
    the two sublattices. Quantum spin Hall for ``lam_v < 3 sqrt(3) lam_so`` at
    ``lam_r = 0``; ``lam_v`` and ``lam_r`` break inversion. Half filling.

    Parameters
    ----------
    t
        Nearest-neighbour hopping, eV.
    lam_so, lam_r, lam_v
        Intrinsic and Rashba spin-orbit coupling and staggered potential, eV.
    a, vacuum
        Lattice constant and cell height, Angstrom.
    """
    lattice, frac, bonds = _honeycomb(a, vacuum)
    structure = Structure(lattice, ["C", "C"], frac)
    b = _Builder(2)
    for i, j, r, d in bonds:
        b.hop(i, j, r, t)
        unit = d / np.linalg.norm(d)
        b.spin_orbit(i, j, r, lam_r * np.array([unit[1], -unit[0], 0.0]))
    for i, j, r, d1, d2 in _second_neighbour_paths(bonds):
        nu = 2 / np.sqrt(3) * np.cross(d1 / np.linalg.norm(d1), d2 / np.linalg.norm(d2))[2]
        b.spin_orbit(i, j, r, np.array([0.0, 0.0, lam_so * nu]))
    for i, xi in enumerate((1.0, -1.0)):
        b.hop(i, i, (0, 0, 0), lam_v * xi)
    return b.build(structure, {"C": (0,)}, nelect=2, name="kane_mele")


def four_band_ti(
    m0: float = -1.0,
    b: float = 1.0,
    a_so: float = 1.0,
    lattice_constant: float = 4.0,
    e_pxy: float = 20.0,
) -> Hamiltonian:
    """Bi2Se3-type four-band model on a simple cubic lattice.

    ``H(k) = M(k) tau_z + a_so (sin kx tau_x sigma_x + sin ky tau_x sigma_y + sin kz
    tau_y)`` with ``M(k) = m0 + 2 b sum_i (1 - cos k_i)`` in the basis (s, p_z) x spin;
    ``tau_z = +1`` on the even s orbital. The band ordering is inverted at a TRIM where
    ``M < 0``, which with ``b > 0`` gives: ``m0 > 0`` (0;000), ``-4b < m0 < 0`` (1;000),
    ``-8b < m0 < -4b`` (0;111), ``-12b < m0 < -8b`` (1;111), ``m0 < -12b`` (0;000).
    The p_x and p_y orbitals of the p shell are decoupled at ``e_pxy``. Two electrons.

    Parameters
    ----------
    m0, b
        Mass at Gamma and its band curvature, eV.
    a_so
        Strength of the odd-in-k (spin-orbit) coupling, eV.
    lattice_constant
        Cubic lattice constant, Angstrom.
    e_pxy
        On-site energy of the spectator p_x, p_y orbitals, eV.
    """
    structure = Structure(Lattice.cubic(lattice_constant), ["Bi"], [[0.0, 0.0, 0.0]])
    s, py, pz, px = 0, 1, 2, 3  # GPAW order of the p shell: y, z, x
    bld = _Builder(4)
    bld.hop(s, s, (0, 0, 0), m0 + 6 * b)
    bld.hop(pz, pz, (0, 0, 0), -(m0 + 6 * b))
    bld.hop(px, px, (0, 0, 0), e_pxy)
    bld.hop(py, py, (0, 0, 0), e_pxy)
    for axis in range(3):
        for sign in (1, -1):
            r = tuple(sign * int(axis == c) for c in range(3))
            bld.hop(s, s, r, -b)
            bld.hop(pz, pz, r, b)
            # -i a_so sin k = -(a_so / 2)(e^{ik} - e^{-ik}): blocks -+a_so / 2 at R = +-axis
            half = -sign * a_so / 2
            if axis == 2:  # a_so sin kz tau_y: spin-independent s-p_z hopping
                bld.hop(s, pz, r, half)
                bld.hop(pz, s, r, -half)
            else:  # a_so sin k_axis tau_x sigma_axis = i sigma_axis (-i a_so sin k_axis) tau_x
                vector = np.zeros(3)
                vector[axis] = half
                bld.spin_orbit(s, pz, r, vector)
                bld.spin_orbit(pz, s, r, vector)
    return bld.build(structure, {"Bi": (0, 1)}, nelect=2, name="four_band_ti")


def haldane(
    t1: float = 1.0,
    t2: float = 0.15,
    phi: float = np.pi / 2,
    mass: float = 0.2,
    a: float = 2.46,
    vacuum: float = 15.0,
) -> OrthogonalTB:
    """Haldane model: spinless honeycomb with complex next-nearest hopping.

    ``H = t1 sum_<ij> c_i^dagger c_j + t2 sum_<<ij>> exp(i nu_ij phi) c_i^dagger c_j
    + mass sum_i xi_i c_i^dagger c_i``, ``nu_ij = (2 / sqrt 3)(d1 x d2)_z``. Chern
    insulator with ``|C| = 1`` for ``|mass| < 3 sqrt(3) |t2 sin phi|``; the lower band
    is filled.

    Parameters
    ----------
    t1, t2, phi
        Nearest and next-nearest hopping (eV) and the flux phase (radian).
    mass
        Staggered on-site energy, eV.
    a, vacuum
        Lattice constant and cell height, Angstrom.
    """
    lattice, frac, bonds = _honeycomb(a, vacuum)
    hop: dict[tuple[int, int, int], np.ndarray] = defaultdict(lambda: np.zeros((2, 2), complex))
    for i, j, r, _ in bonds:
        hop[r][i, j] += t1
    for i, j, r, d1, d2 in _second_neighbour_paths(bonds):
        nu = 2 / np.sqrt(3) * np.cross(d1 / np.linalg.norm(d1), d2 / np.linalg.norm(d2))[2]
        hop[r][i, j] += t2 * np.exp(1j * nu * phi)
    hop[(0, 0, 0)] += np.diag([mass, -mass])
    keys = sorted(hop)
    return OrthogonalTB(
        lattice=lattice.matrix,
        positions=frac,
        R=np.array(keys),
        hoppings=np.array([hop[r] for r in keys]),
        periodic=np.array([True, True, False]),
        spinor=False,
        n_occupied=1,
        meta={"model": "haldane"},
    )

"""Self-consistent charge correction of the zeroth-step H(0) (second-order DFTB on top).

H(0) is the Kohn-Sham Hamiltonian at the superposed density of *neutral* atoms: it knows
nothing of the charge an ionic crystal moves from cation to anion, which is most of what
separates it from the self-consistent answer (GaN, PbS, ZrNiSn). The second-order
expansion of the DFT energy around that density (SCC-DFTB, Elstner et al., PRB 58, 7260
(1998)) adds, for Mulliken excess electrons ``Δq_A`` on the atoms,

    ΔH_μν(R) = ½ S_μν(R) (V_A + V_B),   V_A = Σ_B γ_AB Δq_B,   μ ∈ A, ν ∈ B,

and the charges are solved self-consistently with the corrected bands. ``γ_AB`` is the
Coulomb interaction of two Slater-like charge clouds whose widths follow from the atoms'
Hubbard U (:mod:`socscreen.dft.hubbard`, free-atom hardness): ``1/r`` at long range (an
Ewald sum over the periodic images), ``U_A`` for an atom with its own charge. The form
has no fitted parameter, keeps every symmetry of H(0) (the shifts are scalars per atom,
the blocks are multiples of S) and changes nothing in an elemental crystal whose atoms are
all equivalent. SOC blocks are left as H(0)'s: the one-centre SOC operator barely depends
on the charge state.

Conventions: energies in eV, ``Δq_A`` in electrons (positive = the atom gained electrons),
Mulliken populations of the spin-degenerate bands of H0 on a Γ-centred k-grid
(:data:`KPOINT_DENSITY`), Gaussian occupations of width :data:`SMEARING`. The potential's
zero is arbitrary (the Ewald background); the shifts are returned with zero mean, and a
constant times S would not change any band anyway.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from ase.units import Bohr, Ha
from scipy.special import erfc

from socscreen.dft.hubbard import hubbard_u
from socscreen.dft.paw_setups import valence_electrons
from socscreen.hamiltonian import GHOST_ENERGY, Hamiltonian

__all__ = [
    "ChargeCorrection",
    "charge_corrected",
    "gamma_matrix",
    "mulliken_charges",
    "self_consistent_charges",
]

#: k-points per direction times the lattice length (Å) for the charge sums.
KPOINT_DENSITY = 16.0
#: Gaussian occupation width (eV).
SMEARING = 0.1
#: Convergence: largest change of an atom's potential between iterations (eV).
TOLERANCE = 1e-4
MAX_ITERATIONS = 200
#: Anderson mixing: fraction of the new residual taken, and the history length.
MIXING = 0.2
HISTORY = 6
#: A short-range term below this (Hartree) is dropped.
_NEGLIGIBLE = 1e-12


@dataclass
class ChargeCorrection:
    """Outcome of the charge self-consistency.

    Attributes
    ----------
    charges
        Mulliken excess electrons per atom at self-consistency (sum zero).
    initial_charges
        Those of H(0) itself, before any correction.
    shifts
        On-site potential ``V_A`` per atom (eV, zero mean).
    iterations
        Iterations taken.
    converged
        Whether the potential changed by less than :data:`TOLERANCE` at the end.
    seconds
        Wall time.
    """

    charges: np.ndarray
    initial_charges: np.ndarray
    shifts: np.ndarray
    iterations: int
    converged: bool
    seconds: float

    def as_meta(self) -> dict:
        """JSON-ready summary for ``Hamiltonian.meta["charge_correction"]``."""
        return {
            "method": "SCC-DFTB second order on H(0), free-atom Hubbard U",
            "charges": [round(float(q), 4) for q in self.charges],
            "initial_charges": [round(float(q), 4) for q in self.initial_charges],
            "shifts_eV": [round(float(v), 4) for v in self.shifts],
            "iterations": self.iterations,
            "converged": self.converged,
            "seconds": round(self.seconds, 3),
        }


def _short_range(tau_a: float, tau_b: float, r: np.ndarray) -> np.ndarray:
    """Short-range part ``S`` of DFTB's γ = 1/r − S for exponents τ = 16/5 U (a.u., r > 0)."""
    if abs(tau_a - tau_b) < 1e-5:
        t = 0.5 * (tau_a + tau_b)
        return np.exp(-t * r) * (1 / r + 11 * t / 16 + 3 * t**2 * r / 16 + t**3 * r**2 / 48)

    def half(ta: float, tb: float) -> np.ndarray:
        d = ta**2 - tb**2
        return np.exp(-ta * r) * (tb**4 * ta / (2 * d**2) - (tb**6 - 3 * tb**4 * ta**2) / (d**3 * r))

    return half(tau_a, tau_b) + half(tau_b, tau_a)


def _translations(lattice: np.ndarray, reach: float) -> np.ndarray:
    """Lattice vectors (rows, Cartesian) of every cell within ``reach`` of the origin cell."""
    heights = abs(np.linalg.det(lattice)) / np.linalg.norm(
        np.cross(np.roll(lattice, -1, 0), np.roll(lattice, -2, 0)), axis=1
    )
    n = np.ceil(reach / heights).astype(int) + 1
    grid = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in n], indexing="ij"), -1)
    return grid.reshape(-1, 3) @ lattice


def gamma_matrix(structure, hubbard: np.ndarray) -> np.ndarray:
    """Periodic DFTB γ between the atoms of a cell (eV per electron²), ``[n_atoms, n_atoms]``.

    ``γ_AB = Σ_L [1/|r_AB + L| − S(|r_AB + L|)]`` with the ``1/r`` sum done by Ewald (a
    uniform background makes it finite; its constant is irrelevant for neutral charge
    moves) and ``γ_AA`` getting ``U_A`` for the atom's own cloud (L = 0).
    """
    lattice = structure.lattice.matrix / Bohr
    positions = structure.cart_coords / Bohr
    u = np.asarray(hubbard, dtype=float) / Ha
    tau = 3.2 * u
    volume = abs(np.linalg.det(lattice))
    eta = np.sqrt(np.pi) / volume ** (1 / 3)
    reach = max(6.0 / eta, 30.0 / tau.min())
    images = _translations(lattice, reach)
    g_cut = 12.0 * eta
    reciprocal = 2 * np.pi * np.linalg.inv(lattice).T
    G = _translations(reciprocal, g_cut)
    g2 = np.einsum("gi,gi->g", G, G)
    G, g2 = G[(g2 > 1e-12) & (g2 < g_cut**2)], g2[(g2 > 1e-12) & (g2 < g_cut**2)]
    structure_factor = np.exp(1j * positions @ G.T)  # [n, g]
    weights = 4 * np.pi / volume * np.exp(-g2 / (4 * eta**2)) / g2
    gamma = ((structure_factor * weights) @ structure_factor.conj().T).real
    gamma -= np.pi / (eta**2 * volume)
    n = len(positions)
    for a in range(n):
        gamma[a, a] += u[a] - 2 * eta / np.sqrt(np.pi)
        for b in range(n):
            r = np.linalg.norm(positions[a] - positions[b] + images, axis=1)
            r = r[(r > 1e-8) & (r < reach)]
            gamma[a, b] += np.sum(erfc(eta * r) / r) - np.sum(_short_range(tau[a], tau[b], r))
    return gamma * Ha


def _kgrid(structure, density: float = KPOINT_DENSITY) -> np.ndarray:
    lengths = np.linalg.norm(structure.lattice.matrix, axis=1)
    mesh = [max(1, int(round(density / a))) for a in lengths]
    return np.stack(np.meshgrid(*[np.arange(m) / m for m in mesh], indexing="ij"), -1).reshape(
        -1, 3
    )


class _BandProblem:
    """H0(k), S(k) on the charge grid, orthogonalised once (S does not change)."""

    def __init__(self, h: Hamiltonian) -> None:
        k = _kgrid(h.structure)
        self.n_k = len(k)
        phase = np.exp(2j * np.pi * k @ h.R.T)
        s = np.einsum("kr,rij->kij", phase, h.overlap)
        h0 = np.einsum("kr,rij->kij", phase, h.h0)
        w, v = np.linalg.eigh(s)
        keep = w > h.overlap_cutoff
        self.basis = v * np.where(keep, w, np.inf)[:, None, :] ** -0.5  # removed -> 0 columns
        self.ghost = np.where(keep, 0.0, GHOST_ENERGY)
        self.s_basis = s @ self.basis  # S X
        self.h0_orth = np.conj(np.swapaxes(self.basis, 1, 2)) @ h0 @ self.basis
        self.atom = h.orbitals.atom_of_orbital
        self.n_atoms = len(h.structure)
        self.electrons = h.nelect

    def populations(self, shifts: np.ndarray) -> np.ndarray:
        """Mulliken electrons per atom of H0 + ½ S (V_A + V_B) (both spins)."""
        v = shifts[self.atom]
        xh = np.conj(np.swapaxes(self.basis, 1, 2))
        half = 0.5 * (xh * v[None, None, :]) @ self.s_basis  # X^H D S X / 2
        h = self.h0_orth + half + np.conj(np.swapaxes(half, 1, 2))
        h = h + self.ghost[:, :, None] * np.eye(h.shape[-1])
        energies, u = np.linalg.eigh(h)
        occupation = _occupations(energies, self.electrons / 2)
        c, sc = self.basis @ u, self.s_basis @ u
        orbital = 2 * np.einsum("kn,kmn->m", occupation, (np.conj(c) * sc).real) / self.n_k
        return np.bincount(self.atom, weights=orbital, minlength=self.n_atoms)


def _occupations(energies: np.ndarray, per_spin: float) -> np.ndarray:
    """Gaussian occupations ``[n_k, n_bands]`` whose k-average sums to ``per_spin``."""
    low, high = energies.min() - 1.0, energies[energies < GHOST_ENERGY / 2].max() + 1.0
    for _ in range(60):
        mu = 0.5 * (low + high)
        f = 0.5 * erfc((energies - mu) / SMEARING)
        if f.sum() / len(energies) > per_spin:
            high = mu
        else:
            low = mu
    return f


def _anderson(xs: list[np.ndarray], residuals: list[np.ndarray]) -> np.ndarray:
    """Next iterate from the history by Anderson (Pulay) mixing."""
    r = np.array(residuals)
    if len(r) == 1:
        return xs[-1] + MIXING * residuals[-1]
    a = r @ r.T
    a += 1e-12 * np.trace(a) * np.eye(len(r))
    c = np.linalg.solve(a, np.ones(len(r)))
    c /= c.sum()
    return c @ (np.array(xs) + MIXING * r)


def mulliken_charges(h: Hamiltonian) -> np.ndarray:
    """Mulliken excess electrons per atom of a Hamiltonian's H0 (no SOC), sum zero."""
    problem = _BandProblem(h)
    return problem.populations(np.zeros(problem.n_atoms)) - _valence(h)


def _valence(h: Hamiltonian) -> np.ndarray:
    z = np.array([valence_electrons(s.symbol) for s in h.structure.species])
    if abs(z.sum() - h.nelect) > 1e-6:
        raise ValueError(
            f"the atoms' PAW valences sum to {z.sum()}, the Hamiltonian has {h.nelect} "
            "electrons: only neutral cells are charge-corrected"
        )
    return z


def self_consistent_charges(
    h: Hamiltonian, progress: Callable[[int, float], None] | None = None
) -> ChargeCorrection:
    """Solve the Mulliken charges and atom potentials of H(0) + ΔH self-consistently.

    Parameters
    ----------
    h
        The zeroth-step Hamiltonian (its H0 and S are used; SOC is not).
    progress
        Called with ``(iteration, largest potential change in eV)``.

    Raises
    ------
    ValueError
        If the cell is charged, or an element has no Hubbard U.
    """
    start = time.perf_counter()
    z = _valence(h)
    gamma = gamma_matrix(h.structure, np.array([hubbard_u(s.symbol) for s in h.structure.species]))
    problem = _BandProblem(h)
    shifts = np.zeros(len(z))
    xs: list[np.ndarray] = []
    residuals: list[np.ndarray] = []
    initial = None
    converged = False
    for iteration in range(1, MAX_ITERATIONS + 1):
        charges = problem.populations(shifts) - z
        if initial is None:
            initial = charges
        target = gamma @ charges
        target -= target.mean()
        change = float(np.abs(target - shifts).max())
        if progress is not None:
            progress(iteration, change)
        if change < TOLERANCE:
            shifts, converged = target, True
            break
        xs, residuals = (xs + [shifts])[-HISTORY:], (residuals + [target - shifts])[-HISTORY:]
        shifts = _anderson(xs, residuals)
    return ChargeCorrection(
        charges=charges,
        initial_charges=initial,
        shifts=shifts,
        iterations=iteration,
        converged=converged,
        seconds=time.perf_counter() - start,
    )


def charge_corrected(h: Hamiltonian, correction: ChargeCorrection | None = None) -> Hamiltonian:
    """H(0) plus the self-consistent charge term, with its own Fermi level.

    Returns a new Hamiltonian: ``h0 + ½ S (V_A + V_B)`` on every R, S and SOC unchanged,
    ``meta["charge_correction"]`` (:meth:`ChargeCorrection.as_meta`) and ``efermi`` from
    the corrected spinor bands.

    Raises
    ------
    RuntimeError
        If the charges did not converge in :data:`MAX_ITERATIONS`.
    """
    from socscreen.analysis.bands import fermi_level

    correction = correction or self_consistent_charges(h)
    if not correction.converged:
        raise RuntimeError(
            f"charge self-consistency of {h.structure.composition.reduced_formula} did not "
            f"converge in {correction.iterations} iterations"
        )
    v = correction.shifts[h.orbitals.atom_of_orbital]
    h0 = h.h0 + 0.5 * h.overlap * (v[:, None] + v[None, :])[None]
    meta = {**h.meta, "charge_correction": correction.as_meta()}
    corrected = h._replace(h0=h0, meta=meta)
    corrected.efermi = fermi_level(corrected)
    return corrected

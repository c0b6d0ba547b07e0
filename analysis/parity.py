"""Inversion symmetry on the orbital basis and Fu-Kane parity Z2 indices.

Inversion about a centre ``c`` maps atom ``a`` at ``tau_a`` onto atom ``p(a)`` in cell
``L_a``: ``2c - tau_a = tau_p(a) + L_a``. A real-harmonic orbital picks up ``(-1)^l``, so
``P phi_{a mu}(r - tau_a - R) = (-1)^l phi_{p(a) mu}(r - tau_p(a) - (L_a - R))`` and the
Bloch sums ``chi_mu(k) = sum_R exp(2 pi i k.R) phi_mu(r - tau_mu - R)`` transform as

    ``P chi_mu(k) = (-1)^l_mu exp(2 pi i k.L_a) chi_p(mu)(-k)``.

At a time-reversal-invariant momentum (TRIM) ``-k = k - G`` and ``chi(k - G) = chi(k)``
(periodic gauge), so ``P`` is the signed permutation matrix ``P[p(mu), mu] = (-1)^l
exp(2 pi i k.L_a)`` acting on coefficient vectors; spin is untouched (``kron(I2, P)``).
``P`` commutes with ``S(k)`` at a TRIM, so in the Löwdin basis (``S^1/2 c``) the parity
operator keeps the same matrix and ``<c|S P|c>`` becomes a plain ``<u|P|u>``.

Fu and Kane (PRB 76, 045302, 2007): with ``delta_i`` the product of the parity eigenvalues
of the occupied Kramers pairs at TRIM ``Gamma_i = (n1, n2, n3) / 2``,
``(-1)^nu0 = prod_i delta_i`` and ``(-1)^nu_j = prod_{n_j = 1} delta_i``; a 2D system
has one index from its four TRIM.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import spglib

from socscreen.analysis.bloch import LowdinBloch, trim_points

__all__ = [
    "Inversion",
    "ParityZ2",
    "find_inversion",
    "fu_kane_indices",
    "hamiltonian_inversion",
    "inversion_error",
    "parity_matrix",
    "parity_z2",
    "trim_deltas",
]


@dataclass(frozen=True)
class Inversion:
    """An inversion operation of a crystal.

    Attributes
    ----------
    centre
        Inversion centre, fractional, ``[3]``.
    atom_map
        ``p(a)``: the atom each atom is mapped onto, ``[n_atoms]``.
    shifts
        Lattice vector ``L_a`` with ``2c - tau_a = tau_p(a) + L_a``, integer ``[n_atoms, 3]``.
    """

    centre: np.ndarray
    atom_map: np.ndarray
    shifts: np.ndarray


def find_inversion(
    frac_coords: np.ndarray,
    lattice: np.ndarray,
    numbers: np.ndarray,
    symprec: float = 1e-3,
) -> Inversion | None:
    """Find an inversion centre with spglib and map the atoms through it.

    Parameters
    ----------
    frac_coords
        Fractional atom positions ``[n_atoms, 3]`` (the ones the Hamiltonian uses).
    lattice
        Lattice vectors as rows, Angstrom.
    numbers
        Atomic numbers ``[n_atoms]``.
    symprec
        Distance tolerance, Angstrom.

    Returns
    -------
    Inversion or None
        ``None`` if the structure has no inversion centre within ``symprec``.
    """
    frac = np.asarray(frac_coords, dtype=float)
    cell = (np.asarray(lattice, dtype=float), frac, np.asarray(numbers, dtype=int))
    with warnings.catch_warnings():  # spglib 2.x deprecation notice about error handling
        warnings.simplefilter("ignore", DeprecationWarning)
        sym = spglib.get_symmetry(cell, symprec=symprec)
    if sym is None:
        return None
    minus_one = -np.eye(3, dtype=int)
    for rot, trans in zip(sym["rotations"], sym["translations"], strict=True):
        if not np.array_equal(rot, minus_one):
            continue
        image = trans - frac  # 2c - tau_a
        diff = image[:, None, :] - frac[None, :, :]  # [a, b, 3] = tau image - tau_b
        shift = np.rint(diff)
        dist = np.linalg.norm((diff - shift) @ cell[0], axis=-1)
        dist[numbers[:, None] != numbers[None, :]] = np.inf
        atom_map = dist.argmin(axis=1)
        if dist[np.arange(len(frac)), atom_map].max() > 2 * symprec:
            continue
        shifts = shift[np.arange(len(frac)), atom_map].astype(int)
        return Inversion(centre=trans / 2, atom_map=atom_map, shifts=shifts)
    return None


def parity_matrix(
    inversion: Inversion,
    atom_of_orbital: np.ndarray,
    l_of_orbital: np.ndarray,
    offsets: np.ndarray,
    k: np.ndarray,
    spinor: bool = True,
) -> np.ndarray:
    """Matrix of inversion on the Bloch orbitals, from k to -k.

    Parameters
    ----------
    inversion
        The operation.
    atom_of_orbital, l_of_orbital
        Atom index and angular momentum of every spinless orbital.
    offsets
        Index of each atom's first orbital, ``[n_atoms + 1]``; atoms mapped onto each
        other carry the same shells, so orbital ``offsets[a] + i`` goes to
        ``offsets[p(a)] + i``.
    k
        Fractional k ``[3]``; ``P`` maps coefficients at ``k`` to coefficients at
        ``-k`` (the same point at a TRIM).
    spinor
        Return ``kron(I2, P)`` for the spin-major spinor basis.

    Returns
    -------
    numpy.ndarray
        ``P`` with ``P[p(mu), mu] = (-1)^l exp(2 pi i k.L_a)``, complex, unitary.
    """
    atom = np.asarray(atom_of_orbital)
    local = np.arange(len(atom)) - offsets[atom]
    target = offsets[inversion.atom_map[atom]] + local
    sign = (-1.0) ** np.asarray(l_of_orbital) * np.exp(2j * np.pi * inversion.shifts[atom] @ k)
    p = np.zeros((len(atom), len(atom)), dtype=complex)
    p[target, np.arange(len(atom))] = sign
    return np.kron(np.eye(2), p) if spinor else p


def _operators(source: LowdinBloch, inversion: Inversion, k: np.ndarray) -> list[np.ndarray]:
    """``P`` (spinor if ``source.spinor``) at every k of ``[n_k, 3]``."""
    orb = source.ham.orbitals
    atom, ell, offsets = orb.atom_of_orbital, orb.l_of_orbital, orb.atom_offsets
    return [parity_matrix(inversion, atom, ell, offsets, kpt, spinor=source.spinor) for kpt in k]


def inversion_error(
    source: LowdinBloch,
    inversion: Inversion,
    k: np.ndarray,
    h_plus: np.ndarray | None = None,
    h_minus: np.ndarray | None = None,
) -> float:
    """How far the Hamiltonian is from inversion symmetric: ``max |P H(k) P^+ - H(-k)|``.

    Parameters
    ----------
    source
        Löwdin Bloch Hamiltonian (the Löwdin transformation keeps the symmetry).
    inversion
        The operation found for the structure.
    k
        Fractional k-points ``[n_k, 3]``.
    h_plus, h_minus
        ``source.hamiltonian_k(k)`` and ``source.hamiltonian_k(-k)`` if already computed.

    Returns
    -------
    float
        Largest element deviation, eV (a structure can be centrosymmetric while its
        Hamiltonian is not, e.g. a staggered potential on equal atoms).
    """
    h_plus = source.hamiltonian_k(k) if h_plus is None else h_plus
    h_minus = source.hamiltonian_k(-k) if h_minus is None else h_minus
    error = 0.0
    for p, hp, hm in zip(_operators(source, inversion, k), h_plus, h_minus, strict=True):
        error = max(error, float(np.abs(p @ hp @ np.conj(p.T) - hm).max()))
    return error


def hamiltonian_inversion(
    source: LowdinBloch, symprec: float = 1e-3, tol_eV: float = 1e-3
) -> tuple[Inversion | None, float | None]:
    """Inversion of the structure, kept only if the Hamiltonian respects it.

    Parameters
    ----------
    source
        Löwdin Bloch Hamiltonian of a container.
    symprec
        Structural tolerance, Angstrom.
    tol_eV
        Largest :func:`inversion_error` (at the TRIM and two random k) accepted, eV.

    Returns
    -------
    tuple
        The inversion (or ``None``) and the measured symmetry error (eV; ``None`` when
        the structure has no inversion centre).
    """
    structure = source.ham.structure
    inversion = find_inversion(
        structure.frac_coords,
        structure.lattice.matrix,
        np.array(structure.atomic_numbers),
        symprec=symprec,
    )
    if inversion is None:
        return None, None
    trim = trim_points(source.periodic)
    probe = np.random.default_rng(0).random((2, 3)) * source.periodic
    h_trim = source.hamiltonian_k(trim)
    error = max(
        inversion_error(source, inversion, trim, h_trim, h_trim),  # -TRIM = TRIM mod G
        inversion_error(source, inversion, probe),
    )
    return (inversion if error <= tol_eV else None), error


@dataclass(frozen=True)
class ParityZ2:
    """Fu-Kane parity result.

    Attributes
    ----------
    z2
        ``[nu0, nu1, nu2, nu3]`` (3D) or ``[nu]`` (2D).
    trim
        The TRIM, fractional ``[n_trim, 3]``.
    deltas
        Product of occupied Kramers-pair parities at each TRIM (+1 or -1).
    trim_gap_eV
        Smallest gap between band ``n_occ - 1`` and ``n_occ`` over the TRIM, eV.
    parity_error
        Largest deviation of the occupied parity eigenvalues from +-1 (0 for an exact
        symmetry and a gap at every TRIM).
    """

    z2: list[int]
    trim: np.ndarray
    deltas: np.ndarray
    trim_gap_eV: float
    parity_error: float


def trim_deltas(
    source: LowdinBloch,
    inversion: Inversion,
    n_occ: int,
    trim: np.ndarray,
    h_trim: np.ndarray | None = None,
) -> tuple[np.ndarray, float, float]:
    """Occupied-pair parity products at TRIM.

    Parameters
    ----------
    source, inversion
        Bloch Hamiltonian and inversion operation.
    n_occ
        Occupied bands.
    trim
        TRIM, fractional ``[n_trim, 3]``.
    h_trim
        ``source.hamiltonian_k(trim)`` if already computed.

    Returns
    -------
    tuple
        ``deltas`` ``[n_trim]`` (+-1), the smallest TRIM gap (eV) and the parity error.
    """
    h_trim = source.hamiltonian_k(trim) if h_trim is None else h_trim
    e, u = np.linalg.eigh(h_trim)
    gap = float((e[:, n_occ] - e[:, n_occ - 1]).min()) if n_occ < e.shape[1] else np.inf
    deltas, error = [], 0.0
    for p, vec in zip(_operators(source, inversion, trim), u[:, :, :n_occ], strict=True):
        x = np.conj(vec.T) @ p @ vec
        xi = np.linalg.eigvalsh(0.5 * (x + np.conj(x.T)))
        error = max(error, float(np.abs(np.abs(xi) - 1).max()))
        n_minus = int((xi < 0).sum())
        pairs = n_minus // 2 if source.spinor else n_minus
        deltas.append(-1 if pairs % 2 else 1)
    return np.array(deltas), gap, error


def parity_z2(source: LowdinBloch, n_occ: int, inversion: Inversion) -> ParityZ2:
    """Fu-Kane Z2 indices from parity eigenvalues at the TRIM.

    Parameters
    ----------
    source
        Löwdin Bloch Hamiltonian of the container (spinor basis).
    n_occ
        Occupied spinor bands (even).
    inversion
        Inversion operation respected by the Hamiltonian (:func:`hamiltonian_inversion`;
        a structural centre alone is not enough).

    Returns
    -------
    ParityZ2
        Indices, per-TRIM parity products, TRIM gap and parity error.

    Raises
    ------
    ValueError
        If ``n_occ`` is odd or the system is neither 2D nor 3D.
    """
    if source.spinor and n_occ % 2:
        raise ValueError(f"{n_occ} occupied spinor bands cannot fill Kramers pairs")
    periodic = source.periodic
    dim = int(periodic.sum())
    if dim not in (2, 3):
        raise ValueError(f"Z2 needs a 2D or 3D system, this one has {dim} periodic axes")
    trim = trim_points(periodic)
    deltas, gap, error = trim_deltas(source, inversion, n_occ, trim)
    z2 = fu_kane_indices(trim, deltas)
    return ParityZ2(z2=z2, trim=trim, deltas=deltas, trim_gap_eV=gap, parity_error=error)


def fu_kane_indices(trim: np.ndarray, deltas: np.ndarray) -> list[int]:
    """Fu-Kane Z2 indices from the parity products at the TRIM.

    Parameters
    ----------
    trim
        TRIM, fractional ``[n_trim, 3]`` with entries 0 or 1/2 (8 in 3D, 4 in 2D with
        the non-periodic axis at 0).
    deltas
        Product of the occupied Kramers-pair parities at each TRIM (+1 or -1).

    Returns
    -------
    list of int
        ``[nu0, nu1, nu2, nu3]`` for 8 TRIM, ``[nu]`` for 4.

    Raises
    ------
    ValueError
        If the number of TRIM is neither 4 nor 8, or a TRIM coordinate is not 0 or 1/2.
    """
    trim = np.asarray(trim, dtype=float)
    if len(trim) not in (4, 8) or len(deltas) != len(trim):
        raise ValueError(f"need 4 or 8 TRIM with one product each, got {len(trim)}, {len(deltas)}")
    if not np.all(np.isclose(trim, 0.0) | np.isclose(trim, 0.5)):
        raise ValueError("TRIM coordinates must be 0 or 1/2 (fractional, reduced)")
    odd = np.asarray(deltas) < 0
    nu0 = int(odd.sum() % 2)
    if len(trim) == 4:
        return [nu0]
    return [nu0] + [int(odd[np.isclose(trim[:, j], 0.5)].sum() % 2) for j in range(3)]

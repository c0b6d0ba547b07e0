"""Valley quantities of a hexagonal 2D sheet: spin splittings, gap and Berry curvature at K.

In a hexagonal sheet without inversion (2H MX2 monolayers, gapped honeycombs) the band
edges sit at the zone corners K and K' = -K (:func:`~socscreen.analysis.berry.valley_points`).
Spin-orbit coupling splits the bands there into pairs of opposite spin, with the spins
reversed between the valleys (spin-valley locking: time reversal maps the state
``(K, up)`` onto ``(K', down)`` at the same energy); the occupied bands carry Berry
curvature of opposite sign at K and K' (valley Hall effect), and the transition across
the gap at K absorbs one circular polarisation, at K' the other (valley-contrasting
circular dichroism).

Conventions: spinor bands with SOC of the container's Löwdin Bloch Hamiltonian
(:class:`~socscreen.analysis.bloch.LowdinBloch`: exact at K, and differentiated there
numerically for the velocities, :meth:`LowdinBloch.velocity_k`; a truncated real-space
Löwdin model is off by tenths of an eV between its grid points in MX2 sheets, whose
``S(k)`` is nearly singular); the lowest ``nelect`` bands are occupied; energies eV; k
fractional in the reciprocal basis of the container's cell; Berry curvature (Kubo,
:func:`~socscreen.analysis.berry.berry_curvature`, tight-binding convention) along the
sheet normal ``n = b1 x b2 / |b1 x b2|`` of the two periodic axes, Angstrom^2; spins are
``<sigma_z>`` along Cartesian z, in [-1, 1] (Löwdin orbitals stay pure spin states).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from socscreen.analysis.band_edges import BandEdges, band_edges
from socscreen.analysis.berry import berry_curvature, valley_points
from socscreen.analysis.bloch import LowdinBloch, n_occupied
from socscreen.hamiltonian import Hamiltonian
from socscreen.sparse_hamiltonian import SparseHamiltonian

__all__ = ["ValleyQuantities", "hexagonal_sheet", "valley_edges", "valley_quantities"]


@dataclass(frozen=True)
class ValleyQuantities:
    """Valley figures of a hexagonal sheet (see the module docstring for conventions).

    Attributes
    ----------
    k_valley
        Fractional K (K' = -K).
    valence_splitting_eV
        Spin splitting of the top valence pair at K, ``E[v] - E[v - 1]`` (eV).
    conduction_splitting_eV
        Spin splitting of the bottom conduction pair at K, ``E[c + 1] - E[c]`` (eV).
    direct_gap_k_eV
        Direct gap at K, ``E[c] - E[v]`` (eV).
    omega_k, omega_k_prime
        Berry curvature of the occupied bands at K and K' (Angstrom^2).
    valence_spin_k, conduction_spin_k
        ``<sigma_z>`` of the top valence and the bottom conduction band at K.
    circular_dichroism_k, circular_dichroism_k_prime
        Degree of circular polarisation of the transitions from the top valence band to
        the bottom conduction pair, ``(|P+|^2 - |P-|^2) / (|P+|^2 + |P-|^2)`` with
        ``P+- = <c|v_1 +- i v_2|v>`` in the sheet plane (right-handed about the normal):
        +-1 for one circular polarisation, opposite in the two valleys.

    The last six are ``None`` where only the band edges at K are known
    (:meth:`from_edges`: a large cell, :func:`valley_edges`).
    """

    k_valley: list[float]
    valence_splitting_eV: float
    conduction_splitting_eV: float
    direct_gap_k_eV: float
    omega_k: float | None = None
    omega_k_prime: float | None = None
    valence_spin_k: float | None = None
    conduction_spin_k: float | None = None
    circular_dichroism_k: float | None = None
    circular_dichroism_k_prime: float | None = None

    @classmethod
    def from_edges(cls, at_k: BandEdges) -> ValleyQuantities:
        """Build the splittings and the direct gap at K from its band edges (eV)."""
        return cls(
            k_valley=at_k.k,
            valence_splitting_eV=at_k.valence_splitting,
            conduction_splitting_eV=at_k.conduction_splitting,
            direct_gap_k_eV=at_k.direct_gap,
        )


def hexagonal_sheet(ham: Hamiltonian) -> bool:
    """Whether the container is a 2D sheet (two periodic axes) with a hexagonal lattice."""
    try:
        valley_points(LowdinBloch(ham))
    except ValueError:
        return False
    return True


def valley_quantities(ham: Hamiltonian) -> ValleyQuantities:
    """Spin splittings, gap, Berry curvature and circular dichroism at K and K'.

    Parameters
    ----------
    ham
        Container of a hexagonal 2D sheet with spin-orbit blocks and an even ``nelect``.

    Raises
    ------
    ValueError
        If the container has no spin-orbit blocks, an odd electron count, no conduction
        pair, or is not a hexagonal 2D sheet.
    """
    if not ham.has_soc:
        raise ValueError("valley quantities need a Hamiltonian with spin-orbit blocks")
    if ham.nelect % 2:
        raise ValueError(f"valley quantities need an even electron count, got {ham.nelect:g}")
    source = LowdinBloch(ham.symmetrized())
    valleys = np.stack(valley_points(source))  # [K, K']
    v = n_occupied(ham.nelect) - 1  # top valence band; v + 1 the bottom conduction band
    if v < 1 or v + 3 > source.n_basis:
        raise ValueError(f"{v + 1} occupied bands leave no valence or conduction pair")
    h, dh = source.velocity_k(valleys)
    e, u = np.linalg.eigh(h)  # [2, m], [2, m, m]
    half = source.n_basis // 2
    spin = (np.abs(u[:, :half]) ** 2).sum(axis=1) - (np.abs(u[:, half:]) ** 2).sum(axis=1)
    normal, in_plane = _sheet_axes(source)
    omega = berry_curvature(source, valleys, n_occ=v + 1) @ normal
    plus, minus = _circular_weights(u, np.einsum("xa,kaij->kxij", in_plane, dh), v)
    dichroism = (plus - minus) / (plus + minus)
    spin, dichroism = np.clip(spin, -1, 1), np.clip(dichroism, -1, 1)  # round-off
    return ValleyQuantities(
        k_valley=valleys[0].tolist(),
        valence_splitting_eV=float(e[0, v] - e[0, v - 1]),
        conduction_splitting_eV=float(e[0, v + 2] - e[0, v + 1]),
        direct_gap_k_eV=float(e[0, v + 1] - e[0, v]),
        omega_k=float(omega[0]),
        omega_k_prime=float(omega[1]),
        valence_spin_k=float(spin[0, v]),
        conduction_spin_k=float(spin[0, v + 1]),
        circular_dichroism_k=float(dichroism[0]),
        circular_dichroism_k_prime=float(dichroism[1]),
    )


def _sheet_axes(tb: LowdinBloch) -> tuple[np.ndarray, np.ndarray]:
    """Return the unit normal ``b1 x b2`` ``[3]`` and a right-handed in-plane pair ``[2, 3]``."""
    axes = np.flatnonzero(tb.periodic)
    recip = np.linalg.inv(tb.lattice).T  # rows b_i (no 2 pi)
    normal = np.cross(recip[axes[0]], recip[axes[1]])
    normal /= np.linalg.norm(normal)
    first = tb.lattice[axes[0]] - (tb.lattice[axes[0]] @ normal) * normal
    first /= np.linalg.norm(first)
    return normal, np.stack([first, np.cross(normal, first)])


def _circular_weights(u: np.ndarray, velocity: np.ndarray, v: int) -> tuple[np.ndarray, np.ndarray]:
    """``|P+|^2`` and ``|P-|^2`` from band ``v`` to the pair above it, per k ``[n_k]``.

    ``u`` are the eigenvectors ``[n_k, m, m]``, ``velocity`` the in-plane ``dH/dk``
    ``[n_k, 2, m, m]`` (eV Angstrom) in the same basis.
    """
    c = slice(v + 1, v + 3)
    p = np.einsum("kic,kxij,kj->kxc", u[:, :, c].conj(), velocity, u[:, :, v])  # [n_k, 2, 2]
    plus = np.abs(p[:, 0] + 1j * p[:, 1]) ** 2
    minus = np.abs(p[:, 0] - 1j * p[:, 1]) ** 2
    return plus.sum(axis=-1), minus.sum(axis=-1)


def valley_edges(
    ham: Hamiltonian | SparseHamiltonian,
    method: Literal["auto", "dense", "shift-invert", "second-variation"] = "auto",
) -> dict[str, BandEdges]:
    """Spin pairs at the band edges at K, K' and Γ of a hexagonal sheet of any size (eV).

    The valley figures of a large cell (a twisted bilayer of hundreds of atoms, where
    each layer's K folds onto the cell's K or Γ): splittings ``E[v] - E[v - 1]`` and
    ``E[c + 1] - E[c]`` and the direct gaps from the bands nearest ``ham.efermi``
    (:func:`~socscreen.analysis.band_edges.band_edges` with ``method``; by default shift-invert
    above :data:`~socscreen.analysis.band_edges.LANCZOS_SIZE` spinor orbitals and second
    variation for a :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`; no Löwdin
    velocities, Berry curvature or dichroism); the same numbers as :func:`valley_quantities` where
    both run. K' is not solved again: the container is time-reversal symmetric by
    construction (its down-spin blocks are the time reverses of the up-spin ones), so
    K' = -K has K's energies exactly (Kramers).

    Returns
    -------
    dict
        ``{"K": ..., "K'": ..., "Gamma": ...}``.

    Raises
    ------
    ValueError
        If the container is not a hexagonal 2D sheet, has no spin-orbit blocks or no
        Fermi level in a gap.
    """
    if not ham.has_soc:
        raise ValueError("valley quantities need a Hamiltonian with spin-orbit blocks")
    k, k_prime = valley_points(LowdinBloch(ham))  # reads its lattice and periodic axes only
    at_k, gamma = band_edges(ham, np.stack([k, np.zeros(3)]), method=method)
    # Kramers: K' = -K has K's energies (docstring)
    at_k_prime = BandEdges(k_prime.tolist(), at_k.valence, at_k.conduction)
    return {"K": at_k, "K'": at_k_prime, "Gamma": gamma}

"""Periodic radius graph: every atom pair (i, j, R) that has a Hamiltonian block.

Edge ``e = (i, j, R)`` stands for the block between atom ``i`` in the home cell and atom
``j`` in cell ``R`` (integer, fractional lattice vector), with the Cartesian vector
``d = τ_j + R·A − τ_i`` (Å, A the lattice rows). A pair is an edge when
``|d| < r_i + r_j`` with ``r`` the orbital cutoff radius of each element, so the graph
holds exactly the pairs whose orbitals overlap. Self edges ``(i, i, 0)`` carry the
on-site blocks. Every edge knows its partner ``(j, i, -R)``; a network fills the
partner's block with the transpose (``H_ji(-R) = H_ij(R)ᵀ``), which makes predicted
Hamiltonians Hermitian by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

__all__ = ["CrystalGraph", "radius_graph"]


@dataclass(frozen=True)
class CrystalGraph:
    """Edges of one crystal (numpy arrays; edges sorted by ``(i, j, R)``).

    Attributes
    ----------
    edge_index
        Row atom ``i`` and column atom ``j`` of every edge, shape ``[2, n_edges]``.
    shifts
        Lattice vector ``R`` of the column atom, integer, shape ``[n_edges, 3]``.
    vectors
        Cartesian ``d = τ_j + R·A − τ_i`` (Å), shape ``[n_edges, 3]``.
    cutoffs
        Pair cutoff ``r_i + r_j`` (Å), shape ``[n_edges]``.
    partner
        Index of the edge ``(j, i, -R)``, shape ``[n_edges]``; a self edge is its own
        partner.
    """

    edge_index: np.ndarray
    shifts: np.ndarray
    vectors: np.ndarray
    cutoffs: np.ndarray
    partner: np.ndarray

    @property
    def n_edges(self) -> int:
        """Number of directed edges, self edges included."""
        return int(self.edge_index.shape[1])

    @property
    def is_self(self) -> np.ndarray:
        """Mask of the on-site edges ``(i, i, 0)``, shape ``[n_edges]``."""
        return (self.edge_index[0] == self.edge_index[1]) & ~self.shifts.any(axis=1)

    @property
    def lattice_vectors(self) -> np.ndarray:
        """Distinct ``R`` of the edges, sorted, shape ``[n_R, 3]`` (closed under ``-R``)."""
        return np.unique(self.shifts, axis=0)


def _site_cutoffs(structure: Structure, cutoffs: Mapping[str, float]) -> np.ndarray:
    symbols = [site.specie.symbol for site in structure]
    missing = sorted(set(symbols) - set(cutoffs))
    if missing:
        raise ValueError(f"no orbital cutoff radius for element(s) {missing}")
    radii = np.array([float(cutoffs[s]) for s in symbols])
    if np.any(radii <= 0):
        raise ValueError("orbital cutoff radii must be positive (Angstrom)")
    return radii


def radius_graph(structure: Structure, cutoffs: Mapping[str, float]) -> CrystalGraph:
    """All pairs with overlapping orbitals, plus on-site self edges.

    Parameters
    ----------
    structure
        Periodic crystal (pymatgen), Cartesian coordinates in Å.
    cutoffs
        Orbital cutoff radius per element symbol (Å): the largest radius of the
        element's basis functions.

    Returns
    -------
    CrystalGraph
        Edges with ``|d| < r_i + r_j`` (and ``(i, i, 0)``), sorted by ``(i, j, R)``.
    """
    radii = _site_cutoffs(structure, cutoffs)
    center, neighbor, images, _ = structure.get_neighbor_list(r=2 * radii.max() + 0.1)
    shifts = np.rint(images).astype(int)
    frac = structure.frac_coords
    # (f_j - f_i) + R is exactly antisymmetric in floating point, so an edge and its
    # partner pass the distance test together.
    vectors = ((frac[neighbor] - frac[center]) + shifts) @ structure.lattice.matrix
    keep = np.linalg.norm(vectors, axis=1) < radii[center] + radii[neighbor]
    n = len(structure)
    center = np.concatenate([center[keep], np.arange(n)])
    neighbor = np.concatenate([neighbor[keep], np.arange(n)])
    shifts = np.concatenate([shifts[keep], np.zeros((n, 3), dtype=int)])
    vectors = np.concatenate([vectors[keep], np.zeros((n, 3))])
    order = np.lexsort((shifts[:, 2], shifts[:, 1], shifts[:, 0], neighbor, center))
    center, neighbor, shifts, vectors = (
        center[order],
        neighbor[order],
        shifts[order],
        vectors[order],
    )
    partner = _partner_index(center, neighbor, shifts)
    return CrystalGraph(
        edge_index=np.stack([center, neighbor]),
        shifts=shifts,
        vectors=vectors,
        cutoffs=radii[center] + radii[neighbor],
        partner=partner,
    )


def _partner_index(center: np.ndarray, neighbor: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Index of ``(j, i, -R)`` for each edge ``(i, j, R)`` (vectorised lookup)."""
    span = int(np.abs(shifts).max(initial=0)) + 1
    base = 2 * span + 1
    n = int(max(center.max(initial=0), neighbor.max(initial=0))) + 1

    def key(a: np.ndarray, b: np.ndarray, r: np.ndarray) -> np.ndarray:
        r = r + span
        return ((a * n + b) * base + r[:, 0]) * base**2 + r[:, 1] * base + r[:, 2]

    forward = key(center, neighbor, shifts)
    backward = key(neighbor, center, -shifts)
    order = np.argsort(forward)
    pos = np.searchsorted(forward, backward, sorter=order)
    partner = order[np.clip(pos, 0, len(order) - 1)]
    if not np.array_equal(forward[partner], backward):
        raise RuntimeError("radius graph is not symmetric: an edge lacks its partner")
    return partner

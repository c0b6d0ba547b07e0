"""Three-centre PAW term of GPAW's LCAO overlap.

``ΔS_μν(R) = Σ_a Σ_ij <φ̃_μ | p̃^a_i> ΔO^a_ij <p̃^a_j | φ̃_ν(· − R)>``: for every projector
atom a (home cell; other cells by translation) the projections ``P_e = <p̃^a | φ̃ of atom
j in cell R_e>`` of all orbital atoms within reach (graph edges ``e = (a, j, R_e)``) enter
``P_aᵀ ΔO_a P_a``, whose block ``(e1, e2)`` belongs to ``S`` between atom ``j1`` and atom
``j2`` at ``R = R_e2 − R_e1``. The products run as one padded batch of dense matrix
products per projector element (BLAS), and blocks are summed per target before they are
added to the output.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from socscreen.dft.basis_functions import load_basis
from socscreen.dft.block_assembly import (
    add_blocks,
    group_sum,
    padded_by_centre,
    row_lookup,
    same_centre_pairs,
)
from socscreen.dft.gpaw_files import BOHR, setup_paths
from socscreen.dft.graph import CrystalGraph
from socscreen.dft.paw_setups import load_setup
from socscreen.dft.two_centre import TwoCentreTable

__all__ = ["add_projector_term", "projector_radius"]

#: Largest number of matrix elements of one batch of products ``P_aᵀ ΔO_a P_a``.
_CHUNK_ELEMENTS = 4_000_000


@lru_cache(maxsize=2048)
def _projector_table(
    symbol_a: str, symbol_b: str, basis_name: str, xc: str, paths: tuple[Path, ...]
) -> TwoCentreTable:
    """``<p̃_a | φ̃_b(· − d)>`` between the projectors of a and the basis of b."""
    return TwoCentreTable(
        load_setup(symbol_a, xc).projectors, load_basis(symbol_b, basis_name).functions
    )


def projector_radius(symbol: str, xc: str = "PBE") -> float:
    """Largest projector cutoff of an element's PAW setup, Angstrom."""
    return max(p.cutoff for p in load_setup(symbol, xc).projectors) * BOHR


def _summed_products(
    left: np.ndarray,
    right: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    groups: np.ndarray,
    n_groups: int,
) -> np.ndarray:
    """Per-target sums of ``left[row, s1]ᵀ right[row, s2]`` over the given pairs.

    Parameters
    ----------
    left, right
        Padded per-atom edge arrays ``[n_atoms, width, n_i, n_orb]`` (projections and
        ``ΔO``-weighted projections).
    pairs
        ``(row, slot_1, slot_2)`` of each pair, sorted by ``row``.
    groups
        Target id of each pair.
    n_groups
        Number of targets.

    Returns
    -------
    numpy.ndarray
        Shape ``[n_groups, n_orb_1 * n_orb_2]``.
    """
    n_rows, width_1, n_i, nao_1 = left.shape
    width_2, nao_2 = right.shape[1], right.shape[3]
    lhs = left.transpose(0, 1, 3, 2).reshape(n_rows, width_1 * nao_1, n_i)
    rhs = right.transpose(0, 2, 1, 3).reshape(n_rows, n_i, width_2 * nao_2)
    row, slot_1, slot_2 = pairs
    out = np.zeros((n_groups, nao_1 * nao_2))
    step = max(1, _CHUNK_ELEMENTS // max(1, width_1 * nao_1 * width_2 * nao_2))
    for start in range(0, n_rows, step):
        products = (lhs[start : start + step] @ rhs[start : start + step]).reshape(
            -1, width_1, nao_1, width_2, nao_2
        )
        lo, hi = np.searchsorted(row, [start, start + step])
        if hi == lo:
            continue
        blocks = products[row[lo:hi] - start, slot_1[lo:hi], :, slot_2[lo:hi], :]
        out += group_sum(groups[lo:hi], n_groups, blocks.reshape(hi - lo, -1))
    return out


def add_projector_term(
    out: np.ndarray,
    graph: CrystalGraph,
    R: np.ndarray,
    offsets: np.ndarray,
    kind: np.ndarray,
    species: list[str],
    basis_name: str,
    xc: str = "PBE",
) -> None:
    """Add the three-centre PAW term to overlap blocks ``out`` (in place).

    Parameters
    ----------
    out
        Overlap blocks ``[n_R, n, n]`` for the lattice vectors ``R``.
    graph
        Radius graph of the crystal whose edges include every (projector atom, orbital
        atom) pair closer than their projector + basis cutoffs.
    R
        Lattice vectors of ``out``, integer, shape ``[n_R, 3]``.
    offsets
        First orbital of each atom (``OrbitalTable.atom_offsets``).
    kind
        Index into ``species`` of each atom.
    species
        Element symbols.
    basis_name, xc
        Basis set and setup functional.
    """
    paths = setup_paths()
    centre, other = graph.edge_index
    distance = np.linalg.norm(graph.vectors, axis=1)
    phi_radius = np.array([load_basis(s, basis_name).cutoff for s in species])[kind]
    proj_radius = np.array([projector_radius(s, xc) for s in species])[kind]
    reach = np.flatnonzero(distance < proj_radius[centre] + phi_radius[other])
    n_atoms, n_kinds = len(kind), len(species)
    edges, projections = {}, {}  # (projector kind, orbital kind) -> edges, P[e, i, orbital]
    for a in range(n_kinds):
        for b in range(n_kinds):
            sel = reach[(kind[centre[reach]] == a) & (kind[other[reach]] == b)]
            table = _projector_table(species[a], species[b], basis_name, xc, paths)
            edges[a, b], projections[a, b] = sel, table(graph.vectors[sel] / BOHR)
    for b1 in range(n_kinds):
        for b2 in range(n_kinds):
            pairs, keys = {}, []
            for a in range(n_kinds):
                sel_1, sel_2 = edges[a, b1], edges[a, b2]
                first, second = same_centre_pairs(centre[sel_1], centre[sel_2])
                target = row_lookup(R, graph.shifts[sel_2[second]] - graph.shifts[sel_1[first]])
                keep = target >= 0
                first, second, target = first[keep], second[keep], target[keep]
                pairs[a] = (first, second)
                keys.append(
                    (target * n_atoms + other[sel_1[first]]) * n_atoms + other[sel_2[second]]
                )
            keys = np.concatenate(keys)
            if len(keys) == 0:
                continue
            unique, groups = np.unique(keys, return_inverse=True)
            nao_1, nao_2 = projections[0, b1].shape[2], projections[0, b2].shape[2]
            compact = np.zeros((len(unique), nao_1 * nao_2))
            done = 0
            for a, (first, second) in pairs.items():
                atoms = np.flatnonzero(kind == a)
                rank = np.zeros(n_atoms, dtype=int)
                rank[atoms] = np.arange(len(atoms))
                sel_1, sel_2 = edges[a, b1], edges[a, b2]
                correction = load_setup(species[a], xc).overlap_correction
                left, slot_1 = padded_by_centre(projections[a, b1], centre[sel_1], rank, len(atoms))
                right, slot_2 = padded_by_centre(
                    correction @ projections[a, b2], centre[sel_2], rank, len(atoms)
                )
                compact += _summed_products(
                    left,
                    right,
                    (rank[centre[sel_1[first]]], slot_1[first], slot_2[second]),
                    groups[done : done + len(first)],
                    len(unique),
                )
                done += len(first)
            target, rest = np.divmod(unique, n_atoms * n_atoms)
            atom_1, atom_2 = np.divmod(rest, n_atoms)
            add_blocks(
                out, target, offsets[atom_1], offsets[atom_2], compact.reshape(-1, nao_1, nao_2)
            )

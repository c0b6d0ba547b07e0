"""The exact LCAO overlap S(R) of a crystal in GPAW's basis, without an SCF or GPAW.

GPAW's LCAO overlap (the ``S(R)`` of the corpus) is the PAW overlap of the basis functions,

    S_μν(R) = <φ̃_μ | φ̃_ν(· − R)>  +  Σ_a Σ_ij <φ̃_μ | p̃^a_i> ΔO^a_ij <p̃^a_j | φ̃_ν(· − R)>,

a two-centre term plus a three-centre term through the projectors ``p̃^a`` of every atom
a (in any cell) that both orbitals reach (:mod:`~socscreen.dft.paw_overlap`). Both are
built from exact two-centre integrals (:class:`~socscreen.dft.two_centre.TwoCentreTable`)
of GPAW's own splines of the basis functions and projectors
(:mod:`~socscreen.dft.basis_functions`, :mod:`~socscreen.dft.paw_setups`), so S
depends only on the geometry and the basis name. It agrees with the corpus to the
float32 rounding of the files (≤ 4e-7 on every stored element) and with a live GPAW to
≤ 1.3e-6, the precision of GPAW's own coarser integral tables.

Conventions (the corpus's, as in socscreen/hamiltonian.py):
``S[iR][μ, ν] = <φ_μ(r − τ_μ) | φ_ν(r − τ_ν − R)>`` with R fractional (integer) and the
displacement ``d = τ_ν + R·A − τ_μ`` (Å, A the lattice rows).
Pairs come from :func:`socscreen.dft.graph.radius_graph`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from socscreen.dft.basis_functions import load_basis
from socscreen.dft.block_assembly import add_blocks, row_lookup
from socscreen.dft.gpaw_files import BOHR, setup_paths
from socscreen.dft.graph import radius_graph
from socscreen.dft.paw_overlap import add_projector_term, projector_radius
from socscreen.dft.two_centre import TwoCentreTable
from socscreen.orbitals import OrbitalTable

__all__ = ["overlap_matrices", "overlapping_R"]


@lru_cache(maxsize=2048)
def _orbital_table(
    symbol_a: str, symbol_b: str, basis_name: str, paths: tuple[Path, ...]
) -> TwoCentreTable:
    """``<φ̃_a | φ̃_b(· − d)>`` between the basis functions of two elements."""
    return TwoCentreTable(
        load_basis(symbol_a, basis_name).functions, load_basis(symbol_b, basis_name).functions
    )


def _species(structure: Structure) -> tuple[list[str], np.ndarray]:
    """Distinct element symbols (sorted) and the index of each site's element."""
    symbols = [site.specie.symbol for site in structure]
    species = sorted(set(symbols))
    return species, np.array([species.index(s) for s in symbols], dtype=int)


def overlapping_R(structure: Structure, basis_name: str = "szp(dzp)") -> np.ndarray:
    """Lattice vectors R with overlapping basis functions.

    Parameters
    ----------
    structure
        The crystal (Å).
    basis_name
        GPAW basis name.

    Returns
    -------
    numpy.ndarray
        Every R (integer, fractional, sorted, closed under inversion, with 0) for which
        an atom i of the home cell and an atom j of cell R are closer than
        ``r_i + r_j`` (the elements' largest basis cutoffs), shape ``[n_R, 3]``. These are
        the blocks of the two-centre term; the three-centre PAW term reaches a little
        further (by the projector radii) with elements below 1e-6 there.
    """
    species, _ = _species(structure)
    cutoffs = {s: load_basis(s, basis_name).cutoff for s in species}
    return radius_graph(structure, cutoffs).lattice_vectors


def _check_orbitals(structure: Structure, orbitals: OrbitalTable) -> None:
    if list(structure.atomic_numbers) != list(orbitals.numbers):
        raise ValueError("structure sites and orbital-table atoms differ")
    for symbol, shells in orbitals.element_shells.items():
        expected = load_basis(symbol, orbitals.basis_name).shells
        if tuple(shells) != expected:
            raise ValueError(
                f"orbital table gives {symbol} shells {tuple(shells)}, but basis "
                f"{orbitals.basis_name!r} has {expected}"
            )


def overlap_matrices(
    structure: Structure, orbitals: OrbitalTable, R: np.ndarray, xc: str = "PBE"
) -> np.ndarray:
    """Exact LCAO overlap blocks S(R) of a crystal (GPAW's, PAW term included).

    Parameters
    ----------
    structure
        The crystal (Å); site order equals the atom order of ``orbitals``.
    orbitals
        Orbital table; its ``basis_name`` (e.g. ``"szp(dzp)"``) selects the basis.
    R
        Lattice vectors (integer, fractional), shape ``[n_R, 3]``, distinct.
    xc
        Functional of the PAW setups whose projectors enter the PAW term.

    Returns
    -------
    numpy.ndarray
        ``S[iR, μ, ν] = <φ_μ(r − τ_μ) | φ_ν(r − τ_ν − R_iR)>`` (dimensionless), shape
        ``[n_R, n, n]``; blocks of R outside the orbitals' reach are zero.

    Raises
    ------
    ValueError
        If the orbital table does not match the structure or the basis, ``R`` has the
        wrong shape or repeats a vector, or an element has no basis file / usable PAW
        setup.
    """
    _check_orbitals(structure, orbitals)
    basis_name = orbitals.basis_name
    R = np.asarray(R)
    if R.ndim != 2 or R.shape[1] != 3 or not np.issubdtype(R.dtype, np.integer):
        raise ValueError(f"R must be an integer array of shape [n_R, 3], got {R.shape} {R.dtype}")
    if len(np.unique(R, axis=0)) != len(R):
        raise ValueError("R contains duplicate lattice vectors")
    paths = setup_paths()
    species, kind = _species(structure)
    phi_cut = np.array([load_basis(s, basis_name).cutoff for s in species])
    radii = np.maximum(phi_cut, [projector_radius(s, xc) for s in species])
    graph = radius_graph(structure, dict(zip(species, radii, strict=True)))
    centre, other = graph.edge_index
    distance = np.linalg.norm(graph.vectors, axis=1)
    offsets = orbitals.atom_offsets
    out = np.zeros((len(R), orbitals.n_orbitals, orbitals.n_orbitals))

    r_index = row_lookup(R, graph.shifts)
    overlapping = (distance < phi_cut[kind[centre]] + phi_cut[kind[other]]) & (r_index >= 0)
    for a, symbol_a in enumerate(species):
        for b, symbol_b in enumerate(species):
            sel = np.flatnonzero(overlapping & (kind[centre] == a) & (kind[other] == b))
            if len(sel):
                table = _orbital_table(symbol_a, symbol_b, basis_name, paths)
                blocks = table(graph.vectors[sel] / BOHR)
                add_blocks(out, r_index[sel], offsets[centre[sel]], offsets[other[sel]], blocks)
    add_projector_term(out, graph, R, offsets, kind, species, basis_name, xc)
    return out

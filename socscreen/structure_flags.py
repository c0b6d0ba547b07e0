"""What a crystal's geometry and elements say before anything is computed: slabs, magnetism.

Campaign ingestion records both on every structure, and every result of the structure
carries the flags (:mod:`socscreen.stores.verdicts` says what they mean):

* ``two_dimensional``: along one lattice direction the atoms leave an empty layer at
  least :data:`VACUUM_2D` thick (nucleus to nucleus): a slab, i.e. a 2D sheet with
  vacuum. :func:`centred` moves such a sheet into the middle of its cell, so that no
  bond crosses the cell boundary along the vacuum and the Hamiltonian has no hoppings
  there: the analysis then sees a sheet and gives its single Z2 index nu. (A sheet cut
  by the boundary looks bulk to the Hamiltonian: the bonds across the boundary are
  hoppings along the vacuum axis.)
* ``magnetic_treated_as_nonmagnetic``: the crystal holds an element whose open 3d, 4f
  or 5f shell carries a local moment in nearly every compound (:data:`MAGNETIC_ELEMENTS`:
  V-Ni, Ce-Yb, U-Cm), as in NiO, CoO, MnBi or CrI3. The Hamiltonians are spin-degenerate
  before spin-orbit coupling (no magnetic order, no moments), so the bands, the gap and
  Z2 of such a crystal may be wrong; an antiferromagnetic insulator like NiO comes out
  as a metal. The criterion is deliberately simple and errs on the safe side: a few
  compounds of these elements are non-magnetic (low-spin FeS2, V metal) and are flagged
  too; 4d/5d elements (Ru, Ir) are not flagged.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

__all__ = [
    "MAGNETIC_ELEMENTS",
    "VACUUM_2D",
    "centred",
    "has_vacuum_along_c_only",
    "magnetic_elements",
    "periodic_dimension",
    "periodic_directions",
    "structure_flags",
    "vacuum_widths",
]

#: Thinnest empty layer along a lattice direction that makes the crystal a slab (Angstrom,
#: nucleus to nucleus); the widest gap in bulk crystals, between van der Waals layers, is
#: about 3-4 Angstrom.
VACUUM_2D = 10.0

#: Elements whose open 3d (V-Ni), 4f (Ce-Yb) or 5f (U-Cm) shell carries a local moment in
#: nearly every compound.
MAGNETIC_ELEMENTS: frozenset[str] = frozenset(
    ["V", "Cr", "Mn", "Fe", "Co", "Ni"]  # 3d
    + ["Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb"]  # 4f
    + ["U", "Np", "Pu", "Am", "Cm"]  # 5f
)


def _largest_gaps(structure: Structure) -> tuple[np.ndarray, np.ndarray]:
    """Per lattice direction: the widest empty layer (fractional) and the coordinate above it.

    Returns
    -------
    tuple of numpy.ndarray
        Gap widths ``[3]`` (fraction of the direction's layer spacing) and, for each
        direction, the fractional coordinate of the first atom above the gap ``[3]``.
    """
    frac = np.mod(structure.frac_coords, 1.0)  # [n_sites, 3]
    widths, starts = np.zeros(3), np.zeros(3)
    for axis in range(3):
        coords = np.sort(frac[:, axis])
        gaps = np.diff(np.append(coords, coords[0] + 1.0))  # gap above each coordinate
        top = int(np.argmax(gaps))
        widths[axis] = gaps[top]
        starts[axis] = coords[(top + 1) % len(coords)]
    return widths, starts


def _layer_spacings(structure: Structure) -> np.ndarray:
    """Distance between neighbouring lattice planes of each direction (Angstrom), ``[3]``."""
    reciprocal = np.linalg.inv(structure.lattice.matrix).T  # rows: b_i without the 2 pi
    return 1.0 / np.linalg.norm(reciprocal, axis=1)


def vacuum_widths(structure: Structure) -> np.ndarray:
    """Thickness of the widest empty layer along each lattice direction (Angstrom), ``[3]``.

    Measured nucleus to nucleus, perpendicular to the planes spanned by the other two
    lattice vectors: a slab of thickness t in a cell of height c gives ``c - t``.
    """
    widths, _ = _largest_gaps(structure)
    return widths * _layer_spacings(structure)


def has_vacuum_along_c_only(widths: np.ndarray) -> bool:
    """Tell whether :func:`vacuum_widths` ``widths`` are those of a sheet with its vacuum along c.

    At least :data:`VACUUM_2D` Angstrom empty along c, less along a and b.
    """
    return bool(widths[2] >= VACUUM_2D and (widths[:2] < VACUUM_2D).all())


def periodic_directions(structure: Structure, vacuum: float = VACUUM_2D) -> np.ndarray:
    """Whether each lattice direction is free of an empty layer of ``vacuum`` Angstrom, ``[3]``.

    A slab's vacuum direction is ``False``: k-point meshes sample it with one point.
    """
    return vacuum_widths(structure) < vacuum


def periodic_dimension(structure: Structure, vacuum: float = VACUUM_2D) -> int:
    """Lattice directions without an empty layer of ``vacuum`` Angstrom: 3 bulk, 2 slab."""
    return int(np.sum(periodic_directions(structure, vacuum)))


def centred(structure: Structure, vacuum: float = VACUUM_2D) -> Structure:
    """Move a slab's sheet to the middle of its cell (other crystals are returned as they are).

    Each empty layer of at least ``vacuum`` Angstrom ends up split by the cell boundary,
    so that no bond crosses it; a translation of every site, the crystal is the same.
    """
    widths, starts = _largest_gaps(structure)
    shift = np.where(widths * _layer_spacings(structure) >= vacuum, widths / 2 - starts, 0.0)
    if not shift.any():
        return structure
    moved = structure.copy()
    moved.translate_sites(list(range(len(moved))), shift, frac_coords=True, to_unit_cell=True)
    return moved


def magnetic_elements(structure: Structure) -> list[str]:
    """Elements of ``structure`` in :data:`MAGNETIC_ELEMENTS`, sorted."""
    return sorted({site.specie.symbol for site in structure} & MAGNETIC_ELEMENTS)


def structure_flags(structure: Structure, vacuum: float = VACUUM_2D) -> list[str]:
    """Return the flags of an ingested structure (see the module docstring), sorted."""
    flags = []
    if magnetic_elements(structure):
        flags.append("magnetic_treated_as_nonmagnetic")
    if periodic_dimension(structure, vacuum) == 2:
        flags.append("two_dimensional")
    return flags

"""One validation of an input crystal, shared by every entry point.

``socscreen predict``, ``dft-reference``, the GPAW calculations of :mod:`socscreen.dft`
and campaign ingestion all call :func:`check_structure` before anything else runs on a
structure, so a broken input (a NaN coordinate, two atoms on one site, partial
occupancy) is one clear error everywhere and never a silently wrong Hamiltonian or a
crash inside spglib. :func:`read_structure` adds reading a file with one-line errors that
name the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pymatgen.core import Element, Structure

__all__ = ["MIN_DISTANCE", "check_structure", "read_structure"]

#: Atoms (periodic images included) closer than this are taken for a broken input (Å).
MIN_DISTANCE = 0.5


def check_structure(structure: Structure, min_distance: float = MIN_DISTANCE) -> None:
    """Raise ``ValueError`` naming the first problem that makes ``structure`` unusable.

    Checks, in order: a periodic pymatgen ``Structure`` with at least one site, finite
    lattice and coordinates, non-zero volume, ordered sites of real elements (no
    partial occupancy, vacancies or dummy species), lattice vectors and interatomic
    distances (periodic images included) of at least ``min_distance`` Å.
    """
    if not isinstance(structure, Structure):
        raise ValueError(f"expected a periodic pymatgen Structure, got {type(structure).__name__}")
    if len(structure) == 0:
        raise ValueError("the structure has no sites")
    if not all(structure.lattice.pbc):
        raise ValueError(
            f"the structure is not periodic in every direction (pbc={structure.lattice.pbc})"
        )
    if not (
        np.all(np.isfinite(structure.lattice.matrix)) and np.all(np.isfinite(structure.frac_coords))
    ):
        raise ValueError("the lattice or the coordinates hold NaN or infinite values")
    volume = structure.lattice.volume
    if abs(volume) < 1e-3:
        raise ValueError(f"the lattice has zero volume ({volume:.3g} Angstrom^3)")
    for index, site in enumerate(structure):
        if not site.is_ordered:
            raise ValueError(
                "partial occupancy (disordered sites) is not supported: site "
                f"{index} holds {site.species}, not one element with occupancy 1"
            )
        if not isinstance(site.specie, Element) and not hasattr(site.specie, "element"):
            raise ValueError(f"site {index} holds {site.specie}, which is not an element")
    shortest = min(structure.lattice.abc)
    if shortest < min_distance:
        raise ValueError(
            f"a lattice vector is only {shortest:.3f} Angstrom long "
            f"(< {min_distance} Angstrom): every atom overlaps its own image"
        )
    if len(structure) > 1:
        dist = structure.distance_matrix + np.diag(np.full(len(structure), np.inf))
        i, j = sorted(np.unravel_index(np.argmin(dist), dist.shape))
        if dist[i, j] < min_distance:
            symbols = [site.specie.symbol for site in structure]
            raise ValueError(
                f"atoms closer than {min_distance} Angstrom: {i} ({symbols[i]}) and "
                f"{j} ({symbols[j]}) are {dist[i, j]:.3f} Angstrom apart"
            )


def read_structure(path: str | os.PathLike, min_distance: float = MIN_DISTANCE) -> Structure:
    """Read a crystal file (CIF, POSCAR, ...) and :func:`check_structure` it.

    Raises
    ------
    ValueError
        One line naming the file and the reason: missing, unreadable (e.g. a CIF cut off
        inside its atom-site loop), or unusable (see :func:`check_structure`).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        structure = Structure.from_file(path)
    except Exception as error:  # noqa: BLE001 - pymatgen's readers raise many types
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"{path}: cannot read a crystal structure ({type(error).__name__}"
            f"{': ' + reason if reason else ''})"
        ) from error
    try:
        check_structure(structure, min_distance)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    return structure

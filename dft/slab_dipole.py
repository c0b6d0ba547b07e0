"""Dipole correction of slabs: no artificial field across a periodically repeated sheet.

A slab whose charge has a dipole ``p`` along its normal, repeated periodically, feels a
uniform field ``4π p / Ω`` (atomic units, ``Ω`` the cell volume) from its images: the
Ewald/periodic Poisson solution ramps the potential across the cell to undo the dipole
layer's step. An isolated sheet has no such field. The correction (Yeh & Berkowitz, J.
Chem. Phys. 111, 3155 (1999); Bengtsson, Phys. Rev. B 59, 12301 (1999)) adds the energy
``2π M² / Ω`` of the cell's dipole ``M``, i.e. the potential energy ``−(4π/Ω) M z`` for an
electron at height ``z``.

The charge self-consistency of :mod:`socscreen.dft.charge_correction` needs it: its Ewald
γ is periodic, and the rank-one term ``(4π/Ω) z_i z_j`` turns it into the slab's γ. (The
zeroth-step H(0) needs none: its density is a sum of neutral, spherical atoms, which has
no dipole; :func:`socscreen.dft.zeroth_step.neutral_atom_density`.)

Heights ``z`` are along the unit normal of the two periodic lattice vectors, measured
from the atoms' mean height (Å in the interface, bohr inside). Bulk crystals (no vacuum
layer) and wires get no correction.
"""

from __future__ import annotations

import numpy as np
from ase.units import Bohr, Ha
from pymatgen.core import Structure

from socscreen.structure_flags import periodic_directions

__all__ = ["dipole_gamma", "slab_heights", "slab_normal"]


def slab_normal(structure: Structure) -> np.ndarray | None:
    """Return the unit normal of a sheet's two periodic lattice vectors (else ``None``)."""
    periodic = periodic_directions(structure)
    if periodic.sum() != 2:
        return None
    a, b = structure.lattice.matrix[periodic]
    normal = np.cross(a, b)
    return normal / np.linalg.norm(normal)


def slab_heights(structure: Structure) -> np.ndarray | None:
    """Heights of the atoms along a sheet's normal from their mean (Å), ``[n_atoms]``.

    ``None`` unless exactly two lattice directions are periodic (a sheet).
    """
    normal = slab_normal(structure)
    if normal is None:
        return None
    z = structure.cart_coords @ normal
    return z - z.mean()


def dipole_gamma(structure: Structure, atom: np.ndarray) -> np.ndarray:
    """Slab term of the charge channels' γ (eV per electron²), zeros for bulk.

    ``(4π/Ω) z_i z_j`` between channels ``i`` and ``j`` on atoms ``atom[i]``,
    ``atom[j]``: added to the periodic (Ewald) γ, the potential ``γ Δq`` of the Mulliken
    charges is that of a sheet without images' field.
    """
    z = slab_heights(structure)
    if z is None:
        return np.zeros((len(atom), len(atom)))
    z = z[np.asarray(atom)] / Bohr
    volume = structure.lattice.volume / Bohr**3
    return 4 * np.pi / volume * np.outer(z, z) * Ha

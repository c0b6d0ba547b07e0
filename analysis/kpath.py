"""High-symmetry k-paths of a crystal, in the reciprocal basis of its own cell.

pymatgen's standard paths (Setyawan-Curtarolo by default) are expressed in its standard
primitive cell and mapped onto the given cell; cells that cell does not map onto
(conventional cells, supercells) get the Latimer-Munro path built from their own symmetry.
2D systems keep only the segments in the plane of their periodic axes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure
from pymatgen.symmetry.bandstructure import HighSymmKpath

from socscreen.analysis.bloch import LowdinBloch
from socscreen.hamiltonian import Hamiltonian

__all__ = ["KPath", "high_symmetry_path", "structure_path"]


@dataclass
class KPath:
    """A band-structure path in the crystal's own reciprocal basis.

    Attributes
    ----------
    kpoints
        Fractional k-points ``[n_k, 3]`` (reciprocal basis of the container's cell).
    distances
        Cumulative Cartesian path length, 1/Angstrom (2 pi included), ``[n_k]``; jumps
        between disconnected segments add no length.
    labels
        ``(distance, label)`` of the high-symmetry points, e.g. ``(0.0, "Gamma")``.
    point_labels
        Label of every k-point, ``""`` between high-symmetry points (segments share no
        point: a segment's end and the next segment's start are both listed, as in a
        VASP line-mode k-point list).
    path_type
        pymatgen's convention the path follows (``"setyawan_curtarolo"``, or
        ``"latimer_munro"`` for cells the standard primitive cell does not map onto,
        such as conventional cells and supercells).
    """

    kpoints: np.ndarray
    distances: np.ndarray
    labels: list[tuple[float, str]]
    point_labels: list[str] = field(default_factory=list)
    path_type: str = "setyawan_curtarolo"


def high_symmetry_path(
    ham: Hamiltonian,
    line_density: float = 40.0,
    path_type: str = "setyawan_curtarolo",
) -> KPath:
    """Return the standard high-symmetry path of the container's crystal.

    See :func:`structure_path`; for a 2D system (an axis without hoppings) only the
    segments in the ``k = 0`` plane of that axis are kept.

    Parameters
    ----------
    ham
        The container.
    line_density
        k-points per 1/Angstrom of path length.
    path_type
        ``"setyawan_curtarolo"``, ``"latimer_munro"`` or ``"hinuma"`` (pymatgen).
    """
    return structure_path(ham.structure, line_density, path_type, LowdinBloch(ham).periodic)


def structure_path(
    structure: Structure,
    line_density: float = 40.0,
    path_type: str = "setyawan_curtarolo",
    periodic: np.ndarray | None = None,
) -> KPath:
    """Return the standard high-symmetry path of a crystal in its own reciprocal basis.

    pymatgen's path is expressed in its standard primitive cell; the integer matrix
    that maps that cell onto ``structure``'s cell (``Lattice.find_mapping``) converts the
    k-points into ``structure``'s reciprocal basis.

    Parameters
    ----------
    structure
        The crystal (any primitive setting).
    line_density
        k-points per 1/Angstrom of path length.
    path_type
        ``"setyawan_curtarolo"``, ``"latimer_munro"`` or ``"hinuma"`` (pymatgen).
    periodic
        Periodic axes, boolean ``[3]``; segments leaving the ``k = 0`` plane of a
        non-periodic axis are dropped. ``None``: all three axes are periodic.

    A cell the standard primitive cell does not map onto (a conventional cell or a
    supercell: the mapping must keep the volume), and a lattice the convention has no path
    for (Setyawan-Curtarolo: a sheet strained to an oblique cell), get the Latimer-Munro
    path, which pymatgen builds from the symmetry of the given cell itself;
    ``KPath.path_type`` says which one was used.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kpath = HighSymmKpath(structure, path_type=path_type)
    if kpath.kpath is None:  # a lattice the convention does not cover (a strained sheet)
        return structure_path(structure, line_density, "latimer_munro", periodic)
    points = kpath.kpath["kpoints"]
    to_ours = np.eye(3)
    if path_type != "latimer_munro":
        mapping = structure.lattice.find_mapping(kpath.prim.lattice)
        if mapping is None:
            return structure_path(structure, line_density, "latimer_munro", periodic)
        to_ours = np.linalg.inv(np.asarray(mapping[2], dtype=float)).T
    periodic = np.ones(3, dtype=bool) if periodic is None else np.asarray(periodic, dtype=bool)
    recip = structure.lattice.reciprocal_lattice.matrix
    kpoints, distances, labels, point_labels = [], [], [], []
    total, previous = 0.0, None
    for branch in kpath.kpath["path"]:
        for start, end in zip(branch[:-1], branch[1:], strict=True):
            ends = np.stack([points[start], points[end]]) @ to_ours
            if np.abs(ends[:, ~periodic]).max(initial=0.0) > 1e-8:
                continue  # leaves the plane of a 2D system
            if previous is None:
                labels.append((total, start))
            elif previous != start:  # discontinuous path: both labels at one distance
                labels[-1] = (total, f"{labels[-1][1]}|{start}")
            length = float(np.linalg.norm((ends[1] - ends[0]) @ recip))
            s = np.linspace(0.0, 1.0, max(2, int(np.ceil(length * line_density)) + 1))
            kpoints.append(ends[0] + s[:, None] * (ends[1] - ends[0]))
            distances.append(total + s * length)
            point_labels += [_pretty(start)] + [""] * (len(s) - 2) + [_pretty(end)]
            total += length
            labels.append((total, end))
            previous = end
    if not kpoints:
        raise ValueError("no path segment lies in the periodic directions")
    labels = [(d, _pretty(name)) for d, name in labels]
    return KPath(
        np.concatenate(kpoints), np.concatenate(distances), labels, point_labels, path_type
    )


def _pretty(label: str) -> str:
    return label.replace("\\Gamma", "Γ").replace("\\Sigma", "Σ")

"""What a structure says before anything is computed: slabs (vacuum) and magnetic ions."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from socscreen.stores.verdicts import FLAG_MEANINGS
from socscreen.structure_flags import (
    VACUUM_2D,
    centred,
    magnetic_elements,
    periodic_dimension,
    periodic_directions,
    structure_flags,
    vacuum_widths,
)

SNTE_A = 6.32  # Angstrom


def snte_slab(vacuum: float, bottom: float = 0.0) -> Structure:
    """Two rock-salt SnTe (001) layers with ``vacuum`` Angstrom between the slab's images.

    ``bottom`` is the fractional height of the lower layer: near 1 the slab is cut by the
    cell boundary.
    """
    a, thickness = SNTE_A / np.sqrt(2), SNTE_A / 2
    c = thickness + vacuum
    z = [bottom, bottom, bottom + thickness / c, bottom + thickness / c]
    return Structure(Lattice.tetragonal(a, c), ["Sn", "Te", "Te", "Sn"],
                     [[0, 0, z[0]], [0.5, 0.5, z[1]], [0, 0, z[2]], [0.5, 0.5, z[3]]])  # fmt: skip


def rocksalt(cation: str, anion: str, a: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])  # fmt: skip


@pytest.mark.parametrize("vacuum", [10.0, 30.0])
def test_a_slab_has_its_vacuum_and_two_periodic_dimensions(vacuum):
    slab = snte_slab(vacuum)
    widths = vacuum_widths(slab)
    assert widths[2] == pytest.approx(vacuum)
    assert widths[:2] == pytest.approx([SNTE_A / np.sqrt(2) / 2] * 2)  # Sn-Te rows, in plane
    assert periodic_dimension(slab) == 2 and structure_flags(slab) == ["two_dimensional"]
    assert periodic_directions(slab).tolist() == [True, True, False]


@pytest.mark.parametrize("structure", [snte_slab(8.0), rocksalt("Sn", "Te", SNTE_A)],
                         ids=["8 A vacuum", "SnTe"])  # fmt: skip
def test_bulk_crystals_and_thin_vacuum_stay_three_dimensional(structure):
    assert periodic_dimension(structure) == 3
    assert vacuum_widths(structure).max() < VACUUM_2D
    assert "two_dimensional" not in structure_flags(structure)
    assert centred(structure) is structure


def test_a_slab_cut_by_the_cell_boundary_is_moved_to_the_middle():
    cut = snte_slab(30.0, bottom=0.95)  # the upper layer wraps to z ~ 0.04
    moved = centred(cut)
    z = np.sort(moved.frac_coords[:, 2])
    assert z[0] > 0.4 and z[-1] < 0.6  # the sheet in the middle, the vacuum at the boundary
    assert vacuum_widths(moved) == pytest.approx(vacuum_widths(cut))
    assert StructureMatcher(primitive_cell=False, scale=False).fit(moved, cut)  # same crystal


@pytest.mark.parametrize(("structure", "magnetic"), [
    (rocksalt("Ni", "O", 4.17), ["Ni"]),
    (rocksalt("Co", "O", 4.26), ["Co"]),
    (rocksalt("Eu", "O", 5.14), ["Eu"]),
    (rocksalt("Zn", "O", 4.28), []),  # a closed 3d shell
    (rocksalt("Sn", "Te", SNTE_A), []),
], ids=["NiO", "CoO", "EuO", "ZnO", "SnTe"])  # fmt: skip
def test_magnetic_ions_are_named(structure, magnetic):
    assert magnetic_elements(structure) == magnetic
    flagged = "magnetic_treated_as_nonmagnetic" in structure_flags(structure)
    assert flagged == bool(magnetic)


def test_every_structure_flag_has_a_one_line_meaning():
    flags = set(structure_flags(rocksalt("Ni", "O", 4.17))) | set(structure_flags(snte_slab(30)))
    assert flags == {"two_dimensional", "magnetic_treated_as_nonmagnetic"}
    assert all(len(FLAG_MEANINGS[flag]) <= 76 for flag in flags)


def test_a_van_der_waals_layered_crystal_is_bulk(bi2se3):
    assert periodic_dimension(bi2se3.structure) == 3
    assert structure_flags(bi2se3.structure) == []

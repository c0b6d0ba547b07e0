"""Bad input to the GPAW reference calculation: a ValueError naming the problem, no file."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Molecule, Structure
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.dft.reference import compute_gpaw_reference

DIAMOND = Lattice(2.7155 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]))


def _bad_structures() -> dict[str, tuple[Structure, str]]:
    """Structures GPAW cannot calculate and the words the error must contain."""
    return {
        "no-setup": (Structure(Lattice.cubic(3.0), ["Tc"], [[0, 0, 0]]), r"\['Tc'\].*PAW setup"),
        "unreducible-basis": (
            Structure(Lattice.cubic(5.3), ["La", "Bi"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
            r"\['La'\].*cannot reduce",
        ),
        "overlapping-atoms": (
            Structure(DIAMOND, ["Si", "Si"], [[0, 0, 0], [0.03, 0.03, 0.03]]),
            r"atoms closer than 0.5 Angstrom: 0 \(Si\) and 1 \(Si\) are 0\.282 Angstrom apart",
        ),
        "short-lattice-vector": (
            Structure(Lattice.tetragonal(0.3, 5.0), ["Si"], [[0, 0, 0]]),
            "only 0.300 Angstrom long",
        ),
        "empty": (Structure(Lattice.cubic(4.0), [], []), "no sites"),
        "zero-volume": (
            Structure(Lattice([[4, 0, 0], [0, 4, 0], [2, 2, 0]]), ["Si"], [[0, 0, 0]]),
            "zero volume",
        ),
        "partial-occupancy": (
            Structure(DIAMOND, [{"Si": 0.5, "Ge": 0.5}, "Si"], [[0, 0, 0], [0.25] * 3]),
            "partial occupancy .* site 0 holds",
        ),
        "vacancy": (
            Structure(DIAMOND, [{"Si": 0.9}, "Si"], [[0, 0, 0], [0.25] * 3]),
            "partial occupancy .* site 0 holds",
        ),
        "not-periodic": (
            Structure(
                Lattice(np.diag([5.0, 5.0, 5.0]), pbc=(True, True, False)),
                ["Si"],
                [[0, 0, 0]],
            ),
            r"not periodic in every direction",
        ),
    }


BAD = _bad_structures()


@pytest.mark.parametrize("case", sorted(BAD), ids=sorted(BAD))
def test_bad_structure_raises_value_error_naming_the_problem(case):
    structure, message = BAD[case]
    with pytest.raises(ValueError, match=message):
        compute_gpaw_reference(structure, GPAWReferenceSettings())


def test_molecule_is_rejected():
    with pytest.raises(ValueError, match="expected a periodic pymatgen Structure, got Molecule"):
        compute_gpaw_reference(Molecule(["Si"], [[0, 0, 0]]))


@pytest.mark.parametrize(
    "case", ["no-setup", "overlapping-atoms", "partial-occupancy", "empty"],
)
def test_cli_writes_nothing_for_bad_input(case, tmp_path):
    structure, _ = BAD[case]
    source = tmp_path / "input.json"
    structure.to(filename=str(source))
    result = CliRunner().invoke(
        app, ["dft-reference", str(source), "-o", str(tmp_path / "out.npz")]
    )
    assert result.exit_code == 1
    assert "error:" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.json"]


def test_settings_reject_even_or_empty_grids():
    with pytest.raises(ValueError, match="odd"):
        GPAWReferenceSettings(hr_grid=(6, 7, 7))
    with pytest.raises(ValueError, match="positive"):
        GPAWReferenceSettings(kscf=(0, 1, 1))
    with pytest.raises(ValueError, match="extra"):
        GPAWReferenceSettings(smearing_width=0.1)

"""One structure validation for every entry point, and one-line errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.stores.schemas.campaign import SourceInfo
from socscreen.structures import check_structure, read_structure
from socscreen.workflows.ingestion import RawStructure, to_record

BAD = Path(__file__).parent / "data" / "bad_structures"
ROCKSALT = Lattice.cubic(6.46)


def _poscar(tmp_path: Path, name: str, species, coords) -> Path:
    path = tmp_path / name
    Structure(ROCKSALT, species, coords).to(filename=str(path), fmt="poscar")
    return path


@pytest.mark.parametrize(
    ("species", "coords", "reason"),
    [
        (["Sn", "Te", "Te"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]],
         r"atoms closer than 0.5 Angstrom: 1 \(Te\) and 2 \(Te\) are 0.000"),
        (["Sn", "Te"], [[0, 0, 0], [0.03, 0, 0]], r"0 \(Sn\) and 1 \(Te\) are 0.194"),
        (["Sn", "Te"], [[0, 0, 0], [np.nan, 0.5, 0.5]], "NaN or infinite"),
    ],
)  # fmt: skip
def test_broken_crystals_are_named(species, coords, reason):
    with pytest.raises(ValueError, match=reason):
        check_structure(Structure(ROCKSALT, species, coords))


def test_partial_occupancy_and_a_good_crystal():
    with pytest.raises(ValueError, match="partial occupancy"):
        read_structure(BAD / "partial_occupancy.cif")
    good = Structure(ROCKSALT, ["Sn", "Te"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    check_structure(good)  # no error


def test_ingestion_turns_a_nan_coordinate_into_an_error_record():
    broken = Structure(ROCKSALT, ["Sn", "Te"], [[0, 0, 0], [np.nan, 0.5, 0.5]])
    entry = RawStructure(source=SourceInfo(kind="folder", path="/x", entry="nan.vasp"),
                         loader=lambda: broken)  # fmt: skip
    record = to_record(entry)
    assert record.error is not None and "NaN" in record.error.reason


def _cut_cif(tmp_path: Path) -> Path:
    good = Structure(ROCKSALT, ["Sn", "Te"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cif = tmp_path / "full.cif"
    good.to(filename=str(cif))
    lines = cif.read_text().splitlines()
    cut = tmp_path / "cut.cif"
    cut.write_text("\n".join(lines[:-2]) + "\n  Te  Te1  1  0.5 0.5")  # cut inside the loop
    return cut


@pytest.mark.parametrize("case", ["missing", "cut", "partial", "overlap"])
def test_predict_fails_in_one_line_and_writes_nothing(case, tmp_path):
    path = {
        "missing": lambda: tmp_path / "nowhere.cif",
        "cut": lambda: _cut_cif(tmp_path),
        "partial": lambda: BAD / "partial_occupancy.cif",
        "overlap": lambda: _poscar(
            tmp_path, "POSCAR", ["Sn", "Te", "Te"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
        ),
    }[case]()
    out = tmp_path / "out.npz"
    result = CliRunner().invoke(app, ["predict", str(path), "-o", str(out)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert message.startswith(f"error: {path}:") and "Traceback" not in result.output
    assert {
        "missing": "no such file",
        "cut": "cannot read a crystal structure",
        "partial": "partial occupancy",
        "overlap": "atoms closer than 0.5 Angstrom",
    }[case] in message
    assert not out.exists()


def test_analysis_commands_say_what_a_non_npz_file_is(tmp_path):
    cif = tmp_path / "SnTe.cif"
    Structure(ROCKSALT, ["Sn", "Te"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(cif))
    result = CliRunner().invoke(app, ["z2", str(cif)])
    assert result.exit_code == 1
    assert "not a corpus-format Hamiltonian (.npz)" in result.output
    assert "pickled" not in result.output

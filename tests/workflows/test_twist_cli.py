"""``socscreen twist`` and ``twist-plot``: cells written, one campaign submitted, read back.

The monolayers are 2H MoSe2 and WSe2 built in code and written as CIF files; the
campaign goes to a real database server (no worker runs: the results the plot reads are
stored as documents, the way the analyse job stores them).
"""

from __future__ import annotations

import json

import pytest
from pymatgen.core import Structure
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.corpus.training_sheets import mx2_2h
from socscreen.stores.queries import CAMPAIGN_KEY, save_results
from socscreen.stores.schemas.campaign import (
    ErrorDocument,
    MaterialResultDocument,
    StructureRecord,
)
from socscreen.structures import read_structure
from socscreen.workflows.twist import SOURCE_FILE, TWIST_FIELD


def mx2(metal: str, chalcogen: str, a: float, height: float, c: float = 20.0) -> Structure:
    """2H MX2 monolayer (Å) in a cell of height ``c``."""
    return mx2_2h(metal, chalcogen, a=a, h=height, c=c)


@pytest.fixture
def sheets(tmp_path) -> tuple[str, str]:
    """CIF files of the MoSe2 and WSe2 monolayers."""
    paths = []
    for name, sheet in (
        ("MoSe2.cif", mx2("Mo", "Se", 3.32, 3.34)),
        ("WSe2.cif", mx2("W", "Se", 3.32, 3.35)),
    ):
        sheet.to(filename=str(tmp_path / name))
        paths.append(str(tmp_path / name))
    return paths[0], paths[1]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), terminal_width=120)


def test_twist_build_only_writes_the_cells_and_prints_the_table(sheets, tmp_path):
    out = tmp_path / "cells"
    result = invoke(
        "twist", *sheets, "--angles", "0", "21.8", "60", "--name", "moire", "--out", str(out),
        "--build-only",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:1].isdigit()]
    assert [row[:6] for row in rows] == [
        ["0", "0.00", "6", "+0.00", "1+1", "K+K"],
        ["21.8", "21.79", "42", "+0.00", "7+7", "K+K"],
        ["60", "60.00", "6", "+0.00", "1+1", "K+K"],
    ]
    atoms = {"moire-0.00deg": 6, "moire-21.79deg": 42, "moire-60.00deg": 6}
    for material_id, n_atoms in atoms.items():
        assert len(read_structure(out / f"{material_id}.cif")) == n_atoms
    entries = json.loads((out / SOURCE_FILE).read_text())
    assert {e["material_id"]: e[TWIST_FIELD]["n_atoms"] for e in entries} == atoms
    assert "submitted" not in result.output


def test_negative_angles_get_their_own_ids(sheets, tmp_path):
    out = tmp_path / "cells"
    result = invoke(
        "twist", *sheets, "--angles", "-21.8", "21.8", "--name", "moire", "--out", str(out),
        "--build-only",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "moire-m21.79deg.cif").is_file()
    assert (out / "moire-21.79deg.cif").is_file()


def test_twist_refuses_an_unreachable_angle_before_writing_anything(sheets, tmp_path):
    out = tmp_path / "cells"
    result = invoke(
        "twist", *sheets, "--angles", "0", "1", "--name", "moire", "--out", str(out),
        "--build-only",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no commensurate cell at 1 degrees" in result.output
    assert "nearest achievable: 0.00 degrees" in result.output
    assert not out.exists()


def test_twist_refuses_a_bulk_crystal_and_stray_arguments(sheets, tmp_path):
    bulk = tmp_path / "bulk.cif"
    mx2("Mo", "Se", 3.32, 3.34, c=6.5).to(filename=str(bulk))
    result = invoke("twist", str(bulk), sheets[1], "--angles", "0", "--name", "x", "--build-only")
    assert result.exit_code == 1
    assert "not a sheet with its vacuum along c" in result.output
    result = invoke("twist", *sheets, "--angles", "0", "ten", "--name", "x", "--build-only")
    assert result.exit_code == 2
    assert "unexpected argument 'ten'" in result.output


def test_twist_submits_one_campaign_that_twist_plot_reads_back(sheets, tmp_path, db):
    uri = ["--db-uri", f"{db.uri}/{db.database}"]
    out = tmp_path / "cells"
    result = invoke(
        "twist", *sheets, "--angles", "0", "21.8", "60", "--name", "moire", "--out", str(out),
        *uri,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 read = 3 structures" in result.output
    assert "submitted 3 structures" in result.output

    structures, results = db.store("structures"), db.store("results")
    structures.connect()
    results.connect()
    try:
        records = {
            d["material_id"]: StructureRecord.model_validate(d)
            for d in structures.query({"campaign": "moire"}, properties={"_id": 0})
        }
        assert sorted(records) == ["moire-0.00deg", "moire-21.79deg", "moire-60.00deg"]
        assert records["moire-21.79deg"].nsites == 42
        assert records["moire-21.79deg"].dimension == 2
        # what the analyse job would store: a gap with a valley document, a gap, an error
        docs = [
            MaterialResultDocument.from_record(records["moire-0.00deg"], "moire", gap_eV=1.2),
            MaterialResultDocument.from_record(records["moire-21.79deg"], "moire", gap_eV=1.1),
            MaterialResultDocument.from_record(
                records["moire-60.00deg"],
                "moire",
                error=ErrorDocument(stage="predict", reason="out of memory"),
            ),
        ]
        save_results(results, docs)
        # the valley document as the analysis stores it on a sheet's result (eV)
        with_valley = docs[0].model_dump() | {
            "valley": {"valence_splitting_eV": 0.45, "omega_k": -12.5}
        }
        results.update([with_valley], key=CAMPAIGN_KEY)
    finally:
        structures.close()
        results.close()

    png = tmp_path / "moire.png"
    result = invoke("twist-plot", "--name", "moire", "--output", str(png), *uri)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:1].isdigit()]
    assert [row[:6] for row in rows] == [
        ["0.00", "6", "+0.00", "1.200", "0.450", "-12.5"],
        ["21.79", "42", "+0.00", "1.100", "-", "-"],
        ["60.00", "6", "+0.00", "-", "-", "-"],
    ]
    assert "out of memory" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    result = invoke("twist-plot", "--name", "nothing", *uri)
    assert result.exit_code == 1
    assert "holds no twisted bilayer" in result.output

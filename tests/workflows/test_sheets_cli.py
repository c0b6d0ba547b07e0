"""2D sheets through the commands: ``query --dimension 2 --valley-splitting-min`` and ``show``.

Results are analysed from real Hamiltonians as the analyse job does and stored in a real
server: the GPAW references of the WS2 and MoS2 monolayers (``benchmarks/data/sheets``)
and bulk Si (the GPAW fixture).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.analyse import analyse_structure
from socscreen.stores.queries import save_results
from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    MaterialResultDocument,
    SourceInfo,
)
from socscreen.workflows.ingestion import RawStructure, to_record

SHEETS = Path(__file__).parents[2] / "benchmarks" / "data" / "sheets"


@pytest.fixture(scope="module")
def analysed(silicon) -> dict[str, MaterialResultDocument]:
    """WS2, MoS2 and Si analysed as the analyse job does, in campaign 'sheets'."""
    hamiltonians = {
        "ws2": Hamiltonian.from_npz(SHEETS / "WS2.npz"),
        "mos2": Hamiltonian.from_npz(SHEETS / "MoS2.npz"),
        "si": silicon,
    }
    docs = {}
    for material_id, ham in hamiltonians.items():
        source = SourceInfo(kind="folder", path="/hand", entry=f"{material_id}.cif")
        record = to_record(RawStructure(source=source, loader=lambda ham=ham: ham.structure))
        record = record.model_copy(update={"campaign": "sheets", "material_id": material_id})
        docs[material_id] = analyse_structure(record, ham, CampaignSettings())
    return docs


@pytest.fixture
def stored(db, analysed):
    """The analysed results in a real server; the --db-uri arguments and the documents."""
    db.ensure_indexes()
    results = db.store("results")
    results.connect()
    save_results(results, analysed.values())
    results.close()
    return ["--db-uri", f"{db.uri}/{db.database}"], analysed


def _ids(*args: str) -> list[str]:
    result = CliRunner().invoke(app, ["query", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return [d["material_id"] for d in json.loads(result.stdout)]


def test_the_analysis_stores_valleys_of_hexagonal_sheets_only(stored):
    _, docs = stored
    assert docs["ws2"].dimension == docs["mos2"].dimension == 2 and docs["si"].dimension == 3
    assert docs["si"].valley is None
    ws2 = docs["ws2"].valley
    assert 0.4 < ws2.valence_splitting_eV < 0.55 and ws2.omega_k * ws2.omega_k_prime < 0
    assert 0.1 < docs["mos2"].valley.valence_splitting_eV < 0.2


def test_query_by_dimension_and_valley_splitting(stored):
    uri, _ = stored
    assert _ids("--dimension", "2", "--valley-splitting-min", "0.1", *uri) == ["mos2", "ws2"]
    assert _ids("--dimension", "2", "--valley-splitting-min", "0.3", *uri) == ["ws2"]
    assert _ids("--dimension", "3", *uri) == ["si"]
    assert _ids("--valley-splitting-min", "0.0", *uri) == ["mos2", "ws2"]  # bulk has none


def test_show_prints_the_valley_figures(stored):
    uri, docs = stored
    result = CliRunner().invoke(app, ["show", "ws2", *uri])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["dimension"] == 2
    assert shown["valley"]["valence_splitting_eV"] == pytest.approx(
        docs["ws2"].valley.valence_splitting_eV
    )
    assert shown["valley"]["omega_k_prime"] < 0 < shown["valley"]["omega_k"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dimension", "1"], "--dimension must be 2 or 3, got 1"),
        (["--valley-splitting-min", "-0.1"], "--valley-splitting-min must be >= 0 eV"),
    ],
)
def test_bad_sheet_filters_are_refused_in_one_line(args, message):
    result = CliRunner().invoke(app, ["query", *args])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1

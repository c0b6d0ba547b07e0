"""Verdicts a user can act on, through the commands: ``query`` by class, ``show`` the one gap.

Results are analysed from real Hamiltonians and stored as the analyse job stores them:
Bi2Se3 (GPAW szp(dzp) fixture; a topological semimetal at this basis: Z2 = (1;000), the
direct gap open everywhere, the bands overlapping by 0.15 eV) and SnTe (the holdout
reference, a trivial insulator whose gap lies off the grid), beside an ingestion failure.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.analyse import analyse_structure
from socscreen.stores.builders import CandidateBuilder, run_builder
from socscreen.stores.queries import save_results
from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    CampaignSummaryDocument,
    ErrorDocument,
    MaterialResultDocument,
    SourceInfo,
)
from socscreen.stores.verdicts import with_verdict
from socscreen.workflows.ingestion import RawStructure, to_record

HOLDOUT = Path(__file__).parents[2] / "benchmarks" / "data" / "holdout"
SETTINGS = CampaignSettings()


def _result(material_id: str, ham: Hamiltonian) -> MaterialResultDocument:
    source = SourceInfo(kind="folder", path="/hand", entry=f"{material_id}.cif")
    record = to_record(RawStructure(source=source, loader=lambda: ham.structure))
    record = record.model_copy(update={"campaign": "verdicts", "material_id": material_id})
    return with_verdict(analyse_structure(record, ham, SETTINGS), SETTINGS.min_gap)


@pytest.fixture
def stored(db, bi2se3):
    """Analysed Bi2Se3 and SnTe and a failure in campaign 'verdicts', candidates built."""
    db.ensure_indexes()
    snte = Hamiltonian.from_npz(HOLDOUT / "SnTe.npz")
    error = ErrorDocument(stage="ingest", reason="unreadable CIF: line 7")
    failed = MaterialResultDocument(material_id="bad", campaign="verdicts", error=error)
    docs = [_result("bi2se3", bi2se3), _result("snte", snte), failed]
    results = db.store("results")
    results.connect()
    save_results(results, docs)
    results.close()
    run_builder(CandidateBuilder(db.store("results"), db.store("candidates"), "verdicts"))
    return ["--db-uri", f"{db.uri}/{db.database}"], {d.material_id: d for d in docs}


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_topological_semimetal_is_a_candidate_queried_by_its_class(stored):
    uri, docs = stored
    assert docs["bi2se3"].verdict.material_class == "topological_semimetal"
    assert docs["snte"].verdict.material_class == "trivial_insulator"
    assert docs["bad"].verdict.material_class == "failed"
    found = json.loads(_invoke("query", "--class", "topological_semimetal", "--format", "json",
                               *uri))  # fmt: skip
    assert [d["material_id"] for d in found] == ["bi2se3"]
    assert found[0]["verdict"]["reason"].startswith(
        "candidate: strong topological semimetal, Z2 = (1;000) by parity"
    )
    table = _invoke("query", "--candidates", "--campaign", "verdicts", *uri)
    assert "1 result(s)" in table and "topological semimetal" in table and "bi2se3" in table
    assert "-0.14" in table  # the overlap, as a negative gap
    assert max(map(len, table.splitlines())) <= 80
    # every decision, kept or not, has its one-line reason
    rows = list(csv.DictReader(io.StringIO(_invoke("query", "--format", "csv", *uri))))
    reasons = {r["material_id"]: (r["class"], r["reason"]) for r in rows}
    assert reasons["snte"][0] == "trivial_insulator"
    assert reasons["snte"][1].startswith("not a candidate: trivial insulator, Z2 = (0;000)")
    assert reasons["bad"] == ("failed", "not a candidate: ingest failed: unreadable CIF: line 7")
    refused = CliRunner().invoke(app, ["query", "--class", "semimetal", *uri])
    assert refused.exit_code == 2 and "--class must be one of" in refused.output


def test_show_prints_the_gap_every_command_prints(stored):
    uri, _ = stored
    shown = json.loads(_invoke("show", "snte", *uri))
    bands = json.loads(_invoke("bands", str(HOLDOUT / "SnTe.npz")))["gap"]
    assert shown["gap_eV"] == pytest.approx(bands["indirect_gap_eV"], abs=1e-9)
    assert shown["gaps"]["sampling"] == bands["sampling"]
    assert shown["gap_eV"] == pytest.approx(0.232, abs=3e-3)


def test_campaign_status_counts_results_per_verdict(stored, db):
    uri, _ = stored
    campaigns = db.store("campaigns")
    campaigns.connect()
    campaigns.update([CampaignSummaryDocument(campaign="verdicts").model_dump()], key="campaign")
    printed = _invoke("campaign", "status", "verdicts", *uri)
    summary = CampaignSummaryDocument(**campaigns.query_one({"campaign": "verdicts"}))
    campaigns.close()
    assert summary.by_verdict == {"topological_semimetal": 1, "trivial_insulator": 1, "failed": 1}
    line = "verdicts of verdicts: 1 topological semimetal, 1 trivial insulator, 1 failed"
    assert line in printed.splitlines()

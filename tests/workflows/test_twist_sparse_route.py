"""The large-cell route of a twist campaign, through a real FireWorks worker and database.

``socscreen twist --sparse-from 0`` sends even the 6-atom cells down the route of
hundreds of atoms: the shipped model on sparse blocks, the sparse Hamiltonian through
the GridFS data store, and an analysis of the valley edges only. The 0° and 60° cells
of MoSe2/WSe2 keep it to seconds; the route is the one a 1,000-atom cell takes.
"""

from __future__ import annotations

import pytest
from test_twist_cli import invoke, sheets  # noqa: F401 (fixture)

from socscreen.analysis.screening import VALLEY_EDGES_ONLY, VALLEY_EDGES_SAMPLING
from socscreen.sparse_hamiltonian import SparseHamiltonian
from socscreen.stores.schemas.campaign import MaterialResultDocument
from socscreen.workflows.workers import run_workers

pytestmark = pytest.mark.slow


def test_a_twist_campaign_routes_large_cells_to_the_sparse_model(sheets, tmp_path, db):  # noqa: F811
    uri = ["--db-uri", f"{db.uri}/{db.database}"]
    result = invoke(
        "twist", *sheets, "--angles", "0", "60", "--name", "moire", "--out",
        str(tmp_path / "cells"), "--predictor", "model", "--sparse-from", "0", *uri,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "submitted 2 structures" in result.output
    report = run_workers(db, 1, tmp_path / "run")
    assert set(report.states) == {"COMPLETED"}, report
    log = (tmp_path / "run" / "worker_0" / "worker.log").read_text()
    for stage in ("setup", "assemble", "charges", "correction", "fermi level"):
        assert f"moire-60.00deg (6 sites): {stage} (+" in log, stage  # a long job's progress

    results = db.store("results")
    results.connect()
    docs = {
        d["material_id"]: MaterialResultDocument.model_validate(d)
        for d in results.query({"campaign": "moire"}, properties={"_id": 0})
    }
    results.close()
    assert sorted(docs) == ["moire-0.00deg", "moire-60.00deg"]
    for doc in docs.values():
        assert doc.error is None, doc.error
        assert VALLEY_EDGES_ONLY in doc.flags and "two_dimensional" in doc.flags
        assert doc.gaps.sampling == VALLEY_EDGES_SAMPLING
        assert doc.gaps.kind == "insulator" and doc.gaps.direct_no_soc is None
        # PBE-like gaps of a MoSe2/WSe2 bilayer (GPAW szp(dzp): 0.92-0.97 eV)
        assert 0.6 < doc.gaps.indirect <= doc.gaps.direct < 1.3
        # the top valence pair at K is split by SOC in W (WSe2 alone: 0.47 eV), far
        # beyond the bottom conduction pair's splitting (tens of meV)
        valley = doc.valley
        assert 0.3 < valley.valence_splitting_eV < 0.7
        assert valley.conduction_splitting_eV < 0.1 < valley.valence_splitting_eV
        assert valley.direct_gap_k_eV == pytest.approx(doc.gaps.direct, abs=0.3)
        assert valley.omega_k is None and doc.berry is None and doc.z2 is None
        assert not doc.verdict.candidate and doc.verdict.material_class == "undetermined"
        assert "valley edges only" in doc.verdict.reason
        assert doc.predictor == "model" and doc.model_version.startswith("Uni-HamGNN")

    # the predicted Hamiltonians travelled through GridFS as sparse containers
    job_store = db.job_store()
    job_store.connect()
    try:
        predicts = [
            j["output"]
            for j in job_store.docs_store.query({"metadata.campaign": "moire"})
            if j["metadata"]["stage"] == "predict"
        ]
        blobs = job_store.additional_stores["data"]
        stored = [
            blobs.query_one({"blob_uuid": item["hamiltonian"]["blob_uuid"]})["data"]
            for output in predicts
            for item in output["hamiltonians"]
        ]
    finally:
        job_store.close()
    assert len(stored) == 2
    for blob in stored:
        ham = SparseHamiltonian.from_dict(blob)
        assert ham.storage == "compact" and ham.has_soc and ham.efermi is not None

    result = invoke("twist-plot", "--name", "moire", "--output", str(tmp_path / "m.png"), *uri)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:1].isdigit()]
    splittings = {row[0]: float(row[4]) for row in rows}
    assert splittings == {
        "0.00": pytest.approx(docs["moire-0.00deg"].valley.valence_splitting_eV, abs=1e-3),
        "60.00": pytest.approx(docs["moire-60.00deg"].valley.valence_splitting_eV, abs=1e-3),
    }

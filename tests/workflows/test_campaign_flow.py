"""The campaign flow run by jobflow and in-process FireWorks rockets on a real server.

Predictions come from the shipped model; the analysis is replaced by the structure-only
test analysers of :mod:`campaign_test_functions`, which check the Hamiltonian they get.
"""

from __future__ import annotations

import math
from pathlib import Path

import jobflow
import pytest
from campaign_test_functions import (
    TEST_FLAG,
    check_hamiltonian,
    fails_for_bismuth,
    heavy_element_rule,
    not_a_hamiltonian,
    predict_except_tellurides,
    sample_coverage,
    sample_formulas,
    structure_only,
    wrong_material,
)
from fireworks import FWorker
from fireworks.core.rocket_launcher import launch_rocket, rapidfire
from jobflow import run_locally
from pymatgen.core import Composition, Element, Structure

from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.analyse import NO_PREDICTION, AnalyseBatchMaker
from socscreen.makers.batch import job_database
from socscreen.makers.predict import PredictBatchMaker, predict_structure
from socscreen.makers.summary import CampaignSummaryMaker
from socscreen.model.predictors import covered_elements
from socscreen.stores.queries import save_records
from socscreen.stores.schemas.campaign import CampaignSettings, MaterialResultDocument
from socscreen.workflows.campaign import CampaignMaker, submit_campaign
from socscreen.workflows.ingestion import ingest, open_source

SAMPLE = Path(__file__).parents[2] / "examples" / "gnome_sample"
# sample structures with elements the shipped model cannot predict (no GPAW data: LaBiPt), and the
# predicted ones with Z >= 80 (candidates of the test rule)
UNCOVERED = sample_coverage(SAMPLE, covered_elements("model"))
HEAVY = {f for f in sample_formulas(SAMPLE) if f not in UNCOVERED
         and max(Element(e).Z for e in Composition(f).elements) >= 80}  # fmt: skip
N_PREDICTED = 13 - len(UNCOVERED)  # 14 rows, one duplicate


@pytest.fixture(scope="module")
def records():
    return ingest(open_source(SAMPLE)).records


@pytest.fixture(scope="module")
def covered(records):
    elements = covered_elements("model")
    return [r for r in records if set(r.elements) <= elements]


def prepare(db, records, campaign):
    db.ensure_indexes()
    store = db.store("structures")
    store.connect()
    save_records(store, records, campaign)
    store.close()
    return [r.material_id for r in records]


def open_store(db, name):
    store = db.store(name)
    store.connect()
    return store


def results_of(db, campaign):
    store = open_store(db, "results")
    return {d["material_id"]: MaterialResultDocument.model_validate(d)
            for d in store.query({"campaign": campaign})}  # fmt: skip


def maker(predictor=predict_structure, analyser=structure_only) -> CampaignMaker:
    return CampaignMaker(
        predict_maker=PredictBatchMaker(predictor=predictor),
        analyse_maker=AnalyseBatchMaker(analyser=analyser),
        summary_maker=CampaignSummaryMaker(criterion=heavy_element_rule),
    )


def test_flow_predicts_analyses_and_stores_results(db, records):
    ids = prepare(db, records, "local")
    settings = CampaignSettings(batch_size=4, predictor="model", model_version="test-0")
    job_store = db.job_store()
    run_locally(maker().make("local", ids, settings), store=job_store, ensure_success=True)

    docs = results_of(db, "local")
    assert sorted(docs) == sorted(ids)
    by_id = {r.material_id: r for r in records}
    for material_id, doc in docs.items():
        record = by_id[material_id]
        assert (doc.formula, doc.nsites) == (record.formula, record.nsites)
        assert Structure.from_dict(doc.structure) == record.get_structure()
        assert doc.timings.predict > 0
        if record.reduced_formula in UNCOVERED:  # one structure's failure, not the batch's
            assert doc.error.stage == "predict" and doc.error.exception == "ValueError"
            missing = UNCOVERED[record.reduced_formula]
            assert f"GPAW has no data for element(s) {missing}" in doc.error.reason
            continue
        assert doc.error is None and doc.model_version == "test-0"
        assert doc.flags == sorted({TEST_FLAG, *record.flags})  # PtSe2: two_dimensional
        assert doc.z2 is None and doc.gaps is None  # no physics from a test analyser
        assert doc.timings.total == pytest.approx(doc.timings.predict + doc.timings.analysis)

    candidates = open_store(db, "candidates")
    assert {d["reduced_formula"] for d in candidates.query({"campaign": "local"})} == HEAVY
    summary = open_store(db, "campaigns").query_one({"campaign": "local"})
    assert (summary["n_results"], summary["n_failed"]) == (13, len(UNCOVERED))
    assert summary["n_candidates"] == len(HEAVY)

    # every job, including the 4 dynamic predict/analyse pairs, carries the metadata
    job_store.connect()
    jobs = list(job_store.docs_store.query({"metadata.campaign": "local"}))
    stages = sorted(j["metadata"]["stage"] for j in jobs)
    assert stages == ["analyse"] * 4 + ["fanout"] + ["predict"] * 4 + ["summary"]
    assert all(j["metadata"]["settings"]["batch_size"] == 4 for j in jobs)
    assert all(j["metadata"]["model_version"] == "test-0" for j in jobs)
    predicts = [j["output"] for j in jobs if j["metadata"]["stage"] == "predict"]
    assert sorted(len(o["material_ids"]) for o in predicts) == [1, 4, 4, 4]
    assert sum(len(o["failures"]) for o in predicts) == len(UNCOVERED)
    assert all(o["peak_memory_mb"] > 100 for o in predicts)  # torch and the model

    # the Hamiltonians live in the data store (GridFS), one blob each
    blobs = job_store.additional_stores["data"]
    for output in predicts:
        for item in output["hamiltonians"]:
            assert item["hamiltonian"]["store"] == "data"
            blob = blobs.query_one({"blob_uuid": item["hamiltonian"]["blob_uuid"]})
            check_hamiltonian(by_id[item["material_id"]], Hamiltonian.from_dict(blob["data"]))
    assert blobs.count() == N_PREDICTED


def test_failures_are_recorded_per_structure_and_retried(db, covered):
    ids = prepare(db, covered, "failing")
    failing = maker(predictor=predict_except_tellurides, analyser=fails_for_bismuth)
    settings = CampaignSettings(batch_size=20)
    run_locally(failing.make("failing", ids, settings), store=db.job_store(), ensure_success=True)
    docs = results_of(db, "failing")
    tellurides = {r.material_id for r in covered if "Te" in r.elements}
    bismuth = {r.material_id for r in covered if "Bi" in r.elements} - tellurides
    assert tellurides and bismuth
    errors = {i: d.error for i, d in docs.items() if d.error is not None}
    assert set(errors) == tellurides | bismuth
    for material_id, error in errors.items():
        stage = "predict" if material_id in tellurides else "analysis"
        exception = "RuntimeError" if material_id in tellurides else "ValueError"
        assert (error.stage, error.exception) == (stage, exception)
        assert error.reason.startswith("test failure:") and "error" in docs[material_id].flags
    assert sum(d.error is None for d in docs.values()) == len(ids) - len(errors)

    # running the campaign again retries only the failed structures
    job_store = db.job_store()
    run_locally(maker().make("failing", ids, settings), store=job_store, ensure_success=True)
    docs = results_of(db, "failing")
    assert len(docs) == len(ids) and all(d.error is None for d in docs.values())
    job_store.connect()
    outputs = [j["output"] for j in job_store.docs_store.query({"metadata.stage": "analyse"})]
    assert sorted(o["n_processed"] for o in outputs) == [len(errors), len(ids)]


def test_a_failed_predict_job_leaves_error_documents(db, covered):
    ids = prepare(db, covered[:3], "no-prediction")
    broken = maker(predictor=not_a_hamiltonian)
    responses = run_locally(broken.make("no-prediction", ids, CampaignSettings()),
                            store=db.job_store())  # fmt: skip
    assert len(responses) == 3  # fan-out, analyse, summary; the predict job failed
    docs = results_of(db, "no-prediction")
    assert sorted(docs) == sorted(ids)
    assert all(d.error.stage == "predict" and d.error.reason == NO_PREDICTION
               for d in docs.values())  # fmt: skip


def test_analyser_returning_another_material_fails_the_job(db, covered, caplog):
    ids = prepare(db, covered[:2], "broken")
    with pytest.raises(RuntimeError):
        run_locally(maker(analyser=wrong_material).make("broken", ids, CampaignSettings()),
                    store=db.job_store(), ensure_success=True)  # fmt: skip
    assert "someone-else" in caplog.text
    assert open_store(db, "results").count({"campaign": "broken"}) == 0


def test_job_database_needs_a_running_job():
    with pytest.raises(RuntimeError, match="expose_store"):
        job_database()


def test_categories_route_predictions_and_analyses_to_their_workers(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(jobflow.SETTINGS, "JOB_STORE", db.job_store())  # what a worker reads
    elements = covered_elements("model")
    report = submit_campaign(db, SAMPLE, "routed", CampaignSettings(batch_size=5),
                             maker=maker(), supported_elements=elements)  # fmt: skip
    assert report.n_todo == N_PREDICTED and len(report.ingest.errors) == len(UNCOVERED)
    launchpad = db.launchpad()
    predict, analyse = FWorker(category="predict"), FWorker(category="analyse")
    assert launchpad.get_fw_by_id(report.fw_id).name == "fan-out routed"
    assert not launchpad.run_exists(predict)
    assert launch_rocket(launchpad, analyse)  # the fan-out
    predicts = launchpad.get_fw_ids({"spec.stage": "predict"})
    analyses = launchpad.get_fw_ids({"spec.stage": "analyse"})
    assert len(predicts) == len(analyses) == math.ceil(N_PREDICTED / 5)
    assert {launchpad.get_fw_by_id(i).spec["_category"] for i in predicts} == {"predict"}
    assert {launchpad.get_fw_by_id(i).spec["_category"] for i in analyses} == {"analyse"}
    assert not launchpad.run_exists(analyse)  # analyses wait for their predictions
    rapidfire(launchpad, predict, nlaunches=0, max_loops=1, sleep_time=0)
    assert all(launchpad.get_fw_by_id(i).state == "COMPLETED" for i in predicts)
    assert not launchpad.run_exists(predict) and launchpad.run_exists(analyse)
    assert open_store(db, "results").count({"campaign": "routed", "error": None}) == 0
    rapidfire(launchpad, analyse, nlaunches=0, max_loops=1, sleep_time=0)  # analyses, summary
    states = {fw["state"] for fw in launchpad.fireworks.find({"spec.campaign": "routed"})}
    assert states == {"COMPLETED"}
    assert open_store(db, "results").count({"campaign": "routed", "error": None}) == N_PREDICTED

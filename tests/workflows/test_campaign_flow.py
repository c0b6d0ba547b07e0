"""The campaign flow run by jobflow and in-process FireWorks rockets on a real server."""

from __future__ import annotations

from pathlib import Path

import jobflow
import pytest
from campaign_test_functions import (
    TEST_FLAG,
    fails_for_bismuth,
    heavy_element_rule,
    structure_only,
    wrong_material,
)
from fireworks import FWorker
from fireworks.core.rocket_launcher import launch_rocket, rapidfire
from jobflow import run_locally
from pymatgen.core import Structure

from socscreen.makers.batch import ProcessBatchMaker, job_database
from socscreen.makers.ingest import ingest
from socscreen.makers.summary import CampaignSummaryMaker
from socscreen.stores.queries import save_records
from socscreen.stores.schemas.campaign import CampaignSettings, MaterialResultDocument
from socscreen.workflows.campaign import CampaignMaker, submit_campaign
from socscreen.workflows.sources import open_source

SAMPLE = Path(__file__).parents[2] / "examples" / "gnome_sample"
HEAVY = {"Bi2Se3", "Bi2Te3", "TePb", "HgTe", "ScBiPt", "LaBiPt", "Bi"}  # Z >= 80


@pytest.fixture(scope="module")
def records():
    return ingest(open_source(SAMPLE)).records


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


def test_flow_fans_out_and_stores_results(db, records):
    ids = prepare(db, records, "local")
    maker = CampaignMaker(
        batch_maker=ProcessBatchMaker(processor=structure_only),
        summary_maker=CampaignSummaryMaker(criterion=heavy_element_rule),
    )
    settings = CampaignSettings(batch_size=4, model_version="test-0")
    job_store = db.job_store()
    run_locally(maker.make("local", ids, settings), store=job_store, ensure_success=True)

    results = open_store(db, "results")
    docs = [MaterialResultDocument.model_validate(d) for d in results.query({"campaign": "local"})]
    assert sorted(d.material_id for d in docs) == sorted(ids)
    by_id = {r.material_id: r for r in records}
    for doc in docs:
        record = by_id[doc.material_id]
        assert (doc.formula, doc.nsites) == (record.formula, record.nsites)
        assert Structure.from_dict(doc.structure) == record.get_structure()
        assert doc.density == pytest.approx(record.get_structure().density)
        assert doc.flags == [TEST_FLAG] and doc.model_version == "test-0"
        assert doc.z2 is None and doc.gaps is None  # no physics from a test processor
        assert doc.timings.total is not None and doc.timings.total >= 0

    candidates = open_store(db, "candidates")
    assert {d["reduced_formula"] for d in candidates.query({"campaign": "local"})} == HEAVY
    summary = open_store(db, "campaigns").query_one({"campaign": "local"})
    assert summary["n_results"] == 13 and summary["n_candidates"] == len(HEAVY)

    # every job, including the 4 dynamic batches, carries the campaign metadata
    job_store.connect()
    jobs = list(job_store.docs_store.query({"metadata.campaign": "local"}))
    stages = sorted(j["metadata"]["stage"] for j in jobs)
    assert stages == ["batch"] * 4 + ["fanout", "summary"]
    assert all(j["metadata"]["settings"]["batch_size"] == 4 for j in jobs)
    assert all(j["metadata"]["model_version"] == "test-0" for j in jobs)
    batch_sizes = sorted(
        len(j["output"]["material_ids"]) for j in jobs if j["metadata"]["stage"] == "batch"
    )
    assert batch_sizes == [1, 4, 4, 4]


def test_failures_are_recorded_and_retried(db, records):
    ids = prepare(db, records, "failing")
    maker = CampaignMaker(batch_maker=ProcessBatchMaker(processor=fails_for_bismuth))
    settings = CampaignSettings(batch_size=20)
    run_locally(maker.make("failing", ids, settings), store=db.job_store(), ensure_success=True)
    results = open_store(db, "results")
    failed = list(results.query({"campaign": "failing", "error": {"$ne": None}}))
    bismuth = {r.material_id for r in records if "Bi" in r.elements}
    assert {d["material_id"] for d in failed} == bismuth
    assert all(
        d["error"]["stage"] == "process" and d["error"]["exception"] == "ValueError" for d in failed
    )
    assert all(
        d["error"]["reason"].startswith("test failure:") and "error" in d["flags"] for d in failed
    )
    assert results.count({"campaign": "failing", "error": None}) == len(ids) - len(bismuth)

    # running the campaign again retries only the failed structures
    retry = CampaignMaker(batch_maker=ProcessBatchMaker(processor=structure_only))
    job_store = db.job_store()
    run_locally(retry.make("failing", ids, settings), store=job_store, ensure_success=True)
    assert results.count({"campaign": "failing"}) == len(ids)
    assert results.count({"campaign": "failing", "error": None}) == len(ids)
    job_store.connect()
    outputs = [j["output"] for j in job_store.docs_store.query({"metadata.stage": "batch"})]
    assert sorted(o["n_processed"] for o in outputs) == [len(bismuth), len(ids)]


def test_processor_returning_another_material_fails_the_job(db, records, caplog):
    ids = prepare(db, records[:2], "broken")
    maker = CampaignMaker(batch_maker=ProcessBatchMaker(processor=wrong_material))
    with pytest.raises(RuntimeError):
        run_locally(maker.make("broken", ids, CampaignSettings()), store=db.job_store(),
                    ensure_success=True)  # fmt: skip
    assert "someone-else" in caplog.text
    assert open_store(db, "results").count({"campaign": "broken"}) == 0


def test_job_database_needs_a_running_job():
    with pytest.raises(RuntimeError, match="expose_store"):
        job_database()


def test_categories_route_stages_to_workers(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(jobflow.SETTINGS, "JOB_STORE", db.job_store())  # what a worker reads
    maker = CampaignMaker(batch_maker=ProcessBatchMaker(processor=structure_only),
                          categories={"batch": "heavy"})  # fmt: skip
    report = submit_campaign(db, SAMPLE, "routed", CampaignSettings(batch_size=5), maker=maker)
    launchpad = db.launchpad()
    control, heavy = FWorker(category="__none__"), FWorker(category="heavy")
    assert launchpad.get_fw_by_id(report.fw_id).name == "fan-out routed"
    assert launch_rocket(launchpad, control)  # the fan-out
    batches = launchpad.get_fw_ids({"spec.stage": "batch"})
    assert len(batches) == 3
    assert all(launchpad.get_fw_by_id(i).spec["_category"] == "heavy" for i in batches)
    assert not launchpad.run_exists(control)  # summary waits, batches are not its category
    rapidfire(launchpad, heavy, nlaunches=0, max_loops=1, sleep_time=0)
    assert all(launchpad.get_fw_by_id(i).state == "COMPLETED" for i in batches)
    assert not launchpad.run_exists(heavy) and launchpad.run_exists(control)
    assert launch_rocket(launchpad, control)  # the summary
    assert (
        set(launchpad.get_fw_ids({"spec.campaign": "routed", "state": {"$ne": "COMPLETED"}}))
        == set()
    )
    assert open_store(db, "results").count({"campaign": "routed"}) == 13

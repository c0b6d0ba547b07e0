"""End to end: the sample campaign on a real server, run by concurrent rlaunch processes.

Workers are separate ``rlaunch rapidfire`` processes that know the database only from
their launchpad file and ``JOBFLOW_CONFIG_FILE``, exactly as on a cluster. They predict
with the shipped model and analyse with a structure-only test analyser that checks the
Hamiltonian it gets through GridFS.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from campaign_test_functions import (
    TEST_FLAG,
    heavy_element_rule,
    sample_coverage,
    sample_formulas,
    slow_structure_only,
)
from pymatgen.core import Composition, Element

from socscreen.makers.analyse import AnalyseBatchMaker
from socscreen.makers.summary import CampaignSummaryMaker
from socscreen.model.predictors import covered_elements
from socscreen.stores.queries import results_query
from socscreen.stores.schemas.campaign import CampaignSettings, MaterialResultDocument
from socscreen.workflows.campaign import CampaignMaker, submit_campaign
from socscreen.workflows.workers import (
    WorkerGroup,
    firework_states,
    run_worker_groups,
    run_workers,
    start_workers,
    write_worker_files,
)

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).parents[2] / "examples" / "gnome_sample"
N_STRUCTURES = 13  # 14 rows, one duplicate (TePb)
# structures with elements the shipped model cannot predict (no GPAW data: LaBiPt) are
# ingestion errors
UNCOVERED = sample_coverage(SAMPLE, covered_elements("model"))
N_PREDICTED = N_STRUCTURES - len(UNCOVERED)
#: predicted structures with Bi, Pb or Hg: candidates of the test rule
N_HEAVY = len({f for f in sample_formulas(SAMPLE) if f not in UNCOVERED
               and max(Element(e).Z for e in Composition(f).elements) >= 80})  # fmt: skip


def n_fireworks(batch_size: int) -> int:
    """Fan-out, a predict and an analyse Firework per batch, summary."""
    return 2 + 2 * math.ceil(N_PREDICTED / batch_size)


@pytest.fixture
def worker_env(monkeypatch):
    """Let worker processes import the test processors."""
    here = str(Path(__file__).parent)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("SOCSCREEN_TEST_SLEEP", "0.3")


def maker() -> CampaignMaker:
    return CampaignMaker(
        analyse_maker=AnalyseBatchMaker(analyser=slow_structure_only),
        summary_maker=CampaignSummaryMaker(criterion=heavy_element_rule),
    )


def submit(db, campaign, settings, source=SAMPLE):
    elements = covered_elements("model")
    return submit_campaign(db, source, campaign, settings, maker=maker(),
                           supported_elements=elements)  # fmt: skip


def wait(processes, limit=150.0):
    deadline = time.monotonic() + limit
    while any(p.poll() is None for p in processes):
        if time.monotonic() > deadline:
            for p in processes:
                p.kill()
            pytest.fail("workers did not finish in time")
        time.sleep(0.2)
    return [p.returncode for p in processes]


def launches_per_firework(launchpad) -> Counter:
    return Counter(doc["fw_id"] for doc in launchpad.launches.find({}, {"fw_id": 1}))


def test_two_concurrent_workers_run_every_firework_once(db, worker_env, tmp_path):
    settings = CampaignSettings(batch_size=3, predictor="model", model_version="test-e2e")
    report = submit(db, "e2e", settings)
    assert report.n_todo == N_PREDICTED and report.ingest.n_duplicates == 1
    launchpad = db.launchpad()

    files = write_worker_files(db, tmp_path / "run")
    exit_codes = wait(start_workers(files, 2, tmp_path / "run"))
    assert exit_codes == [0, 0], (tmp_path / "run" / "worker_0" / "worker.log").read_text()[-3000:]

    # 1 fan-out + batches of <= 3 structures (predict + analyse) + 1 summary, each run once
    fireworks = list(launchpad.fireworks.find({"spec.campaign": "e2e"}))
    assert len(fireworks) == n_fireworks(3)
    assert Counter(fw["state"] for fw in fireworks) == {"COMPLETED": n_fireworks(3)}
    assert Counter(fw["spec"]["stage"] for fw in fireworks) == {
        "fanout": 1,
        "predict": math.ceil(N_PREDICTED / 3),
        "analyse": math.ceil(N_PREDICTED / 3),
        "summary": 1,
    }
    per_fw = launches_per_firework(launchpad)
    assert set(per_fw) == {fw["fw_id"] for fw in fireworks} and set(per_fw.values()) == {1}
    launches = list(launchpad.launches.find())
    assert all(launch["state"] == "COMPLETED" for launch in launches)
    # both worker processes took work
    assert {Path(launch["launch_dir"]).parent.name for launch in launches} == {
        "worker_0",
        "worker_1",
    }
    # how long it takes is benchmarks/bench_campaign.py's question, not a test's

    results = db.store("results")
    results.connect()
    docs = [MaterialResultDocument.model_validate(d) for d in results.query({"campaign": "e2e"})]
    assert len(docs) == N_STRUCTURES == len({d.material_id for d in docs})
    predicted = [d for d in docs if d.error is None]
    assert len(predicted) == N_PREDICTED
    assert all(TEST_FLAG in d.flags and d.model_version == "test-e2e" for d in predicted)
    assert {f for d in predicted for f in d.flags} <= {TEST_FLAG, "two_dimensional"}  # PtSe2
    assert all(d.timings.predict > 0 for d in predicted)
    assert {d.error.stage for d in docs if d.error} == {"ingest"}
    tellurides = results.query(results_query(campaign="e2e", elements=["Te"]), ["reduced_formula"])
    assert sorted(d["reduced_formula"] for d in tellurides) == [
        "Bi2Te3", "CdTe", "HgTe", "Sb2Te3", "SnTe", "TePb",
    ]  # fmt: skip
    candidates = db.store("candidates")
    candidates.connect()
    assert candidates.count({"campaign": "e2e"}) == N_HEAVY  # Bi, Pb or Hg (test rule)
    campaigns = db.store("campaigns")
    campaigns.connect()
    summary = campaigns.query_one({"campaign": "e2e"})
    assert (summary["n_read"], summary["n_duplicates"], summary["n_results"]) == (14, 1, 13)
    assert summary["workflow_ids"] == [report.fw_id]

    # resubmitting the same campaign adds no workflow and no document
    again = submit(db, "e2e", settings)
    assert again.fw_id is None and again.n_todo == 0
    assert results.count({"campaign": "e2e"}) == N_STRUCTURES
    assert launchpad.fireworks.count_documents({"spec.campaign": "e2e"}) == n_fireworks(3)
    assert candidates.count({"campaign": "e2e"}) == N_HEAVY


def test_killed_worker_is_recovered_by_the_next_run(db, worker_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SOCSCREEN_TEST_SLEEP", "1.0")
    settings = CampaignSettings(batch_size=4)
    submit(db, "killed", settings)
    launchpad = db.launchpad()
    results = db.store("results")
    results.connect()

    files = write_worker_files(db, tmp_path / "first")
    (worker,) = start_workers(files, 1, tmp_path / "first")
    deadline = time.monotonic() + 90
    lost = None
    while lost is None:  # wait until an analyse job has stored part of its results
        assert time.monotonic() < deadline and worker.poll() is None, "no batch started"
        for fw_id in launchpad.get_fw_ids({"spec.stage": "analyse", "state": "RUNNING"}):
            ids = launchpad.get_fw_by_id(fw_id).tasks[0]["job"].function_args[1]
            if 1 <= results.count({"campaign": "killed", "material_id": {"$in": ids}}) < len(ids):
                lost = fw_id
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)  # the worker dies in the middle of a batch
    worker.wait()
    assert launchpad.get_fw_by_id(lost).state == "RUNNING"
    done_before = results.count({"campaign": "killed"})
    assert 1 <= done_before < N_STRUCTURES

    time.sleep(1.5)
    report = run_workers(db, 2, tmp_path / "second", lost_after=1.0)
    assert report.recovered == [lost]
    assert report.exit_codes == [0, 0]
    assert firework_states(launchpad, "killed") == {"COMPLETED": n_fireworks(4)}
    per_fw = launches_per_firework(launchpad)
    assert per_fw[lost] == 2  # the lost launch and the rerun
    assert all(n == 1 for fw_id, n in per_fw.items() if fw_id != lost)
    assert results.count({"campaign": "killed"}) == N_STRUCTURES
    assert results.count({"campaign": "killed", "error": None}) == N_PREDICTED

    # the rerun skipped the structures the killed worker had finished
    job_store = db.job_store()
    job_store.connect()
    uuid = launchpad.get_fw_by_id(lost).tasks[0]["job"].uuid
    output = job_store.get_output(uuid)
    assert output["n_skipped"] >= 1
    assert output["n_skipped"] + output["n_processed"] == len(output["material_ids"])


def test_predict_and_analyse_workers_split_by_category(db, worker_env, tmp_path):
    submit(db, "split", CampaignSettings(batch_size=5))
    groups = [WorkerGroup("predict", 1), WorkerGroup("analyse", 1)]
    report = run_worker_groups(db, groups, tmp_path / "run")
    assert report.exit_codes == [0, 0]
    launchpad = db.launchpad()
    assert firework_states(launchpad, "split") == {"COMPLETED": n_fireworks(5)}
    assert set(launches_per_firework(launchpad).values()) == {1}
    stage_of = {fw["fw_id"]: fw["spec"]["stage"] for fw in launchpad.fireworks.find()}
    ran = {}
    for launch in launchpad.launches.find():
        worker = Path(launch["launch_dir"]).parent.name
        ran.setdefault(worker, Counter())[stage_of[launch["fw_id"]]] += 1
    n_batches = math.ceil(N_PREDICTED / 5)
    assert ran == {"worker_0": {"predict": n_batches},
                   "worker_1": {"fanout": 1, "analyse": n_batches, "summary": 1}}  # fmt: skip
    # the predict worker found nothing to do during the fan-out and was started again
    assert report.restarts >= 1
    results = db.store("results")
    results.connect()
    assert results.count({"campaign": "split", "error": None}) == N_PREDICTED

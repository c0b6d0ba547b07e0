"""Faults of local workers while ``socscreen campaign run`` runs them (real processes).

The runner is the command itself, in a subprocess; its workers are ``rlaunch``
processes predicting with the shipped model and analysing with a test analyser that
sleeps ``SOCSCREEN_TEST_SLEEP`` seconds per structure, so that a batch can be caught
half done.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from campaign_test_functions import kills_its_worker_for_sodium, slow_structure_only, structure_only

from socscreen.makers.analyse import AnalyseBatchMaker
from socscreen.makers.predict import PredictBatchMaker
from socscreen.model.inference import load_model
from socscreen.stores.schemas.campaign import CampaignSettings
from socscreen.workflows.campaign import CampaignMaker, submit_campaign
from socscreen.workflows.lost_runs import MAX_ATTEMPTS, PID_FILE
from socscreen.workflows.workers import firework_states, run_workers

pytestmark = pytest.mark.slow

#: fan-out, one predict and one analyse batch (LiF and NaCl), summary
N_FIREWORKS = 4


@pytest.fixture
def worker_env(monkeypatch):
    """Let worker processes import the test functions."""
    paths = [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))


@pytest.fixture
def campaign(db, twins, worker_env, monkeypatch):
    """A submitted campaign of two structures in one batch, analysed slowly."""
    monkeypatch.setenv("SOCSCREEN_TEST_SLEEP", "3.0")
    maker = CampaignMaker(analyse_maker=AnalyseBatchMaker(analyser=slow_structure_only))
    submit_campaign(db, twins, "faults", CampaignSettings(batch_size=2), maker=maker,
                    supported_elements=load_model()[0].elements)  # fmt: skip
    return "faults"


def start_run(db, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "SOCSCREEN_HOME": str(folder / "home")}
    command = [sys.executable, "-m", "socscreen", "campaign", "run", "--workers", "2",
               "--db-uri", f"{db.uri}/{db.database}", "--run-dir", str(folder / "run")]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def half_done_analysis(db, run: subprocess.Popen, limit: float = 120.0) -> dict:
    """Wait until the analyse batch stored one of its two results; return its launch."""
    launchpad = db.launchpad()
    results = db.store("results")
    results.connect()
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline and run.poll() is None:
            for launch in launchpad.launches.find({"state": "RUNNING"}):
                fw = launchpad.fireworks.find_one({"fw_id": launch["fw_id"]})
                if fw["spec"].get("stage") != "analyse":
                    continue
                ids = fw["spec"]["_tasks"][0]["job"]["function_args"][1]
                query = {"campaign": "faults", "material_id": {"$in": ids}}
                if 1 <= results.count(query) < len(ids):
                    return launch
            time.sleep(0.05)
    finally:
        results.close()
    run.kill()
    pytest.fail(f"no analyse batch caught half done: {run.communicate()}")


def launches_per_firework(launchpad) -> Counter:
    return Counter(doc["fw_id"] for doc in launchpad.launches.find({}, {"fw_id": 1}))


def result_count(db) -> int:
    results = db.store("results")
    results.connect()
    try:
        return results.count({"campaign": "faults", "error": None})
    finally:
        results.close()


def test_a_killed_worker_is_rerun_while_the_campaign_runs(db, campaign, tmp_path):
    run = start_run(db, tmp_path)
    launch = half_done_analysis(db, run)
    pid = int((Path(launch["launch_dir"]).parent / PID_FILE).read_text().split()[0])
    os.kill(pid, signal.SIGKILL)  # no --lost-after, no second command
    out, err = run.communicate(timeout=240)
    assert run.returncode == 0, out + err
    text = " ".join(out.split())
    assert "worker(s) died: worker_" in text and "(SIGKILL)" in text
    assert f"their Fireworks [{launch['fw_id']}] rerun" in text
    launchpad = db.launchpad()
    assert firework_states(launchpad, campaign) == {"COMPLETED": N_FIREWORKS}
    per_fw = launches_per_firework(launchpad)
    assert per_fw.pop(launch["fw_id"]) == 2 and set(per_fw.values()) == {1}
    assert result_count(db) == 2


def test_sigterm_stops_the_workers_and_frees_their_fireworks(db, campaign, tmp_path):
    run = start_run(db, tmp_path)
    launch = half_done_analysis(db, run)
    workers = [int(f.read_text().split()[0]) for f in (tmp_path / "run").glob(f"*/{PID_FILE}")]
    assert len(workers) == 2
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 128 + signal.SIGTERM, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out + err, err
    assert lines[0].startswith(f"error: stopped by SIGTERM: workers stopped, Fireworks "
                               f"[{launch['fw_id']}] set back to READY")  # fmt: skip
    assert not [pid for pid in workers if psutil.pid_exists(pid)]  # none orphaned
    launchpad = db.launchpad()
    assert "RUNNING" not in firework_states(launchpad, campaign)

    # a plain run finishes the campaign, the stopped batch skipping its stored result
    report = run_workers(db, 2, tmp_path / "second")
    assert report.exit_codes == [0, 0] and report.recovered == []
    assert firework_states(launchpad, campaign) == {"COMPLETED": N_FIREWORKS}
    assert launches_per_firework(launchpad)[launch["fw_id"]] == 2
    assert result_count(db) == 2


def test_a_job_that_kills_its_worker_every_time_is_given_up(db, twins, worker_env, tmp_path):
    maker = CampaignMaker(predict_maker=PredictBatchMaker(predictor=kills_its_worker_for_sodium),
                          analyse_maker=AnalyseBatchMaker(analyser=structure_only))  # fmt: skip
    submit_campaign(db, twins, "faults", CampaignSettings(batch_size=1), maker=maker,
                    supported_elements=load_model()[0].elements)  # fmt: skip
    report = run_workers(db, 1, tmp_path / "run")
    launchpad = db.launchpad()
    (sodium,) = report.given_up
    assert report.lost == [sodium] * (MAX_ATTEMPTS - 1)
    assert report.died == ["worker_0 (SIGKILL)"] * MAX_ATTEMPTS and report.exit_codes == [0]
    assert launchpad.get_fw_by_id(sodium).state == "FIZZLED"
    # the rest of the campaign ran: LiF has its result, NaCl an error naming the prediction
    assert firework_states(launchpad, "faults") == {"COMPLETED": 5, "FIZZLED": 1}
    results = db.store("results")
    results.connect()
    errors = {d["reduced_formula"]: d["error"] for d in results.query({"campaign": "faults"})}
    results.close()
    assert errors["LiF"] is None and errors["NaCl"]["stage"] == "predict"


def test_a_checkout_broken_off_half_way_is_rerun_and_the_run_ends(db, campaign, tmp_path):
    from datetime import UTC, datetime, timedelta

    from fireworks import FWorker

    from socscreen.workflows.lost_runs import rerun_broken_checkouts

    # a worker killed (or a database lost) right after FireWorks marked its Firework
    # RESERVED and before it stored the launch: nothing points at the Firework, and its
    # WAITING children kept every worker polling for ever
    launchpad = db.launchpad()
    reserved = launchpad._get_a_fw_to_run(FWorker().query, checkout=True)
    assert reserved.state == "RESERVED" and not launchpad.launches.count_documents({})
    assert not launchpad.run_exists() and launchpad.future_run_exists()
    assert rerun_broken_checkouts(launchpad) == []  # as young as a checkout in progress
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    launchpad.fireworks.update_one({"fw_id": reserved.fw_id}, {"$set": {"updated_on": long_ago}})

    report = run_workers(db, 2, tmp_path / "run")
    assert report.recovered == [reserved.fw_id] and report.exit_codes == [0, 0]
    assert firework_states(launchpad, campaign) == {"COMPLETED": N_FIREWORKS}
    assert set(launches_per_firework(launchpad).values()) == {1}
    assert result_count(db) == 2


def test_a_running_firework_whose_launch_is_gone_is_rerun_and_a_live_one_is_not(db, campaign):
    from fireworks import FWorker

    from socscreen.workflows.lost_runs import rerun_broken_checkouts

    launchpad = db.launchpad()
    fw, launch_id = launchpad.checkout_fw(FWorker(), "/nonexistent/launch")
    assert launchpad.get_fw_by_id(fw.fw_id).state == "RUNNING"
    assert rerun_broken_checkouts(launchpad, 0.0) == []  # its launch runs: the heartbeat's
    launchpad.launches.delete_one({"launch_id": launch_id})  # the launch never stored
    assert rerun_broken_checkouts(launchpad, 0.0) == [fw.fw_id]
    assert launchpad.get_fw_by_id(fw.fw_id).state == "READY"


def test_a_workflow_lock_left_by_a_dead_process_is_released_and_the_run_ends(
    db, campaign, tmp_path
):
    from datetime import UTC, datetime, timedelta

    from fireworks import FWorker

    from socscreen.workflows.lost_runs import STALE_LOCK_S

    # a worker killed inside a FireWorks update of the workflow (or one whose database
    # went away there) leaves its lock set; FireWorks' own wait for it is 300 s, after
    # which the rerun of the broken checkout below would fail
    launchpad = db.launchpad()
    reserved = launchpad._get_a_fw_to_run(FWorker().query, checkout=True)
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    launchpad.fireworks.update_one({"fw_id": reserved.fw_id}, {"$set": {"updated_on": long_ago}})
    launchpad.workflows.update_one({"nodes": reserved.fw_id}, {"$set": {"locked": True}})
    first_fw = min(launchpad.workflows.find_one({"nodes": reserved.fw_id})["nodes"])

    t0 = time.monotonic()
    report = run_workers(db, 2, tmp_path / "run")
    assert time.monotonic() - t0 < STALE_LOCK_S + 120
    assert report.unlocked == [first_fw] and report.recovered == [reserved.fw_id]
    assert report.exit_codes == [0, 0]
    assert firework_states(launchpad, campaign) == {"COMPLETED": N_FIREWORKS}
    assert launchpad.workflows.count_documents({"locked": {"$exists": True}}) == 0
    assert result_count(db) == 2


def test_a_lock_its_holder_releases_is_left_to_it(db, campaign):
    import threading

    from socscreen.workflows.lost_runs import release_orphaned_locks

    launchpad = db.launchpad()
    assert release_orphaned_locks(launchpad, held_s=60.0) == []  # nothing locked: no wait
    launchpad.workflows.update_one({}, {"$set": {"locked": True}})
    holder = threading.Timer(
        1.0, launchpad.workflows.update_one, ({}, {"$unset": {"locked": True}})
    )
    holder.start()
    t0 = time.monotonic()
    assert release_orphaned_locks(launchpad, held_s=30.0) == []
    assert time.monotonic() - t0 < 10.0  # the wait ended when the holder let go
    holder.join()

"""The database crashing while ``socscreen campaign run`` runs (real processes).

The runner is the command itself, in a subprocess, with two ``rlaunch`` workers
predicting with the shipped model and analysing with a test analyser that sleeps
``SOCSCREEN_TEST_SLEEP`` seconds per structure; the database is an embedded SecantusDB
server of the test's own, SIGKILLed half way through the campaign. A job that lost its
connection (FIZZLED with a pymongo error) is rerun, one that failed on its own is not.
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
from campaign_test_functions import rock_salt, slow_structure_only
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from socscreen.makers.analyse import AnalyseBatchMaker
from socscreen.model.inference import load_model
from socscreen.stores.config import DatabaseConfig
from socscreen.stores.schemas.campaign import CampaignSettings
from socscreen.stores.server import server_status, start_server, stop_server
from socscreen.workflows.campaign import CampaignMaker, submit_campaign
from socscreen.workflows.lost_runs import MAX_ATTEMPTS, PID_FILE, rerun_database_failures
from socscreen.workflows.outages import first_line
from socscreen.workflows.workers import firework_states

#: Eight rock salts, distinct crystals (lattice constants 0.05 A apart), in four batches.
N_STRUCTURES = 8
#: pymongo gives up on an unreachable server after this long (ms) in the --db-uri tests,
#: so that runner and workers notice the crash within seconds (default 30 s).
SELECTION_MS = 3000


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A server of this test alone (the others share one that must not be killed)."""
    home = tmp_path / "home"
    monkeypatch.setenv("SOCSCREEN_HOME", str(home))
    paths = [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    monkeypatch.setenv("SOCSCREEN_TEST_SLEEP", "1.5")
    info = start_server(home / "db")
    yield info
    stop_server(home / "db")


def submit(db: DatabaseConfig, folder: Path) -> None:
    folder.mkdir()
    for i in range(N_STRUCTURES):
        cation, anion, a = ("Li", "F", 4.03) if i % 2 else ("Na", "Cl", 5.64)
        rock_salt(a + 0.05 * i, cation, anion).to(filename=str(folder / f"rs_{i}.cif"))
    maker = CampaignMaker(analyse_maker=AnalyseBatchMaker(analyser=slow_structure_only))
    settings = CampaignSettings(batch_size=2, predictor="model")
    submit_campaign(db, folder, "crash", settings, maker=maker,
                    supported_elements=load_model()[0].elements,
                    merge_duplicates=False)  # fmt: skip


def start_run(folder: Path, *options: str) -> subprocess.Popen:
    # -X faulthandler: SIGABRT makes a runner that overran its time print where it waits
    command = [sys.executable, "-X", "faulthandler", "-m", "socscreen", "campaign", "run",
               "--workers", "2", "--run-dir", str(folder / "run"), *options]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_dir(run: subprocess.Popen) -> Path:
    """The ``--run-dir`` of a runner started by :func:`start_run`."""
    return Path(run.args[run.args.index("--run-dir") + 1])


def results(db: DatabaseConfig) -> list[dict]:
    store = db.store("results")
    store.connect()
    try:
        return list(store.query({"campaign": "crash"}, ["material_id", "error"]))
    finally:
        store.close()


def crash_half_way(db: DatabaseConfig, run: subprocess.Popen, info) -> list[int]:
    """SIGKILL the server once some but not all results are stored; return the worker pids."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and run.poll() is None:
        if 2 <= len(results(db)) <= N_STRUCTURES - 3:
            workers = [int(f.read_text().split()[0]) for f in run_dir(run).glob(f"*/{PID_FILE}")]
            os.kill(info.pid, signal.SIGKILL)
            psutil.Process(info.pid).wait(10)
            return workers
        time.sleep(0.1)
    run.kill()
    pytest.fail(f"the campaign was never caught half done: {run.communicate()}")


def finish(run: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """The runner's output once it ended; past ``timeout`` s, fail with what it was doing."""
    try:
        return run.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGABRT)  # its threads' stacks go to stderr (faulthandler)
        try:
            out, err = run.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            out, err = run.communicate()
        logs = {
            log.parent.name: log.read_text()[-2000:] for log in run_dir(run).glob("*/worker.log")
        }
        pytest.fail(f"runner still running after {timeout} s\n{out}\n{err}\n{logs}")


def one_line_each(err: str) -> list[str]:
    return [" ".join(line.split()) for line in err.split("\n") if line.strip()]


def check_campaign_complete(db: DatabaseConfig) -> None:
    """Every structure has one result, without error; every Firework completed."""
    docs = results(db)
    assert len(docs) == N_STRUCTURES and len({d["material_id"] for d in docs}) == N_STRUCTURES
    assert all(d["error"] is None for d in docs)
    states = firework_states(db.launchpad(), "crash")
    assert set(states) == {"COMPLETED"}, states


@pytest.mark.slow
def test_the_runner_waits_for_a_restarted_database_and_recovers(server, tmp_path):
    uri = f"{server.uri}/crash_db?serverSelectionTimeoutMS={SELECTION_MS}"
    db = DatabaseConfig.from_uri(uri)
    submit(db, tmp_path / "inputs")
    run = start_run(tmp_path, "--db-uri", uri)
    crash_half_way(db, run, server)
    time.sleep(3 * SELECTION_MS / 1000)  # runner and workers find the database gone
    restarted = start_server(server.storage_path)  # by hand, as `socscreen db start` would
    assert restarted.port == server.port and restarted.pid != server.pid
    out, err = finish(run, 300)
    assert run.returncode == 0, out + err
    assert "Traceback" not in out + err
    (warning,) = one_line_each(err)
    assert warning.startswith(f"warning: database {uri} (database 'crash_db') unreachable (")
    assert warning.endswith("workers stopped, waiting up to 300 s for it to come back")
    assert "database unreachable 1 time(s)" in " ".join(out.split())
    check_campaign_complete(db)
    # the stopped batches ran again: some Firework has two launches, none more
    launches = Counter(d["fw_id"] for d in db.launchpad().launches.find({}, {"fw_id": 1}))
    assert max(launches.values()) == 2


@pytest.mark.slow
def test_the_embedded_server_is_started_again_by_the_runner(server, tmp_path):
    db = DatabaseConfig(uri=server.uri, database="socscreen")  # the embedded default
    submit(db, tmp_path / "inputs")
    run = start_run(tmp_path)
    crash_half_way(db, run, server)
    out, err = finish(run, 300)  # no one but the runner starts it again
    assert run.returncode == 0, out + err
    (warning,) = one_line_each(err)
    assert "unreachable (" in warning and warning.endswith("come back (starting it again)")
    restarted = server_status(server.storage_path)
    assert restarted.port == server.port and restarted.pid != server.pid
    check_campaign_complete(db)


@pytest.mark.slow
def test_a_database_that_stays_away_ends_the_run_in_one_line(server, tmp_path):
    uri = f"{server.uri}/gone?serverSelectionTimeoutMS={SELECTION_MS}"
    db = DatabaseConfig.from_uri(uri)
    submit(db, tmp_path / "inputs")
    run = start_run(tmp_path, "--db-uri", uri, "--db-wait", "5")
    workers = crash_half_way(db, run, server)
    out, err = finish(run, 120)
    assert run.returncode == 1 and "Traceback" not in out + err, out + err
    warning, error = one_line_each(err)
    assert warning.startswith("warning: database") and "waiting up to 5 s" in warning
    assert error.startswith(f"error: database {uri} (database 'gone') unreachable for ")
    assert "gave up (workers stopped; `socscreen campaign run` reruns their Fireworks" in error
    assert not [pid for pid in workers if psutil.pid_exists(pid)]  # none left behind

    # back: a plain run recovers what the crash left RUNNING and finishes the campaign
    start_server(server.storage_path)
    again = start_run(tmp_path / "again", "--db-uri", uri)
    out, err = finish(again, 300)
    assert again.returncode == 0 and "Traceback" not in out + err, out + err
    check_campaign_complete(db)


def lose_the_connection() -> None:
    """A job whose database connection breaks (as pymongo reports it)."""
    raise AutoReconnect("127.0.0.1:27017: connection closed")


def fail_on_its_own() -> None:
    """A job with a fault of its own."""
    raise ValueError("a fault of the job")


def test_a_job_that_lost_the_database_is_rerun_with_its_children(db, tmp_path, monkeypatch):
    from fireworks import Firework, FWorker, PyTask, Workflow
    from fireworks.core.rocket_launcher import rapidfire

    monkeypatch.chdir(tmp_path)
    launchpad = db.launchpad()
    lost = Firework(PyTask(func=f"{__name__}.lose_the_connection"), name="lost")
    child = Firework(PyTask(func="time.sleep", args=[0]), parents=[lost], name="child")
    faulty = Firework(PyTask(func=f"{__name__}.fail_on_its_own"), name="faulty")
    launchpad.add_wf(Workflow([lost, child, faulty]))
    ids = {fw["name"]: fw["fw_id"] for fw in launchpad.fireworks.find({}, {"name": 1, "fw_id": 1})}
    for attempt in range(1, MAX_ATTEMPTS + 1):
        rapidfire(launchpad, FWorker(), nlaunches=0, sleep_time=0)
        states = {name: launchpad.get_fw_by_id(i).state for name, i in ids.items()}
        assert states == {"lost": "FIZZLED", "child": "WAITING", "faulty": "FIZZLED"}
        rerun = rerun_database_failures(launchpad)
        # rerun with its child, up to MAX_ATTEMPTS launches; the faulty job stays FIZZLED
        assert rerun == ([ids["lost"]] if attempt < MAX_ATTEMPTS else [])
        assert launchpad.get_fw_by_id(ids["faulty"]).state == "FIZZLED"
    assert launchpad.get_fw_by_id(ids["lost"]).state == "FIZZLED"


def test_an_outage_is_named_in_a_short_line():
    error = ServerSelectionTimeoutError(
        "127.0.0.1:1: [Errno 111] Connection refused (configured timeouts: socketTimeoutMS: "
        "20000.0ms, connectTimeoutMS: 20000.0ms), Timeout: 3.0s, Topology Description: <...>"
    )
    assert first_line(error) == "127.0.0.1:1: [Errno 111] Connection refused"

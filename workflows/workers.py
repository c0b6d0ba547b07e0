"""FireWorks workers of a campaign: their config files and local runs.

A worker needs three files, all written from one :class:`DatabaseConfig`:
``my_launchpad.yaml`` (``rlaunch -l``), ``my_fworker.yaml`` (``-w``; its category
selects which stages it runs) and ``jobflow.yaml`` (``JOBFLOW_CONFIG_FILE``: the JobStore
with the ``data`` GridFS store; jobflow 0.4 ignores ``JOBFLOW_JOB_STORE``). Each worker
process runs with one OpenMP/BLAS thread (torch included).

Locally, :func:`run_workers` (one category) and :func:`run_worker_groups` (several, e.g.
one predict worker and two analyse workers) start ``rlaunch rapidfire`` processes and
keep them going until no work is left for them. While they run, a worker process that
dies (killed, out of memory) is noticed within a second: the Fireworks it was running
are set back to READY and it is started again (:mod:`socscreen.workflows.lost_runs`).
A database that stops answering is waited for (bounded), the workers are stopped
meanwhile and started again when it is back, with their Fireworks rerun
(:mod:`socscreen.workflows.outages`). SIGTERM, SIGINT or SIGHUP to the runner stops its
workers (each runs in its own process group) and sets their Fireworks back to READY
before :class:`WorkersStopped` is raised.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pymongo.errors import ConnectionFailure

from socscreen.stores.config import DatabaseConfig
from socscreen.workflows.lost_runs import (
    DEFAULT_LOST_AFTER,
    is_database_error,
    recover_lost_runs,
    release_orphaned_locks,
    rerun_broken_checkouts,
    rerun_database_failures,
    rerun_dead_local_launches,
    write_pid_file,
)
from socscreen.workflows.outages import DatabaseUnavailable, DatabaseWatch

if TYPE_CHECKING:
    from fireworks import LaunchPad

__all__ = [
    "DEFAULT_LOST_AFTER",
    "SINGLE_THREAD_ENV",
    "DatabaseUnavailable",
    "DatabaseWatch",
    "RunReport",
    "WorkerFiles",
    "WorkerGroup",
    "WorkersStopped",
    "firework_states",
    "recover_lost_runs",
    "run_worker_groups",
    "run_workers",
    "start_workers",
    "write_slurm_qadapter",
    "write_worker_files",
]

#: Environment of every worker process: one thread each, N processes fill N cores.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
#: Seconds between two looks for dead local workers of other runs (own ones: every poll).
DEAD_WORKER_CHECK_S = 10.0
#: Signals that stop a local run and its workers.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass(frozen=True)
class WorkerFiles:
    """Config files of a worker.

    Attributes
    ----------
    launchpad
        FireWorks launchpad yaml.
    fworker
        FireWorks worker yaml (name and category).
    jobflow
        jobflow settings yaml (``JOBFLOW_CONFIG_FILE``).
    """

    launchpad: Path
    fworker: Path
    jobflow: Path

    def environment(self) -> dict[str, str]:
        """Environment variables of a worker process (added to the current ones)."""
        return {"JOBFLOW_CONFIG_FILE": str(self.jobflow), **SINGLE_THREAD_ENV}

    def rlaunch_arguments(self, sleep: int = 2, timeout: int | None = None) -> list[str]:
        """Arguments of ``rlaunch`` for ``rapidfire`` until no Firework is ready or waiting.

        ``sleep`` (s) is the pause before looking again while other workers still run
        jobs that may add work (dynamic fan-out); ``timeout`` (s) stops taking new work.
        """
        arguments = [
            "-l",
            str(self.launchpad),
            "-w",
            str(self.fworker),
            "rapidfire",
            "--nlaunches",
            "0",
            "--sleep",
            str(sleep),
        ]
        return arguments + ([] if timeout is None else ["--timeout", str(timeout)])

    def rlaunch_command(self, sleep: int = 2, timeout: int | None = None) -> list[str]:
        """``rlaunch`` command line run with this Python (see :meth:`rlaunch_arguments`)."""
        return [
            sys.executable,
            "-m",
            "fireworks.scripts.rlaunch_run",
            *self.rlaunch_arguments(sleep, timeout),
        ]


def write_worker_files(
    db: DatabaseConfig,
    folder: str | os.PathLike,
    category: str | list[str] | None = None,
    name: str = "socscreen worker",
) -> WorkerFiles:
    """Write launchpad, fworker and jobflow files for workers into ``folder``.

    Parameters
    ----------
    db
        Database of the campaign.
    folder
        Output folder (created).
    category
        FireWorks category (or list) the worker runs; ``None`` runs every Firework,
        ``"__none__"`` only those without a category.
    name
        Worker name recorded in each launch.
    """
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    fworker = folder / "my_fworker.yaml"
    spec: dict[str, Any] = {"name": name, "category": category or "", "query": "{}"}
    fworker.write_text(yaml.safe_dump(spec, sort_keys=False))
    return WorkerFiles(
        launchpad=db.write_launchpad_file(folder / "my_launchpad.yaml"),
        fworker=fworker,
        jobflow=db.write_jobflow_config(folder / "jobflow.yaml"),
    )


def write_slurm_qadapter(files: WorkerFiles, path: str | os.PathLike, **overrides: Any) -> Path:
    """Write a FireWorks SLURM queue adapter that starts workers with ``files``.

    Parameters
    ----------
    files
        Worker files the queued jobs use.
    path
        Output yaml.
    **overrides
        SLURM fields replacing the template's (``queue``, ``account``, ``walltime``, ...).
    """
    template = resources.files("socscreen.workflows") / "templates" / "slurm_qadapter.yaml"
    spec = yaml.safe_load(template.read_text())
    exports = " ".join(f"{k}={v}" for k, v in files.environment().items())
    spec.update(
        {
            "rocket_launch": " ".join(["rlaunch", *files.rlaunch_arguments(sleep=30)]),
            "pre_rocket": f"export {exports}",
            **overrides,
        }
    )
    path = Path(path)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def firework_states(launchpad: LaunchPad, campaign: str | None = None) -> Counter:
    """Count Fireworks per state, of one campaign or of the whole launchpad."""
    match = {} if campaign is None else {"spec.campaign": campaign}
    counts: Counter = Counter()
    for doc in launchpad.fireworks.find(match, {"state": 1}):
        counts[doc["state"]] += 1
    return counts


def start_workers(
    files: WorkerFiles,
    n_workers: int,
    folder: str | os.PathLike,
    sleep: int = 2,
    timeout: int | None = None,
    first: int = 0,
) -> list[subprocess.Popen]:
    """Start ``n_workers`` ``rlaunch rapidfire`` processes, each in ``folder/worker_<i>``.

    Workers are numbered from ``first``; their output goes to ``worker.log`` in their
    folder.
    """
    if n_workers < 1:
        raise ValueError(f"need at least one worker, got {n_workers}")
    return [
        _start_worker(files, Path(folder) / f"worker_{i}", sleep, timeout)
        for i in range(first, first + n_workers)
    ]


def _start_worker(
    files: WorkerFiles, workdir: Path, sleep: int, timeout: int | None
) -> subprocess.Popen:
    """Start one worker in its own process group and leave its pid file in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "worker.log", "ab") as log:
        process = subprocess.Popen(
            files.rlaunch_command(sleep=sleep, timeout=timeout),
            cwd=workdir,
            env={**os.environ, **files.environment()},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches the runner, which stops it in order
        )
    write_pid_file(process, workdir)
    return process


@dataclass(frozen=True)
class WorkerGroup:
    """Local workers of one FireWorks category.

    Attributes
    ----------
    category
        Category (or list) the workers run; ``None`` runs every Firework, ``"__none__"``
        only those without a category.
    n_workers
        Worker processes (one thread each).
    """

    category: str | list[str] | None
    n_workers: int

    @property
    def label(self) -> str:
        """Folder name of the group's worker files."""
        if self.category is None:
            return "all"
        return "+".join([self.category] if isinstance(self.category, str) else self.category)


@dataclass
class RunReport:
    """Outcome of :func:`run_workers`.

    Attributes
    ----------
    recovered
        Fireworks rerun before the workers started because their worker was lost (silent
        for ``lost_after``, or a local worker process that is gone).
    exit_codes
        Exit code of each worker (the first non-zero one when a restarted process failed);
        a worker killed by a signal whose Fireworks were rerun does not count as failed.
    states
        Fireworks per state afterwards.
    seconds
        Wall time (s).
    restarts
        Worker processes started again because work for their category became ready
        after they had stopped (or died).
    died
        Worker processes that died while the run went on, e.g. ``"worker_1 (SIGKILL)"``.
    lost
        Fireworks rerun during the run because their local worker died.
    given_up
        Fireworks marked FIZZLED because their worker died on each of their last
        attempts (see :data:`~socscreen.workflows.lost_runs.MAX_ATTEMPTS`).
    outages
        Seconds the database did not answer, per outage.
    db_lost
        Fireworks rerun because the database went away under them (their workers were
        stopped, or their job lost its connection).
    unlocked
        Lowest Firework id of each workflow whose lock, left by a process that died or
        lost the database, was taken away (see
        :func:`~socscreen.workflows.lost_runs.release_orphaned_locks`).
    """

    recovered: list[int]
    exit_codes: list[int]
    states: Counter
    seconds: float
    restarts: int = 0
    died: list[str] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    given_up: list[int] = field(default_factory=list)
    outages: list[float] = field(default_factory=list)
    db_lost: list[int] = field(default_factory=list)
    unlocked: list[int] = field(default_factory=list)


class WorkersStopped(KeyboardInterrupt):
    """A local run stopped by a signal, after it stopped its workers.

    A ``KeyboardInterrupt``: no ``except Exception`` on the way swallows it, and a caller
    that handles Ctrl-C handles SIGTERM and SIGHUP the same way.

    Attributes
    ----------
    signal
        Name of the signal, e.g. ``"SIGTERM"``.
    code
        Exit code a command should end with (128 + signal number).
    rerun
        Fireworks the stopped workers were running, set back to READY.
    """

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum).name
        self.code = 128 + signum
        self.rerun: list[int] = []
        super().__init__(f"stopped by {self.signal}")


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn the first of :data:`STOP_SIGNALS` into :class:`WorkersStopped` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = []

    def stop(signum: int, frame: Any) -> None:
        if not stopping:  # a second signal must not interrupt the clean-up
            stopping.append(signum)
            raise WorkersStopped(signum)

    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _terminate(processes: list[subprocess.Popen], grace: float = 10.0) -> None:
    """Stop worker processes (their whole process group): SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in processes if p.poll() is None]
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        deadline = time.monotonic() + grace
        for process in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))


@dataclass
class _Slot:
    files: WorkerFiles
    fworker: Any  # fireworks.FWorker of the slot's category
    workdir: Path
    process: subprocess.Popen
    exit_code: int = 0
    noticed: bool = False  # whether ``process`` ended and that was handled


def run_workers(
    db: DatabaseConfig,
    n_workers: int,
    folder: str | os.PathLike,
    category: str | list[str] | None = None,
    lost_after: float = DEFAULT_LOST_AFTER,
    timeout: int | None = None,
    on_poll: Any = None,
    watch: DatabaseWatch | None = None,
) -> RunReport:
    """Recover lost runs, then run ``n_workers`` local workers until no work is left.

    Parameters
    ----------
    db
        Database of the campaign.
    n_workers
        Worker processes (one thread each).
    folder
        Run folder for worker files, launch folders and logs.
    category
        Worker category (see :func:`write_worker_files`).
    lost_after
        Age of a silent RUNNING launch that counts as lost (s).
    timeout
        Stop workers from taking new Fireworks after this many seconds.
    on_poll
        Called every second with the Firework state counts while workers run.
    watch
        How to ride out a database outage (default: wait 300 s, restart nothing).
    """
    return run_worker_groups(
        db, [WorkerGroup(category, n_workers)], folder, lost_after, timeout, on_poll, watch
    )


def run_worker_groups(
    db: DatabaseConfig,
    groups: list[WorkerGroup],
    folder: str | os.PathLike,
    lost_after: float = DEFAULT_LOST_AFTER,
    timeout: int | None = None,
    on_poll: Any = None,
    watch: DatabaseWatch | None = None,
) -> RunReport:
    """Recover lost runs, then run local workers of several categories until no work is left.

    Each worker is an ``rlaunch rapidfire`` process that stops by itself when FireWorks
    sees no ready or coming work for its category. A worker restricted to one category
    also stops while the work it waits for runs in another category (a predict worker
    during the fan-out, an analyse worker while predictions run); it is started again
    as soon as a Firework of its category is ready. The run ends when every worker has
    stopped and none has ready work.

    Parameters
    ----------
    db
        Database of the campaign.
    groups
        Workers per category, e.g. ``[WorkerGroup("predict", 1), WorkerGroup("analyse",
        2)]``; worker folders are numbered across groups (``worker_0``, ``worker_1``, ...).
    folder
        Run folder for worker files (one folder per group), launch folders and logs.
    lost_after
        Age of a silent RUNNING launch that counts as lost (s).
    timeout
        Stop workers from taking new Fireworks after this many seconds.
    on_poll
        Called every second with the Firework state counts while workers run.
    watch
        How to ride out a database outage (default: wait 300 s, restart nothing).

    Raises
    ------
    DatabaseUnavailable
        If the database stopped answering and did not come back within the watch's
        wait; the workers are stopped.
    WorkersStopped
        On SIGTERM, SIGINT or SIGHUP, after the workers stopped.
    """
    from fireworks import FWorker

    t0 = time.perf_counter()
    watch = watch or DatabaseWatch(db)
    launchpad = watch.call(db.launchpad)

    report = RunReport([], [], Counter(), 0.0)

    def recover() -> list[int]:  # what an earlier run left: lost workers, lost database
        report.unlocked += release_orphaned_locks(launchpad)
        lost = recover_lost_runs(launchpad, lost_after) + rerun_dead_local_launches(launchpad)[0]
        return lost + rerun_broken_checkouts(launchpad) + rerun_database_failures(launchpad)

    report.recovered = sorted(watch.call(recover))
    slots: list[_Slot] = []
    with _stop_on_signals():
        try:
            for group in groups:
                files = write_worker_files(
                    db, Path(folder) / f"files_{group.label}", group.category
                )
                fworker = FWorker(category=group.category or "")
                first = len(slots)
                processes = start_workers(
                    files, group.n_workers, folder, timeout=timeout, first=first
                )
                slots += [
                    _Slot(files, fworker, Path(folder) / f"worker_{first + i}", process)
                    for i, process in enumerate(processes)
                ]
            _supervise(launchpad, slots, report, t0, timeout, on_poll, watch)
        except WorkersStopped as stopped:
            _terminate([slot.process for slot in slots])
            with contextlib.suppress(ConnectionFailure):  # else the next run recovers them
                stopped.rerun = rerun_dead_local_launches(launchpad)[0]
            raise
        finally:
            _terminate([slot.process for slot in slots])
    report.exit_codes = [slot.exit_code for slot in slots]
    report.states = watch.call(lambda: firework_states(launchpad))
    report.outages = list(watch.outages)
    report.seconds = time.perf_counter() - t0
    return report


def _supervise(
    launchpad: LaunchPad,
    slots: list[_Slot],
    report: RunReport,
    t0: float,
    timeout: int | None,
    on_poll: Any,
    watch: DatabaseWatch,
) -> None:
    """Poll the workers every second until all have stopped and none has ready work.

    A worker that ended is started again when its category has ready work; before, the
    Fireworks of dead workers (this run's, or any local one's every
    :data:`DEAD_WORKER_CHECK_S`) and those that lost the database are rerun. A database
    that stops answering is waited out (:func:`_ride_out_outage`).
    """
    last_check = time.monotonic()
    while True:
        try:
            if _poll(launchpad, slots, report, t0, timeout, on_poll, last_check):
                return
        except ConnectionFailure as error:
            _ride_out_outage(launchpad, slots, report, watch, error)
            last_check = -float("inf")  # look for lost runs at once
            continue
        if time.monotonic() - last_check > DEAD_WORKER_CHECK_S:
            last_check = time.monotonic()
        time.sleep(1.0)


def _poll(
    launchpad: LaunchPad,
    slots: list[_Slot],
    report: RunReport,
    t0: float,
    timeout: int | None,
    on_poll: Any,
    last_check: float,
) -> bool:
    """One look at the workers and the launchpad; return whether the run is over."""
    left = None if timeout is None else int(timeout - (time.perf_counter() - t0))
    ended = [s for s in slots if s.process.poll() is not None and not s.noticed]
    if ended or time.monotonic() - last_check > DEAD_WORKER_CHECK_S:
        report.unlocked += release_orphaned_locks(launchpad)  # before the reruns wait on one
        lost, given_up = rerun_dead_local_launches(launchpad)  # before new pid files
        report.lost += lost + rerun_broken_checkouts(launchpad)
        report.given_up += given_up
        report.db_lost += rerun_database_failures(launchpad)
    for slot in ended:
        slot.noticed = True
        code = slot.process.returncode
        if code < 0:  # killed: its Fireworks were rerun above
            report.died.append(f"{slot.workdir.name} ({signal.Signals(-code).name})")
        elif code and _lost_the_database(slot.workdir):  # no fault of the worker
            report.died.append(f"{slot.workdir.name} (lost the database)")
        else:
            slot.exit_code = slot.exit_code or code
    for slot in slots:
        if not slot.noticed:
            continue
        if (left is None or left > 0) and launchpad.run_exists(slot.fworker):
            slot.process = _start_worker(slot.files, slot.workdir, 2, left)
            slot.noticed = False
            report.restarts += 1
    if all(slot.noticed for slot in slots):
        return True
    if on_poll is not None:
        on_poll(firework_states(launchpad))
    return False


def _lost_the_database(workdir: Path) -> bool:
    """Whether a worker's log ends in a pymongo connection error (its last 4 kB)."""
    try:
        with open(workdir / "worker.log", "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            return is_database_error(log.read().decode(errors="replace"))
    except OSError:
        return False


def _ride_out_outage(
    launchpad: LaunchPad,
    slots: list[_Slot],
    report: RunReport,
    watch: DatabaseWatch,
    error: ConnectionFailure,
) -> None:
    """Stop the workers, wait for the database, then rerun what they were running.

    The workers are started again by the next poll (where work is ready).
    """
    watch.announce(error, "workers stopped")
    _terminate([slot.process for slot in slots])
    for slot in slots:
        slot.noticed = True
    watch.wait()

    def recover() -> list[int]:  # no worker of this run is checking out: any age counts
        report.unlocked += release_orphaned_locks(launchpad)
        lost = rerun_dead_local_launches(launchpad, give_up=False)[0]
        return lost + rerun_broken_checkouts(launchpad, 0.0) + rerun_database_failures(launchpad)

    report.db_lost += watch.call(recover)

"""FireWorks workers of a campaign: their config files, lost-run recovery, local runs.

A worker needs three files, all written from one :class:`DatabaseConfig`:
``my_launchpad.yaml`` (``rlaunch -l``), ``my_fworker.yaml`` (``-w``; its category
selects which stages it runs) and ``jobflow.yaml`` (``JOBFLOW_CONFIG_FILE``: the JobStore
with the ``data`` GridFS store; jobflow 0.4 ignores ``JOBFLOW_JOB_STORE``). Each worker
process runs with one OpenMP/BLAS thread (torch included).

Locally, :func:`run_workers` (one category) and :func:`run_worker_groups` (several, e.g.
one predict worker and two analyse workers) start ``rlaunch rapidfire`` processes and
keep them going until no work is left for them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from socscreen.stores.config import DatabaseConfig

if TYPE_CHECKING:
    from fireworks import LaunchPad

__all__ = [
    "DEFAULT_LOST_AFTER",
    "SINGLE_THREAD_ENV",
    "RunReport",
    "WorkerFiles",
    "WorkerGroup",
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
#: Default age of a RUNNING launch without a heartbeat before it counts as lost (s);
#: FireWorks workers ping every hour.
DEFAULT_LOST_AFTER = 4 * 3600


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


def recover_lost_runs(
    launchpad: LaunchPad, expiration_secs: float = DEFAULT_LOST_AFTER
) -> list[int]:
    """Rerun Fireworks whose worker died (RUNNING without heartbeat for ``expiration_secs``).

    Returns
    -------
    list of int
        Ids of the Fireworks set back to READY.
    """
    _, lost_fw_ids, _ = launchpad.detect_lostruns(expiration_secs=expiration_secs, rerun=True)
    return sorted(lost_fw_ids)


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
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "worker.log", "ab") as log:
        return subprocess.Popen(
            files.rlaunch_command(sleep=sleep, timeout=timeout),
            cwd=workdir,
            env={**os.environ, **files.environment()},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


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
        Fireworks rerun because their worker was lost.
    exit_codes
        Exit code of each worker (the first non-zero one when a restarted process failed).
    states
        Fireworks per state afterwards.
    seconds
        Wall time (s).
    restarts
        Worker processes started again because work for their category became ready
        after they had stopped.
    """

    recovered: list[int]
    exit_codes: list[int]
    states: Counter
    seconds: float
    restarts: int = 0


@dataclass
class _Slot:
    files: WorkerFiles
    fworker: Any  # fireworks.FWorker of the slot's category
    workdir: Path
    process: subprocess.Popen
    exit_code: int = 0


def run_workers(
    db: DatabaseConfig,
    n_workers: int,
    folder: str | os.PathLike,
    category: str | list[str] | None = None,
    lost_after: float = DEFAULT_LOST_AFTER,
    timeout: int | None = None,
    on_poll: Any = None,
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
    """
    return run_worker_groups(
        db, [WorkerGroup(category, n_workers)], folder, lost_after, timeout, on_poll
    )


def run_worker_groups(
    db: DatabaseConfig,
    groups: list[WorkerGroup],
    folder: str | os.PathLike,
    lost_after: float = DEFAULT_LOST_AFTER,
    timeout: int | None = None,
    on_poll: Any = None,
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
    """
    from fireworks import FWorker

    t0 = time.perf_counter()
    launchpad = db.launchpad()
    recovered = recover_lost_runs(launchpad, lost_after)
    slots: list[_Slot] = []
    for group in groups:
        files = write_worker_files(db, Path(folder) / f"files_{group.label}", group.category)
        fworker = FWorker(category=group.category or "")
        first = len(slots)
        processes = start_workers(files, group.n_workers, folder, timeout=timeout, first=first)
        slots += [
            _Slot(files, fworker, Path(folder) / f"worker_{first + i}", process)
            for i, process in enumerate(processes)
        ]
    restarts = 0
    try:
        while True:
            left = None if timeout is None else int(timeout - (time.perf_counter() - t0))
            for slot in slots:
                code = slot.process.poll()
                if code is None:
                    continue
                slot.exit_code = slot.exit_code or code
                if (left is None or left > 0) and launchpad.run_exists(slot.fworker):
                    slot.process = _start_worker(slot.files, slot.workdir, 2, left)
                    restarts += 1
            if all(slot.process.poll() is not None for slot in slots):
                break
            if on_poll is not None:
                on_poll(firework_states(launchpad))
            time.sleep(1.0)
    finally:
        for slot in slots:
            if slot.process.poll() is None:
                slot.process.terminate()
                slot.process.wait(timeout=30)
    for slot in slots:
        slot.exit_code = slot.exit_code or slot.process.returncode
    return RunReport(
        recovered=recovered,
        exit_codes=[slot.exit_code for slot in slots],
        states=firework_states(launchpad),
        seconds=time.perf_counter() - t0,
        restarts=restarts,
    )

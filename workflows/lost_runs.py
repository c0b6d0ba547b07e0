"""Lost runs: Fireworks left RUNNING by a worker that died, or failed by a lost database.

Two ways to tell a worker died:

* **heartbeat** (:func:`recover_lost_runs`): FireWorks workers ping their launch every
  hour; a RUNNING launch silent for longer than a given age is lost. Works for workers
  anywhere, but only after that age;
* **dead process** (:func:`rerun_dead_local_launches`): a local worker started by
  :mod:`socscreen.workflows.workers` leaves ``worker.pid`` (its pid and start time) in
  its folder, the parent of every launch folder it makes. A RUNNING launch on this host
  whose worker process no longer exists is lost at once.

A third way needs no worker at all (:func:`rerun_broken_checkouts`): FireWorks checks a
Firework out in steps (RESERVED, a RUNNING launch, then RUNNING with that launch); a
worker killed, or a database lost, between them leaves a Firework that no launch or pid
file points at, and whose WAITING children keep every worker polling for ever.

A lost Firework is set back to READY and its batch reruns (finished structures are
skipped); one whose :data:`MAX_ATTEMPTS`-th launch is lost (a job that kills its worker
every time) is marked FIZZLED instead, so that the campaign ends.

FireWorks marks a workflow ``locked`` while a process updates it; a process killed, or
cut off from the database, in the middle leaves the mark, and every later update of that
workflow (a rerun above, a worker completing a launch) waits 300 s for it and then fails.
:func:`release_orphaned_locks` takes away a mark that stays for :data:`STALE_LOCK_S`.

A job whose database connection broke (the server crashed or restarted under it) fails
with a pymongo connection error, and FireWorks records it FIZZLED once the database is
back. That is no fault of the job: :func:`rerun_database_failures` sets such Fireworks
back to READY (with their children, which ran without their output), up to
:data:`MAX_ATTEMPTS` launches.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    import subprocess

    from fireworks import LaunchPad

__all__ = [
    "DEFAULT_LOST_AFTER",
    "MAX_ATTEMPTS",
    "PID_FILE",
    "STALE_LOCK_S",
    "STALLED_CHECKOUT_S",
    "dead_local_launches",
    "is_database_error",
    "recover_lost_runs",
    "release_orphaned_locks",
    "rerun_broken_checkouts",
    "rerun_database_failures",
    "rerun_dead_local_launches",
    "write_pid_file",
]

#: Default age of a RUNNING launch without a heartbeat before it counts as lost (s);
#: FireWorks workers ping every hour.
DEFAULT_LOST_AFTER = 4 * 3600
#: Launches of one Firework (archived ones included) after which a lost one is fizzled.
MAX_ATTEMPTS = 3
#: Age (s) of a half-done checkout that counts as broken off: FireWorks' own checkout
#: takes milliseconds, so one still half done after this is not in progress.
STALLED_CHECKOUT_S = 60.0
#: Seconds a workflow lock must stay, seen on every look, to count as orphaned: FireWorks
#: holds one for the milliseconds of an update, and waits 300 s for one before failing.
STALE_LOCK_S = 20.0
#: File in a local worker's folder: ``"<pid> <start time (s since the epoch)>"``.
PID_FILE = "worker.pid"
#: Exceptions (last line of a stack trace) of a job or worker that lost its database.
DATABASE_ERRORS = (
    "pymongo.errors.AutoReconnect",
    "pymongo.errors.ConnectionFailure",
    "pymongo.errors.NetworkTimeout",
    "pymongo.errors.ServerSelectionTimeoutError",
)


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


def release_orphaned_locks(
    launchpad: LaunchPad, held_s: float = STALE_LOCK_S, look_every_s: float = 0.5
) -> list[int]:
    """Unset the workflow locks whose holder died or lost the database.

    A lock counts as orphaned when it is still set on every look over ``held_s``; one
    that a live process sets and unsets is gone on one of the looks (the wait ends as
    soon as no lock is left). Cheap when nothing is locked: one query.

    Returns
    -------
    list of int
        The lowest Firework id of each workflow whose lock was taken away.
    """
    locked = {"locked": {"$exists": True}}
    held = {doc["_id"] for doc in launchpad.workflows.find(locked, {"_id": 1})}
    deadline = time.monotonic() + held_s
    while held and time.monotonic() < deadline:
        time.sleep(look_every_s)
        held &= {doc["_id"] for doc in launchpad.workflows.find(locked, {"_id": 1})}
    if not held:
        return []
    orphaned = {"_id": {"$in": sorted(held)}, **locked}
    first_ids = sorted(min(doc["nodes"]) for doc in launchpad.workflows.find(orphaned))
    launchpad.workflows.update_many(orphaned, {"$unset": {"locked": True}})
    return first_ids


def write_pid_file(process: subprocess.Popen, workdir: Path) -> None:
    """Record a worker process (pid and start time) in its folder."""
    try:
        started = psutil.Process(process.pid).create_time()
    except psutil.NoSuchProcess:  # died at once: any start time tells it is gone
        started = 0.0
    partial = workdir / f"{PID_FILE}.new"
    partial.write_text(f"{process.pid} {started!r}\n")
    partial.replace(workdir / PID_FILE)  # a reader never sees half a file


def _alive(pid_file: Path) -> bool:
    """Whether the process a pid file names still runs (the same process, not a reused pid)."""
    try:
        pid, started = pid_file.read_text().split()
        process = psutil.Process(int(pid))
        return process.status() != psutil.STATUS_ZOMBIE and (
            abs(process.create_time() - float(started)) < 1.0
        )
    except (OSError, ValueError, psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def dead_local_launches(launchpad: LaunchPad) -> dict[int, int]:
    """Find the RUNNING launches of this host whose local worker process is gone.

    Only launches whose folder's parent holds a :data:`PID_FILE` are judged (workers
    started elsewhere, or by hand, are left to the heartbeat).

    Returns
    -------
    dict
        Launch id -> Firework id.
    """
    host = socket.gethostname()
    dead: dict[int, int] = {}
    running = launchpad.launches.find(
        {"state": "RUNNING", "host": host}, {"launch_id": 1, "fw_id": 1, "launch_dir": 1}
    )
    for launch in running:
        pid_file = Path(launch.get("launch_dir") or "/").parent / PID_FILE
        if pid_file.is_file() and not _alive(pid_file):
            dead[launch["launch_id"]] = launch["fw_id"]
    return dead


def _attempts(launchpad: LaunchPad, fw_ids: list[int]) -> dict[int, int]:
    """Count the launches of each Firework so far, archived ones included."""
    return {
        doc["fw_id"]: len(doc.get("launches", [])) + len(doc.get("archived_launches", []))
        for doc in launchpad.fireworks.find(
            {"fw_id": {"$in": fw_ids}}, {"fw_id": 1, "launches": 1, "archived_launches": 1}
        )
    }


def rerun_dead_local_launches(
    launchpad: LaunchPad, give_up: bool = True
) -> tuple[list[int], list[int]]:
    """Rerun the Fireworks of :func:`dead_local_launches` (fizzle those lost too often).

    Parameters
    ----------
    launchpad
        The campaign's launchpad.
    give_up
        Fizzle a Firework whose lost launch was its :data:`MAX_ATTEMPTS`-th; ``False``
        reruns every one (workers stopped because the database was unreachable).

    Returns
    -------
    tuple of list of int
        Ids of the Fireworks set back to READY, and of those marked FIZZLED because the
        lost launch was their :data:`MAX_ATTEMPTS`-th.
    """
    dead = dead_local_launches(launchpad)
    if not dead:
        return [], []
    attempts = _attempts(launchpad, list(set(dead.values())))
    limit = MAX_ATTEMPTS if give_up else float("inf")
    given_up = [i for i, fw in dead.items() if attempts.get(fw, 0) >= limit]
    rerun = [i for i in dead if i not in given_up]
    fw_ids: dict[bool, list[int]] = {}
    for fizzle, launch_ids in ((False, rerun), (True, given_up)):
        fw_ids[fizzle] = []
        if launch_ids:
            _, lost, _ = launchpad.detect_lostruns(
                expiration_secs=0,
                rerun=not fizzle,
                fizzle=fizzle,
                launch_query={"launch_id": {"$in": launch_ids}},
            )
            fw_ids[fizzle] = sorted(lost)
    return fw_ids[False], fw_ids[True]


def _age_s(stamp: datetime | str | None) -> float:
    """Seconds since a FireWorks time stamp (a naive-UTC datetime or an ISO string)."""
    if stamp is None:
        return float("inf")
    when = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds()


def rerun_broken_checkouts(
    launchpad: LaunchPad, older_than_s: float = STALLED_CHECKOUT_S
) -> list[int]:
    """Rerun the Fireworks whose checkout by a worker was broken off half way.

    A Firework counts when, for at least ``older_than_s``, it has been

    * RESERVED: socscreen's workers never reserve ahead (``rlaunch`` without
      ``--reserve``), so it was marked by a checkout that never made its launch; or
    * RUNNING while its last launch is missing or no longer RUNNING (the launch ended, or
      was never stored, and the Firework was not told).

    Parameters
    ----------
    launchpad
        The campaign's launchpad.
    older_than_s
        Age of the Firework's (and its last launch's) last change; ``0`` when no worker
        can be checking out (all stopped, as while a database outage is ridden out).

    Returns
    -------
    list of int
        Ids of the Fireworks set back to READY.
    """
    broken = []
    for doc in launchpad.fireworks.find(
        {"state": {"$in": ["RESERVED", "RUNNING"]}},
        {"fw_id": 1, "state": 1, "launches": 1, "updated_on": 1},
    ):
        if _age_s(doc.get("updated_on")) < older_than_s:
            continue
        if doc["state"] == "RESERVED":
            broken.append(doc["fw_id"])
            continue
        last = launchpad.launches.find_one(
            {"launch_id": (doc.get("launches") or [None])[-1]},
            {"state": 1, "state_history": 1},
        )
        if last is None or (
            last["state"] != "RUNNING"
            and _age_s((last.get("state_history") or [{}])[-1].get("updated_on")) >= older_than_s
        ):
            broken.append(doc["fw_id"])
    for fw_id in broken:
        launchpad.rerun_fw(fw_id)
    return sorted(broken)


def is_database_error(stack_trace: str) -> bool:
    """Whether a stack trace ends in a pymongo connection error (:data:`DATABASE_ERRORS`)."""
    lines = [line for line in stack_trace.splitlines() if line.strip()]
    return bool(lines) and lines[-1].startswith(DATABASE_ERRORS)


def rerun_database_failures(launchpad: LaunchPad) -> list[int]:
    """Rerun the Fireworks FIZZLED because their job lost the database.

    A Firework counts when the stack trace of its last launch ends in a pymongo
    connection error and it has had fewer than :data:`MAX_ATTEMPTS` launches (a job that
    breaks its connection every time stays FIZZLED). FireWorks reruns its children too.

    Returns
    -------
    list of int
        Ids of the Fireworks set back to READY (children not included).
    """
    fizzled = {
        doc["fw_id"]: doc["launches"][-1]
        for doc in launchpad.fireworks.find({"state": "FIZZLED"}, {"fw_id": 1, "launches": 1})
        if doc.get("launches")
    }
    if not fizzled:
        return []
    traces = {
        doc["launch_id"]: ((doc.get("action") or {}).get("stored_data") or {})
        .get("_exception", {})
        .get("_stacktrace", "")
        for doc in launchpad.launches.find(
            {"launch_id": {"$in": list(fizzled.values())}},
            {"launch_id": 1, "action.stored_data._exception._stacktrace": 1},
        )
    }
    lost = [fw for fw, launch in fizzled.items() if is_database_error(traces.get(launch) or "")]
    attempts = _attempts(launchpad, lost)
    rerun = sorted(fw for fw in lost if attempts.get(fw, 0) < MAX_ATTEMPTS)
    for fw_id in rerun:
        launchpad.rerun_fw(fw_id)
    return rerun

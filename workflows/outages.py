"""The database going away while local workers run: wait for it, reconnect, recover.

When the database stops answering (its server crashed or restarts), every database call
of the runner fails with a pymongo ``ConnectionFailure`` (at most pymongo's 30 s server
selection later) and so does every worker's. :func:`socscreen.workflows.workers.
run_worker_groups` then, through a :class:`DatabaseWatch`:

1. says so in one line (``notify``) and stops its workers: they can store nothing, and
   their launches are left RUNNING;
2. pings the database every :data:`POLL_S` seconds for at most ``wait_s`` (default
   :data:`DEFAULT_DB_WAIT`), calling ``restart`` before each ping if it has one (the
   embedded server: started again on its port);
3. once it answers, sets the Fireworks of the stopped workers back to READY (not counted
   as a lost attempt) and those FIZZLED by a broken connection too
   (:func:`~socscreen.workflows.lost_runs.rerun_database_failures`), and starts the
   workers again. After ``wait_s`` it raises :class:`DatabaseUnavailable`, a one-line
   message; the next ``socscreen campaign run`` recovers the Fireworks.

Documents are safe throughout: results are upserts by (campaign, material_id), a rerun
batch skips the structures it already stored, and a job output is written again under
the same job id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo.errors import ConnectionFailure

from socscreen.stores.config import DatabaseConfig

__all__ = [
    "DEFAULT_DB_WAIT",
    "POLL_S",
    "DatabaseUnavailable",
    "DatabaseWatch",
    "first_line",
]

#: Seconds a runner waits for a database that stopped answering before it gives up.
DEFAULT_DB_WAIT = 300.0
#: Seconds between two pings of a database that stopped answering.
POLL_S = 2.0

T = TypeVar("T")


class DatabaseUnavailable(RuntimeError):
    """The database did not answer again within the runner's wait (one-line message)."""


def first_line(error: BaseException) -> str:
    """Return what went wrong in one short line, e.g. ``host:port: [Errno 111] Connection refused``.

    The first line of the message without pymongo's list of timeouts and topology, at
    most 120 characters.
    """
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    text = text.split(" (configured timeouts")[0].split(", Timeout: ")[0]
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass
class DatabaseWatch:
    """How a runner rides out a database outage.

    Attributes
    ----------
    db
        The database (pinged with its own client options).
    wait_s
        Longest wait for it to answer again (s).
    restart
        Called before each ping while it does not answer, e.g. to start the embedded
        server again; ``None``: wait for someone else to.
    notify
        Receives one line when an outage begins.
    on_wait
        Receives the seconds waited so far, every :data:`POLL_S` s of an outage.
    outages
        Seconds each outage lasted, in order.
    """

    db: DatabaseConfig
    wait_s: float = DEFAULT_DB_WAIT
    restart: Callable[[], Any] | None = None
    notify: Callable[[str], None] | None = None
    on_wait: Callable[[float], None] | None = None
    outages: list[float] = field(default_factory=list)

    def announce(self, error: ConnectionFailure, doing: str) -> None:
        """Send the one line that says the database is gone and what happens now."""
        if self.notify is not None:
            restarting = " (starting it again)" if self.restart is not None else ""
            self.notify(
                f"database {self.db.describe()} unreachable ({first_line(error)}): {doing}, "
                f"waiting up to {self.wait_s:.0f} s for it to come back{restarting}"
            )

    def wait(self) -> float:
        """Block until the database answers a ping; return the seconds waited.

        Raises
        ------
        DatabaseUnavailable
            If it did not answer within ``wait_s``.
        """
        start = time.monotonic()
        while True:
            if self.restart is not None:
                self.restart()
            if self.db.answers(timeout=POLL_S):
                waited = time.monotonic() - start
                self.outages.append(waited)
                return waited
            waited = time.monotonic() - start
            if waited >= self.wait_s:
                raise DatabaseUnavailable(
                    f"database {self.db.describe()} unreachable for {waited:.0f} s: gave up "
                    "(workers stopped; `socscreen campaign run` reruns their Fireworks once "
                    "it is back)"
                )
            if self.on_wait is not None:
                self.on_wait(waited)
            time.sleep(min(POLL_S, self.wait_s - waited))

    def call(self, function: Callable[[], T], doing: str = "retrying") -> T:
        """Return ``function()``, waiting out outages (:meth:`wait`) and calling it again."""
        while True:
            try:
                return function()
            except ConnectionFailure as error:
                self.announce(error, doing)
                self.wait()

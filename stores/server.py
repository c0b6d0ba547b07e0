"""The embedded default database: a local MongoDB-protocol server process.

When no database is configured, socscreen runs SecantusDB (a pure-Python server speaking
the MongoDB wire protocol, on WiredTiger) as a child process bound to the loopback
interface, with its data in ``SETTINGS.home / "db"``. A state file ``server.json`` in the
storage directory records pid, host and port, so that ``socscreen db start``, ``db stop``
and ``db status`` work across processes; a lock file serialises starts and stops.

FireWorks, maggma's ``MongoStore``/``GridFSStore`` and jobflow's ``JobStore`` talk to it
as to any MongoDB server (see DESIGN.md, "The ecosystem, as measured here").
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from socscreen.settings import SETTINGS

__all__ = [
    "ServerInfo",
    "ServerStartError",
    "default_storage_path",
    "embedded_server",
    "find_free_port",
    "ping",
    "server_status",
    "start_server",
    "stop_server",
]

STATE_FILE = "server.json"
#: The port of the last server started in a storage directory, kept after it stops or
#: crashes so that the next start reuses it (worker files written earlier stay valid).
PORT_FILE = "last_port"
LOG_FILE = "server.log"
LOCK_FILE = "server.lock"
DATA_DIR = "data"


class ServerStartError(RuntimeError):
    """The embedded database server did not come up."""


@dataclass(frozen=True)
class ServerInfo:
    """A running embedded server.

    Attributes
    ----------
    pid
        Process id of the server.
    host, port
        Address it listens on.
    storage_path
        Directory holding state file, log and the WiredTiger data folder.
    started_at
        Start time (seconds since the epoch).
    startup_s
        Seconds from spawning the process until it answered a ping.
    """

    pid: int
    host: str
    port: int
    storage_path: Path
    started_at: float
    startup_s: float

    @property
    def uri(self) -> str:
        """MongoDB connection string of the server."""
        return f"mongodb://{self.host}:{self.port}"

    def to_json(self) -> str:
        """Serialise for the state file."""
        return json.dumps({**asdict(self), "storage_path": str(self.storage_path)})

    @classmethod
    def from_json(cls, text: str) -> ServerInfo:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(**{**data, "storage_path": Path(data["storage_path"])})


def default_storage_path() -> Path:
    """Directory of the embedded database, ``SETTINGS.home / "db"``."""
    return Path(SETTINGS.home).expanduser() / "db"


def find_free_port(host: str = "127.0.0.1", preferred: int | None = None) -> int:
    """Find a TCP port on ``host`` that nothing listens on, ``preferred`` if it is free.

    The preferred port is probed with ``SO_REUSEADDR``, as the server binds it: a port a
    stopped server left in TIME_WAIT is free for the next one.
    """
    if preferred:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, preferred))
                return preferred
            except OSError:
                pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ping(uri: str, timeout: float = 1.0) -> bool:
    """Whether a MongoDB-protocol server at ``uri`` answers ``ping`` within ``timeout`` s."""
    ms = max(1, int(timeout * 1000))
    client: MongoClient = MongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def _locked(storage_path: Path) -> Iterator[None]:
    storage_path.mkdir(parents=True, exist_ok=True)
    with open(storage_path / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_our_server(pid: int, storage_path: Path) -> bool:
    """Whether ``pid`` is a live SecantusDB process serving ``storage_path``."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return "secantus" in " ".join(cmdline) and str(storage_path / DATA_DIR) in cmdline


def _read_state(storage_path: Path) -> ServerInfo | None:
    path = storage_path / STATE_FILE
    if not path.is_file():
        return None
    try:
        return ServerInfo.from_json(path.read_text())
    except (ValueError, TypeError, KeyError):
        return None


def _last_port(storage_path: Path) -> int | None:
    """Return the port the last server of ``storage_path`` used (``None``: never started)."""
    path = storage_path / PORT_FILE
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _log_tail(storage_path: Path, n_lines: int = 20) -> str:
    path = storage_path / LOG_FILE
    if not path.is_file():
        return "(no server log)"
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join(lines[-n_lines:]) or "(empty server log)"


def server_status(storage_path: Path | None = None) -> ServerInfo | None:
    """Return the server of ``storage_path`` if it runs and answers, else ``None``.

    A state file left by a dead server is removed.
    """
    storage_path = Path(storage_path or default_storage_path()).expanduser().resolve()
    info = _read_state(storage_path)
    if info is None:
        return None
    if not _is_our_server(info.pid, storage_path):
        (storage_path / STATE_FILE).unlink(missing_ok=True)
        return None
    return info if ping(info.uri, timeout=2.0) else None


def start_server(
    storage_path: Path | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float | None = None,
) -> ServerInfo:
    """Start the embedded server in the background, or return the one already running.

    Parameters
    ----------
    storage_path
        Directory for data, log and state file (default ``SETTINGS.home / "db"``).
    host
        Interface to listen on; the default serves this machine only.
    port
        TCP port; default the port of the previous run if free, else any free port.
    timeout
        Seconds to wait for the server to answer a ping (default
        ``SETTINGS.db_start_timeout``).

    Returns
    -------
    ServerInfo
        The running server; it outlives this process until :func:`stop_server`.

    Raises
    ------
    ServerStartError
        If the process exits or does not answer within ``timeout``; the message ends with
        the tail of the server log.
    """
    return _ensure_running(storage_path, host, port, timeout)[0]


def _ensure_running(
    storage_path: Path | None, host: str, port: int | None, timeout: float | None
) -> tuple[ServerInfo, bool]:
    """Start the server unless it runs; return it and whether this call started it."""
    storage_path = Path(storage_path or default_storage_path()).expanduser().resolve()
    timeout = SETTINGS.db_start_timeout if timeout is None else timeout
    with _locked(storage_path):
        running = server_status(storage_path)
        if running is not None:
            return running, False
        port = port or find_free_port(host, preferred=_last_port(storage_path))
        command = [
            sys.executable, "-m", "secantus",
            "--host", host, "--port", str(port),
            "--storage-path", str(storage_path / DATA_DIR),
            "--standalone", "--log-level", "WARNING",
        ]  # fmt: skip
        t0 = time.perf_counter()
        with open(storage_path / LOG_FILE, "ab") as log:
            # cwd = storage_path: SecantusDB reads ./secantusd.toml, never the user's cwd one.
            process = subprocess.Popen(
                command,
                cwd=storage_path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        uri = f"mongodb://{host}:{port}"
        deadline = t0 + timeout
        while not ping(uri, timeout=0.5):
            if process.poll() is not None:
                raise ServerStartError(
                    f"embedded database server exited with code {process.returncode} "
                    f"({' '.join(command)}); log tail:\n{_log_tail(storage_path)}"
                )
            if time.perf_counter() > deadline:
                _terminate(process.pid, grace=5.0)
                raise ServerStartError(
                    f"embedded database server on {uri} did not answer within {timeout:.0f} s; "
                    f"log tail:\n{_log_tail(storage_path)}"
                )
            time.sleep(0.05)
        info = ServerInfo(
            pid=process.pid,
            host=host,
            port=port,
            storage_path=storage_path,
            started_at=time.time(),
            startup_s=time.perf_counter() - t0,
        )
        tmp = storage_path / f".{STATE_FILE}.{os.getpid()}"
        tmp.write_text(info.to_json())
        os.replace(tmp, storage_path / STATE_FILE)
        (storage_path / PORT_FILE).write_text(f"{port}\n")
        return info, True


def _terminate(pid: int, grace: float) -> None:
    """SIGTERM ``pid``, wait up to ``grace`` s, then SIGKILL; reap it if it is our child."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=grace)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
    except psutil.NoSuchProcess:
        pass


def stop_server(storage_path: Path | None = None, grace: float = 15.0) -> bool:
    """Stop the embedded server of ``storage_path`` (SIGTERM, then SIGKILL after ``grace`` s).

    Returns
    -------
    bool
        Whether a running server was stopped.
    """
    storage_path = Path(storage_path or default_storage_path()).expanduser().resolve()
    with _locked(storage_path):
        info = _read_state(storage_path)
        stopped = False
        if info is not None and _is_our_server(info.pid, storage_path):
            _terminate(info.pid, grace)
            stopped = True
        (storage_path / STATE_FILE).unlink(missing_ok=True)
        return stopped


@contextlib.contextmanager
def embedded_server(
    storage_path: Path | None = None, host: str = "127.0.0.1", timeout: float | None = None
) -> Iterator[ServerInfo]:
    """Use the embedded server for the duration of a ``with`` block.

    A server that already runs (``socscreen db start``) is used and left running; one
    started here is stopped on exit.
    """
    info, started = _ensure_running(storage_path, host, None, timeout)
    try:
        yield info
    finally:
        if started:
            stop_server(info.storage_path)

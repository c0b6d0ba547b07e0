"""The embedded default database: a local MongoDB-protocol server process.

When no database is configured, socscreen runs SecantusDB (a pure-Python server speaking
the MongoDB wire protocol, on WiredTiger) as a child process bound to the loopback
interface, with its data in ``SETTINGS.home / "db"``. A state file ``server.json`` in the
storage directory records pid, host and port, so that ``socscreen db start``, ``db stop``
and ``db status`` work across processes; a lock file serialises starts and stops. A
restart reuses the last port (``last_port``), so worker files written earlier stay valid.

Memory: the server's WiredTiger cache is ``SETTINGS.db_cache_size`` (256 MB by default,
SecantusDB's own default is 1 GB) and its malloc is tuned (:data:`SERVER_ENV`). Measured
(``benchmarks/bench_server_memory.py``), the server still grows by about 0.4 MB per stored
structure outside both the WiredTiger cache and Python's objects (a 1,000-structure
campaign: 482 MB peak, of which under 10 MB cache and under 20 MB Python objects), and a
restart frees it.

Exposure: a server bound to any interface but the loopback one (``db start --host
0.0.0.0``) requires authentication (SCRAM-SHA-256). Its one user, ``socscreen``, is
created on the first such start with a random password kept in ``credentials.json``
(mode 0600) beside the data; :attr:`ServerInfo.uri` carries it, so the worker files
written from it (mode 0600 too) log in.

FireWorks, maggma's ``MongoStore``/``GridFSStore`` and jobflow's ``JobStore`` talk to it
as to any MongoDB server (see README.md, "Databases").
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import psutil
from pymongo import MongoClient, uri_parser
from pymongo.errors import OperationFailure, PyMongoError

from socscreen.settings import SETTINGS

__all__ = [
    "ServerInfo",
    "ServerStartError",
    "default_storage_path",
    "embedded_server",
    "find_free_port",
    "is_loopback",
    "ping",
    "restart_server",
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
#: User and password of an authenticated server (JSON, mode 0600), beside the data.
CREDENTIALS_FILE = "credentials.json"
#: The one user of an authenticated server (role root).
DB_USER = "socscreen"
#: Cache sizes SecantusDB reads: bytes with an optional K, M, G or T suffix.
CACHE_SIZE = re.compile(r"^[0-9]+(\.[0-9]+)?[KMGT]?$", re.IGNORECASE)
#: Environment of the server process (glibc malloc): two arenas instead of up to eight per
#: core for its connection threads (a 300-structure campaign: peak 197 MB, was 261 MB),
#: and buffers above 64 kB mapped apart, so that they go back to the system when freed
#: (1,000 structures: 357 MB at the end, was 495 MB).
SERVER_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "65536"}


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
    auth
        Whether clients must log in (a server bound to a non-loopback interface).
    """

    pid: int
    host: str
    port: int
    storage_path: Path
    started_at: float
    startup_s: float
    auth: bool = False

    @property
    def address(self) -> str:
        """Connection string without credentials, for messages."""
        return f"mongodb://{self.host}:{self.port}"

    @property
    def uri(self) -> str:
        """MongoDB connection string of the server, with the credentials if it needs them."""
        if not self.auth:
            return self.address
        credentials = _read_credentials(self.storage_path)
        if credentials is None:
            raise ServerStartError(
                f"{self.storage_path / CREDENTIALS_FILE} is gone: stop the server and start "
                "it again (a new password is made)"
            )
        user, password = credentials
        return (
            f"mongodb://{quote_plus(user)}:{quote_plus(password)}@{self.host}:{self.port}"
            "/?authSource=admin"
        )

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


def is_loopback(host: str) -> bool:
    """Whether ``host`` serves this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: reachable from elsewhere
        return False


def ping(uri: str, timeout: float = 1.0, client_kwargs: dict[str, Any] | None = None) -> bool:
    """Whether a MongoDB-protocol server at ``uri`` answers ``ping`` within ``timeout`` s.

    ``client_kwargs`` are further MongoClient options (TLS, auth source, ...); the timeouts
    are set from ``timeout`` whatever they say.
    """
    ms = max(1, int(timeout * 1000))
    options = {"serverSelectionTimeoutMS": ms, "connectTimeoutMS": ms, "socketTimeoutMS": ms}
    client: MongoClient = MongoClient(uri, **{**(client_kwargs or {}), **options})
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
    cache_size: str | None = None,
) -> ServerInfo:
    """Start the embedded server in the background, or return the one already running.

    Parameters
    ----------
    storage_path
        Directory for data, log and state file (default ``SETTINGS.home / "db"``).
    host
        Interface to listen on; the default serves this machine only. Any other interface
        requires authentication (see the module docstring).
    port
        TCP port; default the port of the previous run if free, else any free port.
    timeout
        Seconds to wait for the server to answer a ping (default
        ``SETTINGS.db_start_timeout``).
    cache_size
        WiredTiger cache, e.g. ``"256M"`` (default ``SETTINGS.db_cache_size``).

    Returns
    -------
    ServerInfo
        The running server; it outlives this process until :func:`stop_server`.

    Raises
    ------
    ServerStartError
        If the cache size is malformed, or the process exits or does not answer within
        ``timeout``; the message ends with the tail of the server log.
    """
    return _ensure_running(storage_path, host, port, timeout, cache_size)[0]


def _ensure_running(
    storage_path: Path | None,
    host: str,
    port: int | None,
    timeout: float | None,
    cache_size: str | None = None,
) -> tuple[ServerInfo, bool]:
    """Start the server unless it runs; return it and whether this call started it."""
    storage_path = Path(storage_path or default_storage_path()).expanduser().resolve()
    timeout = SETTINGS.db_start_timeout if timeout is None else timeout
    cache_size = cache_size or SETTINGS.db_cache_size
    if not CACHE_SIZE.match(cache_size):
        raise ServerStartError(
            f"database cache size {cache_size!r} (SOCSCREEN_DB_CACHE_SIZE) must be bytes "
            "with an optional K, M, G or T suffix, e.g. 256M"
        )
    auth = not is_loopback(host)
    with _locked(storage_path):
        running = server_status(storage_path)
        if running is not None:
            return running, False
        if auth and _read_credentials(storage_path) is None:
            _create_user(storage_path, cache_size, timeout)
        port = port or find_free_port(host, preferred=_last_port(storage_path))
        t0 = time.perf_counter()
        process = _spawn(storage_path, host, port, cache_size, auth, timeout)
        info = ServerInfo(
            pid=process.pid,
            host=host,
            port=port,
            storage_path=storage_path,
            started_at=time.time(),
            startup_s=time.perf_counter() - t0,
            auth=auth,
        )
        tmp = storage_path / f".{STATE_FILE}.{os.getpid()}"
        tmp.write_text(info.to_json())
        os.replace(tmp, storage_path / STATE_FILE)
        (storage_path / PORT_FILE).write_text(f"{port}\n")
        return info, True


def _spawn(
    storage_path: Path, host: str, port: int, cache_size: str, auth: bool, timeout: float
) -> subprocess.Popen:
    """Start a server process and wait until it answers a ping (at most ``timeout`` s)."""
    command = [
        sys.executable, "-m", "secantus",
        "--host", host, "--port", str(port),
        "--storage-path", str(storage_path / DATA_DIR),
        "--cache-size", cache_size,
        "--standalone", "--log-level", "WARNING",
    ] + (["--auth"] if auth else [])  # fmt: skip
    deadline = time.perf_counter() + timeout
    with open(storage_path / LOG_FILE, "ab") as log:
        # cwd = storage_path: SecantusDB reads ./secantusd.toml, never the user's cwd one.
        process = subprocess.Popen(
            command,
            cwd=storage_path,
            env={**SERVER_ENV, **os.environ},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    uri = f"mongodb://{host}:{port}"
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
    return process


def _read_credentials(storage_path: Path) -> tuple[str, str] | None:
    """User and password of the server's data, ``None`` before the first authenticated start."""
    try:
        data = json.loads((storage_path / CREDENTIALS_FILE).read_text())
        return str(data["user"]), str(data["password"])
    except (OSError, ValueError, KeyError):
        return None


def _create_user(storage_path: Path, cache_size: str, timeout: float) -> None:
    """Create the server's user with a new random password and keep both (mode 0600).

    SecantusDB accepts ``createUser`` only from a server without ``--auth``: one runs on
    the loopback interface for it and stops. A user left without its credentials file
    gets the new password.
    """
    password = secrets.token_urlsafe(24)
    port = find_free_port("127.0.0.1")
    process = _spawn(storage_path, "127.0.0.1", port, cache_size, False, timeout)
    client: MongoClient = MongoClient(f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=5000)
    try:
        roles = [{"role": "root", "db": "admin"}]
        try:
            client.admin.command("createUser", DB_USER, pwd=password, roles=roles)
        except OperationFailure:  # the user exists: its credentials file was removed
            client.admin.command("updateUser", DB_USER, pwd=password, roles=roles)
    finally:
        client.close()
        _terminate(process.pid, grace=15.0)
    partial = storage_path / f".{CREDENTIALS_FILE}.{os.getpid()}"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"user": DB_USER, "password": password}, handle)
    os.replace(partial, storage_path / CREDENTIALS_FILE)


def restart_server(uri: str, storage_path: Path | None = None) -> ServerInfo | None:
    """Start the embedded server of ``storage_path`` again on the host and port of ``uri``.

    After a crash: the same address keeps every client and worker file valid. Returns the
    running server (also one someone else started), ``None`` if it did not come up (the
    reason is in its log; a caller that waits tries again).
    """
    host, port = uri_parser.parse_uri(uri)["nodelist"][0]
    try:
        return start_server(storage_path, host=host, port=port)
    except ServerStartError:
        return None


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
    storage_path: Path | None = None,
    host: str = "127.0.0.1",
    timeout: float | None = None,
    cache_size: str | None = None,
) -> Iterator[ServerInfo]:
    """Use the embedded server for the duration of a ``with`` block.

    A server that already runs (``socscreen db start``) is used and left running; one
    started here is stopped on exit. ``cache_size`` as in :func:`start_server`.
    """
    info, started = _ensure_running(storage_path, host, None, timeout, cache_size)
    try:
        yield info
    finally:
        if started:
            stop_server(info.storage_path)

"""The embedded SecantusDB server: start, status across processes, stop, failures."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import psutil
import pytest

from socscreen.stores.server import (
    ServerStartError,
    embedded_server,
    ping,
    server_status,
    start_server,
    stop_server,
)


def _status_from_other_process(path) -> str:
    code = (
        "from socscreen.stores.server import server_status; "
        f"info = server_status({str(path)!r}); print(info.uri if info else 'none')"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def test_start_status_stop_across_processes(tmp_path):
    t0 = time.perf_counter()
    info = start_server(tmp_path)
    try:
        assert time.perf_counter() - t0 < 30
        assert 0 < info.startup_s < 30
        assert ping(info.uri)
        assert (tmp_path / "server.json").is_file()
        # a second start and another process find the same server
        assert start_server(tmp_path).pid == info.pid
        assert _status_from_other_process(tmp_path) == info.uri
    finally:
        assert stop_server(tmp_path)
    assert not psutil.pid_exists(info.pid) or psutil.Process(info.pid).status() == "zombie"
    assert server_status(tmp_path) is None
    assert not (tmp_path / "server.json").exists()
    assert _status_from_other_process(tmp_path) == "none"
    assert not stop_server(tmp_path)


def test_a_restart_after_a_stop_or_a_crash_reuses_the_port(tmp_path):
    first = start_server(tmp_path)
    stop_server(tmp_path)
    second = start_server(tmp_path)
    try:
        assert second.port == first.port
        psutil.Process(second.pid).kill()  # a crash: the state file stays behind
        psutil.Process(second.pid).wait(timeout=10)
        third = start_server(tmp_path)
        assert third.port == first.port and third.pid != second.pid
    finally:
        stop_server(tmp_path)


def test_data_survive_a_restart(tmp_path):
    with embedded_server(tmp_path) as info:
        from pymongo import MongoClient

        MongoClient(info.uri).t.c.insert_one({"material_id": "kept"})
    with embedded_server(tmp_path) as info:
        assert MongoClient(info.uri).t.c.find_one({"material_id": "kept"}) is not None


def test_embedded_server_leaves_a_running_server_running(tmp_path):
    info = start_server(tmp_path)
    try:
        with embedded_server(tmp_path) as inner:
            assert inner.pid == info.pid
        assert server_status(tmp_path) is not None
    finally:
        stop_server(tmp_path)


def test_port_in_use_fails_with_the_server_log(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(ServerStartError, match="log tail") as error:
            start_server(tmp_path, port=port, timeout=30)
    assert "exited with code" in str(error.value)
    assert "Address already in use" in str(error.value)  # the server's own stderr
    assert server_status(tmp_path) is None


def test_stale_state_file_is_ignored(tmp_path):
    info = start_server(tmp_path)
    psutil.Process(info.pid).kill()
    psutil.Process(info.pid).wait(10)
    assert server_status(tmp_path) is None
    assert not (tmp_path / "server.json").exists()
    restarted = start_server(tmp_path)
    try:
        assert restarted.pid != info.pid and ping(restarted.uri)
    finally:
        stop_server(tmp_path)

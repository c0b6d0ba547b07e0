"""The embedded SecantusDB server: start, status across processes, stop, failures."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

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
    info = start_server(tmp_path)
    try:
        assert info.startup_s > 0  # recorded; no wall-clock assert on a shared machine
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


def test_a_bind_beyond_the_loopback_requires_a_password(tmp_path):
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure

    from socscreen.stores.config import DatabaseConfig

    info = start_server(tmp_path, host="0.0.0.0")
    try:
        assert info.auth and "@" not in info.address and "socscreen:" in info.uri
        credentials = tmp_path / "credentials.json"
        assert credentials.stat().st_mode & 0o777 == 0o600
        with pytest.raises(OperationFailure, match="requires authentication"):
            MongoClient(info.address, serverSelectionTimeoutMS=5000).t.c.find_one()
        wrong = f"mongodb://socscreen:wrong@{info.host}:{info.port}/?authSource=admin"
        with pytest.raises(OperationFailure, match="authentication failed"):
            MongoClient(wrong, serverSelectionTimeoutMS=5000).t.c.find_one()
        # every client of a campaign logs in with the URI: FireWorks, jobflow, maggma
        db = DatabaseConfig(uri=info.uri, database="auth_test")
        assert "***@" in db.describe() and "password" not in db.describe()
        assert db.launchpad().get_fw_ids() == []
        job_store = db.job_store()
        job_store.connect()
        job_store.additional_stores["data"].update([{"blob_uuid": "b", "data": [1.5]}],
                                                   key="blob_uuid")  # fmt: skip
        assert job_store.additional_stores["data"].query_one({"blob_uuid": "b"})["data"] == [1.5]
        job_store.close()
        stop_server(tmp_path)
        # a restart (after a stop or a crash) keeps the user and its password
        again = start_server(tmp_path, host="0.0.0.0")
        assert again.auth and again.uri == info.uri
        assert MongoClient(again.uri).auth_test.outputs_blobs.files.count_documents({}) == 1
    finally:
        stop_server(tmp_path)


def test_db_start_says_a_password_is_required_and_never_prints_it(tmp_path):
    from typer.testing import CliRunner

    from socscreen.cli import app

    runner = CliRunner()
    try:
        started = runner.invoke(app, ["db", "start", "--path", str(tmp_path), "--host", "0.0.0.0"])
        assert started.exit_code == 0, started.output
        password = json.loads((tmp_path / "credentials.json").read_text())["password"]
        text = " ".join(started.output.split())
        assert "running at mongodb://0.0.0.0:" in text and password not in started.output
        assert "clients log in as user socscreen with the password in" in text
        status = runner.invoke(app, ["db", "status", "--path", str(tmp_path)])
        assert "password required" in " ".join(status.output.split())
        assert password not in status.output
    finally:
        stop_server(tmp_path)


@pytest.mark.parametrize("size", ["1x", "lots", "-5M"])
def test_a_malformed_cache_size_is_one_line(tmp_path, size):
    with pytest.raises(ServerStartError, match="must be bytes with an optional K, M, G or T"):
        start_server(tmp_path, cache_size=size)
    assert not (tmp_path / "server.json").exists()


def test_the_cache_size_reaches_the_server(tmp_path):
    info = start_server(tmp_path, cache_size="64M")
    try:
        cmdline = psutil.Process(info.pid).cmdline()
        assert cmdline[cmdline.index("--cache-size") + 1] == "64M"
        environment = psutil.Process(info.pid).environ()
        assert environment.get("MALLOC_ARENA_MAX") == "2"
        assert environment.get("MALLOC_MMAP_THRESHOLD_") == "65536"
    finally:
        stop_server(tmp_path)

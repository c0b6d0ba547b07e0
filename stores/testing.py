"""pytest fixtures backed by a real MongoDB-protocol server process (SecantusDB).

Register them in a ``conftest.py`` with
``from socscreen.stores.testing import db, db_server  # noqa: F401``:

* ``db_server`` (session): the embedded server started in a temporary folder;
* ``db``: a :class:`~socscreen.stores.config.DatabaseConfig` on a fresh database of that
  server, so that every test has its own launchpad and stores.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from socscreen.stores.config import DatabaseConfig
from socscreen.stores.server import ServerInfo, embedded_server

__all__ = ["db", "db_server"]


@pytest.fixture(scope="session")
def db_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """Run a SecantusDB server on a free port with its data in a temporary folder."""
    with embedded_server(tmp_path_factory.mktemp("socscreen-db")) as info:
        yield info


@pytest.fixture
def db(db_server: ServerInfo) -> DatabaseConfig:
    """Point to a database no other test uses."""
    return DatabaseConfig(uri=db_server.uri, database=f"test_{uuid.uuid4().hex[:12]}")

"""One database configuration for jobflow, FireWorks and the socscreen results.

A :class:`DatabaseConfig` (connection string + database name) builds

* the jobflow :class:`~jobflow.JobStore` (docs in the ``outputs`` collection, the
  additional store ``data`` in GridFS ``outputs_blobs``, where Hamiltonians go);
* the FireWorks :class:`~fireworks.LaunchPad` (its own ``fireworks``/``launches``/
  ``workflows`` collections in the same database);
* the socscreen stores: ``structures`` (ingested inputs), ``results`` (one document per
  material and campaign), ``candidates``, ``campaigns``, ``validations`` (DFT reruns
  compared with the prediction, one per material and route) and ``training_data`` (corpus
  files the GPAW reruns fed back for fine-tuning, one per file).

Where the configuration comes from (:func:`resolve_database`), first match wins:

1. an explicit connection string (``--db-uri``);
2. an explicit FireWorks launchpad yaml (``--launchpad my_launchpad.yaml``);
3. ``SOCSCREEN_DB_URI`` in the environment, then ``SOCSCREEN_LAUNCHPAD_FILE``;
4. none: :func:`open_database` starts the embedded server (:mod:`socscreen.stores.server`).

Explicit arguments beat the environment so that a command line can always point
elsewhere. Workers do not resolve anything: they get the ``JOBFLOW_CONFIG_FILE`` written by
:meth:`DatabaseConfig.write_jobflow_config` (jobflow 0.4 ignores ``JOBFLOW_JOB_STORE``), and
jobs find the socscreen stores from the JobStore they run with
(:meth:`DatabaseConfig.from_store`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import yaml
from maggma.stores import MemoryStore, MongoStore
from pymongo import ASCENDING, uri_parser

from socscreen.settings import SETTINGS

if TYPE_CHECKING:
    from fireworks import LaunchPad
    from jobflow import JobStore

__all__ = [
    "COLLECTIONS",
    "INDEXES",
    "DatabaseConfig",
    "open_database",
    "resolve_database",
]

#: Collection names of the stores (FireWorks keeps its own fixed names beside them).
COLLECTIONS = {
    "outputs": "outputs",
    "blobs": "outputs_blobs",
    "structures": "structures",
    "results": "results",
    "candidates": "candidates",
    "campaigns": "campaigns",
    "validations": "validations",
    "training_data": "training_data",
}

#: Indexes per socscreen collection: (fields, unique). ``(campaign, material_id)`` is
#: unique so that concurrent upserts can never duplicate a material within a campaign.
INDEXES: dict[str, list[tuple[tuple[str, ...], bool]]] = {
    "structures": [
        (("campaign", "material_id"), True),
        (("material_id",), False),
        (("reduced_formula",), False),
        (("elements",), False),
        (("nsites",), False),
    ],
    "results": [
        (("campaign", "material_id"), True),
        (("material_id",), False),
        (("formula",), False),
        (("reduced_formula",), False),
        (("elements",), False),
        (("nsites",), False),
        (("z2.z2",), False),
        (("z2.classification",), False),
        (("gap_eV",), False),
        (("dimension",), False),
        (("flags",), False),
        (("error.stage",), False),
        (("last_updated",), False),
    ],
    "candidates": [
        (("campaign", "material_id"), True),
        (("material_id",), False),
        (("z2.classification",), False),
        (("gap_eV",), False),
    ],
    "campaigns": [(("campaign",), True)],
    "validations": [
        (("validation_id",), True),
        (("material_id",), False),
        (("campaign",), False),
        (("route",), False),
        (("z2_agree",), False),
    ],
    "training_data": [
        (("path",), True),
        (("material_id",), False),
        (("campaign",), False),
        (("sha256",), False),
    ],
}

#: Store key of each socscreen collection (documents are unique per campaign + key).
KEYS = {
    "structures": "material_id",
    "results": "material_id",
    "candidates": "material_id",
    "campaigns": "campaign",
    "validations": "validation_id",
    "training_data": "path",
}


@dataclass(frozen=True)
class DatabaseConfig:
    """Where every socscreen, jobflow and FireWorks collection lives.

    Attributes
    ----------
    uri
        MongoDB connection string (``mongodb://`` or ``mongodb+srv://``, credentials and
        options included).
    database
        Database name.
    client_kwargs
        Extra ``pymongo.MongoClient`` keyword arguments (TLS files, timeouts).
    """

    uri: str
    database: str = "socscreen"
    client_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.uri.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError(
                f"database URI must start with mongodb:// or mongodb+srv://, got {self.uri!r}"
            )
        if not self.database:
            raise ValueError("database name must not be empty")

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_uri(cls, uri: str, database: str | None = None) -> DatabaseConfig:
        """From a connection string; a database in its path wins over ``database``."""
        parsed = uri_parser.parse_uri(uri) if uri.startswith("mongodb://") else {}
        return cls(uri=uri, database=parsed.get("database") or database or SETTINGS.db_name)

    @classmethod
    def from_launchpad_dict(cls, spec: dict[str, Any]) -> DatabaseConfig:
        """From the keys of a FireWorks launchpad yaml (host, port, name, username, ...)."""
        kwargs = dict(spec.get("mongoclient_kwargs") or {})
        if spec.get("uri_mode"):
            return cls(
                uri=spec["host"],
                database=spec.get("name") or SETTINGS.db_name,
                client_kwargs=kwargs,
            )
        name = spec.get("name") or "fireworks"
        return cls(
            uri=_build_uri(
                spec.get("host") or "localhost",
                int(spec.get("port") or 27017),
                spec.get("username"),
                spec.get("password"),
                spec.get("authsource") or name,
            ),
            database=name,
            client_kwargs=kwargs,
        )

    @classmethod
    def from_launchpad_file(cls, path: str | os.PathLike) -> DatabaseConfig:
        """From a FireWorks launchpad yaml (``lpad`` format)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"launchpad file {path} does not exist")
        spec = yaml.safe_load(path.read_text()) or {}
        if not isinstance(spec, dict) or "host" not in spec:
            raise ValueError(f"launchpad file {path} has no 'host' entry")
        return cls.from_launchpad_dict(spec)

    @classmethod
    def from_store(cls, store: MongoStore) -> DatabaseConfig:
        """Read the configuration a MongoDB-backed maggma store points to.

        Jobs use it on the docs store of the JobStore they run with, so that results go to
        the same database as the job outputs.

        Raises
        ------
        ValueError
            If ``store`` is not backed by a MongoDB server (e.g. a ``MemoryStore``).
        """
        if isinstance(store, MemoryStore) or not isinstance(store, MongoStore):
            raise ValueError(
                f"socscreen campaign jobs need a MongoDB-backed JobStore, got a "
                f"{type(store).__name__}; configure JOBFLOW_CONFIG_FILE (socscreen campaign "
                f"worker-files writes one)"
            )
        kwargs = dict(getattr(store, "mongoclient_kwargs", None) or {})
        if getattr(store, "uri", None):
            return cls(uri=store.uri, database=store.database, client_kwargs=kwargs)
        return cls(
            uri=_build_uri(
                store.host,
                store.port,
                store.username,
                store.password,
                getattr(store, "auth_source", None) or store.database,
            ),
            database=store.database,
            client_kwargs=kwargs,
        )

    # -- stores ----------------------------------------------------------------------
    def store(self, name: str) -> MongoStore:
        """Build the maggma store of socscreen collection ``name`` (see :data:`COLLECTIONS`)."""
        if name not in KEYS:
            raise ValueError(f"unknown socscreen collection {name!r}; known: {sorted(KEYS)}")
        return MongoStore(
            database=self.database,
            collection_name=COLLECTIONS[name],
            uri=self.uri,
            key=KEYS[name],
            mongoclient_kwargs=self.client_kwargs,
        )

    @contextlib.contextmanager
    def connected(self, *names: str) -> Iterator[list[MongoStore]]:
        """Connect the stores of socscreen collections ``names``, yield them, then close them."""
        stores = [self.store(name) for name in names]
        for store in stores:
            store.connect()
        try:
            yield stores
        finally:
            for store in stores:
                store.close()

    @contextlib.contextmanager
    def connected_job_store(self) -> Iterator[JobStore]:
        """Connect the jobflow JobStore (:meth:`job_store`), yield it, then close it."""
        store = self.job_store()
        store.connect()
        try:
            yield store
        finally:
            store.close()

    def job_store(self) -> JobStore:
        """Build the jobflow JobStore: docs in MongoDB, additional store ``data`` in GridFS."""
        from jobflow import JobStore

        return JobStore.from_dict_spec(self.jobstore_spec())

    def jobstore_spec(self) -> dict[str, Any]:
        """JobStore in jobflow's dict-spec form (``type`` names a maggma store class)."""
        common = {
            "database": self.database,
            "uri": self.uri,
            "mongoclient_kwargs": self.client_kwargs,
        }
        return {
            "docs_store": {
                "type": "MongoStore",
                "collection_name": COLLECTIONS["outputs"],
                **common,
            },
            "additional_stores": {
                "data": {"type": "GridFSStore", "collection_name": COLLECTIONS["blobs"], **common},
            },
        }

    def launchpad_spec(self) -> dict[str, Any]:
        """FireWorks launchpad settings (URI mode) for the same database."""
        return {
            "host": self.uri,
            "name": self.database,
            "uri_mode": True,
            "mongoclient_kwargs": self.client_kwargs,
        }

    def launchpad(self) -> LaunchPad:
        """Build a FireWorks LaunchPad on the same database, initialising a fresh one.

        A database FireWorks never used gets its id counters and indexes (what
        ``lpad reset`` does, without deleting anything); existing counters are kept. Its
        logger prints warnings only: commands say themselves what they did, without
        FireWorks' INFO lines ("Added a workflow", "Performing db tune-up").
        """
        from fireworks import LaunchPad

        launchpad = LaunchPad.from_dict({**self.launchpad_spec(), "strm_lvl": "WARNING"})
        if launchpad.fw_id_assigner.count_documents({}) == 0:
            launchpad.fw_id_assigner.find_one_and_update(
                {}, {"$setOnInsert": {"next_fw_id": 1, "next_launch_id": 1}}, upsert=True
            )
            launchpad.tuneup(bkground=False)
        return launchpad

    # -- files for workers -----------------------------------------------------------
    def write_jobflow_config(self, path: str | os.PathLike) -> Path:
        """Write the ``JOBFLOW_CONFIG_FILE`` yaml for workers (mode 0600: may hold a password)."""
        return _write_private_yaml(Path(path), {"JOB_STORE": self.jobstore_spec()})

    def write_launchpad_file(self, path: str | os.PathLike) -> Path:
        """Write a FireWorks launchpad yaml (``rlaunch -l``), mode 0600."""
        return _write_private_yaml(Path(path), self.launchpad_spec())

    # -- maintenance -----------------------------------------------------------------
    def ensure_indexes(self) -> None:
        """Create the indexes of :data:`INDEXES` (idempotent)."""
        with self.connected("results") as (store,):
            db = store._collection.database
            for name, indexes in INDEXES.items():
                collection = db[COLLECTIONS[name]]
                for keys, unique in indexes:
                    collection.create_index([(k, ASCENDING) for k in keys], unique=unique)

    def describe(self) -> str:
        """Describe the connection without credentials, for messages."""
        return f"{_redact(self.uri)} (database {self.database!r})"

    def answers(self, timeout: float = 2.0) -> bool:
        """Whether the server answers a ping within ``timeout`` seconds (client options kept)."""
        from socscreen.stores.server import ping

        return ping(self.uri, timeout, self.client_kwargs)


def _build_uri(
    host: str, port: int, username: str | None, password: str | None, auth_source: str | None
) -> str:
    if username:
        credentials = f"{quote_plus(username)}:{quote_plus(password or '')}@"
        return (
            f"mongodb://{credentials}{host}:{port}/?authSource={quote_plus(auth_source or 'admin')}"
        )
    return f"mongodb://{host}:{port}"


def _redact(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}://{rest}"


def _write_private_yaml(path: Path, content: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(content, handle, sort_keys=False)
    return path


def resolve_database(
    uri: str | None = None, launchpad_file: str | os.PathLike | None = None
) -> DatabaseConfig | None:
    """Find the configured database, ``None`` meaning the embedded default.

    Parameters
    ----------
    uri
        Explicit connection string (wins over everything else).
    launchpad_file
        Explicit FireWorks launchpad yaml.

    Raises
    ------
    ValueError
        If both ``uri`` and ``launchpad_file`` are given, or a file is missing.
    """
    if uri and launchpad_file:
        raise ValueError("give a database URI or a launchpad file, not both")
    if uri:
        return DatabaseConfig.from_uri(uri)
    if launchpad_file:
        return DatabaseConfig.from_launchpad_file(launchpad_file)
    if SETTINGS.db_uri:
        return DatabaseConfig.from_uri(SETTINGS.db_uri)
    if SETTINGS.launchpad_file:
        return DatabaseConfig.from_launchpad_file(SETTINGS.launchpad_file)
    return None


@contextlib.contextmanager
def open_database(
    uri: str | None = None,
    launchpad_file: str | os.PathLike | None = None,
    storage_path: Path | None = None,
) -> Iterator[DatabaseConfig]:
    """Open the resolved database; with none configured, the embedded server.

    An embedded server that was already running (``socscreen db start``) stays up; one
    started here stops when the block ends.
    """
    config = resolve_database(uri, launchpad_file)
    if config is not None:
        yield config
        return
    from socscreen.stores.server import embedded_server

    with embedded_server(storage_path) as server:
        yield DatabaseConfig(uri=server.uri, database=SETTINGS.db_name)

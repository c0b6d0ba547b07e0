"""One database configuration for jobflow, FireWorks and the socscreen stores."""

from __future__ import annotations

import stat

import numpy as np
import pytest
import yaml
from jobflow import job, run_locally
from jobflow.settings import JobflowSettings
from maggma.stores import GridFSStore, MemoryStore, MongoStore
from monty.json import MontyDecoder

from socscreen.makers.batch import DATA_OBJECTS
from socscreen.settings import SETTINGS
from socscreen.stores.config import DatabaseConfig, resolve_database


@job(data=DATA_OBJECTS)
def hamiltonian_job(hamiltonian):
    """Return the Hamiltonian, as a predict job would."""
    return {"hamiltonian": hamiltonian, "formula": hamiltonian.structure.formula}


def test_resolution_order(tmp_path, monkeypatch):
    launchpad = tmp_path / "my_launchpad.yaml"
    launchpad.write_text(yaml.safe_dump({"host": "db.example.org", "port": 27018, "name": "lpdb",
                                         "username": "ann", "password": "p@ss:word"}))  # fmt: skip
    monkeypatch.setattr(SETTINGS, "db_uri", None)
    monkeypatch.setattr(SETTINGS, "launchpad_file", None)
    assert resolve_database() is None  # -> embedded server

    monkeypatch.setattr(SETTINGS, "launchpad_file", launchpad)
    assert resolve_database().database == "lpdb"
    monkeypatch.setattr(SETTINGS, "db_uri", "mongodb://env.example.org:27017/envdb")
    assert resolve_database().database == "envdb"  # environment URI beats environment file

    explicit = resolve_database("mongodb://cli.example.org:1234")
    assert explicit.uri == "mongodb://cli.example.org:1234"
    assert explicit.database == SETTINGS.db_name
    from_file = resolve_database(launchpad_file=launchpad)
    assert from_file.uri == "mongodb://ann:p%40ss%3Aword@db.example.org:27018/?authSource=lpdb"
    assert from_file.database == "lpdb"
    with pytest.raises(ValueError, match="not both"):
        resolve_database("mongodb://a:1", launchpad)
    with pytest.raises(ValueError, match="does not exist"):
        resolve_database(launchpad_file=tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="mongodb://"):
        DatabaseConfig(uri="http://example.org")


def test_launchpad_file_in_uri_mode_round_trips(db, tmp_path):
    path = db.write_launchpad_file(tmp_path / "lp.yaml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert DatabaseConfig.from_launchpad_file(path) == db
    from fireworks import LaunchPad

    launchpad = LaunchPad.from_file(str(path))
    assert launchpad.db.name == db.database


def test_store_of_a_job_store_points_back_to_the_config(db):
    job_store = db.job_store()
    assert isinstance(job_store.docs_store, MongoStore)
    assert isinstance(job_store.additional_stores["data"], GridFSStore)
    assert DatabaseConfig.from_store(job_store.docs_store) == db
    host_port = MongoStore("x", "outputs", host="h.example.org", port=27019)
    assert DatabaseConfig.from_store(host_port).uri == "mongodb://h.example.org:27019"
    with pytest.raises(ValueError, match="MongoDB-backed JobStore"):
        DatabaseConfig.from_store(MemoryStore())


def test_hamiltonian_through_job_store_and_worker_config(db, silicon, tmp_path):
    job = hamiltonian_job(silicon)
    run_locally(job, store=db.job_store(), ensure_success=True)

    # a worker reads the same outputs through the JOBFLOW_CONFIG_FILE written for it
    config = db.write_jobflow_config(tmp_path / "jobflow.yaml")
    worker_store = JobflowSettings(CONFIG_FILE=str(config)).JOB_STORE
    worker_store.connect()
    stored = worker_store.docs_store.query_one({"uuid": job.uuid})
    reference = stored["output"]["hamiltonian"]
    assert reference["store"] == "data" and "blob_uuid" in reference  # not inline
    assert worker_store.additional_stores["data"].count({"blob_uuid": reference["blob_uuid"]}) == 1
    output = MontyDecoder().process_decoded(worker_store.get_output(job.uuid, load=True))
    loaded = output["hamiltonian"]
    assert output["formula"] == silicon.structure.formula
    for name in ("R", "h0", "overlap", "soc_uu", "soc_ud"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(silicon, name))
    assert loaded.structure == silicon.structure
    assert loaded.nelect == silicon.nelect


def test_launchpad_and_stores_share_one_database(db):
    launchpad = db.launchpad()  # a fresh database gets FireWorks' id counters
    assert launchpad.fw_id_assigner.count_documents({}) == 1
    from fireworks import Firework, ScriptTask

    fw_id = min(launchpad.add_wf(Firework(ScriptTask.from_str("true"))).values())
    assert launchpad.get_fw_by_id(fw_id).state == "READY"
    db.ensure_indexes()
    results = db.store("results")
    results.connect()
    results.update([{"campaign": "c", "material_id": "m", "x": 1}], key=["campaign", "material_id"])
    names = set(results._collection.database.list_collection_names())
    assert {"fireworks", "launches", "workflows", "results"} <= names
    db.launchpad()  # existing counters are kept
    assert launchpad.fw_id_assigner.find_one()["next_fw_id"] == fw_id + 1
    with pytest.raises(ValueError, match="unknown socscreen collection"):
        db.store("fireworks")

"""Predicted Hamiltonians in the ``data`` store (GridFS of a real server): compact, readable.

The predict job stores its Hamiltonians in the training corpus's compact format
(``Hamiltonian.stored_compact``); ``load_hamiltonian`` and the analyse job read them back
as full Hermitian containers, and blobs stored exactly (before the compact format, or by a
maker told so) stay readable.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from jobflow import run_locally
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.predict import PredictBatchMaker
from socscreen.stores.queries import (
    load_hamiltonian,
    prediction_jobs,
    save_records,
    save_results,
)
from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    MaterialResultDocument,
    SourceInfo,
    StructureRecord,
)

DATA = Path(__file__).parents[1] / "data"
FIXTURES = {"bi2se3": "Bi2Se3_szp.npz", "si": "Si_szp.npz"}


def fixture_predictor(record: StructureRecord, settings: CampaignSettings) -> Hamiltonian:
    """The DFT fixture of the record, with a prediction's overlap cutoff (S(k) below 1e-2)."""
    ham = Hamiltonian.from_npz(DATA / FIXTURES[record.material_id])
    ham.meta["overlap_cutoff"] = 1e-2
    return ham


def predict_and_store(db, campaign: str, compact: bool, predictor=fixture_predictor) -> str:
    """Run the predict job of both fixtures against the database, as a worker would.

    Returns the job's uuid.
    """
    records = [
        StructureRecord(
            material_id=material_id,
            source=SourceInfo(kind="folder", path=str(DATA), entry=name),
            structure=Hamiltonian.from_npz(DATA / name).structure.as_dict(),
        )
        for material_id, name in FIXTURES.items()
    ]
    db.ensure_indexes()
    structures = db.store("structures")
    structures.connect()
    save_records(structures, records, campaign)
    structures.close()
    maker = PredictBatchMaker(predictor=predictor, compact_storage=compact)
    job = maker.make(campaign, list(FIXTURES), CampaignSettings(model_version="fixture"))
    job.metadata.update({"campaign": campaign, "stage": "predict"})
    run_locally(job, store=db.job_store(), ensure_success=True)
    return job.uuid


def blob_sizes(db) -> list[int]:
    """Bytes of every blob in GridFS."""
    store = db.job_store().additional_stores["data"]
    store.connect()
    try:
        return [d["length"] for d in store._files_collection.find({}, {"length": 1})]
    finally:
        store.close()


def bands_near_fermi(ham: Hamiltonian, k: np.ndarray, reference: Hamiltonian) -> np.ndarray:
    """SOC bands of ``ham`` (eV) of the reference's bands within 2 eV of its E_F."""
    window = np.abs(reference.eigh(k) - reference.efermi) < 2.0
    return ham.eigh(k)[window]


@pytest.mark.parametrize("material_id", list(FIXTURES))
def test_a_prediction_is_stored_compactly_and_read_back(db, material_id):
    predict_and_store(db, "compact", compact=True)
    job_store = db.job_store()
    job_store.connect()
    stored = load_hamiltonian(job_store, "compact", material_id)
    job_store.close()
    original = fixture_predictor(StructureRecord(material_id=material_id, source=SourceInfo(
        kind="folder", path=str(DATA))), CampaignSettings())  # fmt: skip
    assert stored.storage == "compact" and stored.has_soc
    assert stored.hermiticity_error() == 0.0
    assert stored.meta == original.meta and stored.nelect == original.nelect
    assert stored.structure == original.structure and stored.efermi == original.efermi
    k = np.random.default_rng(0).random((12, 3))
    shift = np.abs(bands_near_fermi(stored, k, original) - bands_near_fermi(original, k, original))
    assert shift.max() < 2e-3  # eV; the model's band error is 0.23 eV
    # half R, float32, zeroed tails: the fixtures (float32 already) take a third
    assert max(blob_sizes(db)) < 0.25e6


def test_exact_blobs_stay_readable(db):
    predict_and_store(db, "exact", compact=False)
    job_store = db.job_store()
    job_store.connect()
    stored = load_hamiltonian(job_store, "exact", "si")
    job_store.close()
    original = fixture_predictor(StructureRecord(material_id="si", source=SourceInfo(
        kind="folder", path=str(DATA))), CampaignSettings())  # fmt: skip
    assert stored.storage == "exact"
    np.testing.assert_array_equal(stored.R, original.R)
    np.testing.assert_array_equal(stored.h0, original.h0)
    np.testing.assert_array_equal(stored.soc_ud, original.soc_ud)
    exact = blob_sizes(db)
    predict_and_store(db, "compact", compact=True)
    compact = sorted(set(blob_sizes(db)) - set(exact))
    assert sum(compact) < 0.4 * sum(exact)  # the same two Hamiltonians


def test_compact_storage_keeps_a_dense_metals_overlap_without_cutoff():
    """Without an overlap cutoff every S element is kept: S(k) stays positive definite."""
    ham = Hamiltonian.from_npz(DATA / "Cu_sz.npz")
    assert ham.overlap_cutoff == 0.0
    stored = Hamiltonian.from_dict(ham.stored_compact().as_dict())
    k = np.random.default_rng(1).random((8, 3))
    np.testing.assert_allclose(stored.overlap_k(k), ham.overlap_k(k), atol=1e-6)
    np.linalg.cholesky(stored.overlap_k(k))


def test_the_prediction_of_a_material_is_the_latest_stored_one(db):
    """A job whose prediction of a material failed is never its prediction; a later one is."""

    def silicon_fails(record, settings):
        if record.material_id == "si":
            raise ValueError("no silicon today")
        return fixture_predictor(record, settings)

    first = predict_and_store(db, "latest", compact=True, predictor=silicon_fails)
    second = predict_and_store(db, "latest", compact=True)
    job_store = db.job_store()
    job_store.connect()
    try:
        assert prediction_jobs(job_store, "latest") == {"bi2se3": second, "si": second}
        assert prediction_jobs(job_store, "other") == {}
        with pytest.raises(ValueError, match="no predicted Hamiltonian of si"):
            load_hamiltonian(job_store, "latest", "si", job_uuid=first)
        old = load_hamiltonian(job_store, "latest", "bi2se3", job_uuid=first)
        new = load_hamiltonian(job_store, "latest", "bi2se3")
    finally:
        job_store.close()
    np.testing.assert_array_equal(old.h0, new.h0)


def test_show_draws_the_stored_prediction_with_progress_and_its_wall_time(db, tmp_path):
    """``show ID -o`` reads the prediction from GridFS: bands and Wilson loops, then the
    wall time on stderr; a result flagged metal gets no Wilson loops (its gap is not
    taken again)."""
    predict_and_store(db, "figures", compact=True)
    uri = ["--db-uri", f"{db.uri}/{db.database}"]
    shown = CliRunner().invoke(app, ["show", "si", "-o", str(tmp_path / "si.json"), *uri])
    assert shown.exit_code == 0, shown.output
    assert (tmp_path / "si_bands.png").stat().st_size > 1000
    assert (tmp_path / "si_wcc.png").stat().st_size > 1000
    assert re.fullmatch(r"figures of si: done in \d+\.\d s\n", shown.stderr)
    results = db.store("results")
    results.connect()
    save_results(results, [MaterialResultDocument(material_id="si", campaign="figures",
                                                  flags=["metal"])])  # fmt: skip
    results.close()
    shown = CliRunner().invoke(app, ["show", "si", "-o", str(tmp_path / "metal.json"), *uri])
    assert shown.exit_code == 0, shown.output
    assert (tmp_path / "metal_bands.png").exists() and not (tmp_path / "metal_wcc.png").exists()
    assert "no Wilson-loop figure" in shown.stdout

"""Rerun selection and validation storage on a real MongoDB-protocol server."""

from __future__ import annotations

import pymongo.errors
import pytest
from pymatgen.core import Lattice, Structure

from socscreen.stores.queries import save_results
from socscreen.stores.schemas.campaign import GapsDocument, MaterialResultDocument, Z2Document
from socscreen.stores.schemas.validation import (
    BandComparisonDocument,
    TrainingDataRecord,
    ValidationDocument,
    ValidationTarget,
    validation_id,
)
from socscreen.stores.validations import (
    load_validations,
    save_training_record,
    save_validation,
    selection_query,
    selection_reasons,
)

STRUCTURE = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def result(material_id, z2=None, confidence=None, routes_agree=None, flags=(), error=None):
    return MaterialResultDocument(
        material_id=material_id,
        campaign="c1",
        structure=STRUCTURE.as_dict(),
        z2=None if z2 is None else Z2Document.from_indices(z2, "parity", routes_agree=routes_agree),
        gaps=GapsDocument(indirect=0.2, direct=0.3),
        confidence=confidence,
        flags=list(flags),
        error=error,
        model_version="Uni-HamGNN-test",
    )


@pytest.fixture
def results(db):
    db.ensure_indexes()
    store = db.store("results")
    store.connect()
    save_results(
        store,
        [
            result("ti", z2=(1, 0, 0, 0), confidence=0.9),
            result("shaky", z2=(0, 0, 0, 0), confidence=0.1),
            result("disagree", z2=(1, 0, 0, 0), confidence=0.45, routes_agree=False,
                   flags=["z2_routes_disagree"]),
            result("metal", confidence=0.0, flags=["metal"]),
            result("plain", z2=(0, 0, 0, 0), confidence=1.0),
        ],
    )  # fmt: skip
    yield store
    store.close()


def selected(store, *reasons, **kwargs):
    query = selection_query("c1", list(reasons), **kwargs)
    return sorted(d["material_id"] for d in store.query(query, ["material_id"]))


def test_selectors_pick_the_flagged_results(results):
    assert selected(results, "candidate", candidate_ids=["ti"]) == ["ti"]
    assert selected(results, "low_confidence") == ["disagree", "metal", "shaky"]
    assert selected(results, "low_confidence", max_confidence=0.05) == ["metal"]
    assert selected(results, "route_disagreement") == ["disagree"]
    union = selected(results, "candidate", "route_disagreement", candidate_ids=["ti"])
    assert union == ["disagree", "ti"]
    assert selected(results, "query", extra={"flags": "metal"}) == ["metal"]
    # a user query narrows the flagged selection
    narrowed = selected(results, "low_confidence", extra={"z2.z2": [0, 0, 0, 0]})
    assert narrowed == ["shaky"]
    doc = results.query_one({"material_id": "disagree"})
    reasons = selection_reasons(doc, ["candidate", "low_confidence", "route_disagreement"], [])
    assert reasons == ["low_confidence", "route_disagreement"]


def test_bad_selection_raises():
    with pytest.raises(ValueError, match="at least one selector"):
        selection_query("c1", [])
    with pytest.raises(ValueError, match="needs criteria"):
        selection_query("c1", ["query"])


def test_target_from_result_keeps_the_link_to_the_prediction(results):
    doc = MaterialResultDocument.model_validate(results.query_one({"material_id": "ti"}))
    target = ValidationTarget.from_result(doc, reasons=["candidate"], prediction_job_uuid="u-1")
    assert (target.material_id, target.campaign) == ("ti", "c1")
    assert target.model_version == "Uni-HamGNN-test"
    assert target.z2_predicted == [1, 0, 0, 0] and target.gap_predicted == 0.2
    assert target.get_structure() == STRUCTURE
    failed = doc.model_copy(update={"error": {"stage": "predict", "reason": "boom"}})
    with pytest.raises(ValueError, match="no prediction to validate"):
        ValidationTarget.from_result(MaterialResultDocument.model_validate(failed.model_dump()))


def test_validations_upsert_by_id(db):
    db.ensure_indexes()
    store = db.store("validations")
    store.connect()
    comparison = BandComparisonDocument(
        band_mae=0.05, band_max_error=0.2, window=2.0, n_kpoints=8, n_bands_compared=10,
        efermi_dft=5.0, efermi_predicted=1.0, gap_dft=0.3, gap_predicted=0.25,
        spin_splitting_mae=None,
    )  # fmt: skip
    doc = ValidationDocument(
        validation_id=validation_id("ti", "gpaw"), material_id="ti", campaign="c1",
        route="gpaw", band_comparison=comparison, z2_predicted=[1, 0, 0, 0],
        z2_dft=[1, 0, 0, 0], z2_agree=True,
    )  # fmt: skip
    save_validation(store, doc)
    save_validation(store, doc.model_copy(update={"z2_agree": False}))
    assert store.count({}) == 1
    (loaded,) = load_validations(store, "c1")
    assert loaded.z2_agree is False and loaded.band_comparison == comparison
    assert load_validations(store, "other") == []
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        store._collection.insert_one({"validation_id": "ti:gpaw"})
    records = db.store("training_data")
    records.connect()
    record = TrainingDataRecord(material_id="ti", campaign="c1", formula="Si2",
                                basis="szp(dzp)", path="/x/ti.npz", sha256="0" * 64,
                                n_orbitals=26)  # fmt: skip
    save_training_record(records, record)
    save_training_record(records, record)
    assert records.count({"material_id": "ti"}) == 1
    records.close()
    store.close()

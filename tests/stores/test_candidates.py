"""Results and candidates in a real MongoDB-protocol server: upserts, queries, builder."""

from __future__ import annotations

import logging

import pymongo.errors
import pytest

from socscreen.stores.builders import CandidateBuilder, run_builder
from socscreen.stores.queries import done_ids, results_query, save_results
from socscreen.stores.schemas.campaign import (
    BerryCurvatureDocument,
    ErrorDocument,
    GapsDocument,
    MaterialResultDocument,
    TimingsDocument,
    Z2Document,
)


def make(material_id, z2=None, gap=None, elements=("Bi", "Se"), **kwargs):
    return MaterialResultDocument(
        material_id=material_id,
        campaign="hand-made",
        elements=list(elements),
        z2=None if z2 is None else Z2Document.from_indices(z2, "wilson"),
        gaps=None if gap is None else GapsDocument(indirect=gap, direct=gap),
        **kwargs,
    )


@pytest.fixture
def stores(db):
    db.ensure_indexes()
    results, candidates = db.store("results"), db.store("candidates")
    results.connect()
    candidates.connect()
    yield results, candidates
    results.close()
    candidates.close()


def test_result_round_trip_and_upsert(stores):
    results, _ = stores
    doc = make("bi2se3", z2=(1, 0, 0, 0), gap=0.3, confidence=0.9, band_inversion=True,
               spin_splitting_max=0.12, spin_splitting_k=[0.5, 0, 0],
               berry=BerryCurvatureDocument(max_abs_curvature=12.5, ahc=[0.0, 0.0, 0.0]),
               timings=TimingsDocument(predict=0.2, analysis=1.5, total=1.7),
               model_version="test")  # fmt: skip
    save_results(results, [doc])
    stored = MaterialResultDocument.model_validate(results.query_one({"material_id": "bi2se3"}))
    assert stored.model_dump(exclude={"last_updated", "created_at"}) == doc.model_dump(
        exclude={"last_updated", "created_at"}
    )
    save_results(results, [doc.model_copy(update={"confidence": 0.5})])
    assert results.count({"campaign": "hand-made"}) == 1
    assert results.query_one({"material_id": "bi2se3"})["confidence"] == 0.5
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        results._collection.insert_one({"campaign": "hand-made", "material_id": "bi2se3"})


def test_queries_and_done_ids(stores):
    results, _ = stores
    save_results(results, [
        make("strong", z2=(1, 0, 0, 0), gap=0.3),
        make("weak", z2=(0, 0, 0, 1), gap=0.05, elements=("Sb", "Te"), flags=["disagree"]),
        make("trivial", z2=(0, 0, 0, 0), gap=1.1, elements=("Si",)),
        make("failed", error=ErrorDocument(stage="predict", reason="boom")),
        make("bad-cif", error=ErrorDocument(stage="ingest", reason="unreadable CIF")),
    ])  # fmt: skip

    def ids(**kwargs):
        return sorted(d["material_id"] for d in results.query(results_query(**kwargs)))

    assert ids(campaign="hand-made", z2="strong") == ["strong"]
    assert ids(z2="topological") == ["strong", "weak"]
    assert ids(gap_min=0.1) == ["strong", "trivial"]
    assert ids(gap_min=0.01, gap_max=0.5) == ["strong", "weak"]
    assert ids(elements=["Bi"]) == ["bad-cif", "failed", "strong"]
    assert ids(flags=["disagree"]) == ["weak"]
    assert ids(failed=True) == ["bad-cif", "failed"]
    assert ids(failed=False) == ["strong", "trivial", "weak"]
    # processing failures are retried, ingestion failures are final
    assert done_ids(results, "hand-made") == {"strong", "weak", "trivial", "bad-cif"}


def test_results_of_another_model_are_redone(stores):
    results, _ = stores
    save_results(results, [
        make("old", z2=(1, 0, 0, 0), gap=0.3, model_version="Uni-HamGNN-0.1.0+aaaaaaaaaaaa"),
        make("new", z2=(0, 0, 0, 0), gap=1.0, model_version="Uni-HamGNN-0.1.0+bbbbbbbbbbbb"),
        make("bad-cif", error=ErrorDocument(stage="ingest", reason="unreadable CIF")),
    ])  # fmt: skip
    assert done_ids(results, "hand-made") == {"old", "new", "bad-cif"}
    assert done_ids(results, "hand-made", model_version="Uni-HamGNN-0.1.0+bbbbbbbbbbbb") == {
        "new", "bad-cif",
    }  # fmt: skip


def test_candidate_builder_follows_results(stores, db):
    results, candidates = stores
    save_results(results, [make("strong", z2=(1, 0, 0, 0), gap=0.3),
                           make("gapless", z2=(1, 0, 0, 0), gap=0.0),
                           make("trivial", z2=(0, 0, 0, 0), gap=1.0)])  # fmt: skip
    run_builder(CandidateBuilder(db.store("results"), db.store("candidates"), campaign="hand-made"))
    assert [d["material_id"] for d in candidates.query()] == ["strong"]
    assert candidates.query_one()["reasons"][0].endswith("gap 0.300 eV >= 0.01 eV")

    # a reprocessed result that is no longer topological loses its candidate
    save_results(results, [make("strong", z2=(0, 0, 0, 0), gap=0.3),
                           make("trivial", z2=(0, 0, 1, 0), gap=0.2)])  # fmt: skip
    run_builder(CandidateBuilder(db.store("results"), db.store("candidates"), campaign="hand-made"))
    assert [d["material_id"] for d in candidates.query()] == ["trivial"]
    assert candidates.count() == 1
    assert logging.getLogger().level != logging.DEBUG  # maggma's logging set-up undone

"""Validation documents: built from a real band comparison, round-trip through JSON."""

from __future__ import annotations

from socscreen.analysis.bloch import monkhorst_pack
from socscreen.analysis.comparison import compare_hamiltonians
from socscreen.hamiltonian import Hamiltonian
from socscreen.stores.schemas.validation import (
    BandComparisonDocument,
    ValidationDocument,
    validation_id,
)


def test_validation_document_from_comparison(bi2se3: Hamiltonian) -> None:
    comparison = compare_hamiltonians(
        bi2se3.with_soc_scaled(0.0), bi2se3, monkhorst_pack((3, 3, 3))
    )
    band_doc = BandComparisonDocument.from_comparison(comparison)
    assert band_doc.band_mae == comparison.band_mae
    assert band_doc.band_offset == comparison.band_offset
    doc = ValidationDocument(
        validation_id=validation_id("gnome-1", "gpaw"),
        material_id="gnome-1",
        campaign="demo",
        route="gpaw",
        band_comparison=band_doc,
        z2_predicted=[0, 0, 0, 0],
        z2_dft=[1, 0, 0, 0],
        z2_agree=False,
    )
    assert doc.validation_id == "gnome-1:gpaw"
    again = ValidationDocument.model_validate_json(doc.model_dump_json())
    assert again == doc

"""Validation documents: built from a real band comparison, round-trip through JSON."""

from __future__ import annotations

from monty.json import MontyDecoder, jsanitize

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
    assert isinstance(comparison, BandComparisonDocument)  # stored as the analysis returns it
    doc = ValidationDocument(
        validation_id=validation_id("gnome-1", "gpaw"),
        material_id="gnome-1",
        campaign="demo",
        route="gpaw",
        band_comparison=comparison,
        z2_predicted=[0, 0, 0, 0],
        z2_dft=[1, 0, 0, 0],
        z2_agree=False,
    )
    assert doc.validation_id == "gnome-1:gpaw"
    assert doc.band_comparison == comparison
    again = ValidationDocument.model_validate_json(doc.model_dump_json())
    assert again == doc


#: A band comparison as validations stored it before its fields were declared once.
STORED_COMPARISON = {
    "band_mae": 0.05, "band_max_error": 0.2, "window": 2.0, "n_kpoints": 8,
    "n_bands_compared": 10, "efermi_dft": 5.0, "efermi_predicted": 1.0, "gap_dft": 0.3,
    "gap_predicted": None, "spin_splitting_mae": None, "energy_shift": -0.5, "band_offset": 6,
}  # fmt: skip


def test_stored_band_comparisons_keep_their_shape() -> None:
    """Existing validations load, and the same fields are written back."""
    stored = {
        "validation_id": "ti:gpaw", "material_id": "ti", "campaign": "c1", "route": "gpaw",
        "band_comparison": STORED_COMPARISON, "soc_off": STORED_COMPARISON,
    }  # fmt: skip
    doc = ValidationDocument.model_validate(stored)
    assert doc.band_comparison.band_offset == 6 and doc.band_comparison_path is None
    dumped = doc.model_dump()
    assert dumped["band_comparison"] == STORED_COMPARISON == dumped["soc_off"]
    # JobStore outputs carry the class by its stored name
    output = {
        **STORED_COMPARISON,
        "@module": "socscreen.stores.schemas.validation",
        "@class": "BandComparisonDocument",
    }
    decoded = MontyDecoder().process_decoded(output)
    assert isinstance(decoded, BandComparisonDocument)
    assert decoded.model_dump() == STORED_COMPARISON
    fresh = jsanitize(decoded, strict=True, enum_values=True, allow_bson=True)
    assert MontyDecoder().process_decoded(fresh) == decoded

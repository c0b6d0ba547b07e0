"""Test-only per-structure functions and candidate rules for the campaign tests.

They stand in for predict + analysis so that the campaign machinery can be tested without
a model: they fill only what follows from the ingested structure (formula, sites,
density) and never a physics field. FireWorks workers started by the tests import this
module (the tests put its folder on PYTHONPATH).
"""

from __future__ import annotations

import os
import time

from pymatgen.core import Element

from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    CandidateDocument,
    MaterialResultDocument,
    StructureRecord,
)

#: Flag set by every test processor, to tell test results from real ones.
TEST_FLAG = "test-structure-only"


def structure_only(record: StructureRecord, settings: CampaignSettings) -> MaterialResultDocument:
    """Result with the structure-derived fields only."""
    return MaterialResultDocument.from_record(
        record, flags=[TEST_FLAG], model_version=settings.model_version
    )


def slow_structure_only(
    record: StructureRecord, settings: CampaignSettings
) -> MaterialResultDocument:
    """As :func:`structure_only` after ``SOCSCREEN_TEST_SLEEP`` seconds (default 0.3)."""
    time.sleep(float(os.environ.get("SOCSCREEN_TEST_SLEEP", "0.3")))
    return structure_only(record, settings)


def fails_for_bismuth(
    record: StructureRecord, settings: CampaignSettings
) -> MaterialResultDocument:
    """As :func:`structure_only`, but raise for structures containing Bi."""
    if "Bi" in record.elements:
        raise ValueError(f"test failure: {record.reduced_formula} contains Bi")
    return structure_only(record, settings)


def wrong_material(record: StructureRecord, settings: CampaignSettings) -> MaterialResultDocument:
    """Return a result under another id (a processor bug the batch job must catch)."""
    return structure_only(record, settings).model_copy(update={"material_id": "someone-else"})


def heavy_element_rule(doc: MaterialResultDocument, min_gap: float) -> CandidateDocument | None:
    """Test selection on available fields: an element with Z >= 80 (Hg, Pb, Bi here)."""
    heavy = [e for e in doc.elements if Element(e).Z >= 80]
    if not heavy or doc.error is not None:
        return None
    return CandidateDocument(
        material_id=doc.material_id,
        campaign=doc.campaign,
        formula=doc.formula,
        reduced_formula=doc.reduced_formula,
        elements=doc.elements,
        reasons=[f"test rule: contains {', '.join(heavy)}"],
        result_last_updated=doc.last_updated,
    )

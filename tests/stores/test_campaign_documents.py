"""Campaign documents, the structure filter and the candidate rule on hand-made documents."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from socscreen.stores.builders import select_candidates
from socscreen.stores.schemas.campaign import (
    ErrorDocument,
    GapsDocument,
    MaterialResultDocument,
    StructureFilter,
    Z2Document,
    classify_z2,
)


@pytest.mark.parametrize(
    ("z2", "expected"),
    [((1, 0, 0, 0), "strong"), ((1, 1, 1, 1), "strong"), ((0, 0, 0, 1), "weak"),
     ((0, 1, 1, 0), "weak"), ((0, 0, 0, 0), "trivial"), ((1,), "qsh"), ((0,), "trivial")],
    ids=["Bi2Se3-like", "strong-111", "weak-001", "weak-110", "trivial", "2D-qsh", "2D-trivial"],
)  # fmt: skip
def test_classify_z2(z2, expected):
    assert classify_z2(z2) == expected
    assert Z2Document.from_indices(z2, "parity").classification == expected


@pytest.mark.parametrize("bad", [(1, 0, 0), (2, 0, 0, 0), (0, 0, 0, -1), (2,), ()])
def test_classify_z2_rejects_bad_indices(bad):
    with pytest.raises(ValueError, match=r"four values .* or one .* of 0 or 1"):
        classify_z2(bad)


def test_z2_document_must_agree_with_its_indices():
    with pytest.raises(ValidationError, match="contradicts"):
        Z2Document(z2=[1, 0, 0, 0], classification="trivial", route="wilson")


def result(z2=None, gap=None, error=None, flags=(), **kwargs) -> MaterialResultDocument:
    """A hand-made result of Bi2Se3."""
    return MaterialResultDocument(
        material_id="m-1",
        campaign="hand-made",
        formula="Bi2 Se3",
        reduced_formula="Bi2Se3",
        elements=["Bi", "Se"],
        nsites=5,
        z2=None if z2 is None else Z2Document.from_indices(z2, "parity", n_occupied=26),
        gaps=None if gap is None else GapsDocument(direct=gap + 0.05, indirect=gap),
        error=error,
        flags=list(flags),
        **kwargs,
    )


def test_result_document_derives_headline_gap_and_error_flag():
    doc = result(z2=(1, 0, 0, 0), gap=0.3)
    assert doc.gap_eV == 0.3
    failed = result(error=ErrorDocument(stage="predict", reason="unknown element U"))
    assert failed.flags == ["error"]
    stored = MaterialResultDocument.model_validate({**doc.model_dump(), "_id": "mongo"})
    assert stored == doc
    with pytest.raises(ValidationError):
        result(gap=-0.1)


def test_select_candidates_strong_and_weak_with_gap():
    strong = select_candidates(result(z2=(1, 0, 0, 0), gap=0.3))
    assert strong is not None
    assert strong.z2.classification == "strong" and strong.gap_eV == 0.3
    assert strong.reasons[0].startswith("strong topological insulator, Z2 = (1;000)")
    weak = select_candidates(result(z2=(0, 0, 0, 1), gap=0.05, flags=["z2_routes_disagree"]))
    assert weak is not None and "flags: z2_routes_disagree" in weak.reasons
    assert select_candidates(result(z2=(1, 0, 0, 0), gap=0.3).model_dump()) is not None


@pytest.mark.parametrize(
    "doc",
    [result(z2=(0, 0, 0, 0), gap=1.0), result(z2=(1, 0, 0, 0), gap=0.0),
     result(z2=(1, 0, 0, 0), gap=None), result(gap=0.3),
     result(z2=(1, 0, 0, 0), gap=0.3, error=ErrorDocument(stage="analysis", reason="x"))],
    ids=["trivial", "gapless", "gap-unknown", "z2-unknown", "failed"],
)  # fmt: skip
def test_select_candidates_rejects(doc):
    assert select_candidates(doc) is None


def test_select_candidates_threshold():
    doc = result(z2=(1, 0, 0, 0), gap=0.02)
    assert select_candidates(doc, min_gap=0.01) is not None
    assert select_candidates(doc, min_gap=0.05) is None


@pytest.mark.parametrize(
    ("filters", "kwargs", "rejected"),
    [
        (StructureFilter(include_elements=["Bi"]), {}, None),
        (StructureFilter(include_elements=["Bi", "Te"]), {}, "include elements"),
        (StructureFilter(exclude_elements=["Se"]), {}, "exclude elements"),
        (StructureFilter(min_heavy_z=83), {}, None),
        (StructureFilter(min_heavy_z=84), {}, "heavy element"),
        (StructureFilter(max_sites=4), {}, "sites"),
        (StructureFilter(max_decomposition_energy=0.05), {"decomposition_energy": 0.1},
         "decomposition energy"),
        (StructureFilter(max_decomposition_energy=0.05), {}, "decomposition energy unknown"),
        (StructureFilter(min_band_gap=0.1, max_band_gap=0.5), {"band_gap": 0.3}, None),
        (StructureFilter(min_band_gap=0.1), {"band_gap": 0.05}, "band gap"),
        (StructureFilter(max_band_gap=0.2), {"band_gap": 0.3}, "band gap"),
    ],
)  # fmt: skip
def test_structure_filter(filters, kwargs, rejected):
    assert filters.rejects(["Bi", "Se"], 5, **kwargs) == rejected


def test_structure_filter_rejects_unknown_symbols():
    with pytest.raises(ValidationError, match="unknown element symbol 'Xx'"):
        StructureFilter(include_elements=["Xx"])

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
from socscreen.stores.verdicts import judge_result


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
    assert strong.reasons[0] == (
        "candidate: strong topological insulator, Z2 = (1;000) by parity, gap 0.300 eV >= 0.01 eV"
    )
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


def semimetal(z2, overlap, direct=0.09, **kwargs) -> MaterialResultDocument:
    """A result whose bands overlap by ``overlap`` eV with the direct gap open everywhere."""
    gaps = GapsDocument(direct=direct, indirect=0.0, kind="semimetal", band_overlap=overlap)
    return result(z2=z2, flags=["semimetal"], **kwargs).model_copy(
        update={"gaps": gaps, "gap_eV": 0.0}
    )


@pytest.mark.parametrize(
    ("doc", "material_class", "candidate", "reason"),
    [
        (semimetal((1, 0, 0, 0), 0.147), "topological_semimetal", True,
         "candidate: strong topological semimetal, Z2 = (1;000) by parity, "
         "direct gap >= 0.090 eV at every k, bands overlap by 0.147 eV"),
        (result(z2=(1, 0, 0, 0), gap=0.004, flags=["gapless"]), "topological_semimetal", True,
         "candidate: strong topological semimetal, Z2 = (1;000) by parity, "
         "direct gap >= 0.054 eV at every k, gap 0.004 eV < 0.01 eV"),
        (semimetal((0, 0, 0, 0), 0.2), "trivial_semimetal", False,
         "not a candidate: trivial semimetal, Z2 = (0;000) by parity, "
         "direct gap >= 0.090 eV at every k, bands overlap by 0.200 eV"),
        (result(z2=(0, 0, 0, 0), gap=1.1), "trivial_insulator", False,
         "not a candidate: trivial insulator, Z2 = (0;000) by parity, gap 1.100 eV >= 0.01 eV"),
        (result(gap=0.3, flags=["z2_wcc_not_converged"]), "undetermined", False,
         "not a candidate: undetermined, no Z2 index, z2_wcc_not_converged"),
        (result(gap=0.88, flags=["two_dimensional", "valley_edges_only"]), "undetermined",
         False, "not a candidate: undetermined, a large cell analysed at its valley edges "
         "only (gap 0.880 eV over K and Gamma): no Z2 index"),
        (result(flags=["metal"]).model_copy(
            update={"gaps": GapsDocument(direct=0.0, indirect=0.0, kind="metal",
                                         k_direct=[-0.044, -0.044, -0.044])}),
         "metal", False,
         "not a candidate: metal, the bands cross near k = (-0.044, -0.044, -0.044): "
         "no gap, no Z2"),
        (result(error=ErrorDocument(stage="predict", reason="element U unknown")), "failed",
         False, "not a candidate: predict failed: element U unknown"),
    ],
    ids=["Bi2Se3-overlap", "Sb2Te3-tiny-gap", "trivial-semimetal", "trivial-insulator",
         "no-z2", "large-cell", "HgTe-crossing", "failed"],
)  # fmt: skip
def test_every_result_has_one_verdict_with_its_reason(doc, material_class, candidate, reason):
    verdict = judge_result(doc, min_gap=0.01)
    assert (verdict.material_class, verdict.candidate) == (material_class, candidate)
    assert verdict.reason == reason
    assert (select_candidates(doc) is not None) is candidate
    if doc.error is not None:  # a failed result carries its verdict from the start
        assert doc.verdict == verdict


def test_select_candidates_threshold():
    """Below min_gap a topological insulator is a topological semimetal: still a candidate."""
    doc = result(z2=(1, 0, 0, 0), gap=0.02)
    assert judge_result(doc, min_gap=0.01).material_class == "topological_insulator"
    assert judge_result(doc, min_gap=0.05).material_class == "topological_semimetal"
    assert "gap 0.020 eV < 0.05 eV" in select_candidates(doc, min_gap=0.05).reasons[0]


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


def test_every_flag_the_analysis_sets_has_a_one_line_meaning():
    from socscreen.analysis.topology import Z2Result
    from socscreen.stores.verdicts import FLAG_MEANINGS

    listed = Z2Result.model_fields["flags"].description.split(":", 1)[1]
    z2_flags = {f"z2_{name.strip(' .')}" for name in listed.split(",")}
    analysis_flags = {"metal", "semimetal", "gapless", "odd_electron_count", "two_dimensional",
                      "uncorrected_elements", "sparsely_trained_elements", "error"}  # fmt: skip
    assert (z2_flags - {"z2_metal", "z2_semimetal"}) | analysis_flags <= set(FLAG_MEANINGS)
    assert all(len(meaning) <= 76 for meaning in FLAG_MEANINGS.values())  # one line each

"""The campaign's analysis stage on DFT Hamiltonians with known physics."""

from __future__ import annotations

import pytest

from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.analyse import analyse_structure, analysis_fields
from socscreen.stores.schemas.campaign import CampaignSettings, MaterialResultDocument, SourceInfo
from socscreen.stores.verdicts import judge_result
from socscreen.workflows.ingestion import RawStructure, to_record

SETTINGS = CampaignSettings()


def test_bi2se3_is_a_strong_ti_inverted_by_soc(bi2se3):
    fields = analysis_fields(bi2se3, SETTINGS)
    assert fields.z2 is not None
    assert fields.z2.z2 == [1, 0, 0, 0] and fields.z2.classification == "strong"
    assert fields.z2.z2_no_soc == [0, 0, 0, 0]
    # screening: an inversion centre makes the parity route enough
    assert fields.z2.route == "parity" and fields.z2.routes_agree is None
    assert fields.band_inversion is True
    assert fields.confidence > 0.5
    # centrosymmetric: Kramers pairs stay degenerate, no Berry curvature to report
    assert fields.spin_splitting_max < 1e-6 and fields.spin_splitting_k is None
    assert fields.berry is None
    # szp(dzp) Bi2Se3 bands overlap by 0.15 eV without touching: a Z2 but no gap. The
    # numbers below are regression values measured on the fixture itself
    assert "semimetal" in fields.flags
    assert fields.gaps.indirect_no_soc == pytest.approx(0.171, abs=0.01)
    assert fields.gaps.kind == "semimetal" and fields.gaps.indirect == 0.0
    assert fields.gaps.band_overlap == pytest.approx(0.147, abs=0.005)
    assert fields.gaps.direct == pytest.approx(0.089, abs=0.005)  # open at every k
    # a topological semimetal: a candidate of its own, the reason with its numbers
    doc = MaterialResultDocument(
        material_id="bi2se3", campaign="unit", **fields.model_dump(exclude={"seconds"})
    )
    verdict = judge_result(doc, SETTINGS.min_gap)
    assert verdict.material_class == "topological_semimetal" and verdict.candidate
    gaps = fields.gaps
    assert verdict.reason == (
        "candidate: strong topological semimetal, Z2 = (1;000) by parity, direct gap >= "
        f"{gaps.direct:.3f} eV at every k, bands overlap by {gaps.band_overlap:.3f} eV"
    )


@pytest.mark.parametrize(("route", "agree"), [("screening", None), ("auto", True)])
def test_silicon_is_trivial_with_its_gaps(silicon, route, agree):
    fields = analysis_fields(silicon, CampaignSettings(z2_route=route))
    assert fields.z2.classification == "trivial" and fields.z2.route == "parity"
    assert fields.z2.routes_agree is agree  # "auto" adds the Wilson-loop cross-check
    assert fields.band_inversion is False
    assert fields.gaps.direct == pytest.approx(2.74, abs=0.01)  # regression (test_bands)
    assert 0.5 < fields.gaps.indirect < fields.gaps.direct
    assert fields.flags == []


def test_non_centrosymmetric_insulator_gets_wilson_z2_splitting_and_berry(data_dir):
    libr = Hamiltonian.from_npz(data_dir / "LiBr_sz.npz")
    fields = analysis_fields(libr, SETTINGS)
    assert fields.z2.route == "wilson" and fields.z2.classification == "trivial"
    assert "z2_no_inversion" in fields.flags
    assert fields.spin_splitting_max > 1e-3 and fields.spin_splitting_k is not None
    assert fields.berry is not None and fields.berry.max_abs_curvature > 0


def test_odd_electron_metal_is_flagged_not_raised(data_dir):
    cu = Hamiltonian.from_npz(data_dir / "Cu_sz.npz")
    fields = analysis_fields(cu, SETTINGS)
    assert fields.z2 is None and fields.confidence == 0.0
    assert {"metal", "odd_electron_count"} <= set(fields.flags)
    assert fields.gaps.indirect == 0.0


def test_hamiltonian_without_soc_is_rejected(silicon):
    bare = Hamiltonian(silicon.structure, silicon.orbitals, silicon.R, silicon.h0,
                       silicon.overlap, nelect=silicon.nelect)  # fmt: skip
    with pytest.raises(ValueError, match="spin-orbit"):
        analysis_fields(bare, SETTINGS)


def test_analyse_structure_joins_record_physics_and_model(silicon):
    entry = RawStructure(source=SourceInfo(kind="folder", path="/x", entry="Si.cif"),
                         loader=lambda: silicon.structure)  # fmt: skip
    record = to_record(entry).model_copy(update={"campaign": "unit"})
    ham = silicon._replace(meta={**silicon.meta, "model": {"name": "Uni-HamGNN", "version": "9"}})
    doc = analyse_structure(record, ham, SETTINGS)
    assert (doc.material_id, doc.campaign, doc.nsites) == (record.material_id, "unit", 2)
    assert doc.model_version == "Uni-HamGNN-9" and doc.timings.analysis > 0
    # a retrained checkpoint of the same package version gets its own version string
    model = {"name": "Uni-HamGNN", "version": "9", "checkpoint_sha256": "82f11d0a429d" + "0" * 52}
    doc = analyse_structure(record, ham._replace(meta={**ham.meta, "model": model}), SETTINGS)
    assert doc.model_version == "Uni-HamGNN-9+82f11d0a429d"
    assert doc.z2.classification == "trivial" and doc.gap_eV == doc.gaps.indirect > 0.5


@pytest.mark.parametrize(
    ("lam_v", "nu", "classification"),
    [(0.1, [1], "qsh"), (0.5, [0], "trivial")],
    ids=["quantum-spin-hall", "trivial-sheet"],
)
def test_a_2d_sheet_keeps_its_z2_and_a_qsh_sheet_is_a_candidate(lam_v, nu, classification):
    """Kane-Mele sheets with 15 A of vacuum: the 2D index nu reaches the result document."""
    from socscreen.analysis.models import kane_mele
    from socscreen.stores.builders import select_candidates
    from socscreen.stores.schemas.campaign import MaterialResultDocument

    ham = kane_mele(lam_v=lam_v)
    fields = analysis_fields(ham, CampaignSettings(berry_curvature=False))
    assert "two_dimensional" in fields.flags
    assert fields.z2 is not None and fields.z2.z2 == nu
    assert fields.z2.classification == classification
    assert fields.confidence > 0 and fields.gaps.indirect > 0.01
    doc = MaterialResultDocument(
        material_id="km", campaign="2d", **fields.model_dump(exclude={"seconds"})
    )
    candidate = select_candidates(doc)
    if classification == "qsh":
        assert candidate is not None and "quantum spin Hall" in candidate.reasons[0]
        assert "Z2 = (1)" in candidate.reasons[0]
    else:
        assert candidate is None


@pytest.mark.gpaw
def test_a_predicted_mx2_sheet_gets_its_valleys_and_a_finite_berry_curvature():
    """scc WS2 monolayer: the path's largest curvature is the valley's (about 21 A^2), not the
    thousands a truncated real-space Löwdin model gave across the dropped overlap directions.
    """
    from pathlib import Path

    from socscreen.model.predictors import predict_hamiltonian

    sheet = Path(__file__).parents[2] / "benchmarks" / "data" / "sheets" / "WS2.npz"
    predicted = predict_hamiltonian(Hamiltonian.from_npz(sheet).structure, "scc")
    fields = analysis_fields(predicted, SETTINGS)
    valley = fields.valley
    assert valley is not None and 0.4 < valley.valence_splitting_eV < 0.55
    assert valley.omega_k == pytest.approx(-valley.omega_k_prime)
    assert fields.berry.max_abs_curvature == pytest.approx(abs(valley.omega_k), rel=0.05)

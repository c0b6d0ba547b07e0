"""The screening physics as a plain function (no documents) and its shared flag rules."""

from __future__ import annotations

import copy
from dataclasses import asdict

import pytest

from socscreen.analysis.gaps import band_gap
from socscreen.analysis.screening import (
    analyse_hamiltonian,
    gap_flags,
    stored_gap,
)
from socscreen.sparse_hamiltonian import SparseHamiltonian
from socscreen.stores.schemas.campaign import CampaignSettings


def test_silicon_screens_trivial_and_the_maker_stores_the_same_values(silicon):
    from socscreen.makers.analyse import AnalysisFields

    screening = analyse_hamiltonian(silicon, CampaignSettings())
    assert screening.z2.z2 == [0, 0, 0, 0] and screening.z2.route == "parity"
    assert screening.flags == [] and screening.band_inversion is False
    fields = AnalysisFields.of(screening)
    assert fields.gaps.model_dump() == asdict(screening.gaps)
    assert fields.z2.classification == "trivial" and fields.confidence == screening.confidence


def test_gap_flag_rules(silicon):
    gap = band_gap(silicon)
    assert gap.kind == "insulator" and stored_gap(gap) == gap.indirect_gap_eV > 0.5
    assert gap_flags(gap) == [] and gap_flags(gap, min_gap=0.01) == []
    assert gap_flags(gap, min_gap=10.0) == ["gapless"]
    metal = gap.model_copy(update={"kind": "metal"})
    assert gap_flags(metal, min_gap=0.01) == ["metal"] and stored_gap(metal) == 0.0


def test_predictions_from_few_or_no_training_files_are_flagged(silicon):
    predicted = copy.copy(silicon)  # the meta a correction model's prediction carries
    predicted.meta = {**silicon.meta, "sparsely_trained_elements": {"Si": 7}}
    assert analyse_hamiltonian(predicted, CampaignSettings()).flags == ["sparsely_trained_elements"]
    predicted.meta = {**silicon.meta, "uncorrected_elements": ["Si"]}
    assert analyse_hamiltonian(predicted, CampaignSettings()).flags == ["uncorrected_elements"]


def test_only_a_hexagonal_sheet_is_analysed_at_its_valley_edges(bi2se3):
    """The large-cell route reads K and Γ of a sheet; a bulk crystal gets a one-line error."""
    with pytest.raises(ValueError, match=r"Bi2Se3 \(5 sites\) .* not a hexagonal 2D sheet"):
        analyse_hamiltonian(SparseHamiltonian.from_dense(bi2se3), CampaignSettings())

"""Shared helpers of the validation routes: where the compared prediction comes from."""

from __future__ import annotations

import pytest

from socscreen.makers.validation import model_flags, predicted_hamiltonian
from socscreen.model.predictors import prediction_version
from socscreen.stores.schemas.campaign import CampaignSettings, MaterialResultDocument
from socscreen.stores.schemas.validation import ValidationTarget


def test_outside_a_job_the_prediction_is_recomputed(silicon):
    target = ValidationTarget(
        material_id="si", campaign="c", structure=silicon.structure.as_dict(),
        prediction_job_uuid="no-such-job", model_version="Uni-HamGNN-0.0-old",
    )  # fmt: skip
    ham = predicted_hamiltonian(target)
    assert ham.meta["prediction_source"] == "recomputed" and ham.meta["predictor"] == "model"
    assert ham.nelect == silicon.nelect and ham.has_soc and ham.efermi is not None
    assert model_flags(target, ham) == ["model_version_changed"]
    same = target.model_copy(update={"model_version": prediction_version(ham.meta)})
    assert model_flags(same, ham) == []


@pytest.mark.gpaw
def test_a_target_predicts_again_with_its_campaigns_predictor(silicon):
    """A campaign of the scc predictor is recomputed by scc, not by the model's checkpoint."""
    result = MaterialResultDocument(
        material_id="si", campaign="c", structure=silicon.structure.as_dict()
    )
    target = ValidationTarget.from_result(result, CampaignSettings(predictor="scc"))
    assert target.predictor == "scc"
    assert ValidationTarget.from_result(result).predictor == "model"  # the shipped checkpoint
    ham = predicted_hamiltonian(target)
    assert ham.meta["predictor"] == "scc" and ham.meta["prediction_source"] == "recomputed"
    assert model_flags(target.model_copy(update={"model_version": "Uni-HamGNN-x"}), ham) == [
        "model_version_changed"
    ]

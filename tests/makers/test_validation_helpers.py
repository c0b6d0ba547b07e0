"""Shared helpers of the validation routes: where the compared prediction comes from."""

from __future__ import annotations

from socscreen.makers.validation import model_flags, predicted_hamiltonian, stored_prediction
from socscreen.model.predictors import prediction_version
from socscreen.stores.schemas.validation import ValidationTarget


def test_outside_a_job_the_prediction_is_recomputed(silicon):
    target = ValidationTarget(
        material_id="si", campaign="c", structure=silicon.structure.as_dict(),
        prediction_job_uuid="no-such-job", model_version="Uni-HamGNN-0.0-old",
    )  # fmt: skip
    assert stored_prediction(target) is None
    ham = predicted_hamiltonian(target)
    assert ham.meta["prediction_source"] == "recomputed"
    assert ham.nelect == silicon.nelect and ham.has_soc and ham.efermi is not None
    assert model_flags(target, ham) == ["model_version_changed"]
    same = target.model_copy(update={"model_version": prediction_version(ham.meta)})
    assert model_flags(same, ham) == []

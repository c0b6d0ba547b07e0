"""The predict maker's per-structure function and the version label results carry."""

from __future__ import annotations

import shutil

import pytest

from socscreen.makers.predict import expected_prediction_version, predict_structure, result_version
from socscreen.model.predictors import default_checkpoint, prediction_version
from socscreen.stores.schemas.campaign import CampaignSettings, SourceInfo
from socscreen.workflows.ingestion import RawStructure, to_record


@pytest.fixture
def record(silicon):
    entry = RawStructure(source=SourceInfo(kind="folder", path="/x", entry="Si.cif"),
                         loader=lambda: silicon.structure)  # fmt: skip
    return to_record(entry).model_copy(update={"campaign": "unit"})


def test_expected_model_version_is_the_one_predictions_carry(record, tmp_path):
    settings = CampaignSettings(predictor="model")
    ham = predict_structure(record, settings)
    predicted = prediction_version(ham.meta)
    assert ham.meta["predictor"] == "model"
    assert predicted == expected_prediction_version(settings) == result_version(settings, ham.meta)
    assert predicted.startswith("Uni-HamGNN") and len(predicted.split("+")[1]) == 12
    # a user label wins; a checkpoint without its JSON record gives no expectation
    labelled = CampaignSettings(predictor="model", model_version="mine")
    assert expected_prediction_version(labelled) == result_version(labelled, ham.meta) == "mine"
    bare = tmp_path / "bare.pt"
    shutil.copy(default_checkpoint(), bare)
    assert (
        expected_prediction_version(CampaignSettings(predictor="model", checkpoint=str(bare)))
        is None
    )


@pytest.mark.gpaw
def test_baseline_predictions_carry_their_own_version(record):
    settings = CampaignSettings(predictor="baseline", model_version="a model label")
    ham = predict_structure(record, settings)
    assert ham.meta["predictor"] == "baseline" and ham.meta["source"] == "zeroth-step"
    version = result_version(settings, ham.meta)
    assert version == expected_prediction_version(settings) == prediction_version(ham.meta)
    assert version.startswith("H0-zeroth-step-GPAW-") and "a model label" not in version
    assert version != expected_prediction_version(CampaignSettings())

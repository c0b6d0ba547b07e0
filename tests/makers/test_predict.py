"""The predict maker's per-structure function and the model version results carry."""

from __future__ import annotations

import shutil

from socscreen.makers.ingest import RawStructure, to_record
from socscreen.makers.predict import expected_model_version, model_version, predict_structure
from socscreen.model.inference import default_checkpoint
from socscreen.stores.schemas.campaign import CampaignSettings, SourceInfo


def test_expected_model_version_is_the_one_predictions_carry(silicon, tmp_path):
    entry = RawStructure(source=SourceInfo(kind="folder", path="/x", entry="Si.cif"),
                         loader=lambda: silicon.structure)  # fmt: skip
    record = to_record(entry).model_copy(update={"campaign": "unit"})
    settings = CampaignSettings()
    predicted = model_version(predict_structure(record, settings).meta)
    assert predicted == expected_model_version(settings)
    assert predicted.startswith("Uni-HamGNN") and len(predicted.split("+")[1]) == 12
    # a user label wins; a checkpoint without its JSON record gives no expectation
    assert expected_model_version(CampaignSettings(model_version="mine")) == "mine"
    bare = tmp_path / "bare.pt"
    shutil.copy(default_checkpoint(), bare)
    assert expected_model_version(CampaignSettings(checkpoint=str(bare))) is None

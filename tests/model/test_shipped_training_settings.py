"""The shipped checkpoint can be reproduced from the clone: settings parse, files are there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from socscreen.hamiltonian import Hamiltonian
from socscreen.model.predictors import default_checkpoint, element_file_counts
from socscreen.model.train import TrainConfig

CHECKPOINTS = default_checkpoint().parent
ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "data" / "corpus" / "gpaw-szp"
RECORDS = [default_checkpoint().with_suffix(".json"), *sorted(CHECKPOINTS.glob("*.step*.json"))]


@pytest.mark.parametrize("path", sorted(CHECKPOINTS.glob("*.yaml")), ids=lambda p: p.name)
def test_training_settings_of_every_step_are_valid(path):
    settings = yaml.safe_load(path.read_text())
    config = TrainConfig(**settings)  # no unknown or mistyped field
    assert set(settings) <= set(TrainConfig.model_fields)
    assert "Reproduce" in path.read_text()  # the header says how
    if config.split_from is not None:
        assert (ROOT / config.split_from).exists()


@pytest.mark.skipif(not CORPUS.exists(), reason="the training corpus is not in this copy")
@pytest.mark.parametrize("record_path", RECORDS, ids=lambda p: p.name)
def test_recorded_training_files_are_in_the_corpus_with_their_content(record_path):
    record = json.loads(record_path.read_text())
    files = record["training_files"]
    assert files and all("content_sha256" in f for f in files)
    train = set(record["split"]["train"])
    changed, trained = [], []
    for f in files:
        ham = Hamiltonian.from_npz(CORPUS / f["name"])
        if ham.content_sha256() != f["content_sha256"]:
            changed.append(f["name"])
        if f["name"] in train:
            trained.append(ham.structure)
    assert not changed
    held_out = set(record["split"]["test"]) | set(record["split"]["val"])
    assert held_out <= {f["name"] for f in files}
    # what a prediction's sparsely_trained_elements are judged by: the training split's
    assert record["element_files"] == element_file_counts(trained)

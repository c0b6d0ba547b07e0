"""Validation end to end: campaign -> rerun of its flagged materials with GPAW -> report.

A three-structure campaign from the shipped GNoME-format sample (Bi2Se3, InSb, Si) runs
with the shipped model through two ``rlaunch`` workers on a real SecantusDB server; then
``socscreen rerun`` submits GPAW validations of the flagged results (category ``dft``),
which two DFT workers run; the validation documents, the training-data files and their
records, the non-duplicating resubmission and the HTML report are checked.
"""

from __future__ import annotations

import json
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socscreen.checksums import file_sha256
from socscreen.cli import app
from socscreen.corpus.loading import load_corpus
from socscreen.hamiltonian import Hamiltonian
from socscreen.model.data import CrystalData
from socscreen.model.inference import load_model
from socscreen.stores.schemas.campaign import CampaignSettings, MaterialResultDocument
from socscreen.stores.schemas.validation import TrainingDataRecord, ValidationDocument
from socscreen.workflows.campaign import submit_campaign
from socscreen.workflows.ingestion import open_source
from socscreen.workflows.workers import run_workers

pytestmark = [pytest.mark.slow, pytest.mark.gpaw]

SAMPLE = Path(__file__).parents[2] / "examples" / "gnome_sample"
SAMPLE_IDS = {"socx000001": "Bi2Se3", "socx000009": "InSb", "socx000014": "Si"}


@pytest.fixture
def source(tmp_path):
    entries = [
        {"material_id": e.material_id, "structure": e.load().as_dict()}
        for e in open_source(SAMPLE)
        if e.material_id in SAMPLE_IDS
    ]
    path = tmp_path / "sample.json"
    path.write_text(json.dumps(entries))
    return path


def documents(db, name, model, criteria=None):
    store = db.store(name)
    store.connect()
    try:
        return [model.model_validate(d) for d in store.query(criteria or {})]
    finally:
        store.close()


def test_campaign_rerun_with_gpaw_and_report(db, source, tmp_path, monkeypatch):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    t0 = time.perf_counter()
    submit_campaign(db, source, "e2e", CampaignSettings(batch_size=2))
    campaign_run = run_workers(db, 2, tmp_path / "campaign")
    assert campaign_run.exit_codes == [0, 0] and set(campaign_run.states) == {"COMPLETED"}
    results = {d.material_id: d for d in documents(db, "results", MaterialResultDocument)}
    assert set(results) == set(SAMPLE_IDS)

    uri = f"{db.uri}/{db.database}"
    training = tmp_path / "training"
    runner = CliRunner()
    out = runner.invoke(app, ["rerun", "e2e", "--training-dir", str(training), "--db-uri", uri])
    assert out.exit_code == 0, out.output
    flagged = {i for i, r in results.items()
               if (r.confidence or 0) < 0.5 or (r.z2 and r.z2.routes_agree is False)
               or (r.verdict and r.verdict.candidate)}  # fmt: skip
    assert flagged and f"{len(flagged)} submitted" in out.output

    # the validation jobs carry category dft: a worker of another category leaves them
    idle = run_workers(db, 1, tmp_path / "other", category="analyse", timeout=5)
    assert idle.states["READY"] == len(flagged)
    dft_run = run_workers(db, 2, tmp_path / "dft", category="dft")
    assert dft_run.exit_codes == [0, 0] and set(dft_run.states) == {"COMPLETED"}
    elapsed = time.perf_counter() - t0

    validations = {d.material_id: d for d in documents(db, "validations", ValidationDocument)}
    assert set(validations) == flagged
    outputs = db.job_store().docs_store
    outputs.connect()
    predict_uuids = {d["uuid"] for d in outputs.query({"metadata.stage": "predict"})}
    outputs.close()
    for material_id, doc in validations.items():
        result = results[material_id]
        assert doc.campaign == "e2e" and doc.route == "gpaw" and doc.reasons
        assert doc.prediction_model_version == result.model_version
        assert doc.prediction_job_uuid in predict_uuids and doc.prediction_source == "stored"
        assert doc.z2_predicted == (result.z2.z2 if result.z2 else None)
        # the DFT has Z2 indices exactly when its direct gap stays open (not a metal)
        assert (doc.z2_dft is None) == ("metal" in doc.dft_flags), (doc.z2_dft, doc.dft_flags)
        assert doc.z2_dft is None or len(doc.z2_dft) == 4
        assert doc.z2_agree == (
            None if doc.z2_predicted is None else doc.z2_predicted == doc.z2_dft
        )
        comparison = doc.band_comparison
        assert comparison.band_offset == 0 and comparison.n_bands_compared > 0
        assert 0 < comparison.band_mae < 3.0 and comparison.band_max_error >= comparison.band_mae
        assert doc.band_comparison_path is not None and doc.gap_dft is not None
        assert doc.timings["dft"] > 0
    if "socx000001" in validations:  # PBE Bi2Se3 is a strong TI (tests/data/README_fixtures.md)
        assert validations["socx000001"].z2_dft == [1, 0, 0, 0]

    # feedback: one corpus file per validation, recorded, loadable by the fine-tuning code
    records = documents(db, "training_data", TrainingDataRecord)
    assert {r.material_id for r in records} == flagged
    files, hams = load_corpus(training)
    assert {str(f.resolve()) for f in files} == {r.path for r in records}
    model, _ = load_model()
    for record, ham in zip(sorted(records, key=lambda r: r.path), hams, strict=True):
        assert file_sha256(record.path) == record.sha256
        assert validations[record.material_id].dft_hamiltonian_path == record.path
        assert isinstance(ham, Hamiltonian) and ham.has_soc
        assert CrystalData.from_hamiltonian(ham, model.layout, model.cutoffs).complete

    # resubmission submits nothing new
    again = runner.invoke(app, ["rerun", "e2e", "--db-uri", uri])
    assert again.exit_code == 0, again.output
    assert "0 submitted" in again.output and f"{len(flagged)} already validated" in again.output

    report = tmp_path / "report.html"
    shown = runner.invoke(app, ["report", "e2e", "-o", str(report), "--db-uri", uri])
    assert shown.exit_code == 0, shown.output
    parser = _Collector()
    parser.feed(report.read_text())
    assert flagged <= parser.text_cells  # every validation has its row
    assert len(parser.images) >= 3 and all(
        s.startswith("data:image/png;base64,") for s in parser.images
    )
    print(f"campaign + GPAW validation of {len(flagged)} materials: {elapsed:.1f} s")
    for doc in validations.values():
        print(doc.material_id, doc.formula, "z2", doc.z2_predicted, doc.z2_dft,
              f"band MAE {doc.band_comparison.band_mae:.3f} eV")  # fmt: skip


class _Collector(HTMLParser):
    """Table cell texts and image sources of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.text_cells: set[str] = set()
        self.images: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self._in_cell = tag == "td"
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))

    def handle_data(self, data):
        if self._in_cell and data.strip():
            self.text_cells.add(data.strip())

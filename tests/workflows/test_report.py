"""Campaign report: a self-contained HTML page from stored results and validations.

The stored documents hold real numbers: predictions of the shipped model for the Bi2Se3
and Si fixture structures, compared with the fixtures' GPAW Hamiltonians (which stand in
for the validation's DFT files).
"""

from __future__ import annotations

import base64
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest
from typer.testing import CliRunner

from socscreen.analysis.bands import band_structure
from socscreen.analysis.bloch import monkhorst_pack
from socscreen.analysis.comparison import compare_hamiltonians, z2_agree
from socscreen.analysis.topology import z2_invariants
from socscreen.cli import app
from socscreen.makers.batch import DATA_OBJECTS
from socscreen.makers.predict import PredictedBatch, PredictedHamiltonian
from socscreen.model.inference import predict
from socscreen.stores.queries import save_results
from socscreen.stores.schemas.campaign import (
    CampaignSummaryDocument,
    CandidateDocument,
    ErrorDocument,
    GapsDocument,
    MaterialResultDocument,
    Z2Document,
)
from socscreen.stores.schemas.validation import ValidationDocument, validation_id
from socscreen.stores.validations import save_validation
from socscreen.stores.verdicts import judge_result
from socscreen.workflows.report import write_report
from socscreen.workflows.report_data import band_thumbnails, load_report_data, validation_statistics
from socscreen.workflows.report_html import PDF_BROWSERS, render_report

PNG = "data:image/png;base64,"


class Page(HTMLParser):
    """Rows (cell texts) of every table and the sources of every image."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[str] = []
        self.headings: list[str] = []
        self._cell: list[str] | None = None
        self._heading = False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag == "h2":
            self._heading = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "h2":
            self._heading = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._heading:
            self.headings[-1] += data


def _store_predictions(
    db, campaign: str, hamiltonians: dict, uuid: str = "", completed_at: str = "2026-12-06"
) -> None:
    """Store Hamiltonians as a campaign's predict job does: job document + GridFS blobs."""
    batch = PredictedBatch(
        campaign=campaign,
        material_ids=list(hamiltonians),
        hamiltonians=[
            PredictedHamiltonian(material_id=m, hamiltonian=h, seconds=0.1)
            for m, h in hamiltonians.items()
        ],
    )
    job_store = db.job_store()
    job_store.connect()
    job_store.update(
        {
            "uuid": uuid or f"predict-{campaign}",
            "index": 1,
            "output": batch,
            "metadata": {"campaign": campaign, "stage": "predict"},
            "completed_at": completed_at,
        },
        save={"data": DATA_OBJECTS},
    )
    job_store.close()


@pytest.fixture
def campaign(db, bi2se3, silicon, tmp_path):
    """A campaign 'demo' with two results, one candidate and two validations."""
    db.ensure_indexes()
    docs, validations, predictions = [], [], {}
    for material_id, dft in (("bi2se3", bi2se3), ("si", silicon)):
        predicted = predictions[material_id] = predict(dft.structure)
        z2_pred = z2_invariants(predicted, route="parity")
        z2_dft = z2_invariants(dft, route="parity")
        grid = compare_hamiltonians(predicted, dft, monkhorst_pack((4, 4, 4)))
        dft_file = dft.to_npz(tmp_path / f"{material_id}.npz")
        z2_doc = Z2Document.from_indices(z2_pred.z2, "parity") if z2_pred.z2 else None
        docs.append(
            MaterialResultDocument(
                material_id=material_id, campaign="demo",
                reduced_formula=dft.structure.composition.reduced_formula,
                structure=dft.structure.as_dict(), z2=z2_doc,
                gaps=GapsDocument(indirect=max(grid.gap_predicted or 0.0, 0.0)),
                confidence=0.8, flags=[] if z2_doc else ["metal"], model_version="test",
            )
        )  # fmt: skip
        validations.append(
            ValidationDocument(
                validation_id=validation_id(material_id, "gpaw"), material_id=material_id,
                campaign="demo", route="gpaw", formula=dft.structure.formula,
                band_comparison=grid,
                z2_predicted=z2_pred.z2, z2_dft=z2_dft.z2,
                z2_agree=z2_agree(z2_pred.z2, z2_dft.z2), gap_dft=grid.gap_dft,
                gap_predicted=grid.gap_predicted, dft_hamiltonian_path=str(dft_file),
                reasons=["candidate"],
            )
        )  # fmt: skip
    _store_predictions(db, "demo", predictions)
    stores = {n: db.store(n) for n in ("results", "candidates", "campaigns", "validations")}
    for store in stores.values():
        store.connect()
    save_results(stores["results"], docs)
    candidate = CandidateDocument(
        material_id="bi2se3", campaign="demo", reduced_formula="Bi2Se3",
        z2=Z2Document.from_indices([1, 0, 0, 0], "parity"), gap_eV=0.2, reasons=["strong TI"],
        result_last_updated=docs[0].last_updated,
    )  # fmt: skip
    stores["candidates"].update([candidate.model_dump()], key=["campaign", "material_id"])
    summary = CampaignSummaryDocument(campaign="demo", n_structures=2, n_results=2)
    stores["campaigns"].update([summary.model_dump()], key="campaign")
    for doc in validations:
        save_validation(stores["validations"], doc)
    for store in stores.values():
        store.close()
    return validations


def test_statistics_of_the_stored_validations(db, campaign):
    data = load_report_data(db, "demo")
    stats = validation_statistics(data.validations)
    assert stats.n_validations == 2
    expected = [v.z2_agree for v in campaign if v.z2_agree is not None]
    assert stats.n_z2_compared == len(expected) and stats.n_z2_agree == sum(expected)
    assert stats.band_mae == [v.band_comparison.band_mae for v in campaign]


def test_report_page_has_tables_and_embedded_figures(db, campaign, tmp_path):
    path = write_report(db, "demo", tmp_path / "out" / "report.html")
    page = Page()
    page.feed(path.read_text())
    assert page.headings[:5] == ["Campaign summary", "Candidates (1)", "All results (2)",
                                 "Failures (0)", "Validation against DFT"]  # fmt: skip
    first_cells = [row[0] for row in page.rows if row]
    assert first_cells.count("bi2se3") == 3 and first_cells.count("si") == 2
    candidate_row = next(r for r in page.rows if r and r[0] == "bi2se3" and "(1;000)" in r)
    assert "0.200" in candidate_row
    for v in campaign:
        row = next(r for r in page.rows if r and r[0] == v.material_id and "gpaw" in r)
        assert f"{v.band_comparison.band_mae:.3f}" in row
    # histogram, gap scatter and one band thumbnail per candidate or validated material
    assert len(page.images) == 4
    for src in page.images:
        assert src.startswith(PNG)
        assert base64.b64decode(src[len(PNG) :])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in path.read_text() and "https://" not in path.read_text()


def test_thumbnails_draw_the_stored_predictions(db, campaign, bi2se3, silicon, monkeypatch):
    """The campaign's latest stored Hamiltonians are drawn; nothing is predicted again.

    A resubmission by another predictor (the DFT fixtures stand in for its Hamiltonians)
    stored later predictions than the model's of the fixture; the thumbnails must show
    those, whatever ``settings.checkpoint`` says.
    """
    import socscreen.analysis.validation_plots as plots
    import socscreen.model.inference as inference
    import socscreen.model.predictors as predictors

    other = {"bi2se3": bi2se3, "si": silicon}
    _store_predictions(db, "demo", other, uuid="predict-again", completed_at="2026-12-07")

    def no_prediction(*args, **kwargs):
        raise AssertionError("the report predicted again")

    monkeypatch.setattr(inference, "predict", no_prediction)
    monkeypatch.setattr(predictors, "predict_hamiltonian", no_prediction)
    drawn = {}
    plot = plots.plot_band_comparison

    def record(bands, dft, title):
        drawn[title] = bands
        return plot(bands, dft, title=title)

    monkeypatch.setattr(plots, "plot_band_comparison", record)
    job_store = db.job_store()
    job_store.connect()
    try:
        figures = band_thumbnails(load_report_data(db, "demo"), job_store)
    finally:
        job_store.close()
    assert sorted(figures) == ["bi2se3", "si"]
    for material_id, ham in other.items():
        (bands,) = [b for title, b in drawn.items() if f"({material_id})" in title]
        np.testing.assert_allclose(bands.energies, band_structure(ham).energies, atol=1e-9)


def test_report_lists_every_result_and_failure_in_collapsible_sections(db, campaign):
    data = load_report_data(db, "demo")
    error = ErrorDocument(stage="ingest", reason="unreadable CIF: line 7")
    data.results.append(MaterialResultDocument(material_id="bad", campaign="demo", error=error))
    page_text = render_report(data)
    page = Page()
    page.feed(page_text)
    assert {"All results (2)", "Failures (1)"} <= set(page.headings)
    assert page_text.count("<details") == 2 and page_text.count("<summary>") == 2
    assert ["bad", "", "ingest", "unreadable CIF: line 7"] in page.rows
    si = next(r for r in page.rows if r and r[0] == "si" and len(r) == 8)  # all results
    assert si[3] == "trivial insulator" and float(si[4]) > 0.5
    assert si[7].startswith("not a candidate: trivial insulator, Z2 = (0;000) by parity")
    bi2se3 = next(r for r in page.rows if r and r[0] == "bi2se3" and len(r) == 8)
    assert bi2se3[7] == judge_result(data.results_by_id["bi2se3"], 0.01).reason


def test_report_without_validations_or_thumbnails(db, campaign):
    data = load_report_data(db, "demo")
    data.validations = []
    page = Page()
    page.feed(render_report(data))
    assert page.images == [] and "Validation against DFT" not in page.headings


def test_report_command_and_unknown_campaign(db, campaign, tmp_path):
    uri = f"{db.uri}/{db.database}"
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", "demo", "-o", str(out), "--thumbnails", "0",
                                      "--db-uri", uri])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.is_file() and str(out) in result.output.replace("\n", "")
    missing = CliRunner().invoke(app, ["report", "nope", "-o", str(out), "--db-uri", uri])
    assert missing.exit_code == 1 and "no campaign 'nope'" in missing.output


@pytest.mark.skipif(
    not any(map(shutil.which, PDF_BROWSERS)), reason="no headless Chromium/Chrome to print PDF"
)
def test_pdf_output(db, campaign, tmp_path):
    path = write_report(db, "demo", tmp_path / "report.pdf", thumbnails=0)
    assert path == (tmp_path / "report.pdf").resolve()
    assert path.read_bytes()[:5] == b"%PDF-" and (tmp_path / "report.html").is_file()

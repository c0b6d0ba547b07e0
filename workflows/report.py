"""Campaign report: one self-contained HTML page (optionally PDF) of results and validations.

:func:`write_report` gathers a campaign's summary, results, candidates and validations
from the stores (:func:`.report_data.load_report_data`), computes the agreement
statistics of the validations (:func:`.report_data.validation_statistics`), draws the
figures (matplotlib PNGs embedded as base64) and writes one HTML file with no external
resources (:func:`.report_html.render_report`):

* campaign summary (counts, Z2 classes, model versions);
* candidates table (id, formula, Z2, class, gap, confidence, flags, validation outcome);
* every result and every failure, each in a collapsible section: class, gap, flags and
  the verdict's one-line reason; the stage and reason of each failure; what each flag
  means;
* validation agreement: Z2 agreement rate, band-MAE statistics and distribution,
  predicted vs DFT gap scatter, one row per validation;
* band thumbnails of candidates and validated materials: predicted bands (the Hamiltonian
  the campaign stored, whichever predictor made it) over the DFT bands of the validation
  (read from its training-data file) where one exists.

A ``.pdf`` output is printed from the HTML by a headless Chromium/Chrome when one is
installed (:func:`.report_html.html_to_pdf`). The gathering is :mod:`.report_data`, the
page :mod:`.report_html`; this module joins them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from socscreen.stores.config import DatabaseConfig
from socscreen.workflows.report_data import band_thumbnails, load_report_data
from socscreen.workflows.report_html import html_to_pdf, render_report

__all__ = ["write_report"]


def write_report(
    db: DatabaseConfig,
    campaign: str,
    output: str | os.PathLike,
    thumbnails: int = 24,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the report of ``campaign`` as HTML (or PDF for a ``.pdf`` output).

    Parameters
    ----------
    db
        Database of the campaign.
    campaign
        Campaign name.
    output
        ``.html`` file, or ``.pdf`` (printed from the HTML, written beside it).
    thumbnails
        At most this many band thumbnails (0: none), drawn from the stored predictions.
    progress
        Called with each material id while thumbnails are drawn.

    Raises
    ------
    ValueError
        If the campaign does not exist.
    """
    output = Path(output)
    data = load_report_data(db, campaign)
    figures = {}
    if thumbnails > 0:
        with db.connected_job_store() as job_store:
            figures = band_thumbnails(data, job_store, thumbnails, progress)
    page = render_report(data, figures)
    html_path = output.with_suffix(".html")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(page, encoding="utf-8")
    if output.suffix.lower() == ".pdf":
        return html_to_pdf(html_path, output)
    return html_path

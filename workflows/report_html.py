"""The campaign report as one self-contained HTML page, and its PDF: see :mod:`.report`.

:func:`render_report` writes the sections (summary, candidates, results, failures,
validation agreement, band thumbnails) with inline CSS and base64 PNG figures;
:func:`html_to_pdf` prints the page with a headless Chromium/Chrome.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from socscreen import __version__
from socscreen.stores.schemas.campaign import MaterialResultDocument, VerdictDocument, z2_label
from socscreen.stores.verdicts import explain_flag, judge_result, signed_gap
from socscreen.workflows.report_data import ReportData, ValidationStatistics, validation_statistics

__all__ = ["PDF_BROWSERS", "html_to_pdf", "render_report"]

#: Browsers that can print a page to PDF headless, in order of preference.
PDF_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome", "chrome-headless-shell")


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1150px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; } h2 { border-bottom: 1px solid #ccc;
       padding-bottom: 0.2em; margin-top: 1.6em; font-size: 1.25em; }
.meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.88em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f4f7; } tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; font-weight: 600; } .bad { color: #c62828; font-weight: 600; }
.muted { color: #888; }
details { margin-top: 1.6em; } summary { cursor: pointer; }
summary h2 { display: inline; border: none; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 0.6em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 0.9em; min-width: 8em; }
.card .value { font-size: 1.4em; font-weight: 600; } .card .label { color: #666; font-size: 0.8em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.thumbs { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 0.8em; }
.thumbs figure { margin: 0; border: 1px solid #eee; padding: 4px; }
.thumbs img { width: 100%; } figcaption { font-size: 0.8em; color: #555; }
@page { size: A4 landscape; margin: 12mm; }
@media print { body { max-width: none; margin: 0; font-size: 10pt; }
               figure, tr, .card { break-inside: avoid; } h2 { break-after: avoid; } }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _z2(indices: list[int] | None) -> str:
    return z2_label(indices) or "—"


def _agree(value: bool | None) -> str:
    if value is None:
        return '<span class="muted">n/a</span>'
    return '<span class="ok">yes</span>' if value else '<span class="bad">no</span>'


def _img(png: bytes, alt: str, width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}"{size}>'


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    thead = f"<thead><tr>{head}</tr></thead>" if headers else ""
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _cards(items: list[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="value">{_e(v)}</div>'
            f'<div class="label">{_e(k)}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def _summary_section(data: ReportData) -> str:
    s = data.summary
    versions = sorted({r.model_version for r in data.results if r.model_version})
    cards = _cards(
        [
            ("structures", str(s.n_structures)),
            ("results", str(len(data.results))),
            ("failed", str(sum(r.error is not None for r in data.results))),
            (
                "strong / weak / QSH (2D) / trivial",
                "/".join(
                    str(sum(r.z2 is not None and r.z2.classification == c for r in data.results))
                    for c in ("strong", "weak", "qsh", "trivial")
                ),
            ),  # fmt: skip
            ("candidates", str(len(data.candidates))),
            ("validated", str(len(data.validations))),
        ]
    )
    rows = [
        ["sources", "<br>".join(_e(src.path) for src in s.sources) or "—"],
        ["read / filtered / duplicates / ingestion errors",
         f"{s.n_read} / {s.n_filtered} / {s.n_duplicates} / {s.n_ingest_errors}"],
        ["model version(s)", _e(", ".join(versions) or "—")],
        ["Z2 route / candidate gap threshold",
         f"{_e(s.settings.z2_route)} / {s.settings.min_gap:g} eV"],
    ]  # fmt: skip
    return f"<h2>Campaign summary</h2>{cards}{_table([], rows)}"


def _verdict(data: ReportData, result: MaterialResultDocument) -> VerdictDocument:
    """Return a result's stored verdict (judged now for results stored before verdicts)."""
    return result.verdict or judge_result(result, data.summary.settings.min_gap)


def _class(data: ReportData, result: MaterialResultDocument | None) -> str:
    if result is None:
        return ""
    return _verdict(data, result).material_class.replace("_", " ")


def _candidates_section(data: ReportData) -> str:
    if not data.candidates:
        return "<h2>Candidates</h2><p>No topological candidates in this campaign.</p>"
    results = data.results_by_id
    validations = {v.material_id: v for v in data.validations}
    rows = []
    for c in data.candidates:
        result = results.get(c.material_id)
        v = validations.get(c.material_id)
        rows.append(
            [
                _e(c.material_id),
                _e(c.reduced_formula or c.formula),
                _z2(c.z2.z2 if c.z2 else None),
                _e(_class(data, result)),
                _num(c.gap_eV),
                _num(result.confidence if result else None, 2),
                _e(", ".join(result.flags) if result else ""),
                _agree(v.z2_agree) if v else '<span class="muted">not run</span>',
                _num(v.band_comparison.band_mae) if v else "",
            ]
        )
    headers = ["id", "formula", "Z2", "class", "gap (eV)", "confidence", "flags",
               "DFT Z2 agrees", "band MAE (eV)"]  # fmt: skip
    return f"<h2>Candidates ({len(rows)})</h2>" + _table(headers, rows, numeric={4, 5, 8})


def _results_section(data: ReportData) -> str:
    """Every result without an error (collapsible): class, gap, flags and the reason."""
    done = [r for r in data.results if r.error is None]
    rows = [
        [
            _e(r.material_id),
            _e(r.reduced_formula or r.formula),
            _z2(r.z2.z2 if r.z2 else None),
            _e(_class(data, r)),
            f'<span title="{_e(r.gaps.sampling if r.gaps else "")}">{_num(signed_gap(r))}</span>',
            _num(r.confidence, 2),
            _e(", ".join(r.flags)),
            _e(_verdict(data, r).reason),
        ]
        for r in done
    ]
    headers = ["id", "formula", "Z2", "class", "gap (eV)", "confidence", "flags", "decision"]
    flags = sorted({f for r in data.results for f in r.flags})
    legend = "".join(f"<li><code>{_e(f)}</code>: {_e(explain_flag(f))}</li>" for f in flags)
    note = (
        '<p class="meta">gap = CBM − VBM with spin-orbit coupling (eV; negative: the bands '
        "overlap, a semimetal; empty: a metal), over a Γ-centred grid, the band path and "
        "refined extrema (hover a gap for its k sampling).</p>"
    )
    return (
        f"<details open><summary><h2>All results ({len(done)})</h2></summary>"
        + _table(headers, rows, numeric={4, 5})
        + note
        + (f"<p>Flags:</p><ul>{legend}</ul>" if legend else "")
        + "</details>"
    )


def _failures_section(data: ReportData) -> str:
    """Every result with an error (collapsible): the stage that failed and why."""
    failed = [r for r in data.results if r.error is not None]
    rows = [
        [_e(r.material_id), _e(r.reduced_formula or r.formula), _e(r.error.stage),
         _e(r.error.reason)]
        for r in failed
    ]  # fmt: skip
    body = _table(["id", "formula", "stage", "reason"], rows) if rows else "<p>None.</p>"
    return f"<details><summary><h2>Failures ({len(failed)})</h2></summary>{body}</details>"


def _validation_section(data: ReportData, stats: ValidationStatistics) -> str:
    from socscreen.analysis.validation_plots import (
        plot_error_histogram,
        plot_gap_scatter,
        png_bytes,
    )

    if not data.validations:
        return (
            "<h2>Validation</h2><p>No validations yet: select flagged results with "
            "<code>socscreen rerun CAMPAIGN</code> and run the DFT workers.</p>"
        )
    rate = stats.z2_agreement_rate
    mae = np.asarray(stats.band_mae)
    cards = _cards(
        [
            ("validations", str(stats.n_validations)),
            ("Z2 agreement", f"{stats.n_z2_agree}/{stats.n_z2_compared}"
             + (f" ({100 * rate:.0f} %)" if rate is not None else "")),
            ("median band MAE", f"{np.median(mae) * 1e3:.0f} meV"),
            ("mean band MAE", f"{mae.mean() * 1e3:.0f} meV"),
            ("gap MAE", f"{stats.gap_mae:.3f} eV" if stats.gap_mae is not None else "—"),
        ]
    )  # fmt: skip
    figures = [_img(png_bytes(plot_error_histogram(stats.band_mae)), "band MAE histogram", 380)]
    results = data.results_by_id

    def formula(material_id: str) -> str:
        result = results.get(material_id)
        return (result.reduced_formula if result else None) or material_id

    if stats.gap_pairs:
        ids, predicted, dft = zip(*stats.gap_pairs, strict=True)
        labels = [formula(i) for i in ids]
        figures.append(
            _img(png_bytes(plot_gap_scatter(predicted, dft, labels)), "gap scatter", 380)
        )
    rows = []
    for v in data.validations:
        b = v.band_comparison
        rows.append(
            [
                _e(v.material_id),
                _e(formula(v.material_id)),
                _e(v.route),
                _e(", ".join(v.reasons)),
                _z2(v.z2_predicted),
                _z2(v.z2_dft),
                _agree(v.z2_agree),
                _num(b.band_mae),
                _num(v.band_comparison_path.band_mae if v.band_comparison_path else None),
                _num(b.band_max_error),
                _num(v.gap_predicted),
                _num(v.gap_dft),
                _num(v.spin_splitting_predicted),
                _num(v.spin_splitting_dft),
                _e(", ".join(v.dft_flags)),
            ]
        )
    headers = ["id", "formula", "route", "selected as", "Z2 pred.", "Z2 DFT", "agree",
               "band MAE grid (eV)", "band MAE path (eV)", "max error (eV)", "gap pred. (eV)",
               "gap DFT (eV)", "splitting pred. (eV)", "splitting DFT (eV)",
               "DFT flags"]  # fmt: skip
    window = data.validations[0].band_comparison.window
    note = (
        f'<p class="meta">Band errors over the bands within ±{window:g} eV of the DFT Fermi '
        "level, energies aligned at the valence-band maximum; grid = the DFT's full-zone "
        "k-grid plus the TRIM, path = the high-symmetry path.</p>"
    )
    return (
        f"<h2>Validation against DFT</h2>{cards}"
        f'<div class="figures">{"".join(figures)}</div>'
        + _table(headers, rows, numeric=set(range(7, 14)))
        + note
    )


def _thumbnail_section(data: ReportData, thumbnails: dict[str, bytes]) -> str:
    if not thumbnails:
        return ""
    results = data.results_by_id
    validated = {v.material_id for v in data.validations if v.dft_hamiltonian_path}
    figures = []
    for material_id, png in thumbnails.items():
        result = results[material_id]
        caption = f"{result.reduced_formula} · {material_id}" + (
            " · dashed: predicted, solid: DFT" if material_id in validated else " · predicted"
        )
        figures.append(
            f"<figure>{_img(png, f'bands of {material_id}')}"
            f"<figcaption>{_e(caption)}</figcaption></figure>"
        )
    return f'<h2>Band structures</h2><div class="thumbs">{"".join(figures)}</div>'


def render_report(data: ReportData, thumbnails: dict[str, bytes] | None = None) -> str:
    """Render the report as one self-contained HTML document."""
    stats = validation_statistics(data.validations)
    campaign = data.summary.campaign
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>socscreen report: {_e(campaign)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Campaign {_e(campaign)}</h1>"
        f'<p class="meta">socscreen {_e(__version__)} · generated {created}</p>'
        + _summary_section(data)
        + _candidates_section(data)
        + _results_section(data)
        + _failures_section(data)
        + _validation_section(data, stats)
        + _thumbnail_section(data, thumbnails or {})
        + "</body></html>"
    )


def html_to_pdf(html_path: str | os.PathLike, pdf_path: str | os.PathLike) -> Path:
    """Print an HTML file to PDF with a headless Chromium/Chrome.

    Raises
    ------
    RuntimeError
        If no such browser is installed or printing fails.
    """
    browser = next((b for b in map(shutil.which, PDF_BROWSERS) if b), None)
    if browser is None:
        raise RuntimeError(
            f"PDF output needs one of {', '.join(PDF_BROWSERS)} on PATH; write .html instead"
        )
    pdf_path = Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}",
             Path(html_path).resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    if done.returncode != 0 or not pdf_path.is_file():
        raise RuntimeError(f"{browser} could not print the report: {done.stderr.strip()[-500:]}")
    return pdf_path

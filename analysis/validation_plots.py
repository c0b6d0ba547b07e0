"""Figures of validation reruns: predicted vs DFT bands, gaps and band errors (PNG).

* :func:`plot_band_comparison`: predicted and DFT bands along the same path, each
  relative to its own valence-band maximum (the comparison's alignment);
* :func:`plot_gap_scatter`: predicted against DFT fundamental gaps;
* :func:`plot_error_histogram`: distribution of band MAEs.

Like :mod:`socscreen.analysis.plots`, every function draws on an Agg canvas without
pyplot state, returns the figure and writes a PNG when given a path; :func:`png_bytes`
renders a figure for embedding.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import MaxNLocator

from socscreen.analysis.plots import _figure, _label_axis, _save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from socscreen.analysis.bands import BandStructure

__all__ = ["plot_band_comparison", "plot_error_histogram", "plot_gap_scatter", "png_bytes"]

PREDICTED_COLOUR = "tab:blue"
DFT_COLOUR = "0.15"


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """Render a figure as PNG bytes (tight bounding box)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def plot_band_comparison(
    predicted: BandStructure,
    dft: BandStructure | None = None,
    path: str | os.PathLike | None = None,
    window_eV: tuple[float, float] = (-2.5, 2.5),
    title: str | None = None,
    size: tuple[float, float] = (4.4, 3.0),
) -> Figure:
    """Predicted (and DFT) bands along one path, each relative to its own VBM.

    Parameters
    ----------
    predicted
        Predicted bands (:func:`~socscreen.analysis.bands.band_structure`).
    dft
        DFT bands on the same path, if validated.
    path
        PNG to write.
    window_eV
        Energy window around the VBM, eV.
    title
        Axes title.
    size
        Figure size, inches (thumbnails by default).

    Raises
    ------
    ValueError
        If the two band structures are not on the same k-points.
    """
    if dft is not None and not np.allclose(predicted.path.kpoints, dft.path.kpoints):
        raise ValueError("predicted and DFT bands must be on the same k-path")
    fig = _figure(*size)
    ax = fig.add_subplot()
    x = predicted.path.distances
    dft_lines = []
    if dft is not None:
        dft_lines = ax.plot(x, dft.energies - dft.reference_eV, color=DFT_COLOUR, lw=1.1)
    predicted_lines = ax.plot(
        x,
        predicted.energies - predicted.reference_eV,
        color=PREDICTED_COLOUR,
        lw=0.9,
        ls="--" if dft is not None else "-",
    )
    ax.axhline(0.0, color="tab:red", lw=0.5, ls=":")
    _label_axis(ax, predicted.path)  # subscripts, close points merged
    ax.set_ylim(*window_eV)
    ax.set_ylabel("E - E$_{VBM}$ (eV)", fontsize=8)
    ax.tick_params(labelsize=7)
    if dft_lines:
        ax.legend([dft_lines[0], predicted_lines[0]], ["DFT", "predicted"], fontsize=6,
                  loc="upper right", framealpha=0.8)  # fmt: skip
    if title:
        ax.set_title(title, fontsize=8)
    return _save(fig, path)


def plot_gap_scatter(
    predicted: Sequence[float],
    dft: Sequence[float],
    labels: Sequence[str] = (),
    path: str | os.PathLike | None = None,
) -> Figure:
    """Scatter of predicted against DFT fundamental gaps (eV) with the diagonal.

    Parameters
    ----------
    predicted, dft
        Gaps of the same materials, eV.
    labels
        Point labels (formulas), optional.
    path
        PNG to write.

    Raises
    ------
    ValueError
        If the sequences differ in length or are empty.
    """
    if len(predicted) != len(dft) or not len(predicted):
        raise ValueError("need the same, non-zero number of predicted and DFT gaps")
    fig = _figure(4.0, 3.6)
    ax = fig.add_subplot()
    top = max(max(predicted), max(dft), 0.1) * 1.1
    ax.plot([0, top], [0, top], color="0.6", lw=0.8, ls="--", zorder=0)
    ax.scatter(dft, predicted, s=28, color=PREDICTED_COLOUR, edgecolor="k", lw=0.5)
    for x, y, label in zip(dft, predicted, labels, strict=False):
        ax.annotate(label, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
    ax.set_xlim(-0.02 * top, top)
    ax.set_ylim(-0.02 * top, top)
    ax.set_xlabel("DFT gap (eV)")
    ax.set_ylabel("predicted gap (eV)")
    ax.set_title("Fundamental gap with SOC", fontsize=9)
    return _save(fig, path)


def plot_error_histogram(
    errors: Sequence[float],
    path: str | os.PathLike | None = None,
    xlabel: str = "band MAE near E$_F$ (eV)",
) -> Figure:
    """Histogram of per-material band errors (eV) with the median marked.

    Raises
    ------
    ValueError
        If ``errors`` is empty.
    """
    if not len(errors):
        raise ValueError("need at least one error value")
    values = np.asarray(errors, dtype=float)
    fig = _figure(4.0, 3.6)
    ax = fig.add_subplot()
    bins = max(5, min(30, len(values)))
    ax.hist(values, bins=bins, range=(0.0, max(values.max() * 1.05, 1e-3)),
            color=PREDICTED_COLOUR, edgecolor="k", lw=0.5)  # fmt: skip
    median = float(np.median(values))
    ax.axvline(median, color="tab:red", lw=1.0, ls="--")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("materials")
    ax.set_title(f"Band error per material (median {median:.3f} eV, dashed)", fontsize=9)
    return _save(fig, path)

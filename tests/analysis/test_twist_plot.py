"""The twist-angle figures (analysis.plots): one panel per known quantity, sources compared."""

from __future__ import annotations

import numpy as np

from socscreen.analysis.plots import TwistSeries, plot_twist_comparison, plot_twist_sweep

ANGLES = np.array([0.0, 21.79, 60.0])  # degrees
GAPS = np.array([1.2, np.nan, 1.25])  # eV; NaN: no result yet


def test_the_gap_is_always_drawn_and_unknown_quantities_get_no_panel(tmp_path):
    figure = plot_twist_sweep(ANGLES, GAPS, path=tmp_path / "gap.png")
    assert [ax.get_ylabel() for ax in figure.axes] == ["gap with SOC (eV)"]
    assert (tmp_path / "gap.png").read_bytes()[:4] == b"\x89PNG"
    none_known = np.full(3, np.nan)
    figure = plot_twist_sweep(ANGLES, GAPS, none_known, curvatures_A2=none_known)
    assert len(figure.axes) == 1


def test_splitting_gap_and_curvature_share_the_angle_axis():
    figure = plot_twist_sweep(
        ANGLES, GAPS, np.array([0.45, 0.43, np.nan]), curvatures_A2=np.array([-12.5, 3.0, 1.0])
    )
    labels = [ax.get_ylabel() for ax in figure.axes]
    assert labels == [
        "VB spin splitting at K (eV)",
        "gap with SOC (eV)",
        "Berry curvature at K (A^2)",
    ]
    splitting = figure.axes[0].lines[0]
    np.testing.assert_allclose(splitting.get_xdata(), [0.0, 21.79])  # the NaN is left out
    assert figure.axes[-1].get_xlabel() == "twist angle (degrees)"


def test_sources_are_compared_in_one_figure_with_a_legend(tmp_path):
    gpaw = TwistSeries("GPAW", ANGLES, [0.92, 0.97, 0.96], [0.36, 0.35, 0.36], [41.4, 8.1, -7.4])
    model = TwistSeries("model", ANGLES[[0, 2]], [0.74, 0.93], [0.46, 0.43])  # no curvature
    figure = plot_twist_comparison([gpaw, model], path=tmp_path / "twist.png", title="MoSe2/WSe2")
    assert len(figure.axes) == 3 and (tmp_path / "twist.png").exists()
    splitting, gap, curvature = figure.axes
    assert [line.get_label() for line in gap.lines] == ["GPAW", "model"]
    assert [text.get_text() for text in splitting.get_legend().get_texts()] == ["GPAW", "model"]
    np.testing.assert_allclose(gap.lines[1].get_xdata(), [0.0, 60.0])
    np.testing.assert_allclose(gap.lines[1].get_ydata(), [0.74, 0.93])
    assert len(curvature.lines) == 1  # the model has no curvature: nothing drawn for it
    assert gap.lines[0].get_color() != gap.lines[1].get_color()

"""The twist-angle figure (analysis.plots.plot_twist_sweep): one panel per known quantity."""

from __future__ import annotations

import numpy as np

from socscreen.analysis.plots import plot_twist_sweep

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

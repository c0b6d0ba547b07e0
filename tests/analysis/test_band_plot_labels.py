"""Band figures of screening results: readable point labels and an honest colour scale."""

from __future__ import annotations

from socscreen.analysis.bands import band_structure
from socscreen.analysis.plots import MIN_SPLITTING_SCALE_MEV, plot_bands


def test_close_points_share_a_tick_and_subscripts_are_typeset(bi2se3):
    bands = band_structure(bi2se3)  # rhombohedral path: ... F P_1 Z|L P
    ax = plot_bands(bands).axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["Γ", "L", "$B_1$|B", "Z", "Γ", "X|Q", "F,$P_1$", "Z|L,P"]
    assert len(ax.lines) - 1 == len(bands.path.labels)  # a grid line per point, plus E = 0


def test_kramers_degenerate_bands_do_not_stretch_the_colour_scale(bi2se3):
    ax = plot_bands(band_structure(bi2se3)).axes[0]  # centrosymmetric: micro-eV noise
    assert ax.collections[0].norm.vmax == MIN_SPLITTING_SCALE_MEV

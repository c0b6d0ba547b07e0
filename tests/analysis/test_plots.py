"""PNG figures are written and have content."""

from __future__ import annotations

import matplotlib.image
import numpy as np
from chern_plane_helpers import chern_planes

from socscreen.analysis.bands import band_structure
from socscreen.analysis.berry import berry_curvature
from socscreen.analysis.bloch import LowdinBloch
from socscreen.analysis.models import haldane, kane_mele
from socscreen.analysis.plots import plot_bands, plot_berry_path, plot_valley_map, plot_wcc
from socscreen.analysis.wilson import plane_wcc, wilson_z2


def _image(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # not a blank canvas
    return image


def test_band_plot_with_spin_splitting_colour(tmp_path):
    bands = band_structure(kane_mele(lam_v=0.1, lam_r=0.05))
    fig = plot_bands(bands, tmp_path / "bands.png", window_eV=(-4, 4), title="Kane-Mele")
    _image(tmp_path / "bands.png")
    colours = fig.axes[0].collections[0].get_array()
    assert np.nanmax(colours) > 100  # meV: Rashba splitting shows up in the colours


def test_wcc_plot(tmp_path):
    result = wilson_z2(LowdinBloch(kane_mele()), 2)
    fig = plot_wcc(result.planes, tmp_path / "wcc.png")
    _image(tmp_path / "wcc.png")
    assert "Z2 = 1" in fig.axes[0].get_title()
    tb = haldane()
    chern = {"haldane": plane_wcc(tb, 1, chern_planes(tb.periodic)["2d"])}
    assert "C = 1" in plot_wcc(chern, tmp_path / "chern.png").axes[0].get_title()


def test_berry_curvature_path_and_valley_map(tmp_path):
    tb = haldane()
    bands = band_structure(kane_mele())  # same honeycomb lattice and path
    omega = berry_curvature(tb, bands.path.kpoints, n_occ=1)
    plot_berry_path(bands.path, omega, tmp_path / "berry.png")
    _image(tmp_path / "berry.png")
    plot_valley_map(haldane(t2=0.0, mass=0.2), 1, tmp_path / "valley.png", n_k=40)
    _image(tmp_path / "valley.png")

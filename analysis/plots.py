"""PNG figures (matplotlib, Agg canvas, no pyplot state).

* :func:`plot_bands`: bands along the high-symmetry path, each spinor band coloured by
  the spin splitting of its Kramers pair (meV; zero everywhere with inversion symmetry);
* :func:`plot_wcc`: Wilson-loop WCC flow of every plane with the largest-gap centres;
* :func:`plot_berry_path`: Berry curvature along a path;
* :func:`plot_valley_map`: Berry curvature over a 2D Brillouin zone with K and K' marked
  (the valley-polarisation figure);
* :func:`plot_twist_sweep`: spin splitting at K, gap and Berry curvature at K of twisted
  bilayers against the twist angle; :func:`plot_twist_comparison` the same for several
  sources (GPAW and predictors) in one figure;
* :func:`result_figures`: the band and Wilson-loop figures of one campaign result, as
  ``socscreen show ID -o PATH`` writes them next to ``PATH`` (``<stem>_bands.png``;
  ``<stem>_wcc.png`` with the Z2 index of every plane, not for metals, whose occupied
  bands are not separated from the empty ones). Whether the result is a metal is the
  stored result's decision: the gap is not taken again.

Every function returns the ``matplotlib.figure.Figure`` and writes a PNG when given a path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize, SymLogNorm
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from socscreen.analysis.bands import BandStructure
    from socscreen.analysis.kpath import KPath
    from socscreen.analysis.tb import OrthogonalTB
    from socscreen.analysis.wilson import PlaneWCC
    from socscreen.hamiltonian import Hamiltonian

__all__ = [
    "TwistSeries",
    "plot_bands",
    "plot_berry_path",
    "plot_twist_comparison",
    "plot_twist_sweep",
    "plot_valley_map",
    "plot_wcc",
    "result_figures",
]

#: Smallest top of the spin-splitting colour scale (meV): Kramers-degenerate bands of a
#: centrosymmetric crystal (numerical splittings of micro-eV) stay at the bottom colour.
MIN_SPLITTING_SCALE_MEV = 1.0


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike | None) -> Figure:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", bbox_inches="tight")
    return fig


def _tick_label(name: str) -> str:
    """Set subscripts of pymatgen point names as mathtext: ``B_1|B`` to ``$B_1$|B``."""
    return "|".join(f"${part}$" if "_" in part else part for part in name.split("|"))


def _label_axis(ax: object, path: KPath, min_gap: float = 0.05) -> None:
    """Label the high-symmetry points; points closer than ``min_gap`` of the axis share a tick."""
    length = max(path.distances[-1] - path.distances[0], 1e-12)
    ticks: list[float] = []
    names: list[str] = []
    for d, name in path.labels:
        if ticks and d - ticks[-1] < min_gap * length:
            if d > ticks[-1]:  # a separate point, not the same tick of a jump
                names[-1] += f",{_tick_label(name)}"
            continue
        ticks.append(d)
        names.append(_tick_label(name))
    ax.set_xticks(ticks, names)
    for d, _ in path.labels:
        ax.axvline(d, color="0.7", lw=0.6, zorder=0)
    ax.set_xlim(path.distances[0], path.distances[-1])


def plot_bands(
    bands: BandStructure,
    path: str | os.PathLike | None = None,
    window_eV: tuple[float, float] = (-3.0, 3.0),
    title: str | None = None,
) -> Figure:
    """Band structure relative to the VBM, coloured by Kramers-pair spin splitting.

    The colour scale runs from 0 to the largest splitting of the bands in the window,
    at least :data:`MIN_SPLITTING_SCALE_MEV`.

    Parameters
    ----------
    bands
        Result of :func:`~socscreen.analysis.bands.band_structure`.
    path
        PNG to write.
    window_eV
        Energy window around the VBM, eV.
    title
        Axes title.
    """
    fig = _figure(6.0, 4.5)
    ax = fig.add_subplot()
    e = bands.energies - bands.reference_eV
    pairs = e[:, 1::2] - e[:, 0::2]
    splitting = np.repeat(pairs, 2, axis=1)[:, : e.shape[1]] * 1e3  # meV, per band
    shown = [n for n in range(e.shape[1])
             if e[:, n].max() >= window_eV[0] and e[:, n].min() <= window_eV[1]]  # fmt: skip
    top = float(splitting[:, shown].max()) if shown else 0.0
    norm = Normalize(0.0, max(top, MIN_SPLITTING_SCALE_MEV))
    x = bands.path.distances
    for n in shown:
        pts = np.stack([x, e[:, n]], axis=1)
        segments = np.stack([pts[:-1], pts[1:]], axis=1)
        lines = LineCollection(segments, cmap="viridis", norm=norm, linewidths=1.2)
        lines.set_array(0.5 * (splitting[:-1, n] + splitting[1:, n]))
        ax.add_collection(lines)
    ax.axhline(0.0, color="k", lw=0.6, ls="--")
    _label_axis(ax, bands.path)
    ax.set_ylim(*window_eV)
    ax.set_ylabel("E - E_VBM (eV)")
    fig.colorbar(ScalarMappable(norm, "viridis"), ax=ax, label="spin splitting (meV)")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_wcc(
    planes: dict[str, PlaneWCC],
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Figure:
    """Hybrid Wannier charge centre flow of each plane, with its Z2 (or Chern) index."""
    fig = _figure(3.0 * len(planes), 3.2)
    for i, (name, plane) in enumerate(planes.items()):
        ax = fig.add_subplot(1, len(planes), i + 1)
        t = np.repeat(plane.t, plane.wcc.shape[1])
        ax.plot(t, plane.wcc.ravel(), ".", ms=2.5, color="C0")
        ax.plot(plane.t, plane.gap_pos, "D", ms=3, color="C3", mfc="none")
        index = f"C = {plane.chern()}" if plane.plane.t_max == 1.0 else f"Z2 = {plane.z2()}"
        ax.set_title(f"{name}: {index}", fontsize=9)
        ax.set_xlim(0, plane.plane.t_max)
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"k{plane.plane.pump_axis + 1}")
        if i == 0:
            ax.set_ylabel(f"WCC along a{plane.plane.loop_axis + 1}")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_berry_path(
    kpath: KPath,
    omega: np.ndarray,
    path: str | os.PathLike | None = None,
    component: int = 2,
    title: str | None = None,
) -> Figure:
    """Berry curvature (Angstrom^2) of the occupied states along a band path.

    Parameters
    ----------
    kpath
        The path (its k-points were used for ``omega``).
    omega
        Berry curvature ``[n_k, 3]``, Angstrom^2.
    component
        Cartesian component to draw (2 = z).
    """
    fig = _figure(6.0, 3.2)
    ax = fig.add_subplot()
    ax.plot(kpath.distances, omega[:, component], color="C1")
    ax.axhline(0.0, color="k", lw=0.5)
    _label_axis(ax, kpath)
    ax.set_ylabel(f"Omega_{'xyz'[component]} (A^2)")
    if np.abs(omega[:, component]).max() > 100 * np.median(np.abs(omega[:, component]) + 1e-12):
        ax.set_yscale("symlog", linthresh=1.0)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_valley_map(
    tb: OrthogonalTB,
    n_occ: int,
    path: str | os.PathLike | None = None,
    n_k: int = 90,
    title: str | None = None,
) -> Figure:
    """Occupied Berry curvature over a 2D Brillouin zone, K and K' marked."""
    from socscreen.analysis.berry import berry_curvature, valley_points

    axes = np.flatnonzero(tb.periodic)
    kv, kvp = valley_points(tb)
    s = np.linspace(-1.0, 1.0, n_k, endpoint=False)
    grid = np.zeros((n_k * n_k, 3))
    grid[:, axes[0]] = np.repeat(s, n_k)
    grid[:, axes[1]] = np.tile(s, n_k)
    recip = 2 * np.pi * np.linalg.inv(tb.lattice).T
    cart = grid @ recip
    normal = np.cross(recip[axes[0]], recip[axes[1]])
    omega = berry_curvature(tb, grid, n_occ=n_occ) @ (normal / np.linalg.norm(normal))
    fig = _figure(5.0, 4.2)
    ax = fig.add_subplot()
    u = recip[axes[0]] / np.linalg.norm(recip[axes[0]])
    v = np.cross(normal / np.linalg.norm(normal), u)
    scale = max(float(np.abs(omega).max()), 1e-12)
    image = ax.tripcolor(
        cart @ u,
        cart @ v,
        omega,
        cmap="RdBu_r",
        norm=SymLogNorm(linthresh=scale / 100, vmin=-scale, vmax=scale),
        shading="gouraud",
    )
    for point, name in ((kv, "K"), (kvp, "K'")):
        c = point @ recip
        ax.plot(c @ u, c @ v, "k+", ms=8)
        ax.annotate(name, (c @ u, c @ v), textcoords="offset points", xytext=(4, 4))
    ax.set_aspect("equal")
    ax.set_xlabel("k (1/A)")
    fig.colorbar(image, ax=ax, label="Omega_z (A^2)")
    if title:
        ax.set_title(title)
    return _save(fig, path)


@dataclass(frozen=True)
class TwistSeries:
    """One source's values at each twist angle, for :func:`plot_twist_comparison`.

    ``NaN`` marks a cell without the quantity; ``None`` a quantity the source lacks.
    """

    label: str
    angles_deg: np.ndarray
    gaps_eV: np.ndarray
    splittings_eV: np.ndarray | None = None
    curvatures_A2: np.ndarray | None = None


def plot_twist_sweep(
    angles_deg: np.ndarray,
    gaps_eV: np.ndarray,
    splittings_eV: np.ndarray | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    curvatures_A2: np.ndarray | None = None,
) -> Figure:
    """Spin splitting at K and gap (eV), Berry curvature at K (Å²) against twist angle (°).

    ``NaN`` marks a cell without the quantity; a quantity that is ``None`` or all ``NaN``
    gets no panel (the gap is always drawn).
    """
    series = TwistSeries("", angles_deg, gaps_eV, splittings_eV, curvatures_A2)
    return plot_twist_comparison([series], path, title)


def plot_twist_comparison(
    series: Sequence[TwistSeries],
    path: str | os.PathLike | None = None,
    title: str | None = None,
) -> Figure:
    """Draw the twist-angle figure of several sources (DFT, predictors), one colour each.

    Panels as :func:`plot_twist_sweep`: a quantity no source knows gets none; the legend
    names the sources when there are several.
    """
    quantities = (  # panel label, TwistSeries field, colour of a single source, always drawn
        ("VB spin splitting at K (eV)", "splittings_eV", "C3", False),
        ("gap with SOC (eV)", "gaps_eV", "C0", True),
        ("Berry curvature at K (A^2)", "curvatures_A2", "C2", False),
    )

    def values(source: TwistSeries, name: str) -> np.ndarray:
        known = getattr(source, name)
        n = len(source.angles_deg)
        return np.full(n, np.nan) if known is None else np.asarray(known, dtype=float)

    panels = [
        (label, name, colour)
        for label, name, colour, always in quantities
        if always or any(np.isfinite(values(source, name)).any() for source in series)
    ]
    fig = _figure(5.0, 2.2 + 1.6 * len(panels))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    single = len(series) == 1
    for ax, (label, name, colour) in zip(axes, panels, strict=True):
        for i, source in enumerate(series):
            x, y = np.asarray(source.angles_deg, dtype=float), values(source, name)
            known = np.isfinite(y)
            if not known.any():
                continue
            ax.plot(
                x[known],
                y[known],
                "o-" if i == 0 else "s--",
                color=colour if single else f"C{i}",
                label=source.label,
            )
        ax.set_ylabel(label)
        ax.grid(color="0.85", lw=0.5)
    if not single:
        axes[0].legend(fontsize="small")
    angles = np.unique(np.concatenate([np.asarray(s.angles_deg, float) for s in series]))
    axes[-1].set_xlabel("twist angle (degrees)")
    axes[-1].set_xticks(angles[np.isfinite(angles)])
    axes[-1].tick_params(axis="x", labelrotation=45)
    if title:
        axes[0].set_title(title)
    return _save(fig, path)


def result_figures(
    ham: Hamiltonian,
    output: str | os.PathLike,
    title: str | None = None,
    metal: bool = False,
    step: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write the band and Wilson-loop figures of a Hamiltonian next to ``output``.

    Parameters
    ----------
    ham
        Hamiltonian with spin-orbit blocks (eV).
    output
        The user's output path (e.g. ``result.json``); figures take its folder and stem.
    title
        Figure title, e.g. the formula and the material id.
    metal
        The result is a metal (its ``metal`` flag): no Wilson loops.
    step
        Called with the name of each step (``"bands"``, ``"Wilson loops"``), e.g. to show
        progress.

    Returns
    -------
    dict
        ``{"bands": path, "wcc": path}``; ``"wcc"`` is missing for a metal.
    """
    # computed here, not plotted: the plot_* functions above need matplotlib alone
    from socscreen.analysis.bands import band_structure
    from socscreen.analysis.bloch import LowdinBloch, n_occupied
    from socscreen.analysis.wilson import wilson_z2

    output = Path(output)
    stem = output.parent / output.stem
    ham = ham.symmetrized()
    report = step or (lambda _: None)
    figures = {"bands": Path(f"{stem}_bands.png")}
    report("bands")
    plot_bands(band_structure(ham, soc=True), figures["bands"], title=title)
    if not metal:
        report("Wilson loops")
        wilson = wilson_z2(LowdinBloch(ham, soc=True), n_occupied(ham.nelect))
        figures["wcc"] = Path(f"{stem}_wcc.png")
        plot_wcc(wilson.planes, figures["wcc"], title=title)
    return figures

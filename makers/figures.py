"""Figures of one campaign result, as ``socscreen show ID -o PATH`` writes them.

From the material's Hamiltonian (loaded from the ``data`` store), next to ``PATH``:

* ``<stem>_bands.png``: spinor bands along the standard pymatgen path, coloured by the
  spin splitting of each Kramers pair (:func:`socscreen.analysis.plots.plot_bands`);
* ``<stem>_wcc.png``: the Wilson-loop flow of hybrid Wannier charge centres of every Z2
  plane with the Z2 index it gives (:func:`socscreen.analysis.plots.plot_wcc`); not for
  metals, whose occupied bands are not separated from the empty ones.

Whether the result is a metal is the stored result's decision: the gap is not taken again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from socscreen.analysis import LowdinBloch, band_structure, n_occupied, wilson_z2
from socscreen.analysis.plots import plot_bands, plot_wcc
from socscreen.hamiltonian import Hamiltonian

__all__ = ["result_figures"]


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

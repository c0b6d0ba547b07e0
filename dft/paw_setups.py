"""PAW setup data that the LCAO overlap needs: valence, projectors, overlap correction.

GPAW's LCAO overlap is not the plain overlap of the basis functions: the PAW
transformation adds ``S_μν += Σ_a Σ_ij <φ̃_μ|p̃^a_i> ΔO^a_ij <p̃^a_j|φ̃_ν>`` over every atom a,
with projectors ``p̃^a_i`` and ``ΔO^a_ij = δ_{l_i l_j} δ_{m_i m_j} ∫ (φ_i φ_j − φ̃_i φ̃_j) r² dr``
from the setup file (``gpaw.setup.Setup``: ``dO_ii = √(4π) Δ0_ii``). This module reads those
pieces from ``<Symbol>.<xc>(.gz)`` and builds them as GPAW does:

* projector splines: 25 intervals up to GPAW's ``rcutfilter`` (the first grid point beyond
  which the first projector, or else the zero potential, vanishes);
* ``ΔO`` summed on the setup grid up to ``ceil(2 max(rc_j))`` with GPAW's weights.

Setups of generator version ≥ 2 (the lanthanides in ``gpaw-data``) have projectors that
GPAW Fourier-filters with the real-space grid spacing; they are rejected with a clear error.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from pymatgen.core.periodic_table import Element

from socscreen.dft.gpaw_files import (
    DataFileNotFoundError,
    find_data_file,
    read_data_file,
    setup_paths,
)
from socscreen.dft.radial import RadialFunction, radial_grid_from_attributes

__all__ = ["PawSetup", "load_setup", "valence_electrons", "valence_occupations"]

#: GPAW's spline resolution for projectors (``AERadialGridDescriptor.default_spline_points``).
_PROJECTOR_SPLINE_POINTS = 25


@dataclass(frozen=True, eq=False)
class PawSetup:
    """What the LCAO overlap needs from one PAW setup.

    Attributes
    ----------
    symbol
        Element symbol.
    path
        Setup file.
    projectors
        Projector radial functions ``p̃_j`` in file order (radii in Bohr).
    overlap_correction
        ``ΔO_ij`` over projector channels ``i = (j, m)``, shape ``[n_i, n_i]``.
    """

    symbol: str
    path: Path
    projectors: tuple[RadialFunction, ...]
    overlap_correction: np.ndarray

    @property
    def n_projectors(self) -> int:
        """Number of projector channels ``n_i`` (sum of 2l + 1)."""
        return sum(2 * p.ell + 1 for p in self.projectors)


def _find_setup(symbol: str, xc: str, paths: tuple[Path, ...]) -> Path:
    if not isinstance(symbol, str) or not Element.is_valid_symbol(symbol):
        raise ValueError(f"{symbol!r} is not a chemical element symbol")
    try:
        return find_data_file(f"{symbol}.{xc}", paths)
    except DataFileNotFoundError as error:
        raise DataFileNotFoundError(
            f"no GPAW PAW setup for element {symbol!r} ({xc}): {error}"
        ) from None


def _first_zero_tail(values: np.ndarray) -> int:
    """Index after the last non-zero value (GPAW's ``RadialGridDescriptor.get_cutoff``)."""
    nonzero = np.flatnonzero(values != 0.0)
    return int(nonzero[-1]) + 1 if len(nonzero) else 0


@cache
def _load_setup(symbol: str, xc: str, paths: tuple[Path, ...]) -> PawSetup:
    path = _find_setup(symbol, xc, paths)
    root = ET.fromstring(read_data_file(path))
    generator = root.find("generator")
    version = int(generator.get("version", "1")) if generator is not None else 1
    if version >= 2:
        raise ValueError(
            f"PAW setup {path.name} (generator version {version}) has projectors that GPAW "
            "Fourier-filters with the real-space grid spacing; its LCAO overlap is not "
            "computed here"
        )
    grids = {g.get("id"): radial_grid_from_attributes(g.attrib) for g in root.iter("radial_grid")}

    def arrays(tag: str) -> dict[str, tuple[np.ndarray, str]]:
        return {
            e.get("state"): (np.array(e.text.split(), dtype=float), e.get("grid"))
            for e in root.iter(tag)
        }

    states = list(root.find("valence_states").iter("state"))
    ids = [s.get("id") for s in states]
    l_j = [int(s.get("l")) for s in states]
    rc_j = [float(s.get("rc")) for s in states]
    projector_data = arrays("projector_function")
    ae, pseudo = arrays("ae_partial_wave"), arrays("pseudo_partial_wave")
    grid = grids[projector_data[ids[0]][1]]
    r, dr = grid.r, grid.dr

    cut = _first_zero_tail(projector_data[ids[0]][0])
    vbar = root.find("zero_potential")
    if vbar is not None:
        vbar_g = np.array(vbar.text.split(), dtype=float)
        if np.any(vbar_g[cut:] != 0.0):
            cut = _first_zero_tail(vbar_g)
    rcut_filter = float(r[cut])
    projectors = tuple(
        RadialFunction.from_grid(
            grid,
            projector_data[state][0],
            ell,
            cutoff=rcut_filter,
            points=_PROJECTOR_SPLINE_POINTS,
            label=state,
        )
        for state, ell in zip(ids, l_j, strict=True)
    )

    gcut2 = grid.ceil(2.0 * max(rc_j))
    weight = r[:gcut2] ** 2 * dr[:gcut2]
    offsets = np.concatenate([[0], np.cumsum([2 * ell + 1 for ell in l_j])])
    overlap = np.zeros((offsets[-1], offsets[-1]))
    for j1, (s1, l1) in enumerate(zip(ids, l_j, strict=True)):
        for j2, (s2, l2) in enumerate(zip(ids, l_j, strict=True)):
            if l1 != l2:
                continue
            delta = np.dot(
                ae[s1][0][:gcut2] * ae[s2][0][:gcut2]
                - pseudo[s1][0][:gcut2] * pseudo[s2][0][:gcut2],
                weight,
            )
            overlap[offsets[j1] : offsets[j1 + 1], offsets[j2] : offsets[j2 + 1]] = delta * np.eye(
                2 * l1 + 1
            )
    overlap.setflags(write=False)
    return PawSetup(symbol, path, projectors, overlap)


def load_setup(symbol: str, xc: str = "PBE") -> PawSetup:
    """Load the projectors and overlap correction of an element's PAW setup (cached).

    Parameters
    ----------
    symbol
        Element symbol.
    xc
        Functional of the setup file (``<Symbol>.<xc>``); the corpus uses PBE.

    Raises
    ------
    ValueError
        For an unknown symbol, a missing setup file
        (:class:`~socscreen.dft.gpaw_files.DataFileNotFoundError`), or a setup with
        grid-dependent (Fourier-filtered) projectors.
    """
    return _load_setup(symbol, xc, setup_paths())


@cache
def _valence(symbol: str, xc: str, paths: tuple[Path, ...]) -> float:
    atom = ET.fromstring(read_data_file(_find_setup(symbol, xc, paths))).find("atom")
    return float(atom.get("valence"))


def valence_electrons(symbol: str, xc: str = "PBE") -> float:
    """Return the number of valence electrons of an element's GPAW PAW setup.

    GPAW's ``nvalence`` of a neutral cell is the sum of these over its atoms (the corpus
    ``nelect``), e.g. Bi 15 (5d¹⁰ 6s² 6p³), Se 6.

    Raises
    ------
    ValueError
        For an unknown symbol or a missing setup file.
    """
    return _valence(symbol, xc, setup_paths())


@cache
def _occupations(symbol: str, xc: str, paths: tuple[Path, ...]) -> dict[int, float]:
    states = ET.fromstring(read_data_file(_find_setup(symbol, xc, paths))).find("valence_states")
    occupations: dict[int, float] = {}
    for state in states.iter("state"):
        ell = int(state.get("l"))
        occupations[ell] = occupations.get(ell, 0.0) + float(state.get("f") or 0.0)
    return occupations


def valence_occupations(symbol: str, xc: str = "PBE") -> dict[int, float]:
    """Electrons per angular momentum in the valence states of an element's PAW setup.

    The free neutral atom's occupations, e.g. Zr ``{0: 4, 1: 6, 2: 2}`` (4s² 4p⁶ 4d² 5s²);
    they sum to :func:`valence_electrons`. Unoccupied (bound or unbound) valence states
    count 0.

    Raises
    ------
    ValueError
        For an unknown symbol or a missing setup file.
    """
    return dict(_occupations(symbol, xc, setup_paths()))

"""The band gap of a Hamiltonian: one definition for every command and the campaign.

``socscreen bands``, ``socscreen z2`` and the campaign analysis (whose documents ``show``,
``query`` and the report print) all take the gap from :func:`band_gap`, and every result
states the k sampling behind it (:attr:`GapResult.sampling`):

1. a Γ-centred grid, even along every periodic axis so that every TRIM lies on it
   (``density`` points per reciprocal-vector length in 1/Å over 2π: 8x8x8 for rock-salt
   SnTe);
2. the standard high-symmetry path of the cell
   (:func:`~socscreen.analysis.kpath.high_symmetry_path`, ``path_density`` points per
   1/Å, the path ``socscreen bands`` plots);
3. a refinement: quasi-Newton (BFGS) searches from the two smallest direct gaps, the
   valence maximum and the conduction minimum sampled so far, which find the extrema and
   band crossings that lie between the sampled points. A sampling that already shows a
   metal is not refined (refining can only lower gaps).

Conventions: the lowest ``n_occ`` bands are occupied (spinor bands: ``n_occ = nelect``,
spinless: ``nelect / 2``); VBM is the largest energy of band ``n_occ - 1`` and CBM the
smallest of band ``n_occ`` over all sampled k; the indirect gap is CBM − VBM (negative
when the bands overlap), the direct gap the smallest ``E[n_occ] - E[n_occ - 1]`` at one
k; all energies in eV, k fractional in the reciprocal basis of the container's cell.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy.optimize import minimize

from socscreen.analysis.bloch import (
    BlochSystem,
    LowdinBloch,
    eigh_k,
    kgrid_shape,
    monkhorst_pack,
    n_occupied,
)
from socscreen.analysis.kpath import high_symmetry_path
from socscreen.hamiltonian import Hamiltonian

__all__ = ["GapKind", "GapResult", "band_gap"]

GapKind = Literal["insulator", "semimetal", "metal"]

#: Compass searches started per objective: direct gap, valence maximum, conduction minimum.
REFINE_STARTS = (2, 1, 1)

#: BFGS iterations per search, at most.
REFINE_MAX_ITERATIONS = 50

#: Central-difference step of the searches' gradients (1/Å).
REFINE_STEP = 1e-4

#: Gradient norm at which a search stops (eV Å).
REFINE_GTOL = 1e-3


class GapResult(BaseModel):
    """Band gap on the stated k sampling and the metal/semimetal/insulator decision."""

    n_occupied: int = Field(description="Occupied bands (spinor: nelect; spinless: nelect/2).")
    soc: bool = Field(description="Spin-orbit coupling included.")
    grid: list[int] = Field(description="Gamma-centred k-grid (TRIM always included).")
    sampling: str = Field(
        "", description="Every k the gap was taken over: grid, path, refinement, extra points."
    )
    n_kpoints: int = Field(0, ge=0, description="Number of k-points sampled in all.")
    vbm_eV: float = Field(description="Valence band maximum over the sampled k (eV).")
    cbm_eV: float = Field(description="Conduction band minimum over the sampled k (eV).")
    indirect_gap_eV: float = Field(
        description="CBM - VBM (eV); negative for overlapping bands (semimetal or metal)."
    )
    direct_gap_eV: float = Field(description="Smallest E[n_occ] - E[n_occ - 1] at one k (eV).")
    k_vbm: list[float] = Field(description="Fractional k of the VBM.")
    k_cbm: list[float] = Field(description="Fractional k of the CBM.")
    k_direct: list[float] = Field(description="Fractional k of the smallest direct gap.")
    kind: GapKind = Field(
        description="insulator: indirect gap above the tolerance; semimetal: bands "
        "n_occ - 1 and n_occ overlap by less than max_overlap_eV but never touch (direct "
        "gap open at every sampled k, so Z2 of the lower bands is defined); metal: the "
        "direct gap closes, the overlap is larger, or an odd electron count leaves a "
        "Kramers pair half filled."
    )

    @property
    def is_insulator(self) -> bool:
        """Whether there is a gap at the Fermi level."""
        return self.kind == "insulator"


def band_gap(
    ham: Hamiltonian,
    soc: bool = True,
    grid: tuple[int, int, int] | None = None,
    density: float = 25.0,
    metal_tol_eV: float = 1e-3,
    max_overlap_eV: float = 0.3,
    extra_k: np.ndarray | None = None,
    path_density: float | None = 40.0,
    refine: bool = True,
) -> GapResult:
    """Direct and indirect gap over grid, path and refinement (see the module docstring).

    Parameters
    ----------
    ham
        The container; ``nelect`` sets the occupation.
    soc
        Include spin-orbit coupling (spinor bands); without it the cheaper spinless
        problem is solved with two electrons per band.
    grid
        k-grid; default :func:`~socscreen.analysis.bloch.kgrid_shape` with ``density``.
    density
        k-points per 1/Angstrom of reciprocal-lattice-vector length (over 2 pi).
    metal_tol_eV
        Gaps below this count as closed (eV).
    max_overlap_eV
        Largest band overlap (negative indirect gap, eV) still called a semimetal;
        compensated semimetals overlap by tenths of an eV (Bi, Sb; Bi2Se3 in the
        szp(dzp) basis: 0.15 eV), ordinary metals by eV.
    extra_k
        More fractional k-points to include, ``[n, 3]`` (e.g. where a Wilson loop found
        its smallest gap).
    path_density
        k-points per 1/Angstrom along the high-symmetry path; ``None``: no path.
    refine
        Refine the extrema by BFGS searches.

    Raises
    ------
    ValueError
        If ``nelect`` is not a whole number, or every band is occupied.
    """
    source = LowdinBloch(ham, soc=soc, spinor=soc)
    n_occ = n_occupied(ham.nelect, spinor=soc)
    if n_occ >= source.n_basis:
        raise ValueError(f"{n_occ} occupied bands leave no conduction band in {source.n_basis}")
    grid = kgrid_shape(source.lattice, source.periodic, density) if grid is None else grid
    grid = tuple(
        int(n) + int(n) % 2 if p else 1 for n, p in zip(grid, source.periodic, strict=True)
    )
    parts = [monkhorst_pack(grid)]  # even sizes contain every TRIM
    sampling = ["x".join(map(str, grid)) + " Γ-centred grid"]
    if path_density is not None:
        path = high_symmetry_path(ham, path_density)
        parts.append(path.kpoints)
        sampling.append(f"{len(path.kpoints)} k on the {path.path_type} path")
    if extra_k is not None:
        parts.append(np.asarray(extra_k, dtype=float).reshape(-1, 3))
        sampling.append(f"{len(parts[-1])} given k")
    k = np.concatenate(parts)
    bands = slice(n_occ - 1, n_occ + 1)
    e = _grid_bands(source, grid, bands)  # [n_k, 2]: bands n_occ - 1 and n_occ
    if len(k) > len(e):  # path and given k
        e = np.concatenate([e, eigh_k(source, k[len(e) :], bands=bands)])
    decide = dict(soc=soc, metal_tol_eV=metal_tol_eV, max_overlap_eV=max_overlap_eV)
    if refine and _kind(e, n_occ, **decide) != "metal":
        k_more, e_more, n_searches = _refine(source, bands, k, e, 1.0 / max(grid))
        k, e = np.concatenate([k, k_more]), np.concatenate([e, e_more])
        sampling.append(f"{len(k_more)} k of BFGS searches from {n_searches} extrema")
    iv, ic = int(e[:, 0].argmax()), int(e[:, 1].argmin())
    idx = int((e[:, 1] - e[:, 0]).argmin())
    return GapResult(
        n_occupied=n_occ,
        soc=soc,
        grid=list(grid),
        sampling=" + ".join(sampling),
        n_kpoints=len(k),
        vbm_eV=float(e[iv, 0]),
        cbm_eV=float(e[ic, 1]),
        indirect_gap_eV=float(e[ic, 1] - e[iv, 0]),
        direct_gap_eV=float(e[idx, 1] - e[idx, 0]),
        k_vbm=k[iv].tolist(),
        k_cbm=k[ic].tolist(),
        k_direct=k[idx].tolist(),
        kind=_kind(e, n_occ, **decide),
    )


def _grid_bands(source: BlochSystem, grid: tuple[int, int, int], bands: slice) -> np.ndarray:
    """Energies (eV) of ``bands`` on the Γ-centred ``grid``, ``[n_k, n_bands]``.

    Time reversal, built into every container (the down-spin blocks are the conjugated
    up-spin ones; H0 and S are real), gives ``E(-k) = E(k)``: each pair ``k, -k`` of the
    grid is diagonalised once, which halves the grid's cost.
    """
    index = np.indices(grid).reshape(3, -1)
    partner = np.ravel_multi_index(tuple(-index % np.reshape(grid, (3, 1))), grid)
    kept = np.arange(len(partner)) <= partner  # the first of each pair
    e = eigh_k(source, monkhorst_pack(grid)[kept], bands=bands)
    return e[(np.cumsum(kept) - 1)[np.minimum(np.arange(len(partner)), partner)]]


def _kind(
    e: np.ndarray, n_occ: int, soc: bool, metal_tol_eV: float, max_overlap_eV: float
) -> GapKind:
    """Metal, semimetal or insulator from the gap bands ``[n_k, 2]`` (eV) at every k."""
    direct = float((e[:, 1] - e[:, 0]).min())
    indirect = float(e[:, 1].min() - e[:, 0].max())
    if (soc and n_occ % 2 == 1) or direct < metal_tol_eV or indirect < -max_overlap_eV:
        return "metal"
    return "insulator" if indirect >= metal_tol_eV else "semimetal"


def _objectives(e: np.ndarray) -> np.ndarray:
    """Return what the searches minimise: direct gap, -E_v, E_c (eV), ``[3, n_k]``."""
    return np.stack([e[:, 1] - e[:, 0], -e[:, 0], e[:, 1]])


def _starts(values: np.ndarray, k: np.ndarray, n: int, spacing: float) -> list[int]:
    """Return the indices of the ``n`` smallest ``values`` at least ``spacing`` apart in k."""
    chosen: list[int] = []
    for i in np.argsort(values):
        if all(np.abs((k[i] - k[j] + 0.5) % 1 - 0.5).max() >= spacing for j in chosen):
            chosen.append(int(i))
        if len(chosen) == n:
            break
    return chosen


def _refine(
    source: BlochSystem, bands: slice, k: np.ndarray, e: np.ndarray, spacing: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """BFGS searches from the sampled extrema (see the module docstring).

    Each search moves in Cartesian k (1/Å) within the periodic directions; its gradient
    is a central difference of step :data:`REFINE_STEP` (the value and the six displaced
    points are diagonalised together).

    Returns
    -------
    tuple
        Every k visited ``[n, 3]``, its gap bands ``[n, 2]`` (eV) and the number of
        searches.
    """
    recip = 2 * np.pi * np.linalg.inv(source.lattice).T  # rows b_i, 1/Å
    plane = np.linalg.qr(recip[source.periodic].T)[0].T  # [d, 3] orthonormal, Cartesian
    to_fractional = plane @ np.linalg.inv(recip)  # [d, 3]: a Cartesian step in fractional k
    steps = REFINE_STEP * np.concatenate([np.zeros((1, len(plane))), np.eye(len(plane))])
    steps = np.concatenate([steps, -steps[1:]])  # [1 + 2 d, d]: centre, +-each direction
    visited_k, visited_e = [], []
    objectives = _objectives(e)
    starts = [(which, i) for which, n in enumerate(REFINE_STARTS)
              for i in _starts(objectives[which], k, n, spacing)]  # fmt: skip
    for which, i in starts:

        def value_and_gradient(x: np.ndarray, which: int = which, k0: np.ndarray = k[i]) -> tuple:
            points = k0 + (x + steps) @ to_fractional
            pair = eigh_k(source, points, bands=bands)
            visited_k.append(points)
            visited_e.append(pair)
            v = _objectives(pair)[which]
            d = len(x)
            return v[0], (v[1 : d + 1] - v[d + 1 :]) / (2 * REFINE_STEP)

        minimize(
            value_and_gradient,
            np.zeros(len(plane)),
            jac=True,
            method="BFGS",
            options={"gtol": REFINE_GTOL, "maxiter": REFINE_MAX_ITERATIONS},
        )
    if not visited_k:
        return np.zeros((0, 3)), np.zeros((0, 2)), 0
    return np.concatenate(visited_k), np.concatenate(visited_e), len(starts)

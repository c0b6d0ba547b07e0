"""Band structures, the Fermi level, spin splitting and SOC band inversion.

Gaps and the metal/semimetal/insulator decision: :mod:`.gaps`; k-paths: :mod:`.kpath`.

Electron counting: one electron per spinor band, ``n_occ = nelect`` (two per band in the
spinless problem without spin-orbit coupling).

SOC-driven band inversion (:func:`soc_band_inversion`): two indicators, both reported.

* Centrosymmetric systems: the Fu-Kane parity products ``delta_i`` at every TRIM are
  compared with spin-orbit coupling off (``lambda = 0``) and on (``lambda = 1``); a TRIM
  whose product changes sign has an SOC-inverted band ordering (exact, milliseconds).
* Any system: the spin-orbit part is scaled, ``H(lambda) = H0 + lambda H_soc`` for
  ``lambda`` in [0, 1] (:meth:`Hamiltonian.with_soc_scaled`), and the smallest direct gap
  on a coarse k-grid plus the TRIM is followed; the gap closing at an intermediate
  ``lambda`` and reopening marks an inversion. A closing between grid points can be
  missed (the grid is coarse to stay fast), so this indicator is a lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from socscreen.analysis.bloch import (
    BlochSystem,
    LowdinBloch,
    eigh_k,
    kgrid_shape,
    length_grid,
    monkhorst_pack,
    n_occupied,
    periodic_axes,
    trim_points,
)
from socscreen.analysis.gaps import GapResult, band_gap
from socscreen.analysis.kpath import KPath, high_symmetry_path
from socscreen.analysis.parity import hamiltonian_inversion, trim_deltas
from socscreen.hamiltonian import Hamiltonian
from socscreen.sparse_hamiltonian import SparseHamiltonian

__all__ = [
    "BandStructure",
    "SocEffect",
    "SpinSplitting",
    "band_structure",
    "fermi_grid",
    "fermi_level",
    "soc_band_inversion",
    "spin_splitting",
    "spin_splitting_at",
]


#: k-points per direction times lattice length |a| (Å) for the Fermi-level estimate.
FERMI_KPOINT_DENSITY = 16.0

#: Metals: the Fermi level is solved again on a grid of this density (twice the first),
#: with Fermi-Dirac occupations of :data:`FERMI_SMEARING`. Without smearing, at density 16,
#: it moved by up to 0.5 eV (Au, W) with the grid; smeared at 32 it is within ~0.1 eV of
#: density 48.
METAL_KPOINT_DENSITY = 32.0

#: Fermi-Dirac width of the metal Fermi level (eV), that of the GPAW references.
FERMI_SMEARING = 0.05

#: Coarse-grid gaps below this (eV) are checked on the metal grid: semimetals such as Sb
#: and Bi2Te3 (at this basis) look gapped on the first grid.
SMALL_GAP = 0.3

#: Largest ``n_k · (2n)³`` the metal grid may cost (about a few seconds of diagonalisation);
#: bigger cells keep the first grid, which samples their small zone densely already.
METAL_GRID_COST_LIMIT = 2.0e10


def fermi_grid(
    h: Hamiltonian | SparseHamiltonian, density: float = FERMI_KPOINT_DENSITY
) -> np.ndarray:
    """Give the Γ-centred k-grid ``[n_k, 3]`` the Fermi level is first found on (sheets: 2D)."""
    return length_grid(h.structure.lattice.matrix, density, periodic_axes(h.R))


def fermi_level(h: Hamiltonian | SparseHamiltonian, density: float = FERMI_KPOINT_DENSITY) -> float:
    """Fermi level (eV) of a Hamiltonian from its spinor bands on Γ-centred grids.

    ``nelect`` electrons fill spinor bands one each. Bands are first found on the grid of
    ``density``; where they overlap or leave a gap below :data:`SMALL_GAP`, again on a
    grid of :data:`METAL_KPOINT_DENSITY` (unless that would cost more than
    :data:`METAL_GRID_COST_LIMIT`). An insulator (a gap between band ``nelect`` and the
    next over the last grid) gets the midgap energy; a metal the chemical potential whose
    Fermi-Dirac occupations (:data:`FERMI_SMEARING`) hold ``nelect`` electrons.

    Notes
    -----
    This is the Fermi level of the spin-orbit bands. The ``efermi`` of a GPAW reference is
    that of its scalar-relativistic SCF; for heavy metals the two differ by ~0.1-0.3 eV
    (HgTe: 0.28 eV), so the benchmarks place both at this function's level.

    A :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian` (a cell of hundreds of
    atoms) gets its level from spinless band counts and second variation on the grid of
    ``density`` (:func:`~socscreen.analysis.band_edges.inertia_fermi_level`).
    """
    if isinstance(h, SparseHamiltonian):
        from socscreen.analysis.band_edges import inertia_fermi_level

        grid = fermi_grid(h, density)
        return inertia_fermi_level(h, grid, soc=h.has_soc, second_variation=True)[0]
    periodic = periodic_axes(h.R)  # a sheet's vacuum gets one k-point
    grid = fermi_grid(h, density)
    bands = h.eigh(grid, soc=h.has_soc)  # [n_k, 2n]
    n_occ = int(round(h.nelect))
    if not 0 < n_occ < bands.shape[1]:
        raise ValueError(f"{n_occ} electrons do not fit in {bands.shape[1]} spinor bands")
    dense = length_grid(h.structure.lattice.matrix, max(density, METAL_KPOINT_DENSITY), periodic)
    small_gap = bands[:, n_occ].min() - bands[:, n_occ - 1].max() < SMALL_GAP
    affordable = len(dense) * bands.shape[1] ** 3 <= METAL_GRID_COST_LIMIT
    if small_gap and affordable and len(dense) > len(grid):
        bands = h.eigh(dense, soc=h.has_soc)
    vbm, cbm = bands[:, n_occ - 1].max(), bands[:, n_occ].min()
    if cbm > vbm:
        return float(0.5 * (vbm + cbm))
    return smeared_fermi_level(bands, h.nelect)


def smeared_fermi_level(bands: np.ndarray, nelect: float, width: float = FERMI_SMEARING) -> float:
    """Chemical potential (eV) whose Fermi-Dirac occupations of ``bands`` hold ``nelect``.

    ``bands`` are spinor energies ``[n_k, n_bands]`` (eV) of equally weighted k-points,
    each band holding one electron; ``width`` is kT (eV).
    """
    from scipy.optimize import brentq
    from scipy.special import expit

    def excess(mu: float) -> float:
        return float(expit((mu - bands) / width).sum()) / len(bands) - nelect

    return float(brentq(excess, bands.min() - 10 * width, bands.max() + 10 * width, xtol=1e-6))


class SpinSplitting(BaseModel):
    """Spin splitting of the band pairs at the gap along a path.

    The spinor bands are paired as (2m, 2m + 1); the splitting of a pair is its energy
    difference, zero where Kramers degeneracy holds (everywhere with inversion, only at
    TRIM without).
    """

    max_valence_eV: float = Field(description="Largest splitting of the top valence pair (eV).")
    max_conduction_eV: float = Field(
        description="Largest splitting of the bottom conduction pair (eV)."
    )
    k_max_valence: list[float] = Field(description="Fractional k of the valence maximum.")
    k_max_conduction: list[float] = Field(description="Fractional k of the conduction maximum.")


def spin_splitting_at(source: BlochSystem, k: np.ndarray, bands: slice | None = None) -> np.ndarray:
    """Compute the splitting ``E[2m + 1] - E[2m]`` of every spinor band pair, eV.

    Parameters
    ----------
    source
        Spinor Bloch Hamiltonian.
    k
        Fractional k-points ``[n_k, 3]``.
    bands
        Band pairs to keep (slice over pair index m); ``None`` keeps all.

    Returns
    -------
    numpy.ndarray
        ``[n_k, n_pairs]`` splittings, eV.
    """
    e = eigh_k(source, k)
    pairs = e[:, 1::2] - e[:, 0::2]
    return pairs if bands is None else pairs[:, bands]


def spin_splitting(energies: np.ndarray, kpoints: np.ndarray, n_occ: int) -> SpinSplitting:
    """Largest splitting of the top valence and bottom conduction pairs along k-points.

    Parameters
    ----------
    energies
        Spinor band energies, eV, ``[n_k, n_bands]``.
    kpoints
        The k-points, fractional ``[n_k, 3]``.
    n_occ
        Occupied spinor bands (even).
    """
    if n_occ % 2 or n_occ < 2 or n_occ + 2 > energies.shape[1]:
        raise ValueError(f"need an even n_occ with a pair above and below, got {n_occ}")
    valence = energies[:, n_occ - 1] - energies[:, n_occ - 2]
    conduction = energies[:, n_occ + 1] - energies[:, n_occ]
    iv, ic = int(valence.argmax()), int(conduction.argmax())
    return SpinSplitting(
        max_valence_eV=float(valence[iv]),
        max_conduction_eV=float(conduction[ic]),
        k_max_valence=kpoints[iv].tolist(),
        k_max_conduction=kpoints[ic].tolist(),
    )


@dataclass
class BandStructure:
    """Bands along a high-symmetry path.

    Attributes
    ----------
    path
        The path (k-points, distances, labels).
    energies
        Band energies, eV, ``[n_k, n_bands]``.
    n_occupied
        Occupied bands.
    reference_eV
        Energy zero used for plots: the valence band maximum on the path, eV.
    soc
        Whether spin-orbit coupling is included.
    splitting
        Spin splitting of the gap band pairs (spinor bands with a pair on each side).
    """

    path: KPath
    energies: np.ndarray
    n_occupied: int
    reference_eV: float
    soc: bool
    splitting: SpinSplitting | None


def band_structure(
    ham: Hamiltonian,
    soc: bool = True,
    line_density: float = 40.0,
    path_type: str = "setyawan_curtarolo",
) -> BandStructure:
    """Spinor bands of a container along its standard path.

    Parameters
    ----------
    ham
        The container; ``nelect`` sets the occupation.
    soc
        Include spin-orbit coupling.
    line_density
        k-points per 1/Angstrom.
    path_type
        pymatgen path convention (see :func:`high_symmetry_path`).
    """
    path = high_symmetry_path(ham, line_density, path_type)
    source = LowdinBloch(ham, soc=soc)
    energies = eigh_k(source, path.kpoints)
    n_occ = n_occupied(ham.nelect)
    splitting = None
    if n_occ % 2 == 0 and 2 <= n_occ <= energies.shape[1] - 2:
        splitting = spin_splitting(energies, path.kpoints, n_occ)
    return BandStructure(
        path=path,
        energies=energies,
        n_occupied=n_occ,
        reference_eV=float(energies[:, n_occ - 1].max()),
        soc=soc,
        splitting=splitting,
    )


_GOLDEN = (np.sqrt(5) - 1) / 2


class SocEffect(BaseModel):
    """What spin-orbit coupling does to the gap and the band ordering."""

    gap_no_soc_eV: float = Field(description="Indirect gap without SOC on the grid (eV).")
    gap_soc_eV: float = Field(description="Indirect gap with SOC on the grid (eV).")
    gap_change_eV: float = Field(description="gap_soc_eV - gap_no_soc_eV (eV).")
    lambdas: list[float] = Field(description="SOC scale factors of the gap scan, ascending.")
    min_direct_gap_eV: list[float] = Field(
        description="Smallest direct gap on the coarse scan grid plus TRIM per lambda (eV)."
    )
    gap_closes: bool = Field(
        description="The direct gap closes (below close_tol) at an intermediate lambda "
        "while it is open at both ends."
    )
    inverted_trim: list[list[float]] | None = Field(
        description="TRIM (fractional) whose occupied parity product changes sign with "
        "SOC; None without inversion symmetry."
    )
    band_inversion: bool = Field(
        description="Parity change at some TRIM (centrosymmetric) or gap closing and "
        "reopening along the SOC scan (otherwise)."
    )


def soc_band_inversion(
    ham: Hamiltonian,
    n_lambda: int = 6,
    refine_steps: int = 8,
    scan_density: float = 12.0,
    close_tol_eV: float = 0.02,
    gap_density: float = 25.0,
    gaps: tuple[GapResult, GapResult] | None = None,
) -> SocEffect:
    """SOC-induced gap change and band-inversion indicators (see the module docstring).

    Parameters
    ----------
    ham
        Container with spin-orbit blocks.
    n_lambda
        Number of equally spaced SOC scale factors in [0, 1] for the gap-closing scan.
    refine_steps
        Golden-section steps (two gap evaluations each) around the smallest gap.
    scan_density
        k-point density of the coarse scan grid (see :func:`band_gap`).
    close_tol_eV
        Direct gaps below this count as closed (eV).
    gap_density
        k-point density for the SOC on/off gaps.
    gaps
        :func:`band_gap` of ``ham`` with and without SOC when the caller has them
        already (computed here with ``gap_density`` when ``None``).

    Raises
    ------
    ValueError
        If the container has no spin-orbit blocks, or ``gaps`` are not (SOC, no SOC).
    """
    if not ham.has_soc:
        raise ValueError("soc_band_inversion needs a Hamiltonian with spin-orbit blocks")
    if gaps is not None and (gaps[0].soc, gaps[1].soc) != (True, False):
        raise ValueError("gaps must be the band gaps with SOC and without SOC, in that order")
    ham = ham.symmetrized()
    if gaps is None:
        gaps = (
            band_gap(ham, soc=True, density=gap_density),
            band_gap(ham, soc=False, density=gap_density),
        )
    gap_on, gap_off = gaps
    n_occ = gap_on.n_occupied
    source = LowdinBloch(ham)
    k = np.concatenate(
        [
            monkhorst_pack(kgrid_shape(source.lattice, source.periodic, scan_density)),
            trim_points(source.periodic),
        ]
    )

    def min_gap(lam: float) -> float:
        e = eigh_k(LowdinBloch(ham.with_soc_scaled(lam)), k, bands=slice(n_occ - 1, n_occ + 1))
        return float((e[:, 1] - e[:, 0]).min())

    lambdas = list(np.linspace(0.0, 1.0, n_lambda))
    scan = [min_gap(lam) for lam in lambdas]
    i = int(np.argmin(scan[1:-1])) + 1 if n_lambda > 2 else 0
    if 0 < i < n_lambda - 1:  # golden-section search for the closing around the minimum
        lo, hi = lambdas[i - 1], lambdas[i + 1]
        for _ in range(refine_steps):
            a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
            ga, gb = min_gap(a), min_gap(b)
            lambdas += [a, b]
            scan += [ga, gb]
            lo, hi = (lo, b) if ga < gb else (a, hi)
    order = np.argsort(lambdas)
    lambdas_arr, scan_arr = np.array(lambdas)[order], np.array(scan)[order]
    closes = bool(
        scan_arr[0] > close_tol_eV
        and scan_arr[-1] > close_tol_eV
        and scan_arr[1:-1].min(initial=np.inf) < close_tol_eV
    )
    inversion, _ = hamiltonian_inversion(source)
    inverted = None
    if inversion is not None and n_occ % 2 == 0:
        trim = trim_points(source.periodic)
        on = trim_deltas(source, inversion, n_occ, trim)[0]
        off = trim_deltas(LowdinBloch(ham, soc=False), inversion, n_occ, trim)[0]
        inverted = trim[on != off].tolist()
    return SocEffect(
        gap_no_soc_eV=gap_off.indirect_gap_eV,
        gap_soc_eV=gap_on.indirect_gap_eV,
        gap_change_eV=gap_on.indirect_gap_eV - gap_off.indirect_gap_eV,
        lambdas=lambdas_arr.tolist(),
        min_direct_gap_eV=scan_arr.tolist(),
        gap_closes=closes,
        inverted_trim=inverted,
        band_inversion=bool(inverted) if inverted is not None else closes,
    )

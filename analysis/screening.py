"""Screening physics of one Hamiltonian: what a campaign computes and flags per material.

:func:`analyse_hamiltonian` is a plain function (no jobflow, no database) that calls the
rest of :mod:`socscreen.analysis` and returns a :class:`Screening`, whose fields mirror the
result document the campaign stores (``socscreen.makers.analyse`` turns it into one).

What is computed, per material
------------------------------
* gaps with and without SOC (direct and indirect) by the one gap definition,
  :func:`~socscreen.analysis.gaps.band_gap` (grid, band path and refinement; the
  Z2 route's loops add the k where they find the gap closed);
* Z2 indices by the ``z2_route`` setting (:func:`choose_route`), with and without SOC: by
  default (``"screening"``) Fu-Kane parities when the Hamiltonian has an inversion centre
  (milliseconds) and Wilson loops otherwise; ``"auto"`` adds the Wilson cross-check for
  centrosymmetric crystals (several times slower); metals and gapless cases become flags,
  never exceptions;
* the SOC band-inversion indicator (parity change at a TRIM for centrosymmetric crystals,
  gap closing and reopening as SOC is switched on otherwise; the SOC scan runs only where
  it is the indicator);
* the largest spin splitting of the band pairs at the gap along the standard k-path;
* Berry curvature of the occupied bands along the path, only where it can be non-zero:
  with time reversal and inversion together Omega(k) vanishes identically, so it is
  evaluated for non-centrosymmetric insulators only.
* the valley figures of a hexagonal 2D sheet that is not a metal (MX2 monolayers):
  spin splittings, direct gap, Berry curvature, spins and circular dichroism at K and K'
  (:func:`~socscreen.analysis.valley.valley_quantities`).

A large cell predicted on sparse blocks (a twisted bilayer of hundreds of atoms) has no
k-grid diagonalisation: :func:`analyse_valley_edges` takes the gap and the valley
splittings from the band edges at K, K' and Γ alone (flag ``valley_edges_only``).

The gaps with and without SOC are computed once and handed to the Z2 and band-inversion
functions. The flag rules (:func:`gap_flags`, :func:`z2_flags`), the stored fundamental gap
(:func:`stored_gap`) and the largest splitting (:func:`max_spin_splitting`) are shared with
the GPAW validation, which flags and compares a DFT Hamiltonian the same way.

Confidence
----------
``confidence`` in [0, 1] is ``min(1, g / 0.1 eV)`` with ``g`` the smallest direct gap the
Z2 evidence rests on (on the Wilson loops when they ran, else at the TRIM/grid), halved
when the parity and Wilson routes disagree, and 0 when no Z2 index could be assigned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from socscreen.analysis.bands import BandStructure, band_structure, soc_band_inversion
from socscreen.analysis.berry import berry_curvature
from socscreen.analysis.bloch import LowdinBloch, n_occupied
from socscreen.analysis.gaps import GapResult, band_gap
from socscreen.analysis.parity import hamiltonian_inversion
from socscreen.analysis.topology import Route, Z2Result, screening_route, z2_invariants
from socscreen.analysis.valley import (
    ValleyQuantities,
    hexagonal_sheet,
    valley_edges,
    valley_quantities,
)
from socscreen.hamiltonian import Hamiltonian
from socscreen.sparse_hamiltonian import SparseHamiltonian

__all__ = [
    "CONFIDENT_GAP_EV",
    "SOC_SCAN_LAMBDAS",
    "SPLITTING_RESOLUTION_EV",
    "VALLEY_EDGES_ONLY",
    "VALLEY_EDGES_SAMPLING",
    "BerryAlongPath",
    "Screening",
    "ScreeningGaps",
    "ScreeningSettings",
    "Z2Summary",
    "analyse_hamiltonian",
    "analyse_valley_edges",
    "choose_route",
    "gap_flags",
    "max_spin_splitting",
    "screening_gaps",
    "stored_gap",
    "z2_confidence",
    "z2_flags",
    "z2_summary",
]

#: SOC scale factors of the gap-closing scan (non-centrosymmetric band-inversion indicator).
SOC_SCAN_LAMBDAS = 6

#: Direct gap (eV) along the Z2 evidence above which an assignment counts as fully confident.
CONFIDENT_GAP_EV = 0.1

#: Splittings below this (eV) are numerical noise of Kramers-degenerate bands.
SPLITTING_RESOLUTION_EV = 1e-6

#: Flag of a result analysed at its valley edges only (:func:`analyse_valley_edges`).
VALLEY_EDGES_ONLY = "valley_edges_only"

#: ``sampling`` of the gaps of such a result.
VALLEY_EDGES_SAMPLING = "band edges at K, K' and Gamma only (a large cell, shift-invert)"


class ScreeningSettings(Protocol):
    """What the screening reads of a campaign's settings (``CampaignSettings`` has it)."""

    z2_route: Literal["screening", "parity", "wilson", "auto"]
    berry_curvature: bool
    min_gap: float


@dataclass
class Z2Summary:
    """Z2 indices as a campaign stores them (the fields of its Z2 document, less the class)."""

    z2: list[int]
    route: Literal["parity", "wilson"]
    n_occupied: int | None = None
    z2_no_soc: list[int] | None = None
    routes_agree: bool | None = None


@dataclass
class ScreeningGaps:
    """Gaps with and without SOC as a campaign stores them (eV): 0 where none."""

    direct: float
    indirect: float
    direct_no_soc: float | None
    indirect_no_soc: float | None
    k_direct: list[float] | None = None
    k_vbm: list[float] | None = None
    k_cbm: list[float] | None = None
    kind: Literal["insulator", "semimetal", "metal"] | None = None
    band_overlap: float | None = None
    sampling: str | None = None


@dataclass
class BerryAlongPath:
    """Largest occupied-band |Omega_z| along the k-path (Angstrom^2) and where it is."""

    max_abs_curvature: float
    k_max_curvature: list[float]
    fermi_level: float | None


@dataclass
class Screening:
    """The physics fields of a campaign result, as :func:`analyse_hamiltonian` computes them."""

    gaps: ScreeningGaps
    z2: Z2Summary | None = None
    confidence: float = 0.0
    band_inversion: bool | None = None
    spin_splitting_max: float | None = None
    spin_splitting_k: list[float] | None = None
    berry: BerryAlongPath | None = None
    valley: ValleyQuantities | None = None
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0


def z2_confidence(result: Z2Result) -> float:
    """Confidence in [0, 1] of a Z2 assignment (see the module docstring)."""
    if result.z2 is None:
        return 0.0
    evidence = [g for g in (result.min_loop_gap_eV, result.trim_gap_eV) if g is not None]
    gap = min(evidence) if evidence else (result.direct_gap_eV or 0.0)
    confidence = float(np.clip(gap / CONFIDENT_GAP_EV, 0.0, 1.0))
    return 0.5 * confidence if result.routes_agree is False else confidence


def z2_summary(on: Z2Result, off: Z2Result) -> Z2Summary | None:
    """Return the stored Z2 of a material from its results with and without SOC.

    The route is ``"parity"`` where parities gave the index and the route was not forced to
    Wilson loops; the SOC-off index is kept only where it has as many indices as the SOC one.
    """
    if on.z2 is None:
        return None
    route = "parity" if on.z2_parity is not None and on.route != "wilson" else "wilson"
    no_soc = off.z2 if off.z2 is not None and len(off.z2) == len(on.z2) else None
    return Z2Summary(
        z2=[int(v) for v in on.z2],
        route=route,
        n_occupied=on.n_occupied,
        z2_no_soc=no_soc,
        routes_agree=on.routes_agree,
    )


def stored_gap(result: GapResult) -> float:
    """Fundamental (indirect) gap as the campaign stores it: 0 unless an insulator (eV)."""
    return max(result.indirect_gap_eV, 0.0) if result.kind == "insulator" else 0.0


def screening_gaps(on: GapResult, off: GapResult) -> ScreeningGaps:
    """Return the stored gaps (eV): 0 where none; a semimetal keeps its open direct gap."""

    def gaps(result: GapResult) -> tuple[float, float]:
        direct = 0.0 if result.kind == "metal" else max(result.direct_gap_eV, 0.0)
        return direct, stored_gap(result)

    (direct, indirect), (direct_off, indirect_off) = gaps(on), gaps(off)
    return ScreeningGaps(
        direct=direct,
        indirect=indirect,
        direct_no_soc=direct_off,
        indirect_no_soc=indirect_off,
        k_direct=on.k_direct,
        k_vbm=on.k_vbm,
        k_cbm=on.k_cbm,
        kind=on.kind,
        band_overlap=None if on.kind == "metal" else max(-on.indirect_gap_eV, 0.0),
        sampling=on.sampling,
    )


def gap_flags(gap: GapResult, min_gap: float | None = None) -> list[str]:
    """Return the flags of a gap: its kind unless an insulator, ``gapless`` below ``min_gap``."""
    if gap.kind != "insulator":
        return [gap.kind]
    if min_gap is not None and gap.indirect_gap_eV < min_gap:
        return ["gapless"]
    return []


def z2_flags(result: Z2Result) -> list[str]:
    """Return the Z2 route's own flags, prefixed ``z2_`` (metal and semimetal: the gap's)."""
    return [f"z2_{f}" for f in result.flags if f not in {"metal", "semimetal"}]


def max_spin_splitting(bands: BandStructure) -> float | None:
    """Largest spin splitting of the gap band pairs along the path (eV)."""
    if bands.splitting is None:
        return None
    return max(bands.splitting.max_valence_eV, bands.splitting.max_conduction_eV)


def choose_route(z2_route: str, centrosymmetric: bool) -> Route:
    """Return the Z2 route of a setting: ``"screening"`` picks by the inversion centre."""
    if z2_route == "screening":
        return screening_route(centrosymmetric)
    return z2_route  # type: ignore[return-value]


def _berry_along_path(ham: Hamiltonian, kpoints: np.ndarray) -> BerryAlongPath:
    """Largest occupied-band Omega_z on the path, from the exact Löwdin bands.

    Not from a real-space Löwdin model: its truncation error reaches 0.4 eV where S(k) is
    nearly singular (MX2 sheets) and hundreds of eV across the dropped overlap directions
    of a prediction (predicted WS2: 2300 Angstrom^2 instead of 21).
    """
    omega = berry_curvature(LowdinBloch(ham), kpoints, n_occ=n_occupied(ham.nelect))[:, 2]
    i = int(np.abs(omega).argmax())
    return BerryAlongPath(
        max_abs_curvature=float(abs(omega[i])),
        k_max_curvature=[float(x) for x in kpoints[i]],
        fermi_level=ham.efermi,
    )


def _odd_electron_count(t0: float) -> Screening:
    """Screening of a half-filled Kramers pair: a metal with or without SOC."""
    return Screening(
        gaps=ScreeningGaps(direct=0.0, indirect=0.0, direct_no_soc=0.0, indirect_no_soc=0.0),
        flags=["metal", "odd_electron_count"],
        seconds=time.perf_counter() - t0,
    )


def analyse_valley_edges(ham: SparseHamiltonian, settings: ScreeningSettings) -> Screening:
    """Gap and valley splittings of a large hexagonal sheet from its band edges at K and Γ.

    A cell of hundreds of atoms (a twisted bilayer on sparse blocks) is not diagonalised
    on a k-grid: :func:`~socscreen.analysis.valley.valley_edges` gives the spin pairs at
    the band edges at K (K' by Kramers) and Γ, where each layer's K valley folds, by
    shift-invert around the Fermi level (which the prediction found by band counts on
    a grid). The gaps are those over these points (``sampling`` says so): the kind is
    ``"insulator"`` if the lowest conduction band lies above the highest valence band
    there, ``"semimetal"`` if only the direct gaps are open, else ``"metal"``. Nothing
    is computed without SOC, and no Z2, band inversion, k-path splitting or Berry
    curvature; the flags say ``valley_edges_only`` and ``two_dimensional``.

    Raises
    ------
    ValueError
        If the container has no spin-orbit blocks or Fermi level, or is not a hexagonal
        2D sheet (K is where a large cell's valley figures are read).
    """
    t0 = time.perf_counter()
    if not ham.has_soc:
        raise ValueError("the campaign analysis needs a Hamiltonian with spin-orbit blocks")
    if ham.nelect % 2:
        return _odd_electron_count(t0)
    if not hexagonal_sheet(ham):
        raise ValueError(
            f"{ham.structure.composition.reduced_formula} ({len(ham.structure)} sites) is "
            "analysed at its valley edges only, and it is not a hexagonal 2D sheet: raise "
            "sparse_from_sites to analyse it whole"
        )
    edges = valley_edges(ham)
    points = [edges["K"], edges["Gamma"]]
    vbm = max(points, key=lambda e: e.valence[1])
    cbm = min(points, key=lambda e: e.conduction[0])
    direct = min(points, key=lambda e: e.direct_gap)
    indirect = cbm.conduction[0] - vbm.valence[1]
    if indirect > 0:
        kind = "insulator"
    else:
        kind = "semimetal" if direct.direct_gap > 0 else "metal"
    flags = [VALLEY_EDGES_ONLY, "two_dimensional"]
    if kind != "insulator":
        flags.append(kind)
    elif settings.min_gap is not None and indirect < settings.min_gap:
        flags.append("gapless")
    gaps = ScreeningGaps(
        direct=0.0 if kind == "metal" else direct.direct_gap,
        indirect=max(indirect, 0.0),
        direct_no_soc=None,
        indirect_no_soc=None,
        k_direct=direct.k,
        k_vbm=vbm.k,
        k_cbm=cbm.k,
        kind=kind,
        band_overlap=None if kind == "metal" else max(-indirect, 0.0),
        sampling=VALLEY_EDGES_SAMPLING,
    )
    return Screening(
        gaps=gaps,
        valley=None if kind == "metal" else ValleyQuantities.from_edges(edges["K"]),
        flags=sorted(flags),
        seconds=time.perf_counter() - t0,
    )


def analyse_hamiltonian(
    ham: Hamiltonian | SparseHamiltonian, settings: ScreeningSettings
) -> Screening:
    """Gaps, Z2, band inversion, spin splitting, Berry curvature and valleys of a Hamiltonian.

    A :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian` (a large cell) gets its
    valley edges only (:func:`analyse_valley_edges`).

    Parameters
    ----------
    ham
        Predicted (or DFT) Hamiltonian with spin-orbit blocks; ``nelect`` sets the filling.
    settings
        ``z2_route``, ``berry_curvature`` and ``min_gap`` (a campaign's ``CampaignSettings``).

    Returns
    -------
    Screening
        The physics fields; problems are reported in ``flags``.

    Raises
    ------
    ValueError
        If the Hamiltonian has no spin-orbit blocks or a fractional electron count.
    """
    if isinstance(ham, SparseHamiltonian):
        return analyse_valley_edges(ham, settings)
    t0 = time.perf_counter()
    if not ham.has_soc:
        raise ValueError("the campaign analysis needs a Hamiltonian with spin-orbit blocks")
    ham = ham.symmetrized()
    if ham.nelect % 2:
        return _odd_electron_count(t0)
    flags: list[str] = []
    if ham.meta.get("uncorrected_elements"):  # H(0) alone: the correction never saw them
        flags.append("uncorrected_elements")
    if ham.meta.get("sparsely_trained_elements"):  # corrected, from few training files
        flags.append("sparsely_trained_elements")
    gap_on, gap_off = band_gap(ham, soc=True), band_gap(ham, soc=False)
    inversion, _ = hamiltonian_inversion(LowdinBloch(ham))
    centrosymmetric = inversion is not None
    route = choose_route(settings.z2_route, centrosymmetric)
    z2_on = z2_invariants(ham, route=route, soc=True, gap=gap_on)
    z2_off = z2_invariants(ham, route=route, soc=False, gap=gap_off)
    # a closing the Z2 route's loops found replaces the gap (then a metal)
    gap_on, gap_off = z2_on.band_gap or gap_on, z2_off.band_gap or gap_off
    flags += gap_flags(gap_on, settings.min_gap) + z2_flags(z2_on)
    if z2_on.dimension == 2:
        flags.append("two_dimensional")

    inversion_scan = None
    if gap_on.kind != "metal" and gap_off.kind != "metal":
        # with an inversion centre the TRIM parities decide; the SOC scan (n_lambda
        # values) is the indicator of non-centrosymmetric crystals only
        n_lambda = 2 if centrosymmetric else SOC_SCAN_LAMBDAS
        inversion_scan = soc_band_inversion(ham, n_lambda=n_lambda, gaps=(gap_on, gap_off))

    bands = band_structure(ham, soc=True)
    splitting_max = max_spin_splitting(bands)
    splitting_k = None
    if splitting_max is not None and splitting_max > SPLITTING_RESOLUTION_EV:
        s = bands.splitting
        valence = s.max_valence_eV >= s.max_conduction_eV
        splitting_k = s.k_max_valence if valence else s.k_max_conduction

    berry = None
    if settings.berry_curvature and gap_on.kind == "insulator" and not centrosymmetric:
        berry = _berry_along_path(ham, bands.path.kpoints)

    valley = None
    if gap_on.kind != "metal" and hexagonal_sheet(ham):
        valley = valley_quantities(ham)

    return Screening(
        z2=z2_summary(z2_on, z2_off),
        confidence=z2_confidence(z2_on),
        gaps=screening_gaps(gap_on, gap_off),
        band_inversion=None if inversion_scan is None else inversion_scan.band_inversion,
        spin_splitting_max=splitting_max,
        spin_splitting_k=splitting_k,
        berry=berry,
        valley=valley,
        flags=sorted(set(flags)),
        seconds=time.perf_counter() - t0,
    )

"""Analysis stage of a campaign: one Hamiltonian in, the physics fields of a result out.

:func:`analyse_hamiltonian` is a plain function (no jobflow) that calls
:mod:`socscreen.analysis` and translates its results into the typed sub-documents of
:class:`~socscreen.stores.schemas.campaign.MaterialResultDocument`. The batch job of
:mod:`socscreen.makers.batch` calls it after the prediction.

What is computed, per material
------------------------------
* gaps on a Gamma-centred grid with and without SOC (direct and indirect);
* Z2 indices by ``settings.z2_route`` (parity + Wilson cross-check with ``"auto"``), with
  and without SOC; metals and gapless cases become flags, never exceptions;
* the SOC band-inversion indicator (parity change at a TRIM for centrosymmetric crystals,
  gap closing and reopening as SOC is switched on otherwise);
* the largest spin splitting of the band pairs at the gap along the standard k-path;
* Berry curvature of the occupied bands along the path, only where it can be non-zero:
  with time reversal and inversion together Omega(k) vanishes identically, so it is
  evaluated for non-centrosymmetric insulators only.

Confidence
----------
``confidence`` in [0, 1] is ``min(1, g / 0.1 eV)`` with ``g`` the smallest direct gap the
Z2 evidence rests on (on the Wilson loops when they ran, else at the TRIM/grid), halved
when the parity and Wilson routes disagree, and 0 when no Z2 index could be assigned.
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import BaseModel, Field

from socscreen.analysis import (
    OrthogonalTB,
    band_gap,
    band_structure,
    berry_curvature,
    n_occupied,
    soc_band_inversion,
    z2_invariants,
)
from socscreen.analysis.bands import GapResult
from socscreen.analysis.topology import Z2Result
from socscreen.hamiltonian import Hamiltonian
from socscreen.stores.schemas.campaign import (
    BerryCurvatureDocument,
    CampaignSettings,
    GapsDocument,
    Z2Document,
)

__all__ = ["AnalysisFields", "CONFIDENT_GAP_EV", "analyse_hamiltonian", "z2_confidence"]

#: Direct gap (eV) along the Z2 evidence above which an assignment counts as fully confident.
CONFIDENT_GAP_EV = 0.1

#: Splittings below this (eV) are numerical noise of Kramers-degenerate bands.
SPLITTING_RESOLUTION_EV = 1e-6


class AnalysisFields(BaseModel):
    """The physics fields of a result document, as produced by :func:`analyse_hamiltonian`."""

    z2: Z2Document | None = Field(None, description="Z2 invariants (None if undefined).")
    confidence: float = Field(0.0, ge=0.0, le=1.0, description="Confidence of z2 (0-1).")
    gaps: GapsDocument = Field(description="Gaps with and without SOC (eV).")
    band_inversion: bool | None = Field(None, description="SOC inverts bands at the gap.")
    spin_splitting_max: float | None = Field(
        None, ge=0.0, description="Largest splitting of the gap band pairs on the path (eV)."
    )
    spin_splitting_k: list[float] | None = Field(
        None, description="Fractional k of the largest splitting."
    )
    berry: BerryCurvatureDocument | None = Field(None, description="Berry-curvature figures.")
    flags: list[str] = Field(default_factory=list, description="Analysis warnings.")
    seconds: float = Field(0.0, ge=0.0, description="Wall time of the analysis (s).")


def z2_confidence(result: Z2Result) -> float:
    """Confidence in [0, 1] of a Z2 assignment (see the module docstring)."""
    if result.z2 is None:
        return 0.0
    evidence = [g for g in (result.min_loop_gap_eV, result.trim_gap_eV) if g is not None]
    gap = min(evidence) if evidence else (result.direct_gap_eV or 0.0)
    confidence = float(np.clip(gap / CONFIDENT_GAP_EV, 0.0, 1.0))
    return 0.5 * confidence if result.routes_agree is False else confidence


def _z2_document(on: Z2Result, off: Z2Result) -> Z2Document | None:
    if on.z2 is None or len(on.z2) != 4:
        return None
    route = "parity" if on.z2_parity is not None and on.route != "wilson" else "wilson"
    no_soc = off.z2 if off.z2 is not None and len(off.z2) == 4 else None
    return Z2Document.from_indices(
        on.z2,
        route,
        n_occupied=on.n_occupied,
        z2_no_soc=no_soc,
        routes_agree=on.routes_agree,
    )


def _gaps_document(on: GapResult, off: GapResult) -> GapsDocument:
    def clip(gap: float, kind: str) -> float:
        return max(gap, 0.0) if kind == "insulator" else 0.0

    return GapsDocument(
        direct=clip(on.direct_gap_eV, on.kind),
        indirect=clip(on.indirect_gap_eV, on.kind),
        direct_no_soc=clip(off.direct_gap_eV, off.kind),
        indirect_no_soc=clip(off.indirect_gap_eV, off.kind),
        k_direct=on.k_direct,
        k_vbm=on.k_vbm,
        k_cbm=on.k_cbm,
    )


def _berry_along_path(ham: Hamiltonian, kpoints: np.ndarray) -> BerryCurvatureDocument:
    tb = OrthogonalTB.from_hamiltonian(ham)
    omega = berry_curvature(tb, kpoints, n_occ=n_occupied(ham.nelect))[:, 2]  # [n_k]
    i = int(np.abs(omega).argmax())
    return BerryCurvatureDocument(
        max_abs_curvature=float(abs(omega[i])),
        k_max_curvature=[float(x) for x in kpoints[i]],
        fermi_level=ham.efermi,
    )


def analyse_hamiltonian(ham: Hamiltonian, settings: CampaignSettings) -> AnalysisFields:
    """Gaps, Z2, band inversion, spin splitting and Berry curvature of one Hamiltonian.

    Parameters
    ----------
    ham
        Predicted (or DFT) Hamiltonian with spin-orbit blocks; ``nelect`` sets the filling.
    settings
        Campaign settings (``z2_route``, ``berry_curvature``, ``min_gap``).

    Returns
    -------
    AnalysisFields
        The physics fields; problems are reported in ``flags``.

    Raises
    ------
    ValueError
        If the Hamiltonian has no spin-orbit blocks or a fractional electron count.
    """
    t0 = time.perf_counter()
    if not ham.has_soc:
        raise ValueError("the campaign analysis needs a Hamiltonian with spin-orbit blocks")
    ham = ham.symmetrized()
    if ham.nelect % 2:  # a half-filled Kramers pair: a metal with or without SOC
        return AnalysisFields(
            gaps=GapsDocument(direct=0.0, indirect=0.0, direct_no_soc=0.0, indirect_no_soc=0.0),
            flags=["metal", "odd_electron_count"],
            seconds=time.perf_counter() - t0,
        )
    flags: list[str] = []
    gap_on, gap_off = band_gap(ham, soc=True), band_gap(ham, soc=False)
    if gap_on.kind != "insulator":
        flags.append(gap_on.kind)
    elif gap_on.indirect_gap_eV < settings.min_gap:
        flags.append("gapless")

    z2_on = z2_invariants(ham, route=settings.z2_route, soc=True)
    z2_off = z2_invariants(ham, route=settings.z2_route, soc=False)
    flags += [f"z2_{f}" for f in z2_on.flags if f not in {"metal", "semimetal"}]
    if z2_on.dimension == 2:
        flags.append("two_dimensional")

    inversion = None
    if gap_on.kind != "metal" and gap_off.kind != "metal":
        inversion = soc_band_inversion(ham).band_inversion

    bands = band_structure(ham, soc=True)
    splitting_max = splitting_k = None
    if bands.splitting is not None:
        s = bands.splitting
        valence = s.max_valence_eV >= s.max_conduction_eV
        splitting_max = max(s.max_valence_eV, s.max_conduction_eV)
        if splitting_max > SPLITTING_RESOLUTION_EV:
            splitting_k = s.k_max_valence if valence else s.k_max_conduction

    berry = None
    centrosymmetric = z2_on.inversion_error_eV is not None and "no_inversion" not in z2_on.flags
    if settings.berry_curvature and gap_on.kind == "insulator" and not centrosymmetric:
        berry = _berry_along_path(ham, bands.path.kpoints)

    return AnalysisFields(
        z2=_z2_document(z2_on, z2_off),
        confidence=z2_confidence(z2_on),
        gaps=_gaps_document(gap_on, gap_off),
        band_inversion=inversion,
        spin_splitting_max=splitting_max,
        spin_splitting_k=splitting_k,
        berry=berry,
        flags=sorted(set(flags)),
        seconds=time.perf_counter() - t0,
    )

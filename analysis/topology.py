"""Z2 topological indices of a Hamiltonian container, by parity and Wilson-loop routes.

:func:`z2_invariants` is the one entry point the screening uses:

1. symmetrise ``H(R)`` (Hermiticity; time reversal is built into the container);
2. count the occupied spinor bands (``nelect``; one electron per band) and decide metal /
   semimetal / insulator with the one gap definition
   (:func:`~socscreen.analysis.gaps.band_gap`: grid, path and refinement); metals (gap
   closing, odd electron count) are flagged and get no indices;
3. find an inversion centre that the *Hamiltonian* respects (spglib + a check of
   ``P H(k) P^+ = H(-k)``) and run the Fu-Kane parity route (milliseconds);
4. run the Wilson-loop route (:mod:`.wilson`) for every structure (the only route without
   inversion, a cross-check with it);
5. report both, whether they agree, the smallest gaps seen, flags and timings.

Where a Wilson loop finds the direct gap closed that the gap's sampling saw open, the
gap is taken again with that k added (it is then a metal), so the reported gap, its kind
and the flags never contradict each other.

Indices: ``[nu0, nu1, nu2, nu3]`` for 3D (``nu_i`` relative to the reciprocal lattice
vectors of the container's cell), ``[nu]`` for a 2D system (one axis without hoppings).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from socscreen.analysis.bloch import LowdinBloch, n_occupied
from socscreen.analysis.gaps import GapResult, band_gap
from socscreen.analysis.parity import hamiltonian_inversion, parity_z2
from socscreen.analysis.wilson import WilsonZ2, wilson_z2

if TYPE_CHECKING:
    from socscreen.hamiltonian import Hamiltonian

__all__ = ["Z2Result", "screening_route", "z2_invariants", "z2_with_wilson"]

Route = Literal["auto", "parity", "wilson"]


def screening_route(centrosymmetric: bool) -> Route:
    """Return the screening default's route: parities with inversion, else Wilson loops.

    Fu-Kane parities are exact (and take milliseconds) where an inversion centre holds;
    ``"auto"`` would run the Wilson loops as well.
    """
    return "parity" if centrosymmetric else "wilson"


class Z2Result(BaseModel):
    """Z2 indices with the evidence behind them."""

    z2: list[int] | None = Field(
        description="[nu0, nu1, nu2, nu3] (3D) or [nu] (2D); None when undefined "
        "(metal, gapless, missing inversion for the parity-only route)."
    )
    dimension: int = Field(description="Number of periodic directions (2 or 3).")
    route: str | None = Field(
        description="Route(s) that produced z2: 'parity', 'wilson' or 'parity+wilson'."
    )
    z2_parity: list[int] | None = Field(description="Fu-Kane parity indices, if computed.")
    z2_wilson: list[int] | None = Field(description="Wilson-loop indices, if computed.")
    routes_agree: bool | None = Field(
        description="Parity and Wilson indices agree (None unless both were computed)."
    )
    n_occupied: int | None = Field(description="Occupied spinor bands (= nelect).")
    soc: bool = Field(description="Spin-orbit coupling included.")
    gap_eV: float | None = Field(
        description="Indirect gap (eV, band_gap: grid, path, refinement); negative for "
        "overlapping bands."
    )
    direct_gap_eV: float | None = Field(description="Smallest direct gap (eV, band_gap).")
    band_gap: GapResult | None = Field(
        None,
        description="The gap gap_eV and the metal/semimetal flags come from, with its k sampling.",
    )
    min_loop_gap_eV: float | None = Field(
        description="Smallest direct gap on any Wilson loop (eV), the route's confidence."
    )
    trim_gap_eV: float | None = Field(description="Smallest direct gap at the TRIM (eV).")
    inversion_error_eV: float | None = Field(
        description="max |P H(k) P^+ - H(-k)| for the structure's inversion centre (eV); "
        "None without a structural centre."
    )
    flags: list[str] = Field(
        default_factory=list,
        description="Problems: metal, semimetal, odd_electron_count, "
        "fractional_electron_count, no_inversion, inversion_broken_by_hamiltonian, "
        "gapless_at_trim, gapless_on_loop, parity_not_integer, wcc_not_converged, "
        "wcc_not_kramers_paired, routes_disagree, no_soc.",
    )
    timings: dict[str, float] = Field(
        default_factory=dict, description="Wall time of each step (s)."
    )


def z2_invariants(
    ham: Hamiltonian,
    route: Route = "auto",
    soc: bool = True,
    gap_density: float = 25.0,
    gap_tol_eV: float = 1e-3,
    inversion_tol_eV: float = 1e-3,
    wilson_options: dict[str, Any] | None = None,
    gap: GapResult | None = None,
) -> Z2Result:
    """Z2 indices of a container; metals and gapless cases are flagged, never raised.

    Parameters
    ----------
    ham
        The container (DFT or predicted); ``nelect`` sets the filling.
    route
        ``"auto"``: parity when the Hamiltonian is inversion symmetric plus Wilson loops
        always (cross-check); ``"parity"`` or ``"wilson"``: that route only.
    soc
        Include spin-orbit coupling (``False`` gives the trivial reference).
    gap_density
        k-point density of the metal/insulator grid (see
        :func:`~socscreen.analysis.bands.band_gap`).
    gap_tol_eV
        Direct gaps below this (grid, TRIM, loops) count as closed, eV.
    inversion_tol_eV
        Largest inversion error (eV) for the parity route to apply.
    wilson_options
        Passed to :func:`~socscreen.analysis.wilson.plane_wcc`.
    gap
        :func:`~socscreen.analysis.bands.band_gap` of ``ham`` with the same ``soc``,
        ``density`` and ``metal_tol_eV`` when the caller has it already (computed here
        when ``None``).

    Returns
    -------
    Z2Result
        Indices, evidence, flags and timings.
    """
    result, _ = z2_with_wilson(
        ham, route, soc, gap_density, gap_tol_eV, inversion_tol_eV, wilson_options, gap
    )
    return result


def z2_with_wilson(
    ham: Hamiltonian,
    route: Route = "auto",
    soc: bool = True,
    gap_density: float = 25.0,
    gap_tol_eV: float = 1e-3,
    inversion_tol_eV: float = 1e-3,
    wilson_options: dict[str, Any] | None = None,
    gap: GapResult | None = None,
) -> tuple[Z2Result, WilsonZ2 | None]:
    """:func:`z2_invariants` that also returns the Wilson-loop WCC (for plots).

    Returns
    -------
    tuple
        The :class:`Z2Result` and the :class:`~socscreen.analysis.wilson.WilsonZ2`
        (``None`` when the Wilson route did not run).
    """
    if route not in ("auto", "parity", "wilson"):
        raise ValueError(f"route must be 'auto', 'parity' or 'wilson', got {route!r}")
    if gap is not None and gap.soc != soc:
        raise ValueError(f"the given band gap has soc={gap.soc}, the Z2 run soc={soc}")
    timings: dict[str, float] = {}
    start = clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    ham = ham.symmetrized()
    source = LowdinBloch(ham, soc=soc)
    lap("symmetrize")
    dimension = int(source.periodic.sum())
    if dimension not in (2, 3):
        raise ValueError(f"Z2 needs a 2D or 3D system, this one has {dimension} periodic axes")
    out: dict[str, Any] = {**dict.fromkeys(_Z2_FIELDS), "dimension": dimension, "soc": soc}
    flags: list[str] = [] if soc and ham.has_soc else ["no_soc"]

    def finish(wilson: WilsonZ2 | None = None) -> tuple[Z2Result, WilsonZ2 | None]:
        timings["total"] = time.perf_counter() - start
        return Z2Result(**out, flags=flags, timings=timings), wilson

    try:
        n_occ = n_occupied(ham.nelect)
    except ValueError:
        flags += ["fractional_electron_count", "metal"]
        return finish()
    out["n_occupied"] = n_occ
    if n_occ % 2:
        flags += ["odd_electron_count", "metal"]
        return finish()
    if gap is None:
        gap = band_gap(ham, soc=soc, density=gap_density, metal_tol_eV=gap_tol_eV)
    lap("gap")

    def take_gap(taken: GapResult) -> None:
        out["gap_eV"], out["direct_gap_eV"] = taken.indirect_gap_eV, taken.direct_gap_eV
        out["band_gap"] = taken
        flags[:] = [f for f in flags if f not in ("semimetal", "metal")]
        if taken.kind != "insulator":
            flags.append(taken.kind)

    take_gap(gap)
    if gap.kind == "metal":
        return finish()

    inversion, error = hamiltonian_inversion(source, tol_eV=inversion_tol_eV)
    out["inversion_error_eV"] = error
    if inversion is None:
        flags.append("no_inversion" if error is None else "inversion_broken_by_hamiltonian")
    lap("inversion")
    if inversion is not None and route in ("auto", "parity"):
        parity = parity_z2(source, n_occ, inversion)
        out["trim_gap_eV"] = parity.trim_gap_eV
        if parity.trim_gap_eV < gap_tol_eV:
            flags.append("gapless_at_trim")
        else:
            out["z2_parity"] = parity.z2
            if parity.parity_error > 1e-3:
                flags.append("parity_not_integer")
        lap("parity")

    wilson = None
    if route in ("auto", "wilson"):
        wilson = wilson_z2(source, n_occ, **(wilson_options or {}))
        out["min_loop_gap_eV"] = wilson.min_gap_eV
        if wilson.min_gap_eV < gap_tol_eV:
            flags.append("gapless_on_loop")
            # the loop found a closing the gap's sampling missed: a metal after all
            extra_k = wilson.min_gap_k[None]
            take_gap(band_gap(ham, soc=soc, density=gap_density, metal_tol_eV=gap_tol_eV,
                              extra_k=extra_k))  # fmt: skip
        else:
            out["z2_wilson"] = wilson.z2
            flags += wilson.flags
        lap("wilson")
    if out["band_gap"].kind == "metal":  # the loops closed the gap: no index
        return finish(wilson)

    _choose_route(out, flags)
    return finish(wilson)


#: The :class:`Z2Result` fields :func:`z2_with_wilson` fills as its routes run.
_Z2_FIELDS = (
    "z2",
    "route",
    "z2_parity",
    "z2_wilson",
    "routes_agree",
    "n_occupied",
    "gap_eV",
    "direct_gap_eV",
    "min_loop_gap_eV",
    "trim_gap_eV",
    "inversion_error_eV",
)


def _choose_route(out: dict[str, Any], flags: list[str]) -> None:
    """Set ``z2`` and ``route`` from the routes that gave an index; flag a disagreement.

    Both routes: the parity index (exact at the TRIM) with ``routes_agree``; one route:
    its index.
    """
    parity_z, wilson_z = out["z2_parity"], out["z2_wilson"]
    if parity_z is not None and wilson_z is not None:
        out["routes_agree"] = parity_z == wilson_z
        out["z2"], out["route"] = parity_z, "parity+wilson"
        if not out["routes_agree"]:
            flags.append("routes_disagree")
    elif parity_z is not None:
        out["z2"], out["route"] = parity_z, "parity"
    elif wilson_z is not None:
        out["z2"], out["route"] = wilson_z, "wilson"

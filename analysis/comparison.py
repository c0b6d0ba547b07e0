"""Predicted versus DFT bands: band-energy errors near the Fermi level, gaps, splittings.

A validation rerun (GPAW or VASP) gives spinor band energies at its own k-points; the
prediction is a :class:`~socscreen.hamiltonian.Hamiltonian` whose bands are solved at the
same k-points and compared band by band.

Band matching
-------------
DFT codes carry different numbers of semicore and high-lying bands, so raw band indices
do not correspond. Bands are matched by their index counted from the Fermi level: band
``n_occ_pred - 1`` of the prediction (its highest occupied spinor band, one electron per
spinor band) is the DFT band ``n_occ_dft - 1``, where ``n_occ_dft`` is the DFT electron
count when it is known and otherwise the number of DFT states below the DFT Fermi level
averaged over the k-points (exact for an insulator).

Energy zero
-----------
The model's energies live in their own gauge (H0 is defined up to a constant times S),
so both sets are referred to a common point before comparing: by default the maximum of
the highest occupied band over the given k-points (the valence-band maximum of an
insulator), which unlike a smeared Fermi level does not move with the gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from socscreen.analysis.parity import find_inversion
from socscreen.hamiltonian import as_kpoints

if TYPE_CHECKING:
    from socscreen.hamiltonian import Hamiltonian

__all__ = [
    "BandComparison",
    "Alignment",
    "compare_band_energies",
    "compare_hamiltonians",
    "dft_occupied_bands",
    "z2_agree",
]

Alignment = Literal["vbm", "efermi", "none"]


class BandComparison(BaseModel):
    """Errors of predicted spinor bands against DFT bands at the DFT k-points.

    Stored as is in validation documents (``ValidationDocument.band_comparison``,
    ``band_comparison_path``, ``soc_off``; ``stores.schemas.validation`` names it
    ``BandComparisonDocument``), so these fields are the stored shape.
    """

    model_config = ConfigDict(frozen=True)

    band_mae: float = Field(
        description="Mean |E_pred - E_dft| over the (k, band) pairs whose DFT energy lies "
        "within +-window of the DFT Fermi level, energies aligned (see energy_shift) (eV)."
    )
    band_max_error: float = Field(description="Largest |E_pred - E_dft| over the same pairs (eV).")
    window: float = Field(
        description="Half-width of the energy window around the DFT Fermi level (eV)."
    )
    n_kpoints: int = Field(description="Number of k-points compared.")
    n_bands_compared: int = Field(
        description="Number of bands with at least one energy inside the window."
    )
    efermi_dft: float = Field(description="DFT Fermi level (eV, DFT energy scale).")
    efermi_predicted: float = Field(
        description="Predicted Fermi level (eV, model energy scale): the container's efermi, "
        "or the midpoint between its highest occupied and lowest empty band on the k-points."
    )
    gap_dft: float | None = Field(
        description="min E_cb - max E_vb over the k-points of the DFT bands (eV); 0 for a "
        "metal (bands overlap or an odd electron count), None without a conduction band."
    )
    gap_predicted: float | None = Field(description="The same for the predicted bands (eV).")
    spin_splitting_mae: float | None = Field(
        description="Mean absolute error of the splittings E[2m + 1] - E[2m] of the spinor "
        "band pairs inside the window (eV); None for a centrosymmetric crystal (time "
        "reversal and inversion keep every band Kramers-degenerate)."
    )
    energy_shift: float = Field(
        0.0,
        description="Constant subtracted from the predicted energies to align them with the "
        "DFT energies (eV).",
    )
    band_offset: int = Field(
        0,
        description="n_occ_dft - n_occ_pred: DFT band index minus predicted band index of "
        "matched bands.",
    )


def dft_occupied_bands(energies: np.ndarray, efermi: float, nelect: float | None = None) -> int:
    """Count the occupied spinor bands of a DFT band set.

    Parameters
    ----------
    energies
        Spinor band energies, eV, ``[n_k, n_bands]``.
    efermi
        Fermi level, eV.
    nelect
        Electrons treated by the DFT code (one per spinor band); counted from the
        energies when ``None``: the number of states below ``efermi`` averaged over the
        k-points and rounded (exact for an insulator, approximate for a metal).

    Raises
    ------
    ValueError
        If the count is not positive or leaves no band above it.
    """
    if nelect is not None:
        n_occ = int(round(nelect))
    else:
        n_occ = int(round(float((np.asarray(energies) < efermi).sum(axis=1).mean())))
    if not 0 < n_occ <= energies.shape[1]:
        raise ValueError(
            f"{n_occ} occupied bands do not fit the {energies.shape[1]} DFT bands given"
        )
    return n_occ


def _gap(energies: np.ndarray, n_occ: int) -> float | None:
    """Indirect gap over the k-points of spinor bands with ``n_occ`` filled, eV."""
    if n_occ >= energies.shape[1]:
        return None
    if n_occ % 2:
        return 0.0  # half-filled Kramers pair
    return float(max(0.0, energies[:, n_occ].min() - energies[:, n_occ - 1].max()))


def _midgap(energies: np.ndarray, n_occ: int) -> float:
    top = energies[:, n_occ - 1].max()
    if n_occ >= energies.shape[1]:
        return float(top)
    return float(0.5 * (top + energies[:, n_occ].min()))


def _centrosymmetric(ham: Hamiltonian) -> bool:
    structure = ham.structure
    numbers = np.asarray(structure.atomic_numbers)
    return find_inversion(structure.frac_coords, structure.lattice.matrix, numbers) is not None


def compare_band_energies(
    predicted: Hamiltonian,
    kpoints: Sequence[Sequence[float]] | np.ndarray,
    dft_energies: np.ndarray,
    dft_efermi: float,
    *,
    window: float = 2.0,
    soc: bool = True,
    dft_nelect: float | None = None,
    align: Alignment = "vbm",
) -> BandComparison:
    """Compare predicted spinor bands with DFT bands at the DFT k-points.

    Parameters
    ----------
    predicted
        Predicted Hamiltonian; ``nelect`` fixes its occupied bands.
    kpoints
        Fractional k-points of the DFT energies in the reciprocal basis of
        ``predicted.structure``'s cell, ``[n_k, 3]``.
    dft_energies
        Spinor (SOC) band energies of the DFT calculation, eV, ascending per k,
        ``[n_k, n_bands]`` (any number of bands; see the module docstring).
    dft_efermi
        DFT Fermi level, eV.
    window
        Half-width of the window around the DFT Fermi level inside which bands are
        compared, eV.
    soc
        Solve the predicted bands with spin-orbit coupling (``False`` for a comparison
        with a SOC-off DFT run; the spinor bands are then doubly degenerate).
    dft_nelect
        Electrons of the DFT calculation, if known (see :func:`dft_occupied_bands`).
    align
        Common energy zero: ``"vbm"`` the top of the highest occupied band of each set,
        ``"efermi"`` each set's Fermi level, ``"none"`` absolute energies.

    Returns
    -------
    BandComparison

    Raises
    ------
    ValueError
        If the shapes disagree, the window is not positive, the DFT energies are not
        ascending, or no band pair falls inside the window.
    """
    k = as_kpoints(kpoints)
    e_dft = np.asarray(dft_energies, dtype=float)
    if e_dft.ndim != 2 or len(e_dft) != len(k):
        raise ValueError(f"dft_energies must have shape [n_k={len(k)}, n_bands], got {e_dft.shape}")
    if window <= 0:
        raise ValueError(f"window must be positive (eV), got {window}")
    if np.any(np.diff(e_dft, axis=1) < -1e-8):
        raise ValueError("dft_energies must be ascending along the band axis at every k")
    if align not in ("vbm", "efermi", "none"):
        raise ValueError(f"align must be 'vbm', 'efermi' or 'none', got {align!r}")

    e_pred = np.asarray(predicted.eigh(k, soc=soc), dtype=float)  # [n_k, 2n]
    n_occ_pred = int(round(predicted.nelect))
    if not 0 < n_occ_pred <= e_pred.shape[1]:
        raise ValueError(
            f"predicted nelect={predicted.nelect} does not fit its {e_pred.shape[1]} bands"
        )
    n_occ_dft = dft_occupied_bands(e_dft, dft_efermi, dft_nelect)
    offset = n_occ_dft - n_occ_pred

    efermi_pred = (
        float(predicted.efermi) if predicted.efermi is not None else _midgap(e_pred, n_occ_pred)
    )
    if align == "vbm":
        shift = e_pred[:, n_occ_pred - 1].max() - e_dft[:, n_occ_dft - 1].max()
    elif align == "efermi":
        shift = efermi_pred - dft_efermi
    else:
        shift = 0.0

    # predicted band i <-> DFT band i + offset
    lo, hi = max(0, -offset), min(e_pred.shape[1], e_dft.shape[1] - offset)
    if hi <= lo:
        raise ValueError("the predicted and DFT band sets share no band after alignment")
    pred = e_pred[:, lo:hi] - shift
    dft = e_dft[:, lo + offset : hi + offset]
    inside = np.abs(dft - dft_efermi) <= window
    if not inside.any():
        raise ValueError(
            f"no DFT band lies within {window} eV of the DFT Fermi level {dft_efermi:.3f} eV"
        )
    error = np.abs(pred - dft)[inside]

    splitting_mae = None
    if not _centrosymmetric(predicted):
        first = lo + (lo + offset) % 2  # predicted index whose DFT partner starts a pair
        n_pairs = (hi - first) // 2
        if n_pairs > 0:
            sl_p = slice(first, first + 2 * n_pairs)
            sl_d = slice(first + offset, first + offset + 2 * n_pairs)
            split_p = e_pred[:, sl_p][:, 1::2] - e_pred[:, sl_p][:, 0::2]
            dft_pairs = e_dft[:, sl_d]
            split_d = dft_pairs[:, 1::2] - dft_pairs[:, 0::2]
            pair_inside = (
                (np.abs(dft_pairs - dft_efermi) <= window).reshape(len(k), n_pairs, 2).any(axis=2)
            )
            if pair_inside.any():
                splitting_mae = float(np.abs(split_p - split_d)[pair_inside].mean())

    return BandComparison(
        band_mae=float(error.mean()),
        band_max_error=float(error.max()),
        window=float(window),
        n_kpoints=len(k),
        n_bands_compared=int(inside.any(axis=0).sum()),
        efermi_dft=float(dft_efermi),
        efermi_predicted=efermi_pred,
        gap_dft=_gap(e_dft, n_occ_dft),
        gap_predicted=_gap(e_pred, n_occ_pred),
        spin_splitting_mae=splitting_mae,
        energy_shift=float(shift),
        band_offset=int(offset),
    )


def compare_hamiltonians(
    predicted: Hamiltonian,
    reference: Hamiltonian,
    kpoints: Sequence[Sequence[float]] | np.ndarray,
    *,
    window: float = 2.0,
    soc: bool = True,
    align: Alignment = "vbm",
) -> BandComparison:
    """Compare a predicted Hamiltonian with a DFT one (e.g. GPAW) at given k-points.

    The reference bands are solved from ``reference`` (same cell as ``predicted``) and
    its ``nelect`` and ``efermi`` are used (``efermi`` defaults to its midgap energy on
    the k-points).

    Parameters
    ----------
    predicted, reference
        Predicted and DFT Hamiltonians of the same crystal.
    kpoints
        Fractional k-points, ``[n_k, 3]``.
    window, soc, align
        As in :func:`compare_band_energies`.

    Raises
    ------
    ValueError
        If the two cells differ.
    """
    if not np.allclose(
        predicted.structure.lattice.matrix, reference.structure.lattice.matrix, atol=1e-4
    ):
        raise ValueError("predicted and reference Hamiltonians have different cells")
    k = as_kpoints(kpoints)
    e_ref = np.asarray(reference.eigh(k, soc=soc), dtype=float)
    n_occ = int(round(reference.nelect))
    efermi = reference.efermi if reference.efermi is not None else _midgap(e_ref, n_occ)
    return compare_band_energies(
        predicted,
        k,
        e_ref,
        efermi,
        window=window,
        soc=soc,
        dft_nelect=reference.nelect,
        align=align,
    )


def z2_agree(predicted: Sequence[int] | None, dft: Sequence[int] | None) -> bool | None:
    """Whether two sets of Z2 indices agree; ``None`` if either is unknown."""
    if predicted is None or dft is None:
        return None
    return [int(v) for v in predicted] == [int(v) for v in dft]

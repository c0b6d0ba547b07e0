"""VASP outputs against the prediction: bands, gaps, splittings and parity Z2.

:func:`read_vasp_runs` parses the three runs of one spin setting (static SCF, band path,
TRIM with phase-resolved projections) from their folders; :func:`vasp_validation_document`
compares them with the predicted Hamiltonian and builds the ``ValidationDocument``
(route ``"vasp"``). Plain functions, no jobflow: the job in
:mod:`socscreen.makers.vasp_validation` calls them.

What is compared
----------------
* ``band_comparison``: spinor band energies on the static run's uniform mesh plus the 8
  TRIM (the predicted Hamiltonian solved at the same fractional k of the same cell);
* ``band_comparison_path``: along the band path;
* ``gap_dft``: indirect gap over all k-points of the three runs; ``spin_splitting_dft``:
  largest splitting of the gap band pairs on the path;
* ``z2_dft``: Fu-Kane indices from the parities at the TRIM
  (:func:`~socscreen.analysis.vasp_parity.run_parity_z2`), with the per-TRIM products and
  their confidence in ``dft_details["parity"]``;
* the SOC-off twin, when run: ``soc_off`` (bands on mesh plus TRIM without SOC on both
  sides) and ``z2_dft_soc_off``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from socscreen.analysis.bands import spin_splitting
from socscreen.analysis.comparison import BandComparison, compare_band_energies, z2_agree
from socscreen.analysis.vasp_bands import VaspBands, read_vasp_bands
from socscreen.analysis.vasp_parity import ProjectionZ2, run_parity_z2
from socscreen.makers.vasp.runs import RUNS
from socscreen.stores.schemas.validation import ValidationDocument, ValidationTarget

if TYPE_CHECKING:
    from socscreen.hamiltonian import Hamiltonian

__all__ = [
    "MIN_PARITY_CONFIDENCE",
    "VaspRuns",
    "combined_gap",
    "read_vasp_runs",
    "vasp_validation_document",
]

#: Parity estimates with ``|xi|`` below this (somewhere at the TRIM) are flagged.
MIN_PARITY_CONFIDENCE = 0.5


@dataclass(frozen=True)
class VaspRuns:
    """Parsed outputs of the three VASP runs of one spin setting.

    Attributes
    ----------
    static, bands, trim
        Bands of the SCF run (uniform mesh), the band path and the TRIM run.
    parity
        Fu-Kane Z2 from the TRIM run's PROCAR.
    dirs
        The run folders (``static``, ``bands``, ``parity``).
    """

    static: VaspBands
    bands: VaspBands
    trim: VaspBands
    parity: ProjectionZ2
    dirs: dict[str, str]

    @property
    def soc(self) -> bool:
        """Spin-orbit coupling was on."""
        return self.static.soc

    def mesh_and_trim(self) -> tuple[np.ndarray, np.ndarray]:
        """k-points ``[n_k, 3]`` and spinor energies (eV) of the SCF mesh plus the TRIM.

        Both runs are cut to their common number of bands.
        """
        n_bands = min(self.static.spinor_energies.shape[1], self.trim.spinor_energies.shape[1])
        k = np.concatenate([self.static.kpoints, self.trim.kpoints])
        e = np.concatenate(
            [self.static.spinor_energies[:, :n_bands], self.trim.spinor_energies[:, :n_bands]]
        )
        return k, e


def read_vasp_runs(dirs: Mapping[str, str]) -> VaspRuns:
    """Parse the runs of one spin setting from their folders.

    Parameters
    ----------
    dirs
        Folder of each run by name (:data:`RUNS`); atomate2's ``host:/path``
        ``dir_name`` values are accepted.

    Raises
    ------
    ValueError
        If a run is missing or the runs disagree on spin-orbit coupling or cell.
    """
    missing = [name for name in RUNS if name not in dirs]
    if missing:
        raise ValueError(f"VASP run folder(s) {missing} not given")
    static, bands, trim = (read_vasp_bands(dirs[name]) for name in RUNS)
    if len({static.soc, bands.soc, trim.soc}) != 1:
        raise ValueError("the static, band and TRIM runs disagree on LSORBIT")
    for run in (bands, trim):
        if not np.allclose(run.structure.lattice.matrix, static.structure.lattice.matrix):
            raise ValueError("the VASP runs do not share one cell")
    return VaspRuns(
        static=static,
        bands=bands,
        trim=trim,
        parity=run_parity_z2(dirs["parity"]),
        dirs={name: str(dirs[name]) for name in RUNS},
    )


def combined_gap(runs: VaspRuns) -> float:
    """Indirect gap over the k-points of all three runs, eV (0 where bands overlap)."""
    n_occ = runs.static.n_occupied
    parts = (runs.static.energies, runs.bands.energies, runs.trim.energies)
    vbm = max(float(e[:, n_occ - 1].max()) for e in parts)
    cbm = min(float(e[:, n_occ].min()) for e in parts)
    return max(0.0, cbm - vbm)


def _compare(
    predicted: Hamiltonian, runs: VaspRuns, window: float, path: bool = False
) -> BandComparison:
    """Predicted vs VASP bands on the mesh plus TRIM (or the path), same spin setting."""
    if path:
        k, e = runs.bands.kpoints, runs.bands.spinor_energies
    else:
        k, e = runs.mesh_and_trim()
    return compare_band_energies(
        predicted,
        k,
        e,
        runs.static.efermi,
        window=window,
        soc=runs.soc,
        dft_nelect=runs.static.nelect,
    )


def _parity_details(parity: ProjectionZ2) -> dict[str, Any]:
    return {
        "z2": parity.z2,
        "reason": parity.reason,
        "confidence": parity.confidence,
        "inversion_centre": parity.inversion_centre,
        "trims": [dataclasses.asdict(t) for t in parity.trims],
    }


def _run_details(runs: VaspRuns) -> dict[str, Any]:
    return {
        "parity": _parity_details(runs.parity),
        "efermi": {"static": runs.static.efermi, "bands": runs.bands.efermi},
        "gap": combined_gap(runs),
        "nelect": runs.static.nelect,
        "nbands": int(runs.static.energies.shape[1]),
        "n_kpoints": {
            "static": len(runs.static.kpoints),
            "bands": len(runs.bands.kpoints),
            "parity": len(runs.trim.kpoints),
        },
        "dirs": runs.dirs,
    }


def _direct_gap(runs: VaspRuns) -> float:
    """Smallest direct gap over the k-points of all three runs, eV."""
    n_occ = runs.static.n_occupied
    parts = (runs.static.energies, runs.bands.energies, runs.trim.energies)
    return min(float((e[:, n_occ] - e[:, n_occ - 1]).min()) for e in parts)


def _flags(runs: VaspRuns) -> list[str]:
    flags = []
    if combined_gap(runs) <= 0:  # bands overlap: a semimetal keeps a direct gap everywhere
        flags.append("semimetal" if _direct_gap(runs) > 0 else "metal")
    if runs.parity.reason is not None:
        flags.append(f"z2_{runs.parity.reason}")
    elif runs.parity.confidence < MIN_PARITY_CONFIDENCE:
        flags.append("z2_parity_low_confidence")
    return flags


#: VASP's GGA tags (vasprun.xml parameters, any case) by functional name.
_FUNCTIONALS = {"PE": "PBE", "PS": "PBEsol", "91": "PW91", "--": "POTCAR default (PBE)"}


def _dft_settings(runs: VaspRuns) -> dict[str, Any]:
    p = runs.static.parameters
    return {
        "code": "VASP",
        "functional": _FUNCTIONALS.get(str(p.get("GGA", "--")).strip().upper(), p.get("GGA")),
        "encut": p.get("ENMAX"),
        "soc": runs.soc,
        "lsorbit": bool(p.get("LSORBIT", False)),
        "lnoncollinear": bool(p.get("LNONCOLLINEAR", False)),
        "saxis": [float(x) for x in p.get("SAXIS", (0.0, 0.0, 1.0))],
        "isym": p.get("ISYM"),
        "nelect": runs.static.nelect,
        "n_kpoints_scf": len(runs.static.kpoints),
        "n_kpoints_path": len(runs.bands.kpoints),
    }


def vasp_validation_document(
    target: ValidationTarget,
    predicted: Hamiltonian,
    soc: VaspRuns,
    soc_off: VaspRuns | None = None,
    *,
    window: float = 2.0,
    extra_flags: list[str] | None = None,
) -> ValidationDocument:
    """Compare the VASP runs of a target with its prediction.

    Parameters
    ----------
    target
        The material and its stored prediction (Z2, gap, splitting, links).
    predicted
        The predicted Hamiltonian of ``target``'s structure (same cell as the runs).
    soc
        The spin-orbit runs.
    soc_off
        The SOC-off twin runs, if any.
    window
        Half-width of the band-comparison window around the VASP Fermi level, eV.
    extra_flags
        Further flags for ``dft_flags`` (e.g. a changed model version).

    Returns
    -------
    ValidationDocument
        Route ``"vasp"``; ``timings`` is left to the caller.

    Raises
    ------
    ValueError
        If ``soc`` has spin-orbit coupling off or ``soc_off`` has it on, or the
        predicted cell differs from the VASP cell.
    """
    if not soc.soc or (soc_off is not None and soc_off.soc):
        raise ValueError("pass the LSORBIT runs as `soc` and the SOC-off twin as `soc_off`")
    if not np.allclose(
        predicted.structure.lattice.matrix, soc.static.structure.lattice.matrix, atol=1e-4
    ):
        raise ValueError("the predicted Hamiltonian and the VASP runs have different cells")
    n_occ = soc.static.n_occupied
    splitting = spin_splitting(soc.bands.energies, soc.bands.kpoints, n_occ)
    details: dict[str, Any] = {"soc": _run_details(soc)}
    if soc_off is not None:
        details["soc_off"] = _run_details(soc_off)
    return ValidationDocument.of_target(
        target,
        "vasp",
        dft_settings=_dft_settings(soc),
        band_comparison=_compare(predicted, soc, window),
        band_comparison_path=_compare(predicted, soc, window, path=True),
        z2_dft=soc.parity.z2,
        z2_route_dft="parity",
        z2_agree=z2_agree(target.z2_predicted, soc.parity.z2),
        gap_dft=combined_gap(soc),
        gap_predicted=target.gap_predicted,
        spin_splitting_dft=max(splitting.max_valence_eV, splitting.max_conduction_eV),
        spin_splitting_predicted=target.spin_splitting_predicted,
        dft_flags=sorted(set(_flags(soc) + list(extra_flags or []))),
        soc_off=None if soc_off is None else _compare(predicted, soc_off, window),
        z2_dft_soc_off=None if soc_off is None else soc_off.parity.z2,
        dft_details=details,
    )

"""GPAW validation route: the reference calculation of a flagged material vs its prediction.

:func:`validate_with_gpaw` (plain function, no jobflow) runs the GPAW LCAO reference of
the target's structure with the corpus settings
(:func:`~socscreen.dft.reference.compute_gpaw_reference`) and compares:

* band energies within a window around the DFT Fermi level on the DFT's own k-grid (the
  full-zone H(R) grid, where GPAW's H(k) is exact) plus the TRIM, and along the
  high-symmetry path (:func:`~socscreen.analysis.comparison.compare_hamiltonians`);
* fundamental gaps and the largest spin splitting at the gap, by the same functions the
  campaign analysis uses (:mod:`socscreen.analysis.screening`), on both Hamiltonians;
* Z2: the indices stored with the prediction against
  :func:`~socscreen.analysis.topology.z2_invariants` of the DFT Hamiltonian;
* optionally the SOC-off twin: GPAW's spin-orbit term is non-self-consistent, so the
  SOC-off calculation is the same Hamiltonian without its SOC blocks, compared with the
  prediction without SOC at no extra DFT cost.

:class:`GPAWValidationMaker` wraps it as a jobflow job that stores the
``ValidationDocument`` and feeds the DFT Hamiltonian into the training-data store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from jobflow import Maker

from socscreen.analysis.bands import band_structure
from socscreen.analysis.bloch import monkhorst_pack, periodic_axes, trim_points
from socscreen.analysis.comparison import compare_hamiltonians, z2_agree
from socscreen.analysis.gaps import band_gap
from socscreen.analysis.screening import gap_flags, max_spin_splitting, stored_gap, z2_flags
from socscreen.analysis.topology import z2_invariants
from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.dft.reference import compute_gpaw_reference
from socscreen.makers.batch import campaign_job, campaign_stores
from socscreen.makers.validation import model_flags, predicted_hamiltonian, store_validation
from socscreen.stores.schemas.validation import ValidationDocument, ValidationTarget
from socscreen.stores.training_data import write_training_file
from socscreen.stores.validations import save_training_record

if TYPE_CHECKING:
    from socscreen.hamiltonian import Hamiltonian

__all__ = ["DEFAULT_WINDOW", "GPAWValidationMaker", "comparison_kpoints", "validate_with_gpaw"]

#: Half-width of the band-comparison window around the DFT Fermi level (eV).
DEFAULT_WINDOW = 2.0

Progress = Callable[[str], None]


def comparison_kpoints(dft: Hamiltonian) -> np.ndarray:
    """Return the DFT k-points: the full-zone H(R) grid (``meta["hr_grid"]``) and the TRIM."""
    grid = tuple(int(n) for n in dft.meta["hr_grid"])
    return np.concatenate([monkhorst_pack(grid), trim_points(periodic_axes(dft.R))])


def validate_with_gpaw(
    target: ValidationTarget,
    predicted: Hamiltonian,
    settings: GPAWReferenceSettings | None = None,
    *,
    window: float = DEFAULT_WINDOW,
    line_density: float = 20.0,
    z2_route: Literal["auto", "parity", "wilson"] = "auto",
    soc_off_twin: bool = False,
    progress: Progress | None = None,
) -> tuple[ValidationDocument, Hamiltonian]:
    """Run the GPAW reference of a target and compare it with the prediction.

    Parameters
    ----------
    target
        The material and its stored prediction (Z2 indices, model version, links).
    predicted
        The predicted Hamiltonian of ``target`` (:func:`predicted_hamiltonian`).
    settings
        GPAW settings; default the corpus settings.
    window
        Half-width of the band-comparison window around the DFT Fermi level (eV).
    line_density
        k-points per 1/Angstrom along the band path.
    z2_route
        Z2 route for the DFT Hamiltonian (see :func:`z2_invariants`).
    soc_off_twin
        Also compare without spin-orbit coupling (``soc_off`` of the document).
    progress
        Called with the name of each stage as it starts.

    Returns
    -------
    tuple
        The :class:`ValidationDocument` (``dft_hamiltonian_path`` unset) and the DFT
        Hamiltonian.
    """
    report = progress or (lambda stage: None)
    settings = settings or GPAWReferenceSettings()
    timings: dict[str, float] = {}
    start = time.perf_counter()

    report("gpaw")
    dft = compute_gpaw_reference(target.get_structure(), settings, soc=True)
    timings["dft"] = time.perf_counter() - start

    report("compare")
    lap = time.perf_counter()
    kpoints = comparison_kpoints(dft)
    on_grid = compare_hamiltonians(predicted, dft, kpoints, window=window)
    bands_dft = band_structure(dft, soc=True, line_density=line_density)
    bands_predicted = band_structure(predicted, soc=True, line_density=line_density)
    on_path = compare_hamiltonians(predicted, dft, bands_dft.path.kpoints, window=window)
    soc_off = (
        compare_hamiltonians(predicted, dft, kpoints, window=window, soc=False)
        if soc_off_twin
        else None
    )
    gap_dft, gap_predicted = band_gap(dft, soc=True), band_gap(predicted, soc=True)
    timings["compare"] = time.perf_counter() - lap

    report("z2")
    lap = time.perf_counter()
    z2 = z2_invariants(dft, route=z2_route, soc=True)
    timings["z2"] = time.perf_counter() - lap
    timings["total"] = time.perf_counter() - start

    flags = gap_flags(gap_dft) + z2_flags(z2)  # the campaign's rules, without its min_gap
    doc = ValidationDocument.of_target(
        target,
        "gpaw",
        prediction_source=predicted.meta.get("prediction_source"),
        dft_settings={
            "code": "GPAW",
            "version": dft.meta["gpaw_version"],
            **settings.model_dump(mode="json"),
            "kscf": dft.meta["kscf"],
            "hr_grid": dft.meta["hr_grid"],
            "soc": True,
            "soc_scheme": "one-centre PAW, non-self-consistent",
        },
        band_comparison=on_grid,
        band_comparison_path=on_path,
        z2_dft=z2.z2,
        z2_route_dft=z2.route,
        z2_agree=z2_agree(target.z2_predicted, z2.z2),
        gap_dft=stored_gap(gap_dft),
        gap_predicted=stored_gap(gap_predicted),
        spin_splitting_dft=max_spin_splitting(bands_dft),
        spin_splitting_predicted=max_spin_splitting(bands_predicted),
        dft_flags=sorted(set(flags + model_flags(target, predicted))),
        soc_off=soc_off,
        timings={k: round(v, 3) for k, v in timings.items()},
    )
    return doc, dft


@dataclass
class GPAWValidationMaker(Maker):
    """Validate one predicted material with the GPAW reference calculation.

    The job takes the prediction the campaign stored (or predicts again with its
    predictor, :func:`~socscreen.makers.validation.predicted_hamiltonian`), runs
    :func:`validate_with_gpaw`, writes the DFT Hamiltonian into the training-data store
    (``feedback``) and upserts the ``ValidationDocument`` into ``validations``.

    Parameters
    ----------
    name
        Job name.
    settings
        Fields of :class:`GPAWReferenceSettings` to change from the corpus defaults
        (keep the defaults for Hamiltonians that join the training data); a plain dict
        because FireWorks stores makers as JSON and would turn a settings object into
        its string.
    soc_off_twin
        Also compare without spin-orbit coupling.
    window
        Band-comparison window around the DFT Fermi level (eV).
    line_density
        k-points per 1/Angstrom along the band path.
    z2_route
        Z2 route of the DFT Hamiltonian.
    feedback
        Write the DFT Hamiltonian into the training-data store.
    training_dir
        Training-data folder; ``None``: the worker's
        :func:`~socscreen.stores.training_data.training_dir`.
    device
        Torch device of the prediction (default: GPU when present).
    """

    name: str = "gpaw validation"
    settings: dict[str, Any] = field(default_factory=dict)
    soc_off_twin: bool = False
    window: float = DEFAULT_WINDOW
    line_density: float = 20.0
    z2_route: Literal["auto", "parity", "wilson"] = "auto"
    feedback: bool = True
    training_dir: str | None = None
    device: str | None = None

    @campaign_job
    def make(self, target: ValidationTarget) -> ValidationDocument:
        """Run the validation of ``target`` and store its document (and training file)."""
        start = time.perf_counter()
        predicted = predicted_hamiltonian(target, self.device)
        seconds = time.perf_counter() - start
        doc, dft = validate_with_gpaw(
            target,
            predicted,
            GPAWReferenceSettings(**self.settings),
            window=self.window,
            line_density=self.line_density,
            z2_route=self.z2_route,
            soc_off_twin=self.soc_off_twin,
        )
        doc.timings["predict"] = round(seconds, 3)
        if self.feedback:
            record = write_training_file(
                dft, target.material_id, target.campaign, self.training_dir
            )
            with campaign_stores("training_data") as (records,):
                save_training_record(records, record)
            doc.dft_hamiltonian_path = record.path
        store_validation(doc)
        return doc

"""VASP validation route: atomate2 spin-orbit runs of a flagged material vs its prediction.

:class:`VaspValidationMaker` builds a jobflow ``Flow`` for one
:class:`~socscreen.stores.schemas.validation.ValidationTarget`:

* three atomate2 VASP jobs with spin-orbit coupling (non-collinear, ``vasp_ncl``): SCF
  static, band path, TRIM run with phase-resolved projections
  (:class:`~socscreen.makers.vasp.runs.VaspRunMakers`);
* with ``soc_off_twin`` the same three jobs collinear without SOC (``vasp_std``);
* a final job, :func:`compare_vasp_runs`, that takes the campaign's stored prediction
  (:func:`~socscreen.makers.validation.predicted_hamiltonian`; unless a Hamiltonian is
  given), parses the VASP outputs
  (``vasprun.xml``, ``PROCAR``; no WAVECAR), compares
  (:func:`~socscreen.makers.vasp.compare.vasp_validation_document`), stores the
  ``ValidationDocument`` in ``validations`` and returns it; ``flow.output`` is that
  document.

The VASP jobs are atomate2's own (``StaticMaker``, ``NonSCFMaker``), so they need what
atomate2 needs: a JobStore with an additional store named ``data``, POTCARs
(``PMG_VASP_PSP_DIR``) and the VASP executables (``ATOMATE2_VASP_NCL_CMD``,
``ATOMATE2_VASP_CMD``); the compare job reads the run folders, so it must run where they
are visible (the same shared file system, as atomate2's own chained jobs).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobflow import Flow, Maker

from socscreen.makers.batch import campaign_job
from socscreen.makers.validation import model_flags, predicted_hamiltonian, store_validation
from socscreen.makers.vasp.compare import read_vasp_runs, vasp_validation_document
from socscreen.makers.vasp.runs import VaspRunMakers
from socscreen.stores.schemas.validation import ValidationDocument, ValidationTarget

if TYPE_CHECKING:
    from socscreen.hamiltonian import Hamiltonian

__all__ = ["VaspValidationMaker", "compare_vasp_runs"]


@campaign_job
def compare_vasp_runs(
    target: ValidationTarget,
    soc_dirs: dict[str, str],
    soc_off_dirs: dict[str, str] | None = None,
    predicted: Hamiltonian | None = None,
    window: float = 2.0,
    device: str | None = None,
) -> ValidationDocument:
    """Compare the VASP runs of ``target`` with its prediction and store the document.

    Parameters
    ----------
    target
        The material and its stored prediction.
    soc_dirs
        Folders of the spin-orbit runs (``static``, ``bands``, ``parity``).
    soc_off_dirs
        Folders of the SOC-off twin runs, if run.
    predicted
        The predicted Hamiltonian; ``None``: the one the campaign stored, or the
        target's structure predicted again by its campaign's predictor.
    window
        Half-width of the band-comparison window around the VASP Fermi level, eV.
    device
        Torch device of the prediction (default: GPU when present).

    Returns
    -------
    ValidationDocument
        Route ``"vasp"``, also upserted into the ``validations`` collection.
    """
    start = time.perf_counter()
    timings: dict[str, float] = {}
    if predicted is None:
        predicted = predicted_hamiltonian(target, device)
        timings["predict"] = time.perf_counter() - start
    lap = time.perf_counter()
    soc = read_vasp_runs(soc_dirs)
    soc_off = None if soc_off_dirs is None else read_vasp_runs(soc_off_dirs)
    timings["parse"] = time.perf_counter() - lap
    lap = time.perf_counter()
    doc = vasp_validation_document(
        target,
        predicted,
        soc,
        soc_off,
        window=window,
        extra_flags=model_flags(target, predicted),
    )
    timings["compare"] = time.perf_counter() - lap
    timings["total"] = time.perf_counter() - start
    doc.timings = {k: round(v, 3) for k, v in timings.items()}
    store_validation(doc)
    return doc


@dataclass
class VaspValidationMaker(Maker):
    """Validate one predicted material with atomate2 VASP runs (spin-orbit, non-collinear).

    Parameters
    ----------
    name
        Flow name.
    soc_off_twin
        Also run the collinear SOC-off twin (``vasp_std``) and compare without SOC.
    magmoms
        Initial moments of some elements, Cartesian 3-vectors (Bohr magnetons); every
        other element starts at zero (the usual choice for time-reversal-symmetric
        topological insulators).
    window
        Half-width of the band-comparison window around the VASP Fermi level, eV.
    soc_makers
        atomate2 makers of the spin-orbit runs (:meth:`VaspRunMakers.spin_orbit`;
        replace them to change ENCUT, meshes or the path density).
    soc_off_makers
        atomate2 makers of the SOC-off twin.
    device
        Torch device of the prediction in the compare job.
    """

    name: str = "vasp validation"
    soc_off_twin: bool = False
    magmoms: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    window: float = 2.0
    soc_makers: VaspRunMakers = field(default_factory=lambda: VaspRunMakers.spin_orbit(True))
    soc_off_makers: VaspRunMakers = field(default_factory=lambda: VaspRunMakers.spin_orbit(False))
    device: str | None = None

    def make(self, target: ValidationTarget, predicted: Hamiltonian | None = None) -> Flow:
        """Build the VASP runs and the comparison of ``target``.

        Parameters
        ----------
        target
            The material to validate (its ``structure`` is the cell of the prediction).
        predicted
            The predicted Hamiltonian, if at hand; ``None`` re-predicts in the compare job.

        Returns
        -------
        Flow
            VASP jobs then the compare job; ``flow.output`` is the ``ValidationDocument``.
        """
        structure = target.get_structure()
        jobs, soc_dirs = self.soc_makers.for_structure(structure, self.magmoms).make_jobs(structure)
        soc_off_dirs: Mapping[str, str] | None = None
        if self.soc_off_twin:
            twin_makers = self.soc_off_makers.for_structure(structure)
            twin_jobs, soc_off_dirs = twin_makers.make_jobs(structure)
            jobs += twin_jobs
        compare = compare_vasp_runs(
            target,
            soc_dirs,
            soc_off_dirs,
            predicted=predicted,
            window=self.window,
            device=self.device,
        )
        compare.name = f"{self.name} compare"
        return Flow(
            [*jobs, compare], output=compare.output, name=f"{self.name} {target.material_id}"
        )

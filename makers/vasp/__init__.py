"""VASP parts of the validation route: input settings, atomate2 run makers, comparison.

The route's entry point is :class:`socscreen.makers.vasp_validation.VaspValidationMaker`.
"""

from socscreen.makers.vasp.compare import VaspRuns, read_vasp_runs, vasp_validation_document
from socscreen.makers.vasp.runs import VaspRunMakers
from socscreen.makers.vasp.sets import (
    band_path_kpoints,
    noncollinear_magmom,
    spin_orbit_incar,
    trim_kpoints,
    vasp_run_kwargs,
)

__all__ = [
    "VaspRunMakers",
    "VaspRuns",
    "band_path_kpoints",
    "noncollinear_magmom",
    "read_vasp_runs",
    "spin_orbit_incar",
    "trim_kpoints",
    "vasp_run_kwargs",
    "vasp_validation_document",
]

"""The atomate2 VASP jobs of one validation: SCF static, band path and TRIM parities.

Each spin setting (spin-orbit on, or the SOC-off twin) runs three atomate2 jobs:

1. ``static``: self-consistent run on atomate2's uniform mesh (writes the CHGCAR);
2. ``bands``: non-self-consistent run along the high-symmetry path of the input cell
   (band energies, ``vasprun.xml``);
3. ``parity``: non-self-consistent run at the 8 TRIM with ``LORBIT = 12``, whose PROCAR
   holds the phase-resolved projections the parity eigenvalues come from.

Splitting the path from the TRIM keeps the phase-resolved PROCAR to 8 k-points instead of
the whole path (it grows with k-points times bands times ions). Neither the static nor
the path run writes projections (``LORBIT`` unset), and the static run leaves out
atomate2's all-electron and potential files (``LAECHG``, ``LVTOT``), which the
validation does not use.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from atomate2.vasp.jobs.core import NonSCFMaker, StaticMaker
from atomate2.vasp.sets.core import NonSCFSetGenerator, StaticSetGenerator
from monty.json import MSONable
from pymatgen.core import Structure

from socscreen.makers.vasp.sets import (
    band_path_kpoints,
    noncollinear_magmom,
    spin_orbit_incar,
    trim_kpoints,
    vasp_run_kwargs,
)

if TYPE_CHECKING:
    from jobflow import Job, OutputReference

__all__ = ["RUNS", "STATIC_OFF", "VaspRunMakers"]

#: Names of the three runs of one spin setting, in the order they are made.
RUNS = ("static", "bands", "parity")

#: atomate2 static outputs the validation does not need (``None`` removes the INCAR key).
STATIC_OFF = {"LORBIT": None, "LAECHG": None, "LVTOT": None}


def _prefix(soc: bool) -> str:
    return "soc" if soc else "soc-off"


@dataclass
class VaspRunMakers(MSONable):
    """The atomate2 makers of the three VASP runs of one spin setting.

    Attributes
    ----------
    soc
        Spin-orbit coupling on (non-collinear, ``vasp_ncl``) or off (collinear twin,
        ``vasp_std``).
    static
        Self-consistent run.
    bands
        Band path (its generator's ``line_density``, k-points per 1/Angstrom, sets the
        path sampling).
    parity
        TRIM run with phase-resolved projections.
    """

    soc: bool = True
    static: StaticMaker = field(default_factory=StaticMaker)
    bands: NonSCFMaker = field(default_factory=NonSCFMaker)
    parity: NonSCFMaker = field(default_factory=NonSCFMaker)

    @classmethod
    def spin_orbit(cls, soc: bool = True, line_density: float = 20.0) -> VaspRunMakers:
        """Makers with the spin-orbit (or SOC-off) settings of :mod:`.sets`.

        Parameters
        ----------
        soc
            Spin-orbit coupling on or off.
        line_density
            k-points per 1/Angstrom along the band path.
        """
        incar = spin_orbit_incar(soc)
        run = vasp_run_kwargs(soc)
        prefix = _prefix(soc)
        static = StaticMaker(
            name=f"{prefix} static",
            input_set_generator=StaticSetGenerator(
                user_incar_settings={**incar, **STATIC_OFF}, auto_ispin=False
            ),
            run_vasp_kwargs=dict(run),
        )
        # NBANDS as in the static run (nbands_factor 1): no optics, only the bands at E_F
        bands = NonSCFMaker(
            name=f"{prefix} band structure",
            input_set_generator=NonSCFSetGenerator(
                user_incar_settings={**incar, "LORBIT": None},
                line_density=line_density,
                nbands_factor=1.0,
                auto_ispin=False,
            ),
            run_vasp_kwargs=dict(run),
        )
        parity = NonSCFMaker(
            name=f"{prefix} trim parity",
            input_set_generator=NonSCFSetGenerator(
                user_incar_settings={**incar, "LORBIT": 12},
                nbands_factor=1.0,
                auto_ispin=False,
            ),
            run_vasp_kwargs=dict(run),
            task_document_kwargs={"parse_bandstructure": False},
        )
        return cls(soc=soc, static=static, bands=bands, parity=parity)

    def for_structure(
        self, structure: Structure, magmoms: Mapping[str, Sequence[float]] | None = None
    ) -> VaspRunMakers:
        """Return copies with the settings that depend on the crystal.

        Adds ``MAGMOM`` (3-vectors per element, spin-orbit runs only), the explicit band
        path in the structure's own cell and its 8 TRIM as KPOINTS.

        Parameters
        ----------
        structure
            The crystal the runs start from.
        magmoms
            Initial moments of some elements, Cartesian 3-vectors (Bohr magnetons).
        """
        out = copy.deepcopy(self)
        if self.soc:
            magmom = noncollinear_magmom(structure, magmoms)
            for maker in (out.static, out.bands, out.parity):
                maker.input_set_generator.user_incar_settings["MAGMOM"] = magmom
        elif magmoms:
            raise ValueError("initial moments need the spin-orbit (non-collinear) runs")
        density = out.bands.input_set_generator.line_density
        out.bands.input_set_generator.user_kpoints_settings = band_path_kpoints(structure, density)
        out.parity.input_set_generator.user_kpoints_settings = trim_kpoints(structure)
        return out

    def make_jobs(self, structure: Structure) -> tuple[list[Job], dict[str, OutputReference]]:
        """Build the static, band-path and TRIM jobs (call :meth:`for_structure` first).

        The non-self-consistent runs start from the static run's folder and structure.

        Returns
        -------
        tuple
            The three jobs and references to their run folders (``static``, ``bands``,
            ``parity``; atomate2's ``dir_name``).
        """
        static = self.static.make(structure)
        start = {"prev_dir": static.output.dir_name, "mode": "line"}
        bands = self.bands.make(static.output.structure, **start)
        parity = self.parity.make(static.output.structure, **start)
        jobs = [static, bands, parity]
        dirs = {name: job.output.dir_name for name, job in zip(RUNS, jobs, strict=True)}
        return jobs, dirs

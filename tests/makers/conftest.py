"""Real GPAW runs shared by the maker tests: one per fixture structure per session."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest

from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.gpaw_reference import GPAWReferenceSettings, compute_gpaw_reference

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

@dataclass
class GPAWRun:
    """A fresh reference calculation of a fixture structure and GPAW's own SOC bands."""

    name: str
    fixture: Hamiltonian  # the corpus-format fixture file
    settings: GPAWReferenceSettings
    computed: Hamiltonian  # compute_gpaw_reference on the fixture's structure
    trim_k: np.ndarray  # [8, 3] fractional, in GPAW's order
    trim_soc_eigenvalues: np.ndarray  # [8, 2 nao] eV, gpaw.spinorbit.soc_eigenstates


def gpaw_soc_eigenvalues_at_trim(
    structure, settings: GPAWReferenceSettings
) -> tuple[np.ndarray, np.ndarray]:
    """GPAW's own SOC eigenvalues at the 8 TRIM from an independent SCF (same settings).

    A fixed-density calculation on the Gamma-centred 2x2x2 mesh (symmetry off, every
    LCAO band) holds exactly the TRIM; ``soc_eigenstates`` diagonalises the SOC problem
    in the complete LCAO space there.
    """
    from ase import Atoms
    from gpaw.calculator import GPAW
    from gpaw.spinorbit import soc_eigenstates

    atoms = Atoms(
        numbers=structure.atomic_numbers,
        cell=structure.lattice.matrix,
        scaled_positions=structure.frac_coords,
        pbc=True,
    )
    atoms.calc = GPAW(txt=None, **settings.gpaw_parameters(structure))
    atoms.get_potential_energy()
    trim = atoms.calc.fixed_density(
        kpts={"size": (2, 2, 2), "gamma": True}, symmetry="off", nbands="nao", txt=None
    )
    return trim.wfs.kd.bzk_kc.copy(), soc_eigenstates(trim).eigenvalues()


@pytest.fixture(scope="session", params=["Si", "Bi2Se3"])
def gpaw_run(request, data_dir) -> GPAWRun:
    """Fresh GPAW szp(dzp) runs of the Si and Bi2Se3 fixtures with their recorded settings."""
    fixture = Hamiltonian.from_npz(data_dir / f"{request.param}_szp.npz")
    settings = GPAWReferenceSettings(basis=fixture.meta["basis"], seed=fixture.meta["seed"])
    computed = compute_gpaw_reference(fixture.structure, settings)
    k, eigenvalues = gpaw_soc_eigenvalues_at_trim(fixture.structure, settings)
    return GPAWRun(request.param, fixture, settings, computed, k, eigenvalues)

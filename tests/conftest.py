"""Shared fixtures: corpus-format DFT fixture files (GPAW szp(dzp), SOC) and fresh GPAW runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.dft.reference import compute_gpaw_reference
from socscreen.hamiltonian import Hamiltonian

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder of the small test data files."""
    return DATA


@pytest.fixture(scope="session")
def bi2se3() -> Hamiltonian:
    """Bi2Se3 (tetradymite, experimental geometry), GPAW szp(dzp) with SOC."""
    return Hamiltonian.from_npz(DATA / "Bi2Se3_szp.npz")


@pytest.fixture(scope="session")
def silicon() -> Hamiltonian:
    """Si (diamond, a = 5.431 A), GPAW szp(dzp) with SOC."""
    return Hamiltonian.from_npz(DATA / "Si_szp.npz")


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

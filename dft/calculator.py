"""One place where a GPAW LCAO calculator is configured, for the reference and H(0) alike.

:class:`GPAWReferenceSettings` holds the numerical settings of the corpus recipe (basis,
grid spacing, functional, smearing, k-point density); :func:`validate_structure` says in
one line why GPAW cannot treat a structure; :func:`lcao_calculator` builds the classic
``gpaw.calculator.GPAW`` LCAO calculator both :mod:`socscreen.dft.reference` (self-consistent)
and :mod:`socscreen.dft.zeroth_step` (no SCF step) start from; :func:`orbital_table` and
:func:`soc_operator_blocks` read the basis layout and the one-centre PAW spin-orbit operator
off a set-up calculator. Energies in eV, lengths in Angstrom.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymatgen.core import Lattice, Structure

from socscreen.orbitals import OrbitalTable
from socscreen.settings import SETTINGS
from socscreen.structure_flags import periodic_directions
from socscreen.structures import MIN_DISTANCE, check_structure

if TYPE_CHECKING:
    from gpaw.calculator import GPAW

__all__ = [
    "GPAWReferenceSettings",
    "ase_atoms",
    "basis_cutoffs",
    "lcao_calculator",
    "lcao_calculator_in_gpaw_cell",
    "missing_gpaw_data",
    "orbital_table",
    "scf_kpoint_mesh",
    "soc_operator_blocks",
    "validate_structure",
]


class GPAWReferenceSettings(BaseModel):
    """Numerical settings of a GPAW reference calculation (corpus defaults).

    Every default reproduces the corpus in ``data/corpus/gpaw-szp`` bit for bit.
    ``as_dict``/``from_dict`` make it MSONable, so a Maker holding it survives FireWorks
    serialisation (monty would otherwise store the model as its ``str``).
    """

    def as_dict(self) -> dict[str, Any]:
        """MSONable dictionary (``@module``/``@class`` plus the fields)."""
        cls = type(self)
        return {"@module": cls.__module__, "@class": cls.__name__, **self.model_dump(mode="json")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GPAWReferenceSettings:
        """Inverse of :meth:`as_dict`."""
        return cls(**{k: v for k, v in d.items() if not k.startswith("@")})

    model_config = ConfigDict(frozen=True, extra="forbid")

    basis: str = Field(
        default_factory=lambda: SETTINGS.basis,
        description="LCAO basis in GPAW syntax, e.g. 'szp(dzp)' (subset of the dzp files).",
    )
    grid_spacing: float = Field(
        default_factory=lambda: SETTINGS.dft_grid_spacing,
        gt=0,
        description="Real-space grid spacing h (Angstrom).",
    )
    smearing: float = Field(
        default_factory=lambda: SETTINGS.dft_smearing,
        ge=0,
        description="Fermi-Dirac width (eV).",
    )
    xc: str = Field("PBE", description="Exchange-correlation functional (GPAW name).")
    kpoint_density: float = Field(
        default_factory=lambda: SETTINGS.dft_kpoint_density,
        gt=0,
        description="SCF k-points per direction times |a_i| (Angstrom); "
        "n_i = max(1, ceil(density / |a_i|)).",
    )
    kscf: tuple[int, int, int] | None = Field(
        None, description="Explicit Gamma-centred SCF mesh; overrides kpoint_density."
    )
    hr_grid: tuple[int, int, int] | None = Field(
        None,
        description="Explicit odd full-zone grid for H(R); at least the size the basis "
        "cutoffs require (default: exactly that size).",
    )
    seed: int = Field(
        0, description="Seed recorded in the provenance and used for the random S(k) check."
    )
    min_distance: float = Field(
        MIN_DISTANCE, gt=0, description="Closest allowed distance of two atoms (Angstrom)."
    )
    n_overlap_checks: int = Field(
        16, ge=1, description="Random k-points at which S(k) is checked positive definite."
    )

    @field_validator("kscf", "hr_grid")
    @classmethod
    def _positive_grid(cls, value: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if value is not None and min(value) < 1:
            raise ValueError(f"grid sizes must be positive, got {value}")
        return value

    @field_validator("hr_grid")
    @classmethod
    def _odd_grid(cls, value: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if value is not None and any(n % 2 == 0 for n in value):
            raise ValueError(f"hr_grid must be odd in every direction, got {value}")
        return value

    def scf_mesh(self, structure: Structure) -> tuple[int, int, int]:
        """Gamma-centred SCF k-mesh of ``structure`` (explicit ``kscf`` or the density).

        A slab's vacuum direction (:func:`~socscreen.structure_flags.periodic_directions`)
        gets one k-point whatever its length.
        """
        if self.kscf is not None:
            return self.kscf
        return scf_kpoint_mesh(
            structure.lattice, self.kpoint_density, periodic_directions(structure)
        )

    def gpaw_parameters(self, structure: Structure) -> dict[str, Any]:
        """Keyword arguments of the self-consistent ``GPAW`` calculator for ``structure``."""
        from gpaw import FermiDirac

        return {
            "mode": "lcao",
            "basis": self.basis,
            "h": self.grid_spacing,
            "xc": self.xc,
            "occupations": FermiDirac(self.smearing),
            "kpts": {"size": self.scf_mesh(structure), "gamma": True},
        }


# -- input validation ---------------------------------------------------------------------
def missing_gpaw_data(symbols: list[str], xc: str, basis: str) -> dict[str, str]:
    """Elements GPAW cannot treat: no PAW setup, or no basis file it can use.

    Searches GPAW's data directories (``GPAW_SETUP_PATH``, then ``gpaw-data``) for
    ``<symbol>.<xc>`` and loads the basis as GPAW would, which also catches basis files
    GPAW cannot reduce (the lanthanides' dzp files to ``szp``).

    Parameters
    ----------
    symbols
        Element symbols.
    xc
        Functional of the setups, e.g. ``"PBE"``.
    basis
        GPAW basis string, e.g. ``"szp(dzp)"``.

    Returns
    -------
    dict
        ``{symbol: reason}``, empty when every element can be calculated.
    """
    from socscreen.dft.basis_functions import load_basis
    from socscreen.dft.gpaw_files import DataFileNotFoundError, find_data_file

    missing = {}
    for symbol in dict.fromkeys(symbols):
        try:
            find_data_file(f"{symbol}.{xc}")
        except DataFileNotFoundError:
            missing[symbol] = f"no {xc} PAW setup"
            continue
        try:
            load_basis(symbol, basis)
        except ValueError as error:
            missing[symbol] = f"no usable '{basis}' basis: {error}"
    return missing


def validate_structure(structure: Structure, settings: GPAWReferenceSettings) -> None:
    """Raise ``ValueError`` naming the problem if GPAW cannot treat ``structure``.

    The shared input checks (:func:`socscreen.structures.check_structure`, with
    ``settings.min_distance``), then real elements with a GPAW setup and basis file.
    """
    check_structure(structure, settings.min_distance)
    symbols = [site.specie.symbol for site in structure]
    missing = missing_gpaw_data(symbols, settings.xc, settings.basis)
    if missing:
        detail = ", ".join(f"{s}: {why}" for s, why in missing.items())
        raise ValueError(f"GPAW has no data for element(s) {sorted(missing)} ({detail})")


# -- k-point meshes ----------------------------------------------------------------------
def scf_kpoint_mesh(
    lattice: Lattice, density: float, periodic: Sequence[bool] = (True, True, True)
) -> tuple[int, int, int]:
    """Gamma-centred SCF mesh ``n_i = max(1, ceil(density / |a_i|))``, 1 along vacuum.

    Parameters
    ----------
    lattice
        Crystal lattice (Angstrom).
    density
        k-points per direction times lattice length (Angstrom).
    periodic
        Periodic lattice directions; a ``False`` one (a slab's vacuum) gets one k-point.
    """
    return tuple(  # type: ignore[return-value]
        max(1, int(np.ceil(density / a - 1e-9))) if p else 1
        for a, p in zip(lattice.abc, periodic, strict=True)
    )


# -- calculators --------------------------------------------------------------------------
def ase_atoms(structure: Structure) -> Any:
    """``ase.Atoms`` of a periodic pymatgen structure (same cell, same fractional positions)."""
    from ase import Atoms

    return Atoms(
        numbers=structure.atomic_numbers,
        cell=structure.lattice.matrix,
        scaled_positions=structure.frac_coords,
        pbc=True,
    )


def lcao_calculator(
    structure: Structure,
    settings: GPAWReferenceSettings,
    txt: Any = None,
    *,
    single_kpoint: bool = False,
) -> GPAW:
    """Classic GPAW LCAO calculator initialised for ``structure`` (setups, basis, grids; no SCF).

    Parameters
    ----------
    structure
        Crystal (validated by the caller).
    settings
        Basis, grid spacing, functional, smearing and SCF k-mesh.
    txt
        GPAW log file (``None``: no log, ``"-"``: standard output).
    single_kpoint
        One k-point (Gamma) with complex wave functions and no symmetry: the set-up that
        gives the real-space matrix elements per lattice vector (the basis functions' potential
        matrices per cell displacement), used for H(0). ``False``: the self-consistent
        reference's Gamma-centred mesh.
    """
    from gpaw.calculator import GPAW

    parameters = settings.gpaw_parameters(structure)
    if single_kpoint:
        parameters |= {
            "mode": {"name": "lcao", "force_complex_dtype": True},
            "kpts": {"size": (1, 1, 1), "gamma": True},
            "symmetry": "off",
        }
    atoms = ase_atoms(structure)
    atoms.calc = GPAW(txt=txt, **parameters)
    atoms.calc.initialize(atoms)
    return atoms.calc


def lcao_calculator_in_gpaw_cell(
    structure: Structure,
    settings: GPAWReferenceSettings,
    txt: Any = None,
    *,
    single_kpoint: bool = False,
) -> tuple[GPAW, Structure]:
    """:func:`lcao_calculator`, in the Niggli-reduced cell where GPAW refuses the given one.

    GPAW's Laplacian for a general cell (``gpaw.fd_operators.GUCLaplace``) refuses some
    cells whose angles leave the reduced range ("You have a weird unit cell"), depending on
    the grid; a strained hexagonal cell with γ just above 120° can be one. The calculation
    then uses the Niggli-reduced cell: the same crystal with other lattice vectors
    (``properties`` kept), whose Hamiltonian is that cell's. Every cell GPAW accepts is
    kept as it is, so a corpus file and its H(0) share their cell.

    Returns
    -------
    tuple
        The calculator and the structure it holds (the given one, or its reduced cell).
    """
    try:
        return lcao_calculator(structure, settings, txt, single_kpoint=single_kpoint), structure
    except ValueError as error:
        if "weird unit cell" not in str(error):
            raise
    reduced = structure.get_reduced_structure("niggli")
    reduced.properties = dict(structure.properties)
    return lcao_calculator(reduced, settings, txt, single_kpoint=single_kpoint), reduced


def orbital_table(calc: GPAW, basis: str) -> OrbitalTable:
    """Orbital layout (atoms, shells) of a set-up calculator, in GPAW's orbital order."""
    shells = {
        setup.symbol: tuple(int(bf.get_angular_momentum_number()) for bf in setup.basis_functions_J)
        for setup in calc.wfs.setups
    }
    numbers = tuple(int(z) for z in calc.atoms.numbers)
    return OrbitalTable(numbers, shells, basis_name=basis)


def basis_cutoffs(calc: GPAW) -> np.ndarray:
    """Largest basis-function radius of each atom (Angstrom)."""
    from ase.units import Bohr

    return np.array(
        [max(bf.get_cutoff() for bf in setup.basis_functions_J) * Bohr for setup in calc.wfs.setups]
    )


def soc_operator_blocks(calc: GPAW) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """One-centre PAW spin-orbit operator of every atom at the calculator's density (eV).

    The operator of ``gpaw.spinorbit.soc`` (what ``soc_eigenstates`` adds), as the spin
    blocks ``(h_uu, h_ud)`` over the atom's projectors, ``[n_i, n_i]`` each; ``h_dd = -h_uu``
    and ``h_du = h_ud^H`` follow from time reversal. Projected on the orbitals,
    ``H_soc = sum_a P_a^* h_a P_a^T``.
    """
    from ase.units import Ha
    from gpaw.spinorbit import soc

    blocks = {}
    for a, d_sp in calc.density.D_asp.items():
        dvl_vii = soc(calc.wfs.setups[a], calc.hamiltonian.xc, d_sp) * Ha
        blocks[a] = (dvl_vii[2], dvl_vii[0] - 1j * dvl_vii[1])
    return blocks

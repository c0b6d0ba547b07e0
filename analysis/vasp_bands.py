"""Band energies of a VASP run, read from ``vasprun.xml`` without the WAVECAR.

:func:`read_vasp_bands` turns one calculation folder (the static SCF, the band path or
the TRIM run of a validation) into :class:`VaspBands`: fractional k-points in the
reciprocal basis of the run's own cell, band energies, the Fermi level and the electron
count. Spin handling follows VASP:

* ``LNONCOLLINEAR`` (and ``LSORBIT``) runs have spinor bands, one electron each;
* collinear ``ISPIN = 1`` runs (the SOC-off twin) have spinless bands, two electrons
  each; :attr:`VaspBands.spinor_energies` lists every spinless band twice so that both
  kinds compare with a spinor tight-binding Hamiltonian band by band.

Spin-polarised collinear runs (``ISPIN = 2``) have no place in a spin-orbit validation and
are rejected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from monty.os.path import zpath
from pymatgen.core import Structure
from pymatgen.electronic_structure.core import Spin
from pymatgen.io.vasp import Kpoints, Vasprun

__all__ = ["VaspBands", "find_vasp_file", "read_vasp_bands"]


def find_vasp_file(directory: str | os.PathLike, name: str) -> Path:
    """Path of a VASP file in a calculation folder, gzipped (atomate2) or not.

    Parameters
    ----------
    directory
        Calculation folder; a ``host:/path`` URI (atomate2's ``dir_name``) is accepted.
    name
        File name without compression suffix, e.g. ``"vasprun.xml"``.

    Raises
    ------
    FileNotFoundError
        If neither ``name`` nor a compressed copy exists.
    """
    directory = str(directory)
    if ":" in directory and not Path(directory).exists():
        directory = directory.split(":", 1)[1]  # atomate2 dir_name is "hostname:/path"
    path = Path(zpath(str(Path(directory) / name)))
    if not path.exists():
        raise FileNotFoundError(f"no {name} (or {name}.gz) in {directory}")
    return path


@dataclass(frozen=True)
class VaspBands:
    """Bands of one VASP calculation.

    Attributes
    ----------
    structure
        The run's final cell (ion order of POSCAR and PROCAR), Angstrom.
    kpoints
        Fractional k-points in the reciprocal basis of ``structure``, ``[n_k, 3]``.
    weights
        k-point weights as VASP wrote them (sum 1), ``[n_k]``.
    labels
        Label of every k-point from the run's KPOINTS file (``""`` if none), ``[n_k]``.
    energies
        Band energies, eV, ascending per k, ``[n_k, n_bands]``: spinor bands for a
        non-collinear run, spinless bands for a collinear one.
    efermi
        Fermi level VASP reported, eV.
    nelect
        Valence electrons of the run (NELECT, POTCAR valences).
    spinor
        Non-collinear (spinor) run.
    soc
        Spin-orbit coupling switched on (``LSORBIT``).
    parameters
        The run's parameters as VASP echoed them (``vasprun.xml``), e.g. ``ENMAX`` (eV).
    """

    structure: Structure
    kpoints: np.ndarray
    weights: np.ndarray
    labels: list[str]
    energies: np.ndarray
    efermi: float
    nelect: float
    spinor: bool
    soc: bool
    parameters: dict

    @property
    def n_occupied(self) -> int:
        """Occupied bands: ``nelect`` spinor bands or ``nelect / 2`` spinless ones.

        Raises
        ------
        ValueError
            If the electron count is fractional, or odd for spinless bands.
        """
        n = int(round(self.nelect))
        if abs(self.nelect - n) > 1e-6 or (not self.spinor and n % 2):
            kind = "spinor" if self.spinor else "spin-degenerate"
            raise ValueError(f"NELECT={self.nelect} does not fill whole {kind} bands")
        return n if self.spinor else n // 2

    @property
    def spinor_energies(self) -> np.ndarray:
        """Energies as spinor bands, eV: collinear bands listed twice, ``[n_k, n_spinor]``."""
        return self.energies if self.spinor else np.repeat(self.energies, 2, axis=1)

    def gap(self) -> float:
        """Indirect gap ``min E_cb - max E_vb`` over the run's k-points, eV (0 if overlapping).

        Raises
        ------
        ValueError
            If the run has no band above the occupied ones.
        """
        n_occ = self.n_occupied
        if n_occ >= self.energies.shape[1]:
            raise ValueError(
                f"the run has {self.energies.shape[1]} bands, none above the {n_occ} filled"
            )
        return float(max(0.0, self.energies[:, n_occ].min() - self.energies[:, n_occ - 1].max()))


def _kpoint_labels(directory: Path, n_k: int) -> list[str]:
    """Per-k labels of the run's explicit KPOINTS file (empty strings otherwise)."""
    try:
        kpoints = Kpoints.from_file(find_vasp_file(directory, "KPOINTS"))
    except FileNotFoundError:
        return [""] * n_k
    labels = list(kpoints.labels or [])
    if len(labels) != n_k:
        return [""] * n_k
    return [label or "" for label in labels]


def read_vasp_bands(directory: str | os.PathLike) -> VaspBands:
    """Read the bands of the VASP calculation in ``directory`` from its ``vasprun.xml``.

    Parameters
    ----------
    directory
        Calculation folder holding ``vasprun.xml(.gz)`` (and ``KPOINTS(.gz)`` for labels);
        atomate2's ``host:/path`` form is accepted.

    Returns
    -------
    VaspBands

    Raises
    ------
    FileNotFoundError
        If the folder has no ``vasprun.xml``.
    ValueError
        If the run is spin-polarised collinear (``ISPIN = 2``) or reports no Fermi level.
    """
    path = find_vasp_file(directory, "vasprun.xml")
    run = Vasprun(str(path), parse_dos=True, parse_eigen=True, parse_potcar_file=False)
    params = dict(run.parameters)
    spinor = bool(params.get("LNONCOLLINEAR", False) or params.get("LSORBIT", False))
    if Spin.down in run.eigenvalues or (not spinor and int(params.get("ISPIN", 1)) == 2):
        raise ValueError(
            f"{path} is a spin-polarised collinear run (ISPIN=2); a spin-orbit validation "
            "needs a non-collinear run or a non-magnetic (ISPIN=1) SOC-off twin"
        )
    if run.efermi is None:
        raise ValueError(f"{path} reports no Fermi level")
    energies = np.asarray(run.eigenvalues[Spin.up][..., 0], dtype=float)  # [n_k, n_bands]
    kpoints = np.asarray(run.actual_kpoints, dtype=float)
    return VaspBands(
        structure=run.final_structure,
        kpoints=kpoints,
        weights=np.asarray(run.actual_kpoints_weights, dtype=float),
        labels=_kpoint_labels(path.parent, len(kpoints)),
        energies=np.sort(energies, axis=1),
        efermi=float(run.efermi),
        nelect=float(params["NELECT"]),
        spinor=spinor,
        soc=bool(params.get("LSORBIT", False)),
        parameters=params,
    )

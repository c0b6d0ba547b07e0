"""VASP input settings of spin-orbit validation runs, for atomate2's input-set generators.

atomate2 never switches spin-orbit coupling on; these helpers give the
``user_incar_settings``, k-points and run commands that do:

* non-collinear spin-orbit runs: ``LSORBIT``, ``LNONCOLLINEAR``, ``ISYM = 0`` (VASP
  symmetrises non-collinear magnetisation densities wrongly otherwise), ``GGA_COMPAT =
  False`` (full symmetry of the GGA gradient terms in non-collinear runs), the spin
  quantisation axis ``SAXIS`` and ``MAGMOM`` as one 3-vector per site (given per element,
  which keeps pymatgen from dropping it when ``ISPIN`` is unset), run with
  ``vasp_ncl``;
* the SOC-off twin: collinear, non-magnetic (``ISPIN = 1``), run with ``vasp_std``.

Both use PBE (``GGA = PE``), the functional of the model's training data, instead of
atomate2's PBEsol default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from atomate2 import SETTINGS as ATOMATE2_SETTINGS
from pymatgen.core import Structure
from pymatgen.io.vasp import Kpoints

from socscreen.analysis.bloch import trim_points
from socscreen.analysis.kpath import structure_path

__all__ = [
    "band_path_kpoints",
    "noncollinear_magmom",
    "spin_orbit_incar",
    "trim_kpoints",
    "vasp_run_kwargs",
]


def spin_orbit_incar(soc: bool, saxis: Sequence[float] = (0.0, 0.0, 1.0)) -> dict:
    """INCAR settings of a spin-orbit run or of its SOC-off twin.

    Parameters
    ----------
    soc
        ``True``: non-collinear run with spin-orbit coupling; ``False``: collinear,
        non-magnetic twin.
    saxis
        Spin quantisation axis (Cartesian), used with ``soc``.

    Returns
    -------
    dict
        ``user_incar_settings`` for atomate2's generators (``None`` removes a key).
    """
    if soc:
        return {
            "GGA": "PE",
            "LSORBIT": True,
            "LNONCOLLINEAR": True,
            "ISYM": 0,
            "GGA_COMPAT": False,
            "SAXIS": [float(x) for x in saxis],
            "ISPIN": None,  # implied by LNONCOLLINEAR
        }
    return {
        "GGA": "PE",
        "LSORBIT": False,
        "LNONCOLLINEAR": False,
        "ISYM": 0,
        "ISPIN": 1,
        "MAGMOM": None,
    }


def noncollinear_magmom(
    structure: Structure, magmoms: Mapping[str, Sequence[float]] | None = None
) -> dict[str, list[float]]:
    """``MAGMOM`` per element as 3-vectors (Bohr magnetons), zero unless given.

    Parameters
    ----------
    structure
        The crystal; every element gets an entry.
    magmoms
        Initial moments of some elements, Cartesian 3-vectors in the ``SAXIS`` frame.

    Raises
    ------
    ValueError
        If a moment is not a 3-vector or names an element not in the structure.
    """
    magmoms = dict(magmoms or {})
    symbols = sorted(structure.symbol_set)
    extra = sorted(set(magmoms) - set(symbols))
    if extra:
        raise ValueError(f"MAGMOM given for element(s) {extra} not in {structure.formula}")
    out = {}
    for symbol in symbols:
        vector = [float(x) for x in magmoms.get(symbol, (0.0, 0.0, 0.0))]
        if len(vector) != 3:
            raise ValueError(f"MAGMOM of {symbol} must be a 3-vector, got {vector}")
        out[symbol] = vector
    return out


def band_path_kpoints(structure: Structure, line_density: float = 20.0) -> Kpoints:
    """Explicit KPOINTS along pymatgen's high-symmetry path in the structure's own cell.

    pymatgen's line-mode generator expresses the path in its standard primitive cell and
    is wrong for any other setting of the same lattice; :func:`structure_path` maps it
    onto ``structure``'s reciprocal basis, so the predicted Hamiltonian (same cell) is
    solved at exactly these k-points.

    Parameters
    ----------
    structure
        The crystal as VASP will see it (its lattice; site order does not matter).
    line_density
        k-points per 1/Angstrom of path length (atomate2's ``line_density``).
    """
    path = structure_path(structure, line_density)
    return Kpoints(
        comment="soc band path (socscreen, pymatgen setyawan_curtarolo in the input cell)",
        style=Kpoints.supported_modes.Reciprocal,
        num_kpts=len(path.kpoints),
        kpts=[tuple(float(x) for x in k) for k in np.round(path.kpoints, 10)],
        kpts_weights=[1] * len(path.kpoints),
        labels=[_ascii_label(label) for label in path.point_labels],
    )


def _ascii_label(label: str) -> str:
    r"""Spell a KPOINTS label as pymatgen does in ASCII (``\Gamma``); VASP files are ASCII."""
    return label.replace("Γ", "\\Gamma").replace("Σ", "\\Sigma")


def trim_kpoints(structure: Structure) -> Kpoints:
    """Explicit KPOINTS at the 8 time-reversal-invariant momenta of the structure's cell.

    Parameters
    ----------
    structure
        The crystal (its reciprocal basis defines the TRIM ``(n1, n2, n3) / 2``).
    """
    trim = trim_points(np.ones(3, dtype=bool))
    return Kpoints(
        comment=f"TRIM of {structure.composition.reduced_formula} (socscreen parity run)",
        style=Kpoints.supported_modes.Reciprocal,
        num_kpts=len(trim),
        kpts=[tuple(float(x) for x in k) for k in trim],
        kpts_weights=[1] * len(trim),
        labels=["T" + "".join(str(int(2 * x)) for x in k) for k in trim],
    )


def vasp_run_kwargs(soc: bool) -> dict[str, str]:
    """``run_vasp_kwargs`` choosing the VASP executable from atomate2's settings.

    ``vasp_ncl`` (``ATOMATE2_VASP_NCL_CMD``) for spin-orbit runs, also in place of the
    Gamma-only executable that custodian would pick for a single Gamma point (it cannot
    run non-collinear); ``vasp_std`` and ``vasp_gam`` for the SOC-off twin.
    """
    if soc:
        return {
            "vasp_cmd": ATOMATE2_SETTINGS.VASP_NCL_CMD,
            "vasp_gamma_cmd": ATOMATE2_SETTINGS.VASP_NCL_CMD,
        }
    return {
        "vasp_cmd": ATOMATE2_SETTINGS.VASP_CMD,
        "vasp_gamma_cmd": ATOMATE2_SETTINGS.VASP_GAMMA_CMD,
    }

"""Berry curvature, anomalous and spin Hall conductivity, valley Berry curvature.

All quantities are computed on an orthogonal tight-binding model
(:class:`~socscreen.analysis.tb.OrthogonalTB`: a Löwdin model of a container, or a model
such as Haldane's) in the tight-binding convention (Wannier centres at the orbital
positions, only the "internal" Hamiltonian terms), by two independent engines:

* wannierberri 26.10 (``System_R`` filled from ``H(R)``; Berry curvature tabulated along
  k-lists, AHC and SHC integrated on grids);
* a direct Kubo formula implemented here, vectorised over k, on an orthogonal model or
  directly on a container's Löwdin Bloch Hamiltonian
  (:meth:`~socscreen.analysis.bloch.LowdinBloch.velocity_k`: exact bands at every k, no
  truncated ``H(R)``):

  ``Omega^c(k) = -2 Im sum_{n occ, m empty} <n|dH/dk_a|m><m|dH/dk_b|n> / (E_n - E_m)^2``

  with ``(a, b, c)`` cyclic, ``dH/dk`` of the position-gauge ``H^I(k)``
  (:meth:`OrthogonalTB.velocity_k`); occupied-occupied terms cancel, so no degenerate
  denominators occur.

Units: Berry curvature Angstrom^2; k Cartesian in 1/Angstrom; conductivities S/cm in 3D
and sheet conductance S (also in e^2/h) in 2D. Sign convention (wannierberri's):
``sigma_ab = -(e^2 / hbar) eps_abc int dk/(2 pi)^d Omega_c f``, so a 2D insulator with
Chern number ``C = (1 / 2 pi) int Omega_z d^2k`` has ``sigma_xy = -C e^2 / h``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field
from scipy import constants

from socscreen.analysis.bloch import (
    BlochSystem,
    LowdinBloch,
    as_kpoints,
    chunk_size,
    kgrid_shape,
    monkhorst_pack,
)

if TYPE_CHECKING:
    from socscreen.analysis.tb import OrthogonalTB

__all__ = [
    "HallConductivity",
    "ValleyResult",
    "anomalous_hall",
    "berry_curvature",
    "berry_curvature_wannierberri",
    "chern_number_kubo",
    "sheet_height",
    "spin_hall",
    "valley_berry_curvature",
    "valley_points",
    "wannierberri_system",
]

#: Conductance quantum e^2/h, S.
E2_H = constants.e**2 / constants.h


def _recip(lattice: np.ndarray) -> np.ndarray:
    return 2 * np.pi * np.linalg.inv(lattice).T


def sheet_height(tb: OrthogonalTB) -> float:
    """Cell volume over the periodic area of a 2D model, Angstrom (3D: raises)."""
    axes = np.flatnonzero(tb.periodic)
    if len(axes) != 2:
        raise ValueError("a sheet height needs exactly two periodic axes")
    area = np.linalg.norm(np.cross(tb.lattice[axes[0]], tb.lattice[axes[1]]))
    return float(abs(np.linalg.det(tb.lattice)) / area)


def _occupation_split(energies: np.ndarray, n_occ: int | None, efermi: float | None) -> np.ndarray:
    """Boolean occupation ``[n_k, m]`` from a band count or a Fermi level (eV)."""
    if (n_occ is None) == (efermi is None):
        raise ValueError("give exactly one of n_occ and efermi")
    if n_occ is not None:
        occ = np.zeros(energies.shape, dtype=bool)
        occ[:, :n_occ] = True
        return occ
    return energies < efermi


def berry_curvature(
    tb: OrthogonalTB | LowdinBloch,
    k: np.ndarray,
    n_occ: int | None = None,
    efermi: float | None = None,
) -> np.ndarray:
    """Berry curvature of the occupied states by the Kubo formula (own implementation).

    Parameters
    ----------
    tb
        Orthogonal tight-binding model, or the Löwdin Bloch Hamiltonian of a container.
    k
        Fractional k-points ``[n_k, 3]``.
    n_occ, efermi
        Occupation: the lowest ``n_occ`` bands, or the bands below ``efermi`` (eV).

    Returns
    -------
    numpy.ndarray
        ``Omega`` (pseudovector, Cartesian), Angstrom^2, ``[n_k, 3]``.
    """
    k = as_kpoints(k)
    out = np.empty((len(k), 3))
    chunk = max(1, chunk_size(tb.n_basis) // 4)
    for start in range(0, len(k), chunk):
        h, dh = tb.velocity_k(k[start : start + chunk])
        e, u = np.linalg.eigh(h)
        occ = _occupation_split(e, n_occ, efermi)
        v = np.conj(np.swapaxes(u, -1, -2))[:, None] @ dh @ u[:, None]  # [n, 3, m, m]
        de = e[:, :, None] - e[:, None, :]
        mask = occ[:, :, None] & ~occ[:, None, :]
        weight = np.where(mask, 1.0 / np.where(mask, de, 1.0) ** 2, 0.0)
        for c, (a, b) in enumerate(((1, 2), (2, 0), (0, 1))):
            term = v[:, a] * np.swapaxes(v[:, b], -1, -2) * weight
            out[start : start + chunk, c] = -2 * term.imag.sum(axis=(1, 2))
    return out


def chern_number_kubo(tb: OrthogonalTB, n_occ: int, n_k: int = 60) -> float:
    """Chern number ``(1 / 2 pi) int Omega . n d^2k`` of a 2D model on an ``n_k^2`` grid.

    Not an integer by construction (grid quadrature); the Wilson-loop winding
    (:meth:`~socscreen.analysis.wilson.PlaneWCC.chern`) is the exact counterpart.
    """
    axes = np.flatnonzero(tb.periodic)
    if len(axes) != 2:
        raise ValueError("a Chern number needs exactly two periodic axes")
    shape = [1, 1, 1]
    shape[axes[0]] = shape[axes[1]] = n_k
    k = monkhorst_pack(tuple(shape))
    recip = _recip(tb.lattice)
    normal = np.cross(recip[axes[0]], recip[axes[1]])
    area = np.linalg.norm(normal)
    omega = berry_curvature(tb, k, n_occ=n_occ) @ (normal / area)
    return float(omega.mean() * area / (2 * np.pi))


# -- wannierberri ---------------------------------------------------------------------------
def _wannierberri() -> Any:
    """Import wannierberri with its optional-pyfftw warning silenced."""
    logging.getLogger("wannierberri").setLevel(logging.ERROR)
    import wannierberri

    return wannierberri


def wannierberri_system(tb: OrthogonalTB) -> Any:
    """Build a wannierberri ``System_R`` holding ``H(R)`` (and Pauli matrices for spinors).

    Wannier centres are the basis positions and only internal terms are evaluated
    (``force_internal_terms_only``), the same tight-binding convention as
    :func:`berry_curvature`.
    """
    _wannierberri()
    from wannierberri.fourier.rvectors import Rvectors
    from wannierberri.system.system_R import System_R

    system = System_R(
        force_internal_terms_only=True, name="socscreen", periodic=tb.periodic, silent=True
    )
    system.num_wann = tb.n_basis
    system.spinor = tb.spinor
    system.real_lattice = np.asarray(tb.lattice, dtype=float)
    system.set_wannier_centers(wannier_centers_red=tb.positions)
    system.rvec = Rvectors(lattice=tb.lattice, iRvec=tb.R, shifts_left_red=tb.positions)
    if not np.array_equal(system.rvec.iRvec, tb.R):
        raise RuntimeError("wannierberri reordered the lattice vectors")
    system.set_R_mat("Ham", tb.hoppings.copy())
    if tb.spinor:
        half = tb.n_basis // 2
        system.set_spin_pairs([(i, i + half) for i in range(half)])
    system.do_at_end_of_init()
    return system


def berry_curvature_wannierberri(tb: OrthogonalTB, k: np.ndarray, n_occ: int) -> np.ndarray:
    """Occupied-band Berry curvature tabulated by wannierberri, Angstrom^2 ``[n_k, 3]``."""
    wb = _wannierberri()
    from wannierberri.calculators import tabulate
    from wannierberri.grid import Path as WBPath

    system = wannierberri_system(tb)
    path = WBPath(system, k_list=as_kpoints(k))
    tabulator = tabulate.TabulatorAll(
        {"omega": tabulate.BerryCurvature(kwargs_formula={"external_terms": False})},
        mode="path",
    )
    with contextlib.redirect_stdout(io.StringIO()):
        result = wb.run(system, grid=path, calculators={"tab": tabulator}, parallel=False)
    omega = result.results["tab"].get_data(quantity="omega", iband=np.arange(n_occ))
    return omega.sum(axis=1)  # [n_k, n_occ, 3] -> [n_k, 3]


@dataclass
class HallConductivity:
    """Hall conductivity tensor as a function of the Fermi level.

    Attributes
    ----------
    efermi
        Fermi levels, eV ``[n_ef]``.
    sigma
        ``[n_ef, 3]`` pseudovector ``(sigma_yz, sigma_zx, sigma_xy)`` for AHC, S/cm (3D)
        or S (2D sheet); for SHC ``[n_ef, 3, 3, 3]`` (spin, current, field), in
        (hbar/e) S/cm or (hbar/e) S.
    dimension
        Periodic dimensions (2 or 3).
    """

    efermi: np.ndarray
    sigma: np.ndarray
    dimension: int

    @property
    def in_conductance_quanta(self) -> np.ndarray:
        """2D sheet values in units of e^2/h."""
        if self.dimension != 2:
            raise ValueError("conductance quanta apply to 2D sheets")
        return self.sigma / E2_H


def _integrate(
    tb: OrthogonalTB, calculator: Any, grid: tuple[int, int, int] | None, density: float
) -> tuple[np.ndarray, int]:
    wb = _wannierberri()
    system = wannierberri_system(tb)
    grid = kgrid_shape(tb.lattice, tb.periodic, density) if grid is None else grid
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        result = wb.run(
            system,
            grid=wb.Grid(system, NK=tuple(int(n) for n in grid)),
            calculators={"x": calculator},
            parallel=False,
            use_irred_kpt=False,
            symmetrize=False,
            fout_name=str(Path(tmp) / "wb"),
            file_Klist_path=str(Path(tmp) / "klist"),
        )
    raw = np.asarray(result.results["x"].data)  # S/m
    dim = int(tb.periodic.sum())
    return (raw * sheet_height(tb) * 1e-10 if dim == 2 else raw / 100.0), dim


def anomalous_hall(
    tb: OrthogonalTB,
    efermi: np.ndarray | list[float],
    grid: tuple[int, int, int] | None = None,
    density: float = 60.0,
) -> HallConductivity:
    """Anomalous Hall conductivity (wannierberri Fermi-sea integral of Omega).

    Parameters
    ----------
    tb
        Orthogonal model.
    efermi
        Fermi levels, eV.
    grid
        k-grid; default from ``density`` (k-points per 1/Angstrom over 2 pi).
    """
    wb = _wannierberri()
    ef = np.atleast_1d(np.asarray(efermi, dtype=float))
    calc = wb.calculators.static.AHC(Efermi=ef, kwargs_formula={"external_terms": False})
    data, dim = _integrate(tb, calc, grid, density)
    return HallConductivity(efermi=ef, sigma=data, dimension=dim)


def spin_hall(
    tb: OrthogonalTB,
    efermi: np.ndarray | list[float],
    grid: tuple[int, int, int] | None = None,
    density: float = 60.0,
) -> HallConductivity:
    """Spin Hall conductivity (wannierberri, "simple" spin current {s, v}/2, s = sigma/2).

    Needs a spinor model; the Löwdin orbitals of a container stay pure spin states, so
    ``S_z`` is exactly ``diag(+1, -1) / 2`` in that basis.
    """
    if not tb.spinor:
        raise ValueError("spin Hall conductivity needs a spinor model")
    wb = _wannierberri()
    ef = np.atleast_1d(np.asarray(efermi, dtype=float))
    calc = wb.calculators.static.SHC(Efermi=ef, kwargs_formula={"spin_current_type": "simple"})
    data, dim = _integrate(tb, calc, grid, density)
    return HallConductivity(efermi=ef, sigma=data, dimension=dim)


# -- valleys --------------------------------------------------------------------------------
def valley_points(tb: BlochSystem) -> tuple[np.ndarray, np.ndarray]:
    """K and K' = -K of a hexagonal 2D lattice, fractional (a model or a container's bands).

    Raises
    ------
    ValueError
        If the model is not 2D or its in-plane lattice is not hexagonal.
    """
    axes = np.flatnonzero(tb.periodic)
    if len(axes) != 2:
        raise ValueError("valleys need a 2D model")
    a1, a2 = tb.lattice[axes[0]], tb.lattice[axes[1]]
    cos = a1 @ a2 / (np.linalg.norm(a1) * np.linalg.norm(a2))
    if (
        abs(np.linalg.norm(a1) - np.linalg.norm(a2)) > 1e-3 * np.linalg.norm(a1)
        or abs(abs(cos) - 0.5) > 1e-3
    ):
        raise ValueError("valleys K, K' need a hexagonal in-plane lattice")
    k = np.zeros(3)
    # reciprocal vectors at 60 degrees (real ones at 120): corner (b1 + b2) / 3; at 120
    # degrees (real ones at 60): corner (b1 - b2) / 3
    k[axes[0]], k[axes[1]] = (1 / 3, 1 / 3) if cos < 0 else (1 / 3, -1 / 3)
    return k, -k


class ValleyResult(BaseModel):
    """Valley-resolved Berry curvature of a hexagonal 2D material."""

    k_valley: list[float] = Field(description="Fractional K (K' = -K).")
    omega_k: float = Field(description="Occupied Berry curvature Omega_z at K (Angstrom^2).")
    omega_k_prime: float = Field(description="Occupied Berry curvature Omega_z at K' (A^2).")
    omega_top_valence_k: float = Field(
        description="Berry curvature of the top valence band at K (Angstrom^2)."
    )
    valley_chern_k: float = Field(
        description="Integral of Omega_z / 2 pi over the half of the BZ nearer to K."
    )
    valley_chern_k_prime: float = Field(
        description="Integral of Omega_z / 2 pi over the half of the BZ nearer to K'."
    )
    valley_polarisation: float = Field(
        description="(Omega_K - Omega_K') / (|Omega_K| + |Omega_K'|): +-1 for opposite, "
        "equal-size valley curvatures (time-reversal pairs), 0 for none."
    )


def valley_berry_curvature(tb: OrthogonalTB, n_occ: int, n_k: int = 48) -> ValleyResult:
    """Berry curvature at the valleys K, K' and valley Chern numbers (Kubo formula).

    Parameters
    ----------
    tb
        2D hexagonal orthogonal model.
    n_occ
        Occupied bands.
    n_k
        Grid points per in-plane axis for the valley Chern numbers (multiple of 3 puts
        K on the grid).
    """
    kv, kvp = valley_points(tb)
    axes = np.flatnonzero(tb.periodic)
    recip = _recip(tb.lattice)
    normal = np.cross(recip[axes[0]], recip[axes[1]])
    normal /= np.linalg.norm(normal)
    at_valleys = berry_curvature(tb, np.stack([kv, kvp]), n_occ=n_occ) @ normal
    top = berry_curvature(tb, kv[None], n_occ=n_occ) - berry_curvature(
        tb, kv[None], n_occ=n_occ - 1
    )
    shape = [1, 1, 1]
    shape[axes[0]] = shape[axes[1]] = n_k
    k = monkhorst_pack(tuple(shape))
    omega = berry_curvature(tb, k, n_occ=n_occ) @ normal
    images = np.array([[i, j] for i in (-1, 0, 1) for j in (-1, 0, 1)])
    shifts = np.zeros((len(images), 3))
    shifts[:, axes[0]], shifts[:, axes[1]] = images[:, 0], images[:, 1]

    def distance(point: np.ndarray) -> np.ndarray:
        diff = (k[:, None, :] - point[None, None, :] + shifts[None]) @ recip
        return np.linalg.norm(diff, axis=-1).min(axis=1)

    near_k = distance(kv) < distance(kvp)
    area = np.linalg.norm(np.cross(recip[axes[0]], recip[axes[1]]))
    weight = area / len(k) / (2 * np.pi)
    o_k, o_kp = float(at_valleys[0]), float(at_valleys[1])
    denominator = abs(o_k) + abs(o_kp)
    return ValleyResult(
        k_valley=kv.tolist(),
        omega_k=o_k,
        omega_k_prime=o_kp,
        omega_top_valence_k=float(top[0] @ normal),
        valley_chern_k=float(omega[near_k].sum() * weight),
        valley_chern_k_prime=float(omega[~near_k].sum() * weight),
        valley_polarisation=(o_k - o_kp) / denominator if denominator > 0 else 0.0,
    )

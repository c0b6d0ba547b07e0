"""GPAW LCAO reference Hamiltonians with spin-orbit coupling (the corpus recipe).

Pure functions, no jobflow: :func:`compute_gpaw_reference` turns a crystal into a
:class:`~socscreen.hamiltonian.Hamiltonian` in exactly the convention of the corpus files
(``docs/model.md``, "Reference data" and the corpus file format in the README):

1. validate the structure (periodic, ordered, non-empty, no overlapping atoms, GPAW
   setups and basis files present for every element);
2. self-consistent GPAW LCAO calculation (classic ``gpaw.calculator.GPAW``, PBE,
   Fermi-Dirac smearing, Gamma-centred mesh of ``ceil(density / |a_i|)`` points, one
   along a slab's vacuum);
3. fixed-density calculation on a Gamma-centred full-zone grid (``symmetry='off'``,
   ``nbands='nao'``) whose size follows from the basis cutoffs, giving H(k), S(k)
   (GPAW stores LCAO matrices complex-conjugated; they are conjugated back here);
4. the one-centre PAW spin-orbit operator of ``gpaw.spinorbit.soc`` projected on the
   orbitals, ``H_soc(k) = sum_a P_a^* H_a P_a^T`` (the operator of ``soc_eigenstates``);
5. inverse Fourier transform to H0(R), S(R), H_soc(R) at full precision (only blocks of
   pure round-off are dropped); S(k) is checked positive definite. Writing a corpus file
   (:meth:`Hamiltonian.to_npz`) zeroes elements below the corpus thresholds and leaves
   out the lattice vectors whose blocks are then all zero, as the corpus files do.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.core import Structure

from socscreen.dft.calculator import (
    GPAWReferenceSettings,
    basis_cutoffs,
    lcao_calculator_in_gpaw_cell,
    orbital_table,
    soc_operator_blocks,
    validate_structure,
)
from socscreen.hamiltonian import CORPUS_ZERO_THRESHOLDS, Hamiltonian

if TYPE_CHECKING:
    from gpaw.calculator import GPAW

__all__ = [
    "DFT_OVERLAP_CUTOFF",
    "NEGLIGIBLE",
    "OverlapNotPositiveDefiniteError",
    "check_overlap_positive_definite",
    "compute_gpaw_reference",
    "hill_formula",
    "hr_grid_from_cutoffs",
    "lattice_vectors_fft_order",
    "gpaw_meta",
    "provenance",
]

#: Keys of ``structure.properties`` copied into the Hamiltonian's ``meta`` (provenance set
#: by the structure generator), with the value used when a structure does not carry them.
PROVENANCE_DEFAULTS: dict[str, Any] = {
    "prototype": "user",
    "holdout": False,
    "strain_sigma": 0.0,
    "rattle": 0.0,
}

#: Lattice vectors whose blocks have no element above this (eV, or dimensionless for S)
#: hold only the round-off of the Fourier transform and are left out of the Hamiltonian.
#: The corpus thresholds (``CORPUS_ZERO_THRESHOLDS``) apply only when writing files.
NEGLIGIBLE = 1e-10

#: ``overlap_cutoff`` recorded in every GPAW reference (see
#: :attr:`~socscreen.hamiltonian.Hamiltonian.overlap_cutoff`). Files store H0 rounded to
#: 1e-4 eV and only the lattice vectors GPAW's k-grid resolves; along an eigen-direction of
#: S(k) below 1e-4 that rounding alone gives eigenvalue errors of eV (GPAW W and Pt at
#: experimental geometry: bands at -1650 and -210 eV that shift every band index), so those
#: directions, which carry no information at this precision, are dropped.
DFT_OVERLAP_CUTOFF = CORPUS_ZERO_THRESHOLDS["H0R"]

ProgressCallback = Callable[[str], None]


class OverlapNotPositiveDefiniteError(RuntimeError):
    """S(k) built from the real-space overlap is not positive definite (aliased R grid)."""


# -- grids --------------------------------------------------------------------------------
def hr_grid_from_cutoffs(
    cell: np.ndarray, spos: np.ndarray, cutoffs: np.ndarray
) -> tuple[int, int, int]:
    """Smallest odd full-zone grid holding every lattice vector with overlapping orbitals.

    A lattice vector R is needed when some pair of atoms i (cell 0) and j (cell R) is
    closer than ``cutoffs[i] + cutoffs[j]``; the grid is ``2 max|R_c| + 1`` per direction.

    Parameters
    ----------
    cell
        Lattice vectors as rows (Angstrom), shape ``[3, 3]``.
    spos
        Fractional positions, shape ``[n_atoms, 3]``.
    cutoffs
        Largest basis-function radius of each atom (Angstrom), shape ``[n_atoms]``.
    """
    cell = np.asarray(cell, dtype=float)
    spos = np.asarray(spos, dtype=float)
    cutoffs = np.asarray(cutoffs, dtype=float)
    reach = 2 * cutoffs.max()
    # |R_c + d_c| <= reach |b_c| with b the reciprocal vectors (no 2 pi), |d_c| < 1
    bound = np.ceil(reach * np.linalg.norm(np.linalg.inv(cell).T, axis=1)).astype(int) + 1
    R = np.array(list(itertools.product(*[range(-b, b + 1) for b in bound])))  # [n_R, 3]
    delta = spos[None, :, :] - spos[:, None, :]  # [i, j, 3], tau_j - tau_i
    vec = (delta[None] + R[:, None, None, :]) @ cell  # [n_R, i, j, 3]
    close = np.linalg.norm(vec, axis=-1) < cutoffs[:, None] + cutoffs[None, :]
    needed = R[close.any(axis=(1, 2))]
    return tuple(int(2 * n + 1) for n in np.abs(needed).max(axis=0))  # type: ignore[return-value]


def lattice_vectors_fft_order(grid: tuple[int, int, int]) -> np.ndarray:
    """Lattice vectors of a full-zone grid in FFT order (0, 1, .., -1 per direction).

    This is the R order of the corpus files (first index slowest), shape
    ``[prod(grid), 3]``.
    """
    axes = [np.rint(np.fft.fftfreq(n, 1.0 / n)).astype(int) for n in grid]
    return np.array(list(itertools.product(*axes)), dtype=int)


# -- GPAW stages --------------------------------------------------------------------------
def _lcao_hamiltonian(calc: GPAW) -> tuple[np.ndarray, np.ndarray]:
    """H(k) (Hartree) and S(k) at every k of a symmetry-free, spin-paired calculation.

    What ``gpaw.lcao.tools.get_lcao_hamiltonian`` returns (in GPAW's conjugated
    convention), but with the real-space potential matrices, which do not depend on k,
    computed once instead of once per k-point (that made the call quadratic in n_k).
    """
    from gpaw.utilities.tools import tri2full

    wfs, hamiltonian = calc.wfs, calc.hamiltonian
    vt_xmm = wfs.basis_functions.calculate_potential_matrices(hamiltonian.vt_sG[0])
    n_k, n = wfs.kd.nibzkpts, wfs.setups.nao
    h_kmm = np.zeros((n_k, n, n), wfs.dtype)
    s_kmm = np.zeros((n_k, n, n), wfs.dtype)
    for kpt in wfs.kpt_u:
        h_kmm[kpt.k] = wfs.eigensolver.calculate_hamiltonian_matrix(
            hamiltonian, wfs, kpt, Vt_xMM=vt_xmm
        )
        s_kmm[kpt.k] = wfs.S_qMM[kpt.q]
        tri2full(h_kmm[kpt.k])
        tri2full(s_kmm[kpt.k])
    return h_kmm, s_kmm


def _full_zone_matrices(
    calc: GPAW, grid: tuple[int, int, int], soc: bool, txt: Any
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
    """H(k), S(k) (and H_soc(k)) on a Gamma-centred full-zone grid, corpus convention.

    Returns
    -------
    tuple
        Fractional k-points ``[n_k, 3]``, ``{"h0", "overlap"[, "soc_uu", "soc_ud"]}``
        each ``[n_k, n, n]`` (eV), and the stage timings (s).
    """
    from ase.units import Ha

    timings = {}
    start = time.perf_counter()
    nscf = calc.fixed_density(
        kpts={"size": grid, "gamma": True}, symmetry="off", nbands="nao", txt=txt
    )
    h_kmm, s_kmm = _lcao_hamiltonian(nscf)
    # GPAW stores LCAO matrices complex-conjugated
    blocks = {"h0": np.conj(h_kmm) * Ha, "overlap": np.conj(s_kmm)}
    timings["lcao_matrices"] = time.perf_counter() - start
    if soc:
        start = time.perf_counter()
        wfs = nscf.wfs
        n_k, n = s_kmm.shape[:2]
        uu = np.zeros((n_k, n, n), complex)
        ud = np.zeros((n_k, n, n), complex)
        for a, (h_uu, h_ud) in soc_operator_blocks(nscf).items():
            p_kmi = np.asarray([wfs.P_aqMi[a][q] for q in range(n_k)])  # [n_k, n, n_i]
            uu += np.conj(p_kmi) @ h_uu @ p_kmi.transpose(0, 2, 1)
            ud += np.conj(p_kmi) @ h_ud @ p_kmi.transpose(0, 2, 1)
        blocks["soc_uu"], blocks["soc_ud"] = uu, ud
        timings["soc"] = time.perf_counter() - start
    return nscf.wfs.kd.bzk_kc.copy(), blocks, timings


def _to_real_space(
    k_kc: np.ndarray, blocks_k: np.ndarray, grid: tuple[int, int, int]
) -> np.ndarray:
    """``X(R) = (1/N) sum_k exp(-2 pi i k.R) X(k)`` for every R of the grid, FFT order.

    Parameters
    ----------
    k_kc
        Fractional k-points of the full Gamma-centred grid, shape ``[N, 3]``.
    blocks_k
        Matrices at those k-points, shape ``[N, n, n]``.

    Returns
    -------
    numpy.ndarray
        Blocks ``[N, n, n]`` in the order of :func:`lattice_vectors_fft_order`.
    """
    grid_arr = np.array(grid)
    index = np.mod(np.rint(k_kc * grid_arr).astype(int), grid_arr)  # [N, 3]
    if len({tuple(i) for i in index.tolist()}) != int(np.prod(grid)):
        raise RuntimeError("the k-points do not form the full Gamma-centred grid")
    n = blocks_k.shape[-1]
    on_grid = np.zeros((*grid, n, n), dtype=complex)
    on_grid[index[:, 0], index[:, 1], index[:, 2]] = blocks_k
    # k = m / N: sum_m X_m exp(-2 pi i m R / N) is numpy's forward FFT, indexed by R mod N
    return (np.fft.fftn(on_grid, axes=(0, 1, 2)) / np.prod(grid)).reshape(-1, n, n)


def _significant(blocks: dict[str, np.ndarray]) -> np.ndarray:
    """Mask of lattice vectors with at least one element above :data:`NEGLIGIBLE`."""
    return np.any([np.abs(b).max(axis=(1, 2)) > NEGLIGIBLE for b in blocks.values()], axis=0)


def check_overlap_positive_definite(ham: Hamiltonian, n_checks: int = 16, seed: int = 0) -> None:
    """Raise if S(k) is not positive definite at Gamma or at random k-points."""
    rng = np.random.default_rng(seed)
    k = np.vstack([np.zeros(3), rng.random((n_checks, 3)) - 0.5])  # [n_checks + 1, 3]
    lowest = np.linalg.eigvalsh(ham.overlap_k(k)).min(axis=1)
    bad = int(np.argmin(lowest))
    if lowest[bad] <= 0:
        raise OverlapNotPositiveDefiniteError(
            f"S(k) is not positive definite at k = {np.round(k[bad], 4).tolist()} "
            f"(lowest eigenvalue {lowest[bad]:.3g}); the H(R) grid "
            f"{ham.meta.get('hr_grid')} aliases: give a larger settings.hr_grid"
        )


def hill_formula(structure: Structure) -> str:
    """Hill formula of the cell, not reduced, e.g. 'Br2Zn2' (the corpus file names use it)."""
    from ase.formula import Formula

    return Formula.from_list([site.specie.symbol for site in structure]).format("hill")


def provenance(structure: Structure) -> dict[str, Any]:
    """Return the generator provenance of a structure (``PROVENANCE_DEFAULTS`` keys, elements)."""
    props = structure.properties or {}
    elements = props.get("elements") or [
        el.symbol for el in sorted(structure.composition.elements, key=lambda e: e.X)
    ]
    out = {key: props.get(key, default) for key, default in PROVENANCE_DEFAULTS.items()}
    return {"prototype": out.pop("prototype"), "elements": list(elements), **out}


def gpaw_meta(crystal: Structure, settings: GPAWReferenceSettings) -> dict[str, Any]:
    """Return the ``meta`` every GPAW Hamiltonian carries: provenance, formula, settings."""
    import gpaw

    return {
        **provenance(crystal),
        "formula": hill_formula(crystal),
        "basis": settings.basis,
        "xc": settings.xc,
        "code": "GPAW",
        "gpaw_version": gpaw.__version__,
    }


def compute_gpaw_reference(
    structure: Structure,
    settings: GPAWReferenceSettings | None = None,
    soc: bool = True,
    progress: ProgressCallback | None = None,
    txt: str | Path | None = None,
) -> Hamiltonian:
    """Compute the GPAW LCAO Hamiltonian (H0, S and spin-orbit) of a crystal.

    Parameters
    ----------
    structure
        Ordered periodic crystal. Its ``properties`` may carry generator provenance
        (``prototype``, ``elements``, ``holdout``, ``strain_sigma``, ``rattle``), copied
        into ``meta``.
    settings
        Numerical settings; the corpus defaults when ``None``.
    soc
        Compute the spin-orbit blocks (``False``: a Hamiltonian without SOC).
    progress
        Called with the name of each stage as it starts ("validate", "scf",
        "full-zone matrices", "fourier", "checks").
    txt
        GPAW log file (``None``: no log, ``"-"``: standard output).

    Returns
    -------
    Hamiltonian
        H0(R), S(R) and H_soc(R) in eV at full precision, R in FFT order (round-off
        blocks dropped);
        ``nelect``, ``efermi`` (eV), ``energy`` (GPAW total energy, eV) and ``meta`` with
        the corpus keys plus per-stage ``timings`` (s).

    Raises
    ------
    ValueError
        If the structure cannot be calculated (see :func:`validate_structure`) or an
        explicit ``hr_grid`` is smaller than the basis cutoffs require.
    OverlapNotPositiveDefiniteError
        If S(k) from the real-space overlap is not positive definite at a random k.
    """
    settings = settings or GPAWReferenceSettings()
    report = progress or (lambda stage: None)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    report("validate")
    validate_structure(structure, settings)

    report("scf")
    start = time.perf_counter()
    calc, structure = lcao_calculator_in_gpaw_cell(structure, settings, txt)
    calc.get_potential_energy(calc.atoms)
    timings["scf"] = time.perf_counter() - start
    crystal = Structure(
        structure.lattice, structure.species, calc.spos_ac, properties=structure.properties
    )
    needed = hr_grid_from_cutoffs(crystal.lattice.matrix, calc.spos_ac, basis_cutoffs(calc))
    grid = settings.hr_grid or needed
    if any(g < n for g, n in zip(grid, needed, strict=True)):
        raise ValueError(
            f"hr_grid {list(grid)} is smaller than the basis cutoffs require {list(needed)}"
        )

    report("full-zone matrices")
    k_kc, blocks_k, stage_times = _full_zone_matrices(calc, grid, soc, txt)
    timings.update(stage_times)

    report("fourier")
    start = time.perf_counter()
    blocks = {name: _to_real_space(k_kc, b, grid) for name, b in blocks_k.items()}
    blocks["h0"], blocks["overlap"] = blocks["h0"].real, blocks["overlap"].real
    keep = _significant(blocks)
    R = lattice_vectors_fft_order(grid)[keep]
    blocks = {name: b[keep] for name, b in blocks.items()}
    timings["fourier"] = time.perf_counter() - start

    meta = {
        **gpaw_meta(crystal, settings),
        "kscf": list(settings.scf_mesh(crystal)),
        "hr_grid": list(grid),
        "seed": settings.seed,
        "overlap_cutoff": DFT_OVERLAP_CUTOFF,
    }
    ham = Hamiltonian(
        crystal,
        orbital_table(calc, settings.basis),
        R,
        blocks["h0"],
        blocks["overlap"],
        soc_uu=blocks.get("soc_uu"),
        soc_ud=blocks.get("soc_ud"),
        nelect=float(calc.wfs.nvalence),
        efermi=float(calc.get_fermi_level()),
        energy=float(calc.get_potential_energy()),
        meta=meta,
    )

    report("checks")
    start = time.perf_counter()
    check_overlap_positive_definite(ham, settings.n_overlap_checks, settings.seed)
    timings["checks"] = time.perf_counter() - start
    ham.meta["seconds"] = round(time.perf_counter() - started, 1)
    ham.meta["timings"] = {k: round(v, 2) for k, v in timings.items()}
    return ham

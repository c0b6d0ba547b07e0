"""The zeroth-step Hamiltonian H(0): Kohn-Sham at the superposed atomic density, no SCF.

H(0) is the LCAO Hamiltonian of the sum of the free, neutral atoms' densities:
``hamiltonian.update`` turns that density into the effective potential and the PAW
corrections, and nothing is iterated. It is GPAW's own starting point with one change
(:func:`neutral_atom_density`): GPAW scales the summed pseudo-density by one factor to
the total charge, which moves charge between atoms whose densities the grid integrates
with different errors (Mo 2 %, W 1 %, Se 0.1 % short at 0.15 Å spacing); each atom is
made neutral instead. It is the baseline the model's
correction is added to (HamGNN's ``add_H0``, NextHAM's H(0)) and, alone, the ``baseline``
predictor. Measured on the 26 real compounds of ``benchmarks/data/holdout``: spinor bands
within E_F ± 2 eV are 59 meV (median) from the self-consistent reference, and its SOC
blocks are those of the converged density to 1e-6 - 1e-2 relative.

Real-space assembly, no Bloch sums: one GPAW set-up with a single k-point and complex
wave functions (:func:`~socscreen.dft.calculator.lcao_calculator`), then per lattice
vector R (blocks ``X[R][μ, ν] = <φ_μ(r - τ_μ)| X |φ_ν(r - τ_ν - R)>``, eV):

* kinetic energy T(R) and overlap S(R) from GPAW's two-centre expansions evaluated at
  each atom-pair displacement (``wfs.tciexpansions``, what the k route sums with phases);
* the pseudo-potential matrix ``<φ_μ|ṽ|φ_ν(R)>`` from the real-space grid, once, per
  cell displacement (``basis_functions.calculate_potential_matrices``);
* the PAW sums ``Σ_a Σ_t <φ_μ|p̃^a(t)> X^a <p̃^a(t)|φ_ν(R)>`` for X = ΔH^a (Hamiltonian),
  ΔO^a (overlap) and the one-centre spin-orbit operator of ``gpaw.spinorbit.soc``,
  vectorised per projector atom over all the orbitals its projectors reach.

The result equals the k-grid + Fourier extraction of the same calculator (the reference
route of :mod:`socscreen.dft.reference`) to round-off, without its aliasing, at a small
fraction of its cost (``tests/dft/test_zeroth_step.py``; ``benchmarks/bench_baseline.py``).

A cell of hundreds of atoms takes the same terms into sparse blocks
(:func:`sparse_zeroth_step_blocks`, ``compute_zeroth_step(..., sparse_blocks=True)``: a
:class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`), with GPAW's potential matrices
a few rows at a time; the set-up (:func:`atomic_start`) skips GPAW's dense LCAO matrices in
either case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.core import Structure
from scipy import sparse

from socscreen.analysis.band_edges import inertia_fermi_level
from socscreen.analysis.bands import fermi_grid, fermi_level
from socscreen.dft.block_assembly import row_lookup
from socscreen.dft.calculator import (
    GPAWReferenceSettings,
    lcao_calculator_in_gpaw_cell,
    orbital_table,
    soc_operator_blocks,
    validate_structure,
)
from socscreen.dft.reference import NEGLIGIBLE, ProgressCallback, gpaw_meta
from socscreen.hamiltonian import CORPUS_ZERO_THRESHOLDS, Hamiltonian
from socscreen.sparse_hamiltonian import SparseHamiltonian, stacked_rows

if TYPE_CHECKING:
    from gpaw.calculator import GPAW

__all__ = [
    "ZEROTH_STEP_OVERLAP_CUTOFF",
    "ZEROTH_STEP_VERSION",
    "atomic_start",
    "compute_zeroth_step",
    "neutral_atom_density",
    "sparse_zeroth_step_blocks",
    "zeroth_step_blocks",
]

#: ``overlap_cutoff`` of an H(0) Hamiltonian: the same as a model prediction's (see
#: :data:`socscreen.model.inference.PREDICTION_OVERLAP_CUTOFF`). H(0) is not the
#: self-consistent H, so near-null directions of S(k) (diffuse orbitals of ionic and bcc
#: crystals, smallest eigenvalue 1e-5 - 1e-4) turn its errors into ghost bands; the
#: baseline and the corrected model are solved alike so that they compare like for like.
ZEROTH_STEP_OVERLAP_CUTOFF = 1e-2

#: ``meta["zeroth_step_version"]`` of H(0) as this module builds it. 2: every atom's density
#: normalised to its own charge (:func:`neutral_atom_density`); H(0) without the key was
#: built from GPAW's globally normalised density. Stored companions and checkpoints of
#: another version are out of date.
ZEROTH_STEP_VERSION = 2

#: Rows of GPAW's potential matrices computed at once by the sparse assembly: ``n_x`` such
#: rows of ``n`` float64 each (41 MB for a 1,014-atom bilayer's 11,500 orbitals and 9 x).
POTENTIAL_ROWS_PER_CHUNK = 50

#: Entries of sparse H(0) blocks at or below these are not kept (eV; S dimensionless): the
#: thresholds the corpus files, and so the model, were made with.
SPARSE_DROP_BELOW = {
    "h0": CORPUS_ZERO_THRESHOLDS["H0R"],
    "overlap": CORPUS_ZERO_THRESHOLDS["SR"],
    "soc_uu": CORPUS_ZERO_THRESHOLDS["Hsoc"],
    "soc_ud": CORPUS_ZERO_THRESHOLDS["Hsoc"],
}

#: Fraction of a field's threshold below which the sparse assembly does not collect a term.
#: An element sums one two-centre term and one PAW term per atom whose projectors both
#: orbitals reach (a few hundred at most), so the terms left out add up to well below the
#: threshold; most of a large cell's three-centre terms are that small.
TERM_FLOOR = 1e-3

#: Entries a sparse field collects before they are summed into its CSR matrix (at least).
SPARSE_FLUSH_ENTRIES = 2_000_000

Projections = dict[int, list[tuple[np.ndarray, int, np.ndarray]]]


def _key(R: np.ndarray) -> tuple[int, int, int]:
    return int(R[0]), int(R[1]), int(R[2])


def _potential_matrix_rows(
    calc: GPAW, vt_G: np.ndarray, rows_per_chunk: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """GPAW's potential matrices ``<φ_μ|v|φ_ν(s_x)>`` (Hartree) of ``vt_G``, rows at a time.

    Yields ``(rows, V_x[rows])``, ``[n_x, len(rows), n]`` real, over ``rows_per_chunk`` rows
    each (all at once by default), so that a large cell never holds its ``[n_x, n, n]``
    stack (9.5 GB for a 1,014-atom bilayer).
    """
    bfs = calc.wfs.basis_functions
    n = bfs.Mmax
    step = n if rows_per_chunk is None else rows_per_chunk
    try:
        for start in range(0, n, step):
            rows = np.arange(start, min(n, start + step))
            bfs.set_matrix_distribution(rows[0], rows[-1] + 1)
            yield rows, bfs.calculate_potential_matrices(vt_G).real
    finally:
        bfs.set_matrix_distribution(0, n)


def _potential_blocks(
    calc: GPAW, rows_per_chunk: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """<φ_μ|ṽ|φ_ν(R)> (eV) from the basis functions' potential matrices, ``(R, rows, cols, V)``.

    GPAW returns one matrix per displacement ``s_x`` of half the displacement box
    (x = 0 first) and builds its (conjugated) H(k) as
    ``½ V_0 + Σ_{x>0} e^{2πi s_x·k} V_x`` plus the Hermitian conjugate, so in the corpus
    convention ``V(-s_x) = V_x``, ``V(s_x) = V_xᵀ`` and ``V(0) = ½ (V_0 + V_0ᵀ)``. Each
    item is one R's block of ``rows_per_chunk`` rows (or, transposed, columns) of them
    (:func:`_potential_matrix_rows`).
    """
    from ase.units import Ha

    sdisp = calc.wfs.basis_functions.sdisp_xc
    every = np.arange(calc.wfs.basis_functions.Mmax)
    for rows, vt_xmm in _potential_matrix_rows(calc, calc.hamiltonian.vt_sG[0], rows_per_chunk):
        vt_xmm *= Ha
        vt_xmm[0] *= 0.5
        for s_x, v in zip(sdisp, vt_xmm, strict=True):
            yield -s_x, rows, every, v
            yield s_x, every, rows, v.T


def _two_centre_blocks(
    calc: GPAW, orbital_start: np.ndarray
) -> tuple[list[tuple[np.ndarray, slice, slice, np.ndarray, np.ndarray]], Projections]:
    """Pseudo overlap and kinetic blocks per atom pair and cell, and projector overlaps.

    Returns
    -------
    tuple
        ``[(R, rows, cols, S_block, T_block)]`` (T in eV) for every pair of atoms whose
        orbitals overlap, and ``{a: [(offset, a2, B)]}`` with
        ``B[m, i] = <φ^{a2}_m(r - τ_2 - offset)|p̃^a_i(r - τ_a)>`` for every atom ``a2``
        and cell ``offset`` whose orbitals reach the projectors of atom ``a``.
    """
    from ase.units import Ha
    from gpaw.lcao.overlap import AtomicDisplacement, NullPhases
    from gpaw.lcao.tci import AtomPairRegistry

    wfs = calc.wfs
    tci = wfs.tciexpansions
    species = tci.I_a
    phit_cut = np.array([tci.phit_rcmax_I[i] for i in species])
    pt_cut = np.array([tci.pt_rcmax_I[i] for i in species])
    pairs = AtomPairRegistry(
        [tci.rcmax_I[i] for i in species], wfs.gd.pbc_c, wfs.gd.cell_cv, calc.spos_ac
    )
    blocks = []
    projections: Projections = {a: [] for a in range(len(species))}
    for a1, a2 in pairs.get_atompairs():
        rows = slice(orbital_start[a1], orbital_start[a1 + 1])
        cols = slice(orbital_start[a2], orbital_start[a2 + 1])
        o_exp, t_exp = tci.O_expansions.get(a1, a2), tci.T_expansions.get(a1, a2)
        p_exp = tci.P_expansions.get(a1, a2)
        for r_c, offset in pairs.get(a1, a2):
            distance = np.linalg.norm(r_c)
            disp = AtomicDisplacement(None, a1, a2, r_c, offset, NullPhases(None, offset))
            if distance < phit_cut[a1] + phit_cut[a2]:
                o_mm, t_mm = o_exp.zeros((1,), dtype=float), t_exp.zeros((1,), dtype=float)
                disp.evaluate_overlap(o_exp, o_mm)
                disp.evaluate_overlap(t_exp, t_mm)
                blocks.append((np.asarray(offset), rows, cols, o_mm[0], t_mm[0] * Ha))
            if distance < pt_cut[a1] + phit_cut[a2]:
                p_im = p_exp.zeros((1,), dtype=float)
                disp.evaluate_overlap(p_exp, p_im)  # <p̃^a1_i | φ^a2_m(offset)>
                projections[a1].append((np.asarray(offset), a2, p_im[0].T))
    return blocks, projections


def _paw_operators(calc: GPAW, soc: bool) -> dict[str, dict[int, np.ndarray]]:
    """Per-atom one-centre operators: ΔH^a (eV), ΔO^a, and the SOC spin blocks (eV)."""
    from ase.units import Ha
    from gpaw.utilities import unpack_hermitian

    operators = {
        "h0": {a: unpack_hermitian(dh_sp[0]) * Ha for a, dh_sp in calc.hamiltonian.dH_asp.items()},
        "overlap": {a: setup.dO_ii for a, setup in enumerate(calc.wfs.setups)},
    }
    if soc:
        blocks = soc_operator_blocks(calc)
        operators["soc_uu"] = {a: uu for a, (uu, _) in blocks.items()}
        operators["soc_ud"] = {a: ud for a, (_, ud) in blocks.items()}
    return operators


def _add_paw_terms(
    sink: _Sink,
    R: np.ndarray,
    orbital_start: np.ndarray,
    projections: Projections,
    operators: dict[str, dict[int, np.ndarray]],
) -> None:
    """Add ``Σ_a Σ_t B_μ(t) X^a B_ν(t + R)ᵀ`` for every operator X of ``operators``.

    Per projector atom a: one product ``B X Bᵀ`` over all orbitals its projectors reach
    (B stacked over every reaching atom and cell), then one add per row entry: the
    targets ``(R = o_2 - o_1, ν)`` of one row entry's columns are all distinct, and their
    slots are rows of the lattice vectors ``R`` ``[n_R, 3]`` (sorted, all present).
    """
    for a, entries in projections.items():
        if not entries:
            continue
        b_stack = np.vstack([b for _, _, b in entries])  # [n_reached, n_i]
        col_orbitals = np.concatenate(
            [np.arange(orbital_start[a2], orbital_start[a2 + 1]) for _, a2, _ in entries]
        )
        col_offsets = np.concatenate([np.repeat(o[None], len(b), 0) for o, _, b in entries])
        row_start = np.cumsum([0] + [len(b) for _, _, b in entries])
        products = {name: b_stack @ x[a] @ b_stack.T for name, x in operators.items()}
        for e, (o1, a1, _) in enumerate(entries):
            slots = row_lookup(R, col_offsets - o1)
            rows = np.arange(orbital_start[a1], orbital_start[a1 + 1])
            for name, product in products.items():
                sink.add(name, slots, rows, col_orbitals, product[row_start[e] : row_start[e + 1]])


class _Sink:
    """Where the assembled terms go: ``add`` blocks to ``X[slot][rows, cols]`` of a field.

    ``slots`` is the R index of the block, one for all or one per column; the targets of
    one ``add`` are distinct. The dense sink holds ``[n_R, n, n]`` arrays; the sparse one
    (:class:`_SparseSink`) collects entries and sums them into CSR ``[n_R n, n]``.
    """

    #: Rows of GPAW's potential matrices to compute at once (``None``: all).
    potential_rows: int | None = None

    def __init__(self, fields: list[str], n_R: int, n: int) -> None:
        self.n = n
        self.arrays = {
            name: np.zeros((n_R, n, n), complex if name.startswith("soc") else float)
            for name in fields
        }

    def add(
        self,
        name: str,
        slots: int | np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        block: np.ndarray,
    ) -> None:
        slots = np.broadcast_to(slots, cols.shape)
        self.arrays[name][slots[None, :], rows[:, None], cols[None, :]] += block

    def blocks(self) -> dict[str, np.ndarray]:
        """Return the fields, ``[n_R, n, n]`` each."""
        return self.arrays


class _SparseSink(_Sink):
    """A :class:`_Sink` of CSR ``[n_R n, n]`` fields; summed entries ``|x| <= drop_below`` out.

    Added entries wait in lists and are summed into the field's CSR matrix whenever they
    outnumber it (and :data:`SPARSE_FLUSH_ENTRIES`), so that the merges cost no more than
    the entries. The threshold applies to the sums, once every term is in; terms below
    :data:`TERM_FLOOR` of it are not collected.
    """

    def __init__(self, fields: list[str], n_R: int, n: int, drop_below: dict[str, float]) -> None:
        self.n, self.shape = n, (n_R * n, n)
        self.potential_rows = POTENTIAL_ROWS_PER_CHUNK
        self.drop_below = drop_below
        self.fields = {
            name: sparse.csr_matrix(self.shape, dtype=complex if name.startswith("soc") else float)
            for name in fields
        }
        self.pending: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
            name: [] for name in fields
        }
        self.counts = dict.fromkeys(fields, 0)

    def add(
        self,
        name: str,
        slots: int | np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        block: np.ndarray,
    ) -> None:
        keep = np.abs(block) > TERM_FLOOR * self.drop_below.get(name, 0.0)
        i, j = np.nonzero(keep)
        slot = np.broadcast_to(slots, cols.shape)[j]
        self.pending[name].append((slot * self.n + rows[i], cols[j], block[keep]))
        self.counts[name] += len(i)
        if self.counts[name] > max(SPARSE_FLUSH_ENTRIES, self.fields[name].nnz):
            self._flush(name)

    def _flush(self, name: str) -> None:
        if not self.pending[name]:
            return
        rows, cols, values = (np.concatenate(x) for x in zip(*self.pending[name], strict=True))
        self.fields[name] = self.fields[name] + sparse.csr_matrix(
            (values, (rows, cols)), shape=self.shape
        )
        self.pending[name], self.counts[name] = [], 0

    def blocks(self) -> dict[str, sparse.csr_matrix]:
        """Return the fields, CSR ``[n_R n, n]`` each, less entries at or below the threshold."""
        for name in self.fields:
            self._flush(name)
            field = self.fields[name]
            field.data[np.abs(field.data) <= self.drop_below.get(name, 0.0)] = 0
            field.eliminate_zeros()
        return self.fields


def atomic_start(calc: GPAW) -> None:
    """Put the atoms in place and set up GPAW's starting density and Hamiltonian, nothing more.

    What ``calc.set_positions`` does for an LCAO calculator less the dense ``[n, n]``
    overlap, kinetic and projector matrices of its k-point (``LCAOWaveFunctions.
    set_positions``), which H(0) computes itself per lattice vector: 9 GB of a 1,014-atom
    bilayer's set-up. The density is GPAW's start from the atoms
    (``initialize_from_atomic_densities``) and the Hamiltonian its potential; both equal
    those of ``set_positions`` exactly.
    """
    from gpaw.old.wavefunctions.base import WaveFunctions
    from gpaw.utilities.partition import AtomPartition

    spos_ac = calc.spos_ac
    wfs = calc.wfs
    partition = AtomPartition(wfs.gd.comm, wfs.gd.get_ranks_from_positions(spos_ac), name="gd")
    WaveFunctions.set_positions(wfs, spos_ac, partition)
    wfs.basis_functions.set_positions(spos_ac)
    calc.density.set_positions(spos_ac, partition)
    calc.hamiltonian.set_positions(spos_ac, partition)
    calc.density.initialize_from_atomic_densities(wfs.basis_functions)
    calc.hamiltonian.update(calc.density)


def neutral_atom_density(calc: GPAW, rows_per_chunk: int | None = None) -> None:
    """Replace GPAW's starting density by the sum of neutral atoms' densities, and update H.

    GPAW starts from ``n = x Σ_a n_a`` with one factor ``x`` that makes the cell neutral
    (``Density.normalize``). The grid integrates each atom's pseudo-density ``n_a`` (its
    occupied basis functions squared plus its smooth core) with an error of its own, so one
    factor leaves some atoms charged: 0.03 e on Mo against W in a MoSe2/WSe2 bilayer, a
    0.23 e·Å dipole that put the two layers' levels ~1 eV apart although the SCF has them
    level. Here each atom gets its own ``x_a = −Q_a / ∫ n_a`` (``Q_a`` its compensation
    charge: nucleus and core minus the PAW correction), so every atom, and any sheet or
    layer, is neutral, and the Hartree potential and PAW corrections are recomputed.

    Parameters
    ----------
    calc
        GPAW LCAO calculator after :func:`atomic_start` or ``set_positions`` (density and
        Hamiltonian at GPAW's atomic start); changed in place.
    rows_per_chunk
        Rows of GPAW's basis-function overlap matrices computed at once for the grid
        integrals (all by default; a large cell: :data:`POTENTIAL_ROWS_PER_CHUNK`).
    """
    density, bfs = calc.density, calc.wfs.basis_functions
    ones = density.gd.zeros() + 1.0
    basis_squared = np.concatenate(  # ∫ φ_M² per M, on the grid
        [v[0][:, rows].diagonal() for rows, v in _potential_matrix_rows(calc, ones, rows_per_chunk)]
    )
    core = {a: np.zeros(1) for a in range(len(calc.wfs.setups))}
    density.nct.integrate(ones, core)
    occupations = {a: density.get_initial_occupations(a) for a in bfs.atom_indices}
    start = np.cumsum([0] + [setup.nao for setup in calc.wfs.setups])
    _, q_al = density.calculate_multipole_moments()
    scale = {
        a: -q_al[a][0]
        * np.sqrt(4 * np.pi)
        / (f_si.sum(axis=0) @ basis_squared[start[a] : start[a + 1]] + core[a][0])
        for a, f_si in occupations.items()
    }
    nt_sG = density.gd.zeros(len(density.nt_sG))
    bfs.add_to_density(nt_sG, {a: scale[a] * f_si for a, f_si in occupations.items()})
    for nt_G in nt_sG:
        density.nct.add(nt_G, {a: np.array([x / len(nt_sG)]) for a, x in scale.items()})
    density.nt_xG[: len(nt_sG)] = nt_sG
    density.interpolate_pseudo_density()
    density.calculate_pseudo_charge()
    calc.hamiltonian.update(density)


def _assemble(
    calc: GPAW, soc: bool, sink_of: Callable[[list[str], int, int], _Sink]
) -> tuple[np.ndarray, _Sink]:
    """Add every term of H(0), S and SOC to ``sink_of(fields, n_R, n)``; return R and the sink."""
    orbital_start = np.cumsum([0] + [setup.nao for setup in calc.wfs.setups])
    two_centre, projections = _two_centre_blocks(calc, orbital_start)
    operators = _paw_operators(calc, soc)
    sdisp = calc.wfs.basis_functions.sdisp_xc
    lattice = [sdisp, -sdisp] + [b[0][None] for b in two_centre]
    for entries in projections.values():
        offsets = np.unique(np.array([o for o, _, _ in entries]).reshape(-1, 3), axis=0)
        lattice.append((offsets[None] - offsets[:, None]).reshape(-1, 3))
    R = np.unique(np.concatenate(lattice).astype(int), axis=0)  # sorted rows
    slot = {_key(r): i for i, r in enumerate(R)}
    sink = sink_of(list(operators), len(R), int(orbital_start[-1]))
    for r, rows, cols, v in _potential_blocks(calc, sink.potential_rows):
        sink.add("h0", slot[_key(r)], rows, cols, v)
    for r, rows, cols, s_block, t_block in two_centre:
        rows, cols = np.arange(rows.start, rows.stop), np.arange(cols.start, cols.stop)
        sink.add("overlap", slot[_key(r)], rows, cols, s_block)
        sink.add("h0", slot[_key(r)], rows, cols, t_block)
    _add_paw_terms(sink, R, orbital_start, projections, operators)
    return R, sink


def zeroth_step_blocks(calc: GPAW, soc: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """H(0)(R), S(R) and the SOC blocks of a calculator set up at the atomic density.

    Parameters
    ----------
    calc
        GPAW LCAO calculator after ``set_positions`` with one k-point and complex wave
        functions (:func:`~socscreen.dft.calculator.lcao_calculator` with
        ``single_kpoint=True``).
    soc
        Also assemble the spin-orbit blocks.

    Returns
    -------
    tuple
        Lattice vectors ``[n_R, 3]`` (sorted, those whose blocks are all below
        ``NEGLIGIBLE`` dropped) and ``{"h0", "overlap"[, "soc_uu", "soc_ud"]}``, each
        ``[n_R, n, n]`` (eV; S dimensionless).
    """
    R, sink = _assemble(calc, soc, _Sink)
    arrays = sink.blocks()
    keep = np.any([np.abs(x).max(axis=(1, 2)) > NEGLIGIBLE for x in arrays.values()], axis=0)
    return R[keep], {name: x[keep] for name, x in arrays.items()}


def sparse_zeroth_step_blocks(
    calc: GPAW, soc: bool = True, drop_below: dict[str, float] | None = None
) -> tuple[np.ndarray, dict[str, sparse.csr_matrix]]:
    """:func:`zeroth_step_blocks` as CSR ``[n_R n, n]`` stacks, for cells of hundreds of atoms.

    The same terms, never dense: GPAW's potential matrices come
    :data:`POTENTIAL_ROWS_PER_CHUNK` rows at a time and every block goes into sparse
    fields, so memory grows with the couplings rather than with ``n_R n²``.

    Parameters
    ----------
    drop_below
        Per field, entries ``|x| <=`` this are not kept (eV; S dimensionless); default
        every nonzero, which equals :func:`zeroth_step_blocks` to round-off.
    """
    R, sink = _assemble(
        calc, soc, lambda fields, n_R, n: _SparseSink(fields, n_R, n, drop_below or {})
    )
    fields = sink.blocks()
    n = sink.n
    peak = np.zeros(len(R))
    for x in fields.values():
        np.maximum.at(peak, stacked_rows(x) // n, np.abs(x.data))
    keep = np.flatnonzero(peak > NEGLIGIBLE)
    rows = (keep[:, None] * n + np.arange(n)[None]).ravel()
    return R[keep], {name: x[rows] for name, x in fields.items()}


def compute_zeroth_step(
    structure: Structure,
    settings: GPAWReferenceSettings | None = None,
    soc: bool = True,
    progress: ProgressCallback | None = None,
    txt: str | Path | None = None,
    fermi: bool = True,
    sparse_blocks: bool = False,
) -> Hamiltonian | SparseHamiltonian:
    """Zeroth-step Hamiltonian H(0) of a crystal (GPAW at the atomic density, no SCF).

    Parameters
    ----------
    structure
        Ordered periodic crystal (3D, or a 2D sheet with vacuum); its ``properties`` may
        carry generator provenance, copied into ``meta`` as for the reference.
    settings
        Basis, grid spacing, functional; the corpus defaults when ``None`` (the same
        settings as the reference it is compared with).
    soc
        Assemble the spin-orbit blocks (``False``: a Hamiltonian without SOC).
    progress
        Called with the name of each stage as it starts ("validate", "setup", "assemble",
        "fermi level").
    txt
        GPAW log file (``None``: no log, ``"-"``: standard output).
    fermi
        Find the Fermi level of H(0)'s spinor bands (``False``: ``efermi`` stays ``None``,
        for a caller that changes H(0) and finds its own: a diagonalisation saved, the
        largest single cost of a 100-atom cell).
    sparse_blocks
        Assemble sparse blocks (:func:`sparse_zeroth_step_blocks`, entries below
        :data:`SPARSE_DROP_BELOW` out) into a
        :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`, whose Fermi level comes
        from spinless band counts and second variation
        (:func:`~socscreen.analysis.band_edges.inertia_fermi_level`) on the same k-grid:
        for cells of hundreds of atoms.

    Returns
    -------
    Hamiltonian or SparseHamiltonian
        H0(R), S(R), H_soc(R) in eV, ``nelect``, ``efermi`` from its own spinor bands,
        ``meta["source"] = "zeroth-step"`` with the GPAW version, settings and per-stage
        ``timings`` (s), and ``meta["overlap_cutoff"]``
        (:data:`ZEROTH_STEP_OVERLAP_CUTOFF`).

    Raises
    ------
    ValueError
        If GPAW cannot treat the structure (:func:`validate_structure` names the reason).
    """
    settings = settings or GPAWReferenceSettings()
    report = progress or (lambda stage: None)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    report("validate")
    validate_structure(structure, settings)

    report("setup")
    start = time.perf_counter()
    calc, structure = lcao_calculator_in_gpaw_cell(structure, settings, txt, single_kpoint=True)
    atomic_start(calc)  # atomic densities -> potential and PAW corrections
    neutral_atom_density(calc, POTENTIAL_ROWS_PER_CHUNK if sparse_blocks else None)
    timings["setup"] = time.perf_counter() - start

    report("assemble")
    start = time.perf_counter()
    if sparse_blocks:
        R, blocks = sparse_zeroth_step_blocks(calc, soc, SPARSE_DROP_BELOW)
    else:
        R, blocks = zeroth_step_blocks(calc, soc)
    timings["assemble"] = time.perf_counter() - start

    crystal = Structure(
        structure.lattice, structure.species, calc.spos_ac, properties=structure.properties
    )
    orbitals = orbital_table(calc, settings.basis)
    meta: dict[str, Any] = {
        **gpaw_meta(crystal, settings),
        "source": "zeroth-step",
        "grid_spacing": settings.grid_spacing,
        "overlap_cutoff": ZEROTH_STEP_OVERLAP_CUTOFF,
        "soc": soc,
        "zeroth_step_version": ZEROTH_STEP_VERSION,
    }
    container = SparseHamiltonian if sparse_blocks else Hamiltonian
    ham = container(
        crystal,
        orbitals,
        R,
        blocks["h0"],
        blocks["overlap"],
        soc_uu=blocks.get("soc_uu"),
        soc_ud=blocks.get("soc_ud"),
        nelect=float(calc.wfs.nvalence),
        meta=meta,
    )
    if fermi:
        report("fermi level")
        start = time.perf_counter()
        if sparse_blocks:
            grid = fermi_grid(ham)
            ham.efermi, ham.meta["band_counts"] = inertia_fermi_level(ham, grid, soc, True)
        else:
            ham.efermi = fermi_level(ham)
        timings["fermi_level"] = time.perf_counter() - start
    ham.meta["seconds"] = round(time.perf_counter() - started, 2)
    ham.meta["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return ham

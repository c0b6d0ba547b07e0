"""The exact overlap S(R) against GPAW's (corpus files and a live GPAW), and its symmetries."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from socscreen.dft.basis_functions import element_shells, load_basis
from socscreen.dft.gpaw_files import DataFileNotFoundError
from socscreen.dft.overlap import overlap_matrices, overlapping_R
from socscreen.dft.real_harmonics import real_harmonics
from socscreen.hamiltonian import Hamiltonian
from socscreen.orbitals import OrbitalTable

#: Corpus files whose H(R) grid holds every overlapping R (no aliasing).
CLEAN_FILES = [
    "Bi2Se3_szp.npz",
    "Si_szp.npz",
    "Bi2In2_wurtzite_sz.npz",
    "Cu_sz.npz",
    "LiBr_sz.npz",
]


@pytest.fixture(scope="module", params=CLEAN_FILES)
def corpus(request, data_dir) -> tuple[Hamiltonian, np.ndarray]:
    ham = Hamiltonian.from_npz(data_dir / request.param)
    return ham, overlap_matrices(ham.structure, ham.orbitals, ham.R)


def test_equals_corpus_overlap(corpus):
    ham, overlap = corpus
    error = np.abs(overlap - ham.overlap)
    stored = ham.overlap != 0
    assert error.max() <= 2e-5
    # Stored elements (float32) agree to GPAW's own numerical precision ...
    assert error[stored].max() <= 1e-6
    # ... and the elements the corpus zeroed are below its 1e-5 threshold.
    assert np.abs(overlap[~stored]).max() < 1e-5 + 1e-7


def test_overlapping_R_covers_corpus_blocks(corpus):
    ham, overlap = corpus
    reach = overlapping_R(ham.structure, ham.orbitals.basis_name)
    keys = {tuple(r) for r in reach.tolist()}
    assert (0, 0, 0) in keys
    assert all(tuple(-x for x in r) in keys for r in keys)
    nonzero = {tuple(r) for r in ham.R[ham.overlap.any(axis=(1, 2))].tolist()}
    assert nonzero <= keys
    assert len(keys) <= 2 * len(nonzero)
    # Blocks beyond the two-centre reach (three-centre PAW tails) are negligible.
    outside = [i for i, r in enumerate(ham.R.tolist()) if tuple(r) not in keys]
    if outside:
        assert np.abs(overlap[outside]).max() < 1e-6


def test_hermitian_and_positive_definite(corpus):
    ham, _ = corpus
    reach = overlapping_R(ham.structure, ham.orbitals.basis_name)
    overlap = overlap_matrices(ham.structure, ham.orbitals, reach)
    minus = {tuple(r): i for i, r in enumerate(reach.tolist())}
    partner = [minus[tuple(-x for x in r)] for r in reach.tolist()]
    np.testing.assert_allclose(overlap, overlap[partner].transpose(0, 2, 1), rtol=0, atol=1e-12)
    k = np.random.default_rng(5).random((8, 3))
    s_k = np.einsum("kr,rij->kij", np.exp(2j * np.pi * k @ reach.T), overlap)
    assert np.linalg.eigvalsh(s_k).min() > 1e-3


def test_aliased_corpus_file_is_the_folded_overlap(data_dir):
    """The AgAsLi file's 5x5x5 H(R) grid is shorter than Li's reach (R up to 4).

    Its S(R) is then the alias sum of the true S over R' = R (mod grid); the exact overlap
    reproduces that sum, and differs from the stored blocks by far more than the tolerance.
    """
    ham = Hamiltonian.from_npz(data_dir / "AgAsLi_halfheusler_sz.npz")
    grid = np.array(
        json.loads(str(np.load(data_dir / "AgAsLi_halfheusler_sz.npz")["meta"]))["hr_grid"]
    )
    reach = overlapping_R(ham.structure, ham.orbitals.basis_name)
    assert np.any(np.abs(reach).max(axis=0) > grid // 2)
    overlap = overlap_matrices(ham.structure, ham.orbitals, reach)
    folded = np.zeros_like(ham.overlap)
    row = {tuple(r): i for i, r in enumerate(ham.R.tolist())}
    for block, r in zip(overlap, ((reach + grid // 2) % grid - grid // 2).tolist(), strict=True):
        if tuple(r) in row:
            folded[row[tuple(r)]] += block
        else:  # the file dropped all-zero (below 1e-5) blocks
            assert np.abs(block).max() < 1e-5
    assert np.abs(folded - ham.overlap).max() <= 2e-5
    direct = overlap_matrices(ham.structure, ham.orbitals, ham.R)
    assert np.abs(direct - ham.overlap).max() > 1e-3


def _shell_rotation(ell: int, rotation: np.ndarray) -> np.ndarray:
    """D with ``Y_l(Q v) = D Y_l(v)``, fitted on random points (exact: Y_l spans the irrep)."""
    v = np.random.default_rng(ell).normal(size=(4 * ell + 8, 3))
    block = slice(ell * ell, (ell + 1) ** 2)
    y, y_rotated = real_harmonics(ell, v)[:, block], real_harmonics(ell, v @ rotation.T)[:, block]
    return np.linalg.lstsq(y, y_rotated, rcond=None)[0].T


def _orbital_rotation(orbitals: OrbitalTable, rotation: np.ndarray) -> np.ndarray:
    n = orbitals.n_orbitals
    out = np.zeros((n, n))
    start = 0
    for atom in range(len(orbitals.numbers)):
        for ell in orbitals.shells_of_atom(atom):
            out[start : start + 2 * ell + 1, start : start + 2 * ell + 1] = _shell_rotation(
                ell, rotation
            )
            start += 2 * ell + 1
    return out


@pytest.mark.parametrize("improper", [False, True], ids=["rotation", "rotoinversion"])
def test_rotation_covariance(bi2se3, improper):
    rng = np.random.default_rng(11)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q)) * (-1 if improper else 1)
    structure = bi2se3.structure
    rotated = Structure(
        Lattice(structure.lattice.matrix @ q.T), structure.species, structure.frac_coords
    )
    reach = overlapping_R(structure)
    overlap = overlap_matrices(structure, bi2se3.orbitals, reach)
    overlap_rotated = overlap_matrices(rotated, bi2se3.orbitals, reach)
    d = _orbital_rotation(bi2se3.orbitals, q)
    np.testing.assert_allclose(d @ d.T, np.eye(len(d)), atol=1e-12)
    np.testing.assert_allclose(overlap_rotated, d @ overlap @ d.T, rtol=0, atol=1e-10)


def test_lattice_translation_of_one_atom_shifts_its_blocks(silicon):
    structure = silicon.structure
    shift = np.array([1, -2, 0])
    moved = Structure(
        structure.lattice, structure.species, structure.frac_coords + np.array([[0, 0, 0], shift])
    )
    reach = overlapping_R(structure)
    wide = np.unique(np.concatenate([reach, reach + shift, reach - shift]), axis=0)
    before = overlap_matrices(structure, silicon.orbitals, wide)
    after = overlap_matrices(moved, silicon.orbitals, wide)
    row = {tuple(r): i for i, r in enumerate(wide.tolist())}
    a, b = slice(0, 9), slice(9, 18)
    for r in reach.tolist():
        # S'_{01}(R) = S_{01}(R + T), S'_{10}(R) = S_{10}(R - T), S'_{00} and S'_{11} unchanged.
        for block in (a, b):
            np.testing.assert_allclose(
                after[row[tuple(r)]][block, block], before[row[tuple(r)]][block, block], atol=1e-12
            )
        np.testing.assert_allclose(
            after[row[tuple(r)]][a, b], before[row[tuple(np.add(r, shift))]][a, b], atol=1e-12
        )
        np.testing.assert_allclose(
            after[row[tuple(r)]][b, a], before[row[tuple(np.subtract(r, shift))]][b, a], atol=1e-12
        )


def test_supercell_blocks_equal_primitive_blocks(silicon):
    primitive = silicon.structure
    matrix = np.array([[2, 0, 0], [0, 1, 1], [0, 0, 1]])
    supercell = primitive.copy()
    supercell.make_supercell(matrix)
    orbitals = OrbitalTable(tuple(supercell.atomic_numbers), silicon.orbitals.element_shells)
    # Each supercell atom is primitive atom `kind` translated by integer `t` (primitive cell).
    frac = supercell.frac_coords @ matrix  # primitive fractional coordinates
    offset = (frac[:, None, :] - primitive.frac_coords[None, :, :] + 0.5) % 1 - 0.5
    kind = np.argmin(np.linalg.norm(offset, axis=2), axis=1)
    t = np.rint(frac - primitive.frac_coords[kind]).astype(int)
    reach_super = overlapping_R(supercell)
    s_super = overlap_matrices(supercell, orbitals, reach_super)
    # R of the primitive blocks, t_j - t_i + R' M, shape [n_R', n, n, 3]
    r_prim = t[None, None, :] - t[None, :, None] + (reach_super @ matrix)[:, None, None]
    needed = np.unique(r_prim.reshape(-1, 3), axis=0)
    s_prim = overlap_matrices(primitive, silicon.orbitals, needed)
    row = {tuple(r): i for i, r in enumerate(needed.tolist())}
    for ir in range(len(reach_super)):
        for i, j in itertools.product(range(len(supercell)), repeat=2):
            np.testing.assert_allclose(
                s_super[ir, 9 * i : 9 * i + 9, 9 * j : 9 * j + 9],
                s_prim[
                    row[tuple(r_prim[ir, i, j])],
                    9 * kind[i] : 9 * kind[i] + 9,
                    9 * kind[j] : 9 * kind[j] + 9,
                ],
                rtol=0,
                atol=1e-12,
            )


@pytest.mark.gpaw
def test_equals_live_gpaw_overlap():
    """A rattled three-element cell: S(k) of GPAW's LCAO initialisation on a 3x3x3 grid.

    GPAW stores ``conj(sum_R exp(2 pi i k.R) S(R))`` (LCAO matrices complex-conjugated).
    GPAW tabulates its two-centre integrals on cubic splines of 256 intervals over twice
    the largest cutoff; its projections <p|phi> of the 26-knot projector splines carry
    ~1e-6 from that (the brute-force checks in test_two_centre bound ours to 2e-8).
    """
    from ase import Atoms
    from gpaw.calculator import GPAW
    from gpaw.utilities.tools import tri2full
    from pymatgen.io.ase import AseAtomsAdaptor

    a = 6.1
    atoms = Atoms(
        "AgAsLi",
        scaled_positions=[[0, 0, 0], [0.25, 0.25, 0.25], [0.5, 0.5, 0.5]],
        cell=[[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]],
        pbc=True,
    )
    atoms.rattle(0.05, seed=1)
    atoms.wrap()  # GPAW works with wrapped scaled positions
    calc = GPAW(
        mode="lcao",
        xc="PBE",
        basis="szp(dzp)",
        h=0.3,
        kpts={"size": (3, 3, 3), "gamma": True},
        symmetry="off",
        txt=None,
    )
    atoms.calc = calc
    calc.initialize(atoms)
    calc.set_positions(atoms)
    structure = AseAtomsAdaptor.get_structure(atoms)
    orbitals = OrbitalTable(
        tuple(structure.atomic_numbers), {s: element_shells(s) for s in ("Ag", "As", "Li")}
    )
    span = np.abs(overlapping_R(structure)).max(axis=0) + 1  # + the PAW tails
    R = np.array(list(itertools.product(*[range(-n, n + 1) for n in span])))
    overlap = overlap_matrices(structure, orbitals, R)
    errors = []
    for kpt in calc.wfs.kpt_u:
        k = calc.wfs.kd.ibzk_kc[kpt.k]
        reference = calc.wfs.S_qMM[kpt.q].copy()
        tri2full(reference)
        ours = np.einsum("r,rij->ij", np.exp(2j * np.pi * R @ k), overlap).conj()
        errors.append(np.abs(ours - reference).max())
    assert len(errors) == 27
    assert max(errors) < 3e-6


def test_bad_inputs(bi2se3):
    structure, orbitals = bi2se3.structure, bi2se3.orbitals
    with pytest.raises(ValueError, match="integer array"):
        overlap_matrices(structure, orbitals, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="integer array"):
        overlap_matrices(structure, orbitals, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="duplicate"):
        overlap_matrices(structure, orbitals, np.zeros((2, 3), dtype=int))
    sz = OrbitalTable(orbitals.numbers, orbitals.element_shells, "sz(dzp)")
    with pytest.raises(ValueError, match="basis 'sz\\(dzp\\)' has"):
        overlap_matrices(structure, sz, np.zeros((1, 3), dtype=int))
    with pytest.raises(ValueError, match="orbital-table atoms differ"):
        overlap_matrices(
            structure, OrbitalTable((83,), {"Bi": (0, 1, 2, 2)}), np.zeros((1, 3), dtype=int)
        )
    with pytest.raises(ValueError, match="invalid basis name"):
        overlapping_R(structure, "szp(dzp")
    exotic = Structure(Lattice.cubic(5.0), ["Og"], [[0, 0, 0]])
    with pytest.raises(DataFileNotFoundError, match="'Og'"):
        overlapping_R(exotic)
    assert load_basis("Bi").cutoff > 0

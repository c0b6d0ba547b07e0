"""Charges of a large bilayer from its aligned cell: the sparse scc route of large cells."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from socscreen.analysis.band_edges import band_edges
from socscreen.bilayers import twisted_bilayer
from socscreen.dft.bilayer_charges import aligned_bilayer, bilayer_sites, transferred_charges
from socscreen.dft.charge_correction import charge_corrected, self_consistent_charges
from socscreen.dft.zeroth_step import compute_zeroth_step
from socscreen.model.predictors import predict_hamiltonian
from socscreen.sparse_hamiltonian import SparseHamiltonian
from socscreen.structure_flags import centred

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from test_bilayers import MOSE2, WSE2  # noqa: E402


def test_bilayer_sites_split_the_layers_and_their_sublayers():
    structure, _ = twisted_bilayer(MOSE2, WSE2, 21.79)
    layer, height = bilayer_sites(structure)
    assert np.bincount(layer).tolist() == [21, 21]  # 7 MoSe2 below, 7 WSe2 above
    metals = np.array([site.specie.symbol in ("Mo", "W") for site in structure])
    assert np.abs(height[metals]).max() < 1e-6  # the metal plane is each layer's mid-plane
    assert np.abs(np.abs(height[~metals]) - 1.67).max() < 0.01  # Se planes at ±h/2
    assert (height[~metals] > 0).sum() == (height[~metals] < 0).sum() == 14
    assert set(layer[[s.specie.symbol == "Mo" for s in structure]]) == {0}


def test_one_sheet_is_not_a_bilayer():
    with pytest.raises(ValueError, match="MoSe2 is one sheet, not a bilayer of two"):
        bilayer_sites(MOSE2)


def test_the_aligned_cell_of_a_twisted_bilayer_is_its_two_sheets_stacked_1x1():
    structure, _ = twisted_bilayer(MOSE2, WSE2, 21.79)
    aligned = aligned_bilayer(structure)
    assert len(aligned) == 6 and aligned.composition.reduced_formula == "MoWSe4"
    layer, height = bilayer_sites(aligned)
    z = aligned.cart_coords[:, 2]
    metals = [i for i, site in enumerate(aligned) if site.specie.symbol in ("Mo", "W")]
    assert abs(z[metals[1]] - z[metals[0]]) == pytest.approx(6.5, abs=1e-6)  # as built
    assert aligned.lattice.a == pytest.approx(structure.lattice.a / np.sqrt(7), rel=1e-6)


@pytest.mark.slow
def test_sparse_scc_of_a_supercell_takes_the_aligned_cells_charges_and_potentials():
    """In a supercell of the aligned cell the copied charges give its potentials exactly.

    (Not the supercell's own self-consistency: its k-grid differs from the 6-atom cell's.)
    """
    cell, _ = twisted_bilayer(MOSE2, WSE2, 60.0)
    cell.make_supercell([2, 2, 1])  # 24 atoms
    sparse_ham = predict_hamiltonian(cell, "scc", sparse_blocks=True)
    assert isinstance(sparse_ham, SparseHamiltonian)
    meta = sparse_ham.meta["charge_correction"]
    assert "aligned bilayer" in meta["method"] and meta["converged"]
    aligned = aligned_bilayer(cell)
    reference = compute_zeroth_step(aligned, soc=False, fermi=False)
    solved = self_consistent_charges(reference)
    # periodic copies of the charges: the same potential on every copy of an atom (Ewald)
    expected = np.sort(np.repeat(solved.shifts, 4))  # each channel of the 6 atoms, 4 times
    np.testing.assert_allclose(np.sort(meta["shifts_eV"]), expected, atol=2e-4)
    # the sparse blocks carry the same term as the dense container corrected by it
    dense = compute_zeroth_step(centred(cell), fermi=False)
    copied = transferred_charges(dense, solved, reference.structure)
    dense = charge_corrected(dense, copied)
    assert sparse_ham.efermi == pytest.approx(dense.efermi, abs=1e-3)
    k = np.array([[1 / 3, 1 / 3, 0.0], [0.0, 0.0, 0.0]])
    # to second variation's accuracy (a few 0.1 meV) and the sparse blocks' dropped entries
    for a, b in zip(band_edges(dense, k), band_edges(sparse_ham, k), strict=True):
        np.testing.assert_allclose(a.valence + a.conduction, b.valence + b.conduction, atol=1e-3)

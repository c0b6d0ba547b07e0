"""Large-cell routes against the dense ones on a 6-atom MoSe2/WSe2 bilayer (scc prediction).

The sparse Bloch sums (:mod:`socscreen.sparse_bloch`) must equal the dense ones, and the
shift-invert band edges (:mod:`socscreen.analysis.band_edges`) the eigenvalues of
:meth:`Hamiltonian.eigh`, with the prediction's overlap cutoff (three directions of
S(K) below it here) and without one. Second variation (the spinless problem, with the
spin-orbit coupling in a window of its bands) must give the same edges and Fermi level
to a fraction of a meV.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from socscreen.analysis.band_edges import (
    INERTIA_TOLERANCE,
    SECOND_VARIATION_REACH,
    band_edges,
    eigenvalues_near,
    inertia_fermi_level,
    second_variation_bands,
)
from socscreen.analysis.bands import fermi_grid, fermi_level
from socscreen.analysis.valley import valley_edges, valley_quantities
from socscreen.bilayers import twisted_bilayer
from socscreen.hamiltonian import Hamiltonian
from socscreen.sparse_bloch import sparse_overlap_k, sparse_spinor_hamiltonian_k
from socscreen.sparse_hamiltonian import SparseHamiltonian

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from test_bilayers import MOSE2, WSE2  # noqa: E402

KPOINTS = np.array([[1 / 3, 1 / 3, 0], [0, 0, 0], [0.5, 0, 0], [0.1, 0.27, 0]])


@pytest.fixture(scope="module")
def bilayer() -> Hamiltonian:
    from socscreen.model.predictors import predict_hamiltonian

    structure, _ = twisted_bilayer(MOSE2, WSE2, 60.0)
    return predict_hamiltonian(structure, "scc")


def test_sparse_bloch_sums_equal_the_dense_ones(bilayer):
    for k in KPOINTS:
        dense_h = bilayer.hamiltonian_k(k)[0]
        assert np.abs(sparse_spinor_hamiltonian_k(bilayer, k).toarray() - dense_h).max() < 1e-10
        no_soc = sparse_spinor_hamiltonian_k(bilayer, k, soc=False).toarray()
        assert np.abs(no_soc - bilayer.hamiltonian_k(k, soc=False)[0]).max() < 1e-10
        overlap = sparse_overlap_k(bilayer, k).toarray()
        assert np.abs(overlap - bilayer.overlap_k(k)[0]).max() < 1e-10


@pytest.mark.parametrize("cut", [True, False])
def test_shift_invert_band_edges_equal_the_dense_bands(bilayer, cut):
    ham = bilayer if cut else bilayer._replace(meta={**bilayer.meta, "overlap_cutoff": 0.0})
    assert np.linalg.eigvalsh(ham.overlap_k(KPOINTS[0])[0]).min() < 1e-2  # S(K) is cut
    n_occ = int(ham.nelect)
    dense = ham.eigh(KPOINTS)
    for edges, bands in zip(band_edges(ham, KPOINTS, method="shift-invert"), dense, strict=True):
        assert np.abs(np.array(edges.valence) - bands[n_occ - 2 : n_occ]).max() < 1e-6
        assert np.abs(np.array(edges.conduction) - bands[n_occ : n_occ + 2]).max() < 1e-6
    for k, bands in zip(KPOINTS, dense, strict=True):  # band indices from the inertia
        for shift in (-1.0, 0.0, 1.5):
            near, first = eigenvalues_near(ham, k, ham.efermi + shift, count=6)
            assert np.abs(near - bands[first : first + 6]).max() < 1e-6


def test_small_cells_take_the_dense_route_with_the_same_edges(bilayer):
    dense = band_edges(bilayer, KPOINTS)  # 136 spinor orbitals: dense
    for a, b in zip(dense, band_edges(bilayer, KPOINTS, method="shift-invert"), strict=True):
        assert np.allclose(a.valence + a.conduction, b.valence + b.conduction, atol=1e-6)


def test_valley_edges_give_the_valley_quantities(bilayer):
    dense = valley_quantities(bilayer)
    edges = valley_edges(bilayer)
    assert edges["K"].valence_splitting == pytest.approx(dense.valence_splitting_eV, abs=1e-6)
    assert edges["K"].conduction_splitting == pytest.approx(dense.conduction_splitting_eV, abs=1e-6)
    assert edges["K"].direct_gap == pytest.approx(dense.direct_gap_k_eV, abs=1e-6)
    # time reversal: K' = -K has K's energies (valley_edges copies them)
    (k_prime,) = band_edges(bilayer, -np.array([edges["K"].k]), method="shift-invert")
    assert np.allclose(
        k_prime.valence + k_prime.conduction,
        edges["K'"].valence + edges["K'"].conduction,
        atol=1e-6,
    )


def test_band_edges_move_the_shift_to_reach_the_edge_bands(bilayer):
    (near,) = band_edges(bilayer, KPOINTS[:1])
    for shift in (-300.0, -3.0, 4.0):  # windows of valence or conduction bands only at first
        sigma = bilayer.efermi + shift
        (far,) = band_edges(bilayer, KPOINTS[:1], sigma=sigma, method="shift-invert")
        assert np.allclose(far.valence + far.conduction, near.valence + near.conduction, atol=1e-9)
    with pytest.raises(ValueError, match="no efermi"):
        band_edges(bilayer._replace(efermi=None), KPOINTS[:1], method="shift-invert")


def test_the_sparse_container_has_the_band_edges_of_the_dense_one(bilayer):
    sparse_ham = SparseHamiltonian.from_dense(bilayer)
    dense = band_edges(bilayer, KPOINTS)
    route = band_edges(sparse_ham, KPOINTS, method="shift-invert")
    for a, b in zip(dense, route, strict=True):
        assert np.allclose(a.valence + a.conduction, b.valence + b.conduction, atol=1e-6)
    edges = valley_edges(sparse_ham, method="shift-invert")
    dense_edges = valley_edges(bilayer)
    for point in ("K", "K'", "Gamma"):
        assert edges[point].valence == pytest.approx(dense_edges[point].valence, abs=1e-6)


def test_band_counts_put_an_insulators_fermi_level_midgap_as_the_dense_bands_do(bilayer):
    grid = fermi_grid(bilayer)
    for ham in (bilayer, SparseHamiltonian.from_dense(bilayer)):
        efermi, counts = inertia_fermi_level(ham, grid)
        assert efermi == pytest.approx(fermi_level(bilayer), abs=1e-6)
        assert counts < 20 * len(grid)


def test_band_counts_put_a_metals_fermi_level_where_the_count_passes_nelect(bilayer):
    # one electron less: the top valence band is half full on the grid
    metal = bilayer._replace(nelect=bilayer.nelect - 1)
    grid = fermi_grid(metal)
    efermi, _ = inertia_fermi_level(metal, grid)
    bands = metal.eigh(grid)

    def mean_count(energy: float) -> float:
        return float((bands < energy).sum(axis=1).mean())

    assert (
        mean_count(efermi - INERTIA_TOLERANCE)
        <= metal.nelect
        <= mean_count(efermi + INERTIA_TOLERANCE)
    )
    assert bands[:, int(metal.nelect) - 1].min() < efermi < bands[:, int(metal.nelect)].max()


def test_second_variation_gives_the_spinor_bands_near_the_gap(bilayer):
    n_occ = int(bilayer.nelect)
    dense = bilayer.eigh(KPOINTS)
    windows = second_variation_bands(bilayer, KPOINTS, bilayer.efermi, count=16)  # of 68
    for (values, first), bands in zip(windows, dense, strict=True):
        edges = values[n_occ - 2 - first : n_occ + 2 - first]
        assert np.abs(edges - bands[n_occ - 2 : n_occ + 2]).max() < 5e-4  # eV
    spinless = bilayer.eigh(KPOINTS, soc=False)  # without SOC: the spinless bands, twice
    windows = second_variation_bands(bilayer, KPOINTS, bilayer.efermi, count=16, soc=False)
    for (values, first), bands in zip(windows, spinless, strict=True):
        assert np.abs(values - bands[first : first + len(values)]).max() < 1e-8


def test_second_variation_band_and_valley_edges_of_the_sparse_container(bilayer):
    sparse_ham = SparseHamiltonian.from_dense(bilayer)
    dense = band_edges(bilayer, KPOINTS)
    route = band_edges(sparse_ham, KPOINTS)  # a sparse container: second variation
    for a, b in zip(dense, route, strict=True):
        assert np.allclose(a.valence + a.conduction, b.valence + b.conduction, atol=5e-4)
    valleys = valley_quantities(bilayer)
    edges = valley_edges(sparse_ham, method="second-variation")
    assert edges["K"].valence_splitting == pytest.approx(valleys.valence_splitting_eV, abs=2e-4)
    assert edges["K"].direct_gap == pytest.approx(valleys.direct_gap_k_eV, abs=5e-4)
    # a window of 4 bands grows until it reaches SECOND_VARIATION_REACH each side
    ((values, _),) = second_variation_bands(bilayer, KPOINTS[:1], bilayer.efermi, count=4)
    assert values[0] < bilayer.efermi - SECOND_VARIATION_REACH
    assert values[-1] > bilayer.efermi + SECOND_VARIATION_REACH


def test_spinless_counts_and_second_variation_place_the_fermi_level(bilayer):
    grid = fermi_grid(bilayer)
    efermi, counts = inertia_fermi_level(SparseHamiltonian.from_dense(bilayer), grid, True, True)
    assert efermi == pytest.approx(fermi_level(bilayer), abs=1e-5)  # insulator: midgap
    metal = bilayer._replace(nelect=bilayer.nelect - 1)
    efermi, _ = inertia_fermi_level(metal, grid, second_variation=True)
    bands = metal.eigh(grid)
    below, above = ((bands < efermi + d).sum(axis=1).mean() for d in (-1e-4, 1e-4))
    assert below < metal.nelect <= above  # the level where the count passes nelect

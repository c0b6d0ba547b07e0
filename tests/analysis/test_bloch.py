"""Löwdin Bloch Hamiltonians, k-grids and the chunked eigensolver."""

from __future__ import annotations

import numpy as np
import pytest

from socscreen.analysis import bloch
from socscreen.analysis.bloch import (
    LowdinBloch,
    eigh_k,
    kgrid_shape,
    length_grid,
    monkhorst_pack,
    n_occupied,
    periodic_axes,
    trim_points,
)
from socscreen.analysis.models import kane_mele

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("soc", [True, False], ids=["soc", "no-soc"])
def test_lowdin_bands_equal_generalised_problem(bi2se3, soc):
    k = RNG.random((6, 3))
    np.testing.assert_allclose(
        eigh_k(LowdinBloch(bi2se3, soc=soc), k), bi2se3.eigh(k, soc=soc), atol=1e-9
    )


@pytest.mark.parametrize("soc", [True, False], ids=["soc", "no-soc"])
def test_lowdin_bands_honour_the_overlap_cutoff(bi2se3, soc):
    # a cutoff that drops directions of S(k): the filtered Löwdin H has the container's
    # canonical-orthogonalisation eigenvalues, ghosts included, and stays Hermitian
    cut = bi2se3._replace(meta={**bi2se3.meta, "overlap_cutoff": 0.2})
    k = np.vstack([trim_points(np.ones(3, bool))[:3], RNG.random((3, 3))])
    h = LowdinBloch(cut, soc=soc).hamiltonian_k(k)
    np.testing.assert_allclose(h, np.conj(np.swapaxes(h, 1, 2)), atol=1e-10)
    e = eigh_k(LowdinBloch(cut, soc=soc), k)
    assert np.any(e > 900.0)
    np.testing.assert_allclose(e, cut.eigh(k, soc=soc), atol=1e-8)


def test_spinless_problem_doubles_into_the_spinor_one(silicon):
    k = RNG.random((4, 3))
    spinless = eigh_k(LowdinBloch(silicon, soc=False, spinor=False), k)
    spinor = eigh_k(LowdinBloch(silicon, soc=False), k)
    np.testing.assert_allclose(spinor[:, ::2], spinless, atol=1e-9)
    np.testing.assert_allclose(spinor[:, 1::2], spinless, atol=1e-9)


def test_lowdin_eigenvectors_are_s_half_times_generalised_ones(silicon):
    k = RNG.random((2, 3))
    source = LowdinBloch(silicon)
    e, u = eigh_k(source, k, vectors=True)
    _, c = silicon.eigh(k, vectors=True)
    x = source.overlap_sqrt_inv(k)
    n = silicon.n_orbitals
    for i in range(len(k)):
        # c = S^-1/2 u, spin block by spin block; compare projectors (gauge free)
        back = np.concatenate([x[i] @ u[i, :n], x[i] @ u[i, n:]])
        for band in range(0, 8, 2):  # Kramers pairs share a 2D subspace
            p1 = back[:, band : band + 2] @ np.conj(back[:, band : band + 2].T)
            p2 = c[i][:, band : band + 2] @ np.conj(c[i][:, band : band + 2].T)
            np.testing.assert_allclose(p1, p2, atol=1e-8)


def test_eigh_chunks_give_the_same_answer(silicon, monkeypatch):
    k = RNG.random((37, 3))
    whole = eigh_k(LowdinBloch(silicon), k)
    monkeypatch.setattr(bloch, "CHUNK_BYTES", 16 * 36 * 36 * 8 * 5)  # 5 k-points a chunk
    assert bloch.chunk_size(36) == 5
    np.testing.assert_allclose(eigh_k(LowdinBloch(silicon), k), whole, atol=1e-12)


def test_band_selection_slices_energies_and_vectors(silicon):
    k = RNG.random((3, 3))
    e_all, v_all = eigh_k(LowdinBloch(silicon), k, vectors=True)
    e, v = eigh_k(LowdinBloch(silicon), k, vectors=True, bands=slice(0, 8))
    np.testing.assert_allclose(e, e_all[:, :8])
    assert v.shape == (3, 36, 8)


def test_indefinite_overlap_is_reported(silicon):
    broken = silicon._replace(overlap=silicon.overlap * -1.0)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        LowdinBloch(broken).hamiltonian_k(np.zeros((1, 3)))


def test_spin_orbit_needs_the_spinor_basis(silicon):
    with pytest.raises(ValueError, match="spinor"):
        LowdinBloch(silicon, soc=True, spinor=False)


def test_electron_counts():
    assert n_occupied(48.0) == 48
    assert n_occupied(48.0, spinor=False) == 24
    with pytest.raises(ValueError, match="not a positive integer"):
        n_occupied(7.5)
    with pytest.raises(ValueError, match="odd"):
        n_occupied(7.0, spinor=False)


def test_grids_and_trim_follow_the_periodic_axes(silicon):
    sheet = kane_mele()
    assert periodic_axes(sheet.R).tolist() == [True, True, False]
    assert len(trim_points(periodic_axes(sheet.R))) == 4
    assert len(trim_points(periodic_axes(silicon.R))) == 8
    shape = kgrid_shape(sheet.structure.lattice.matrix, periodic_axes(sheet.R), density=20)
    assert shape[2] == 1 and shape[0] == shape[1] > 1
    lattice = sheet.structure.lattice.matrix  # 15 Angstrom along the vacuum
    assert np.unique(length_grid(lattice, 32.0)[:, 2]).size == 2  # the lattice alone
    by_length = length_grid(lattice, 32.0, periodic_axes(sheet.R))
    assert (
        np.allclose(by_length[:, 2], 0) and len(by_length) == len(length_grid(lattice, 32.0)) // 2
    )
    grid = monkhorst_pack((2, 3, 1))
    assert grid.shape == (6, 3) and np.allclose(grid[:, 2], 0)

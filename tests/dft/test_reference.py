"""The GPAW reference calculation against GPAW itself and against the corpus fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from socscreen.dft.calculator import GPAWReferenceSettings, missing_gpaw_data, scf_kpoint_mesh
from socscreen.dft.reference import (
    DFT_OVERLAP_CUTOFF,
    compute_gpaw_reference,
    hr_grid_from_cutoffs,
    lattice_vectors_fft_order,
)
from socscreen.hamiltonian import CORPUS_ZERO_THRESHOLDS, Hamiltonian

pytestmark = [pytest.mark.gpaw, pytest.mark.slow]

#: The eight time-reversal-invariant momenta (fractional).
TRIM = np.array([[i, j, k] for i in (0, 0.5) for j in (0, 0.5) for k in (0, 0.5)])

#: Bands compared between the float32 fixture files and GPAW: E_F +- this (eV).
FERMI_WINDOW = 5.0


def test_trim_eigenvalues_equal_gpaw_soc_eigenstates(gpaw_run):
    assert {tuple(k) for k in gpaw_run.trim_k.tolist()} == {tuple(k) for k in TRIM.tolist()}
    ours = gpaw_run.computed.eigh(gpaw_run.trim_k)
    assert ours.shape == gpaw_run.trim_soc_eigenvalues.shape
    np.testing.assert_allclose(ours, gpaw_run.trim_soc_eigenvalues, rtol=0, atol=1e-6)


def test_fixture_file_bands_match_gpaw_near_fermi_level(gpaw_run):
    reference = gpaw_run.trim_soc_eigenvalues
    window = np.abs(reference - gpaw_run.fixture.efermi).max(axis=0) < FERMI_WINDOW
    assert window.sum() >= gpaw_run.fixture.nelect / 2
    fixture_bands = gpaw_run.fixture.eigh(gpaw_run.trim_k)
    np.testing.assert_allclose(fixture_bands[:, window], reference[:, window], atol=2e-3)


def test_soc_splits_bands_that_gpaw_splits(gpaw_run):
    with_soc = gpaw_run.computed.eigh(gpaw_run.trim_k)
    without = gpaw_run.computed.eigh(gpaw_run.trim_k, soc=False)
    largest_shift = np.abs(with_soc - without).max()
    # Bi 6p spin-orbit splitting is of order 1 eV; Si's is a few tens of meV
    assert largest_shift > (0.5 if gpaw_run.name == "Bi2Se3" else 0.01)


def test_written_file_follows_corpus_conventions(gpaw_run, tmp_path):
    written = Hamiltonian.from_npz(gpaw_run.computed.to_npz(tmp_path / "out.npz"))
    fixture = gpaw_run.fixture
    np.testing.assert_array_equal(written.R, fixture.R)  # same R set, same FFT order
    # identical here; the tolerances only allow an element to flip across a zero threshold
    np.testing.assert_allclose(written.h0, fixture.h0, rtol=0, atol=2e-4)
    np.testing.assert_allclose(written.overlap, fixture.overlap, rtol=0, atol=2e-5)
    np.testing.assert_allclose(written.soc_uu, fixture.soc_uu, rtol=0, atol=2e-5)
    np.testing.assert_allclose(written.soc_ud, fixture.soc_ud, rtol=0, atol=2e-5)
    assert written.orbitals == fixture.orbitals
    np.testing.assert_array_equal(
        written.orbitals.orbitals_per_atom, fixture.orbitals.orbitals_per_atom
    )
    assert written.nelect == fixture.nelect
    assert written.efermi == pytest.approx(fixture.efermi, abs=1e-6)
    assert written.energy == pytest.approx(fixture.energy, abs=1e-6)
    np.testing.assert_allclose(
        written.structure.frac_coords, fixture.structure.frac_coords, atol=1e-12
    )
    for key in ("formula", "basis", "xc", "code", "kscf", "hr_grid", "seed"):
        assert written.meta[key] == fixture.meta[key], key
    assert set(fixture.meta) - {"seconds"} <= set(written.meta)
    assert written.overlap_cutoff == DFT_OVERLAP_CUTOFF == 1e-4  # the H0 rounding of the file
    assert set(written.meta["timings"]) == {"scf", "lcao_matrices", "soc", "fourier", "checks"}


def test_in_memory_container_keeps_full_precision(gpaw_run):
    computed = gpaw_run.computed
    assert computed.h0.dtype == np.float64 and computed.soc_uu.dtype == np.complex128
    fixture_R = {tuple(r) for r in gpaw_run.fixture.R.tolist()}
    assert fixture_R <= {tuple(r) for r in computed.R.tolist()}
    # elements the corpus files store as zero are kept in memory
    small = (np.abs(computed.h0) > 0) & (np.abs(computed.h0) < CORPUS_ZERO_THRESHOLDS["H0R"])
    assert small.any()
    assert computed.hermiticity_error() < 1e-9
    meta_grid = computed.meta["hr_grid"]
    assert np.all(np.abs(computed.R).max(axis=0) <= np.array(meta_grid) // 2)


def test_soc_off_gives_spin_degenerate_bands(silicon):
    settings = GPAWReferenceSettings(seed=silicon.meta["seed"])
    without = compute_gpaw_reference(silicon.structure, settings, soc=False)
    assert not without.has_soc
    k = np.vstack([TRIM, np.random.default_rng(3).random((4, 3))])
    bands = without.eigh(k)
    np.testing.assert_allclose(bands[:, ::2], bands[:, 1::2], atol=1e-9)
    np.testing.assert_allclose(bands[:, ::2], without.eigh(k, spinor=False), atol=1e-9)
    written = without.to_corpus_arrays()
    assert not written["Hsoc_uu"].any() and not written["Hsoc_ud"].any()


# -- pure helpers (no GPAW run) -------------------------------------------------------------
def test_scf_mesh_follows_the_corpus_convention(silicon, bi2se3):
    assert list(scf_kpoint_mesh(silicon.structure.lattice, 20.0)) == silicon.meta["kscf"]
    assert list(scf_kpoint_mesh(bi2se3.structure.lattice, 20.0)) == bi2se3.meta["kscf"]
    cubic = Lattice.cubic(4.0)
    assert scf_kpoint_mesh(cubic, 20.0) == (5, 5, 5)  # exact ratios are not rounded up
    assert scf_kpoint_mesh(Lattice.tetragonal(3.0, 40.0), 20.0) == (7, 7, 1)


def test_a_slab_gets_one_scf_kpoint_along_its_vacuum():
    """MoS2 in a 15 Angstrom cell: 11.9 Angstrom of vacuum, shorter than the density's 20."""
    dz = 3.13 / 2 / 15.0
    frac = [[1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5 + dz], [2 / 3, 1 / 3, 0.5 - dz]]
    sheet = Structure(Lattice.hexagonal(3.18, 15.0), ["Mo", "S", "S"], frac)
    assert scf_kpoint_mesh(sheet.lattice, 20.0) == (7, 7, 2)  # the lattice alone: bulk
    assert GPAWReferenceSettings().scf_mesh(sheet) == (7, 7, 1)
    assert GPAWReferenceSettings(kscf=(3, 3, 3)).scf_mesh(sheet) == (3, 3, 3)  # explicit wins
    assert GPAWReferenceSettings().gpaw_parameters(sheet)["kpts"]["size"] == (7, 7, 1)


def _largest_dzp_radius(symbol: str) -> float:
    """Largest radius of the element's dzp basis functions (Angstrom), from gpaw-data."""
    from ase.units import Bohr
    from gpaw.basis_data import Basis

    return max(bf.rc for bf in Basis.find(symbol, "dzp").bf_j) * Bohr


@pytest.mark.parametrize("name", ["Si", "Bi2Se3"])
def test_hr_grid_from_cutoffs_matches_fixture_grids(name, data_dir):
    fixture = Hamiltonian.from_npz(data_dir / f"{name}_szp.npz")
    radii = np.array([_largest_dzp_radius(s) for s in fixture.orbitals.symbols])
    grid = hr_grid_from_cutoffs(
        fixture.structure.lattice.matrix, fixture.structure.frac_coords, radii
    )
    assert list(grid) == fixture.meta["hr_grid"]


def test_lattice_vectors_come_in_fft_order():
    R = lattice_vectors_fft_order((5, 1, 3))
    assert R[:4].tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, -1], [1, 0, 0]]
    assert len({tuple(r) for r in R.tolist()}) == 15
    assert np.abs(R).max(axis=0).tolist() == [2, 0, 1]


def test_missing_gpaw_data_names_the_element():
    assert missing_gpaw_data(["Si", "Bi"], "PBE", "szp(dzp)") == {}
    assert set(missing_gpaw_data(["Si", "Tc", "Po"], "PBE", "szp(dzp)")) == {"Tc", "Po"}
    assert "basis" in missing_gpaw_data(["Si"], "PBE", "szp(nosuchbasis)")["Si"]
    # GPAW cannot reduce the lanthanides' dzp files to szp
    assert "cannot reduce" in missing_gpaw_data(["La"], "PBE", "szp(dzp)")["La"]
    assert missing_gpaw_data(["La"], "PBE", "dzp") == {}

"""GPAW basis sets and PAW setup data read without GPAW, checked against GPAW and the corpus."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from socscreen.dft.basis_functions import (
    cutoff_radius,
    element_shells,
    load_basis,
    parse_basis_name,
    valence_electrons,
)
from socscreen.dft.gpaw_files import BOHR, DataFileNotFoundError, find_data_file
from socscreen.dft.paw_setups import load_setup
from socscreen.hamiltonian import Hamiltonian

CORPUS_FILES = [
    "Bi2Se3_szp.npz",
    "Si_szp.npz",
    "Bi2In2_wurtzite_sz.npz",
    "AgAsLi_halfheusler_sz.npz",
    "Cu_sz.npz",
    "LiBr_sz.npz",
]


def test_documented_shells_and_cutoffs():
    assert element_shells("Bi") == (0, 1, 2, 2)
    assert element_shells("Se") == (0, 1, 2)
    assert element_shells("Si") == (0, 1, 2)
    assert element_shells("Bi", "sz(dzp)") == (0, 1, 2)
    assert element_shells("Se", "sz(dzp)") == (0, 1)
    assert element_shells("Bi", "dzp") == (0, 1, 2, 0, 1, 2, 2)
    # Bi's largest function (6p-sz and the d polarisation function) ends at 8.953125 Bohr.
    assert cutoff_radius("Bi") == pytest.approx(8.953125 * BOHR, abs=1e-12)
    basis = load_basis("Bi")
    assert basis.n_orbitals == 1 + 3 + 5 + 5
    assert basis.cutoff == max(basis.shell_cutoffs)
    assert [f.label for f in basis.functions] == [
        "6s-sz confined orbital",
        "6p-sz confined orbital",
        "5d-sz confined orbital",
        "d-type Gaussian polarization",
    ]
    assert load_basis("Bi") is basis  # cached


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_shells_and_valence_match_corpus(data_dir, name):
    ham = Hamiltonian.from_npz(data_dir / name)
    basis_name = ham.orbitals.basis_name
    for symbol, shells in ham.orbitals.element_shells.items():
        assert element_shells(symbol, basis_name) == shells
    assert sum(valence_electrons(s) for s in ham.orbitals.symbols) == ham.nelect


def test_valence_electrons_of_semicore_setups():
    assert valence_electrons("Bi") == 15  # 5d10 6s2 6p3
    assert valence_electrons("Se") == 6
    assert valence_electrons("Si") == 4


@pytest.mark.parametrize(
    ("name", "counts"),
    [("sz", (1, 0)), ("dz", (2, 0)), ("szp", (1, 1)), ("dzp", (2, 1)), ("tz2p", (3, 2))],
)
def test_parse_basis_name(name, counts):
    assert parse_basis_name(name) == counts
    assert parse_basis_name(name.replace("s", "1").replace("d", "2").replace("t", "3")) == counts


@pytest.mark.parametrize("symbol", ["Bi", "Se", "Si", "Li", "Au", "Zn", "Ag", "Pt", "K"])
@pytest.mark.parametrize("basis_name", ["sz(dzp)", "szp(dzp)", "dz(dzp)", "dzp", "tz2p(dzp)"])
def test_subset_and_splines_equal_gpaw(symbol, basis_name):
    from gpaw.basis_data import Basis

    reference = Basis.find(symbol, basis_name)
    ours = load_basis(symbol, basis_name)
    assert [f.label for f in ours.functions] == [bf.type for bf in reference.bf_j]
    assert ours.shells == tuple(bf.l for bf in reference.bf_j)
    for spline, function in zip(reference.tosplines(), ours.functions, strict=True):
        assert spline.get_cutoff() == pytest.approx(function.cutoff, abs=1e-12)
        r = np.linspace(0.0, 1.05 * function.cutoff, 2001)
        np.testing.assert_allclose(function(r), spline.map(r) * r**function.ell, rtol=0, atol=1e-12)


def test_nonuniform_grid_basis_equals_gpaw():
    """Ce's basis lives on GPAW's non-uniform grid (spline resampled to 401 knots)."""
    from gpaw.basis_data import Basis

    reference = Basis.find("Ce", "dzp").tosplines()
    ours = load_basis("Ce", "dzp").functions
    assert len(ours) == len(reference) == 10
    for spline, function in zip(reference, ours, strict=True):
        assert len(function.knots) == 401
        r = np.linspace(0.0, function.cutoff, 3001)
        np.testing.assert_allclose(function(r), spline.map(r) * r**function.ell, rtol=0, atol=1e-12)


@pytest.mark.parametrize("symbol", ["Bi", "Se", "Ga", "Li", "Zn", "Au"])
def test_projectors_and_overlap_correction_equal_gpaw(symbol):
    from gpaw.basis_data import Basis
    from gpaw.setup import create_setup
    from gpaw.xc import XC

    reference = create_setup(symbol, XC("PBE"), lmax=2, basis=Basis.find(symbol, "szp(dzp)"))
    ours = load_setup(symbol)
    np.testing.assert_allclose(ours.overlap_correction, reference.dO_ii, rtol=0, atol=1e-12)
    assert ours.n_projectors == reference.ni
    for spline, function in zip(reference.pt_j, ours.projectors, strict=True):
        assert spline.get_cutoff() == pytest.approx(function.cutoff, abs=1e-12)
        r = np.linspace(0.0, 1.05 * function.cutoff, 2001)
        np.testing.assert_allclose(function(r), spline.map(r) * r**function.ell, rtol=0, atol=1e-12)


def test_gpaw_setup_path_is_searched_first(tmp_path, monkeypatch):
    source = find_data_file("Si.dzp.basis")
    text = gzip.decompress(source.read_bytes())
    (tmp_path / "Si.dzp.basis").write_bytes(text)
    monkeypatch.setenv("GPAW_SETUP_PATH", str(tmp_path))
    basis = load_basis("Si", "szp(dzp)")
    assert basis.path == tmp_path / "Si.dzp.basis"
    assert basis.shells == (0, 1, 2)
    monkeypatch.delenv("GPAW_SETUP_PATH")
    assert load_basis("Si", "szp(dzp)").path == source


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="not a chemical element"):
        load_basis("Xx")
    with pytest.raises(DataFileNotFoundError, match="no GPAW basis file for element 'Og'"):
        load_basis("Og")
    with pytest.raises(DataFileNotFoundError, match="no GPAW PAW setup for element 'Og'"):
        valence_electrons("Og")
    with pytest.raises(ValueError, match="invalid basis name"):
        load_basis("Bi", "szp(dzp")
    with pytest.raises(ValueError, match="invalid basis name"):
        load_basis("Bi", "xyz(dzp)")
    with pytest.raises(DataFileNotFoundError, match="Bi.sz.basis"):
        load_basis("Bi", "sz")  # only dzp files ship; 'sz' alone names a missing file
    with pytest.raises(ValueError, match="cannot reduce"):
        load_basis("Ce", "szp(dzp)")  # GPAW cannot reduce the lanthanide files either
    with pytest.raises(ValueError, match="Fourier-filters"):
        load_setup("Ce")

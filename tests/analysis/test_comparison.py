"""Predicted-versus-DFT band comparison on real GPAW Hamiltonians."""

from __future__ import annotations

import numpy as np
import pytest

from socscreen.analysis.bloch import monkhorst_pack, trim_points
from socscreen.analysis.comparison import (
    compare_band_energies,
    compare_hamiltonians,
    dft_occupied_bands,
    z2_agree,
)
from socscreen.hamiltonian import Hamiltonian

GRID = monkhorst_pack((4, 4, 4))


def test_identical_hamiltonians_agree_exactly(bi2se3: Hamiltonian) -> None:
    result = compare_hamiltonians(bi2se3, bi2se3, GRID)
    assert result.band_mae < 1e-9
    assert result.band_max_error < 1e-9
    assert result.band_offset == 0
    assert result.n_kpoints == len(GRID)
    assert result.n_bands_compared > 10
    assert result.gap_dft == pytest.approx(result.gap_predicted, abs=1e-12)
    assert result.spin_splitting_mae is None  # Bi2Se3 is centrosymmetric


def test_switching_soc_off_is_a_visible_error(bi2se3: Hamiltonian) -> None:
    no_soc = bi2se3.with_soc_scaled(0.0)
    result = compare_hamiltonians(no_soc, bi2se3, GRID)
    # SOC in Bi2Se3 moves bands near E_F by tenths of an eV
    assert 0.03 < result.band_mae < 1.0
    assert result.band_max_error > 0.2
    assert result.gap_predicted is not None and result.gap_dft is not None
    assert abs(result.gap_predicted - result.gap_dft) > 0.05


def test_extra_dft_bands_are_matched_by_electron_count(bi2se3: Hamiltonian) -> None:
    """A DFT code with 6 more semicore electrons and another energy zero still matches."""
    e = bi2se3.eigh(GRID)
    semicore = np.full((len(GRID), 6), e.min() - 40.0)
    high = np.full((len(GRID), 4), e.max() + 30.0)
    dft = np.concatenate([semicore, e, high], axis=1) + 3.21  # another energy zero
    efermi = bi2se3.efermi + 3.21
    counted = compare_band_energies(bi2se3, GRID, dft, efermi)
    given = compare_band_energies(bi2se3, GRID, dft, efermi, dft_nelect=bi2se3.nelect + 6)
    for result in (counted, given):
        assert result.band_offset == 6
        assert result.band_mae < 1e-9
        assert result.energy_shift == pytest.approx(-3.21, abs=1e-9)
    assert dft_occupied_bands(dft, efermi) == int(bi2se3.nelect) + 6


def test_spin_splitting_error_without_inversion(data_dir) -> None:
    """Rattled LiBr (no inversion) has spin-split bands; SOC off removes the splitting."""
    ham = Hamiltonian.from_npz(data_dir / "LiBr_sz.npz")
    k = np.concatenate([monkhorst_pack((4, 4, 4)), trim_points(np.ones(3, bool))])
    same = compare_hamiltonians(ham, ham, k)
    assert same.spin_splitting_mae == pytest.approx(0.0, abs=1e-9)
    # without SOC every pair is degenerate: the error is the mean DFT splitting itself
    off = compare_hamiltonians(ham.with_soc_scaled(0.0), ham, k)
    e = ham.eigh(k)
    pairs = e.reshape(len(k), -1, 2)
    inside = (np.abs(pairs - ham.efermi) <= off.window).any(axis=2)
    expected = (pairs[..., 1] - pairs[..., 0])[inside].mean()
    assert expected > 1e-3
    assert off.spin_splitting_mae == pytest.approx(expected, rel=1e-9)


def test_soc_off_comparison_of_soc_off_bands(bi2se3: Hamiltonian) -> None:
    result = compare_hamiltonians(bi2se3, bi2se3, GRID, soc=False)
    assert result.band_mae < 1e-9
    assert result.spin_splitting_mae is None


@pytest.mark.parametrize(
    ("energies", "match"),
    [
        (np.zeros((3, 4)), "shape"),
        (np.tile(np.arange(60.0)[::-1], (len(GRID), 1)), "ascending"),
    ],
    ids=["wrong-nk", "descending"],
)
def test_bad_input_raises(bi2se3: Hamiltonian, energies: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compare_band_energies(bi2se3, GRID, energies, 0.0)


def test_window_must_contain_bands(bi2se3: Hamiltonian) -> None:
    e = bi2se3.eigh(GRID)
    with pytest.raises(ValueError, match="window must be positive"):
        compare_band_energies(bi2se3, GRID, e, bi2se3.efermi, window=0.0)
    with pytest.raises(ValueError, match="no DFT band"):
        compare_band_energies(bi2se3, GRID, e, e.max() + 100.0, dft_nelect=bi2se3.nelect)


def test_z2_agree() -> None:
    assert z2_agree([1, 0, 0, 0], (1, 0, 0, 0)) is True
    assert z2_agree([1, 0, 0, 0], [0, 0, 0, 0]) is False
    assert z2_agree(None, [0, 0, 0, 0]) is None

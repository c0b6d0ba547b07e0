"""Losses: gauge invariance, SOC representation, degeneracy-safe eigh backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from socscreen.dft.basis_functions import cutoff_radius
from socscreen.hamiltonian import spinor_bloch_sum
from socscreen.model.data import CrystalData, collate, scatter_blocks, soc_vector_blocks
from socscreen.model.layout import OrbitalLayout
from socscreen.model.loss import (
    BroadenedEigh,
    band_edge_window,
    band_error,
    energy_shift,
    h0_element_loss,
    orthogonalised,
    predicted_bands,
    soc_element_loss,
    spin_splitting_error,
    spinor_bloch,
)


@pytest.fixture(scope="module")
def sample(bi2se3):
    shells = bi2se3.orbitals.element_shells
    layout = OrbitalLayout(shells)
    return CrystalData.from_hamiltonian(bi2se3, layout, {s: cutoff_radius(s) for s in shells})


def test_padded_targets_round_trip_to_dense_blocks(bi2se3, sample):
    batch = collate([sample])
    assert batch.target_mask.any()
    h0 = scatter_blocks(batch.h0, sample).numpy()
    np.testing.assert_allclose(h0, bi2se3.h0, atol=1e-6)  # every non-zero block is on an edge
    soc = scatter_blocks(batch.soc, sample).numpy()
    np.testing.assert_allclose(soc, soc_vector_blocks(bi2se3), atol=1e-6)


def test_h0_loss_is_invariant_under_energy_shift(sample):
    batch = collate([sample])
    rng = torch.Generator().manual_seed(0)
    pred = (
        batch.h0
        + 0.05
        * torch.randn(batch.h0.shape, generator=rng, dtype=batch.h0.dtype)
        * batch.target_mask
    )
    loss, mae = h0_element_loss(pred, batch, 1.0)
    shifted, mae_shifted = h0_element_loss(pred + 1.7 * batch.overlap, batch, 1.0)
    torch.testing.assert_close(shifted, loss)
    torch.testing.assert_close(
        energy_shift(pred + 1.7 * batch.overlap, batch) - energy_shift(pred, batch),
        torch.tensor([1.7], dtype=pred.dtype),
    )
    assert 0.02 < float(mae) < 0.05
    zero, zero_mae = h0_element_loss(batch.h0 - 0.3 * batch.overlap, batch, 1.0)
    assert float(zero) < 1e-12 and float(zero_mae) < 1e-12
    perfect, _ = soc_element_loss(batch.soc, batch, 0.01)
    assert float(perfect) == 0.0


def test_spinor_bloch_is_the_numpy_one_in_torch(bi2se3, sample):
    """The training's differentiable spinor Bloch sum equals the one of the container."""
    k = np.array([[0.1, -0.2, 0.3], [0.5, 0.0, 0.0]])
    ours = spinor_bloch(
        torch.as_tensor(bi2se3.h0), torch.as_tensor(soc_vector_blocks(bi2se3)), bi2se3.R, k
    )
    expected = spinor_bloch_sum(bi2se3.h0, bi2se3.R, k, bi2se3.soc_uu, bi2se3.soc_ud)
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-10)
    spinless = spinor_bloch(torch.as_tensor(bi2se3.h0), None, bi2se3.R, k)
    np.testing.assert_allclose(spinless.numpy(), bi2se3.hamiltonian_k(k, soc=False), atol=1e-10)


def test_band_loss_is_zero_for_dft_bands_and_shift_invariant(bi2se3):
    k = np.array([[0.0, 0.0, 0.0], [0.13, 0.27, -0.4]])
    h = torch.as_tensor(bi2se3.hamiltonian_k(k))
    s = torch.as_tensor(bi2se3.spinor_overlap_k(k))
    ref = torch.as_tensor(bi2se3.eigh(k))
    loss, offset = band_error(predicted_bands(h + 0.4 * s, s), ref, bi2se3.efermi)
    assert float(loss) < 1e-9
    assert abs(float(offset) - 0.4) < 1e-9


def test_balanced_band_loss_gives_the_conduction_band_half_the_weight():
    # three valence levels and one conduction level; only the conduction level is off by
    # d: the plain loss sees it as one level in four, the balanced one as half the window
    d = 0.2
    reference = torch.tensor([[-1.0, -0.5, -0.2, 0.6]], dtype=torch.float64)
    s = torch.eye(4, dtype=torch.complex128)[None]
    h = torch.diag_embed(reference + torch.tensor([0.0, 0.0, 0.0, d])).to(torch.complex128)
    plain, plain_offset = band_error(predicted_bands(h, s), reference, efermi=0.0)
    balanced, balanced_offset = band_error(
        predicted_bands(h, s), reference, efermi=0.0, balanced=True
    )
    assert float(plain_offset) == pytest.approx(d / 4) and float(plain) == pytest.approx(3 * d / 8)
    assert float(balanced_offset) == pytest.approx(d / 2) and float(balanced) == pytest.approx(
        d / 2
    )
    # a common shift is still no error
    shifted, _ = band_error(
        predicted_bands(h + 0.3 * s, s),
        reference + torch.tensor([0, 0, 0, d]),
        0.0,
        balanced=True,
    )
    assert float(shifted) < 1e-12


def test_band_loss_with_overlap_cutoff_matches_the_container(bi2se3):
    k = np.array([[0.0, 0.0, 0.0], [0.13, 0.27, -0.4]])
    cut = bi2se3._replace(meta={**bi2se3.meta, "overlap_cutoff": 0.2})
    h = torch.as_tensor(bi2se3.hamiltonian_k(k))
    s = torch.as_tensor(bi2se3.spinor_overlap_k(k))
    e = torch.linalg.eigvalsh(orthogonalised(h, s, 0.2))
    np.testing.assert_allclose(e.numpy(), cut.eigh(k), atol=1e-8)
    loss, _ = band_error(
        predicted_bands(h + 0.4 * s, s, overlap_cutoff=0.2),
        torch.as_tensor(cut.eigh(k)),
        bi2se3.efermi,
    )
    assert float(loss) < 1e-9


def _hermitian(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.complex128)
    return 0.5 * (a + a.mH)


def test_broadened_eigh_gradient_matches_torch_without_degeneracy():
    a = _hermitian(6, 1).requires_grad_(True)
    w = torch.linspace(0.1, 1.0, 6, dtype=torch.float64)

    def objective(e, v):  # gauge invariant in the eigenvectors
        return (w * e).sum() + (w * v[0].abs() ** 2).sum()

    ours = torch.autograd.grad(objective(*BroadenedEigh.apply(a, 1e-12)), a)[0]
    reference = torch.autograd.grad(objective(*torch.linalg.eigh(a)), a)[0]
    torch.testing.assert_close(ours, reference, atol=1e-8, rtol=1e-6)


def test_broadened_eigh_is_finite_at_kramers_degeneracy(bi2se3):
    h = torch.as_tensor(bi2se3.hamiltonian_k([[0.0, 0.0, 0.0]])[0])  # Kramers pairs at Γ
    s = torch.as_tensor(bi2se3.spinor_overlap_k([[0.0, 0.0, 0.0]])[0])
    l_inv = torch.linalg.inv(torch.linalg.cholesky(s))
    a = (l_inv @ h @ l_inv.mH).detach().requires_grad_(True)
    e, v = BroadenedEigh.apply(a, 1e-4)
    assert torch.min(e[1::2] - e[::2]).abs() < 1e-8  # exact degeneracy
    (e.sum() + v[0].abs().pow(2).sum()).backward()
    assert torch.isfinite(a.grad).all()
    plain = a.detach().requires_grad_(True)
    e2, v2 = torch.linalg.eigh(plain)
    (v2[0].abs().pow(2).sum()).backward()
    assert not torch.isfinite(plain.grad).all() or plain.grad.abs().max() > 1e6  # what we avoid


def test_offsite_weights_favour_overlapping_elements(sample):
    from socscreen.model.loss import _split_reduce

    batch = collate([sample])
    off = batch.target_mask & ~batch.is_self[:, None, None]
    s = batch.overlap.abs() * off
    big = tuple(torch.nonzero(s == s.max())[0])  # a nearest-neighbour element
    small = tuple(torch.nonzero((s > 0) & (s < 1e-6))[0])  # a barely overlapping pair
    cost = {}
    for name, index in (("big", big), ("small", small)):
        residual = torch.zeros_like(batch.h0)
        residual[index] = 0.1
        cost[name] = [float(_split_reduce(residual, batch, "mae", w)) for w in (None, 0.02)]
    assert cost["big"][0] == pytest.approx(cost["small"][0])  # uniform weights
    ratio = cost["big"][1] / cost["small"][1]
    assert ratio == pytest.approx((float(s.max()) + 0.02) / 0.02, rel=1e-3)


def test_spin_splitting_error_sees_what_the_band_error_leaves_free():
    # two Kramers pairs near E_F split by 20 meV in DFT, unsplit in the prediction: 10 meV
    # of band error (offset removed) but 20 meV of splitting error; the pair 3 eV up is
    # outside the window
    reference = torch.tensor([[-0.51, -0.49, 0.49, 0.51, 3.0, 3.2]], dtype=torch.float64)
    predicted = torch.tensor(
        [[-0.50, -0.50, 0.50, 0.50, 3.0, 3.0]], dtype=torch.float64, requires_grad=True
    )
    mae, offset = band_error(predicted, reference, efermi=0.0, window=2.5)
    assert float(mae) == pytest.approx(0.01) and float(offset) == pytest.approx(0.0)
    splitting = spin_splitting_error(predicted, reference, efermi=0.0, window=2.5)
    assert float(splitting) == pytest.approx(0.02)
    splitting.backward()
    # a descent step splits each pair apart and leaves the bands outside the window alone
    grad = predicted.grad[0]
    assert grad[0] > 0 > grad[1] and grad[2] > 0 > grad[3] and not grad[4:].any()
    assert float(spin_splitting_error(reference, reference, 0.0)) == 0.0
    with pytest.raises(ValueError, match="5 bands do not pair"):
        spin_splitting_error(reference[:, :5], reference[:, :5], 0.0)


def test_edge_window_puts_a_wide_gap_in_the_band_loss():
    # a 5 eV gap with E_F 1 eV above the valence-band top (where GPAW leaves it in CaF2):
    # E_F ± 2.5 eV holds no conduction level, so a conduction band 0.3 eV too high costs
    # nothing; the edge window counts it, and numpy and torch masks agree
    d = 0.3
    reference = torch.tensor([[-1.5, -1.0, 4.0, 4.8, 9.0]], dtype=torch.float64)
    s = torch.eye(5, dtype=torch.complex128)[None]
    h = torch.diag_embed(reference + torch.tensor([0.0, 0.0, d, d, d])).to(torch.complex128)
    e = predicted_bands(h, s)
    around_ef, _ = band_error(e, reference, efermi=0.0, balanced=True)
    edges, offset = band_error(e, reference, efermi=0.0, balanced=True, edges=True)
    assert float(around_ef) < 1e-12
    assert float(offset) == pytest.approx(d / 2) and float(edges) == pytest.approx(d / 2)
    mask = band_edge_window(reference, 0.0, 2.5)
    assert mask.tolist() == [[True, True, True, True, False]]
    assert band_edge_window(reference.numpy(), 0.0, 2.5).tolist() == mask.tolist()
    # in a metal (levels at E_F) the window is E_F ± window, to the sampled edges
    metal = torch.tensor([[-3.0, -0.1, 0.2, 2.8]], dtype=torch.float64)
    assert band_edge_window(metal, 0.0, 2.5).tolist() == [[False, True, True, False]]

"""Orbital blocks <-> irreps, and the padded shell-slot layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from socscreen.model.basis import wigner_d
from socscreen.model.irreps_tools import block_change_of_basis, block_irreps
from socscreen.model.layout import OrbitalLayout

RNG = np.random.default_rng(3)


def _rotation(improper: bool) -> np.ndarray:
    q, _ = np.linalg.qr(RNG.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    return -q if improper else q


def irreps_d(irreps, q: np.ndarray) -> np.ndarray:
    """Block-diagonal D of an Irreps in the GPAW basis (orbital parity handled explicitly)."""
    det = np.sign(np.linalg.det(q))
    blocks = []
    for mul, ir in irreps:
        proper = wigner_d(ir.l, q) * det**ir.l
        d = proper * (ir.p if det < 0 else 1)
        blocks += [d] * mul
    out = np.zeros((irreps.dim, irreps.dim))
    i = 0
    for d in blocks:
        out[i : i + len(d), i : i + len(d)] = d
        i += len(d)
    return out


@pytest.mark.parametrize("l1,l2", [(0, 0), (0, 1), (1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 3)])
def test_block_change_of_basis_is_orthogonal(l1, l2):
    t = block_change_of_basis(l1, l2)
    assert t.shape == (block_irreps(l1, l2).dim, 2 * l1 + 1, 2 * l2 + 1)
    flat = t.reshape(len(t), -1).numpy()
    np.testing.assert_allclose(flat @ flat.T, np.eye(len(t)), atol=1e-12)


@pytest.mark.parametrize("improper", [False, True], ids=["proper", "improper"])
@pytest.mark.parametrize("l1,l2", [(0, 1), (1, 1), (1, 2), (2, 2), (1, 3), (3, 2)])
def test_irreps_rotate_like_orbital_blocks(l1, l2, improper):
    q = _rotation(improper)
    irreps = block_irreps(l1, l2)
    assert all(ir.p == (-1) ** (l1 + l2) for _, ir in irreps)
    t = block_change_of_basis(l1, l2).numpy()
    x = RNG.normal(size=irreps.dim)
    block = np.einsum("k,kab->ab", x, t)
    rotated = np.einsum("k,kab->ab", irreps_d(irreps, q) @ x, t)
    np.testing.assert_allclose(rotated, wigner_d(l1, q) @ block @ wigner_d(l2, q).T, atol=1e-10)


def test_transposed_block_swaps_irreps_with_sign():
    # T(l2, l1)[k] = (-1)^(l1+l2+L) T(l1, l2)[k]^T: the rule behind H_ji(-R) = H_ij(R)^T.
    t12, t21 = block_change_of_basis(1, 2), block_change_of_basis(2, 1)
    signs = torch.tensor(
        [(-1) ** (3 + ir.l) for _, ir in block_irreps(1, 2) for _ in range(ir.dim)]
    )
    torch.testing.assert_close(t21, signs[:, None, None] * t12.transpose(1, 2))


def test_bad_angular_momentum_raises():
    with pytest.raises(ValueError, match=">= 0"):
        block_irreps(-1, 2)


@pytest.fixture()
def layout() -> OrbitalLayout:
    return OrbitalLayout({"Bi": (0, 1, 2, 2), "Ag": (0, 1, 1, 2, 1), "Se": (0, 1, 2)})


def test_slot_template_and_element_slots(layout):
    assert layout.slot_l == (0, 1, 1, 1, 2, 2)
    assert layout.n_pad == 1 + 9 + 10
    assert layout.element_slots("Ag") == (0, 1, 2, 4, 3)
    assert layout.element_slots("Bi") == (0, 1, 4, 5)
    ag = layout.orbital_index("Ag")
    # Ag storage order s, p, p, d, p -> padded s, p1, p2, d1, p3
    np.testing.assert_array_equal(ag, [0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 7, 8, 9])
    assert layout.orbital_mask("Se").sum() == 9
    with pytest.raises(ValueError, match="Te is not covered"):
        layout.orbital_index("Te")


def test_padded_block_basis_is_orthogonal_and_equivariant(layout):
    basis = layout.block_basis.numpy()
    flat = basis.reshape(len(basis), -1)
    assert flat.shape == (layout.n_pad**2, layout.n_pad**2)
    np.testing.assert_allclose(flat @ flat.T, np.eye(len(flat)), atol=1e-12)
    q = _rotation(True)
    d_pad = np.zeros((layout.n_pad, layout.n_pad))
    for a, ell in enumerate(layout.slot_l):
        o = layout.slot_offsets
        d_pad[o[a] : o[a + 1], o[a] : o[a + 1]] = wigner_d(ell, q)
    x = RNG.normal(size=len(basis))
    block = np.einsum("k,kab->ab", x, basis)
    rotated = np.einsum("k,kab->ab", irreps_d(layout.block_irreps, q) @ x, basis)
    np.testing.assert_allclose(rotated, d_pad @ block @ d_pad.T, atol=1e-10)


def test_xi_basis_builds_antisymmetric_l_blocks(layout):
    xi = layout.xi_basis()
    # p slots: 3 diagonal + 3 cross pairs; d slots: 2 + 1
    assert len(layout.same_l_pairs) == 9
    assert int(layout.xi_is_diagonal().sum()) == 5
    torch.testing.assert_close(xi, -xi.transpose(-1, -2))
    a_prime = layout.l_matrices()
    diag = [k for k, (a, b) in enumerate(layout.same_l_pairs) if a == b]
    torch.testing.assert_close(xi[diag].sum(0), a_prime)

"""Pure functions between orbital blocks and irreps (MACE's ``irreps_tools`` role).

A block ``B[m1, m2]`` between a shell of angular momentum ``l1`` (rows) and one of
``l2`` (columns) transforms as ``D_l1 B D_l2ᵀ``, i.e. as ``l1 ⊗ l2 = ⊕_L L`` with
``|l1 - l2| <= L <= l1 + l2`` and parity ``(-1)^(l1 + l2)`` for every L. Because e3nn's
real harmonics on permuted vectors *are* GPAW's (see :mod:`socscreen.model.basis`),
the change of basis is e3nn's Wigner-3j symbol with no further rotation.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from e3nn import o3

__all__ = ["block_change_of_basis", "block_irreps"]


def block_irreps(l1: int, l2: int) -> o3.Irreps:
    """Irreps of an ``l1 × l2`` orbital block: ``⊕_L 1xL`` with parity ``(-1)^(l1+l2)``."""
    if l1 < 0 or l2 < 0:
        raise ValueError(f"angular momenta must be >= 0, got {l1}, {l2}")
    parity = (-1) ** (l1 + l2)
    return o3.Irreps([(1, (ell, parity)) for ell in range(abs(l1 - l2), l1 + l2 + 1)])


@lru_cache(maxsize=None)
def _change_of_basis(l1: int, l2: int) -> torch.Tensor:
    parts = [
        (2 * ell + 1) ** 0.5 * o3.wigner_3j(l1, l2, ell, dtype=torch.float64).permute(2, 0, 1)
        for ell in range(abs(l1 - l2), l1 + l2 + 1)
    ]
    return torch.cat(parts, dim=0)


def block_change_of_basis(l1: int, l2: int) -> torch.Tensor:
    """Orthogonal map between irreps coefficients and an orbital block (GPAW basis).

    Parameters
    ----------
    l1, l2
        Angular momenta of the row and column shells.

    Returns
    -------
    torch.Tensor
        ``T`` of shape ``[dim(block_irreps(l1, l2)), 2l1+1, 2l2+1]``, float64, with
        ``block = einsum("k,kab->ab", x, T)`` for irreps coefficients ``x`` (in the order
        of :func:`block_irreps`) and ``x = einsum("kab,ab->k", T, block)``; ``T``
        reshaped to a square matrix is orthogonal.
    """
    block_irreps(l1, l2)  # validates the arguments
    return _change_of_basis(l1, l2).clone()

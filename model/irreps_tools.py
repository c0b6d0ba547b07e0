"""Pure functions between orbital blocks and irreps (MACE's ``irreps_tools`` role).

A block ``B[m1, m2]`` between a shell of angular momentum ``l1`` (rows) and one of
``l2`` (columns) transforms as ``D_l1 B D_l2ᵀ``, i.e. as ``l1 ⊗ l2 = ⊕_L L`` with
``|l1 - l2| <= L <= l1 + l2`` and parity ``(-1)^(l1 + l2)`` for every L. Because e3nn's
real harmonics on permuted vectors *are* GPAW's (see :mod:`socscreen.model.basis`),
the change of basis is e3nn's Wigner-3j symbol with no further rotation.
"""

from __future__ import annotations

from functools import cache

import torch
from e3nn import o3

__all__ = ["block_change_of_basis", "block_irreps", "tp_out_irreps_with_instructions"]


def block_irreps(l1: int, l2: int) -> o3.Irreps:
    """Irreps of an ``l1 × l2`` orbital block: ``⊕_L 1xL`` with parity ``(-1)^(l1+l2)``."""
    if l1 < 0 or l2 < 0:
        raise ValueError(f"angular momenta must be >= 0, got {l1}, {l2}")
    parity = (-1) ** (l1 + l2)
    return o3.Irreps([(1, (ell, parity)) for ell in range(abs(l1 - l2), l1 + l2 + 1)])


@cache
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


def tp_out_irreps_with_instructions(
    irreps1: o3.Irreps, irreps2: o3.Irreps, target_irreps: o3.Irreps
) -> tuple[o3.Irreps, list[tuple[int, int, int, str, bool]]]:
    """Output irreps and ``uvu`` instructions of a channel-wise tensor product.

    Every path ``ir1 ⊗ ir2 -> ir_out`` with ``ir_out`` among ``target_irreps`` keeps the
    multiplicity of ``irreps1`` (as in MACE). Output irreps come sorted by (l, parity)
    and the instructions point into that sorted order.

    Parameters
    ----------
    irreps1
        Irreps of the features (channels ``u``).
    irreps2
        Irreps of the edge attributes (one channel each, e.g. spherical harmonics).
    target_irreps
        Irreps that the output may contain.

    Returns
    -------
    tuple
        ``(irreps_out, instructions)`` for :class:`e3nn.o3.TensorProduct` with
        per-edge (external) weights.
    """
    allowed = {ir for _, ir in o3.Irreps(target_irreps)}
    out: list[tuple[int, o3.Irrep]] = []
    instructions = []
    for i1, (mul, ir1) in enumerate(o3.Irreps(irreps1)):
        for i2, (_, ir2) in enumerate(o3.Irreps(irreps2)):
            for ir_out in ir1 * ir2:
                if ir_out in allowed:
                    instructions.append((i1, i2, len(out), "uvu", True))
                    out.append((mul, ir_out))
    irreps_out, permutation, _ = o3.Irreps(out).sort()
    instructions = [(i1, i2, permutation[k], mode, w) for i1, i2, k, mode, w in instructions]
    return irreps_out, instructions

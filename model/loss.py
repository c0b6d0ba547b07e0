"""Losses: Hamiltonian elements (modulo the energy zero), SOC elements, band energies.

Energy reference
----------------
A DFT H0 has an arbitrary zero (GPAW: average electrostatic potential), and shifting it by
``c`` changes every block by ``c S(R)`` while leaving the physics unchanged. The element
loss therefore compares ``H_pred − H_DFT − c S`` with the per-structure least-squares
shift ``c = <ΔH, S> / <S, S>``; a local model then settles on one consistent gauge, and
band energies are compared after removing their mean offset inside the window. This is
the choice documented in the model card: predictions are meaningful up to one constant
per structure, and Fermi levels are computed from the predicted bands.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from socscreen.eigensolver import GHOST_ENERGY
from socscreen.model.data import GraphBatch

__all__ = [
    "BroadenedEigh",
    "band_edge_window",
    "band_error",
    "energy_shift",
    "h0_element_loss",
    "orthogonalised",
    "predicted_bands",
    "soc_element_loss",
    "spin_splitting_error",
    "spinor_bloch",
]


def _per_structure(values: torch.Tensor, edge_batch: torch.Tensor, n: int) -> torch.Tensor:
    """Sum ``[E, ...]`` values over each structure's edges, ``[n]``."""
    flat = values.reshape(values.shape[0], -1).sum(dim=1)
    return torch.zeros(n, dtype=values.dtype, device=values.device).index_add_(0, edge_batch, flat)


def energy_shift(h0: torch.Tensor, batch: GraphBatch) -> torch.Tensor:
    """Least-squares ``c`` per structure with ``h0 − target ≈ c S`` (eV), ``[n_structures]``."""
    mask = batch.target_mask
    delta = (h0 - batch.h0) * mask
    s = batch.overlap * mask
    num = _per_structure(delta * s, batch.edge_batch, batch.n_structures)
    den = _per_structure(s * s, batch.edge_batch, batch.n_structures)
    return num / den.clamp_min(1e-12)


def h0_element_loss(
    h0: torch.Tensor,
    batch: GraphBatch,
    scale: float | torch.Tensor,
    kind: str = "mae",
    weight_floor: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Element loss of H0 modulo ``c S``, on-site and off-site blocks weighted equally.

    On-site blocks are a few percent of all elements but set the band energies, so the
    loss is the sum of the mean over on-site elements and the mean over off-site ones.

    Parameters
    ----------
    h0
        Predicted padded blocks, ``[E, P, P]`` (eV).
    batch
        Batch with targets.
    scale
        Normalising energy (eV); the loss is dimensionless.
    kind
        ``"mae"``, ``"mse"`` or ``"mae+mse"``.
    weight_floor
        Off-site elements weigh ``|S_ij| + weight_floor`` (``None``: uniform).

    Returns
    -------
    tuple
        ``(loss, mae)`` with ``mae`` the shift-aligned mean absolute error over all
        elements in eV (detached).
    """
    c = energy_shift(h0, batch)  # [B]
    residual = h0 - batch.h0 - c[batch.edge_batch, None, None] * batch.overlap  # [E, P, P]
    return _split_reduce(residual / scale, batch, kind, weight_floor), residual[
        batch.target_mask
    ].detach().abs().mean()


def soc_element_loss(
    soc: torch.Tensor,
    batch: GraphBatch,
    scale: float | torch.Tensor,
    kind: str = "mae",
    weight_floor: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Element loss of the SOC blocks ``A_α`` (``[E, 3, P, P]``, eV), on/off-site balanced.

    Returns
    -------
    tuple
        ``(loss, mae)`` with ``mae`` the mean absolute error of the complex spin blocks
        ``H_uu`` and ``H_ud`` in eV (detached).
    """
    diff = soc - batch.soc  # [E, 3, P, P]
    residual = diff.transpose(0, 1)[:, batch.target_mask]  # [3, K]
    mae = 0.5 * (residual[2].abs().mean() + torch.sqrt(residual[0] ** 2 + residual[1] ** 2).mean())
    return _split_reduce(diff / scale, batch, kind, weight_floor), mae.detach()


def _split_reduce(
    residual: torch.Tensor, batch: GraphBatch, kind: str, weight_floor: float | None
) -> torch.Tensor:
    """Mean loss over on-site elements plus weighted mean loss over off-site elements.

    Off-site elements are weighted by ``|S_ij| + weight_floor`` (``None``: uniform): the
    few large nearest-neighbour elements set the bands, while most off-site elements
    belong to distant, barely overlapping pairs and would otherwise dominate the mean.
    """
    mask = batch.target_mask
    onsite = mask & batch.is_self[:, None, None]
    offsite = mask & ~batch.is_self[:, None, None]
    weights = None
    if weight_floor is not None:
        weights = batch.overlap[offsite].abs() + weight_floor
    if residual.dim() == 4:  # [E, 3, P, P]
        residual = residual.transpose(0, 1)
        return _reduce(residual[:, onsite], kind) + _reduce(residual[:, offsite], kind, weights)
    return _reduce(residual[onsite], kind) + _reduce(residual[offsite], kind, weights)


def _reduce(residual: torch.Tensor, kind: str, weights: torch.Tensor | None = None) -> torch.Tensor:
    if weights is None:
        weights = torch.ones_like(residual[..., :1]).expand_as(residual)
    weights = weights / weights.mean()
    if kind == "mae":
        return (weights * residual.abs()).mean()
    if kind == "mse":
        return (weights * residual**2).mean()
    if kind == "mae+mse":
        return (weights * (residual.abs() + residual**2)).mean()
    raise ValueError(f"unknown loss kind {kind!r}; use 'mae', 'mse' or 'mae+mse'")


class BroadenedEigh(torch.autograd.Function):
    """Hermitian ``eigh`` whose backward is safe at degeneracies.

    The eigenvector part of the gradient contains ``1 / (e_j − e_i)``; it is replaced by
    the Lorentzian-broadened ``(e_j − e_i) / ((e_j − e_i)² + η²)``, which is finite for
    degenerate pairs (Kramers pairs are exactly degenerate). The eigenvalue part
    ``V diag(g_e) V†`` is exact.
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, eta: float = 1e-4):  # noqa: D102
        e, v = torch.linalg.eigh(a)
        ctx.save_for_backward(e, v)
        ctx.eta = eta
        return e, v

    @staticmethod
    def backward(ctx, grad_e: torch.Tensor | None, grad_v: torch.Tensor | None):  # noqa: D102
        e, v = ctx.saved_tensors
        inner = torch.zeros_like(v)
        if grad_e is not None:
            inner = inner + torch.diag_embed(grad_e.to(v.dtype))
        if grad_v is not None:
            diff = e[..., None, :] - e[..., :, None]  # e_j - e_i
            f = diff / (diff**2 + ctx.eta**2)
            x = v.mH @ grad_v
            inner = inner + f.to(v.dtype) * 0.5 * (x - x.mH)
        grad_a = v @ inner @ v.mH
        return 0.5 * (grad_a + grad_a.mH), None


def orthogonalised(
    h_k: torch.Tensor, s_k: torch.Tensor, overlap_cutoff: float = 0.0
) -> torch.Tensor:
    """``H(k)`` in an S-orthonormal basis, whose eigenvalues solve ``H c = E S c``.

    Without a cutoff the basis comes from the Cholesky factor of ``S(k)``. With one, as
    :func:`socscreen.eigensolver.generalized_eigh` does, the eigen-directions of ``S(k)``
    at or below ``overlap_cutoff`` are dropped and put at
    :data:`~socscreen.eigensolver.GHOST_ENERGY` (canonical orthogonalisation), so a
    prediction and its reference solved with the same ``S`` keep the same band count.

    Parameters
    ----------
    h_k
        Hamiltonian, ``[n_k, m, m]`` complex (eV), may carry gradients.
    s_k
        Overlap at the same k, ``[n_k, m, m]`` complex (no gradient needed).
    overlap_cutoff
        Smallest kept eigenvalue of ``S(k)``; 0 keeps every direction.

    Returns
    -------
    torch.Tensor
        Hermitian ``[n_k, m, m]`` (eV).
    """
    if overlap_cutoff > 0:
        w, v = torch.linalg.eigh(s_k)
        keep = w > overlap_cutoff
        basis = (
            v * (torch.where(keep, w, torch.ones_like(w)).rsqrt() * keep).to(v.dtype)[..., None, :]
        )
        ghost = torch.diag_embed(torch.where(keep, 0.0, GHOST_ENERGY).to(v.dtype))
        h_orth = basis.mH @ h_k @ basis + ghost
    else:
        chol = torch.linalg.cholesky(s_k)
        eye = torch.eye(s_k.shape[-1], dtype=s_k.dtype, device=s_k.device).expand_as(s_k)
        l_inv = torch.linalg.solve_triangular(chol, eye, upper=False)
        h_orth = l_inv @ h_k @ l_inv.mH
    return 0.5 * (h_orth + h_orth.mH)


def predicted_bands(
    h_k: torch.Tensor, s_k: torch.Tensor, eta: float = 1e-4, overlap_cutoff: float = 0.0
) -> torch.Tensor:
    """Eigenvalues ``[n_k, m]`` (eV) of ``H c = E S c``, differentiable.

    Parameters
    ----------
    h_k
        Predicted Hamiltonian at k, ``[n_k, m, m]`` complex (eV), differentiable.
    s_k
        Exact overlap at the same k, ``[n_k, m, m]`` complex (no gradient).
    eta
        Broadening of the eigenvector gradient (eV, see :class:`BroadenedEigh`).
    overlap_cutoff
        Directions of ``S(k)`` below this are dropped (see :func:`orthogonalised`); a
        reference compared with these bands must have been solved with the same cutoff.
    """
    e, _ = BroadenedEigh.apply(orthogonalised(h_k, s_k, overlap_cutoff), eta)
    return e


def band_edge_window(
    reference: np.ndarray | torch.Tensor, efermi: float, window: float
) -> np.ndarray | torch.Tensor:
    """Mask of the bands within ``window`` of the band edges, the gap included.

    From ``window`` below the valence-band top to ``window`` above the conduction-band
    bottom (edges over the sampled k, split at ``efermi``; ``E_F ± window`` in a metal).
    A window around E_F alone holds no conduction band of an insulator whose DFT Fermi
    level lies more than ``window`` below its conduction-band bottom (CaF2, BN, AlN in the
    corpus), so it leaves that gap unfitted. ``reference`` is a NumPy array or a tensor
    (eV); the mask is of the same kind.
    """
    below, above = reference[reference <= efermi], reference[reference > efermi]
    low = min(efermi, float(below.max()) if below.shape[0] else efermi) - window
    high = max(efermi, float(above.min()) if above.shape[0] else efermi) + window
    return (reference > low) & (reference < high)


def band_error(
    e: torch.Tensor,
    reference: torch.Tensor,
    efermi: float,
    window: float = 2.5,
    balanced: bool = False,
    edges: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean absolute band-energy error in a window around E_F, offset removed.

    Parameters
    ----------
    e
        Predicted eigenvalues ``[n_k, m]`` (eV), e.g. :func:`predicted_bands`.
    reference
        DFT eigenvalues at the same k, ``[n_k, m]`` (eV), ascending.
    efermi
        DFT Fermi level (eV); bands with reference energy in ``efermi ± window`` count.
    window
        Half width of the energy window (eV).
    balanced
        Weigh the band energies below and above E_F half each (offset and mean), instead
        of every band energy alike. In an insulator the window holds many more valence
        than conduction states, so the plain mean barely sees the conduction-band edge,
        and so the gap.
    edges
        Count the bands of :func:`band_edge_window` (``window`` beyond each band edge)
        instead of those in ``efermi ± window``.

    Returns
    -------
    tuple
        ``(loss, offset)``: MAE in eV and the removed mean offset (eV, detached).
    """
    if edges:
        inside = band_edge_window(reference, efermi, window)
    else:
        inside = (reference - efermi).abs() < window
    if not inside.any():
        zero = e.sum() * 0.0
        return zero, zero.detach()
    diff = (e - reference)[inside]
    weight = torch.ones_like(diff)
    if balanced:
        below = reference[inside] < efermi
        for group in (below, ~below):
            weight[group] = 1.0 / group.sum().clamp_min(1)
    weight = weight / weight.sum()
    offset = (weight * diff).sum()
    return (weight * (diff - offset).abs()).sum(), offset.detach()


def spin_splitting_error(
    energies: torch.Tensor, reference: torch.Tensor, efermi: float, window: float = 2.5
) -> torch.Tensor:
    """Mean absolute error (eV) of the spin splittings of spinor band pairs near E_F.

    The spinor bands pair as ``(2m, 2m + 1)`` (Kramers partners: degenerate at the TRIM,
    and everywhere with inversion); a pair counts when both its reference energies lie in
    ``efermi ± window``, the rule of the spin-splitting error of
    ``benchmarks/bench_model.py``. Splittings are differences of a few meV between
    neighbouring bands, which a band MAE of tens of meV leaves free.

    Parameters
    ----------
    energies
        Predicted spinor eigenvalues ``[n_k, 2n]`` (eV), ascending.
    reference
        DFT spinor eigenvalues at the same k ``[n_k, 2n]`` (eV), ascending.
    """
    if reference.shape[-1] % 2:
        raise ValueError(f"{reference.shape[-1]} bands do not pair: spinor bands expected")
    inside = (reference - efermi).abs() < window
    pairs = inside[:, ::2] & inside[:, 1::2]
    if not pairs.any():
        return energies.sum() * 0.0
    split = energies[:, 1::2] - energies[:, ::2]
    split_ref = reference[:, 1::2] - reference[:, ::2]
    return (split - split_ref)[pairs].abs().mean()


def spinor_bloch(
    h0: torch.Tensor, soc: torch.Tensor | None, R: np.ndarray, k: np.ndarray
) -> torch.Tensor:
    """Spinor ``H(k) = I2 ⊗ H0(k) + i Σ_α σ_α ⊗ A_α(k)`` (spin-major), ``[n_k, 2n, 2n]``.

    The torch twin of :func:`socscreen.hamiltonian.spinor_bloch_sum` (with ``soc_uu =
    i A_z``, ``soc_ud = i A_x + A_y``): it stays in torch because the band loss
    differentiates through it; ``tests/model/test_loss.py`` checks that both agree.

    Parameters
    ----------
    h0
        ``[n_R, n, n]`` real blocks (eV).
    soc
        ``[3, n_R, n, n]`` real ``A_α`` blocks (eV) or ``None``.
    R, k
        Integer lattice vectors ``[n_R, 3]`` and fractional k ``[n_k, 3]``.
    """
    phase = torch.exp(2j * math.pi * torch.as_tensor(k @ np.asarray(R).T))  # [n_k, n_R]
    ctype = phase.dtype
    h0k = torch.einsum("kr,rij->kij", phase, h0.to(ctype))
    n = h0.shape[-1]
    out = torch.zeros(len(k), 2 * n, 2 * n, dtype=ctype)
    out[:, :n, :n] = h0k
    out[:, n:, n:] = h0k
    if soc is not None:
        a = 1j * torch.einsum("kr,arij->akij", phase, soc.to(ctype))  # i A_α(k)
        out = out + torch.cat(
            [
                torch.cat([a[2], a[0] - 1j * a[1]], dim=2),
                torch.cat([a[0] + 1j * a[1], -a[2]], dim=2),
            ],
            dim=1,
        )
    return out

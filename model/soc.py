"""Channel 2: the spin-orbit head, ``H_SOC = i Σ_α A_α ⊗ σ_α`` with ``A_α = ξ ∘ L_α``.

On site (atom i, shell slots a, b of equal l)::

    A_α[a, b] = ξ_ab A'^l_α,        L_α = i A'_α (A' real antisymmetric)

with ``ξ_aa = softplus(·) ≥ 0`` and signed cross-shell ``ξ_ab`` (GPAW's radial integrals
between two radial functions of one l can be negative; e.g. Ag 4p–5p), predicted from
the atom's invariant features around a per-element reference fitted on the training
data. This is GPAW's one-centre PAW operator ``<φ|p> ξ L <p|φ>`` exactly (m-averaged
strengths, so rotation covariance holds).

Off site (edge i→j, R), the same one-centre operator seen from two atoms: a projector
on atom i overlapping φ_j gives ``A'_i O^a_ij``, one on atom j gives ``O^b_ij A'_j``::

    B_α,ij = A'^(i)_α O^a_ij + O^b_ij A'^(j)_α

with ``O^a``, ``O^b`` learned equivariant ``l_i ⊗ l_j`` blocks (they absorb the radial
strengths ξ): the exact overlap ``S_ij(R)`` scaled per irrep by invariant weights (the
projector of one atom seen through the other's orbital overlap) plus a learned
tensor-product correction. Because ``A'`` is a vector operator, ``B`` transforms as
``D_i B_α D_jᵀ = Σ_β Q_αβ B_β`` and ``Σ_α B_α ⊗ σ_α`` stays a rotation scalar
(SU(2)-covariant). Hermiticity ``B_ji(−R) = −B_ij(R)ᵀ`` is imposed by
``A_e = (B_e − B_partner(e)ᵀ) / 2``, time reversal by the container (``H_dd = H_uu*``).
``soc_offsite=False`` keeps only the on-site term.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from e3nn import nn as enn
from e3nn import o3
from torch import nn

from socscreen.model.blocks import OverlapGate, PairReadout, scalar_slice

if TYPE_CHECKING:
    from socscreen.model.data import GraphBatch
    from socscreen.model.layout import OrbitalLayout
    from socscreen.model.network import ModelConfig

__all__ = ["SpinOrbitHead", "inverse_softplus"]


def inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    """``y`` with ``softplus(y) = x`` (x > 0)."""
    return x + torch.log(-torch.expm1(-x))


class SpinOrbitHead(nn.Module):
    """Spin-orbit blocks ``A_α`` of every edge from channel-1 features.

    Parameters
    ----------
    layout
        Padded orbital layout.
    config
        Architecture (``soc_pair_irreps``, ``soc_offsite``, widths).
    node_irreps
        Irreps of channel 1's node features.
    sh_irreps
        Irreps of the edge spherical harmonics.
    xi_reference
        Per-element on-site strengths ``[n_el, n_xi]`` (eV) the network corrects.
    soc_scale
        Scale of the off-site blocks and cross-shell corrections (eV).
    """

    def __init__(
        self,
        layout: OrbitalLayout,
        config: ModelConfig,
        node_irreps: o3.Irreps,
        sh_irreps: o3.Irreps,
        xi_reference: torch.Tensor,
        soc_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.offsite = config.soc_offsite
        self.scalars = scalar_slice(node_irreps)
        n_scalars = self.scalars.stop - self.scalars.start
        n_xi = len(layout.same_l_pairs)
        self.register_buffer("xi_reference", xi_reference.to(torch.get_default_dtype()))
        self.register_buffer("xi_diagonal", layout.xi_is_diagonal())
        self.register_buffer("xi_basis", layout.xi_basis().to(torch.get_default_dtype()))
        self.register_buffer("l_matrices", layout.l_matrices().to(torch.get_default_dtype()))
        self.register_buffer("soc_scale", torch.tensor(float(soc_scale)))
        self.xi_net = enn.FullyConnectedNet(
            [n_scalars, config.mlp_hidden, n_xi], nn.functional.silu
        )
        with torch.no_grad():  # start at the per-element reference strengths
            self.xi_net[-1].weight.zero_()
        if self.offsite:
            block_irreps = layout.block_irreps
            self.pair = PairReadout(
                node_irreps,
                o3.Irreps(config.soc_pair_irreps),
                sh_irreps,
                block_irreps * 2,
                config.n_radial_pair + 2 * n_scalars,
                config.mlp_hidden,
            )
            self.overlap_gate = OverlapGate(
                block_irreps, config.n_radial_pair + 2 * n_scalars, config.mlp_hidden, n_outputs=2
            )
            self.register_buffer(
                "block_basis",
                layout.block_basis.reshape(block_irreps.dim, -1).to(torch.get_default_dtype()),
            )

    def xi(self, species: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        """On-site strengths ``[N, n_xi]`` (eV): softplus on a shell's own pair."""
        delta = self.xi_net(scalars)  # [N, n_xi]
        ref = self.xi_reference[species]
        diagonal = nn.functional.softplus(inverse_softplus(ref.clamp_min(1e-4)) + delta)
        return torch.where(self.xi_diagonal, diagonal, ref + self.soc_scale * delta)

    def forward(
        self, batch: GraphBatch, node_feats: torch.Tensor, geometry: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """``A_α`` of every edge, ``[E, 3, P, P]`` (eV), unmasked."""
        n_edges, n_pad = batch.vectors.shape[0], self.l_matrices.shape[-1]
        scalars = node_feats[:, self.scalars]
        self_edges = torch.nonzero(batch.is_self, as_tuple=True)[0]
        atoms = batch.edge_index[0, self_edges]
        xi = self.xi(batch.species[atoms], scalars[atoms])  # [N_self, n_xi]
        onsite = torch.einsum("ek,kaij->eaij", xi, self.xi_basis)  # [N_self, 3, P, P]
        out = torch.zeros(n_edges, 3, n_pad, n_pad, dtype=onsite.dtype, device=onsite.device)
        out = out.index_put((self_edges,), onsite)
        if not self.offsite:
            return out
        pair_edges = torch.nonzero(geometry["pair"], as_tuple=True)[0]
        pair_index = batch.edge_index[:, pair_edges]
        s_i, s_j = scalars[pair_index[0]], scalars[pair_index[1]]
        pair_in = torch.cat([geometry["rbf_pair"], s_i * s_j, s_i + s_j], dim=1)
        irreps = self.pair(
            node_feats, geometry["sh_pair"], pair_in, geometry["env_pair"], pair_index
        )
        irreps = irreps + self.overlap_gate(geometry["overlap_irreps"], pair_in)
        dim = self.block_basis.shape[0]
        o_a = (irreps[:, :dim] @ self.block_basis).reshape(-1, n_pad, n_pad)  # [E_pair, P, P]
        o_b = (irreps[:, dim:] @ self.block_basis).reshape(-1, n_pad, n_pad)
        lm = self.l_matrices  # [3, P, P]
        raw = torch.einsum("aij,ejk->eaik", lm, o_a) + torch.einsum("eij,ajk->eaik", o_b, lm)
        out = out.index_put((pair_edges,), raw * self.soc_scale)
        # Hermiticity of i A·σ: A_ji(-R) = -A_ij(R)^T
        return 0.5 * (out - out[batch.partner].transpose(-1, -2))

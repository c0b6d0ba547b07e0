"""Equivariant building blocks: radial embedding, interaction, gate, block readouts.

Shapes follow MACE: ``[n_nodes, dim]`` node features, ``[n_edges, dim]`` edge features;
irreps are in e3nn's frame, i.e. GPAW's real harmonics (see :mod:`socscreen.model.basis`).
"""

from __future__ import annotations

import math

import torch
from e3nn import nn as enn
from e3nn import o3
from torch import nn

from socscreen.model.irreps_tools import tp_out_irreps_with_instructions

__all__ = [
    "BesselBasis",
    "InteractionBlock",
    "OnsiteReadout",
    "OverlapGate",
    "PairReadout",
    "PolynomialEnvelope",
    "RadialEmbedding",
    "gated_irreps",
    "scalar_slice",
]


class BesselBasis(nn.Module):
    """``√2 sin(n π u) / u`` for ``n = 1..n_basis`` of the reduced distance ``u = r / r_cut``."""

    def __init__(self, n_basis: int = 8) -> None:
        super().__init__()
        if n_basis < 1:
            raise ValueError(f"n_basis must be >= 1, got {n_basis}")
        self.register_buffer("frequencies", math.pi * torch.arange(1, n_basis + 1))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Basis values, ``[n_edges, n_basis]`` for ``u`` of shape ``[n_edges]``."""
        u = u.clamp_min(1e-6)[:, None]  # [n_edges, 1]
        return math.sqrt(2.0) * torch.sin(self.frequencies * u) / u


class PolynomialEnvelope(nn.Module):
    """Smooth cutoff ``1 - (p+1)(p+2)/2 u^p + p(p+2) u^(p+1) - p(p+1)/2 u^(p+2)``, 0 for u ≥ 1."""

    def __init__(self, p: int = 6) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Envelope values, same shape as ``u``."""
        p = self.p
        env = (
            1.0
            - (p + 1.0) * (p + 2.0) / 2.0 * u**p
            + p * (p + 2.0) * u ** (p + 1.0)
            - p * (p + 1.0) / 2.0 * u ** (p + 2.0)
        )
        return env * (u < 1.0)


class RadialEmbedding(nn.Module):
    """Bessel basis times polynomial envelope of ``u = r / r_cut`` (per-edge cutoff)."""

    def __init__(self, n_basis: int = 8, envelope_p: int = 6) -> None:
        super().__init__()
        self.n_basis = n_basis
        self.bessel = BesselBasis(n_basis)
        self.envelope = PolynomialEnvelope(envelope_p)

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(basis [n_edges, n_basis], envelope [n_edges])``."""
        env = self.envelope(u)  # [n_edges]
        return self.bessel(u) * env[:, None], env


def scalar_slice(irreps: o3.Irreps) -> slice:
    """Slice of the first ``0e`` channels of ``irreps`` (empty if there are none)."""
    irreps = o3.Irreps(irreps)
    for (_, ir), part in zip(irreps, irreps.slices(), strict=True):
        if ir == o3.Irrep("0e"):
            return part
    return slice(0, 0)


def gated_irreps(hidden_irreps: o3.Irreps) -> enn.Gate:
    """Gate nonlinearity producing ``hidden_irreps``: SiLU/tanh on scalars, sigmoid gates."""
    hidden_irreps = o3.Irreps(hidden_irreps)
    scalars = o3.Irreps([(mul, ir) for mul, ir in hidden_irreps if ir.l == 0])
    gated = o3.Irreps([(mul, ir) for mul, ir in hidden_irreps if ir.l > 0])
    gates = o3.Irreps([(gated.num_irreps, "0e")]) if gated.num_irreps else o3.Irreps("")
    return enn.Gate(
        scalars,
        [nn.functional.silu if ir.p == 1 else torch.tanh for _, ir in scalars],
        gates,
        [torch.sigmoid] * len(gates),
        gated,
    )


def _shrink(linear: o3.Linear, factor: float) -> None:
    """Scale a readout's initial weights: predictions start near the reference."""
    with torch.no_grad():
        linear.weight.mul_(factor)


class _WeightedMessage(nn.Module):
    """``Σ_j TP(x_j ⊗ Y(d_ij))`` with per-edge weights from an MLP of edge scalars."""

    def __init__(
        self,
        node_irreps: o3.Irreps,
        sh_irreps: o3.Irreps,
        target_irreps: o3.Irreps,
        n_edge_scalars: int,
        mlp_hidden: int,
    ) -> None:
        super().__init__()
        irreps_mid, instructions = tp_out_irreps_with_instructions(
            node_irreps, sh_irreps, target_irreps
        )
        self.tp = o3.TensorProduct(
            node_irreps,
            sh_irreps,
            irreps_mid,
            instructions,
            shared_weights=False,
            internal_weights=False,
        )
        self.irreps_out = self.tp.irreps_out
        self.weights = enn.FullyConnectedNet(
            [n_edge_scalars, mlp_hidden, mlp_hidden, self.tp.weight_numel], nn.functional.silu
        )

    def forward(
        self, x_j: torch.Tensor, sh: torch.Tensor, edge_scalars: torch.Tensor
    ) -> torch.Tensor:
        """Per-edge messages ``[n_edges, dim(irreps_out)]``."""
        return self.tp(x_j, sh, self.weights(edge_scalars))


class InteractionBlock(nn.Module):
    """NequIP-style interaction: message passing, linear mixing, self connection, gate.

    Parameters
    ----------
    node_feats_irreps
        Irreps of the incoming node features.
    edge_sh_irreps
        Irreps of the edge spherical harmonics.
    hidden_irreps
        Irreps of the outgoing node features.
    n_edge_scalars
        Width of the invariant edge input (radial basis and species embeddings).
    mlp_hidden
        Hidden width of the radial MLP.
    avg_num_neighbors
        Normaliser of the neighbour sum.
    """

    def __init__(
        self,
        node_feats_irreps: o3.Irreps,
        edge_sh_irreps: o3.Irreps,
        hidden_irreps: o3.Irreps,
        n_edge_scalars: int,
        mlp_hidden: int = 32,
        avg_num_neighbors: float = 1.0,
    ) -> None:
        super().__init__()
        self.node_feats_irreps = o3.Irreps(node_feats_irreps)
        self.hidden_irreps = o3.Irreps(hidden_irreps)
        self.avg_num_neighbors = float(avg_num_neighbors)
        self.gate = gated_irreps(self.hidden_irreps)
        self.linear_up = o3.Linear(self.node_feats_irreps, self.node_feats_irreps)
        self.message = _WeightedMessage(
            self.node_feats_irreps, edge_sh_irreps, self.gate.irreps_in, n_edge_scalars, mlp_hidden
        )
        self.linear = o3.Linear(self.message.irreps_out, self.gate.irreps_in)
        self.self_connection = o3.Linear(self.node_feats_irreps, self.gate.irreps_in)
        self.residual = self.node_feats_irreps == self.hidden_irreps

    def forward(
        self,
        node_feats: torch.Tensor,
        edge_sh: torch.Tensor,
        edge_scalars: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        """Update node features, ``[n_nodes, dim(hidden_irreps)]``.

        ``edge_index[0]`` receives the message of ``edge_index[1]``.
        """
        receiver, sender = edge_index
        messages = self.message(self.linear_up(node_feats)[sender], edge_sh, edge_scalars)
        summed = torch.zeros(
            node_feats.shape[0], messages.shape[1], dtype=messages.dtype, device=messages.device
        ).index_add_(0, receiver, messages)  # [n_nodes, dim]
        out = self.gate(
            self.linear(summed / self.avg_num_neighbors) + self.self_connection(node_feats)
        )
        return out + node_feats if self.residual else out


class OnsiteReadout(nn.Module):
    """Node features and one more neighbour sum -> on-site block irreps.

    The extra neighbour sum with spherical harmonics up to ``l_max`` gives the on-site
    blocks their high-l parts (crystal-field splitting of d shells needs L = 4) without
    carrying L = 4 through every interaction.
    """

    def __init__(
        self,
        node_feats_irreps: o3.Irreps,
        edge_sh_irreps: o3.Irreps,
        block_irreps: o3.Irreps,
        n_edge_scalars: int,
        mlp_hidden: int = 32,
        avg_num_neighbors: float = 1.0,
        init_scale: float = 0.1,
    ) -> None:
        super().__init__()
        self.avg_num_neighbors = float(avg_num_neighbors)
        node_feats_irreps = o3.Irreps(node_feats_irreps)
        self.message = _WeightedMessage(
            node_feats_irreps, edge_sh_irreps, block_irreps, n_edge_scalars, mlp_hidden
        )
        self.linear = o3.Linear(node_feats_irreps + self.message.irreps_out, block_irreps)
        _shrink(self.linear, init_scale)

    def forward(
        self,
        node_feats: torch.Tensor,
        edge_sh: torch.Tensor,
        edge_scalars: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        """On-site block irreps ``[n_nodes, dim(block_irreps)]``."""
        receiver, sender = edge_index
        messages = self.message(node_feats[sender], edge_sh, edge_scalars)
        summed = torch.zeros(
            node_feats.shape[0], messages.shape[1], dtype=messages.dtype, device=messages.device
        ).index_add_(0, receiver, messages)
        return self.linear(torch.cat([node_feats, summed / self.avg_num_neighbors], dim=1))


class PairReadout(nn.Module):
    """Directed edge ``(i, j, d)`` -> off-site block irreps, vanishing smoothly at cutoff.

    ``x_ij = W_a h_i + W_b h_j`` is coupled to ``Y(d)`` by a channel-wise tensor product
    whose weights come from the radial basis of ``|d| / (r_i + r_j)`` and the invariant
    features of both atoms; a linear layer maps to the block irreps, and the result is
    multiplied by the envelope.
    """

    def __init__(
        self,
        node_feats_irreps: o3.Irreps,
        pair_irreps: o3.Irreps,
        edge_sh_irreps: o3.Irreps,
        block_irreps: o3.Irreps,
        n_edge_scalars: int,
        mlp_hidden: int = 32,
        init_scale: float = 0.1,
    ) -> None:
        super().__init__()
        self.linear_i = o3.Linear(node_feats_irreps, pair_irreps)
        self.linear_j = o3.Linear(node_feats_irreps, pair_irreps)
        self.message = _WeightedMessage(
            o3.Irreps(pair_irreps), edge_sh_irreps, block_irreps, n_edge_scalars, mlp_hidden
        )
        self.linear = o3.Linear(self.message.irreps_out, block_irreps)
        _shrink(self.linear, init_scale)

    def forward(
        self,
        node_feats: torch.Tensor,
        edge_sh: torch.Tensor,
        edge_scalars: torch.Tensor,
        envelope: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        """Block irreps of every given edge, ``[n_edges, dim(block_irreps)]``."""
        i, j = edge_index
        x = self.linear_i(node_feats)[i] + self.linear_j(node_feats)[j]  # [n_edges, pair]
        return self.linear(self.message(x, edge_sh, edge_scalars)) * envelope[:, None]


class OverlapGate(nn.Module):
    """Exact overlap blocks scaled channel by channel: ``w_k(edge) · S_k`` for each irrep.

    ``S_ij(R)`` in irreps form (every slot pair and L separately) is an exact equivariant
    edge feature that carries the orbitals' decay and angular structure; scaling each
    irrep by an invariant weight from the pair's scalars (an environment-dependent,
    extended-Hückel-like ``H ≈ K S``) keeps equivariance.

    Parameters
    ----------
    block_irreps
        Irreps of one padded block (all slot pairs).
    n_edge_scalars
        Width of the invariant pair input.
    mlp_hidden
        Hidden width of the weight MLP.
    n_outputs
        Independent scaled copies to return (concatenated).
    """

    def __init__(
        self, block_irreps: o3.Irreps, n_edge_scalars: int, mlp_hidden: int = 32, n_outputs: int = 1
    ) -> None:
        super().__init__()
        block_irreps = o3.Irreps(block_irreps)
        self.n_outputs = n_outputs
        self.n_irreps = block_irreps.num_irreps
        self.register_buffer(
            "irrep_of_component",
            torch.repeat_interleave(
                torch.arange(self.n_irreps),
                torch.tensor([ir.dim for mul, ir in block_irreps for _ in range(mul)]),
            ),
        )
        self.weights = enn.FullyConnectedNet(
            [n_edge_scalars, mlp_hidden, n_outputs * self.n_irreps], nn.functional.silu
        )
        with torch.no_grad():  # start from H = 0 off site
            self.weights[-1].weight.zero_()

    def forward(self, overlap_irreps: torch.Tensor, edge_scalars: torch.Tensor) -> torch.Tensor:
        """``[n_edges, n_outputs * dim]`` from S irreps ``[n_edges, dim]``."""
        w = self.weights(edge_scalars).reshape(-1, self.n_outputs, self.n_irreps)
        scaled = w[:, :, self.irrep_of_component] * overlap_irreps[:, None, :]
        return scaled.reshape(len(overlap_irreps), -1)

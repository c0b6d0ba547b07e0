"""Uni-HamGNN: equivariant H0 network (channel 1) and spin-orbit head (channel 2).

Channel 1 maps a crystal graph to padded H0 blocks for every edge; channel 2
(:class:`~socscreen.model.soc.SpinOrbitHead`) maps channel 1's features, detached, to
the spin-orbit blocks ``A_α`` (delta learning). Both are Hermitian by construction: each
directed edge's raw block ``B_e`` is combined with its partner's as
``H_e = (B_e + B_partner(e)ᵀ) / 2`` (``A_e = (B_e − B_partner(e)ᵀ) / 2`` for the
antisymmetric SOC blocks), so ``H_ji(−R) = H_ij(R)ᵀ`` holds exactly.

Energies: outputs are in eV; H0 is ``scale · network + ε`` with ε per-element on-site
shell energies (diagonal, from the training data). A correction model
(``ModelConfig.correction``, the HamGNN ``add_H0`` / NextHAM design) instead predicts
``H0 = H(0) + scale · network`` (with ``shell_shifts``, plus a fitted on-site shift per
element and shell, :mod:`socscreen.model.shell_shifts`): the zeroth-step Hamiltonian of
the structure (:mod:`socscreen.dft.zeroth_step`) is both its baseline and an input (its
on-site shell energies enter the atom embedding); the correction is a free equivariant
block on site and the overlap rescaled channel by channel off site; the SOC is H(0)'s
plus, if ``soc_correction``, the SOC head's learned correction. The absolute energy zero of a DFT H0
is arbitrary (GPAW sets the average electrostatic potential to zero), so the model is
trained modulo ``H0 → H0 + c S`` per structure (:mod:`socscreen.model.loss`) and its
predictions live in their own consistent gauge; bands are compared relative to E_F.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from e3nn import nn as enn
from e3nn import o3
from pydantic import BaseModel, Field
from torch import nn

from socscreen.model.basis import to_e3nn_frame
from socscreen.model.blocks import (
    InteractionBlock,
    OnsiteReadout,
    OverlapGate,
    PairReadout,
    RadialEmbedding,
    scalar_slice,
)
from socscreen.model.data import GraphBatch
from socscreen.model.layout import OrbitalLayout
from socscreen.model.soc import SpinOrbitHead

__all__ = ["ModelConfig", "HamiltonianNetwork", "UniHamGNN", "symmetrize_blocks"]


class ModelConfig(BaseModel):
    """Architecture of a Uni-HamGNN model (stored in checkpoints)."""

    hidden_irreps: str = Field(
        "24x0e+4x0o+12x1o+4x1e+8x2e+4x2o+4x3o+2x3e",
        description="Node feature irreps of every interaction layer.",
    )
    pair_irreps: str = Field(
        "16x0e+8x1o+4x1e+4x2e+4x2o+2x3o", description="Pair features coupled to Y(d) in readouts."
    )
    soc_pair_irreps: str = Field(
        "8x0e+4x1o+2x1e+2x2e+2x2o", description="Pair features of the SOC off-site readout."
    )
    sh_lmax: int = Field(4, description="Largest l of the edge spherical harmonics.")
    n_interactions: int = Field(2, description="Number of message-passing layers.")
    n_radial: int = Field(8, description="Bessel functions of r / r_cut in message passing.")
    n_radial_pair: int = Field(12, description="Bessel functions of r / (r_i + r_j) in readouts.")
    envelope_p: int = Field(6, description="Exponent of the polynomial cutoff envelope.")
    message_cutoff: float = Field(
        6.0, description="Cap on the message-passing radius (Angstrom); blocks use r_i + r_j."
    )
    species_embedding: int = Field(16, description="Width of the species embedding.")
    mlp_hidden: int = Field(32, description="Hidden width of the radial MLPs.")
    soc_offsite: bool = Field(True, description="Predict off-site SOC blocks (else on-site only).")
    correction: bool = Field(
        False,
        description="Learn the correction to the zeroth-step H(0) (its blocks are inputs and "
        "the baseline of the output) instead of all of H0.",
    )
    soc_correction: bool = Field(
        False,
        description="Correction models: add the SOC head's learned correction to H(0)'s SOC "
        "(False: H(0)'s one-centre SOC alone, which equals the SCF one to 1e-6-1e-2).",
    )
    baseline: Literal["h0", "scc"] = Field(
        "h0",
        description="Correction models: what the correction is added to, GPAW's zeroth-step "
        "H(0) ('h0') or H(0) with self-consistent charges ('scc', "
        "socscreen.dft.charge_correction).",
    )
    shell_shifts: bool = Field(
        False,
        description="Correction models: add a fitted on-site energy shift per element and "
        "shell, ½(δ_μ + δ_ν) S_μν, to the baseline before the network's ΔH "
        "(socscreen.model.shell_shifts; fitted in closed form on training bands).",
    )
    environment_shifts: bool = Field(
        False,
        description="Correction models with shell_shifts: add to each atom's δ a learned "
        "function of its environment (its invariant node features -> one energy per shell "
        "slot, in units of the on-site ΔH scale), in the same ½(δ_μ + δ_ν) S_μν form, "
        "trained on the bands.",
    )
    onsite_operators: bool = Field(
        False,
        description="Correction models with environment_shifts and without network_delta: "
        "each atom's on-site correction is a full equivariant operator Δ_i (its shell shifts "
        "plus the network's on-site readout: crystal-field splittings of p and d shells, "
        "couplings between shells), applied to every block as ½ (Δ_i S_ij + S_ij Δ_j); "
        "shell shifts are the case Δ_i diagonal.",
    )
    network_delta: bool = Field(
        True,
        description="Correction models: add the network's free ΔH readout. False: the "
        "learned correction is the (environment-dependent) shell shifts alone. A free ΔH "
        "is not proportional to S, so S(k)'s nearly singular directions in diffuse "
        "bcc/fcc metals amplify its errors (W: 72 -> 321 meV).",
    )


def symmetrize_blocks(
    blocks: torch.Tensor, partner: torch.Tensor, sign: float = 1.0
) -> torch.Tensor:
    """``(B_e + sign · B_partner(e)ᵀ) / 2`` over the last two axes (``[E, ..., P, P]``)."""
    return 0.5 * (blocks + sign * blocks[partner].transpose(-1, -2))


def _pad_mask(
    layout_masks: torch.Tensor, species: torch.Tensor, edge_index: torch.Tensor
) -> torch.Tensor:
    """``[E, P, P]`` mask of real orbital pairs of every edge."""
    m = layout_masks[species]  # [N, P]
    return m[edge_index[0]][:, :, None] & m[edge_index[1]][:, None, :]


class HamiltonianNetwork(nn.Module):
    """Channel 1: species embedding, interactions, on-site and pair readouts of H0.

    Parameters
    ----------
    layout
        Padded orbital layout (elements, shell slots).
    config
        Architecture.
    avg_num_neighbors
        Normaliser of neighbour sums (mean message edges per atom in the training set).
    """

    def __init__(
        self, layout: OrbitalLayout, config: ModelConfig, avg_num_neighbors: float
    ) -> None:
        super().__init__()
        self.config = config
        n_el = len(layout.elements)
        block_irreps = layout.block_irreps
        self.sh_irreps = o3.Irreps.spherical_harmonics(config.sh_lmax)
        hidden = o3.Irreps(config.hidden_irreps)
        degrees = [ir.l for _, ir in hidden]
        if hidden != hidden.simplify() or degrees != sorted(degrees):
            raise ValueError(f"hidden_irreps must be simplified and ordered by l, got {hidden}")
        self.embedding = nn.Embedding(n_el, config.species_embedding)
        self.radial = RadialEmbedding(config.n_radial, config.envelope_p)
        self.radial_pair = RadialEmbedding(config.n_radial_pair, config.envelope_p)
        n_edge_scalars = config.n_radial + 2 * config.species_embedding
        layers = []
        node_irreps = o3.Irreps(f"{config.species_embedding}x0e")
        for _ in range(config.n_interactions):
            layers.append(
                InteractionBlock(
                    node_irreps,
                    self.sh_irreps,
                    hidden,
                    n_edge_scalars,
                    config.mlp_hidden,
                    avg_num_neighbors,
                )
            )
            node_irreps = hidden
        self.interactions = nn.ModuleList(layers)
        self.node_irreps = hidden
        self.scalars = scalar_slice(hidden)
        n_scalars = self.scalars.stop - self.scalars.start
        self.onsite = OnsiteReadout(
            hidden,
            self.sh_irreps,
            block_irreps,
            n_edge_scalars,
            config.mlp_hidden,
            avg_num_neighbors,
        )
        self.pair = PairReadout(
            hidden,
            o3.Irreps(config.pair_irreps),
            self.sh_irreps,
            block_irreps,
            config.n_radial_pair + 2 * n_scalars,
            config.mlp_hidden,
        )
        self.overlap_gate = OverlapGate(
            block_irreps, config.n_radial_pair + 2 * n_scalars, config.mlp_hidden
        )
        self.register_buffer(
            "block_basis",
            layout.block_basis.reshape(block_irreps.dim, -1).to(torch.get_default_dtype()),
        )
        if config.correction:
            identity = layout.identity_basis()
            self.register_buffer(
                "invariant_projector",
                (identity / identity.pow(2).sum(dim=(1, 2))[:, None, None])
                .reshape(len(identity), -1)
                .to(torch.get_default_dtype()),
            )
            self.baseline_embedding = nn.Linear(len(identity), config.species_embedding)
            # the on-site readout starts at zero (the prediction at H(0)): its last linear map
            # learns from the features at once (a ReZero gain on a random readout stayed
            # stuck near zero: its gradient averages out over structures)
            with torch.no_grad():
                self.onsite.linear.weight.zero_()

    def baseline_invariants(
        self, batch: GraphBatch, normalization: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """H(0)'s on-site invariants per atom (shell energies, same-l couplings), normalised.

        ``normalization`` holds ``baseline_onsite_mean`` ``[n_el, n_pairs]`` (eV) and
        ``baseline_onsite_scale`` (eV). Returns ``[N, n_pairs]``.
        """
        self_edges = torch.nonzero(batch.is_self, as_tuple=True)[0]
        blocks = batch.baseline_h0[self_edges].reshape(len(self_edges), -1)  # [N, P*P]
        onsite = torch.zeros_like(blocks).index_put((batch.edge_index[0, self_edges],), blocks)
        invariants = onsite @ self.invariant_projector.T
        mean = normalization["baseline_onsite_mean"][batch.species]
        return (invariants - mean) / normalization["baseline_onsite_scale"]

    def geometry(self, batch: GraphBatch) -> dict[str, torch.Tensor]:
        """Edge geometry shared by both channels (message and pair edges)."""
        c = self.config
        dist = batch.vectors.norm(dim=1)  # [E]
        pair = ~batch.is_self
        message = pair & (dist < torch.clamp(batch.cutoffs, max=c.message_cutoff))
        sh = o3.spherical_harmonics(
            self.sh_irreps,
            to_e3nn_frame(batch.vectors[pair]),
            normalize=True,
            normalization="component",
        )  # [E_pair, sh]
        u_pair = dist[pair] / batch.cutoffs[pair]
        rbf_pair, env_pair = self.radial_pair(u_pair)
        m_cut = torch.clamp(batch.cutoffs, max=c.message_cutoff)[message]
        rbf_msg, _ = self.radial(dist[message] / m_cut)
        sh_msg = o3.spherical_harmonics(
            self.sh_irreps,
            to_e3nn_frame(batch.vectors[message]),
            normalize=True,
            normalization="component",
        )
        s_pair = batch.overlap[pair].reshape(int(pair.sum()), -1)  # [E_pair, P*P]
        return {
            "pair": pair,
            "message": message,
            "sh_pair": sh,
            "rbf_pair": rbf_pair,
            "env_pair": env_pair,
            "sh_msg": sh_msg,
            "rbf_msg": rbf_msg,
            "overlap_irreps": s_pair @ self.block_basis.T,  # [E_pair, dim]
        }

    def pair_scalars(
        self, scalars: torch.Tensor, edge_index: torch.Tensor, rbf: torch.Tensor
    ) -> torch.Tensor:
        """Invariant pair input, symmetric in (i, j): ``[rbf, s_i s_j, s_i + s_j]``."""
        s_i, s_j = scalars[edge_index[0]], scalars[edge_index[1]]
        return torch.cat([rbf, s_i * s_j, s_i + s_j], dim=1)

    def forward(
        self, batch: GraphBatch, normalization: dict[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """Node features, geometry and raw (unsymmetrised, unscaled) padded H0 blocks.

        A correction model needs ``batch.baseline_h0`` and the baseline ``normalization``.
        """
        geo = self.geometry(batch)
        emb = self.embedding(batch.species)  # [N, n_emb]
        if self.config.correction:
            if batch.baseline_h0 is None:
                raise ValueError("a correction model needs the structure's H(0) (baseline_h0)")
            emb = emb + self.baseline_embedding(self.baseline_invariants(batch, normalization))
        msg_index = batch.edge_index[:, geo["message"]]
        msg_scalars = torch.cat([geo["rbf_msg"], emb[msg_index[0]], emb[msg_index[1]]], dim=1)
        h = emb
        for layer in self.interactions:
            h = layer(h, geo["sh_msg"], msg_scalars, msg_index)  # [N, hidden]
        onsite = self.onsite(h, geo["sh_msg"], msg_scalars, msg_index)  # [N, block]
        pair_index = batch.edge_index[:, geo["pair"]]
        pair_in = self.pair_scalars(h[:, self.scalars], pair_index, geo["rbf_pair"])
        pair = self.overlap_gate(geo["overlap_irreps"], pair_in)
        if self.config.correction:
            # ΔH on site: a free equivariant readout grown from zero; off site: S rescaled
            # channel by channel, ΔH_ij ≈ w(env) S_ij (the charge-transfer shift form)
            onsite = onsite * normalization["onsite_relative_scale"]
        else:
            pair = pair + self.pair(h, geo["sh_pair"], pair_in, geo["env_pair"], pair_index)
        irreps = torch.zeros(
            batch.vectors.shape[0], pair.shape[1], dtype=pair.dtype, device=pair.device
        )
        irreps = irreps.index_put((torch.nonzero(geo["pair"], as_tuple=True)[0],), pair)
        self_edges = torch.nonzero(batch.is_self, as_tuple=True)[0]
        irreps = irreps.index_put((self_edges,), onsite[batch.edge_index[0, self_edges]])
        n_pad = int(self.block_basis.shape[1] ** 0.5)
        blocks = (irreps @ self.block_basis).reshape(-1, n_pad, n_pad)
        return {"node_feats": h, "geometry": geo, "blocks": blocks}


class UniHamGNN(nn.Module):
    """The full model: layout, cutoffs, normalisation, channel 1 and channel 2.

    Parameters
    ----------
    element_shells
        Shells per covered element (GPAW order).
    basis_name
        Basis of the orbitals (GPAW subset syntax), also used for the exact overlap.
    cutoffs
        Orbital cutoff radius per element (Å).
    config
        Architecture.
    normalization
        ``onsite_reference`` ([n_el, n_shell_pairs] eV, the invariant on-site block of
        every same-l shell pair), ``h0_scale`` (eV),
        ``soc_scale`` (eV), ``xi_reference`` ([n_el, n_xi] eV) and
        ``avg_num_neighbors``; defaults (zeros, 1) when ``None``.
    """

    def __init__(
        self,
        element_shells: dict[str, tuple[int, ...]],
        cutoffs: dict[str, float],
        config: ModelConfig | None = None,
        normalization: dict[str, Any] | None = None,
        basis_name: str = "szp(dzp)",
    ) -> None:
        super().__init__()
        self.basis_name = basis_name
        self.layout = OrbitalLayout({k: tuple(v) for k, v in element_shells.items()})
        missing = sorted(set(self.layout.elements) - set(cutoffs))
        if missing:
            raise ValueError(f"no cutoff radius for element(s) {missing}")
        self.cutoffs = {k: float(cutoffs[k]) for k in self.layout.elements}
        self.config = config or ModelConfig()
        norm = normalization or {}
        n_el, n_xi = len(self.layout.elements), len(self.layout.same_l_pairs)
        self.register_buffer(
            "onsite_reference",
            torch.as_tensor(
                norm.get("onsite_reference", torch.zeros(n_el, len(self.layout.shell_pairs))),
                dtype=torch.get_default_dtype(),
            ),
        )
        self.register_buffer(
            "identity_basis", self.layout.identity_basis().to(torch.get_default_dtype())
        )
        self.register_buffer("h0_scale", torch.tensor(float(norm.get("h0_scale", 1.0))))
        if self.config.correction:  # normalisation of the H(0) inputs
            n_pairs = len(self.layout.shell_pairs)
            self.register_buffer(
                "baseline_onsite_mean",
                torch.as_tensor(
                    norm.get("baseline_onsite_mean", torch.zeros(n_el, n_pairs)),
                    dtype=torch.get_default_dtype(),
                ),
            )
            for key in ("baseline_onsite_scale", "onsite_delta_scale"):
                self.register_buffer(key, torch.tensor(float(norm.get(key, 1.0))))
        if self.config.shell_shifts:
            if not self.config.correction:
                raise ValueError("shell_shifts needs a correction model (correction: true)")
            # δ per element and shell slot (eV), fitted by socscreen.model.shell_shifts
            n_slots = self.layout.n_slots
            self.shell_shift = nn.Parameter(
                torch.zeros(n_el, n_slots, dtype=torch.get_default_dtype()), requires_grad=False
            )
            self.register_buffer(
                "pad_slot",
                torch.repeat_interleave(
                    torch.arange(n_slots),
                    torch.as_tensor([2 * ell + 1 for ell in self.layout.slot_l]),
                ),
                persistent=False,
            )
        self.register_buffer("orbital_masks", self.layout.mask_table())
        self.avg_num_neighbors = float(norm.get("avg_num_neighbors", 1.0))
        self.h0 = HamiltonianNetwork(self.layout, self.config, self.avg_num_neighbors)
        if self.config.onsite_operators and (
            not self.config.environment_shifts or self.config.network_delta
        ):
            raise ValueError("onsite_operators needs environment_shifts and no network_delta")
        if self.config.environment_shifts:
            if not self.config.shell_shifts:
                raise ValueError("environment_shifts needs shell_shifts")
            n_scalars = self.h0.scalars.stop - self.h0.scalars.start
            self.environment_shift = enn.FullyConnectedNet(
                [n_scalars, self.config.mlp_hidden, self.layout.n_slots], nn.functional.silu
            )
            with torch.no_grad():  # start at the fitted per-element shifts
                self.environment_shift[-1].weight.zero_()
        self.soc = SpinOrbitHead(
            self.layout,
            self.config,
            self.h0.node_irreps,
            self.h0.sh_irreps,
            xi_reference=torch.as_tensor(norm.get("xi_reference", torch.zeros(n_el, n_xi))),
            soc_scale=float(norm.get("soc_scale", 1.0)),
        )

    @property
    def elements(self) -> list[str]:
        """Covered element symbols, sorted."""
        return self.layout.elements

    def normalization(self) -> dict[str, Any]:
        """Return the normalisation record (JSON-ready) for checkpoints."""
        return {
            "onsite_reference": self.onsite_reference.tolist(),
            "h0_scale": float(self.h0_scale),
            "soc_scale": float(self.soc.soc_scale),
            "xi_reference": self.soc.xi_reference.tolist(),
            "avg_num_neighbors": self.avg_num_neighbors,
            **{
                k: v.tolist()
                for k, v in self.baseline_normalization().items()
                if k != "onsite_relative_scale"
            },
        }

    def forward(self, batch: GraphBatch, soc: bool = True) -> dict[str, torch.Tensor]:
        """Predict the padded blocks of every edge.

        Returns
        -------
        dict
            ``h0`` ``[E, P, P]`` (eV), ``soc`` ``[E, 3, P, P]`` (eV, ``A_α``; absent if
            ``soc`` is False), ``mask`` ``[E, P, P]`` (real orbital pairs) and
            ``node_feats``. A correction model's ``h0`` and ``soc`` include H(0).
        """
        correction = self.config.correction
        out = self.h0(batch, self.baseline_normalization() if correction else None)
        mask = _pad_mask(self.orbital_masks, batch.species, batch.edge_index)
        h0 = symmetrize_blocks(out["blocks"], batch.partner) * self.h0_scale
        if correction:
            delta = h0 if self.config.network_delta else 0.0
            shifts = self._shifts(batch, out["node_feats"], h0 * mask)
            h0 = (batch.baseline_h0 + shifts + delta) * mask
        else:
            reference = torch.einsum(
                "ek,kpq->epq",
                self.onsite_reference[batch.species[batch.edge_index[0]]],
                self.identity_basis,
            )  # [E, P, P]
            h0 = torch.where(batch.is_self[:, None, None], h0 + reference.to(h0.dtype), h0) * mask
        result = {"h0": h0, "mask": mask, "node_feats": out["node_feats"]}
        if soc:
            a = 0.0
            if not correction or self.config.soc_correction:
                a = self.soc(batch, out["node_feats"].detach(), out["geometry"])
            if correction:
                a = a + batch.baseline_soc
            result["soc"] = a * mask[:, None]
        return result

    def _shifts(
        self, batch: GraphBatch, node_feats: torch.Tensor, network_blocks: torch.Tensor
    ) -> torch.Tensor | float:
        """``½ (Δ_i S_ij + S_ij Δ_j)`` of every edge (eV), or 0 without shell shifts.

        Δ_i is diagonal, δ per shell: the element's fitted shift plus, with
        ``environment_shifts``, a function of the atom's invariant features. With
        ``onsite_operators`` Δ_i also holds the network's on-site block of atom ``i``
        (``network_blocks`` on its self edge, equivariant and symmetric). Δ_i transforms
        like an on-site block and S_ij like a pair block, so the form is equivariant;
        the (j, i) edge holds the transpose, so it is Hermitian.
        """
        if not self.config.shell_shifts:
            return 0.0
        delta = self.shell_shift[batch.species]  # [N, n_slots]
        if self.config.environment_shifts:
            scalars = node_feats[:, self.h0.scalars]
            delta = delta + self.onsite_delta_scale * self.environment_shift(scalars)
        delta = delta[:, self.pad_slot]  # [N, P]
        i, j = batch.edge_index
        if not self.config.onsite_operators:
            return 0.5 * (delta[i][:, :, None] + delta[j][:, None, :]) * batch.overlap
        self_edges = torch.nonzero(batch.is_self, as_tuple=True)[0]
        operator = torch.diag_embed(delta).index_add(
            0, batch.edge_index[0, self_edges], network_blocks[self_edges]
        )  # [N, P, P]
        return 0.5 * (operator[i] @ batch.overlap + batch.overlap @ operator[j])

    def baseline_normalization(self) -> dict[str, torch.Tensor]:
        """Return the H(0) input normalisation of a correction model (its buffers; else {})."""
        if not self.config.correction:
            return {}
        return {
            "baseline_onsite_mean": self.baseline_onsite_mean,
            "baseline_onsite_scale": self.baseline_onsite_scale,
            "onsite_delta_scale": self.onsite_delta_scale,
            # on-site corrections are this many times the typical ΔH element (h0_scale)
            "onsite_relative_scale": self.onsite_delta_scale / self.h0_scale,
        }

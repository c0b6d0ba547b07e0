"""Universal shell-slot template: one padded orbital layout shared by every element.

Each element's shells (GPAW order, e.g. Ag ``(0, 1, 1, 2, 1)``) fill the slots of the
template in order per angular momentum: the k-th shell of angular momentum l goes to the
k-th slot of that l. The template has, per l, as many slots as the most any covered
element needs (e.g. ``s s p p p d d``), so a network predicts one padded block per atom
pair and a per-element mask picks the real orbitals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
from e3nn import o3

from socscreen.model.basis import antisymmetric_l
from socscreen.model.irreps_tools import block_change_of_basis, block_irreps

__all__ = ["OrbitalLayout"]


@dataclass(frozen=True)
class OrbitalLayout:
    """Padded orbital layout of a model.

    Parameters
    ----------
    element_shells
        Shell angular momenta per covered element symbol, GPAW order.
    """

    element_shells: dict[str, tuple[int, ...]]
    slot_l: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.element_shells:
            raise ValueError("an orbital layout needs at least one element")
        most: Counter[int] = Counter()
        for shells in self.element_shells.values():
            for ell, count in Counter(shells).items():
                most[ell] = max(most[ell], count)
        slots = tuple(ell for ell in sorted(most) for _ in range(most[ell]))
        object.__setattr__(self, "slot_l", slots)

    # -- sizes ----------------------------------------------------------------------
    @property
    def elements(self) -> list[str]:
        """Covered element symbols, sorted."""
        return sorted(self.element_shells)

    @property
    def n_slots(self) -> int:
        """Number of shell slots."""
        return len(self.slot_l)

    @cached_property
    def slot_offsets(self) -> np.ndarray:
        """First padded orbital of every slot, shape ``[n_slots + 1]``."""
        return np.concatenate([[0], np.cumsum([2 * ell + 1 for ell in self.slot_l])])

    @property
    def n_pad(self) -> int:
        """Number of padded orbitals per atom."""
        return int(self.slot_offsets[-1])

    # -- per element --------------------------------------------------------------------
    def _check(self, symbol: str) -> tuple[int, ...]:
        if symbol not in self.element_shells:
            raise ValueError(f"element {symbol} is not covered by this model")
        return self.element_shells[symbol]

    def element_slots(self, symbol: str) -> tuple[int, ...]:
        """Slot of each shell of an element, in the element's shell order."""
        seen: Counter[int] = Counter()
        out = []
        for ell in self._check(symbol):
            first = self.slot_l.index(ell)
            out.append(first + seen[ell])
            seen[ell] += 1
        return tuple(out)

    def orbital_index(self, symbol: str) -> np.ndarray:
        """Return the padded index of each orbital of an element, in storage order."""
        shells = self._check(symbol)
        return np.concatenate(
            [
                self.slot_offsets[slot] + np.arange(2 * ell + 1)
                for slot, ell in zip(self.element_slots(symbol), shells, strict=True)
            ]
        )

    def orbital_mask(self, symbol: str) -> np.ndarray:
        """Boolean mask of an element's padded orbitals, shape ``[n_pad]``."""
        mask = np.zeros(self.n_pad, dtype=bool)
        mask[self.orbital_index(symbol)] = True
        return mask

    def mask_table(self) -> torch.Tensor:
        """Orbital masks of all elements (rows in :attr:`elements` order), ``[n_el, n_pad]``."""
        return torch.as_tensor(np.stack([self.orbital_mask(s) for s in self.elements]))

    # -- blocks <-> irreps --------------------------------------------------------------
    @cached_property
    def _pair_basis(self) -> tuple[o3.Irreps, torch.Tensor]:
        # Group the irreps of all slot pairs by type so that one e3nn Linear can write
        # them; remember where each (pair, L) lands.
        pieces = []  # (irrep, slot a, slot b, row offset inside the pair's T)
        for a, la in enumerate(self.slot_l):
            for b, lb in enumerate(self.slot_l):
                row = 0
                for _, ir in block_irreps(la, lb):
                    pieces.append((ir, a, b, row))
                    row += ir.dim
        pieces.sort(key=lambda piece: (piece[0].l, -piece[0].p))
        irreps = o3.Irreps([(1, p[0]) for p in pieces]).simplify()
        basis = torch.zeros(irreps.dim, self.n_pad, self.n_pad, dtype=torch.float64)
        offs = self.slot_offsets
        k = 0
        for ir, a, b, row in pieces:
            t = block_change_of_basis(self.slot_l[a], self.slot_l[b])[row : row + ir.dim]
            basis[k : k + ir.dim, offs[a] : offs[a + 1], offs[b] : offs[b + 1]] = t
            k += ir.dim
        return irreps, basis

    @property
    def block_irreps(self) -> o3.Irreps:
        """Irreps of one padded ``n_pad × n_pad`` block (all slot pairs)."""
        return self._pair_basis[0]

    @property
    def block_basis(self) -> torch.Tensor:
        """Orthogonal map irreps → padded block, ``[dim(block_irreps), n_pad, n_pad]``."""
        return self._pair_basis[1]

    # -- invariant on-site references ---------------------------------------------------
    @cached_property
    def shell_pairs(self) -> list[tuple[int, int]]:
        """Slot pairs ``a <= b`` of equal l (any l): the rotation-invariant on-site terms."""
        return [
            (a, b)
            for a, la in enumerate(self.slot_l)
            for b, lb in enumerate(self.slot_l)
            if a <= b and la == lb
        ]

    def identity_basis(self) -> torch.Tensor:
        """``[n_pairs, n_pad, n_pad]``: pair (a, b) -> identity in blocks (a, b) and (b, a).

        ``Σ_k ε_k basis[k]`` is the most general rotation-invariant on-site block (the
        L = 0 part of every same-l shell pair).
        """
        out = torch.zeros(len(self.shell_pairs), self.n_pad, self.n_pad, dtype=torch.float64)
        offs = self.slot_offsets
        for k, (a, b) in enumerate(self.shell_pairs):
            eye = torch.eye(int(offs[a + 1] - offs[a]), dtype=torch.float64)
            out[k, offs[a] : offs[a + 1], offs[b] : offs[b + 1]] = eye
            out[k, offs[b] : offs[b + 1], offs[a] : offs[a + 1]] = eye
        return out

    # -- spin-orbit --------------------------------------------------------------------
    @cached_property
    def same_l_pairs(self) -> list[tuple[int, int]]:
        """Slot pairs ``a <= b`` of equal ``l > 0`` (the on-site SOC strengths ξ_ab)."""
        return [
            (a, b)
            for a, la in enumerate(self.slot_l)
            for b, lb in enumerate(self.slot_l)
            if a <= b and la == lb and la > 0
        ]

    def l_matrices(self) -> torch.Tensor:
        """Return padded ``A'_α`` (``L_α = i A'_α``), block diagonal over slots, ``[3, P, P]``."""
        out = torch.zeros(3, self.n_pad, self.n_pad, dtype=torch.float64)
        offs = self.slot_offsets
        for a, ell in enumerate(self.slot_l):
            out[:, offs[a] : offs[a + 1], offs[a] : offs[a + 1]] = torch.as_tensor(
                antisymmetric_l(ell)
            )
        return out

    def xi_basis(self) -> torch.Tensor:
        """Map from on-site strengths ξ to padded ``A_α = Σ ξ_ab A'_α`` blocks.

        Returns
        -------
        torch.Tensor
            Shape ``[n_xi, 3, n_pad, n_pad]``; pair ``(a, b)`` fills both ``(a, b)`` and
            ``(b, a)`` with ``A'^l_α`` so that ``A_α`` stays antisymmetric.
        """
        out = torch.zeros(len(self.same_l_pairs), 3, self.n_pad, self.n_pad, dtype=torch.float64)
        offs = self.slot_offsets
        for k, (a, b) in enumerate(self.same_l_pairs):
            ref = torch.as_tensor(antisymmetric_l(self.slot_l[a]))
            out[k, :, offs[a] : offs[a + 1], offs[b] : offs[b + 1]] = ref
            out[k, :, offs[b] : offs[b + 1], offs[a] : offs[a + 1]] = ref
        return out

    def xi_is_diagonal(self) -> torch.Tensor:
        """Whether each ξ pair is a shell with itself (``a == b``), ``[n_xi]`` bool."""
        return torch.tensor([a == b for a, b in self.same_l_pairs])

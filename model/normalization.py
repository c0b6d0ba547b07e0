"""Per-element references and scales measured on the training set.

* ``shell_energy[el, slot]``: mean on-site diagonal (m-averaged, so rotation invariant)
  of every shell, eV — the network learns the environment-dependent rest.
* ``h0_scale``: RMS of the non-zero H0 elements after removing that reference, eV.
* ``xi_reference[el, pair]``: least-squares on-site SOC strength ``ξ_ab`` of every
  same-l shell pair (``A_α[a, b] ≈ ξ_ab A'^l_α``), averaged over atoms, eV.
* ``soc_scale``: RMS of the non-zero off-site SOC elements, eV.
* ``avg_num_neighbors``: mean number of message edges per atom.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from socscreen.model.basis import antisymmetric_l
from socscreen.model.data import CrystalData
from socscreen.model.layout import OrbitalLayout

__all__ = ["compute_normalization"]


def compute_normalization(
    samples: Sequence[CrystalData], layout: OrbitalLayout, message_cutoff: float
) -> dict[str, Any]:
    """Normalisation record of a training set (see module docstring)."""
    n_el = len(layout.elements)
    offs = layout.slot_offsets
    slot_of = np.repeat(np.arange(layout.n_slots), np.diff(offs))  # [n_pad]
    energy_sum = np.zeros((n_el, layout.n_slots))
    xi_sum = np.zeros((n_el, len(layout.same_l_pairs)))
    counts = np.zeros(n_el)
    n_messages = n_atoms = 0
    for s in samples:
        home = int(np.flatnonzero(~s.R.any(axis=1))[0])
        diag = np.diag(s.h0[home]).astype(float)
        for atom, el in enumerate(s.species):
            orb = s.orbital_slots[atom]
            present = orb >= 0
            sums = np.bincount(slot_of[present], diag[orb[present]], minlength=layout.n_slots)
            sizes = np.bincount(slot_of[present], minlength=layout.n_slots)
            energy_sum[el] += sums / np.maximum(sizes, 1)
            for k, (a, b) in enumerate(layout.same_l_pairs):
                ra, rb = orb[offs[a] : offs[a + 1]], orb[offs[b] : offs[b + 1]]
                if np.all(ra >= 0) and np.all(rb >= 0):
                    block = s.soc[:, home][:, ra][:, :, rb]  # [3, 2l+1, 2l+1]
                    ref = antisymmetric_l(layout.slot_l[a])
                    xi_sum[el, k] += np.sum(block * ref) / np.sum(ref * ref)
            counts[el] += 1
        dist = np.linalg.norm(s.graph.vectors, axis=1)
        pair = ~s.graph.is_self
        n_messages += int(np.sum(pair & (dist < np.minimum(s.graph.cutoffs, message_cutoff))))
        n_atoms += s.n_atoms
    counts = np.maximum(counts, 1)
    shell_energy = energy_sum / counts[:, None]
    residual_sq = soc_sq = 0.0
    residual_n = soc_n = 0
    for s in samples:
        home = int(np.flatnonzero(~s.R.any(axis=1))[0])
        h0 = s.h0.astype(float)
        h0[home] -= np.diag(_reference_diagonal(s, shell_energy, slot_of))
        nonzero = h0[np.abs(h0) > 1e-4]
        residual_sq += float(np.sum(nonzero**2))
        residual_n += nonzero.size
        offsite = s.soc.astype(float)
        offsite[:, home] = 0.0
        nz = offsite[np.abs(offsite) > 1e-5]
        soc_sq += float(np.sum(nz**2))
        soc_n += nz.size
    return {
        "shell_energy": shell_energy.tolist(),
        "h0_scale": float(np.sqrt(residual_sq / max(residual_n, 1))),
        "xi_reference": (xi_sum / counts[:, None]).tolist(),
        "soc_scale": float(np.sqrt(soc_sq / max(soc_n, 1))) if soc_n else 0.01,
        "avg_num_neighbors": n_messages / max(n_atoms, 1),
    }


def _reference_diagonal(sample: CrystalData, shell_energy: np.ndarray, slot_of: np.ndarray) -> np.ndarray:
    """Reference on-site energy of every real orbital of a structure, ``[n]`` (eV)."""
    n = int((sample.orbital_slots >= 0).sum())
    out = np.zeros(n)
    for atom, el in enumerate(sample.species):
        orb = sample.orbital_slots[atom]
        present = orb >= 0
        out[orb[present]] = shell_energy[el, slot_of[present]]
    return out

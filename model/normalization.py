"""Per-element references and scales measured on the training set.

* ``onsite_reference[el, pair]``: the rotation-invariant (L = 0, m-averaged) on-site
  element of every same-l shell pair (shell energies on the diagonal pairs, couplings of
  two radial functions of one l otherwise), eV, fitted together with one energy zero per
  structure — the network learns the environment-dependent rest.
* ``h0_scale``: RMS of the non-zero H0 elements after removing that reference, eV.
* ``xi_reference[el, pair]``: least-squares on-site SOC strength ``ξ_ab`` of every
  same-l shell pair (``A_α[a, b] ≈ ξ_ab A'^l_α``), averaged over atoms, eV.
* ``soc_scale``: RMS of the non-zero off-site SOC elements, eV.
* ``avg_num_neighbors``: mean number of message edges per atom.

A correction model (samples carrying their H(0)) learns ``H − H(0)`` instead: ``h0_scale``
is then the RMS of that difference (after one energy zero ``c S`` per structure),
``onsite_delta_scale`` the RMS over the on-site blocks alone (charge-transfer shifts make
them several times larger than the rest),
``soc_scale`` the RMS of the SOC difference, ``xi_reference`` zero, and the H(0) inputs
are normalised by ``baseline_onsite_mean[el, pair]`` (mean on-site invariants) and
``baseline_onsite_scale`` (RMS of their deviations).
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
    """Normalisation record of a training set (see module docstring).

    The on-site references are fitted jointly with one energy zero ``c`` per structure
    (alternating least squares on ``h_k ≈ ε_k + c s_k``, with ``h_k``, ``s_k`` the
    m-averaged H0 and S elements of shell pair k), since every DFT H0 carries its own
    arbitrary zero.
    """
    n_el = len(layout.elements)
    offs = layout.slot_offsets
    xi_sum = np.zeros((n_el, len(layout.same_l_pairs)))
    counts = np.zeros(n_el)
    atoms = []  # (sample, element, pair indices, h_k, s_k)
    n_messages = n_atoms = 0
    for index, s in enumerate(samples):
        home = int(np.flatnonzero(~s.R.any(axis=1))[0])
        for atom, el in enumerate(s.species):
            orb = s.orbital_slots[atom]
            pairs, h_k, s_k = [], [], []
            for k, (a, b) in enumerate(layout.shell_pairs):
                ra, rb = orb[offs[a] : offs[a + 1]], orb[offs[b] : offs[b + 1]]
                if np.all(ra >= 0) and np.all(rb >= 0):
                    pairs.append(k)
                    h_k.append(np.trace(s.h0[home][np.ix_(ra, rb)]) / len(ra))
                    s_k.append(np.trace(s.overlap[home][np.ix_(ra, rb)]) / len(ra))
            atoms.append((index, el, np.array(pairs), np.array(h_k), np.array(s_k)))
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
    reference, zero = _onsite_references(atoms, n_el, len(layout.shell_pairs), len(samples))
    if samples and samples[0].baseline_h0 is not None:
        return {
            "onsite_reference": reference.tolist(),
            "avg_num_neighbors": n_messages / max(n_atoms, 1),
            "xi_reference": np.zeros_like(xi_sum).tolist(),
            **_correction_normalization(samples, layout),
        }
    basis = layout.identity_basis().numpy()
    counts = np.maximum(counts, 1)
    residual_sq = soc_sq = 0.0
    residual_n = soc_n = 0
    for index, s in enumerate(samples):
        home = int(np.flatnonzero(~s.R.any(axis=1))[0])
        h0 = s.h0.astype(float) - zero[index] * s.overlap
        for atom, el in enumerate(s.species):
            orb = s.orbital_slots[atom]
            keep = orb >= 0
            block = np.einsum("k,kpq->pq", reference[el], basis)[np.ix_(keep, keep)]
            h0[home][np.ix_(orb[keep], orb[keep])] -= block
        nonzero = h0[np.abs(h0) > 1e-4]
        residual_sq += float(np.sum(nonzero**2))
        residual_n += nonzero.size
        offsite = s.soc.astype(float)
        offsite[:, home] = 0.0
        nz = offsite[np.abs(offsite) > 1e-5]
        soc_sq += float(np.sum(nz**2))
        soc_n += nz.size
    return {
        "onsite_reference": reference.tolist(),
        "h0_scale": float(np.sqrt(residual_sq / max(residual_n, 1))),
        "xi_reference": (xi_sum / counts[:, None]).tolist(),
        "soc_scale": float(np.sqrt(soc_sq / max(soc_n, 1))) if soc_n else 0.01,
        "avg_num_neighbors": n_messages / max(n_atoms, 1),
    }


def _onsite_references(
    atoms: list, n_el: int, n_pairs: int, n_samples: int, iterations: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Alternating least squares ``h_k ≈ ε[element, k] + c[structure] s_k`` (eV)."""
    zero = np.zeros(n_samples)
    for _ in range(iterations):
        total, count = np.zeros((n_el, n_pairs)), np.zeros((n_el, n_pairs))
        for index, el, pairs, h_k, s_k in atoms:
            np.add.at(total[el], pairs, h_k - zero[index] * s_k)
            np.add.at(count[el], pairs, 1)
        reference = total / np.maximum(count, 1)
        num, den = np.zeros(n_samples), np.zeros(n_samples)
        for index, el, pairs, h_k, s_k in atoms:
            num[index] += np.sum((h_k - reference[el, pairs]) * s_k)
            den[index] += np.sum(s_k * s_k)
        zero = num / np.maximum(den, 1e-12)
    return reference, zero


def _correction_normalization(
    samples: Sequence[CrystalData], layout: OrbitalLayout
) -> dict[str, Any]:
    """Scales of ``H − H(0)`` and the normalisation of the H(0) inputs (module docstring)."""
    identity = layout.identity_basis().numpy()
    norms = np.sum(identity**2, axis=(1, 2))
    n_el = len(layout.elements)
    invariants: list[list[np.ndarray]] = [[] for _ in range(n_el)]
    delta_sq = soc_sq = onsite_sq = 0.0
    delta_n = soc_n = onsite_n = 0
    for s in samples:
        home = int(np.flatnonzero(~s.R.any(axis=1))[0])
        delta = s.h0.astype(float) - s.baseline_h0
        zero = np.sum(delta * s.overlap) / np.sum(s.overlap**2)
        delta = delta - zero * s.overlap
        nonzero = delta[np.abs(s.h0) > 1e-4]
        delta_sq, delta_n = delta_sq + float(np.sum(nonzero**2)), delta_n + nonzero.size
        for atom in range(s.n_atoms):
            orb = s.orbital_slots[atom][s.orbital_slots[atom] >= 0]
            block = delta[home][np.ix_(orb, orb)]
            onsite_sq, onsite_n = onsite_sq + float(np.sum(block**2)), onsite_n + block.size
        dsoc = (s.soc.astype(float) - s.baseline_soc)[np.abs(s.soc) > 1e-5]
        soc_sq, soc_n = soc_sq + float(np.sum(dsoc**2)), soc_n + dsoc.size
        for atom, el in enumerate(s.species):
            orb = s.orbital_slots[atom]
            keep = orb >= 0
            block = np.zeros((layout.n_pad, layout.n_pad))
            block[np.ix_(keep, keep)] = s.baseline_h0[home][np.ix_(orb[keep], orb[keep])]
            invariants[el].append(np.einsum("kpq,pq->k", identity, block) / norms)
    mean = np.array(
        [np.mean(v, axis=0) if v else np.zeros(len(norms)) for v in invariants]
    )  # [n_el, n_pairs]
    deviations = np.concatenate([np.asarray(v) - mean[el] for el, v in enumerate(invariants) if v])
    return {
        "h0_scale": float(np.sqrt(delta_sq / max(delta_n, 1))),
        "onsite_delta_scale": float(np.sqrt(onsite_sq / max(onsite_n, 1))),
        "soc_scale": float(np.sqrt(soc_sq / max(soc_n, 1))) if soc_n else 1e-3,
        "baseline_onsite_mean": mean.tolist(),
        "baseline_onsite_scale": float(np.sqrt(np.mean(deviations**2))) or 1.0,
    }

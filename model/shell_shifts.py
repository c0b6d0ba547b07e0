"""Fitted shell shifts: the first-order part of a correction model's ΔH.

What H(0) with self-consistent charges still gets wrong is, first of all, where each
element's shells sit: the neutral-atom density puts late-transition-metal d shells, anion s
shells and empty polarisation shells a few tenths of an eV to eV away from the
self-consistent answer, by an amount that depends on the element and the shell far more
than on the crystal. A correction model with ``ModelConfig.shell_shifts`` carries one
energy ``δ_s`` per (element, shell) and adds, before its network's ΔH,

    ΔH_μν(R) = ½ (δ_s(μ) + δ_s(ν)) S_μν(R)

(the Mulliken form of an on-site shift in a non-orthogonal basis: Hermitian, a scalar per
shell, so every symmetry of the baseline is kept; SOC blocks are untouched). A uniform
``δ`` moves every band by ``δ`` and changes nothing else.

The shifts are not learned by gradient steps but fitted in closed form on the training
bands: by Hellmann–Feynman, ``∂E_nk / ∂δ_s`` is the Mulliken population of band ``nk`` on
shell ``s``, so the band residuals ``E_DFT − E_pred`` are, to first order, linear in ``δ``. The
bands fitted run from ``band_window`` below the DFT valence-band top to ``band_window``
above its conduction-band bottom (``E_F ± band_window`` in a metal): a window around E_F
alone would leave a wide-gap insulator's conduction bands, and so its gap, unfitted.
Each iteration solves the ridge-regularised least squares
(offset removed per structure, every structure weighted equally)

    min_δ Σ_files (1/n_f) Σ_{nk ∈ window} (r_nk − ⟨r⟩_f − Σ_s P_nk,s (δ_s − δ_s^old))²
          + ridge · |δ − δ_start|²

and re-diagonalises with the new ``δ`` (Gauss–Newton). ``δ_start`` is the model's shifts
when the fit begins: zero for a new model, the trained ones when a model is fine-tuned on a
few validated files, so the shells those files do not populate keep their values.
Energies in eV; k fractional.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from socscreen.eigensolver import generalized_eigh
from socscreen.model.data import CrystalData, collate, scatter_blocks
from socscreen.model.loss import band_edge_window, spinor_bloch
from socscreen.model.network import UniHamGNN

__all__ = ["fit_shell_shifts", "shell_shift_table"]


def _fixed_kpoints(index: int, n_k: int, seed: int) -> np.ndarray:
    """Γ and ``n_k − 1`` seeded random fractional k-points of training structure ``index``."""
    rng = np.random.default_rng([seed, index])
    return np.vstack([np.zeros(3), rng.random((n_k - 1, 3))])


def _parameter_of_orbital(model: UniHamGNN, sample: CrystalData) -> np.ndarray:
    """Flat index ``species · n_slots + slot`` into ``model.shell_shift`` of every orbital."""
    n_slots = model.layout.n_slots
    pad_slot = model.pad_slot.numpy()
    out = np.empty(int((sample.orbital_slots >= 0).sum()), dtype=int)
    atoms, pads = np.nonzero(sample.orbital_slots >= 0)
    out[sample.orbital_slots[atoms, pads]] = sample.species[atoms] * n_slots + pad_slot[pads]
    return out


def _normal_equations(
    model: UniHamGNN,
    sample: CrystalData,
    k: np.ndarray,
    window: float,
    overlap_cutoff: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Centred design rows ``X`` (populations) and residuals ``r`` of one structure.

    Returns ``(X, r, parameter)`` with ``X`` ``[n_rows, n_used]`` over the parameters the
    structure has, or ``None`` if no reference band lies in the window.
    """
    batch = collate([sample]).to("cpu", model.shell_shift.dtype)
    with torch.no_grad():
        out = model(batch)
        h_k = spinor_bloch(
            scatter_blocks(out["h0"], sample).double(),
            scatter_blocks(out["soc"], sample).double(),
            sample.R,
            k,
        ).numpy()
        ref_k = spinor_bloch(
            torch.as_tensor(sample.h0, dtype=torch.float64),
            torch.as_tensor(sample.soc, dtype=torch.float64),
            sample.R,
            k,
        ).numpy()
        s_k = spinor_bloch(torch.as_tensor(sample.overlap, dtype=torch.float64), None, sample.R, k)
    n = s_k.shape[-1] // 2
    s_k = s_k[:, :n, :n].numpy()
    reference = generalized_eigh(ref_k, s_k, False, overlap_cutoff)
    inside = band_edge_window(reference, sample.efermi, window)
    if not inside.any():
        return None
    energies, vectors = generalized_eigh(h_k, s_k, True, overlap_cutoff)
    sc_up, sc_down = s_k @ vectors[:, :n], s_k @ vectors[:, n:]
    population = (vectors[:, :n].conj() * sc_up).real + (vectors[:, n:].conj() * sc_down).real
    parameter = _parameter_of_orbital(model, sample)
    used, column = np.unique(parameter, return_inverse=True)
    onehot = np.zeros((n, len(used)))
    onehot[np.arange(n), column] = 1.0
    x = np.einsum("kob,op->kbp", population, onehot)[inside]  # [rows, n_used]
    r = (reference - energies)[inside]
    weight = 1.0 / np.sqrt(len(r))
    return weight * (x - x.mean(0)), weight * (r - r.mean()), used


def fit_shell_shifts(
    model: UniHamGNN,
    samples: Sequence[CrystalData],
    *,
    ridge: float,
    iterations: int,
    n_kpoints: int,
    window: float,
    overlap_cutoff: float,
    seed: int = 0,
    score: Callable[[], float] | None = None,
    progress: Callable[[int, float, float | None], None] | None = None,
) -> list[float]:
    """Fit ``model.shell_shift`` in place to the DFT bands of ``samples`` (Gauss–Newton).

    Parameters
    ----------
    model
        A correction model with ``config.shell_shifts``; its network's ΔH (fixed) is part
        of the prediction the shifts correct.
    samples
        Training structures with DFT blocks and Fermi level.
    ridge
        Weight of ``|δ − δ_start|²``, ``δ_start`` the shifts the model starts with
        (dimensionless: residuals and populations are per structure).
    iterations
        Gauss–Newton iterations.
    n_kpoints
        Fixed k-points per structure (Γ and seeded random ones).
    window
        Margin of the fitted bands below the valence-band top and above the
        conduction-band bottom (eV).
    overlap_cutoff
        Directions of ``S(k)`` dropped, as in predictions.
    seed
        Seed of the k-points.
    score
        Validation number (lower is better) of the current model; when given, the
        iteration that scores best is kept (the zero shifts compete too).
    progress
        Called with ``(iteration, rms step (eV), score)`` after each iteration.

    Returns
    -------
    list
        The scores, starting with the unshifted model's (empty without ``score``).
    """
    if not model.config.shell_shifts:
        raise ValueError("the model has no shell shifts (ModelConfig.shell_shifts is False)")
    size = model.shell_shift.numel()
    prior = model.shell_shift.detach().double().flatten().numpy().copy()
    scores = [score()] if score else []
    if progress and score:
        progress(0, 0.0, scores[0])
    best = model.shell_shift.detach().clone()
    usable = [
        (i, s)
        for i, s in enumerate(samples)
        if s.h0 is not None and s.complete and s.efermi is not None and np.isfinite(s.efermi)
    ]
    for iteration in range(iterations):
        delta = model.shell_shift.detach().double().flatten().numpy()
        gram, rhs = np.zeros((size, size)), np.zeros(size)
        for index, sample in usable:
            rows = _normal_equations(
                model, sample, _fixed_kpoints(index, n_kpoints, seed), window, overlap_cutoff
            )
            if rows is None:
                continue
            x, r, used = rows
            gram[np.ix_(used, used)] += x.T @ x
            rhs[used] += x.T @ (r + x @ delta[used])
        new = np.linalg.solve(gram + ridge * np.eye(size), rhs + ridge * prior)
        with torch.no_grad():
            model.shell_shift.copy_(torch.as_tensor(new.reshape(model.shell_shift.shape)))
        if score:
            scores.append(score())
            if scores[-1] <= min(scores[:-1]):
                best = model.shell_shift.detach().clone()
        if progress:
            progress(
                iteration + 1,
                float(np.sqrt(np.mean((new - delta) ** 2))),
                scores[-1] if score else None,
            )
    if score:
        with torch.no_grad():
            model.shell_shift.copy_(best)
    return scores


def shell_shift_table(model: UniHamGNN) -> dict[str, float]:
    """``{"Zr:d": δ, "Nb:s2": δ, ...}`` (eV): nonzero shifts by element and shell.

    A shell is named by its letter, with the count appended from an element's second
    shell of that l on (GPAW order, e.g. Nb's semicore ``s`` and valence ``s2``).
    """
    table = {}
    for z, symbol in enumerate(model.layout.elements):
        seen: dict[int, int] = {}
        for slot in model.layout.element_slots(symbol):
            ell = model.layout.slot_l[slot]
            seen[ell] = seen.get(ell, 0) + 1
            value = float(model.shell_shift[z, slot])
            if value:
                suffix = str(seen[ell]) if seen[ell] > 1 else ""
                table[f"{symbol}:{'spdf'[ell]}{suffix}"] = round(value, 4)
    return table

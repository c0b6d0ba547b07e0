"""Shared physics checks for every model variant (nequip's test-mixin idea).

Each helper takes a ``predict(structure) -> (h0 [n_R, n, n], soc [3, n_R, n, n], R)``
callable, so any model variant (SOC on-site only, other irreps, checkpoints) reuses them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pymatgen.core import Lattice, Structure

from socscreen.model.basis import PAULI, orbital_rotation, spin_rotation
from socscreen.orbitals import OrbitalTable

Prediction = tuple[np.ndarray, np.ndarray, np.ndarray]
Predictor = Callable[[Structure], Prediction]


def spinor_soc(soc: np.ndarray) -> np.ndarray:
    """Spin-major spinor blocks ``i Σ_α σ_α ⊗ A_α``, ``[n_R, 2n, 2n]``."""
    return 1j * sum(np.stack([np.kron(PAULI[a], block) for block in soc[a]]) for a in range(3))


def _by_r(pred: Prediction) -> dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]:
    h0, soc, R = pred
    return {tuple(r): (h0[k], soc[:, k]) for k, r in enumerate(np.asarray(R).tolist())}


def _assert_same_r(a: dict, b: dict) -> None:
    assert set(a) == set(b), "rotated/translated structure has different lattice vectors"


def assert_rotation_equivariant(
    predict: Predictor,
    structure: Structure,
    orbitals: OrbitalTable,
    rotation: np.ndarray,
    atol: float = 1e-5,
) -> None:
    """H0(R) -> D H0(R) Dᵀ and spinor SOC(R) -> (U ⊗ D) SOC(R) (U ⊗ D)† under rotation."""
    rotated = Structure(
        Lattice(structure.lattice.matrix @ rotation.T), structure.species, structure.frac_coords
    )
    before, after = _by_r(predict(structure)), _by_r(predict(rotated))
    _assert_same_r(before, after)
    d = orbital_rotation(orbitals, rotation)
    big = np.kron(spin_rotation(rotation), d)
    for r, (h0, soc) in before.items():
        h0_rot, soc_rot = after[r]
        np.testing.assert_allclose(h0_rot, d @ h0 @ d.T, atol=atol, err_msg=f"H0 at R={r}")
        expected = big @ spinor_soc(soc[:, None])[0] @ big.conj().T
        np.testing.assert_allclose(
            spinor_soc(soc_rot[:, None])[0], expected, atol=atol, err_msg=f"SOC at R={r}"
        )


def assert_translation_invariant(
    predict: Predictor, structure: Structure, shift: np.ndarray, atol: float = 1e-5
) -> None:
    """Moving every atom by the same vector (no wrapping) leaves all blocks unchanged."""
    moved = Structure(structure.lattice, structure.species, structure.frac_coords + shift)
    before, after = _by_r(predict(structure)), _by_r(predict(moved))
    _assert_same_r(before, after)
    for r, (h0, soc) in before.items():
        np.testing.assert_allclose(after[r][0], h0, atol=atol)
        np.testing.assert_allclose(after[r][1], soc, atol=atol)


def assert_permutation_equivariant(
    predict: Predictor,
    structure: Structure,
    orbitals: OrbitalTable,
    perm: np.ndarray,
    atol: float = 1e-5,
) -> None:
    """Reordering atoms reorders orbitals of every block the same way."""
    permuted = Structure(
        structure.lattice, [structure.species[p] for p in perm], structure.frac_coords[perm]
    )
    offsets = orbitals.atom_offsets
    orbital_perm = np.concatenate([np.arange(offsets[p], offsets[p + 1]) for p in perm])
    before, after = _by_r(predict(structure)), _by_r(predict(permuted))
    _assert_same_r(before, after)
    ix = np.ix_(orbital_perm, orbital_perm)
    for r, (h0, soc) in before.items():
        np.testing.assert_allclose(after[r][0], h0[ix], atol=atol)
        np.testing.assert_allclose(after[r][1], soc[:, ix[0], ix[1]], atol=atol)


def assert_hermitian_time_reversal(pred: Prediction, atol: float = 1e-12) -> None:
    """H0(−R) = H0(R)ᵀ and the spinor SOC obeys H(−R) = H(R)†; A_α real (TR built in)."""
    blocks = _by_r(pred)
    for r, (h0, soc) in blocks.items():
        h0_m, soc_m = blocks[tuple(-x for x in r)]
        np.testing.assert_allclose(h0_m, h0.T, atol=atol)
        spin, spin_m = spinor_soc(soc[:, None])[0], spinor_soc(soc_m[:, None])[0]
        np.testing.assert_allclose(spin_m, spin.conj().T, atol=atol)
        # time reversal: (iσ_y K) H (iσ_y K)^-1 = H  <=>  σ_y H* σ_y = H for each block
        sy = np.kron(PAULI[1], np.eye(h0.shape[0]))
        np.testing.assert_allclose(sy @ spin.conj() @ sy, spin, atol=atol)

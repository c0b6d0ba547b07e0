"""Writing a corpus file leaves out lattice vectors whose blocks compact to zero."""

from __future__ import annotations

import numpy as np

from socscreen.hamiltonian import Hamiltonian


def _with_tiny_far_blocks(ham: Hamiltonian) -> Hamiltonian:
    """Add R = +-(3, 0, 0) with elements below every corpus threshold."""
    n = ham.n_orbitals
    tiny = np.full((n, n), 1e-7)
    R = np.vstack([ham.R, [[3, 0, 0], [-3, 0, 0]]])
    pad = np.stack([tiny, tiny.T])
    return Hamiltonian(
        ham.structure,
        ham.orbitals,
        R,
        np.concatenate([ham.h0, pad]),
        np.concatenate([ham.overlap, pad]),
        soc_uu=np.concatenate([ham.soc_uu, 1j * np.stack([tiny, -tiny.T])]),
        soc_ud=np.concatenate([ham.soc_ud, np.zeros((2, n, n))]),
        nelect=ham.nelect,
        efermi=ham.efermi,
        meta=ham.meta,
    )


def test_all_zero_blocks_are_left_out_when_writing(bi2se3, tmp_path):
    padded = _with_tiny_far_blocks(bi2se3)
    arrays = padded.to_corpus_arrays()
    np.testing.assert_array_equal(arrays["R"], bi2se3.R)
    assert arrays["H0R"].shape[0] == len(bi2se3.R) == arrays["Hsoc_ud"].shape[0]
    written = Hamiltonian.from_npz(padded.to_npz(tmp_path / "padded.npz"))
    k = np.random.default_rng(0).random((3, 3))
    np.testing.assert_allclose(written.eigh(k), bi2se3.eigh(k), atol=1e-9)


def test_double_precision_keeps_every_lattice_vector(bi2se3):
    padded = _with_tiny_far_blocks(bi2se3)
    arrays = padded.to_corpus_arrays(double=True)
    assert len(arrays["R"]) == len(bi2se3.R) + 2
    assert arrays["H0R"][-1].max() == 1e-7


def test_home_cell_and_inversion_partners_are_kept(bi2se3):
    # a block nonzero only at +R must keep -R as well
    padded = _with_tiny_far_blocks(bi2se3)
    h0 = padded.h0.copy()
    h0[-2, 0, 1] = 0.5  # R = (3, 0, 0) only; -R stays below the thresholds
    lopsided = Hamiltonian(
        padded.structure, padded.orbitals, padded.R, h0, padded.overlap,
        soc_uu=padded.soc_uu, soc_ud=padded.soc_ud,
    )
    kept = {tuple(r) for r in lopsided.to_corpus_arrays()["R"].tolist()}
    assert {(3, 0, 0), (-3, 0, 0), (0, 0, 0)} <= kept

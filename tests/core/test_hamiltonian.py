"""The Hamiltonian container: Bloch sums, eigenproblem, symmetries, round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from monty.json import MontyDecoder, MontyEncoder

from socscreen.eigensolver import GHOST_ENERGY, generalized_eigh
from socscreen.hamiltonian import (
    R_STORAGE_KEY,
    Hamiltonian,
    bloch_sum,
    spin_diagonal,
    spinor_bloch_sum,
)
from socscreen.orbitals import OrbitalTable, shells_from_l_sequence

RNG = np.random.default_rng(7)
TRIM = np.array([[i, j, k] for i in (0, 0.5) for j in (0, 0.5) for k in (0, 0.5)])


def test_orbital_table_reads_corpus_order(bi2se3):
    table = bi2se3.orbitals
    assert table.element_shells == {"Se": (0, 1, 2), "Bi": (0, 1, 2, 2)}
    assert table.n_orbitals == 55
    assert table.orbitals_per_atom.tolist() == [9, 14, 14, 9, 9]
    assert table.m_of_orbital[1:4].tolist() == [-1, 0, 1]


def test_incomplete_shell_is_rejected():
    with pytest.raises(ValueError, match="complete l=1 shell"):
        shells_from_l_sequence(np.array([0, 1, 1]))


def test_atoms_of_one_element_must_share_shells():
    with pytest.raises(ValueError, match="different shells"):
        OrbitalTable.from_l_and_atom([14, 14], [0, 1, 1, 1, 0], [0, 0, 0, 0, 1])


def test_silicon_gamma_gap_matches_fixture_readme(silicon):
    e = silicon.eigh([0, 0, 0])[0]
    n = int(silicon.nelect)
    # regression value: measured on this file when it was made (README_fixtures.md)
    assert e[n] - e[n - 1] == pytest.approx(2.74, abs=0.01)


def test_bands_are_kramers_degenerate_at_trim(bi2se3):
    e = bi2se3.eigh(TRIM)
    np.testing.assert_allclose(e[:, ::2], e[:, 1::2], atol=1e-8)


def test_time_reversal_pairs_k_and_minus_k(bi2se3):
    k = RNG.random((4, 3))
    np.testing.assert_allclose(bi2se3.eigh(k), bi2se3.eigh(-k), atol=1e-8)


def test_bloch_sum_is_hermitian(bi2se3):
    k = RNG.random((3, 3))
    h = bi2se3.hamiltonian_k(k)
    np.testing.assert_allclose(h, np.conj(np.swapaxes(h, 1, 2)), atol=1e-12)


def test_spinor_bloch_sum_is_the_definition(bi2se3):
    """``sum_R exp(2 pi i k.R) H(R)`` of the full spinor blocks, written out with complex
    phases: ``H_dd = conj(H_uu)`` and ``H_du = -conj(H_ud)`` in real space."""
    k = RNG.random((5, 3))
    uu, ud, h0 = bi2se3.soc_uu, bi2se3.soc_ud, bi2se3.h0
    blocks = np.block([[h0 + uu, ud], [-np.conj(ud), h0 + np.conj(uu)]])  # [n_R, 2n, 2n]
    phases = np.exp(2j * np.pi * k @ bi2se3.R.T)
    expected = np.einsum("kr,rij->kij", phases, blocks)
    got = spinor_bloch_sum(h0, bi2se3.R, k, uu, ud)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    np.testing.assert_allclose(bi2se3.hamiltonian_k(k), expected, atol=1e-12)
    spinless = np.einsum("kr,rij->kij", phases, h0)
    np.testing.assert_allclose(bloch_sum(h0, bi2se3.R, k), spinless, atol=1e-12)
    np.testing.assert_allclose(
        bi2se3.hamiltonian_k(k, soc=False), spin_diagonal(spinless), atol=1e-12
    )


def test_eigenvectors_solve_the_generalised_problem(bi2se3):
    k = RNG.random((2, 3))
    e, c = bi2se3.eigh(k, vectors=True)
    h, s = bi2se3.hamiltonian_k(k), bi2se3.spinor_overlap_k(k)
    np.testing.assert_allclose(h @ c, s @ c * e[:, None, :], atol=1e-8)
    ortho = np.conj(np.swapaxes(c, 1, 2)) @ s @ c
    np.testing.assert_allclose(ortho, np.broadcast_to(np.eye(c.shape[-1]), ortho.shape), atol=1e-8)


def test_generalized_eigh_matches_scipy():
    from scipy.linalg import eigh

    a = RNG.normal(size=(6, 6)) + 1j * RNG.normal(size=(6, 6))
    b = RNG.normal(size=(6, 6))
    h = a + a.conj().T
    s = b @ b.T + 6 * np.eye(6)
    np.testing.assert_allclose(generalized_eigh(h, s), eigh(h, s, eigvals_only=True), atol=1e-10)


def _nearly_dependent_problem(m: int = 8, dropped: int = 2):
    """Hermitian H and an overlap S with ``dropped`` eigenvalues of 1e-6 (and the rest >= 0.3)."""
    q, _ = np.linalg.qr(RNG.normal(size=(m, m)) + 1j * RNG.normal(size=(m, m)))
    w = np.concatenate([np.full(dropped, 1e-6), RNG.uniform(0.3, 2.0, m - dropped)])
    s = (q * w) @ q.conj().T
    a = RNG.normal(size=(m, m)) + 1j * RNG.normal(size=(m, m))
    return a + a.conj().T, 0.5 * (s + s.conj().T), q[:, :dropped]


def test_overlap_cutoff_solves_the_problem_on_the_kept_directions():
    from scipy.linalg import eigh

    h, s, _ = _nearly_dependent_problem()
    e, c = generalized_eigh(h, s, vectors=True, overlap_cutoff=1e-3)
    assert np.sum(e == GHOST_ENERGY) == 2 and np.all(e[:-2] < GHOST_ENERGY)
    # canonical orthogonalisation, solved independently on the kept eigenvectors of S
    w, v = np.linalg.eigh(s)
    kept = v[:, w > 1e-3]
    ref = eigh(kept.conj().T @ h @ kept, kept.conj().T @ s @ kept, eigvals_only=True)
    np.testing.assert_allclose(e[:-2], ref, atol=1e-9)
    c = c[:, :-2]  # the generalised problem holds on the kept subspace (Galerkin)
    np.testing.assert_allclose(kept.conj().T @ h @ c, kept.conj().T @ s @ c * e[:-2], atol=1e-8)
    np.testing.assert_allclose(c.conj().T @ s @ c, np.eye(6), atol=1e-9)


def test_overlap_cutoff_removes_ghosts_of_an_approximate_hamiltonian():
    # A 1 meV error along a near-null direction of S: without the cutoff it becomes a
    # spurious eigenvalue about 1 meV / 1e-6 = 1 keV deep; with it the spectrum stays.
    h, s, null = _nearly_dependent_problem()
    error = -1e-3 * null @ null.conj().T
    plain = generalized_eigh(h + error, s)
    assert plain.min() < -100.0
    np.testing.assert_allclose(
        generalized_eigh(h + error, s, overlap_cutoff=1e-3),
        generalized_eigh(h, s, overlap_cutoff=1e-3),
        atol=1e-8,
    )


@pytest.mark.parametrize("cutoff", [0.0, 0.2])
def test_spinless_overlap_solves_the_spinor_problem(bi2se3, cutoff):
    k = RNG.random((2, 3))
    h, s = bi2se3.hamiltonian_k(k), bi2se3.overlap_k(k).astype(complex)
    e_full, c_full = generalized_eigh(h, bi2se3.spinor_overlap_k(k), True, cutoff)
    e_half, c_half = generalized_eigh(h, s, True, cutoff)
    np.testing.assert_allclose(e_half, e_full, atol=1e-9)
    real = e_half < GHOST_ENERGY - 1.0  # projector onto every physical band
    for i in range(len(k)):
        p_half = c_half[i][:, real[i]] @ np.conj(c_half[i][:, real[i]].T)
        p_full = c_full[i][:, real[i]] @ np.conj(c_full[i][:, real[i]].T)
        np.testing.assert_allclose(p_half, p_full, atol=1e-7)
    with pytest.raises(ValueError, match="does not fit"):
        generalized_eigh(h, s[:, :-1, :-1])


def test_overlap_cutoff_below_the_spectrum_of_s_changes_nothing(bi2se3):
    k = RNG.random((3, 3))
    smallest = np.linalg.eigvalsh(bi2se3.overlap_k(k)).min()
    kept = bi2se3._replace(meta={**bi2se3.meta, "overlap_cutoff": 0.5 * smallest})
    assert kept.overlap_cutoff == pytest.approx(0.5 * smallest) and bi2se3.overlap_cutoff == 0
    np.testing.assert_allclose(kept.eigh(k), bi2se3.eigh(k), atol=1e-9)


def test_overlap_cutoff_keeps_kramers_pairs_and_survives_round_trips(bi2se3, tmp_path):
    cut = bi2se3._replace(meta={**bi2se3.meta, "overlap_cutoff": 0.2})
    e = cut.eigh(TRIM)
    assert np.any(np.isclose(e, GHOST_ENERGY))  # S(k) of Bi2Se3 has directions below 0.2
    np.testing.assert_allclose(e[:, ::2], e[:, 1::2], atol=1e-8)
    cut.to_npz(tmp_path / "cut.npz")
    assert Hamiltonian.from_npz(tmp_path / "cut.npz").overlap_cutoff == 0.2
    text = json.dumps(cut.as_dict(), cls=MontyEncoder)
    assert json.loads(text, cls=MontyDecoder).overlap_cutoff == 0.2


def test_soc_off_restores_spin_degeneracy_and_matches_spinless_bands(bi2se3):
    k = RNG.random((3, 3))
    off = bi2se3.with_soc_scaled(0.0)
    spinor = off.eigh(k)
    np.testing.assert_allclose(spinor[:, ::2], bi2se3.eigh(k, spinor=False), atol=1e-8)
    assert off.meta["soc_scale"] == 0.0


def test_symmetrized_removes_antihermitian_noise(bi2se3):
    noisy = bi2se3._replace(
        h0=bi2se3.h0 + 1e-3 * RNG.normal(size=bi2se3.h0.shape),
        soc_ud=bi2se3.soc_ud + 1e-3 * RNG.normal(size=bi2se3.soc_ud.shape),
    )
    assert noisy.hermiticity_error() > 1e-4
    clean = noisy.symmetrized()
    assert clean.hermiticity_error() < 1e-14
    e = clean.eigh(TRIM)
    np.testing.assert_allclose(e[:, ::2], e[:, 1::2], atol=1e-10)


def test_from_spinor_blocks_recovers_the_split(bi2se3):
    n = bi2se3.n_orbitals
    R = bi2se3.R
    full = np.zeros((len(R), 2 * n, 2 * n), dtype=complex)
    full[:, :n, :n] = bi2se3.h0 + bi2se3.soc_uu
    full[:, :n, n:] = bi2se3.soc_ud
    full[:, n:, :n] = -bi2se3.soc_ud.conj()
    full[:, n:, n:] = bi2se3.h0 + bi2se3.soc_uu.conj()
    rebuilt = Hamiltonian.from_spinor_blocks(
        bi2se3.structure, bi2se3.orbitals, R, full, bi2se3.overlap, nelect=bi2se3.nelect
    )
    np.testing.assert_allclose(rebuilt.h0, bi2se3.h0, atol=1e-12)
    np.testing.assert_allclose(rebuilt.soc_uu, bi2se3.soc_uu, atol=1e-12)
    np.testing.assert_allclose(rebuilt.soc_ud, bi2se3.soc_ud, atol=1e-12)


def test_corpus_round_trip(bi2se3, tmp_path):
    path = bi2se3.to_npz(tmp_path / "out.npz")
    again = Hamiltonian.from_npz(path)
    np.testing.assert_array_equal(again.h0, bi2se3.h0)  # corpus data is float32 already
    np.testing.assert_array_equal(again.soc_ud, bi2se3.soc_ud)
    assert again.meta["formula"] == "Bi2Se3"
    assert again.nelect == bi2se3.nelect
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]  # no temporary left


def _blocks_by_R(ham: Hamiltonian) -> dict[tuple[int, ...], tuple[np.ndarray, ...]]:
    return {
        tuple(r): (ham.h0[i], ham.overlap[i], ham.soc_uu[i], ham.soc_ud[i])
        for i, r in enumerate(ham.R.tolist())
    }


def test_half_R_storage_rebuilds_every_lattice_vector(bi2se3, tmp_path):
    path = bi2se3.to_npz(tmp_path / "half.npz", half_R=True)
    with np.load(path) as stored:
        assert len(stored["R"]) == (len(bi2se3.R) + 1) // 2  # home cell + one of each pair
        assert json.loads(str(stored["meta"]))[R_STORAGE_KEY] == "half"
    again = Hamiltonian.from_npz(path)
    assert R_STORAGE_KEY not in again.meta  # the container is whole again
    assert again.hermiticity_error() == 0.0
    ours, ref = _blocks_by_R(again), _blocks_by_R(bi2se3)
    assert ours.keys() == ref.keys()
    for r, blocks in ref.items():
        for got, want in zip(ours[r], blocks, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-7)
    k = np.random.default_rng(3).random((6, 3))
    np.testing.assert_allclose(again.eigh(k), bi2se3.eigh(k), atol=1e-6)
    # rewritten in full storage, it is an ordinary corpus file again
    full = again.to_npz(tmp_path / "full.npz")
    with np.load(full) as stored:
        assert len(stored["R"]) == len(bi2se3.R)
        assert R_STORAGE_KEY not in json.loads(str(stored["meta"]))


def test_content_hash_follows_the_hamiltonian_not_the_file(bi2se3, tmp_path):
    half = Hamiltonian.from_npz(bi2se3.to_npz(tmp_path / "half.npz", half_R=True))
    full = Hamiltonian.from_npz(bi2se3.to_npz(tmp_path / "full.npz"))
    assert half.content_sha256() == full.content_sha256() == bi2se3.content_sha256()
    h0 = bi2se3.h0.copy()
    h0[bi2se3.home_index, 0, 0] += 1e-3
    assert bi2se3._replace(h0=h0).content_sha256() != bi2se3.content_sha256()
    assert bi2se3.with_soc_scaled(0.5).content_sha256() != bi2se3.content_sha256()


def test_half_R_file_with_both_partners_is_refused(bi2se3):
    arrays = bi2se3.to_corpus_arrays()
    arrays["meta"] = np.array(json.dumps({R_STORAGE_KEY: "half"}))
    with pytest.raises(ValueError, match="other half"):
        Hamiltonian.from_corpus_arrays(arrays)


def test_corpus_file_keys_follow_design(bi2se3, tmp_path, data_dir):
    path = bi2se3.to_npz(tmp_path / "out.npz")
    with np.load(path) as ours, np.load(data_dir / "Bi2Se3_szp.npz") as ref:
        assert set(ours.files) == set(ref.files)
        for key in ref.files:
            assert ours[key].dtype == ref[key].dtype or key == "meta", key


def test_msonable_round_trip_through_json(bi2se3):
    text = json.dumps(bi2se3, cls=MontyEncoder)
    again = json.loads(text, cls=MontyDecoder)
    assert isinstance(again, Hamiltonian)
    np.testing.assert_array_equal(again.soc_uu, bi2se3.soc_uu)
    assert again.structure == bi2se3.structure


def test_inconsistent_shapes_are_rejected(silicon):
    with pytest.raises(ValueError, match="h0 has shape"):
        silicon._replace(h0=silicon.h0[:, :5, :5])
    with pytest.raises(ValueError, match="closed under inversion"):
        keep = np.flatnonzero((silicon.R == [1, 0, 0]).all(axis=1) == 0)
        silicon._replace(
            R=silicon.R[keep],
            h0=silicon.h0[keep],
            overlap=silicon.overlap[keep],
            soc_uu=silicon.soc_uu[keep],
            soc_ud=silicon.soc_ud[keep],
        )

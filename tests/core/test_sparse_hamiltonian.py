"""The sparse container holds exactly the dense blocks, and its Bloch sums are the dense ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
from monty.json import MontyDecoder, MontyEncoder

from socscreen.hamiltonian import Hamiltonian
from socscreen.sparse_bloch import sparse_overlap_k, sparse_spinor_hamiltonian_k
from socscreen.sparse_hamiltonian import SPARSE_FIELDS, SparseHamiltonian, read_hamiltonian

KPOINTS = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.13, -0.27, 0.41]])


def test_dense_round_trip_is_exact(bi2se3):
    sparse_ham = SparseHamiltonian.from_dense(bi2se3)
    back = sparse_ham.to_dense()
    for name in SPARSE_FIELDS:
        assert np.array_equal(getattr(back, name), getattr(bi2se3, name)), name
    assert np.array_equal(back.R, bi2se3.R)
    assert (back.nelect, back.efermi, back.meta) == (bi2se3.nelect, bi2se3.efermi, bi2se3.meta)
    assert sparse_ham.overlap_cutoff == bi2se3.overlap_cutoff
    assert sparse_ham.home_block("h0").toarray() == pytest.approx(bi2se3.h0[bi2se3.home_index])
    dense_bytes = sum(getattr(bi2se3, name).nbytes for name in SPARSE_FIELDS)
    assert sparse_ham.nbytes < dense_bytes  # the fixture's blocks are mostly zeros


def test_sparse_bloch_sums_of_the_sparse_container_are_the_dense_sums(bi2se3):
    sparse_ham = SparseHamiltonian.from_dense(bi2se3)
    for k in KPOINTS:
        h = sparse_spinor_hamiltonian_k(sparse_ham, k).toarray()
        assert np.abs(h - bi2se3.hamiltonian_k(k)[0]).max() < 1e-12
        h_no_soc = sparse_spinor_hamiltonian_k(sparse_ham, k, soc=False).toarray()
        assert np.abs(h_no_soc - bi2se3.hamiltonian_k(k, soc=False)[0]).max() < 1e-12
        s = sparse_overlap_k(sparse_ham, k).toarray()
        assert np.abs(s - bi2se3.overlap_k(k)[0]).max() < 1e-12
        assert np.abs(h - h.conj().T).max() < 1e-10  # Hermitian H(k)


def test_dropping_small_entries_moves_bands_by_less_than_the_threshold_scale(bi2se3):
    dense_bands = bi2se3.eigh(KPOINTS)
    cut = SparseHamiltonian.from_dense(bi2se3, drop_below=1e-5).to_dense()
    assert np.abs(cut.eigh(KPOINTS) - dense_bands).max() < 1e-3


def test_inconsistent_blocks_are_refused(bi2se3):
    sparse_ham = SparseHamiltonian.from_dense(bi2se3)
    with pytest.raises(ValueError, match="give both"):
        SparseHamiltonian(
            bi2se3.structure,
            bi2se3.orbitals,
            bi2se3.R,
            sparse_ham.h0,
            sparse_ham.overlap,
            soc_uu=sparse_ham.soc_uu,
        )
    with pytest.raises(ValueError, match="overlap has shape"):
        SparseHamiltonian(
            bi2se3.structure,
            bi2se3.orbitals,
            bi2se3.R[:-1],
            sparse_ham.h0[: -bi2se3.n_orbitals],
            sparse_ham.overlap,
        )
    assert isinstance(sparse_ham.to_dense(), Hamiltonian)


def test_sparse_file_round_trip_and_the_readers_of_both_formats(bi2se3, tmp_path):
    sparse_ham = SparseHamiltonian.from_dense(bi2se3)
    exact = SparseHamiltonian.from_npz(sparse_ham.to_npz(tmp_path / "exact", double=True))
    for name in SPARSE_FIELDS:
        assert (getattr(exact, name) != getattr(sparse_ham, name)).nnz == 0, name
    assert exact.meta == sparse_ham.meta and exact.efermi == sparse_ham.efermi
    assert exact.structure == bi2se3.structure and exact.nelect == bi2se3.nelect
    path = sparse_ham.to_npz(tmp_path / "single")  # float32 / complex64 as corpus files
    single = read_hamiltonian(path)
    assert isinstance(single, SparseHamiltonian)
    assert abs(single.h0 - sparse_ham.h0).max() < 1e-5 * abs(sparse_ham.h0).max()
    bands = single.to_dense().eigh(KPOINTS) - bi2se3.eigh(KPOINTS)
    assert np.abs(bands).max() < 1e-4  # eV
    with pytest.raises(ValueError, match="sparse blocks of a large cell"):
        Hamiltonian.from_npz(path)
    dense_path = bi2se3.to_npz(tmp_path / "dense")
    assert isinstance(read_hamiltonian(dense_path), Hamiltonian)
    with pytest.raises(ValueError, match="holds dense blocks"):
        SparseHamiltonian.from_npz(dense_path)


def test_json_round_trip_exact_and_compact(bi2se3):
    """What a campaign's data store holds of a large cell (jobflow serialises by as_dict)."""
    sparse_ham = SparseHamiltonian.from_dense(bi2se3)
    exact = json.loads(json.dumps(sparse_ham, cls=MontyEncoder), cls=MontyDecoder)
    assert isinstance(exact, SparseHamiltonian) and exact.storage == "exact"
    for name in SPARSE_FIELDS:
        assert (getattr(exact, name) != getattr(sparse_ham, name)).nnz == 0, name
    assert (exact.structure, exact.nelect, exact.efermi) == (
        bi2se3.structure, bi2se3.nelect, bi2se3.efermi,
    )  # fmt: skip
    compact = sparse_ham.stored_compact()
    assert compact.h0 is sparse_ham.h0  # the copy in memory keeps the exact blocks
    text = json.dumps(compact, cls=MontyEncoder)
    assert len(text) < 0.75 * len(json.dumps(sparse_ham, cls=MontyEncoder))
    back = json.loads(text, cls=MontyDecoder)
    assert back.storage == "compact"
    bands = back.to_dense().eigh(KPOINTS) - bi2se3.eigh(KPOINTS)
    assert np.abs(bands).max() < 1e-4  # eV: float32 values

"""How the training corpus stores a Hamiltonian: compact, checked, atomically written.

The size-capped corpus in ``data/corpus`` stores SOC elements below
:data:`~socscreen.hamiltonian.COMPACT_ZERO_THRESHOLDS` as zero and one lattice vector of
each ``±R`` pair (the other follows from Hermiticity), and zeroes S elements only as far
as the stored S(k) stays positive definite (:data:`OVERLAP_ZERO_THRESHOLDS`).
"""

from __future__ import annotations

from pathlib import Path

from socscreen.dft.reference import (
    OverlapNotPositiveDefiniteError,
    check_overlap_positive_definite,
)
from socscreen.hamiltonian import COMPACT_ZERO_THRESHOLDS, Hamiltonian

__all__ = ["OVERLAP_ZERO_THRESHOLDS", "write_compact"]

#: Zero thresholds of S (overlap units) tried in turn by :func:`write_compact`. Dense
#: metals with diffuse orbitals (fcc Pt, Rh, Ag, Ir; CsBr) have S(k) within ~1e-5 of
#: singular, and the thousands of overlap tails below 1e-5 that the first threshold zeroes
#: add up at Gamma to more than that (fcc Pt: lowest eigenvalue 9.9e-6 in full, -4.0e-4
#: stored at 1e-5, 5.5e-6 at 1e-7, for 229, 262 and 616 kB).
OVERLAP_ZERO_THRESHOLDS = (COMPACT_ZERO_THRESHOLDS["SR"], 1e-7, 0.0)


def write_compact(ham: Hamiltonian, path: Path, n_checks: int = 16, seed: int = 0) -> Path:
    """Write a file of the size-capped training corpus (``data/corpus``), atomically.

    SOC elements below :data:`COMPACT_ZERO_THRESHOLDS` are stored as zero and only one
    lattice vector of each ``±R`` pair is stored (``half_R``); together about a third of
    the size of the shared files' storage. :meth:`Hamiltonian.from_npz` reads it back
    as a full container. S elements are zeroed below the first of
    :data:`OVERLAP_ZERO_THRESHOLDS` whose stored S(k) is positive definite at Gamma and
    ``n_checks`` random k-points (:func:`check_overlap_positive_definite`).

    Raises
    ------
    OverlapNotPositiveDefiniteError
        If S(k) of the stored file is indefinite even with every S element kept (the
        file then holds that last attempt; :func:`_write_checked` removes it).
    """
    for threshold in OVERLAP_ZERO_THRESHOLDS:
        thresholds = {**COMPACT_ZERO_THRESHOLDS, "SR": threshold}
        path = ham.to_npz(path, thresholds=thresholds, half_R=True)
        try:
            check_overlap_positive_definite(Hamiltonian.from_npz(path), n_checks, seed)
        except OverlapNotPositiveDefiniteError as error:
            last_error = error
            continue
        return path
    raise last_error

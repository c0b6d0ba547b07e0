"""Band edges near the Fermi level from a few eigenpairs (shift-invert Lanczos/Arnoldi).

A cell of hundreds of atoms has thousands of spinor bands, but the gap, the band edges
and the spin splittings at K or Γ need only the handful nearest E_F. Here they come from
ARPACK in shift-invert mode on the sparse generalised problem ``H(k) c = E S(k) c``
(:mod:`socscreen.sparse_bloch`) with the shift ``σ`` in the gap: one sparse LU of
``H - σS`` and a few dozen solves instead of an ``O((2n)³)`` diagonalisation.

The solver is the dense one of :meth:`Hamiltonian.eigh
<socscreen.hamiltonian.Hamiltonian.eigh>`, to round-off: a container with an
``overlap_cutoff`` (every prediction) drops the eigen-directions ``V`` of ``S(k)``
whose eigenvalues ``W`` are below it (canonical orthogonalisation). With ``P = 1 - V V^H``
that is the pencil ``(P H P + G V W V^H, S)``, ``G`` the ghost energy: ``H - σS`` plus a
correction of rank ``4 dim V``, inverted by the Woodbury identity on the sparse LU. ``V``
itself comes from shift-invert at 0 on ``S(k)`` (a few per ten atoms in MX2 sheets).
Which bands were found is known from the inertia of ``H' - σS`` (Sylvester's law: the
number of bands below ``σ``), read off the symmetric LU, so the valence bands are the
``nelect``-th from the bottom as in the dense analysis, metals and semimetals included.

Second variation (:func:`second_variation_bands`) halves the problem: the LU and the
eigenpairs are those of the spinless ``H0(k) - σ S(k)``, and the spin-orbit coupling acts
in a window of its bands around ``σ``, each corrected to first order by all the others
(the same LU). Where fill-in makes the LU nearly dense (cells of hundreds of atoms) that
is an eighth of the spinor factorisation's work and a quarter of its memory.

Conventions: energies eV, k fractional, spinor bands with one electron each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import LinearOperator, SuperLU, eigs, eigsh, splu

from socscreen.analysis.bloch import n_occupied
from socscreen.eigensolver import GHOST_ENERGY
from socscreen.hamiltonian import Hamiltonian, as_kpoints
from socscreen.sparse_bloch import (
    sparse_hamiltonian_k,
    sparse_overlap_k,
    sparse_soc_k,
    sparse_spinor_hamiltonian_k,
)
from socscreen.sparse_hamiltonian import SparseHamiltonian

__all__ = [
    "LANCZOS_SIZE",
    "SECOND_VARIATION_BANDS",
    "SECOND_VARIATION_REACH",
    "BandEdges",
    "band_edges",
    "eigenvalues_near",
    "inertia_fermi_level",
    "second_variation_bands",
]

#: Spinor basis size ``2n`` above which the analysis of large cells takes the band edges
#: from shift-invert rather than a full diagonalisation.
LANCZOS_SIZE = 3000

#: Eigenvalues asked for around the shift: two spin pairs on each side with margin.
EDGE_COUNT = 12

#: Moves of the shift towards edge bands outside the window, at most.
MAX_MOVES = 20

#: Width (eV) to which :func:`inertia_fermi_level` narrows the Fermi level of a metal.
INERTIA_TOLERANCE = 1e-3

#: Width (eV) to which the spinless counts narrow a metal's level before its second-variation
#: windows (a few eV wide) place it exactly.
WINDOW_TOLERANCE = 0.05

#: Band counts :func:`inertia_fermi_level` makes at most (each one sparse LU per k).
MAX_COUNTS = 60

#: Spinless bands nearest the shift whose span, with both spins, carries the spin-orbit
#: coupling in second variation (:func:`second_variation_bands`).
SECOND_VARIATION_BANDS = 48

#: Energy (eV) the second-variation window reaches at least, below and above its centre:
#: its bands are doubled in number until it does (large cells crowd their bands).
SECOND_VARIATION_REACH = 1.0


@dataclass(frozen=True)
class BandEdges:
    """The two highest valence and two lowest conduction spinor bands at one k (eV).

    Attributes
    ----------
    k
        Fractional k-point.
    valence
        ``[E(v-1), E(v)]``: the top valence pair, ascending.
    conduction
        ``[E(c), E(c+1)]``: the bottom conduction pair, ascending.
    """

    k: list[float]
    valence: list[float]
    conduction: list[float]

    @property
    def valence_splitting(self) -> float:
        """Spin splitting of the top valence pair, ``E(v) - E(v-1)`` (eV)."""
        return self.valence[1] - self.valence[0]

    @property
    def conduction_splitting(self) -> float:
        """Spin splitting of the bottom conduction pair, ``E(c+1) - E(c)`` (eV)."""
        return self.conduction[1] - self.conduction[0]

    @property
    def direct_gap(self) -> float:
        """``E(c) - E(v)`` at this k (eV)."""
        return self.conduction[0] - self.valence[1]


def _dropped_directions(s: sparse.csr_matrix, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors ``[n, d]`` (orthonormal) and eigenvalues ``[d]`` of ``S`` below ``cutoff``.

    Their number ``d`` is the inertia of ``S - cutoff`` (one sparse LU); then shift-invert
    Lanczos at 0 finds exactly the ``d`` smallest pairs (dense for small matrices, where
    ARPACK cannot ask for ``n - 1``).
    """
    n = s.shape[0]
    shifted = (s - cutoff * sparse.identity(n, format="csr")).tocsc()
    lu = splu(
        shifted, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True}
    )
    d = _negative_count(lu)
    if d == 0:
        return np.zeros((n, 0), dtype=s.dtype), np.zeros(0)
    if d < n - 1:
        w, v = eigsh(s.tocsc(), k=d, sigma=0.0, which="LM")
        w, y = np.linalg.eigh(v.conj().T @ (s @ v))  # Rayleigh-Ritz: orthonormal pairs
        return v @ y, w
    w, v = np.linalg.eigh(s.toarray())
    return v[:, w <= cutoff], w[w <= cutoff]


def _negative_count(lu: SuperLU) -> int:
    """Negative eigenvalues of a Hermitian matrix from its LU without row pivoting (Sylvester)."""
    if not np.array_equal(lu.perm_r, lu.perm_c):
        raise np.linalg.LinAlgError("the factorisation pivoted rows: no inertia from it")
    return int((lu.U.diagonal().real < 0).sum())


def _shift_invert(
    h: sparse.csr_matrix, s: sparse.csr_matrix, sigma: float, dropped: tuple[np.ndarray, np.ndarray]
) -> tuple[LinearOperator, int]:
    """``(H' - σS)^{-1}`` with ``H' = P H P + G V W V^H`` and the number of bands below ``σ``.

    ``h`` and ``s`` are the spinor ``[2n, 2n]`` or the spinless ``[n, n]`` matrices,
    ``dropped`` the ``(V, W)`` of ``s``; with no dropped direction simply
    ``(H - σS)^{-1}``. The band count is the inertia of ``H' - σS`` (S is positive
    definite): that of ``A = H - σS`` from its symmetric LU, corrected for the rank-``2 dim V``
    term by the Haynsworth formula
    ``In(A + U C U^H) = In(A) + In(-C^{-1} - U^H A^{-1} U) - In(-C^{-1})``.
    """
    a = (h - sigma * s).tocsc()
    lu = splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    below = _negative_count(lu)

    def lu_solve(b: np.ndarray) -> np.ndarray:
        """``A^{-1} b`` for one vector or a block of them (one triangular sweep for all)."""
        if np.iscomplexobj(b) and not np.iscomplexobj(a.data):  # a real LU (H0 at Γ)
            columns = b.reshape(b.shape[0], -1)
            m = columns.shape[1]
            x = lu.solve(np.ascontiguousarray(np.hstack([columns.real, columns.imag])))
            return (x[:, :m] + 1j * x[:, m:]).reshape(b.shape)
        return lu.solve(b)

    v, w = dropped
    if not w.size:
        return LinearOperator(h.shape, matvec=lu_solve, matmat=lu_solve, dtype=a.dtype), below
    hv = h @ v
    d = len(w)
    m = v.conj().T @ hv + GHOST_ENERGY * np.diag(w)  # V^H H V + G W
    u = np.hstack([v, hv])  # A' = A + U C U^H with C = [[m, -1], [-1, 0]]
    c_inv = np.block([[np.zeros((d, d)), -np.eye(d)], [-np.eye(d), -m]])
    # A^{-1} H V = V + σ A^{-1} V W, as S V = V W: d solves instead of 2d
    z_v = lu_solve(v)
    z = np.hstack([z_v, v + sigma * z_v * w])
    capacitance = c_inv + u.conj().T @ z
    capacitance = 0.5 * (capacitance + capacitance.conj().T)
    below += int((np.linalg.eigvalsh(-capacitance) < 0).sum())
    below -= int((np.linalg.eigvalsh(-c_inv) < 0).sum())
    small = np.linalg.inv(capacitance)

    def solve(b: np.ndarray) -> np.ndarray:
        y = lu_solve(b)
        return y - z @ (small @ (u.conj().T @ y))

    return LinearOperator(h.shape, matvec=solve, matmat=solve, dtype=a.dtype), below


def _complex(x: sparse.spmatrix) -> LinearOperator:
    """``x`` as a complex operator: ARPACK's complex mode, also for the real S at Γ."""
    return LinearOperator(x.shape, matvec=lambda v: x @ v, dtype=complex)


@dataclass(frozen=True)
class _Problem:
    """Sparse H(k) (spinor, or spinless H0) and S(k) at one k, with S(k)'s dropped directions."""

    h: sparse.csr_matrix
    s: sparse.csr_matrix
    dropped: tuple[np.ndarray, np.ndarray]
    #: The factorisation of the last shift, ``{sigma: (operator, bands below)}``: the
    #: Fermi level's last count is the first window of its band edges.
    last: dict[float, tuple[LinearOperator, int]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def at(
        cls, ham: Hamiltonian | SparseHamiltonian, k: np.ndarray, soc: bool, spinless: bool = False
    ) -> _Problem:
        """Build the problem at one k: spinor (SOC if ``soc``), or with ``spinless`` H0(k)."""
        s1 = sparse_overlap_k(ham, k)
        real = np.allclose(2 * k, np.round(2 * k))  # k = -k: H0(k) and S(k) are real
        if real:
            s1 = s1.real.tocsr()
        v, w = (
            _dropped_directions(s1, ham.overlap_cutoff)
            if ham.overlap_cutoff > 0
            else (np.zeros((s1.shape[0], 0)), np.zeros(0))
        )
        if spinless:
            h0 = sparse_hamiltonian_k(ham, k)
            return cls(h0.real.tocsr() if real else h0, s1, (v, w))  # a real LU at Γ
        s = sparse.block_diag([s1, s1], format="csr")
        spinor_v = sparse.block_diag([v, v]).toarray()  # [2n, 2d]
        dropped = (spinor_v, np.concatenate([w, w]))
        return cls(sparse_spinor_hamiltonian_k(ham, k, soc=soc), s, dropped)

    def factorised(self, sigma: float) -> tuple[LinearOperator, int]:
        """``(H' - σS)^{-1}`` and the bands below σ (:func:`_shift_invert`), kept for reuse."""
        if sigma not in self.last:
            self.last.clear()
            self.last[sigma] = _shift_invert(self.h, self.s, sigma, self.dropped)
        return self.last[sigma]

    def near(self, sigma: float, count: int) -> tuple[np.ndarray, int]:
        """Find the ``count`` eigenvalues nearest ``sigma`` (ascending) and the first one's band."""
        values = np.sort(self._arpack(sigma, count, vectors=False))
        return values, self.below(sigma) - int((values < sigma).sum())

    def _arpack(self, sigma: float, count: int, vectors: bool):
        """Shift-invert ARPACK for the ``count`` eigenvalues nearest ``sigma`` (unsorted).

        A real problem (H0 and S at k = -k) runs real symmetric Lanczos (``eigsh``); a
        complex one runs ``eigs``, since ARPACK has no complex Hermitian mode.
        """
        op, _ = self.factorised(sigma)
        if not (np.iscomplexobj(self.h.data) or np.iscomplexobj(self.s.data)):
            out = eigsh(
                self.h,
                k=count,
                M=self.s,
                sigma=sigma,
                OPinv=op,
                which="LM",
                return_eigenvectors=vectors,
            )
        else:
            out = eigs(
                _complex(self.h),
                k=count,
                M=_complex(self.s),
                sigma=sigma,
                OPinv=op,
                which="LM",
                return_eigenvectors=vectors,
            )
        return (out[0].real, out[1]) if vectors else out.real

    def below(self, sigma: float) -> int:
        """Count the bands below ``sigma`` (eV) from one LU (Sylvester's law of inertia)."""
        return self.factorised(sigma)[1]

    def pairs(self, sigma: float, count: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Find the ``count`` eigenpairs nearest ``sigma``: values, vectors, first band index.

        The vectors lie in the kept space of S(k) (the dropped directions projected out).
        """
        values, vectors = self._arpack(sigma, count, vectors=True)
        order = np.argsort(values)
        values, vectors = values[order], vectors[:, order]
        below = self.below(sigma)
        v = self.dropped[0]
        vectors = vectors - v @ (v.conj().T @ vectors)
        return values, vectors, below - int((values < sigma).sum())


def _window(problem: _Problem, sigma: float, count: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Find the spinless bands nearest ``sigma`` (:meth:`_Problem.pairs`), at least ``count``.

    Where they do not reach :data:`SECOND_VARIATION_REACH` below and above ``sigma``, the
    search runs again for as many bands as the density of the last window puts in that
    reach, a quarter more, and at least twice as many: one or two searches where doubling
    took four in a 1,000-atom cell (about 100 bands per eV).
    """
    limit = problem.h.shape[0] - 2  # ARPACK's most
    count = min(count, limit)
    while True:
        energies, psi, first = problem.pairs(sigma, count)
        reach = min(sigma - energies[0], energies[-1] - sigma)
        if reach >= SECOND_VARIATION_REACH or count == limit:
            return energies, psi, first
        density = count / max(energies[-1] - energies[0], 1e-3)  # bands per eV
        needed = int(np.ceil(1.25 * density * 2 * SECOND_VARIATION_REACH))
        count = min(max(2 * count, needed), limit)


def _second_variation_at(
    ham: Hamiltonian | SparseHamiltonian,
    problem: _Problem,
    k: np.ndarray,
    sigma: float,
    count: int,
    soc: bool = True,
) -> tuple[np.ndarray, int]:
    """Spinor bands near ``sigma`` at one k by second variation (:func:`second_variation_bands`).

    ``problem`` is the spinless one at ``k``. Returns the spinor energies of the window,
    ascending, and the spinor band index of the first (without ``soc``, the spinless
    bands twice).
    """
    energies, psi, first = _window(problem, sigma, count)
    if not (soc and ham.has_soc):
        return np.repeat(energies, 2), 2 * first
    psi = psi.astype(complex, copy=False)  # real at k = -k; the spin-orbit blocks are not
    psi = psi @ np.linalg.inv(np.linalg.cholesky(psi.conj().T @ (problem.s @ psi))).conj().T
    n = psi.shape[0]
    spin = (slice(0, n), slice(n, 2 * n))
    uu, ud, du, dd = sparse_soc_k(ham, k)

    def spin_orbit(x: np.ndarray) -> np.ndarray:
        return np.vstack([uu @ x[:n] + ud @ x[n:], du @ x[:n] + dd @ x[n:]])

    zero = np.zeros_like(psi)
    basis = np.block([[psi, zero], [zero, psi]])  # ψ_b ⊗ ↑, ψ_b ⊗ ↓: [2n, 2 count]
    coupled = spin_orbit(basis)
    # first order: -Q (H0 - E_b S)^{-1} H_so (ψ_b ⊗ χ), the inverse expanded about σ as
    # R + (E_b - σ) R S R with R = (H0 - σS)^{-1}; Q projects off the window and the
    # dropped directions of S(k)
    inverse, _ = problem.factorised(sigma)
    offset = np.concatenate([energies, energies]) - sigma
    dropped = problem.dropped[0]
    for half in spin:
        y = inverse.matmat(coupled[half])
        y += offset * inverse.matmat(problem.s @ y)
        y -= psi @ (psi.conj().T @ (problem.s @ y))
        y -= dropped @ (dropped.conj().T @ y)
        basis[half] -= y
    h_basis = np.vstack([problem.h @ basis[half] for half in spin]) + spin_orbit(basis)
    s_basis = np.vstack([problem.s @ basis[half] for half in spin])
    h_sub, s_sub = basis.conj().T @ h_basis, basis.conj().T @ s_basis
    values = linalg.eigh(
        0.5 * (h_sub + h_sub.conj().T), 0.5 * (s_sub + s_sub.conj().T), eigvals_only=True
    )
    return values, 2 * first


def second_variation_bands(
    ham: Hamiltonian | SparseHamiltonian,
    k: np.ndarray,
    sigma: float,
    count: int = SECOND_VARIATION_BANDS,
    soc: bool = True,
) -> list[tuple[np.ndarray, int]]:
    """Spinor bands near ``sigma`` (eV) at each fractional k by second variation.

    The scalar-relativistic bands ``ψ_b`` nearest ``sigma`` come from shift-invert on the
    spinless ``H0(k) - σ S(k)``, half the size of the spinor problem, whose LU costs an
    eighth as much where fill-in makes it nearly dense: at least ``count`` of them, and
    twice as many until they reach :data:`SECOND_VARIATION_REACH` on both sides of
    ``sigma``. Each ``ψ_b ⊗ χ`` (χ = ↑, ↓) gets its first-order correction from all the
    bands outside the window, ``-Q (H0 - E_b S)^{-1} H_so (ψ_b ⊗ χ)`` with ``Q`` the
    projector off the window and the inverse expanded about σ, ``R + (E_b - σ) R S R``
    with ``R = (H0 - σS)^{-1}`` (the same LU). The spinor H(k) is diagonalised in the span
    of the ``2 count`` corrected states (Rayleigh-Ritz): the error is of third order in
    the spin-orbit coupling to the bands outside the window, against the second-order
    ``|⟨a|H_so|b⟩|² / (E_a - E_b)`` of the bare window. On the MoSe2/WSe2 bilayers of 42,
    114 and 222 atoms the eight bands around the gap at K and Γ agree with the full spinor
    problem to 0.2, 0.3 and 0.2 meV, the valence splitting at K to 0.1 meV; the bare
    window of 48 bands was 32 meV off at 42 atoms, and the correction without the
    expansion 4 meV at 114.

    The window's first spinor band is twice the spinless bands below it (inertia of
    ``H0 - σS``): true unless the spin-orbit coupling moves a band across the window's
    lower end, a reach below ``sigma``.

    Parameters
    ----------
    k
        Fractional k-points ``[n_k, 3]``.
    sigma
        Energy (eV) the window is centred on.
    count
        Spinless bands in the window, at least.
    soc
        Include the spin-orbit blocks (``False``: the spinless bands, each twice).

    Returns
    -------
    list
        Per k, the spinor energies of the window (eV, twice as many as its spinless
        bands), ascending, and the spinor band index (from 0, over all ``2n``) of the
        first.
    """
    out = []
    for point in as_kpoints(k):
        problem = _Problem.at(ham, point, soc=False, spinless=True)
        out.append(_second_variation_at(ham, problem, point, sigma, count, soc))
    return out


def eigenvalues_near(
    ham: Hamiltonian | SparseHamiltonian,
    k: np.ndarray,
    sigma: float,
    count: int = EDGE_COUNT,
    soc: bool = True,
) -> tuple[np.ndarray, int]:
    """Find the ``count`` spinor eigenvalues (eV) nearest ``sigma`` (eV) at one fractional k.

    Returns
    -------
    tuple
        The eigenvalues, ascending, and the band index (from 0, ascending over all
        ``2n`` bands) of the first: equal, to round-off, to ``ham.eigh(k)[0][i : i +
        count]`` (with the container's ``overlap_cutoff``).
    """
    return _Problem.at(ham, as_kpoints(k)[0], soc).near(sigma, count)


def band_edges(
    ham: Hamiltonian | SparseHamiltonian,
    k: np.ndarray,
    sigma: float | None = None,
    soc: bool = True,
    method: Literal["auto", "dense", "shift-invert", "second-variation"] = "auto",
) -> list[BandEdges]:
    """Top valence and bottom conduction spin pairs at each fractional k (eV).

    The valence bands are the ``nelect``-th and the one below it counted from the bottom
    (one electron per spinor band), as in :func:`~socscreen.analysis.valley.valley_quantities`.
    By shift-invert they are looked for among the :data:`EDGE_COUNT` bands nearest
    ``sigma``; where the window misses some (a large cell's folded bands crowd one side
    of the gap at K), the shift moves towards them by the window's radius, up to
    :data:`MAX_MOVES` times.

    Parameters
    ----------
    ham
        Container with an even or odd ``nelect``.
    k
        Fractional k-points ``[n_k, 3]`` (a few: K, K', Γ).
    sigma
        Shift (eV) near the gap; default ``ham.efermi``.
    soc
        Include the spin-orbit blocks.
    method
        ``"dense"`` (:meth:`Hamiltonian.eigh`), ``"shift-invert"``,
        ``"second-variation"`` (:func:`second_variation_bands`: the spinless problem's
        LU, to a fraction of a meV), or ``"auto"``: second variation for a
        :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`, otherwise shift-invert
        above :data:`LANCZOS_SIZE` spinor orbitals. Below it H(k) is not sparse enough to
        pay: a 14 Å cell (114 atoms) couples every
        atom pair through some R, its spinor H(k) is 85 % nonzero and one k took 38 s by
        shift-invert.

    Raises
    ------
    ValueError
        Without a shift (shift-invert), or if the edge bands were not reached.
    """
    v = n_occupied(ham.nelect, spinor=True) - 1  # top valence band
    k = as_kpoints(k)
    small = ham.n_spinor <= LANCZOS_SIZE and isinstance(ham, Hamiltonian)
    if method == "dense" or (method == "auto" and small):
        e = ham.eigh(k, soc=soc)[:, v - 1 : v + 3].tolist()
        return [BandEdges(p.tolist(), x[:2], x[2:]) for p, x in zip(k, e, strict=True)]
    sigma = ham.efermi if sigma is None else sigma
    if sigma is None:
        raise ValueError("band edges need a shift near the gap: the container has no efermi")
    if method == "second-variation" or (method == "auto" and isinstance(ham, SparseHamiltonian)):
        spectra = second_variation_bands(ham, k, sigma, soc=soc)
        bands = [_window_bands(spectrum, v - 1, v + 3) for spectrum in spectra]
        return [BandEdges(p.tolist(), x[:2], x[2:]) for p, x in zip(k, bands, strict=True)]
    return [_edges_at(_Problem.at(ham, point, soc), point, sigma, v) for point in k]


def _window_bands(spectrum: tuple[np.ndarray, int], start: int, stop: int) -> list[float]:
    """Spinor bands ``start`` to ``stop - 1`` (eV) of a second-variation window.

    ``spectrum`` is the window's ``(values, first)`` (:func:`second_variation_bands`).
    """
    values, first = spectrum
    if not (first <= start and stop <= first + len(values)):
        raise ValueError(
            f"bands {start} to {stop - 1} lie outside the second-variation window "
            f"(bands {first} to {first + len(values) - 1}): centre it in the gap"
        )
    return values[start - first : stop - first].tolist()


def _spectra_fermi_level(spectra: list[tuple[np.ndarray, int]], nelect: float) -> float:
    """Fermi level (eV) from second-variation windows at equally weighted k-points.

    Midgap between band ``nelect - 1`` and ``nelect`` over the k-points where they do not
    overlap; otherwise (a metal) the lowest band energy at which the k-averaged count of
    spinor bands reaches ``nelect`` (zero temperature).
    """
    n_occ = n_occupied(nelect, spinor=True)
    vbm = max(_window_bands(x, n_occ - 1, n_occ)[0] for x in spectra)
    cbm = min(_window_bands(x, n_occ, n_occ + 1)[0] for x in spectra)
    if cbm > vbm:
        return 0.5 * (vbm + cbm)
    for level in np.sort(np.concatenate([values for values, _ in spectra])):
        counts = [first + np.searchsorted(values, level, side="right") for values, first in spectra]
        if np.mean(counts) >= nelect:
            return float(level)
    raise ValueError(f"the second-variation windows hold fewer than {nelect:g} electrons")


def _edges_at(problem: _Problem, k: np.ndarray, sigma: float, v: int) -> BandEdges:
    """Bands ``v - 1`` to ``v + 2`` at one k from windows of the bands nearest a moving shift.

    Each window's bands are kept by band index; while some edge band is missing the shift
    moves by the window's radius towards it, so no band between two windows is skipped.
    """
    wanted = range(v - 1, v + 3)
    found: dict[int, float] = {}
    for _ in range(MAX_MOVES):
        e, first = problem.near(sigma, EDGE_COUNT)
        found |= {first + i: float(x) for i, x in enumerate(e)}
        if all(i in found for i in wanted):
            energies = [found[i] for i in wanted]
            return BandEdges(k.tolist(), energies[:2], energies[2:])
        step = 0.999 * float(np.abs(e - sigma).max())  # short of the farthest band found
        sigma += step if max(i for i in wanted if i not in found) >= first else -step
    raise ValueError(
        f"at k = {k.tolist()} the edge bands {v - 1} to {v + 2} were not reached "
        f"(last window: bands {first} to {first + len(e) - 1})"
    )


def inertia_fermi_level(
    ham: Hamiltonian | SparseHamiltonian,
    k: np.ndarray,
    soc: bool = True,
    second_variation: bool = False,
) -> tuple[float, int]:
    """Fermi level (eV) of a large cell from band counts, without diagonalising.

    The number of spinor bands below a trial energy ``E`` at each k is the inertia of
    ``H(k) - E S(k)`` (one sparse LU, :meth:`_Problem.below`); ``E`` moves by regula falsi
    (Illinois) on the k-averaged count minus ``nelect`` until that is zero. There an
    insulator's bands at every k are found around ``E`` (shift-invert) and the Fermi level
    is midgap, between the highest valence and the lowest conduction band over the k-points,
    as :func:`~socscreen.analysis.bands.fermi_level` puts it. A metal, whose count is zero
    only on a flat step or never, gets the energy where the count passes ``nelect``, to
    :data:`INERTIA_TOLERANCE` (zero temperature: no smearing).

    Parameters
    ----------
    k
        Fractional k-points ``[n_k, 3]``, equally weighted (a Γ-centred grid).
    soc
        Include the spin-orbit blocks.
    second_variation
        Count the spinless bands of ``H0(k) - E S(k)`` instead (two electrons each; an
        LU of half the size), and place the Fermi level on the spinor bands of the
        second-variation windows (:func:`second_variation_bands`) at the energy found,
        as above. Without spin-orbit blocks, or ``soc=False``, the spinless counts are
        exact and always taken.

    Returns
    -------
    tuple
        The Fermi level (eV) and the number of band counts made.

    Raises
    ------
    ValueError
        If no energy within :data:`MAX_COUNTS` counts holds ``nelect`` electrons.
    """
    kpoints = as_kpoints(k)
    spinless = second_variation or not (soc and ham.has_soc)
    problems = [_Problem.at(ham, point, soc, spinless) for point in kpoints]
    per_band = 2 if spinless else 1  # electrons
    target = float(ham.nelect)
    counts = 0

    def excess(energy: float) -> float:
        nonlocal counts
        counts += len(problems)
        return float(np.mean([per_band * p.below(energy) for p in problems])) - target

    def windows(energy: float) -> float:
        spectra = [
            _second_variation_at(ham, p, point, energy, SECOND_VARIATION_BANDS, soc)
            for p, point in zip(problems, kpoints, strict=True)
        ]
        return _spectra_fermi_level(spectra, target)

    if isinstance(ham, SparseHamiltonian):
        diagonal = ham.home_block("h0").diagonal()
    else:
        diagonal = np.diag(ham.h0[ham.home_index])
    lo, hi = float(diagonal.min()) - 1.0, float(diagonal.max()) + 1.0
    f_lo, f_hi = excess(lo), excess(hi)
    while f_lo > 0 or f_hi < 0:  # widen until the count brackets nelect
        lo, hi = (lo - (hi - lo), hi) if f_lo > 0 else (lo, hi + (hi - lo))
        f_lo, f_hi = excess(lo), excess(hi)
        if counts > MAX_COUNTS * len(problems):
            raise ValueError(f"no energy holds {target:g} electrons")
    side = 0
    while hi - lo > (WINDOW_TOLERANCE if spinless else INERTIA_TOLERANCE):
        if counts > MAX_COUNTS * len(problems):
            raise ValueError(f"the count of bands did not reach {target:g} electrons")
        energy = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        energy = min(max(energy, lo + 1e-4 * (hi - lo)), hi - 1e-4 * (hi - lo))
        f = excess(energy)
        if f == 0 and spinless:
            return windows(energy), counts
        if f == 0:
            v = n_occupied(target, spinor=True) - 1
            edges = [
                _edges_at(p, point, energy, v)
                for p, point in zip(problems, as_kpoints(k), strict=True)
            ]
            vbm = max(e.valence[1] for e in edges)
            cbm = min(e.conduction[0] for e in edges)
            return (0.5 * (vbm + cbm) if cbm > vbm else energy), counts
        if f < 0:
            lo, f_lo = energy, f
            f_hi, side = (0.5 * f_hi if side == -1 else f_hi), -1
        else:
            hi, f_hi = energy, f
            f_lo, side = (0.5 * f_lo if side == 1 else f_lo), 1
    return (windows if spinless else float)(0.5 * (lo + hi)), counts

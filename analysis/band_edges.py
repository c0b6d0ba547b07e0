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

Conventions: energies eV, k fractional, spinor bands with one electron each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, SuperLU, eigs, splu

from socscreen.analysis.bloch import n_occupied
from socscreen.eigensolver import GHOST_ENERGY
from socscreen.hamiltonian import Hamiltonian, as_kpoints
from socscreen.sparse_bloch import sparse_overlap_k, sparse_spinor_hamiltonian_k
from socscreen.sparse_hamiltonian import SparseHamiltonian

__all__ = ["LANCZOS_SIZE", "BandEdges", "band_edges", "eigenvalues_near", "inertia_fermi_level"]

#: Spinor basis size ``2n`` above which the analysis of large cells takes the band edges
#: from shift-invert rather than a full diagonalisation.
LANCZOS_SIZE = 3000

#: Eigenvalues asked for around the shift: two spin pairs on each side with margin.
EDGE_COUNT = 12

#: Moves of the shift towards edge bands outside the window, at most.
MAX_MOVES = 20

#: Width (eV) to which :func:`inertia_fermi_level` narrows the Fermi level of a metal.
INERTIA_TOLERANCE = 1e-3

#: Band counts :func:`inertia_fermi_level` makes at most (each one sparse LU per k).
MAX_COUNTS = 60


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

    Shift-invert at 0 for a growing number of the smallest eigenpairs until one lies
    above the cutoff (dense for small matrices, where ARPACK cannot ask for ``n - 1``).
    """
    n = s.shape[0]
    count = max(8, n // 64)
    while count < n - 1:
        w, v = eigs(s.tocsc(), k=count, sigma=0.0, which="LM")
        w = w.real
        if w.max() > cutoff:
            q = np.linalg.qr(v[:, w <= cutoff])[0]
            w, y = np.linalg.eigh(q.conj().T @ (s @ q))  # Rayleigh-Ritz: orthonormal pairs
            return q @ y, w
        count *= 2
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

    ``h`` is the spinor ``[2n, 2n]``, ``s`` the spinor overlap, ``dropped`` the spinless
    ``(V, W)``; with no dropped direction simply ``(H - σS)^{-1}``. The band count is the
    inertia of ``H' - σS`` (S is positive definite): that of ``A = H - σS`` from its
    symmetric LU, corrected for the rank-``4d`` term by the Haynsworth formula
    ``In(A + U C U^H) = In(A) + In(-C^{-1} - U^H A^{-1} U) - In(-C^{-1})``.
    """
    a = (h - sigma * s).tocsc()
    lu = splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    below = _negative_count(lu)
    v_spinless, w_spinless = dropped
    if not w_spinless.size:
        return LinearOperator(h.shape, matvec=lu.solve, dtype=complex), below
    v = sparse.block_diag([v_spinless, v_spinless]).toarray()  # spinor V [2n, 2d]
    w = np.concatenate([w_spinless, w_spinless])
    hv = h @ v
    d = len(w)
    m = v.conj().T @ hv + GHOST_ENERGY * np.diag(w)  # V^H H V + G W
    u = np.hstack([v, hv])  # A' = A + U C U^H with C = [[m, -1], [-1, 0]]
    c_inv = np.block([[np.zeros((d, d)), -np.eye(d)], [-np.eye(d), -m]])
    z = lu.solve(u)
    capacitance = c_inv + u.conj().T @ z
    capacitance = 0.5 * (capacitance + capacitance.conj().T)
    below += int((np.linalg.eigvalsh(-capacitance) < 0).sum())
    below -= int((np.linalg.eigvalsh(-c_inv) < 0).sum())
    small = np.linalg.inv(capacitance)

    def solve(b: np.ndarray) -> np.ndarray:
        y = lu.solve(b)
        return y - z @ (small @ (u.conj().T @ y))

    return LinearOperator(h.shape, matvec=solve, dtype=complex), below


@dataclass(frozen=True)
class _Problem:
    """Sparse spinor H(k) and S(k) at one k, with the spinless dropped directions of S(k)."""

    h: sparse.csr_matrix
    s: sparse.csr_matrix
    dropped: tuple[np.ndarray, np.ndarray]
    #: The factorisation of the last shift, ``{sigma: (operator, bands below)}``: the
    #: Fermi level's last count is the first window of its band edges.
    last: dict[float, tuple[LinearOperator, int]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def at(cls, ham: Hamiltonian | SparseHamiltonian, k: np.ndarray, soc: bool) -> _Problem:
        s1 = sparse_overlap_k(ham, k)
        dropped = (
            _dropped_directions(s1, ham.overlap_cutoff)
            if ham.overlap_cutoff > 0
            else (np.zeros((s1.shape[0], 0)), np.zeros(0))
        )
        s = sparse.block_diag([s1, s1], format="csr")
        return cls(sparse_spinor_hamiltonian_k(ham, k, soc=soc), s, dropped)

    def factorised(self, sigma: float) -> tuple[LinearOperator, int]:
        """``(H' - σS)^{-1}`` and the bands below σ (:func:`_shift_invert`), kept for reuse."""
        if sigma not in self.last:
            self.last.clear()
            self.last[sigma] = _shift_invert(self.h, self.s, sigma, self.dropped)
        return self.last[sigma]

    def near(self, sigma: float, count: int) -> tuple[np.ndarray, int]:
        """Find the ``count`` eigenvalues nearest ``sigma`` (ascending) and the first one's band."""
        op, below = self.factorised(sigma)
        values = eigs(
            self.h, k=count, M=self.s, sigma=sigma, OPinv=op, which="LM", return_eigenvectors=False
        )
        values = np.sort(values.real)
        return values, below - int((values < sigma).sum())

    def below(self, sigma: float) -> int:
        """Count the bands below ``sigma`` (eV) from one LU (Sylvester's law of inertia)."""
        return self.factorised(sigma)[1]


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
    method: Literal["auto", "dense", "shift-invert"] = "auto",
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
        Container with an even or odd ``nelect``; a
        :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian` always by shift-invert.
    k
        Fractional k-points ``[n_k, 3]`` (a few: K, K', Γ).
    sigma
        Shift (eV) near the gap; default ``ham.efermi``.
    soc
        Include the spin-orbit blocks.
    method
        ``"dense"`` (:meth:`Hamiltonian.eigh`), ``"shift-invert"``, or ``"auto"``:
        shift-invert above :data:`LANCZOS_SIZE` spinor orbitals. Below it H(k) is not
        sparse enough to pay: a 14 Å cell (114 atoms) couples every atom pair through
        some R, its spinor H(k) is 85 % nonzero and one k took 38 s by shift-invert.

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
    return [_edges_at(_Problem.at(ham, point, soc), point, sigma, v) for point in k]


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
    ham: Hamiltonian | SparseHamiltonian, k: np.ndarray, soc: bool = True
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

    Returns
    -------
    tuple
        The Fermi level (eV) and the number of band counts made.

    Raises
    ------
    ValueError
        If no energy within :data:`MAX_COUNTS` counts holds ``nelect`` electrons.
    """
    problems = [_Problem.at(ham, point, soc) for point in as_kpoints(k)]
    target = float(ham.nelect)
    counts = 0

    def excess(energy: float) -> float:
        nonlocal counts
        counts += len(problems)
        return float(np.mean([p.below(energy) for p in problems])) - target

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
    while hi - lo > INERTIA_TOLERANCE:
        if counts > MAX_COUNTS * len(problems):
            raise ValueError(f"the count of bands did not reach {target:g} electrons")
        energy = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        energy = min(max(energy, lo + 1e-4 * (hi - lo)), hi - 1e-4 * (hi - lo))
        f = excess(energy)
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
    return 0.5 * (lo + hi), counts

"""Bloch Hamiltonians in an orthonormal basis, k-grids and chunked eigensolvers.

Every analysis in :mod:`socscreen.analysis` works on a :class:`BlochSystem`: something
that returns ``H(k)`` in an *orthonormal* basis together with the lattice and the
fractional position of every basis function. Two kinds exist:

* :class:`LowdinBloch` wraps the non-orthogonal :class:`~socscreen.hamiltonian.Hamiltonian`
  container and returns the Löwdin-orthogonalised ``S(k)^-1/2 H(k) S(k)^-1/2``; its
  eigenvalues are exactly those of ``H c = E S c`` and its eigenvectors are
  ``S(k)^1/2 c``. ``S`` is spin-independent, so the spinor transformation is
  ``kron(I2, S^-1/2)``: Löwdin orbitals stay pure spin states and inversion, time
  reversal and every other symmetry of the crystal keep their form.
* :class:`~socscreen.analysis.tb.OrthogonalTB`, an explicit orthogonal tight-binding model
  ``H(R)`` (spinless models such as Haldane's, or the Löwdin model Fourier-transformed
  to real space for wannierberri and the exports).

Bloch convention (as the container): ``H(k) = sum_R exp(2 pi i k.R) H(R)`` with k and R
fractional, so ``H(k + G) = H(k)``; the orbital positions enter only where cell-periodic
functions are needed (Wilson loops, Berry curvature).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from socscreen.eigensolver import GHOST_ENERGY
from socscreen.hamiltonian import as_kpoints, spin_diagonal

if TYPE_CHECKING:
    from socscreen.hamiltonian import Hamiltonian

__all__ = [
    "BlochSystem",
    "LowdinBloch",
    "as_kpoints",
    "chunk_size",
    "eigh_k",
    "kgrid_shape",
    "length_grid",
    "monkhorst_pack",
    "n_occupied",
    "periodic_axes",
    "trim_points",
]

#: Memory (bytes) that one chunk of k-points may use for its matrices.
CHUNK_BYTES = 256 * 2**20

#: Central-difference step of :meth:`LowdinBloch.velocity_k` (1/Angstrom): velocities to
#: about 1e-8 of their size, far above the round-off of ``H(k)``.
VELOCITY_STEP = 1e-4


def periodic_axes(R: np.ndarray) -> np.ndarray:
    """Lattice directions along which the Hamiltonian has hoppings.

    Parameters
    ----------
    R
        Integer lattice vectors of the blocks, shape ``[n_R, 3]``.

    Returns
    -------
    numpy.ndarray
        Boolean mask of shape ``[3]``; a 2D slab has one ``False`` (its vacuum axis).
    """
    return np.asarray(R).reshape(-1, 3).any(axis=0)


def n_occupied(nelect: float, spinor: bool = True) -> int:
    """Return the number of occupied bands for an electron count.

    Parameters
    ----------
    nelect
        Valence electrons per cell.
    spinor
        One electron per spinor band (``True``) or two per spinless band.

    Raises
    ------
    ValueError
        If ``nelect`` is not a positive integer (an even one for spinless bands).
    """
    n = int(round(nelect))
    if n <= 0 or abs(nelect - n) > 1e-6:
        raise ValueError(f"nelect={nelect} is not a positive integer electron count")
    if spinor:
        return n
    if n % 2:
        raise ValueError(f"nelect={nelect} is odd: spinless bands cannot hold it")
    return n // 2


def kgrid_shape(
    lattice: np.ndarray, periodic: np.ndarray, density: float = 25.0, minimum: int = 2
) -> tuple[int, int, int]:
    """Monkhorst-Pack grid size from a k-point density.

    Parameters
    ----------
    lattice
        Lattice vectors as rows, Angstrom.
    periodic
        Periodic axes (``False`` axes get one k-point).
    density
        Points per reciprocal-lattice-vector length 1/Angstrom, i.e. ``n_i = ceil(density
        |b_i| / 2 pi)`` with ``|b_i|`` including the 2 pi (about ``density / a_i``).
    minimum
        Smallest number of points along a periodic axis.
    """
    recip = 2 * np.pi * np.linalg.inv(np.asarray(lattice, dtype=float)).T
    lengths = np.linalg.norm(recip, axis=1) / (2 * np.pi)
    n = np.maximum(minimum, np.ceil(density * lengths).astype(int))
    n[~np.asarray(periodic, dtype=bool)] = 1
    return (int(n[0]), int(n[1]), int(n[2]))


def monkhorst_pack(shape: tuple[int, int, int]) -> np.ndarray:
    """Gamma-centred uniform grid, fractional, shape ``[prod(shape), 3]``."""
    axes = [np.arange(n) / n for n in shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def length_grid(
    lattice: np.ndarray, density: float, periodic: np.ndarray | None = None
) -> np.ndarray:
    """Return the Gamma-centred grid of ``max(1, round(density / |a_i|))`` points per axis.

    ``lattice`` holds the vectors ``a_i`` as rows (Angstrom); ``periodic`` (boolean
    ``[3]``, default all) the axes with hoppings: the others, a sheet's vacuum, get one
    point. The grid is fractional, ``[n_k, 3]``.
    """
    lengths = np.linalg.norm(np.asarray(lattice, dtype=float), axis=1)
    periodic = np.ones(3, dtype=bool) if periodic is None else np.asarray(periodic, dtype=bool)
    return monkhorst_pack(
        tuple(
            max(1, int(round(density / a))) if p else 1
            for a, p in zip(lengths, periodic, strict=True)
        )
    )


def trim_points(periodic: np.ndarray) -> np.ndarray:
    """Time-reversal-invariant momenta of the periodic axes, fractional ``[2^d, 3]``."""
    halves = [(0.0, 0.5) if p else (0.0,) for p in np.asarray(periodic, dtype=bool)]
    return np.array(np.meshgrid(*halves, indexing="ij")).reshape(3, -1).T


@runtime_checkable
class BlochSystem(Protocol):
    """A Bloch Hamiltonian in an orthonormal basis.

    Attributes
    ----------
    lattice
        Lattice vectors as rows, Angstrom, shape ``[3, 3]``.
    positions
        Fractional position of every basis function, shape ``[m, 3]`` (spinor bases list
        each orbital twice, spin-major).
    periodic
        Periodic lattice directions, boolean ``[3]``.
    """

    lattice: np.ndarray
    positions: np.ndarray
    periodic: np.ndarray

    def hamiltonian_k(self, k: np.ndarray) -> np.ndarray:
        """H(k) in the orthonormal basis, eV, shape ``[n_k, m, m]``."""


@dataclass(frozen=True)
class LowdinBloch:
    """Löwdin-orthogonalised Bloch Hamiltonian of a :class:`Hamiltonian` container.

    Parameters
    ----------
    ham
        The container (non-orthogonal basis).
    soc
        Include the spin-orbit blocks.
    spinor
        Work in the ``2n`` spinor basis; ``False`` gives the spinless ``n`` problem of
        ``H0`` alone (only allowed with ``soc=False``).
    """

    ham: Hamiltonian
    soc: bool = True
    spinor: bool = True

    def __post_init__(self) -> None:
        if self.soc and not self.spinor:
            raise ValueError("spin-orbit coupling needs the spinor basis (spinor=True)")

    @property
    def lattice(self) -> np.ndarray:
        """Lattice vectors as rows, Angstrom."""
        return np.asarray(self.ham.structure.lattice.matrix, dtype=float)

    @property
    def orbital_positions(self) -> np.ndarray:
        """Fractional position of each spinless orbital, ``[n, 3]``."""
        frac = np.asarray(self.ham.structure.frac_coords, dtype=float)
        return frac[self.ham.orbitals.atom_of_orbital]

    @property
    def positions(self) -> np.ndarray:
        """Fractional position of each basis function, ``[m, 3]``."""
        pos = self.orbital_positions
        return np.concatenate([pos, pos]) if self.spinor else pos

    @property
    def periodic(self) -> np.ndarray:
        """Periodic lattice directions (axes with hoppings)."""
        return periodic_axes(self.ham.R)

    @property
    def n_basis(self) -> int:
        """Size m of the Bloch matrices."""
        return self.ham.n_spinor if self.spinor else self.ham.n_orbitals

    def overlap_sqrt_inv(self, k: np.ndarray) -> np.ndarray:
        """Spinless ``S(k)^-1/2``, shape ``[n_k, n, n]``.

        With an ``overlap_cutoff`` on the container this is the filtered inverse root
        ``sum_{w_i > cutoff} v_i w_i^-1/2 v_i^H`` over the eigenpairs of ``S(k)``.

        Raises
        ------
        numpy.linalg.LinAlgError
            If ``S(k)`` is not positive definite (aliased or broken overlap) and the
            container has no ``overlap_cutoff``.
        """
        return self._orthonormaliser(self.ham.overlap_k(k))[0]

    def _orthonormaliser(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Löwdin transform ``X`` of ``S(k)`` and the projector onto dropped directions.

        Without a cutoff ``X = S^-1/2`` and the projector is ``None``. With the
        container's ``overlap_cutoff`` ``X`` keeps the eigen-directions of ``S`` above
        the cutoff; ``X H X + GHOST_ENERGY P`` then has the eigenvalues of
        :meth:`Hamiltonian.eigh <socscreen.hamiltonian.Hamiltonian.eigh>` (canonical
        orthogonalisation), ``P`` being the projector onto the dropped directions. Both
        are built from eigen-projectors of ``S``, so crystal symmetries and time reversal
        keep their form.
        """
        w, v = np.linalg.eigh(s)
        cutoff = self.ham.overlap_cutoff
        if cutoff <= 0:
            if np.any(w <= 0):
                raise np.linalg.LinAlgError(
                    f"overlap S(k) is not positive definite (smallest eigenvalue {w.min():.3e})"
                )
            return (v * w[:, None, :] ** -0.5) @ np.conj(np.swapaxes(v, 1, 2)), None
        keep = w > cutoff
        x = (v * np.where(keep, w, np.inf)[:, None, :] ** -0.5) @ np.conj(np.swapaxes(v, 1, 2))
        dropped = v * (~keep)[:, None, :]
        return x, dropped @ np.conj(np.swapaxes(dropped, 1, 2))

    def hamiltonian_k(self, k: np.ndarray) -> np.ndarray:
        """Orthonormal-basis ``S^-1/2 H S^-1/2`` at fractional k, eV, ``[n_k, m, m]``.

        With an ``overlap_cutoff`` on the container the near-null directions of ``S(k)``
        are projected out and placed at :data:`~socscreen.eigensolver.GHOST_ENERGY`.
        """
        k = as_kpoints(k)
        x, dropped = self._orthonormaliser(self.ham.overlap_k(k))
        ghost = 0.0 if dropped is None else GHOST_ENERGY * dropped
        if not (self.soc and self.ham.has_soc):
            h0 = x @ self.ham.h0_k(k) @ x + ghost
            return spin_diagonal(h0) if self.spinor else h0
        # kron(I2, X) H kron(I2, X), one spin block at a time: [n_k, 2, 2, n, n]
        n = self.ham.n_orbitals
        h = self.ham.hamiltonian_k(k).reshape(len(k), 2, n, 2, n).transpose(0, 1, 3, 2, 4)
        out = x[:, None, None] @ h @ x[:, None, None]
        out[:, 0, 0] += ghost
        out[:, 1, 1] += ghost
        return out.transpose(0, 1, 3, 2, 4).reshape(len(k), 2 * n, 2 * n)

    def velocity_k(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position-gauge Hamiltonian and its Cartesian k-derivatives (exact bands at every k).

        The contract of :meth:`OrthogonalTB.velocity_k
        <socscreen.analysis.tb.OrthogonalTB.velocity_k>` (``H^I(k) = D^dagger H(k) D``,
        ``D = diag(exp(i k.tau))``, basis functions at their atoms) without a real-space
        model: the derivatives are central differences of step :data:`VELOCITY_STEP` of
        :meth:`hamiltonian_k`. Berry curvatures from it need no truncated Löwdin ``H(R)``,
        which converges slowly where ``S(k)`` is nearly singular (MX2 sheets).

        Returns
        -------
        tuple
            ``H^I(k)`` eV ``[n_k, m, m]`` and ``dH^I/dk_a`` eV Angstrom ``[n_k, 3, m, m]``
            (k Cartesian in 1/Angstrom).
        """
        k = as_kpoints(k)
        steps = VELOCITY_STEP * np.linalg.inv(2 * np.pi * np.linalg.inv(self.lattice).T)
        points = np.concatenate([k[:, None], k[:, None] + steps, k[:, None] - steps], axis=1)
        points = points.reshape(-1, 3)  # [n_k * 7, 3]: k, k + step_a, k - step_a (fractional)
        d = np.exp(2j * np.pi * (points @ self.positions.T))
        h = self.hamiltonian_k(points) * (np.conj(d)[:, :, None] * d[:, None, :])
        h = h.reshape(len(k), 7, *h.shape[1:])
        return h[:, 0], (h[:, 1:4] - h[:, 4:7]) / (2 * VELOCITY_STEP)


def chunk_size(m: int) -> int:
    """k-points per chunk so that a handful of ``[chunk, m, m]`` complex arrays fit."""
    return max(1, int(CHUNK_BYTES // (8 * 16 * m * m)))


def eigh_k(
    system: BlochSystem,
    k: np.ndarray,
    vectors: bool = False,
    bands: slice | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (and orthonormal eigenvectors) at many k, chunked to bound memory.

    Parameters
    ----------
    system
        The Bloch Hamiltonian.
    k
        Fractional k-points, shape ``[n_k, 3]``.
    vectors
        Also return eigenvectors (columns, orthonormal basis of ``system``).
    bands
        Keep only these bands (a slice over the ascending band index), e.g.
        ``slice(0, n_occ)``; ``None`` keeps all.

    Returns
    -------
    numpy.ndarray or tuple
        Energies in eV ``[n_k, n_bands]``; with ``vectors`` also ``[n_k, m, n_bands]``.
    """
    k = as_kpoints(k)
    sel = bands if bands is not None else slice(None)
    chunk = chunk_size(len(system.positions))
    energies, vecs = [], []
    for start in range(0, len(k), chunk):
        hk = system.hamiltonian_k(k[start : start + chunk])
        if vectors:
            e, v = np.linalg.eigh(hk)
            vecs.append(v[:, :, sel])
        else:
            e = np.linalg.eigvalsh(hk)
        energies.append(e[:, sel])
    e_all = np.concatenate(energies)
    return (e_all, np.concatenate(vecs)) if vectors else e_all

"""Parity eigenvalues and Fu-Kane Z2 from VASP's phase-resolved projections (no WAVECAR).

With ``LORBIT = 12`` VASP writes, besides the weights, the complex projections
``p_{a,lm}(n, k) = <Y_lm^a | psi_nk>`` of every band onto real spherical harmonics in a
sphere around each ion ``a`` (PROCAR; pymatgen's ``Procar.phase_factors``). Inversion
about a centre ``c`` maps ion ``a`` onto ion ``p(a)`` with ``2c - tau_a = tau_p(a) + L_a``
(``L_a`` a lattice vector) and ``Y_lm`` onto ``(-1)^l Y_lm``; for a Bloch state at a
time-reversal-invariant momentum (TRIM) ``k``

    ``p_a(P psi) = (-1)^l exp(2 pi i k.L_a) p_p(a)(psi)``,

the same signed permutation that :func:`socscreen.analysis.parity.parity_matrix` builds
for atom-centred orbitals. The projections span a subspace that inversion maps onto
itself, so for a parity eigenstate ``<p|P p> / <p|p> = xi = +-1`` exactly; an
incomplete projection (interstitial weight, few printed digits) only moves the estimate
towards zero, which :attr:`TrimParity.confidence` reports.

Degenerate bands are mixed arbitrarily by the eigensolver, so parities are counted per
multiplet (bands closer than a tolerance), which inversion maps onto itself: the mean
parity ``xi = sum_n <p_n|P p_n> / sum_n <p_n|p_n>`` of a multiplet of ``g`` Kramers
pairs is ``(g_+ - g_-) / g`` (for projections equally complete on all its states), so it
holds ``g (1 - xi) / 2`` odd pairs. This does not depend on how the code mixed the
degenerate states and also covers multiplets of both parities (the two-fold bands at the
X point of diamond, nearly degenerate bonding and antibonding semicore states); the
distance of that count from an integer is the multiplet's confidence (``|xi|`` for one
pair). Inversion does not act on spin, so any fixed spinor component (or combination) of
the projections that VASP prints for a non-collinear run gives the same parity; the sum
over Kramers partners makes up for a component that is small in one of them.

Fu and Kane (PRB 76, 045302, 2007): the product ``delta_i`` of the parities of the
occupied Kramers pairs at each of the 8 TRIM gives ``(nu0; nu1 nu2 nu3)``
(:func:`socscreen.analysis.parity.fu_kane_indices`). Without spin-orbit coupling every
spinless band is one spin-degenerate Kramers pair.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure
from pymatgen.electronic_structure.core import Spin
from pymatgen.io.vasp import Procar

from socscreen.analysis.parity import (
    Inversion,
    find_inversion,
    fu_kane_indices,
    parity_matrix,
)
from socscreen.analysis.vasp_bands import find_vasp_file, read_vasp_bands

__all__ = [
    "ORBITAL_L",
    "ProjectionZ2",
    "TrimParity",
    "degenerate_groups",
    "multiplet_parities",
    "odd_pair_count",
    "procar_parity_z2",
    "run_parity_z2",
]

#: Angular momentum of VASP's PROCAR orbital columns (s, p, d and f real harmonics).
ORBITAL_L: dict[str, int] = {
    "s": 0,
    **dict.fromkeys(("py", "pz", "px"), 1),
    **dict.fromkeys(("dxy", "dyz", "dz2", "dxz", "x2-y2", "dx2", "dx2-y2"), 2),
    **dict.fromkeys(("fy3x2", "fxyz", "fyz2", "fz3", "fxz2", "fzx2", "fx3"), 3),
}

#: Energy difference below which bands count as degenerate, eV.
DEGENERACY_TOL = 2e-3


@dataclass(frozen=True)
class TrimParity:
    """Parities of the occupied states at one TRIM.

    Attributes
    ----------
    trim
        The TRIM reduced to ``{0, 1/2}^3`` (fractional).
    kpoint
        The k-point of the run it was read at (fractional, may differ by a G vector).
    delta
        Product of the parities of the occupied Kramers pairs (+1 or -1).
    parities
        Mean parity of every occupied multiplet, lowest first (+-1 for one parity).
    pairs
        Kramers pairs in each multiplet (spinless bands count one pair each).
    odd_pairs
        Odd-parity Kramers pairs in each multiplet.
    confidence
        Smallest multiplet confidence ``1 - 2 |x - round(x)|`` of the odd-pair count
        ``x`` (1 for a perfect estimate, ``|parity|`` for a single pair).
    gap
        Energy between the lowest empty and the highest occupied band at this k, eV.
    """

    trim: tuple[float, float, float]
    kpoint: tuple[float, float, float]
    delta: int
    parities: list[float]
    pairs: list[int]
    odd_pairs: list[int]
    confidence: float
    gap: float


@dataclass(frozen=True)
class ProjectionZ2:
    """Fu-Kane Z2 from projections, or why it is undefined.

    Attributes
    ----------
    z2
        ``[nu0, nu1, nu2, nu3]``; ``None`` when undefined (see ``reason``).
    trims
        Per-TRIM parity products and diagnostics (empty without inversion).
    confidence
        Smallest per-TRIM confidence (0 when undefined).
    inversion_centre
        Inversion centre used, fractional; ``None`` without inversion.
    reason
        Why ``z2`` is undefined (``"no_inversion"``, ``"metal_at_trim"``,
        ``"odd_degeneracy"``), ``None`` when defined.
    """

    z2: list[int] | None
    trims: list[TrimParity] = field(default_factory=list)
    confidence: float = 0.0
    inversion_centre: tuple[float, float, float] | None = None
    reason: str | None = None

    @property
    def deltas(self) -> list[int]:
        """Per-TRIM parity products in the order of :attr:`trims`."""
        return [t.delta for t in self.trims]


def degenerate_groups(energies: np.ndarray, tol: float = DEGENERACY_TOL) -> list[np.ndarray]:
    """Split ascending band energies into runs of (near-)degenerate bands.

    Parameters
    ----------
    energies
        Ascending band energies at one k, eV, ``[n_bands]``.
    tol
        Largest gap between neighbours inside one multiplet, eV.

    Returns
    -------
    list of numpy.ndarray
        Band indices of each multiplet, in order.
    """
    breaks = np.flatnonzero(np.diff(np.asarray(energies, dtype=float)) > tol) + 1
    return np.split(np.arange(len(energies)), breaks)


def multiplet_parities(
    projections: np.ndarray, parity: np.ndarray, groups: list[np.ndarray]
) -> np.ndarray:
    """Parity estimate of each multiplet from its projections.

    Parameters
    ----------
    projections
        Complex projections ``[n_bands, n_functions]`` at one TRIM (ions times orbitals,
        flattened ion-major).
    parity
        Inversion on the projection functions at that TRIM, ``[n_functions, n_functions]``
        (:func:`~socscreen.analysis.parity.parity_matrix`, spinless).
    groups
        Band indices of each multiplet (:func:`degenerate_groups`).

    Returns
    -------
    numpy.ndarray
        ``sum_n Re<p_n|P p_n> / sum_n <p_n|p_n>`` per multiplet, in [-1, 1]; 0 for a
        multiplet without projection weight.
    """
    p = np.asarray(projections, dtype=complex)
    expectation = np.einsum("ni,ij,nj->n", p.conj(), parity, p).real  # [n_bands]
    norm = np.einsum("ni,ni->n", p.conj(), p).real
    out = np.zeros(len(groups))
    for i, g in enumerate(groups):
        weight = norm[g].sum()
        out[i] = expectation[g].sum() / weight if weight > 1e-12 else 0.0
    return out


def odd_pair_count(parity: float, pairs: int) -> tuple[int, float]:
    """Odd-parity Kramers pairs of a multiplet from its mean parity, with a confidence.

    Parameters
    ----------
    parity
        Mean parity of the multiplet (:func:`multiplet_parities`), in [-1, 1].
    pairs
        Kramers pairs in the multiplet.

    Returns
    -------
    tuple
        The count ``round(pairs (1 - parity) / 2)`` and ``1 - 2 |x - round(x)|``.
    """
    x = pairs * (1.0 - parity) / 2.0
    n = int(np.clip(np.rint(x), 0, pairs))
    return n, float(max(0.0, 1.0 - 2.0 * abs(x - n)))


def _trim_of(k: np.ndarray) -> tuple[float, float, float] | None:
    """``k`` reduced to ``{0, 1/2}^3`` if it is a TRIM (to 1e-4), else ``None``."""
    twice = 2 * np.asarray(k, dtype=float)
    if np.abs(twice - np.rint(twice)).max() > 2e-4:
        return None
    reduced = np.mod(np.rint(twice), 2) / 2
    return (float(reduced[0]), float(reduced[1]), float(reduced[2]))


def procar_parity_z2(
    procar: Procar,
    structure: Structure,
    nelect: float,
    spinor: bool,
    symprec: float = 1e-3,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> ProjectionZ2:
    """Fu-Kane Z2 from the phase-resolved projections of a PROCAR at the 8 TRIM.

    Parameters
    ----------
    procar
        A PROCAR written with ``LORBIT = 12`` (pymatgen ``Procar``) holding all 8 TRIM of
        ``structure``'s reciprocal basis among its k-points (reduced mod G).
    structure
        The run's cell, in PROCAR's ion order.
    nelect
        Electrons of the run (NELECT).
    spinor
        Non-collinear run (spinor bands, one electron each); ``False``: collinear
        ``ISPIN = 1`` bands holding two electrons each.
    symprec
        Tolerance of the inversion search, Angstrom.
    degeneracy_tol
        Bands closer than this count as one multiplet, eV.

    Returns
    -------
    ProjectionZ2

    Raises
    ------
    ValueError
        If the PROCAR has no phase factors, does not match the structure, misses a TRIM,
        or has an unknown orbital column.
    """
    phases = procar.phase_factors.get(Spin.up) if procar.phase_factors else None
    if phases is None or np.isnan(phases).all():
        raise ValueError("the PROCAR has no phase factors: run VASP with LORBIT = 12")
    if procar.nions != len(structure):
        raise ValueError(f"PROCAR has {procar.nions} ions, the structure {len(structure)}")
    unknown = [o for o in procar.orbitals if o not in ORBITAL_L]
    if unknown:
        raise ValueError(f"unknown PROCAR orbital column(s) {unknown}")

    inversion = find_inversion(
        structure.frac_coords,
        structure.lattice.matrix,
        np.asarray(structure.atomic_numbers),
        symprec=symprec,
    )
    if inversion is None:
        return ProjectionZ2(z2=None, reason="no_inversion")

    trim_index: dict[tuple[float, float, float], int] = {}
    for i, k in enumerate(np.asarray(procar.kpoints, dtype=float)):
        trim = _trim_of(k)
        if trim is not None:
            trim_index.setdefault(trim, i)
    wanted = [(a / 2, b / 2, c / 2) for a in (0, 1) for b in (0, 1) for c in (0, 1)]
    missing = [t for t in wanted if t not in trim_index]
    if missing:
        raise ValueError(f"the PROCAR lacks the TRIM {missing} (fractional, reduced)")

    n_occ = int(round(nelect)) if spinor else int(round(nelect)) // 2
    trims = [
        _trim_parity(procar, inversion, trim_index[t], t, n_occ, spinor, degeneracy_tol)
        for t in wanted
    ]
    centre = tuple(float(x) for x in inversion.centre)
    failed = [t for t in trims if isinstance(t, str)]
    if failed:
        return ProjectionZ2(z2=None, inversion_centre=centre, reason=failed[0])
    return ProjectionZ2(
        z2=fu_kane_indices(np.array(wanted), np.array([t.delta for t in trims])),
        trims=trims,
        confidence=float(min(t.confidence for t in trims)),
        inversion_centre=centre,
    )


def _trim_parity(
    procar: Procar,
    inversion: Inversion,
    ik: int,
    trim: tuple[float, float, float],
    n_occ: int,
    spinor: bool,
    tol: float,
) -> TrimParity | str:
    """Parity product at one TRIM, or why there is none.

    Returns ``"metal_at_trim"`` if a multiplet straddles the filling and
    ``"odd_degeneracy"`` if an occupied spinor multiplet has an odd number of bands.
    """
    energies = np.asarray(procar.eigenvalues[Spin.up][ik], dtype=float)
    order = np.argsort(energies)
    energies = energies[order]
    if n_occ >= len(energies):
        raise ValueError(f"the PROCAR has {len(energies)} bands, none above the {n_occ} filled")
    n_ions, n_orb = procar.phase_factors[Spin.up].shape[2:]
    projections = procar.phase_factors[Spin.up][ik][order].reshape(len(energies), n_ions * n_orb)
    groups = [g for g in degenerate_groups(energies, tol) if g[0] < n_occ]
    if groups[-1][-1] >= n_occ:
        return "metal_at_trim"  # a multiplet is partly filled: no gap at this TRIM
    if spinor and any(len(g) % 2 for g in groups):
        return "odd_degeneracy"  # Kramers pairs broken: not time-reversal symmetric
    pairs = [len(g) // 2 if spinor else len(g) for g in groups]
    ell = np.array([ORBITAL_L[o] for o in procar.orbitals])
    p_matrix = parity_matrix(
        inversion,
        atom_of_orbital=np.repeat(np.arange(n_ions), n_orb),
        l_of_orbital=np.tile(ell, n_ions),
        offsets=np.arange(n_ions + 1) * n_orb,
        k=np.asarray(procar.kpoints[ik], dtype=float),
        spinor=False,
    )
    xi = multiplet_parities(np.nan_to_num(projections), p_matrix, groups)
    counts = [odd_pair_count(x, n) for x, n in zip(xi, pairs, strict=True)]
    odd = sum(n for n, _ in counts)
    return TrimParity(
        trim=trim,
        kpoint=tuple(float(x) for x in procar.kpoints[ik]),
        delta=-1 if odd % 2 else 1,
        parities=[float(x) for x in xi],
        pairs=pairs,
        odd_pairs=[n for n, _ in counts],
        confidence=min(c for _, c in counts),
        gap=float(energies[n_occ] - energies[n_occ - 1]),
    )


def run_parity_z2(
    directory: str | os.PathLike,
    symprec: float = 1e-3,
    degeneracy_tol: float = DEGENERACY_TOL,
) -> ProjectionZ2:
    """Fu-Kane Z2 of the VASP run in ``directory`` (its ``vasprun.xml`` and ``PROCAR``).

    Parameters
    ----------
    directory
        Folder of a run at (at least) the 8 TRIM with ``LORBIT = 12``; atomate2's
        ``host:/path`` form is accepted.
    symprec, degeneracy_tol
        As in :func:`procar_parity_z2`.
    """
    bands = read_vasp_bands(directory)
    procar = Procar(str(find_vasp_file(directory, "PROCAR")))
    return procar_parity_z2(
        procar, bands.structure, bands.nelect, bands.spinor, symprec, degeneracy_tol
    )

"""Atom-centred orbital tables: which (atom, shell, l, m) each basis function is.

Conventions
-----------
Orbitals are real spherical harmonics times a radial function, grouped per atom in the
order of the atoms of the structure, and per atom in shells (one radial function and one
angular momentum ``l`` each) with ``m = -l..l`` inside a shell. The order of ``m`` within
a shell follows GPAW's real harmonics, whose polar axis is Cartesian z:

* l = 1: (y, z, x)
* l = 2: (xy, yz, 3z^2 - r^2, xz, x^2 - y^2)
* l = 3: m = -3..3 in the same scheme (sin for m < 0, cos for m > 0).

:mod:`socscreen.model` builds angular-momentum matrices and Wigner-D matrices in exactly
this basis; nothing else in the project needs to know the m ordering.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Element

__all__ = ["OrbitalTable", "shells_from_l_sequence"]


def shells_from_l_sequence(l_of_orbitals: np.ndarray) -> tuple[int, ...]:
    """Split one atom's orbital angular momenta into shells.

    Parameters
    ----------
    l_of_orbitals
        Angular momentum of each orbital of one atom, in storage order.

    Returns
    -------
    tuple of int
        Angular momentum of each shell, e.g. ``(0, 1, 2, 2)`` for s, p, d, d.

    Raises
    ------
    ValueError
        If a shell is cut short (fewer than 2l + 1 consecutive orbitals of equal l).
    """
    shells: list[int] = []
    i = 0
    n = len(l_of_orbitals)
    while i < n:
        ell = int(l_of_orbitals[i])
        width = 2 * ell + 1
        if i + width > n or np.any(l_of_orbitals[i : i + width] != ell):
            raise ValueError(
                f"orbitals {i}..{i + width - 1} do not form a complete l={ell} shell"
            )
        shells.append(ell)
        i += width
    return tuple(shells)


@dataclass(frozen=True)
class OrbitalTable:
    """Orbital basis of one structure.

    Attributes
    ----------
    numbers
        Atomic number of each atom, shape ``[n_atoms]``.
    element_shells
        Shell angular momenta per element symbol, e.g. ``{"Bi": (0, 1, 2, 2)}``.
    basis_name
        Name of the basis set, e.g. ``"szp(dzp)"`` (GPAW subset syntax).
    """

    numbers: tuple[int, ...]
    element_shells: dict[str, tuple[int, ...]]
    basis_name: str = "szp(dzp)"

    def __post_init__(self) -> None:
        missing = sorted(
            {Element.from_Z(z).symbol for z in self.numbers} - set(self.element_shells)
        )
        if missing:
            raise ValueError(f"no orbital shells given for element(s) {missing}")

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def from_l_and_atom(
        cls,
        numbers: np.ndarray,
        l_of_orbital: np.ndarray,
        atom_of_orbital: np.ndarray,
        basis_name: str = "szp(dzp)",
    ) -> OrbitalTable:
        """Build the table from per-orbital ``l`` and atom index (corpus ``l_M``, ``a_M``).

        Raises
        ------
        ValueError
            If orbitals are not grouped by atom in increasing order, or if two atoms of
            the same element carry different shells.
        """
        numbers = np.asarray(numbers, dtype=int)
        l_of_orbital = np.asarray(l_of_orbital, dtype=int)
        atom_of_orbital = np.asarray(atom_of_orbital, dtype=int)
        if np.any(np.diff(atom_of_orbital) < 0):
            raise ValueError("orbitals must be grouped by atom in increasing atom order")
        element_shells: dict[str, tuple[int, ...]] = {}
        for a, z in enumerate(numbers):
            shells = shells_from_l_sequence(l_of_orbital[atom_of_orbital == a])
            symbol = Element.from_Z(int(z)).symbol
            if element_shells.setdefault(symbol, shells) != shells:
                raise ValueError(
                    f"atoms of {symbol} carry different shells: "
                    f"{element_shells[symbol]} and {shells}"
                )
        return cls(tuple(int(z) for z in numbers), element_shells, basis_name)

    # -- per-atom and per-orbital views -------------------------------------------------
    @property
    def symbols(self) -> list[str]:
        """Element symbol of each atom."""
        return [Element.from_Z(z).symbol for z in self.numbers]

    def shells_of_atom(self, atom: int) -> tuple[int, ...]:
        """Shell angular momenta of one atom."""
        return self.element_shells[Element.from_Z(self.numbers[atom]).symbol]

    @property
    def orbitals_per_atom(self) -> np.ndarray:
        """Number of orbitals of each atom, shape ``[n_atoms]`` (GPAW ``nao_a``)."""
        return np.array(
            [sum(2 * ell + 1 for ell in self.shells_of_atom(a)) for a in range(len(self.numbers))],
            dtype=int,
        )

    @property
    def n_orbitals(self) -> int:
        """Total number of (spinless) orbitals."""
        return int(self.orbitals_per_atom.sum())

    @property
    def atom_offsets(self) -> np.ndarray:
        """Index of each atom's first orbital, shape ``[n_atoms + 1]`` (last = total)."""
        return np.concatenate([[0], np.cumsum(self.orbitals_per_atom)])

    def _per_orbital(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        atom, ell, m, shell = [], [], [], []
        for a in range(len(self.numbers)):
            for s, l_shell in enumerate(self.shells_of_atom(a)):
                for mm in range(-l_shell, l_shell + 1):
                    atom.append(a)
                    ell.append(l_shell)
                    m.append(mm)
                    shell.append(s)
        return tuple(np.array(x, dtype=int) for x in (atom, ell, m, shell))  # type: ignore[return-value]

    @property
    def atom_of_orbital(self) -> np.ndarray:
        """Atom index of each orbital, shape ``[n_orbitals]`` (corpus ``a_M``)."""
        return self._per_orbital()[0]

    @property
    def l_of_orbital(self) -> np.ndarray:
        """Angular momentum of each orbital, shape ``[n_orbitals]`` (corpus ``l_M``)."""
        return self._per_orbital()[1]

    @property
    def m_of_orbital(self) -> np.ndarray:
        """Magnetic index m = -l..l of each orbital (GPAW real-harmonic order)."""
        return self._per_orbital()[2]

    @property
    def shell_of_orbital(self) -> np.ndarray:
        """Shell index within its atom of each orbital, shape ``[n_orbitals]``."""
        return self._per_orbital()[3]

    def as_dict(self) -> dict:
        """JSON-ready representation."""
        return {
            "numbers": list(self.numbers),
            "element_shells": {k: list(v) for k, v in self.element_shells.items()},
            "basis_name": self.basis_name,
        }

    @classmethod
    def from_dict(cls, d: dict) -> OrbitalTable:
        """Inverse of :meth:`as_dict`."""
        return cls(
            tuple(int(z) for z in d["numbers"]),
            {k: tuple(int(x) for x in v) for k, v in d["element_shells"].items()},
            d.get("basis_name", "szp(dzp)"),
        )

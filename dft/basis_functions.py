"""GPAW LCAO basis sets read from the ``gpaw-data`` files, with GPAW's subset selection.

GPAW ships ``<Symbol>.dzp.basis(.gz)`` files only; smaller bases are subsets named
``reduced(file)``, e.g. ``"szp(dzp)"``: the file ``<Symbol>.dzp.basis`` reduced to
single-zeta plus one polarisation function. :func:`load_basis` reproduces
``gpaw.basis_data.Basis.reduce`` exactly:

* the zeta and polarisation counts come from the reduced name (``sz``, ``dz``, ``szp``,
  ``dzp``, ``tz2p``, ``4z3p``, ...);
* functions are kept in file order; a function whose type contains ``"polarization"``
  is kept while fewer than the polarisation count were kept; any other function is keyed
  by its ``(n, l)`` from the first two characters of its type (``"6p-sz ..."`` → (6, 1))
  and kept while fewer than the zeta count of that ``(n, l)`` were kept.

A name without parentheses (``"dzp"``) reads ``<Symbol>.<name>.basis`` unreduced. Shell
order, and therefore orbital order, is the order of the kept functions (GPAW's order).
Radial functions are GPAW's splines (:class:`~socscreen.dft.radial.RadialFunction`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pymatgen.core.periodic_table import Element

from socscreen.dft.gpaw_files import (
    BOHR,
    DataFileNotFoundError,
    find_data_file,
    read_data_file,
    setup_paths,
)
from socscreen.dft.paw_setups import valence_electrons
from socscreen.dft.radial import RadialFunction, radial_grid_from_attributes

__all__ = [
    "ElementBasis",
    "cutoff_radius",
    "element_shells",
    "load_basis",
    "parse_basis_name",
    "valence_electrons",
]

_COUNT_LETTERS = {"s": 1, "d": 2, "t": 3, "q": 4}
#: GPAW's spline resolution for basis functions on non-uniform grids (``Basis.tosplines``).
_BASIS_SPLINE_POINTS = 400


def _count(character: str, name: str) -> int:
    if character in _COUNT_LETTERS:
        return _COUNT_LETTERS[character]
    if character.isdigit():
        return int(character)
    raise ValueError(f"invalid basis name {name!r}: cannot read a count from {character!r}")


def parse_basis_name(name: str) -> tuple[int, int]:
    """Zeta and polarisation counts of a basis type such as ``"szp"`` or ``"4z3p"``.

    Raises
    ------
    ValueError
        If the name does not follow GPAW's ``<zeta>z[<pol>]p`` pattern.
    """
    if len(name) < 2 or name[1] != "z" or len(name) > 4:
        raise ValueError(f"invalid basis name {name!r}: expected e.g. 'sz', 'dzp', 'tz2p'")
    zeta = _count(name[0], name)
    if len(name) == 2:
        return zeta, 0
    if name[-1] != "p":
        raise ValueError(f"invalid basis name {name!r}: polarisation part must end in 'p'")
    return zeta, 1 if len(name) == 3 else _count(name[2], name)


def _split_basis_name(basis_name: str) -> tuple[str | None, str]:
    """``"szp(dzp)"`` → ``("szp", "dzp")``; ``"dzp"`` → ``(None, "dzp")``."""
    match = re.fullmatch(r"([^()]+)\(([^()]+)\)", basis_name)
    if match:
        return match.group(1), match.group(2)
    if "(" in basis_name or ")" in basis_name or not basis_name:
        raise ValueError(f"invalid basis name {basis_name!r}: expected e.g. 'szp(dzp)' or 'dzp'")
    return None, basis_name


@dataclass(frozen=True, eq=False)
class ElementBasis:
    """The LCAO basis of one element.

    Attributes
    ----------
    symbol
        Element symbol.
    basis_name
        GPAW basis name, e.g. ``"szp(dzp)"``.
    path
        File the functions were read from.
    functions
        Radial functions of the shells, in GPAW (orbital) order; radii in Bohr.
    """

    symbol: str
    basis_name: str
    path: Path
    functions: tuple[RadialFunction, ...]

    @property
    def shells(self) -> tuple[int, ...]:
        """Angular momentum of each shell, in GPAW order."""
        return tuple(f.ell for f in self.functions)

    @property
    def shell_cutoffs(self) -> tuple[float, ...]:
        """Cutoff radius of each shell, Angstrom."""
        return tuple(f.cutoff * BOHR for f in self.functions)

    @property
    def cutoff(self) -> float:
        """Largest shell cutoff radius, Angstrom."""
        return max(self.shell_cutoffs)

    @property
    def n_orbitals(self) -> int:
        """Number of orbitals (sum of 2l + 1 over shells)."""
        return sum(2 * ell + 1 for ell in self.shells)


def _reduce(functions: list[tuple[str, RadialFunction]], reduced: str, where: str) -> list:
    zeta, polarisation = parse_basis_name(reduced)
    kept, per_nl, n_pol = [], {}, 0
    for kind, function in functions:
        if "polarization" in kind:
            if n_pol < polarisation:
                kept.append(function)
                n_pol += 1
            continue
        if len(kind) < 2 or not kind[0].isdigit() or kind[1] not in "spdf":
            raise ValueError(
                f"cannot reduce {Path(where).name} to {reduced!r}: its function {kind!r} names "
                "no (n, l) shell (GPAW cannot either)"
            )
        nl = (int(kind[0]), "spdf".index(kind[1]))
        if per_nl.get(nl, 0) < zeta:
            kept.append(function)
            per_nl[nl] = per_nl.get(nl, 0) + 1
    return kept


@cache
def _load_basis(symbol: str, basis_name: str, paths: tuple[Path, ...]) -> ElementBasis:
    reduced, file_name = _split_basis_name(basis_name)
    try:
        path = find_data_file(f"{symbol}.{file_name}.basis", paths)
    except DataFileNotFoundError as error:
        raise DataFileNotFoundError(
            f"no GPAW basis file for element {symbol!r} (basis {basis_name!r}): {error}"
        ) from None
    root = ET.fromstring(read_data_file(path))
    grids = {g.get("id"): radial_grid_from_attributes(g.attrib) for g in root.iter("radial_grid")}
    functions = []
    for element in root.iter("basis_function"):
        kind = element.get("type", "")
        if kind == "auxiliary":
            continue
        grid = grids[element.get("grid")]
        values = [float(x) for x in element.text.split()]
        ell = int(element.get("l"))
        function = RadialFunction.from_grid(
            grid,
            values,
            ell,
            cutoff=float(element.get("rc")),
            points=_BASIS_SPLINE_POINTS,
            label=kind,
        )
        functions.append((kind, function))
    if reduced is None:
        kept = [function for _, function in functions]
    else:
        kept = _reduce(functions, reduced, str(path))
    if not kept:
        raise ValueError(f"basis {basis_name!r} of {symbol} has no functions")
    return ElementBasis(symbol, basis_name, path, tuple(kept))


def _check_symbol(symbol: str) -> str:
    if not isinstance(symbol, str) or not Element.is_valid_symbol(symbol):
        raise ValueError(f"{symbol!r} is not a chemical element symbol")
    return symbol


def load_basis(symbol: str, basis_name: str = "szp(dzp)") -> ElementBasis:
    """Load an element's LCAO basis as GPAW would (cached).

    Parameters
    ----------
    symbol
        Element symbol, e.g. ``"Bi"``.
    basis_name
        GPAW basis name: ``"szp(dzp)"`` (default, the corpus basis), ``"sz(dzp)"``,
        ``"dzp"``, ...

    Returns
    -------
    ElementBasis
        Shells in GPAW order with their radial functions and cutoffs.

    Raises
    ------
    ValueError
        For an unknown element symbol, a malformed basis name, a file GPAW cannot reduce,
        or (:class:`~socscreen.dft.gpaw_files.DataFileNotFoundError`) an element without
        a basis file in ``GPAW_SETUP_PATH`` / ``gpaw-data``.
    """
    return _load_basis(_check_symbol(symbol), basis_name, setup_paths())


def cutoff_radius(symbol: str, basis_name: str = "szp(dzp)") -> float:
    """Largest cutoff radius of an element's basis functions, Angstrom."""
    return load_basis(symbol, basis_name).cutoff


def element_shells(symbol: str, basis_name: str = "szp(dzp)") -> tuple[int, ...]:
    """Angular momenta of an element's shells in GPAW order, e.g. Bi szp → (0, 1, 2, 2)."""
    return load_basis(symbol, basis_name).shells

"""Free-atom levels and chemical hardness (Hubbard U) from GPAW's all-electron atom solver.

The self-consistent charge correction (:mod:`socscreen.dft.charge_correction`) needs, per
element, how much an atom's valence levels rise when it gains electrons: DFTB's Hubbard
parameters ``U_ll' = dε_l / dn_l'`` (eV per electron), the derivative of the highest
occupied Kohn-Sham level of angular momentum ``l`` with respect to the occupation of the
highest occupied level of ``l'``, in the neutral, spherical, non-spin-polarised,
scalar-relativistic PBE atom. By Janak's theorem these are second derivatives of the
energy (the chemical hardness in the DFT sense). They are properties of the free atom
alone: nothing is fitted to the corpus. DFTB's own PBE values agree (H 11.4, O 13.5 eV).

Computed with ``gpaw.atom.aeatom.AllElectronAtom`` by one-sided differences
(:data:`CHARGE_STEP` electrons taken from each occupied ``l``). The values of every element
with a GPAW PAW setup ship in ``data/hubbard_u.json`` (``python -m socscreen.dft.hubbard``
rewrites it); an element missing there is computed on first use (a few seconds) and kept
for the process.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["CHARGE_STEP", "AtomicHardness", "atomic_hardness", "hubbard_u", "write_table"]

#: Electrons removed from a level for the finite difference.
CHARGE_STEP = 0.05

#: The shipped table: ``{"Zr": {"levels": {"0": -4.27, ...}, "derivatives": {"0,2": ...}}}``.
TABLE = "data/hubbard_u.json"


@dataclass(frozen=True)
class AtomicHardness:
    """Valence levels and their charge derivatives of one free atom.

    Attributes
    ----------
    symbol
        Element.
    levels
        Highest occupied Kohn-Sham level of each occupied ``l`` (eV), core included.
    derivatives
        ``derivatives[(l, l2)] = dε_l / dn_l2`` (eV per electron) for occupied l, l2.
    """

    symbol: str
    levels: dict[int, float]
    derivatives: dict[tuple[int, int], float]

    @property
    def homo(self) -> int:
        """Angular momentum of the highest occupied level."""
        return max(self.levels, key=self.levels.__getitem__)

    def u(self, l1: int, l2: int) -> float:
        """Symmetrised ``U_l1l2`` (eV); an unoccupied ``l`` stands in for the HOMO's."""
        l1 = l1 if l1 in self.levels else self.homo
        l2 = l2 if l2 in self.levels else self.homo
        return 0.5 * (self.derivatives[(l1, l2)] + self.derivatives[(l2, l1)])

    def as_dict(self) -> dict:
        """JSON form of the shipped table (eV, keys ``"l"`` and ``"l1,l2"``)."""
        return {
            "levels": {str(ell): round(e, 4) for ell, e in self.levels.items()},
            "derivatives": {f"{a},{b}": round(v, 4) for (a, b), v in self.derivatives.items()},
        }

    @classmethod
    def from_dict(cls, symbol: str, d: dict) -> AtomicHardness:
        """Read an element's entry of the shipped table (:meth:`as_dict`)."""
        return cls(
            symbol,
            {int(ell): float(e) for ell, e in d["levels"].items()},
            {
                (int(k.split(",")[0]), int(k.split(",")[1])): float(v)
                for k, v in d["derivatives"].items()
            },
        )


def _levels(symbol: str, removed: tuple[int, int] | None) -> dict[int, tuple[int, float]]:
    """Return ``{l: (n, ε in eV)}``, the highest occupied level of each l.

    With ``removed = (n, l)``, :data:`CHARGE_STEP` electrons are taken from that level first.
    """
    from ase.units import Ha
    from gpaw.atom.aeatom import AllElectronAtom

    atom = AllElectronAtom(symbol, xc="PBE", log=io.StringIO())
    if removed is not None:
        atom.add(*removed, -CHARGE_STEP)
    atom.initialize()
    atom.run()
    out = {}
    for channel in atom.channels:
        occupied = [n for n, f in enumerate(channel.f_n) if f > 0]
        if occupied:
            n = occupied[-1]
            out[channel.l] = (n + channel.l + 1, float(channel.e_n[n]) * Ha)
    return out


def atomic_hardness(symbol: str) -> AtomicHardness:
    """Levels and Hubbard derivatives of a free atom, computed now with GPAW's atom solver.

    Raises
    ------
    ValueError
        If GPAW's atom solver does not know the element or gives a non-positive hardness.
    """
    try:
        neutral = _levels(symbol, None)
        derivatives = {}
        for l2, (n2, _) in neutral.items():
            ionised = _levels(symbol, (n2, l2))
            for l1, (_, e) in neutral.items():
                derivatives[(l1, l2)] = (e - ionised[l1][1]) / CHARGE_STEP
    except (KeyError, RuntimeError, ValueError, FloatingPointError) as error:
        raise ValueError(f"no atomic hardness for {symbol}: {error}") from error
    hardness = AtomicHardness(symbol, {ell: e for ell, (_, e) in neutral.items()}, derivatives)
    u = hardness.u(hardness.homo, hardness.homo)
    if not 0.0 < u < 50.0:
        raise ValueError(f"atomic hardness of {symbol} came out {u:.2f} eV: rejected")
    return hardness


@cache
def _shipped() -> dict[str, dict]:
    path = resources.files("socscreen.dft") / TABLE
    return json.loads(path.read_text()) if path.is_file() else {}


@cache
def hardness_of(symbol: str) -> AtomicHardness:
    """Return an element's :class:`AtomicHardness`: the shipped table, else computed now."""
    shipped = _shipped()
    if symbol in shipped:
        return AtomicHardness.from_dict(symbol, shipped[symbol])
    return atomic_hardness(symbol)


def hubbard_u(symbol: str) -> float:
    """Hubbard U of an element (eV per electron): ``dε_HOMO / dn_HOMO`` of the free atom."""
    h = hardness_of(symbol)
    return h.u(h.homo, h.homo)


def write_table(path: Path, symbols: list[str]) -> dict[str, str]:
    """Compute the hardness of ``symbols`` and write them as JSON; returns the failures."""
    table, failures = {}, {}
    for symbol in symbols:
        try:
            table[symbol] = atomic_hardness(symbol).as_dict()
        except ValueError as error:
            failures[symbol] = str(error)
        print(f"{symbol:3s} {'ok' if symbol in table else 'failed'}", file=sys.stderr, flush=True)
    path.write_text(json.dumps(table, indent=1) + "\n")
    return failures


if __name__ == "__main__":
    from pymatgen.core import Element

    from socscreen.dft.paw_setups import valence_electrons

    def has_setup(symbol: str) -> bool:
        try:
            valence_electrons(symbol)
        except ValueError:
            return False
        return True

    elements = [e.symbol for e in Element if e.Z <= 86 and has_setup(e.symbol)]
    target = Path(str(resources.files("socscreen.dft"))) / TABLE
    target.parent.mkdir(exist_ok=True)
    failed = write_table(target, elements)
    print(f"wrote {target}: {len(elements) - len(failed)} elements; failed: {failed or 'none'}")

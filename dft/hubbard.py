"""Chemical hardness (Hubbard U) of free atoms from GPAW's all-electron atom solver.

The self-consistent charge correction (:mod:`socscreen.dft.charge_correction`) needs, per
element, how much an atom's valence level rises when it gains electrons: the Hubbard
parameter of DFTB, ``U = dε_HOMO / dn`` (eV per electron), the derivative of the highest
occupied Kohn-Sham eigenvalue of the neutral, spherical, non-spin-polarised PBE atom with
respect to its own occupation (Janak's theorem makes it the second derivative of the
energy, i.e. the chemical hardness in the DFT sense). It is a property of the free atom
alone: nothing is fitted to the corpus.

Computed with ``gpaw.atom.aeatom.AllElectronAtom`` (scalar-relativistic, PBE) by a
one-sided difference: the HOMO eigenvalue of the neutral atom and of the atom with
:data:`CHARGE_STEP` electrons taken from the HOMO. Values for every element with a GPAW
PAW setup ship in ``data/hubbard_u.json`` (``python -m socscreen.dft.hubbard`` rewrites
it); an element missing there is computed on first use (about one second) and cached for
the process. For reference, DFTB's own PBE values agree: H 11.4, O 13.5 eV.
"""

from __future__ import annotations

import io
import json
import sys
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["CHARGE_STEP", "atomic_hardness", "hubbard_u", "write_table"]

#: Electrons removed from the HOMO for the finite difference.
CHARGE_STEP = 0.05

#: The shipped table, ``{"H": 11.54, ...}`` in eV per electron.
TABLE = "data/hubbard_u.json"


def _homo_eigenvalues(symbol: str, removed: float) -> tuple[float, float]:
    """HOMO eigenvalue (eV) of the neutral atom and with ``removed`` electrons taken out."""
    from ase.units import Ha
    from gpaw.atom.aeatom import AllElectronAtom

    def levels(homo: tuple[int, int] | None) -> dict[tuple[int, int], float]:
        atom = AllElectronAtom(symbol, xc="PBE", log=io.StringIO())
        if homo is not None:
            atom.add(*homo, -removed)
        atom.initialize()
        atom.run()
        return {
            (n + channel.l + 1, channel.l): float(e) * Ha
            for channel in atom.channels
            for n, (e, f) in enumerate(zip(channel.e_n, channel.f_n))
            if f > 0
        }

    neutral = levels(None)
    homo = max(neutral, key=neutral.__getitem__)
    return neutral[homo], levels(homo)[homo]


def atomic_hardness(symbol: str) -> float:
    """Hubbard U (eV per electron) of a free atom, computed now with GPAW's atom solver.

    Raises
    ------
    ValueError
        If GPAW's atom solver does not know the element or does not converge.
    """
    try:
        neutral, ionised = _homo_eigenvalues(symbol, CHARGE_STEP)
    except (KeyError, RuntimeError, ValueError, FloatingPointError) as error:
        raise ValueError(f"no atomic hardness for {symbol}: {error}") from error
    hardness = (neutral - ionised) / CHARGE_STEP
    if not 0.0 < hardness < 50.0:
        raise ValueError(f"atomic hardness of {symbol} came out {hardness:.2f} eV: rejected")
    return hardness


@cache
def _shipped() -> dict[str, float]:
    path = resources.files("socscreen.dft") / TABLE
    return json.loads(path.read_text()) if path.is_file() else {}


@cache
def hubbard_u(symbol: str) -> float:
    """Hubbard U (eV per electron) of an element: the shipped table, else computed now."""
    shipped = _shipped()
    return shipped[symbol] if symbol in shipped else atomic_hardness(symbol)


def write_table(path: Path, symbols: list[str]) -> dict[str, str]:
    """Compute the hardness of ``symbols`` and write them as JSON; returns the failures."""
    table, failures = {}, {}
    for symbol in symbols:
        try:
            table[symbol] = round(atomic_hardness(symbol), 4)
        except ValueError as error:
            failures[symbol] = str(error)
        print(f"{symbol:3s} {table.get(symbol, 'failed')}", file=sys.stderr, flush=True)
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

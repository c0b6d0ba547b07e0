"""Charge-transfer training crystals: nitrides, oxides, halides and halide perovskites.

H(0), the sum of neutral atoms, is furthest from self-consistency where the most charge
moves between atoms: crystals of a light anion (N, O, F, Cl) and the halide perovskites.
The bulk fills of :mod:`~socscreen.corpus.training_structures` draw heavy elements
three times as often (spin-orbit coupling), so a corpus made of them holds few such
cells. From seed ``IONIC_SEEDS_FROM`` on, a share ``IONIC_FRACTION`` of the bulk seeds
(both in :mod:`~socscreen.corpus.training_structures`) is drawn here instead:

* **real compounds** (:data:`IONIC_COMPOUNDS`, ``IONIC_REAL_FRACTION`` of the time) at
  their room-temperature experimental lattice constants: III-nitrides, rocksalt and
  wurtzite oxides, transition-metal nitrides, alkali and alkaline-earth halides, oxide and
  halide perovskites;
* **prototype fills** (:data:`IONIC_PROTOTYPES`): rocksalt, zincblende, wurtzite,
  fluorite, CsCl and cubic perovskite cells at covalent-radius bond lengths, filled with
  a cation and an anion of matching charge, every element of a pool equally likely.

Every crystal is then strained and rattled like the other training cells, so none sits
at an experimental geometry; ``properties`` are those of
:func:`~socscreen.corpus.training_structures.training_structure` plus
``family = "ionic"``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from pymatgen.core import Structure

from socscreen.corpus.training_structures import (
    PROTOTYPES,
    REAL_COMPOUNDS,
    Prototype,
    RealCompound,
    _real,
    cscl,
    draw_crystal,
    fluorite,
    perovskite,
    perturb,
    provenance,
    rocksalt,
    wurtzite,
    zincblende,
)

__all__ = [
    "IONIC_COMPOUNDS",
    "IONIC_PROTOTYPES",
    "training_ionic_crystal",
]

#: Fraction of ionic crystals that perturb a real compound rather than fill a prototype.
IONIC_REAL_FRACTION = 0.4

Pool = tuple[tuple[str, ...], ...]


def _pools(*families: tuple[float, Pool]):
    """Chemistry drawing one family (by weight), then one element of each of its pools."""
    weights = np.array([w for w, _ in families])

    def draw(rng: np.random.Generator) -> list[str]:
        _, pools = families[rng.choice(len(families), p=weights / weights.sum())]
        return [str(rng.choice(pool)) for pool in pools]

    return draw


_HALIDES = ("F", "Cl")
_ALKALIS = ("Li", "Na", "K", "Rb", "Ag")
_ALKALINE_EARTHS = ("Mg", "Ca", "Sr", "Ba", "Zn", "Cd")
_NITRIDE_METALS = ("Sc", "Y", "Ti", "Zr", "Hf", "In")

#: Prototype fills of ionic chemistry (element roles as in ``PROTOTYPES``).
IONIC_PROTOTYPES: dict[str, Prototype] = {
    p.name: p
    for p in [
        replace(
            PROTOTYPES["rocksalt"],
            chemistry=_pools(
                (1, (_ALKALIS, _HALIDES)),
                (1, (_ALKALINE_EARTHS, ("O",))),
                (1, (_NITRIDE_METALS, ("N",))),
            ),
            weight=4,
        ),
        *(
            replace(
                PROTOTYPES[name],
                chemistry=_pools(
                    (0.5, (("B", "Al", "Ga", "In"), ("N",))),
                    (0.35, (("Be", "Mg", "Zn", "Cd"), ("O",))),
                    (0.15, (("Cu", "Ag"), _HALIDES)),
                ),
                weight=weight,
            )
            for name, weight in (("zincblende", 2), ("wurtzite", 3))
        ),
        replace(  # [fcc site, tetrahedral site]: fluorides, or antifluorite oxides
            PROTOTYPES["fluorite"],
            chemistry=_pools(
                (0.6, (("Ca", "Sr", "Ba", "Cd", "Hg", "Pb"), ("F",))),
                (0.4, (("O",), ("Li", "Na", "K"))),
            ),
            weight=2,
        ),
        replace(
            PROTOTYPES["cesiumchloride"],
            chemistry=_pools((1, (("K", "Rb", "Cs", "Tl"), _HALIDES))),
            weight=1,
        ),
        replace(
            PROTOTYPES["perovskite"],
            chemistry=_pools(
                (0.5, (("K", "Rb", "Cs"), ("Ge", "Sn", "Pb"), ("F", "Cl", "Br", "I"))),
                (0.35, (("Ca", "Sr", "Ba"), ("Ti", "Zr", "Hf", "Sn"), ("O",))),
                (0.15, (("Na", "K"), ("Nb", "Ta"), ("O",))),
            ),
            weight=3,
        ),
    ]
}


def _known(*names: str) -> tuple[RealCompound, ...]:
    by_name = {c.name: c for c in REAL_COMPOUNDS}
    return tuple(by_name[name] for name in names)


#: Ionic real compounds at room-temperature experimental lattice constants (Angstrom);
#: cubic BaTiO3 and KNbO3 at their high-temperature cubic cells. Those already among
#: ``REAL_COMPOUNDS`` are taken from there. None is a compound of the hold-out benchmark
#: (``benchmarks/data/holdout``: GaN, CaF2, NaCl, CsI, CsPbI3 are its ionic ones): what
#: the model learns here must carry over to them, not be them.
IONIC_COMPOUNDS: tuple[RealCompound, ...] = (
    *_known("InN", "ScN", "LiF", "KBr", "SrTiO3", "KTaO3", "CsPbBr3", "CsSnI3", "CsSnBr3"),
    _real("AlN", "wurtzite", wurtzite, "Al", "N", a=3.112, c=4.982, u=0.382),
    _real("ZnO", "wurtzite", wurtzite, "Zn", "O", a=3.250, c=5.207, u=0.382),
    _real("BeO", "wurtzite", wurtzite, "Be", "O", a=2.698, c=4.378, u=0.378),
    _real("BN", "zincblende", zincblende, "B", "N", a=3.615),
    _real("ZnS", "zincblende", zincblende, "Zn", "S", a=5.409),
    _real("CuCl", "zincblende", zincblende, "Cu", "Cl", a=5.416),
    _real("MgO", "rocksalt", rocksalt, "Mg", "O", a=4.212),
    _real("CaO", "rocksalt", rocksalt, "Ca", "O", a=4.811),
    _real("SrO", "rocksalt", rocksalt, "Sr", "O", a=5.160),
    _real("BaO", "rocksalt", rocksalt, "Ba", "O", a=5.523),
    _real("CdO", "rocksalt", rocksalt, "Cd", "O", a=4.695),
    _real("TiN", "rocksalt", rocksalt, "Ti", "N", a=4.240),
    _real("ZrN", "rocksalt", rocksalt, "Zr", "N", a=4.578),
    _real("NaF", "rocksalt", rocksalt, "Na", "F", a=4.634),
    _real("KF", "rocksalt", rocksalt, "K", "F", a=5.347),
    _real("KCl", "rocksalt", rocksalt, "K", "Cl", a=6.293),
    _real("CsCl", "cesiumchloride", cscl, "Cs", "Cl", a=4.123),
    _real("SrF2", "fluorite", fluorite, "Sr", "F", a=5.800),
    _real("BaF2", "fluorite", fluorite, "Ba", "F", a=6.200),
    _real("Li2O", "fluorite", fluorite, "O", "Li", a=4.619),
    _real("BaTiO3", "perovskite", perovskite, "Ba", "Ti", "O", a=4.006),
    _real("KNbO3", "perovskite", perovskite, "K", "Nb", "O", a=4.022),
    _real("CsPbCl3", "perovskite", perovskite, "Cs", "Pb", "Cl", a=5.605),
    _real("CsSnCl3", "perovskite", perovskite, "Cs", "Sn", "Cl", a=5.560),
)


def training_ionic_crystal(
    seed: int, strain_sigma: float = 0.02, rattle: float = 0.04
) -> Structure:
    """Build the ionic training crystal of one seed (reproducible, independent of others).

    Returns
    -------
    Structure
        With the ``properties`` of
        :func:`~socscreen.corpus.training_structures.training_structure` and
        ``family`` ``"ionic"``.
    """
    rng = np.random.default_rng([seed, 20266])
    base, prototype, source = draw_crystal(
        rng, IONIC_REAL_FRACTION, IONIC_COMPOUNDS, IONIC_PROTOTYPES
    )
    structure = perturb(base, rng, strain_sigma, rattle)
    structure.properties = {
        **provenance(seed, prototype, source, base, strain_sigma, rattle),
        "family": "ionic",
    }
    return structure

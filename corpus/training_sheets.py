"""2D training sheets for the DFT corpus: monolayers with vacuum along c.

The model must transfer to 2D sheets (valley physics of MX2 monolayers, quantum spin Hall
honeycombs), whose bonds see no neighbour across a vacuum and whose charge transfer
differs from the bulk. Four kinds of monolayer are drawn, each at covalent-radius bond
lengths or (``SHEET_REAL_FRACTION`` of the time) at a real sheet's geometry:

* **2H MX2** (trigonal prismatic: MoS2, WSe2, NbSe2, ...),
* **1T MX2** (octahedral: TiS2, ZrSe2, PtSe2, SnS2, ...),
* **buckled honeycombs** of one element (silicene to bismuthene),
* **binary honeycombs** (h-BN, planar or slightly buckled III-V and II-VI sheets).

From seed :data:`HETEROBILAYER_SEEDS_FROM` on, a fraction of the sheets are **2H MX2
heterobilayers** (:func:`training_heterobilayer`): two different real monolayers stacked
at 0 or 60 degrees. A band loss that removes one energy offset per structure only ties
two layers' levels to each other inside one structure, so the band alignment of a
heterostructure has to be in the corpus. MoSe2/WSe2 is left out: it is the benchmark's
(``benchmarks/bench_sheets.py``).

Geometry conventions: hexagonal in-plane lattice ``a`` (Angstrom), the sheet centred at
``z = c / 2`` in a cell of height ``SHEET_HEIGHT`` along z. The height keeps the corpus's
k-point density (``n_i = ceil(20 / |a_i|)``) at one k_z point. A sheet gets an in-plane
random strain only (the vacuum stays along z) and the usual Cartesian rattle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Element, Lattice, Structure

from socscreen.corpus.training_structures import _from, _pick, bond, perturb, provenance

__all__ = [
    "HETEROBILAYER_PAIRS",
    "HETEROBILAYER_SEEDS_FROM",
    "REAL_SHEETS",
    "SHEET_HEIGHT",
    "SHEET_PROTOTYPES",
    "sheet_structure",
    "training_heterobilayer",
    "training_sheet",
]

#: Cell height along the vacuum (Angstrom): a monolayer plus >= 15 Angstrom of vacuum, and
#: above 20 Angstrom so that the corpus k-point density gives one k_z point.
SHEET_HEIGHT = 21.0

#: Fraction of sheets that perturb a real monolayer rather than fill a prototype.
SHEET_REAL_FRACTION = 0.4

#: Sheet seeds from this one on are a heterobilayer with probability
#: :data:`HETEROBILAYER_FRACTION`; earlier seeds keep the monolayers their corpus files
#: were made from.
HETEROBILAYER_SEEDS_FROM = 1300
HETEROBILAYER_FRACTION = 0.3

#: Pairs of real 2H monolayers (:data:`REAL_SHEETS`) stacked into heterobilayers: lattice
#: mismatch up to 4.4 %, taken up by the top layer. Not MoSe2/WSe2 (the benchmark's).
HETEROBILAYER_PAIRS = (
    ("MoS2", "WS2"),
    ("MoS2", "MoSe2"),
    ("MoS2", "WSe2"),
    ("WS2", "MoSe2"),
    ("WS2", "WSe2"),
)

#: Range of the metal-metal distance of a heterobilayer (Angstrom; 6.2-6.5 in PBE+D).
HETEROBILAYER_SPACING = (6.1, 6.9)


# -- geometry -------------------------------------------------------------------------------
def _sheet(
    a: float,
    species: Sequence[str],
    xy: Sequence[Sequence[float]],
    z: Sequence[float],
    c: float = SHEET_HEIGHT,
) -> Structure:
    """Hexagonal sheet: fractional in-plane ``xy``, Cartesian heights ``z`` about ``c/2``."""
    frac = [[x, y, 0.5 + dz / c] for (x, y), dz in zip(xy, z, strict=True)]
    return Structure(Lattice.hexagonal(a, c), list(species), frac)


def mx2_2h(m: str, x: str, *, a: float, h: float, c: float = SHEET_HEIGHT) -> Structure:
    """2H (trigonal prismatic) MX2 monolayer; ``h`` is the chalcogen-chalcogen height.

    The metal sits at (1/3, 2/3) and the chalcogens at (2/3, 1/3), ``h/2`` above and below
    the cell's mid-plane; ``c`` is the cell height (Å).
    """
    xy = [(1 / 3, 2 / 3), (2 / 3, 1 / 3), (2 / 3, 1 / 3)]
    return _sheet(a, [m, x, x], xy, [0, h / 2, -h / 2], c)


def mx2_1t(m: str, x: str, *, a: float, h: float) -> Structure:
    """1T (octahedral) MX2 monolayer; ``h`` is the chalcogen-chalcogen height."""
    return _sheet(a, [m, x, x], [(0, 0), (1 / 3, 2 / 3), (2 / 3, 1 / 3)], [0, h / 2, -h / 2])


def honeycomb(a_: str, b_: str, *, a: float, buckling: float) -> Structure:
    """Honeycomb sheet of two sites, ``buckling`` Angstrom apart along z (0: planar)."""
    return _sheet(a, [a_, b_], [(1 / 3, 2 / 3), (2 / 3, 1 / 3)], [buckling / 2, -buckling / 2])


#: Covalent radii overestimate the metal-chalcogen bond of MX2 sheets (MoS2 2.41 against
#: 2.59 Angstrom, WSe2 2.54 against 2.82): the prototypes use this fraction of their sum.
_MX2_BOND_FRACTION = 0.92


def _bonded_2h(elements: Sequence[str], d: float) -> Structure:
    # MoS2: a = 3.16, S-S height 3.17 Angstrom, so h = 0.657 d and a = 1.306 d
    d = _MX2_BOND_FRACTION * d
    return mx2_2h(*elements, a=1.306 * d, h=2 * 0.657 * d)


def _bonded_1t(elements: Sequence[str], d: float) -> Structure:
    # ideal octahedron: a = sqrt(2) d, height of each chalcogen layer d / sqrt(3)
    d = _MX2_BOND_FRACTION * d
    return mx2_1t(*elements, a=np.sqrt(2) * d, h=2 * d / np.sqrt(3))


def _bonded_honeycomb(elements: Sequence[str], d: float) -> Structure:
    """Honeycomb at bond length ``d`` with a buckling of 0, 0.22 d or 0.55 d.

    Planar for first-row sheets (h-BN, graphene), 0.22 d otherwise and 0.55 d for group
    15 (measured: silicene 0.19, stanene 0.30, antimonene 0.57).
    """
    groups = {_group(e) for e in elements}
    if all(_period(e) == 2 for e in elements):
        beta = 0.0
    elif groups == {15}:
        beta = 0.55
    else:
        beta = 0.22
    buckling = beta * d
    return honeycomb(*elements, a=np.sqrt(3 * (d**2 - buckling**2)), buckling=buckling)


def _group(symbol: str) -> int:
    return int(Element(symbol).group)


def _period(symbol: str) -> int:
    return int(Element(symbol).row)


# -- chemistry ------------------------------------------------------------------------------
def _honeycomb_elements(rng: np.random.Generator) -> list[str]:
    if rng.random() < 0.55:
        element = _pick(rng, ["C", "Si", "Ge", "Sn", "Pb", "P", "As", "Sb", "Bi"])
        return [element, element]
    q = int(rng.choice([3, 2]))
    cations = {3: ["B", "Al", "Ga", "In", "Tl"], 2: ["Be", "Zn", "Cd", "Hg"]}[q]
    anions = {3: ["N", "P", "As", "Sb"], 2: ["O", "S", "Se", "Te"]}[q]
    return [_pick(rng, cations), _pick(rng, anions)]


@dataclass(frozen=True)
class SheetPrototype:
    """A monolayer prototype: element-role chemistry and bond-scaled geometry.

    ``build(elements, d)`` returns the sheet whose nearest-neighbour distance is ``d``
    (Angstrom); ``chemistry(rng)`` the element of each role; ``weight`` the relative
    frequency among prototype fills.
    """

    name: str
    build: Callable[[Sequence[str], float], Structure]
    chemistry: Callable[[np.random.Generator], list[str]]
    weight: float

    def structure(self, elements: Sequence[str]) -> Structure:
        """Fill the prototype at the covalent-radius distance of its first two roles."""
        return self.build(elements, bond(elements[0], elements[1]))


_CHALCOGENS = ["S", "Se", "Te"]

#: Monolayer prototypes, by name (recorded as ``meta["prototype"]``).
SHEET_PROTOTYPES: dict[str, SheetPrototype] = {
    p.name: p
    for p in [
        SheetPrototype(
            "2H-sheet", _bonded_2h, _from(["Mo", "W", "Nb", "Ta", "Cr", "V"], _CHALCOGENS), 4
        ),
        SheetPrototype(
            "1T-sheet",
            _bonded_1t,
            _from(["Ti", "Zr", "Hf", "Sn", "Pd", "Pt", "Mo", "W"], _CHALCOGENS),
            3,
        ),
        SheetPrototype("honeycomb-sheet", _bonded_honeycomb, _honeycomb_elements, 4),
    ]
}

#: Real monolayers (experimental or PBE-relaxed geometry; always perturbed when drawn).
REAL_SHEETS: dict[str, tuple[str, Callable[[], Structure]]] = {
    "MoS2": ("2H-sheet", lambda: mx2_2h("Mo", "S", a=3.16, h=3.13)),
    "MoSe2": ("2H-sheet", lambda: mx2_2h("Mo", "Se", a=3.29, h=3.34)),
    "WS2": ("2H-sheet", lambda: mx2_2h("W", "S", a=3.15, h=3.14)),
    "WSe2": ("2H-sheet", lambda: mx2_2h("W", "Se", a=3.28, h=3.35)),
    "MoTe2": ("2H-sheet", lambda: mx2_2h("Mo", "Te", a=3.52, h=3.60)),
    "PtSe2": ("1T-sheet", lambda: mx2_1t("Pt", "Se", a=3.73, h=2.53)),
    "ZrS2": ("1T-sheet", lambda: mx2_1t("Zr", "S", a=3.66, h=2.91)),
    "SnS2": ("1T-sheet", lambda: mx2_1t("Sn", "S", a=3.65, h=2.95)),
    "graphene": ("honeycomb-sheet", lambda: honeycomb("C", "C", a=2.46, buckling=0.0)),
    "h-BN": ("honeycomb-sheet", lambda: honeycomb("B", "N", a=2.50, buckling=0.0)),
    "silicene": ("honeycomb-sheet", lambda: honeycomb("Si", "Si", a=3.87, buckling=0.44)),
    "germanene": ("honeycomb-sheet", lambda: honeycomb("Ge", "Ge", a=4.06, buckling=0.69)),
    "stanene": ("honeycomb-sheet", lambda: honeycomb("Sn", "Sn", a=4.67, buckling=0.85)),
    "antimonene": ("honeycomb-sheet", lambda: honeycomb("Sb", "Sb", a=4.12, buckling=1.65)),
    "bismuthene": ("honeycomb-sheet", lambda: honeycomb("Bi", "Bi", a=4.33, buckling=1.74)),
}


def sheet_structure(name: str, elements: Sequence[str]) -> Structure:
    """Sheet prototype ``name`` filled with ``elements`` at covalent-radius distances.

    Raises
    ------
    ValueError
        For an unknown prototype name.
    """
    if name not in SHEET_PROTOTYPES:
        raise ValueError(
            f"unknown sheet prototype {name!r}; choose from {sorted(SHEET_PROTOTYPES)}"
        )
    return SHEET_PROTOTYPES[name].structure(elements)


# -- sampling -------------------------------------------------------------------------------
def training_sheet(seed: int, strain_sigma: float = 0.02, rattle: float = 0.04) -> Structure:
    """Build the 2D training sheet of one seed (reproducible, independent of other seeds).

    Returns
    -------
    Structure
        With the ``properties`` of
        :func:`~socscreen.corpus.training_structures.training_structure` and
        ``dimension`` 2.
    """
    if (
        seed >= HETEROBILAYER_SEEDS_FROM
        and np.random.default_rng([seed, 20263]).random() < HETEROBILAYER_FRACTION
    ):
        return training_heterobilayer(seed, strain_sigma, rattle)
    rng = np.random.default_rng([seed, 20261])
    if rng.random() < SHEET_REAL_FRACTION:
        names = sorted(REAL_SHEETS)
        source = names[rng.integers(len(names))]
        prototype, build = REAL_SHEETS[source]
        base = build()
    else:
        names = list(SHEET_PROTOTYPES)
        weights = np.array([SHEET_PROTOTYPES[n].weight for n in names])
        prototype = str(rng.choice(names, p=weights / weights.sum()))
        base = sheet_structure(prototype, SHEET_PROTOTYPES[prototype].chemistry(rng))
        source = "prototype"
    structure = perturb(base, rng, strain_sigma, rattle, strained_axes=2)  # vacuum stays on z
    structure.properties = {
        **provenance(seed, prototype, source, base, strain_sigma, rattle),
        "dimension": 2,
    }
    return structure


def training_heterobilayer(
    seed: int, strain_sigma: float = 0.02, rattle: float = 0.04
) -> Structure:
    """Build the heterobilayer of one seed: a :data:`HETEROBILAYER_PAIRS` pair, perturbed.

    The pair (either layer at the bottom), the stacking (0 or 60 degrees:
    :func:`socscreen.bilayers.twisted_bilayer`, 6 atoms) and the metal-metal distance
    (uniform in :data:`HETEROBILAYER_SPACING`) are drawn from the seed; the bottom layer
    keeps its lattice constant, the top one is strained onto it; then the in-plane strain
    and rattle of every sheet. ``properties`` as :func:`training_sheet`'s, with prototype
    ``"MX2-heterobilayer"`` and source ``"BOTTOM/TOP ANGLEdeg"``.
    """
    from socscreen.bilayers import twisted_bilayer

    rng = np.random.default_rng([seed, 20264])
    bottom, top = HETEROBILAYER_PAIRS[rng.integers(len(HETEROBILAYER_PAIRS))]
    if rng.random() < 0.5:
        bottom, top = top, bottom
    angle = float(rng.choice([0.0, 60.0]))
    spacing = float(rng.uniform(*HETEROBILAYER_SPACING))
    base, _ = twisted_bilayer(
        REAL_SHEETS[bottom][1](),
        REAL_SHEETS[top][1](),
        angle,
        interlayer_distance=spacing,
        vacuum=16.0,  # 15 Angstrom and more after the rattle
        max_atoms=6,
        max_strain_percent=5.0,
    )
    structure = perturb(base, rng, strain_sigma, rattle, strained_axes=2)
    source = f"{bottom}/{top} {angle:g}deg"
    structure.properties = {
        **provenance(seed, "MX2-heterobilayer", source, base, strain_sigma, rattle),
        "dimension": 2,
    }
    return structure

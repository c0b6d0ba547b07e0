"""Training structures for the DFT corpus: prototypes, sensible chemistry, perturbations.

Pure and reproducible: :func:`training_structure` builds the structure of one seed, so a
campaign over seeds ``s .. s + n - 1`` can stop and resume anywhere. Two kinds are drawn:

* **real compounds** (:data:`REAL_COMPOUNDS`) at their experimental lattice constants:
  zincblende and rocksalt semiconductors, IV-VI and V-VI topological materials, A7
  semimetals, half-Heuslers, halide perovskites, alkali halides, ...;
* **prototype fills**: fcc, bcc, sc, diamond, rocksalt, zincblende, CsCl, wurtzite,
  fluorite, tetradymite, A7, half-Heusler, cubic perovskite and layered 1T (CdI2-type)
  cells filled with oxidation-state-balanced element combinations, heavy p-block
  elements drawn more often, nearest-neighbour distances from covalent radii.

Every structure then gets a random symmetric strain (``strain_sigma``, default 2 %) and a
Cartesian rattle (``rattle``, default 0.04 Angstrom), so no training cell sits exactly at
an experimental geometry: those (and in particular the Si and Bi2Se3 test fixtures) stay
held out for evaluation. Provenance (prototype, elements, strain, rattle, seed) is in
``structure.properties``, which the GPAW reference calculation copies into its ``meta``.

From seed :data:`SHEET_SEEDS_FROM` on, a share :data:`SHEET_FRACTION` of the seeds are 2D
monolayers instead (:mod:`~socscreen.corpus.training_sheets`); from seed
:data:`IONIC_SEEDS_FROM` on, a share :data:`IONIC_FRACTION` of the other seeds are ionic
crystals of light anions and halide perovskites (:mod:`~socscreen.corpus.training_ionic`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pymatgen.analysis.molecule_structure_comparator import CovalentRadius
from pymatgen.core import Element, Lattice, Structure

__all__ = [
    "PROTOTYPES",
    "REAL_COMPOUNDS",
    "RealCompound",
    "draw_crystal",
    "perturb",
    "prototype_structure",
    "training_structure",
    "training_structures",
]

SQRT3 = np.sqrt(3.0)

#: Fraction of seeds that perturb a real compound rather than fill a prototype.
REAL_FRACTION = 0.4

#: Seeds from this one on draw a 2D sheet (:mod:`~socscreen.corpus.training_sheets`)
#: with probability :data:`SHEET_FRACTION`; earlier seeds keep the bulk structures their
#: corpus files were made from.
SHEET_SEEDS_FROM = 1000
SHEET_FRACTION = 0.3

#: Bulk seeds from this one on draw an ionic crystal (nitride, oxide, halide, halide
#: perovskite: :mod:`~socscreen.corpus.training_ionic`) with probability
#: :data:`IONIC_FRACTION`; earlier seeds keep the structures their corpus files were made
#: from.
IONIC_SEEDS_FROM = 2000
IONIC_FRACTION = 0.5

#: Elements with GPAW szp(dzp) data that the prototype fills draw from (no lanthanides:
#: GPAW cannot reduce their dzp files; no Tc, Po, At: no setups).
_CATIONS = {
    1: ["Li", "Na", "K", "Rb", "Cs", "Cu", "Ag", "Tl"],
    2: ["Mg", "Ca", "Sr", "Ba", "Zn", "Cd", "Hg", "Ge", "Sn", "Pb"],
    3: ["B", "Al", "Ga", "In", "Tl", "Sc", "Y", "As", "Sb", "Bi"],
    4: ["Si", "Ge", "Sn", "Pb", "Ti", "Zr", "Hf"],
}
_ANIONS = {1: ["F", "Cl", "Br", "I"], 2: ["O", "S", "Se", "Te"], 3: ["N", "P", "As", "Sb", "Bi"]}
_NN_HEAVY = 48  # elements from Cd on are drawn three times as often


# -- geometry -------------------------------------------------------------------------------
def covalent_radius(symbol: str) -> float:
    """Covalent radius (Cordero et al. 2008) of an element, Angstrom."""
    return float(CovalentRadius.radius[symbol])


def bond(a: str, b: str) -> float:
    """Nearest-neighbour distance estimate: sum of covalent radii, Angstrom."""
    return covalent_radius(a) + covalent_radius(b)


def _fcc(a: float) -> Lattice:
    return Lattice(0.5 * a * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float))


def _bcc(a: float) -> Lattice:
    return Lattice(0.5 * a * np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]], dtype=float))


def _rhombohedral(a_hex: float, c_hex: float) -> Lattice:
    """Primitive rhombohedral cell of a hexagonal (a, c) setting, as the corpus uses."""
    return Lattice(
        [
            [a_hex / 2, a_hex / (2 * SQRT3), c_hex / 3],
            [-a_hex / 2, a_hex / (2 * SQRT3), c_hex / 3],
            [0.0, -a_hex / SQRT3, c_hex / 3],
        ]
    )


def _diagonal(*z: float) -> list[list[float]]:
    return [[v, v, v] for v in z]


def fcc(a_: str, *, a: float) -> Structure:
    """Build a face-centred cubic element, conventional lattice constant ``a`` (Angstrom)."""
    return Structure(_fcc(a), [a_], [[0, 0, 0]])


def bcc(a_: str, *, a: float) -> Structure:
    """Build a body-centred cubic element."""
    return Structure(_bcc(a), [a_], [[0, 0, 0]])


def sc(a_: str, *, a: float) -> Structure:
    """Build a simple cubic element."""
    return Structure(Lattice.cubic(a), [a_], [[0, 0, 0]])


def zincblende(a_: str, b_: str, *, a: float) -> Structure:
    """Zincblende AB (diamond for A = B), fcc lattice constant ``a``."""
    return Structure(_fcc(a), [a_, b_], [[0, 0, 0], [0.25, 0.25, 0.25]])


def diamond(a_: str, *, a: float) -> Structure:
    """Diamond element."""
    return zincblende(a_, a_, a=a)


def rocksalt(a_: str, b_: str, *, a: float) -> Structure:
    """Rocksalt AB."""
    return Structure(_fcc(a), [a_, b_], [[0, 0, 0], [0.5, 0.5, 0.5]])


def cscl(a_: str, b_: str, *, a: float) -> Structure:
    """CsCl-type AB (simple cubic, B at the body centre)."""
    return Structure(Lattice.cubic(a), [a_, b_], [[0, 0, 0], [0.5, 0.5, 0.5]])


def fluorite(center: str, tetra: str, *, a: float) -> Structure:
    """Fluorite A B2 (A on the fcc sites, B in the tetrahedral holes); antifluorite swaps."""
    return Structure(
        _fcc(a), [center, tetra, tetra], [[0, 0, 0], [0.25, 0.25, 0.25], [0.75, 0.75, 0.75]]
    )


def wurtzite(a_: str, b_: str, *, a: float, c: float, u: float = 0.375) -> Structure:
    """Wurtzite AB, hexagonal ``a``, ``c`` (Angstrom) and internal parameter ``u``."""
    return Structure(
        Lattice.hexagonal(a, c),
        [a_, a_, b_, b_],
        [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, u], [2 / 3, 1 / 3, 0.5 + u]],
    )


def tetradymite(
    a_: str,
    b_: str,
    *,
    a: float,
    c: float,
    z_a: float = 0.4008,
    z_b: float = 0.2117,
    b_center: str | None = None,
) -> Structure:
    """Tetradymite A2B3 (Bi2Se3-type) in the primitive rhombohedral cell.

    ``b_center`` puts another element on the central B site (Bi2Te2Se-type).
    """
    return Structure(
        _rhombohedral(a, c),
        [b_center or b_, a_, a_, b_, b_],
        [[0, 0, 0], *_diagonal(z_a, 1 - z_a, z_b, 1 - z_b)],
    )


def a7(a_: str, b_: str, *, a: float, c: float, u: float = 0.234) -> Structure:
    """A7 (As/Sb/Bi-type) rhombohedral cell, atoms at +-(u, u, u); A = B for elements."""
    return Structure(_rhombohedral(a, c), [a_, b_], _diagonal(u, 1 - u))


def half_heusler(x: str, y: str, z: str, *, a: float) -> Structure:
    """Half-Heusler XYZ: X at 4a, Y at 4c (tetrahedral), Z at 4b."""
    return Structure(_fcc(a), [x, y, z], [[0, 0, 0], [0.25, 0.25, 0.25], [0.5, 0.5, 0.5]])


def perovskite(a_: str, b_: str, x: str, *, a: float) -> Structure:
    """Cubic perovskite ABX3: B at the origin, X on the edges, A at the body centre."""
    return Structure(
        Lattice.cubic(a),
        [a_, b_, x, x, x],
        [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
    )


def layered_1t(m: str, x: str, *, a: float, c: float, z: float = 0.25) -> Structure:
    """Layered 1T (CdI2-type) MX2: one MX2 layer per hexagonal cell, van der Waals gap."""
    return Structure(
        Lattice.hexagonal(a, c), [m, x, x], [[0, 0, 0], [1 / 3, 2 / 3, z], [2 / 3, 1 / 3, 1 - z]]
    )


@dataclass(frozen=True)
class Prototype:
    """A structure prototype, its element-role chemistry and its bond-scaled geometry.

    Attributes
    ----------
    name
        Prototype name recorded in ``meta["prototype"]``.
    build
        ``build(elements, d)`` returns the structure whose nearest-neighbour distance
        is ``d`` (Angstrom).
    chemistry
        ``chemistry(rng)`` returns element symbols, one per role of ``build``.
    bonded
        Pairs of role indices whose covalent-radius sum sets ``d`` (averaged).
    weight
        Relative frequency among prototype fills.
    """

    name: str
    build: Callable[[Sequence[str], float], Structure]
    chemistry: Callable[[np.random.Generator], list[str]]
    bonded: tuple[tuple[int, int], ...]
    weight: float

    def structure(self, elements: Sequence[str]) -> Structure:
        """Fill the prototype with ``elements`` at covalent-radius distances."""
        d = float(np.mean([bond(elements[i], elements[j]) for i, j in self.bonded]))
        return self.build(elements, d)


# -- chemistry ------------------------------------------------------------------------------
def _pick(rng: np.random.Generator, symbols: Sequence[str]) -> str:
    """Draw an element, heavy ones (Z >= 48) three times as often."""
    weights = np.array([3.0 if Element(s).Z >= _NN_HEAVY else 1.0 for s in symbols])
    return str(rng.choice(symbols, p=weights / weights.sum()))


def _ionic_pair(rng: np.random.Generator, charges: Sequence[int]) -> list[str]:
    q = int(rng.choice(charges))
    return [_pick(rng, _CATIONS[q]), _pick(rng, _ANIONS[q])]


def _from(*pools: Sequence[str]) -> Callable[[np.random.Generator], list[str]]:
    return lambda rng: [_pick(rng, pool) for pool in pools]


def _tetrahedral_pair(rng: np.random.Generator) -> list[str]:
    """III-V, II-VI or I-VII pair that bonds tetrahedrally."""
    q = int(rng.choice([3, 2, 1], p=[0.45, 0.4, 0.15]))
    cations = {3: ["B", "Al", "Ga", "In"], 2: ["Be", "Zn", "Cd", "Hg"], 1: ["Cu", "Ag"]}[q]
    return [_pick(rng, cations), _pick(rng, _ANIONS[q])]


def _rocksalt_pair(rng: np.random.Generator) -> list[str]:
    if rng.random() < 0.35:  # IV-VI narrow-gap and topological crystalline insulators
        return [_pick(rng, ["Ge", "Sn", "Pb"]), _pick(rng, ["S", "Se", "Te"])]
    if rng.random() < 0.3:  # rare-earth-like pnictides (ScN, YSb, ...)
        return [_pick(rng, ["Sc", "Y"]), _pick(rng, _ANIONS[3])]
    return _ionic_pair(rng, [1, 2])


def _cscl_pair(rng: np.random.Generator) -> list[str]:
    if rng.random() < 0.5:
        return [_pick(rng, ["K", "Rb", "Cs", "Tl"]), _pick(rng, ["Cl", "Br", "I"])]
    return [_pick(rng, ["Cu", "Ag", "Au", "Pd", "Pt"]), _pick(rng, ["Mg", "Zn", "Cd", "Hg", "Al"])]


def _fluorite_roles(rng: np.random.Generator) -> list[str]:
    """[fcc-site, tetrahedral-site] elements: fluorite, antifluorite or AuAl2-type."""
    kind = rng.choice(["fluorite", "antifluorite", "mg2x", "intermetallic"])
    if kind == "fluorite":
        return [_pick(rng, ["Ca", "Sr", "Ba", "Cd", "Hg", "Pb"]), _pick(rng, ["F", "Cl"])]
    if kind == "antifluorite":
        return [_pick(rng, _ANIONS[2]), _pick(rng, ["Li", "Na", "K", "Cu", "Ag"])]
    if kind == "mg2x":
        return [_pick(rng, ["Si", "Ge", "Sn", "Pb"]), "Mg"]
    return [_pick(rng, ["Au", "Pt", "Pd"]), _pick(rng, ["Al", "Ga", "In", "Sn", "Sb"])]


def _tetradymite_roles(rng: np.random.Generator) -> list[str]:
    """Draw [A, outer B, central B]: V2-VI3, optionally another central chalcogen."""
    a = _pick(rng, ["Bi", "Sb", "As", "In"])
    b = _pick(rng, ["S", "Se", "Te"])
    center = b if rng.random() < 0.6 else _pick(rng, ["S", "Se", "Te"])
    return [a, b, center]


def _a7_roles(rng: np.random.Generator) -> list[str]:
    if rng.random() < 0.5:
        element = _pick(rng, ["As", "Sb", "Bi"])
        return [element, element]
    if rng.random() < 0.5:
        return list(rng.choice(["As", "Sb", "Bi"], size=2, replace=False))
    return [_pick(rng, ["Ge", "Sn", "Pb"]), _pick(rng, ["S", "Se", "Te"])]  # GeTe-type


_GROUP_VALENCE = {1: 1, 2: 2, 13: 3, 14: 4, 15: 5}


def _valence(symbol: str) -> int:
    group = Element(symbol).group
    return _GROUP_VALENCE.get(group, group)


def _half_heusler_roles(rng: np.random.Generator) -> list[str]:
    """X, Y, Z with 8 or 18 valence electrons (LiZnAs, ZrNiSn, ScPtBi, TiCoSb, ...)."""
    xs = ["Li", "Mg", "Sc", "Y", "Ti", "Zr", "Hf"]
    ys = ["Co", "Rh", "Ir", "Ni", "Pd", "Pt", "Cu", "Ag", "Au", "Zn", "Cd"]
    zs = ["Ge", "Sn", "Pb", "P", "As", "Sb", "Bi"]
    options = [
        (x, y, z)
        for x in xs
        for y in ys
        for z in zs
        if _valence(x) + _valence(y) + _valence(z) in (8, 18)
    ]
    weights = np.array([3.0 if Element(z).Z >= _NN_HEAVY else 1.0 for _, _, z in options])
    return list(options[rng.choice(len(options), p=weights / weights.sum())])


def _perovskite_roles(rng: np.random.Generator) -> list[str]:
    if rng.random() < 0.6:  # halide perovskites
        return [
            _pick(rng, ["K", "Rb", "Cs"]),
            _pick(rng, ["Ge", "Sn", "Pb"]),
            _pick(rng, ["Cl", "Br", "I"]),
        ]
    if rng.random() < 0.7:
        return [_pick(rng, ["Ca", "Sr", "Ba"]), _pick(rng, ["Ti", "Zr", "Hf", "Sn"]), "O"]
    return [_pick(rng, ["Na", "K"]), _pick(rng, ["Nb", "Ta"]), "O"]


def _layered_roles(rng: np.random.Generator) -> list[str]:
    return [_pick(rng, ["Ti", "Zr", "Hf", "Sn", "Pd", "Pt"]), _pick(rng, ["S", "Se", "Te"])]


#: Reference geometries scaled by bond length: tetradymite (Bi2Se3), A7 (Bi), 1T (TiSe2).
_BI2SE3 = {"a": 4.143, "c": 28.636, "z_a": 0.4008, "z_b": 0.2117}
_BI_A7 = {"a": 4.546, "c": 11.862, "u": 0.2341}
_TISE2 = {"a": 3.540, "c": 6.008, "z": 0.255}


def _tetradymite_build(elements: Sequence[str], d: float) -> Structure:
    a, b, center = elements
    ref = tetradymite("Bi", "Se", **_BI2SE3)
    factor = d / min(ref.get_distance(1, j) for j in (0, 3, 4))  # Bi to its Se neighbours
    return tetradymite(
        a,
        b,
        a=_BI2SE3["a"] * factor,
        c=_BI2SE3["c"] * factor,
        z_a=_BI2SE3["z_a"],
        z_b=_BI2SE3["z_b"],
        b_center=center,
    )


def _a7_build(elements: Sequence[str], d: float) -> Structure:
    ref = a7("Bi", "Bi", **_BI_A7)
    factor = d / ref.get_distance(0, 1)
    return a7(*elements, a=_BI_A7["a"] * factor, c=_BI_A7["c"] * factor, u=_BI_A7["u"])


def _layered_build(elements: Sequence[str], d: float) -> Structure:
    ref = layered_1t("Ti", "Se", **_TISE2)
    factor = d / ref.get_distance(0, 1)
    return layered_1t(*elements, a=_TISE2["a"] * factor, c=_TISE2["c"] * factor, z=_TISE2["z"])


_IDEAL_WURTZITE_A = 1 / (0.375 * np.sqrt(8 / 3))  # a / d for ideal c/a and u = 3/8

#: Prototype fills, by name.
PROTOTYPES: dict[str, Prototype] = {
    p.name: p
    for p in [
        Prototype(
            "fcc",
            lambda e, d: fcc(e[0], a=np.sqrt(2) * d),
            _from(["Cu", "Ag", "Au", "Al", "Pb", "Pt", "Pd", "Ir", "Rh"]),
            ((0, 0),),
            3,
        ),
        Prototype(
            "bcc",
            lambda e, d: bcc(e[0], a=2 * d / SQRT3),
            _from(["V", "Nb", "Ta", "Mo", "W", "Tl"]),
            ((0, 0),),
            2,
        ),
        Prototype(
            "sc",
            lambda e, d: sc(e[0], a=d),
            _from(["P", "As", "Sb", "Bi", "Se", "Te"]),
            ((0, 0),),
            2,
        ),
        Prototype(
            "diamond",
            lambda e, d: diamond(e[0], a=4 * d / SQRT3),
            _from(["C", "Si", "Ge", "Sn"]),
            ((0, 0),),
            2,
        ),
        Prototype("rocksalt", lambda e, d: rocksalt(*e, a=2 * d), _rocksalt_pair, ((0, 1),), 10),
        Prototype(
            "zincblende",
            lambda e, d: zincblende(*e, a=4 * d / SQRT3),
            _tetrahedral_pair,
            ((0, 1),),
            9,
        ),
        Prototype(
            "wurtzite",
            lambda e, d: wurtzite(
                *e, a=_IDEAL_WURTZITE_A * d, c=np.sqrt(8 / 3) * _IDEAL_WURTZITE_A * d
            ),
            _tetrahedral_pair,
            ((0, 1),),
            5,
        ),
        Prototype(
            "cesiumchloride", lambda e, d: cscl(*e, a=2 * d / SQRT3), _cscl_pair, ((0, 1),), 4
        ),
        Prototype(
            "fluorite", lambda e, d: fluorite(*e, a=4 * d / SQRT3), _fluorite_roles, ((0, 1),), 5
        ),
        Prototype("tetradymite", _tetradymite_build, _tetradymite_roles, ((0, 1),), 8),
        Prototype("A7", _a7_build, _a7_roles, ((0, 1),), 6),
        Prototype(
            "halfheusler",
            lambda e, d: half_heusler(*e, a=4 * d / SQRT3),
            _half_heusler_roles,
            ((0, 1), (1, 2)),
            8,
        ),
        Prototype(
            "perovskite", lambda e, d: perovskite(*e, a=2 * d), _perovskite_roles, ((1, 2),), 5
        ),
        Prototype("layered", _layered_build, _layered_roles, ((0, 1),), 6),
    ]
}


def prototype_structure(name: str, elements: Sequence[str]) -> Structure:
    """Prototype ``name`` filled with ``elements`` at covalent-radius distances.

    Raises
    ------
    ValueError
        For an unknown prototype name.
    """
    if name not in PROTOTYPES:
        raise ValueError(f"unknown prototype {name!r}; choose from {sorted(PROTOTYPES)}")
    return PROTOTYPES[name].structure(elements)


# -- real compounds -------------------------------------------------------------------------
@dataclass(frozen=True)
class RealCompound:
    """A real compound at its experimental geometry (lengths in Angstrom)."""

    name: str
    prototype: str
    build: Callable[[], Structure] = field(compare=False)


def _real(
    name: str,
    prototype: str,
    builder: Callable[..., Structure],
    *args: str,
    **geometry: float | str,
) -> RealCompound:
    return RealCompound(name, prototype, lambda: builder(*args, **geometry))


#: Real compounds at room-temperature experimental lattice constants (always perturbed).
REAL_COMPOUNDS: tuple[RealCompound, ...] = (
    # tetrahedral semiconductors and topological zero-gap ones
    _real("Si", "diamond", diamond, "Si", a=5.431),
    _real("Ge", "diamond", diamond, "Ge", a=5.658),
    _real("alpha-Sn", "diamond", diamond, "Sn", a=6.489),
    _real("GaAs", "zincblende", zincblende, "Ga", "As", a=5.653),
    _real("InSb", "zincblende", zincblende, "In", "Sb", a=6.479),
    _real("InAs", "zincblende", zincblende, "In", "As", a=6.058),
    _real("GaSb", "zincblende", zincblende, "Ga", "Sb", a=6.096),
    _real("AlSb", "zincblende", zincblende, "Al", "Sb", a=6.136),
    _real("InP", "zincblende", zincblende, "In", "P", a=5.869),
    _real("CdTe", "zincblende", zincblende, "Cd", "Te", a=6.481),
    _real("HgTe", "zincblende", zincblende, "Hg", "Te", a=6.460),
    _real("ZnTe", "zincblende", zincblende, "Zn", "Te", a=6.101),
    _real("HgSe", "zincblende", zincblende, "Hg", "Se", a=6.084),
    _real("CuI", "zincblende", zincblende, "Cu", "I", a=6.054),
    _real("CdSe", "wurtzite", wurtzite, "Cd", "Se", a=4.300, c=7.011, u=0.376),
    _real("GaN", "wurtzite", wurtzite, "Ga", "N", a=3.189, c=5.185, u=0.377),
    _real("InN", "wurtzite", wurtzite, "In", "N", a=3.545, c=5.703, u=0.377),
    # IV-VI rocksalts (topological crystalline insulators and neighbours)
    _real("PbTe", "rocksalt", rocksalt, "Pb", "Te", a=6.462),
    _real("SnTe", "rocksalt", rocksalt, "Sn", "Te", a=6.327),
    _real("PbSe", "rocksalt", rocksalt, "Pb", "Se", a=6.124),
    _real("PbS", "rocksalt", rocksalt, "Pb", "S", a=5.936),
    _real("SnSe", "rocksalt", rocksalt, "Sn", "Se", a=5.990),
    _real("GeTe", "rocksalt", rocksalt, "Ge", "Te", a=5.996),
    # alkali halides and heavy-metal halides
    _real("NaCl", "rocksalt", rocksalt, "Na", "Cl", a=5.640),
    _real("KBr", "rocksalt", rocksalt, "K", "Br", a=6.600),
    _real("NaI", "rocksalt", rocksalt, "Na", "I", a=6.473),
    _real("LiF", "rocksalt", rocksalt, "Li", "F", a=4.026),
    _real("AgBr", "rocksalt", rocksalt, "Ag", "Br", a=5.774),
    _real("CsI", "cesiumchloride", cscl, "Cs", "I", a=4.567),
    _real("TlBr", "cesiumchloride", cscl, "Tl", "Br", a=3.986),
    _real("CsBr", "cesiumchloride", cscl, "Cs", "Br", a=4.296),
    # rare-earth-like pnictides, fluorites
    _real("YSb", "rocksalt", rocksalt, "Y", "Sb", a=6.163),
    _real("ScN", "rocksalt", rocksalt, "Sc", "N", a=4.501),
    _real("CaF2", "fluorite", fluorite, "Ca", "F", a=5.463),
    _real("Mg2Sn", "fluorite", fluorite, "Sn", "Mg", a=6.765),
    _real("Mg2Si", "fluorite", fluorite, "Si", "Mg", a=6.351),
    _real("PtAl2", "fluorite", fluorite, "Pt", "Al", a=5.910),
    # A7 semimetals
    _real("Bi", "A7", a7, "Bi", "Bi", a=4.546, c=11.862, u=0.2341),
    _real("Sb", "A7", a7, "Sb", "Sb", a=4.307, c=11.273, u=0.2336),
    _real("As", "A7", a7, "As", "As", a=3.760, c=10.548, u=0.2271),
    # V2-VI3 tetradymite topological insulators
    _real("Bi2Se3", "tetradymite", tetradymite, "Bi", "Se", **_BI2SE3),
    _real(
        "Bi2Te3", "tetradymite", tetradymite, "Bi", "Te", a=4.386, c=30.497, z_a=0.4001, z_b=0.2095
    ),
    _real(
        "Sb2Te3", "tetradymite", tetradymite, "Sb", "Te", a=4.264, c=30.458, z_a=0.3988, z_b=0.2108
    ),
    _real(
        "Bi2Te2Se",
        "tetradymite",
        tetradymite,
        "Bi",
        "Te",
        a=4.28,
        c=29.86,
        z_a=0.3965,
        z_b=0.2118,
        b_center="Se",
    ),
    # half-Heuslers (topological ones and 18-electron semiconductors)
    _real("ScPtBi", "halfheusler", half_heusler, "Sc", "Pt", "Bi", a=6.50),
    _real("YPdBi", "halfheusler", half_heusler, "Y", "Pd", "Bi", a=6.639),
    _real("YPtBi", "halfheusler", half_heusler, "Y", "Pt", "Bi", a=6.652),
    _real("ZrNiSn", "halfheusler", half_heusler, "Zr", "Ni", "Sn", a=6.110),
    _real("TiCoSb", "halfheusler", half_heusler, "Ti", "Co", "Sb", a=5.884),
    _real("LiZnAs", "halfheusler", half_heusler, "Li", "Zn", "As", a=5.940),
    _real("ScAuPb", "halfheusler", half_heusler, "Sc", "Au", "Pb", a=6.52),
    # halide and oxide perovskites
    _real("CsPbI3", "perovskite", perovskite, "Cs", "Pb", "I", a=6.289),
    _real("CsSnI3", "perovskite", perovskite, "Cs", "Sn", "I", a=6.219),
    _real("CsPbBr3", "perovskite", perovskite, "Cs", "Pb", "Br", a=5.874),
    _real("CsSnBr3", "perovskite", perovskite, "Cs", "Sn", "Br", a=5.804),
    _real("SrTiO3", "perovskite", perovskite, "Sr", "Ti", "O", a=3.905),
    _real("KTaO3", "perovskite", perovskite, "K", "Ta", "O", a=3.989),
    # layered dichalcogenides
    _real("PtSe2", "layered", layered_1t, "Pt", "Se", a=3.728, c=5.081, z=0.25),
    _real("PtTe2", "layered", layered_1t, "Pt", "Te", a=4.026, c=5.221, z=0.2675),
    _real("SnSe2", "layered", layered_1t, "Sn", "Se", a=3.811, c=6.137, z=0.25),
    _real("HfTe2", "layered", layered_1t, "Hf", "Te", a=3.958, c=6.650, z=0.255),
    _real("TiSe2", "layered", layered_1t, "Ti", "Se", **_TISE2),
    # elemental metals with strong SOC
    _real("Au", "fcc", fcc, "Au", a=4.078),
    _real("Pt", "fcc", fcc, "Pt", a=3.924),
    _real("Pb", "fcc", fcc, "Pb", a=4.950),
    _real("W", "bcc", bcc, "W", a=3.165),
    _real("Ta", "bcc", bcc, "Ta", a=3.301),
)


# -- perturbation and sampling --------------------------------------------------------------
def perturb(
    structure: Structure,
    rng: np.random.Generator,
    strain_sigma: float,
    rattle: float,
    strained_axes: int = 3,
) -> Structure:
    """Random symmetric strain and Cartesian rattle.

    Parameters
    ----------
    structure
        Input crystal (unchanged).
    rng
        Random generator.
    strain_sigma
        Standard deviation of each independent element of the symmetric strain tensor.
    rattle
        Standard deviation of each Cartesian displacement component (Angstrom).
    strained_axes
        Strain only the first this many Cartesian axes: 2 keeps a sheet's vacuum along z.

    Returns
    -------
    Structure
        ``cell (I + eps)`` with the fractional positions kept, then every site displaced.
    """
    eps = np.zeros((3, 3))
    eps[:strained_axes, :strained_axes] = rng.normal(
        0.0, strain_sigma, (strained_axes, strained_axes)
    )
    eps = 0.5 * (eps + eps.T)
    lattice = Lattice(structure.lattice.matrix @ (np.eye(3) + eps))
    strained = Structure(lattice, structure.species, structure.frac_coords)
    cart = strained.cart_coords + rng.normal(0.0, rattle, (len(strained), 3))
    return Structure(lattice, strained.species, cart, coords_are_cartesian=True)


def training_structure(seed: int, strain_sigma: float = 0.02, rattle: float = 0.04) -> Structure:
    """Build the training structure of one seed (reproducible, independent of others).

    Parameters
    ----------
    seed
        Non-negative integer; equal seeds give equal structures.
    strain_sigma, rattle
        Perturbation sizes (see :func:`perturb`); both must be positive so that no
        structure sits at an experimental (held-out) geometry.

    Returns
    -------
    Structure
        With ``properties`` ``prototype``, ``elements``, ``source`` (compound name or
        ``"prototype"``), ``seed``, ``holdout`` (False), ``strain_sigma``, ``rattle``;
        sheets (seeds from :data:`SHEET_SEEDS_FROM`) also ``dimension`` 2.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if strain_sigma <= 0 or rattle <= 0:
        raise ValueError(
            "strain_sigma and rattle must be positive: unperturbed experimental geometries "
            "are held out for evaluation"
        )
    if seed >= SHEET_SEEDS_FROM and np.random.default_rng([seed, 20262]).random() < SHEET_FRACTION:
        from socscreen.corpus.training_sheets import training_sheet  # imports this module

        return training_sheet(seed, strain_sigma, rattle)
    if seed >= IONIC_SEEDS_FROM and np.random.default_rng([seed, 20265]).random() < IONIC_FRACTION:
        from socscreen.corpus.training_ionic import training_ionic_crystal  # imports this

        return training_ionic_crystal(seed, strain_sigma, rattle)
    rng = np.random.default_rng([seed, 20260])
    base, prototype, source = draw_crystal(rng, REAL_FRACTION, REAL_COMPOUNDS, PROTOTYPES)
    structure = perturb(base, rng, strain_sigma, rattle)
    structure.properties = provenance(seed, prototype, source, base, strain_sigma, rattle)
    return structure


def draw_crystal(
    rng: np.random.Generator,
    real_fraction: float,
    compounds: Sequence[RealCompound],
    prototypes: dict[str, Prototype],
) -> tuple[Structure, str, str]:
    """Draw a real compound (probability ``real_fraction``) or else fill a weighted prototype.

    Returns
    -------
    tuple
        The unperturbed structure, its prototype name and its source (the compound's
        name or ``"prototype"``).
    """
    if rng.random() < real_fraction:
        compound = compounds[rng.integers(len(compounds))]
        return compound.build(), compound.prototype, compound.name
    names = list(prototypes)
    weights = np.array([prototypes[n].weight for n in names])
    prototype = prototypes[str(rng.choice(names, p=weights / weights.sum()))]
    return prototype.structure(prototype.chemistry(rng)), prototype.name, "prototype"


def provenance(
    seed: int, prototype: str, source: str, base: Structure, strain_sigma: float, rattle: float
) -> dict[str, object]:
    """``structure.properties`` of a training structure (copied into the reference's meta)."""
    return {
        "prototype": prototype,
        "elements": elements_of(base),
        "source": source,
        "seed": int(seed),
        "holdout": False,
        "strain_sigma": float(strain_sigma),
        "rattle": float(rattle),
    }


def elements_of(structure: Structure) -> list[str]:
    """Distinct elements, most electropositive first (cation before anion)."""
    return [e.symbol for e in sorted(structure.composition.elements, key=lambda e: e.X)]


def training_structures(
    n: int, seed: int = 0, max_atoms: int = 5, **perturbation: float
) -> list[Structure]:
    """Training structures of seeds ``seed .. seed + n - 1`` with at most ``max_atoms``."""
    out = [training_structure(s, **perturbation) for s in range(seed, seed + n)]
    return [s for s in out if len(s) <= max_atoms]

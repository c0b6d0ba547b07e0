"""Ionic training crystals: a share of the new seeds, charge-transfer chemistry, no hold-out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Element

from socscreen.corpus.training_ionic import (
    IONIC_COMPOUNDS,
    IONIC_PROTOTYPES,
    training_ionic_crystal,
)
from socscreen.corpus.training_structures import (
    IONIC_SEEDS_FROM,
    bond,
    training_structure,
)
from socscreen.dft.calculator import missing_gpaw_data

SEEDS = range(IONIC_SEEDS_FROM, IONIC_SEEDS_FROM + 400)
HOLDOUT = Path(__file__).parents[2] / "benchmarks" / "data" / "holdout"


@pytest.fixture(scope="module")
def drawn():
    return [training_structure(s) for s in SEEDS]


@pytest.fixture(scope="module")
def ionic(drawn):
    return [s for s in drawn if s.properties.get("family") == "ionic"]


def test_a_share_of_new_seeds_are_ionic_and_earlier_seeds_never(drawn, ionic):
    bulk = [s for s in drawn if s.properties.get("dimension") != 2]
    assert 0.35 < len(ionic) / len(bulk) < 0.65
    earlier = [training_structure(s) for s in range(IONIC_SEEDS_FROM - 150, IONIC_SEEDS_FROM)]
    assert not [s for s in earlier if "family" in s.properties]


def test_equal_seeds_give_equal_crystals(ionic):
    seed = ionic[0].properties["seed"]
    assert training_ionic_crystal(seed) == ionic[0]
    assert training_ionic_crystal(seed).properties == ionic[0].properties


def test_every_crystal_transfers_charge_and_is_calculable_and_bonded(ionic):
    symbols = sorted({site.specie.symbol for s in ionic for site in s})
    assert missing_gpaw_data(symbols, "PBE", "szp(dzp)") == {}
    for crystal in ionic:
        electronegativity = [Element(e).X for e in crystal.properties["elements"]]
        assert max(electronegativity) - min(electronegativity) > 0.9, crystal.composition
        assert len(crystal) <= 5 and crystal.is_ordered
        elements = crystal.properties["elements"]
        shortest = min(bond(a, b) for a in elements for b in elements)
        distances = crystal.distance_matrix + np.diag([np.inf] * len(crystal))
        assert distances.min() > 0.8 * shortest, crystal


def test_light_anions_and_halide_perovskites_are_common(ionic):
    light = [bool({"N", "O", "F"} & set(s.properties["elements"])) for s in ionic]
    nitrides = [("N" in s.properties["elements"]) for s in ionic]
    assert np.mean(light) > 0.6 and np.mean(nitrides) > 0.1


def test_every_prototype_and_real_compounds_are_drawn(ionic):
    assert {s.properties["prototype"] for s in ionic} == set(IONIC_PROTOTYPES)
    real = [s.properties["source"] for s in ionic if s.properties["source"] != "prototype"]
    assert set(real) <= {c.name for c in IONIC_COMPOUNDS}
    assert 0.25 < len(real) / len(ionic) < 0.55


def test_no_real_compound_is_one_of_the_holdout_benchmark():
    holdout = {path.stem for path in HOLDOUT.glob("*.npz")}
    assert {"GaN", "CaF2", "CsPbI3"} <= holdout
    formulas = {c.build().composition.reduced_formula for c in IONIC_COMPOUNDS}
    assert not formulas & holdout


@pytest.mark.parametrize("name", sorted(IONIC_PROTOTYPES))
def test_prototype_nearest_neighbours_sit_at_the_covalent_bond(name):
    prototype = IONIC_PROTOTYPES[name]
    elements = prototype.chemistry(np.random.default_rng(3))
    structure = prototype.structure(elements)
    expected = np.mean([bond(elements[i], elements[j]) for i, j in prototype.bonded])
    distances = structure.distance_matrix + np.diag([np.inf] * len(structure))
    assert distances.min() == pytest.approx(expected, rel=1e-6)

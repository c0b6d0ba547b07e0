"""Training structures: reproducible, chemically sensible, calculable, never held-out geometry."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Element

from socscreen.corpus.training_structures import (
    PROTOTYPES,
    REAL_COMPOUNDS,
    bond,
    perturb,
    prototype_structure,
    training_structure,
    training_structures,
)
from socscreen.dft.calculator import missing_gpaw_data
from socscreen.hamiltonian import Hamiltonian

SEEDS = range(300)


@pytest.fixture(scope="module")
def structures():
    return [training_structure(s) for s in SEEDS]


def _min_distance(structure) -> float:
    if len(structure) == 1:
        return float(min(structure.lattice.abc))
    return float((structure.distance_matrix + np.diag([np.inf] * len(structure))).min())


def test_equal_seeds_give_equal_structures():
    a, b = training_structure(7), training_structure(7)
    assert a == b and a.properties == b.properties
    np.testing.assert_array_equal(a.lattice.matrix, b.lattice.matrix)
    assert training_structure(8) != a


def test_provenance_is_recorded(structures):
    for structure in structures:
        props = structure.properties
        assert props["prototype"] in PROTOTYPES or props["prototype"] in {
            c.prototype for c in REAL_COMPOUNDS
        }
        assert props["holdout"] is False
        assert props["strain_sigma"] == 0.02 and props["rattle"] == 0.04
        assert set(props["elements"]) == {e.symbol for e in structure.composition.elements}


def test_every_structure_is_small_calculable_and_not_overlapping(structures):
    symbols = {site.specie.symbol for s in structures for site in s}
    assert missing_gpaw_data(sorted(symbols), "PBE", "szp(dzp)") == {}
    for structure in structures:
        assert len(structure) <= 5
        assert structure.is_ordered
        elements = structure.properties["elements"]
        shortest_bond = min(bond(a, b) for a in elements for b in elements)
        assert _min_distance(structure) > 0.8 * shortest_bond, structure


def test_prototypes_and_real_compounds_are_both_drawn(structures):
    sources = [s.properties["source"] for s in structures]
    real = sum(source != "prototype" for source in sources)
    assert 0.25 < real / len(sources) < 0.55
    drawn = {s.properties["prototype"] for s in structures}
    assert drawn == set(PROTOTYPES)


def test_heavy_elements_dominate(structures):
    heavy = [any(Element(e).Z >= 48 for e in s.properties["elements"]) for s in structures]
    assert np.mean(heavy) > 0.6


def test_half_heuslers_have_8_or_18_valence_electrons(structures):
    groups = {1: 1, 2: 2, 13: 3, 14: 4, 15: 5}
    for s in structures:
        if s.properties["prototype"] == "halfheusler":
            count = sum(groups.get(site.specie.group, site.specie.group) for site in s)
            assert count in (8, 18), s.composition


@pytest.mark.parametrize("name", sorted(PROTOTYPES))
def test_prototype_nearest_neighbours_sit_at_the_covalent_bond(name):
    prototype = PROTOTYPES[name]
    elements = prototype.chemistry(np.random.default_rng(1))
    structure = prototype_structure(name, elements)
    expected = np.mean([bond(elements[i], elements[j]) for i, j in prototype.bonded])
    assert _min_distance(structure) == pytest.approx(expected, rel=1e-6)


def test_unknown_prototype_is_rejected():
    with pytest.raises(ValueError, match="unknown prototype 'hcp'"):
        prototype_structure("hcp", ["Mg"])


def test_real_compounds_build_at_experimental_geometry():
    names = {c.name for c in REAL_COMPOUNDS}
    assert {
        "GaAs",
        "InSb",
        "HgTe",
        "PbTe",
        "SnTe",
        "Bi",
        "Sb",
        "Bi2Te3",
        "Sb2Te3",
        "ScPtBi",
        "YPdBi",
        "CsPbI3",
        "CsSnI3",
        "alpha-Sn",
        "Ge",
    } <= names
    by_name = {c.name: c.build() for c in REAL_COMPOUNDS}
    assert _min_distance(by_name["GaAs"]) == pytest.approx(5.653 * np.sqrt(3) / 4)
    assert _min_distance(by_name["PbTe"]) == pytest.approx(6.462 / 2)
    for name, structure in by_name.items():
        assert len(structure) <= 5 and _min_distance(structure) > 1.8, name


def test_fixture_geometries_are_never_drawn_unperturbed(data_dir, structures):
    fixtures = {
        n: Hamiltonian.from_npz(data_dir / f"{n}_szp.npz").structure for n in ("Si", "Bi2Se3")
    }
    seen = 0
    for structure in structures:
        source = structure.properties["source"]
        if source in fixtures:
            seen += 1
            fixture = fixtures[source]
            assert np.abs(structure.lattice.matrix - fixture.lattice.matrix).max() > 1e-3
    assert seen > 0  # the fixture compounds do appear, as strained and rattled variants


def test_perturbation_is_required_and_symmetric():
    with pytest.raises(ValueError, match="held out"):
        training_structure(0, strain_sigma=0.0)
    base = REAL_COMPOUNDS[0].build()
    rng = np.random.default_rng(0)
    moved = perturb(base, rng, strain_sigma=0.02, rattle=0.0)
    # symmetric strain: cell' = cell (I + eps), eps = eps^T
    eps = np.linalg.solve(base.lattice.matrix, moved.lattice.matrix) - np.eye(3)
    np.testing.assert_allclose(eps, eps.T, atol=1e-12)
    assert 0 < np.abs(eps).max() < 0.1
    np.testing.assert_allclose(moved.frac_coords, base.frac_coords, atol=1e-12)


def test_training_structures_caps_atoms():
    assert all(len(s) <= 2 for s in training_structures(40, seed=0, max_atoms=2))

"""Periodic radius graph against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from socscreen.dft.graph import radius_graph

CUTOFFS = {"Ga": 3.1, "As": 2.4}


@pytest.fixture()
def gaas() -> Structure:
    rng = np.random.default_rng(0)
    lattice = Lattice(
        np.array([[0, 2.83, 2.83], [2.83, 0, 2.83], [2.83, 2.83, 0]]) + rng.normal(0, 0.05, (3, 3))
    )
    return Structure(lattice, ["Ga", "As", "As"], [[0, 0, 0], [0.25, 0.25, 0.27], [0.6, 0.5, 0.4]])


def brute_force(
    structure: Structure, cutoffs: dict[str, float]
) -> set[tuple[int, int, int, int, int]]:
    radii = [cutoffs[s.specie.symbol] for s in structure]
    edges = set()
    frac = structure.frac_coords
    for i, j in itertools.product(range(len(structure)), repeat=2):
        for r in itertools.product(range(-4, 5), repeat=3):
            d = (frac[j] + r - frac[i]) @ structure.lattice.matrix
            dist = np.linalg.norm(d)
            if dist < radii[i] + radii[j] and (dist > 1e-8 or i != j):
                edges.add((i, j, *r))
    return edges | {(i, i, 0, 0, 0) for i in range(len(structure))}


def test_graph_matches_brute_force(gaas):
    graph = radius_graph(gaas, CUTOFFS)
    found = {
        (int(i), int(j), *map(int, r))
        for (i, j), r in zip(graph.edge_index.T, graph.shifts, strict=True)
    }
    assert len(found) == graph.n_edges
    assert found == brute_force(gaas, CUTOFFS)
    # vectors and cutoffs
    frac = gaas.frac_coords
    i, j = graph.edge_index
    expected = (frac[j] + graph.shifts - frac[i]) @ gaas.lattice.matrix
    np.testing.assert_allclose(graph.vectors, expected, atol=1e-12)
    radii = np.array([CUTOFFS[s.specie.symbol] for s in gaas])
    np.testing.assert_allclose(graph.cutoffs, radii[i] + radii[j])
    assert np.all(
        np.linalg.norm(graph.vectors[~graph.is_self], axis=1) < graph.cutoffs[~graph.is_self]
    )


def test_partner_is_reverse_edge(gaas):
    graph = radius_graph(gaas, CUTOFFS)
    p = graph.partner
    np.testing.assert_array_equal(graph.edge_index[:, p], graph.edge_index[::-1])
    np.testing.assert_array_equal(graph.shifts[p], -graph.shifts)
    np.testing.assert_array_equal(p[p], np.arange(graph.n_edges))
    assert graph.is_self.sum() == len(gaas)
    np.testing.assert_array_equal(p[graph.is_self], np.flatnonzero(graph.is_self))
    r = graph.lattice_vectors
    assert {tuple(x) for x in r} == {tuple(-x) for x in r}


def test_missing_cutoff_names_the_element(gaas):
    with pytest.raises(ValueError, match=r"\['As'\]"):
        radius_graph(gaas, {"Ga": 3.0})


def test_graph_of_a_100_atom_cell():
    """Its time is benchmarks/bench_graph.py's (no wall-clock assert on a shared machine)."""
    rng = np.random.default_rng(1)
    structure = Structure(Lattice.cubic(11.0), ["Si"] * 100, rng.random((100, 3)))
    graph = radius_graph(structure, {"Si": 4.5})
    assert graph.n_edges > 10000

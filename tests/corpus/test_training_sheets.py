"""2D training sheets: reproducible monolayers with vacuum along z, calculable, bonded."""

from __future__ import annotations

import numpy as np
import pytest

from socscreen.corpus.training_sheets import (
    HETEROBILAYER_PAIRS,
    HETEROBILAYER_SEEDS_FROM,
    HETEROBILAYER_SPACING,
    REAL_SHEETS,
    SHEET_PROTOTYPES,
    training_sheet,
)
from socscreen.corpus.training_structures import (
    SHEET_SEEDS_FROM,
    bond,
    training_structure,
)
from socscreen.dft.calculator import missing_gpaw_data, scf_kpoint_mesh
from socscreen.structure_flags import periodic_dimension, vacuum_widths

SEEDS = range(SHEET_SEEDS_FROM, SHEET_SEEDS_FROM + 400)


@pytest.fixture(scope="module")
def sheets():
    drawn = [training_structure(s) for s in SEEDS]
    return [s for s in drawn if s.properties.get("dimension") == 2]


def test_a_share_of_new_seeds_are_sheets_and_old_seeds_never(sheets):
    assert 0.2 < len(sheets) / len(SEEDS) < 0.4
    assert all(
        "dimension" not in training_structure(s).properties
        for s in range(SHEET_SEEDS_FROM - 100, SHEET_SEEDS_FROM)
    )


def test_equal_seeds_give_equal_sheets(sheets):
    seed = sheets[0].properties["seed"]
    assert training_sheet(seed) == training_structure(seed)
    assert training_sheet(seed).properties == sheets[0].properties


def test_sheets_are_2d_with_vacuum_along_z_and_one_kz_point(sheets):
    for sheet in sheets:
        assert periodic_dimension(sheet) == 2
        assert vacuum_widths(sheet)[2] > 15.0
        np.testing.assert_allclose(sheet.lattice.matrix[2], [0, 0, sheet.lattice.c], atol=1e-12)
        assert np.allclose(sheet.lattice.matrix[:2, 2], 0.0)  # in-plane strain only
        assert scf_kpoint_mesh(sheet.lattice, 20.0)[2] == 1


def _monolayers(sheets):
    return [s for s in sheets if s.properties["prototype"] != "MX2-heterobilayer"]


def test_sheets_are_calculable_and_bonded_not_overlapping(sheets):
    symbols = {site.specie.symbol for s in sheets for site in s}
    assert missing_gpaw_data(sorted(symbols), "PBE", "szp(dzp)") == {}
    for sheet in _monolayers(sheets):
        assert len(sheet) <= 3 and sheet.is_ordered
        distances = sheet.distance_matrix + np.diag([np.inf] * len(sheet))
        elements = sheet.properties["elements"]
        shortest = min(bond(a, b) for a in elements for b in elements)
        assert (
            0.75 * shortest
            < distances.min()
            < 1.1 * max(bond(a, b) for a in elements for b in elements)
        ), sheet


def test_every_prototype_and_real_sheets_are_drawn(sheets):
    assert {s.properties["prototype"] for s in sheets} == {*SHEET_PROTOTYPES, "MX2-heterobilayer"}
    monolayers = _monolayers(sheets)
    real = [s.properties["source"] for s in monolayers if s.properties["source"] != "prototype"]
    assert set(real) <= set(REAL_SHEETS) and 0.25 < len(real) / len(monolayers) < 0.55


def test_real_mx2_sheets_keep_their_geometry_up_to_the_perturbation(sheets):
    mos2 = [s for s in sheets if s.properties["source"] == "MoS2"]
    assert mos2
    for sheet in mos2:
        assert sheet.composition.reduced_formula == "MoS2"
        assert abs(np.mean(sheet.lattice.abc[:2]) - 3.16) < 0.2
        mo = [i for i, site in enumerate(sheet) if site.specie.symbol == "Mo"][0]
        assert np.allclose(sorted(sheet.distance_matrix[mo])[1:3], 2.41, atol=0.2)


def test_heterobilayers_come_only_from_new_seeds_and_never_as_the_benchmarks_pair(sheets):
    # seeds below HETEROBILAYER_SEEDS_FROM keep the monolayers their corpus files hold
    bilayers = [s for s in sheets if s.properties["prototype"] == "MX2-heterobilayer"]
    assert all(s.properties["seed"] >= HETEROBILAYER_SEEDS_FROM for s in bilayers)
    assert bilayers
    for bilayer in bilayers:
        pair, angle = bilayer.properties["source"].split()
        bottom, top = pair.split("/")
        assert (bottom, top) in HETEROBILAYER_PAIRS or (top, bottom) in HETEROBILAYER_PAIRS
        assert {bottom, top} != {"MoSe2", "WSe2"} and angle in ("0deg", "60deg")
        assert len(bilayer) == 6 and periodic_dimension(bilayer) == 2
        z = bilayer.cart_coords[:, 2]
        metals = [i for i, site in enumerate(bilayer) if site.specie.symbol in ("Mo", "W")]
        spacing = abs(z[metals[1]] - z[metals[0]])
        assert HETEROBILAYER_SPACING[0] - 0.2 < spacing < HETEROBILAYER_SPACING[1] + 0.2
        layers = [sorted(bilayer[i].specie.symbol for i in range(6) if (z[i] > z.mean()) == up)
                  for up in (False, True)]  # fmt: skip
        assert layers[0] != layers[1]  # two different sheets
        distances = bilayer.distance_matrix + np.diag([np.inf] * 6)
        assert distances.min() > 2.2  # metal-chalcogen bonds, no clash across the gap


def test_heterobilayers_are_within_the_generators_default_caps(sheets):
    import inspect

    from socscreen.workflows.training_data import MAX_ATOMS, compute_corpus_entry, estimated_cost

    max_cost = inspect.signature(compute_corpus_entry).parameters["max_cost"].default
    bilayers = [s for s in sheets if s.properties["prototype"] == "MX2-heterobilayer"]
    assert all(len(s) <= MAX_ATOMS for s in bilayers)
    assert all(estimated_cost(s, "szp(dzp)") < max_cost for s in bilayers)

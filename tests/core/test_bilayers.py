"""Commensurate twisted bilayers (socscreen.bilayers) of 2H MX2 monolayers built in code.

Twist angles of the equal-lattice cells, from the (m, n) construction:
cos θ = (m² + 4mn + n²) / (2 (m² + mn + n²)): √7 (1, 2) 21.79°, √19 (2, 3) 13.17°,
√13 (1, 3) 32.20°, and 60° - 32.20° = 27.80° for the other √13 cell.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from socscreen import bilayers
from socscreen.bilayers import twisted_bilayer
from socscreen.cli import twist as twist_cli
from socscreen.corpus.training_sheets import mx2_2h
from socscreen.stores.schemas.campaign import CampaignSettings
from socscreen.structure_flags import vacuum_widths


def mx2(metal: str, chalcogen: str, a: float, height: float, c: float = 20.0) -> Structure:
    """2H MX2 monolayer (Å) in a cell of height ``c``."""
    return mx2_2h(metal, chalcogen, a=a, h=height, c=c)


MOSE2 = mx2("Mo", "Se", 3.32, 3.34)
WSE2 = mx2("W", "Se", 3.32, 3.35)
MOS2 = mx2("Mo", "S", 3.16, 3.13)


def _acos_deg(x: float) -> float:
    return math.degrees(math.acos(x))


def layer_sites(bilayer: Structure) -> tuple[list[int], list[int]]:
    """Indices of the bottom and the top layer (below and above the middle of the pair)."""
    z = bilayer.cart_coords[:, 2]
    middle = 0.5 * (z.min() + z.max())
    return [i for i in range(len(z)) if z[i] < middle], [i for i in range(len(z)) if z[i] > middle]


def in_plane_distances(bilayer: Structure, first: int, others: list[int]) -> np.ndarray:
    """In-plane distances (Å) from site ``first`` to the nearest image of each of ``others``."""
    lattice = bilayer.lattice
    out = []
    for j in others:
        delta = bilayer.frac_coords[j] - bilayer.frac_coords[first]
        delta[:2] -= np.round(delta[:2])
        shifts = np.array([[i, k, 0] for i in (-1, 0, 1) for k in (-1, 0, 1)])
        cart = lattice.get_cartesian_coords(delta + shifts)
        out.append(np.linalg.norm(cart[:, :2], axis=1).min())
    return np.array(out)


def metal_chalcogen_direction(bilayer: Structure, layer: list[int]) -> float:
    """Direction (°, modulo 120) of the in-plane bond from a metal to its upper chalcogens."""
    species = [bilayer[i].specie.symbol for i in layer]
    metal = layer[species.index(next(s for s in species if s in ("Mo", "W")))]
    z_metal = bilayer.cart_coords[metal, 2]
    directions = []
    for neighbour in bilayer.get_neighbors(bilayer[metal], 3.0):
        vector = neighbour.coords - bilayer.cart_coords[metal]
        if neighbour.coords[2] > z_metal + 0.5 and neighbour.index in layer:
            directions.append(math.degrees(math.atan2(vector[1], vector[0])) % 120.0)
    assert len(directions) == 3
    assert np.ptp(directions) < 1e-6  # the three bonds are 120° apart
    return directions[0]


def assert_top_turned_by(bilayer: Structure, angle: float) -> None:
    """The top layer's bonds point ``angle`` (°, modulo the threefold 120°) from the bottom's."""
    bottom, top = layer_sites(bilayer)
    turn = metal_chalcogen_direction(bilayer, top) - metal_chalcogen_direction(bilayer, bottom)
    off = (turn - angle) % 120.0
    assert min(off, 120.0 - off) < 1e-6, f"turned by {turn} degrees, not {angle} (mod 120)"


@pytest.mark.parametrize("angle", [0.0, 60.0])
def test_aligned_and_antialigned_pairs_share_the_1x1_cell_of_six_atoms(angle):
    bilayer, record = twisted_bilayer(MOSE2, WSE2, angle)
    assert len(bilayer) == record.n_atoms == 6
    assert record.bottom_cells == record.top_cells == 1
    assert record.achieved_angle_deg == pytest.approx(angle, abs=1e-9)
    assert record.strain_percent == pytest.approx(0.0, abs=1e-9)
    assert bilayer.lattice.a == pytest.approx(3.32)


@pytest.mark.parametrize(
    ("requested", "achieved", "atoms"),
    [
        (21.8, _acos_deg(13 / 14), 42),  # √7 x √7
        (13.2, _acos_deg(37 / 38), 114),  # √19 x √19
        (27.8, 60.0 - _acos_deg(11 / 13), 78),  # √13 x √13
        (32.2, _acos_deg(11 / 13), 78),  # the other √13 stacking
        (-21.8, -_acos_deg(13 / 14), 42),
    ],
)
def test_twisted_pairs_get_the_smallest_commensurate_cell(requested, achieved, atoms):
    bilayer, record = twisted_bilayer(MOSE2, WSE2, requested)
    assert len(bilayer) == record.n_atoms == atoms
    assert record.achieved_angle_deg == pytest.approx(achieved, abs=1e-5)
    assert record.bottom_cells == record.top_cells == atoms // 6
    assert record.superlattice_constant_A == pytest.approx(3.32 * math.sqrt(atoms // 6))
    assert bilayer.composition.reduced_formula == "MoWSe4"


def test_the_record_says_where_each_sheets_k_valley_folds():
    # equal lattices: 7, 13 or 19 cells, never a multiple of 3: K stays at the supercell's K
    for angle in (0.0, 13.2, 21.8, 27.8, 60.0):
        _, record = twisted_bilayer(MOSE2, WSE2, angle)
        assert (record.bottom_k_folds_to, record.top_k_folds_to) == ("K", "K")
    # MoS2/WSe2 at 16.1 degrees: 13 MoS2 cells on 12 WSe2 cells; WSe2's K lands on Γ
    _, record = twisted_bilayer(MOS2, WSE2, 16.1, max_strain_percent=2.0)
    assert (record.bottom_cells, record.top_cells, record.n_atoms) == (13, 12, 75)
    assert (record.bottom_k_folds_to, record.top_k_folds_to) == ("K", "Gamma")


@pytest.mark.parametrize("requested", [0.0, 21.8, 60.0, 27.8])
def test_the_top_layer_is_turned_by_the_achieved_angle(requested):
    bilayer, record = twisted_bilayer(MOSE2, WSE2, requested)
    assert_top_turned_by(bilayer, record.achieved_angle_deg)


@pytest.mark.parametrize(
    ("bottom", "top", "angle", "options"),
    [
        (MOSE2, WSE2, 21.8, {}),
        (MOS2, WSE2, 21.8, {"max_strain_percent": 2.0, "max_atoms": 1000}),
    ],
)
def test_layers_keep_their_in_plane_neighbour_distances_up_to_the_stated_strain(
    bottom, top, angle, options
):
    bilayer, record = twisted_bilayer(bottom, top, angle, **options)
    assert abs(record.strain_percent) <= options.get("max_strain_percent", 1.0)
    stretch = 1.0 + record.strain_percent / 100.0
    for layer, sheet, scale in zip(
        layer_sites(bilayer), (bottom, top), (1.0, stretch), strict=True
    ):
        a = sheet.lattice.a
        metals = [i for i in layer if bilayer[i].specie.symbol in ("Mo", "W")]
        chalcogens = [i for i in layer if i not in metals]
        metal_metal = in_plane_distances(bilayer, metals[0], metals[1:]).min()
        metal_chalcogen = in_plane_distances(bilayer, metals[0], chalcogens).min()
        assert metal_metal == pytest.approx(a * scale, abs=1e-6)
        assert metal_chalcogen == pytest.approx(a / math.sqrt(3) * scale, abs=1e-6)
    if options:
        assert record.strain_percent != pytest.approx(0.0, abs=1e-3)  # a real strain


def test_the_pair_keeps_at_least_15_angstrom_of_vacuum_and_the_metal_distance():
    bilayer, record = twisted_bilayer(MOSE2, WSE2, 21.8)
    assert vacuum_widths(bilayer)[2] >= 15.0 - 1e-6
    assert record.vacuum_A >= 15.0 - 1e-6
    z = {s.specie.symbol: s.coords[2] for s in bilayer if s.specie.symbol in ("Mo", "W")}
    assert z["W"] - z["Mo"] == pytest.approx(6.5)
    wider, _ = twisted_bilayer(MOSE2, WSE2, 0.0, vacuum=20.0, interlayer_distance=7.0)
    assert vacuum_widths(wider)[2] == pytest.approx(20.0)


def test_0_and_60_degrees_are_the_two_inversion_related_stackings():
    aligned, _ = twisted_bilayer(MOSE2, WSE2, 0.0)
    turned, _ = twisted_bilayer(MOSE2, WSE2, 60.0)
    bottom, top = layer_sites(aligned)
    assert layer_sites(turned) == (bottom, top)
    assert np.allclose(aligned.lattice.matrix, turned.lattice.matrix)
    np.testing.assert_allclose(aligned.frac_coords[bottom], turned.frac_coords[bottom], atol=1e-9)

    def top_chalcogens(bilayer):  # in-plane, relative to the top metal, in [0, 1)
        metal = next(i for i in top if bilayer[i].specie.symbol == "W")
        rel = (
            bilayer.frac_coords[[i for i in top if i != metal], :2] - bilayer.frac_coords[metal, :2]
        )
        return np.mod(rel + 1e-9, 1.0) - 1e-9

    # the 60° top layer is the 0° one inverted in the plane through its metal
    np.testing.assert_allclose(
        top_chalcogens(turned), np.mod(-top_chalcogens(aligned), 1.0), atol=1e-9
    )
    assert not np.allclose(top_chalcogens(turned), top_chalcogens(aligned), atol=1e-3)
    # 0°: chalcogen over chalcogen (R stacking); 60°: chalcogens over hollow sites (H)
    lower_se = aligned.frac_coords[bottom[1], :2]
    assert np.allclose(top_chalcogens(aligned)[0], lower_se, atol=1e-9)
    assert not np.allclose(top_chalcogens(turned)[0], lower_se, atol=1e-3)


def test_an_unreachable_angle_names_the_nearest_achievable_one():
    with pytest.raises(
        ValueError, match=r"at 1 degrees .* nearest achievable: 0\.00 degrees"
    ) as err:
        twisted_bilayer(MOSE2, WSE2, 1.0)
    assert "\n" not in str(err.value)
    with pytest.raises(
        ValueError, match=r"at 13.2 degrees .* nearest achievable: 21\.79 degrees \(42 atoms"
    ):
        twisted_bilayer(MOSE2, WSE2, 13.2, max_atoms=50)
    with pytest.raises(ValueError, match=r"at 0 degrees .* 1% strain; nearest achievable"):
        twisted_bilayer(MOS2, WSE2, 0.0)


def test_the_cell_does_not_depend_on_how_the_sheet_is_written():
    # gamma = 60 instead of 120, and the sheet cut by the cell boundary along c
    a, c = 3.32, 20.0
    sixty = Lattice.from_parameters(a, a, c, 90, 90, 60)
    wrapped = Structure(
        sixty,
        ["W", "Se", "Se"],
        [[0, 0, 0.0], [2 / 3, 2 / 3, 1.675 / c], [2 / 3, 2 / 3, -1.675 / c]],
    )
    reference, _ = twisted_bilayer(MOSE2, WSE2, 21.8)
    bilayer, record = twisted_bilayer(MOSE2, wrapped, 21.8)
    assert record.n_atoms == 42
    assert record.achieved_angle_deg == pytest.approx(_acos_deg(13 / 14), abs=1e-6)
    assert np.allclose(bilayer.lattice.matrix, reference.lattice.matrix)
    assert_top_turned_by(bilayer, record.achieved_angle_deg)


def test_sheets_that_are_not_hexagonal_slabs_are_refused():
    bulk = mx2("Mo", "Se", 3.32, 3.34, c=6.5)
    with pytest.raises(ValueError, match="bottom sheet: not a sheet with its vacuum along c"):
        twisted_bilayer(bulk, WSE2, 0.0)
    rectangular = Structure(Lattice.orthorhombic(3.0, 4.0, 20.0), ["Mo"], [[0, 0, 0.5]])
    with pytest.raises(ValueError, match="top sheet: the in-plane lattice is not hexagonal"):
        twisted_bilayer(MOSE2, rectangular, 0.0)
    with pytest.raises(ValueError, match="they would overlap"):
        twisted_bilayer(MOSE2, WSE2, 0.0, interlayer_distance=3.0)
    with pytest.raises(ValueError, match="vacuum must be at least 15"):
        twisted_bilayer(MOSE2, WSE2, 0.0, vacuum=10.0)


def test_the_command_line_defaults_are_the_builders():
    assert twist_cli.DEFAULT_INTERLAYER_DISTANCE == bilayers.DEFAULT_INTERLAYER_DISTANCE
    assert twist_cli.MIN_VACUUM == bilayers.MIN_VACUUM
    assert twist_cli.DEFAULT_MAX_ATOMS == bilayers.DEFAULT_MAX_ATOMS
    assert twist_cli.DEFAULT_MAX_STRAIN == bilayers.DEFAULT_MAX_STRAIN
    assert twist_cli.DEFAULT_ANGLE_TOLERANCE == bilayers.DEFAULT_ANGLE_TOLERANCE
    assert twist_cli.DEFAULT_SPARSE_FROM == CampaignSettings().sparse_from_sites

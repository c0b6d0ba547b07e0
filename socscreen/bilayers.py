"""Commensurate twisted bilayers of two hexagonal sheets (MoSe2/WSe2 moiré cells).

:func:`twisted_bilayer` stacks a *top* sheet, rotated counter-clockwise (seen from +z) by
a twist angle θ (degrees) about the vertical axis, on a *bottom* sheet, in the smallest
periodic cell both layers fit:

* **Angle convention**: each sheet is taken as given, its first lattice vector along x
  and its normal ``a × b`` along +z; θ = 0° puts the two sheets' lattice vectors parallel
  (for two 2H MX2 sheets an R-type stacking, AA: metal over metal, chalcogen over
  chalcogen), θ = 60° is the other 1×1 stacking (H-type: metal over metal, chalcogens
  over hollows, the top sheet inverted in the plane). The rotation axis passes through the
  site of each sheet closest to its mid-plane (the metal of an MX2 sheet). An MX2 sheet
  has a threefold axis, so θ and θ + 120° are the same bilayer, but θ and θ + 60° are not.
* **Commensurate cell** (:func:`commensurate_cell`, the standard (m, n) construction): a
  vector ``v1 = m a1 + n a2`` of the bottom lattice and a vector ``v2 = p b1 + q b2`` of
  the top lattice with ``R(θ') v2 ∥ v1``; the supercell of both is spanned by ``v1`` and
  ``v1`` turned by 60°. The smallest cell (fewest atoms) whose angle θ' lies within a
  tolerance of the requested θ and whose strain stays below a limit wins; for equal
  lattice constants θ = 21.79° gives √7×√7 (42 atoms of MX2/MX2), 13.17° √19×√19 (114),
  27.80° √13×√13 (78), 0° and 60° the 1×1 cell (6).
* **Strain**: the bottom layer keeps its lattice; the top one is stretched uniformly in
  the plane by ``|v1| / |v2|`` (reported in % in :class:`TwistedBilayerRecord`).
* **Valleys**: a sheet's K point folds onto the supercell's K (or K') or, when its cell
  count is a multiple of 3, onto the supercell's Γ (:func:`k_folds_to`); the record
  says which, because valley figures of the supercell taken at its K miss a sheet whose
  valleys sit at Γ.
* **Stacking**: the two mid-planes (the metal planes of MX2 sheets) are
  ``interlayer_distance`` Å apart (default 6.5 Å, a chalcogen-chalcogen gap of about
  3.2 Å for MX2), with ``vacuum`` Å (at least :data:`MIN_VACUUM`) of empty space along c,
  nucleus to nucleus.

pymatgen's ``analysis.interfaces`` (ZSL) matches lattices for epitaxy but does not fix a
twist angle, so the search here is written out: a vectorised scan of lattice vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from pymatgen.core import Lattice, Structure

from socscreen.structure_flags import VACUUM_2D, centred, has_vacuum_along_c_only, vacuum_widths
from socscreen.structures import check_structure

__all__ = [
    "DEFAULT_INTERLAYER_DISTANCE",
    "DEFAULT_MAX_ATOMS",
    "DEFAULT_MAX_STRAIN",
    "DEFAULT_ANGLE_TOLERANCE",
    "MIN_VACUUM",
    "CommensurateCell",
    "HexagonalSheet",
    "TwistedBilayerRecord",
    "commensurate_cell",
    "k_folds_to",
    "read_hexagonal_sheet",
    "twisted_bilayer",
]

#: Distance between the mid-planes of the two layers (Å): metal to metal for MX2.
DEFAULT_INTERLAYER_DISTANCE = 6.5
#: Empty space along c the bilayer keeps at least (Å, nucleus to nucleus).
MIN_VACUUM = 15.0
#: Largest bilayer cell built by default (atoms).
DEFAULT_MAX_ATOMS = 500
#: Largest in-plane strain of the top layer by default (%).
DEFAULT_MAX_STRAIN = 1.0
#: Largest difference between the requested and the achieved twist angle by default (°).
DEFAULT_ANGLE_TOLERANCE = 0.5

_ROT60 = np.array([[0.5, -math.sqrt(3) / 2], [math.sqrt(3) / 2, 0.5]])  # acts on columns


@dataclass(frozen=True)
class HexagonalSheet:
    """A hexagonal sheet in its own frame: ``a1`` along x, the normal along +z.

    Attributes
    ----------
    formula
        Reduced formula of the sheet, e.g. ``"MoSe2"``.
    lattice
        In-plane lattice vectors as rows ``[2, 2]`` (Å), ``a1 = (a, 0)``.
    species
        Element symbols of the sites.
    frac_xy
        In-plane fractional coordinates ``[n, 2]``, the rotation-axis site at (0, 0).
    z
        Height of each site above the sheet's mid-plane ``[n]`` (Å).
    """

    formula: str
    lattice: np.ndarray
    species: tuple[str, ...]
    frac_xy: np.ndarray
    z: np.ndarray

    @property
    def a(self) -> float:
        """Lattice constant (Å)."""
        return float(np.linalg.norm(self.lattice[0]))

    @property
    def thickness(self) -> float:
        """Nucleus-to-nucleus height of the sheet (Å)."""
        return float(self.z.max() - self.z.min())

    @property
    def cell_area(self) -> float:
        """Area of the sheet's cell (Å²)."""
        return float(abs(np.linalg.det(self.lattice)))


def read_hexagonal_sheet(structure: Structure, name: str = "sheet") -> HexagonalSheet:
    """Read a hexagonal sheet from a slab with its vacuum along c.

    Raises
    ------
    ValueError
        One line naming ``name``: an unusable structure, no vacuum of at least
        :data:`~socscreen.structure_flags.VACUUM_2D` Å along c (or vacuum in the plane),
        or an in-plane lattice that is not hexagonal (|a| = |b|, γ = 60° or 120°).
    """
    try:
        check_structure(structure)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from error
    widths = vacuum_widths(structure)
    if not has_vacuum_along_c_only(widths):
        raise ValueError(
            f"{name}: not a sheet with its vacuum along c (empty layers along a, b, c: "
            f"{widths[0]:.1f}, {widths[1]:.1f}, {widths[2]:.1f} Angstrom; c needs at least "
            f"{VACUUM_2D:.0f})"
        )
    lattice = structure.lattice
    a, b, gamma = lattice.a, lattice.b, lattice.gamma
    if abs(a - b) > 1e-3 * a or min(abs(gamma - 60.0), abs(gamma - 120.0)) > 0.1:
        raise ValueError(
            f"{name}: the in-plane lattice is not hexagonal (a = {a:.4f}, b = {b:.4f} "
            f"Angstrom, gamma = {gamma:.2f} degrees)"
        )
    sheet = centred(structure)
    vec_a, vec_b = sheet.lattice.matrix[0], sheet.lattice.matrix[1]
    x_axis = vec_a / np.linalg.norm(vec_a)
    z_axis = np.cross(vec_a, vec_b)
    z_axis /= np.linalg.norm(z_axis)
    y_axis = np.cross(z_axis, x_axis)
    frame = np.array([x_axis, y_axis])  # rows: in-plane axes
    lattice_2d = np.array([frame @ vec_a, frame @ vec_b])
    cart = sheet.cart_coords
    z = cart @ z_axis
    z = z - 0.5 * (z.max() + z.min())
    frac_xy = (cart @ frame.T) @ np.linalg.inv(lattice_2d)
    axis_site = int(np.argmin(np.abs(z)))
    frac_xy = np.mod(frac_xy - frac_xy[axis_site] + 1e-12, 1.0) - 1e-12
    return HexagonalSheet(
        formula=sheet.composition.reduced_formula,
        lattice=lattice_2d,
        species=tuple(site.specie.symbol for site in sheet),
        frac_xy=frac_xy,
        z=z,
    )


@dataclass(frozen=True)
class CommensurateCell:
    """The common supercell of two sheets at one twist angle.

    Attributes
    ----------
    angle_deg
        Twist angle of the top layer (°), counter-clockwise.
    bottom_supercell, top_supercell
        Integer rows: the supercell vectors in each sheet's lattice basis ``[2, 2]``.
    strain_percent
        In-plane stretch of the top layer, ``100 (|v1| / |v2| - 1)`` (%).
    n_atoms
        Atoms of the bilayer cell.
    """

    angle_deg: float
    bottom_supercell: np.ndarray
    top_supercell: np.ndarray
    strain_percent: float
    n_atoms: int

    @property
    def bottom_cells(self) -> int:
        """Cells of the bottom sheet in the supercell."""
        return round(abs(np.linalg.det(self.bottom_supercell)))

    @property
    def top_cells(self) -> int:
        """Cells of the top sheet in the supercell."""
        return round(abs(np.linalg.det(self.top_supercell)))


def _lattice_vectors(sheet: HexagonalSheet, max_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer coefficients ``[k, 2]`` and vectors ``[k, 2]`` (Å) of supercells ≤ max_cells."""
    # a hexagonal supercell spanned by v and v turned by 60 degrees holds |v|^2 sin60 / area
    # cells; |v| >= (sqrt(3)/2) a max(|m|, |n|) bounds the coefficients
    reach = (
        int(
            math.ceil(
                math.sqrt(max_cells * sheet.cell_area / math.sin(math.pi / 3))
                / sheet.a
                / (math.sqrt(3) / 2)
            )
        )
        + 1
    )
    steps = np.arange(-reach, reach + 1)
    coefficients = np.stack(np.meshgrid(steps, steps, indexing="ij"), -1).reshape(-1, 2)
    coefficients = coefficients[np.any(coefficients != 0, axis=1)]
    vectors = coefficients @ sheet.lattice
    cells = np.einsum("ij,ij->i", vectors, vectors) * math.sin(math.pi / 3) / sheet.cell_area
    keep = cells <= max_cells + 1e-6
    return coefficients[keep], vectors[keep]


def _supercell_matrix(sheet: HexagonalSheet, coefficients: np.ndarray) -> np.ndarray:
    """Rows: ``v`` and ``v`` turned by 60°, in the sheet's lattice basis (integers)."""
    turned = _ROT60 @ (coefficients @ sheet.lattice)
    second = turned @ np.linalg.inv(sheet.lattice)
    return np.array([coefficients, np.rint(second)]).astype(int)


def _angles(vectors: np.ndarray) -> np.ndarray:
    """Direction of each vector in [0, 360) (°)."""
    return np.round(np.degrees(np.arctan2(vectors[:, 1], vectors[:, 0])), 9) % 360.0


def _wrapped(angle: np.ndarray | float) -> np.ndarray:
    """Angles taken into (-180, 180] (°)."""
    return 180.0 - np.mod(180.0 - np.asarray(angle), 360.0)


def commensurate_cell(
    bottom: HexagonalSheet,
    top: HexagonalSheet,
    angle_deg: float,
    max_atoms: int = DEFAULT_MAX_ATOMS,
    max_strain_percent: float = DEFAULT_MAX_STRAIN,
    angle_tolerance_deg: float = DEFAULT_ANGLE_TOLERANCE,
) -> CommensurateCell:
    """Find the smallest common supercell at a twist angle within ``angle_tolerance_deg`` (°).

    Among the cells of at most ``max_atoms`` atoms whose top layer needs at most
    ``max_strain_percent`` % strain: the fewest atoms, then the angle closest to
    ``angle_deg``, then the least strain.

    Raises
    ------
    ValueError
        One line naming the angle and the nearest angle these limits reach.
    """
    nat_bottom, nat_top = len(bottom.species), len(top.species)
    coef_b, vec_b = _lattice_vectors(bottom, max_atoms // nat_bottom)
    coef_t, vec_t = _lattice_vectors(top, max_atoms // nat_top)
    angle_b = _angles(vec_b)
    in_sector = angle_b < 60.0 - 1e-9  # v and v turned by 60 degrees span the same cell
    coef_b, vec_b, angle_b = coef_b[in_sector], vec_b[in_sector], angle_b[in_sector]
    len_b, len_t = np.linalg.norm(vec_b, axis=1), np.linalg.norm(vec_t, axis=1)
    i, j = _length_pairs(len_b, len_t, max_strain_percent)
    sin60 = math.sin(math.pi / 3)
    cells_b = np.rint(len_b**2 * sin60 / bottom.cell_area).astype(int)
    cells_t = np.rint(len_t**2 * sin60 / top.cell_area).astype(int)
    strain = 100.0 * (len_b[i] / len_t[j] - 1.0)
    atoms = cells_b[i] * nat_bottom + cells_t[j] * nat_top
    achieved = angle_deg + _wrapped(angle_b[i] - _angles(vec_t)[j] - angle_deg)
    miss = np.abs(achieved - angle_deg)
    allowed = (np.abs(strain) <= max_strain_percent + 1e-9) & (atoms <= max_atoms)
    within = allowed & (miss <= angle_tolerance_deg + 1e-9)
    limits = (
        f"within {angle_tolerance_deg:g} degrees, at most {max_atoms} atoms and "
        f"{max_strain_percent:g}% strain"
    )
    if not within.any():
        if not allowed.any():
            raise ValueError(
                f"no commensurate cell of {bottom.formula} and {top.formula} at any angle with "
                f"at most {max_atoms} atoms and {max_strain_percent:g}% strain"
            )
        candidates = np.flatnonzero(allowed)
        k = candidates[np.lexsort((atoms[candidates], np.round(miss[candidates], 6)))[0]]
        raise ValueError(
            f"no commensurate cell at {angle_deg:g} degrees {limits}; nearest achievable: "
            f"{achieved[k]:.2f} degrees ({atoms[k]} atoms, {strain[k]:+.2f}% strain)"
        )
    candidates = np.flatnonzero(within)
    keys = (np.round(np.abs(strain), 6), np.round(miss, 6), atoms)  # last key first
    k = candidates[np.lexsort(tuple(key[candidates] for key in keys))[0]]
    return CommensurateCell(
        angle_deg=float(achieved[k]),
        bottom_supercell=_supercell_matrix(bottom, coef_b[i[k]]),
        top_supercell=_supercell_matrix(top, coef_t[j[k]]),
        strain_percent=float(strain[k]),
        n_atoms=int(atoms[k]),
    )


def _length_pairs(
    len_b: np.ndarray, len_t: np.ndarray, max_strain_percent: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` of vectors whose lengths (Å) differ by at most the strain (%)."""
    order = np.argsort(len_t)
    ratio = max_strain_percent / 100.0
    low = np.searchsorted(len_t[order], len_b / (1.0 + ratio) * (1 - 1e-9), side="left")
    high = np.searchsorted(
        len_t[order], len_b / (1.0 - ratio) * (1 + 1e-9) if ratio < 1 else np.inf, side="right"
    )
    counts = high - low
    i = np.repeat(np.arange(len(len_b)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return i, order[np.arange(counts.sum()) - starts + np.repeat(low, counts)]


def k_folds_to(sheet: HexagonalSheet, supercell: np.ndarray) -> Literal["K", "Gamma"]:
    """Where the sheet's K point lands in the Brillouin zone of its hexagonal supercell.

    ``supercell`` rows are the supercell vectors in the sheet's lattice basis. K (at
    4π / 3a along the sheet's first lattice vector, 1/Å) folds onto the supercell's Γ
    when its phase over every supercell vector is a multiple of 2π, else onto the
    supercell's K or K' (the only other points with the threefold symmetry).
    """
    k_point = np.array([4.0 * math.pi / (3.0 * sheet.a), 0.0])
    turns = supercell @ (sheet.lattice @ k_point) / (2.0 * math.pi)
    return "Gamma" if np.allclose(turns, np.rint(turns), atol=1e-6) else "K"


def _supercell_sites(sheet: HexagonalSheet, supercell: np.ndarray) -> np.ndarray:
    """In-plane fractional coordinates of the supercell's sites ``[cells * n, 2]``, site-major."""
    corners = np.array([[0, 0], supercell[0], supercell[1], supercell[0] + supercell[1]])
    low, high = corners.min(axis=0) - 1, corners.max(axis=0) + 1
    shifts = np.stack(
        np.meshgrid(np.arange(low[0], high[0] + 1), np.arange(low[1], high[1] + 1), indexing="ij"),
        -1,
    ).reshape(-1, 2)
    inverse = np.linalg.inv(supercell.astype(float))
    cells = round(abs(np.linalg.det(supercell)))
    sites = []
    for frac in sheet.frac_xy:
        inside = (frac + shifts) @ inverse
        inside = inside[np.all((inside > -1e-8) & (inside < 1.0 - 1e-8), axis=1)]
        if len(inside) != cells:  # a bug, not an input problem
            raise RuntimeError(f"supercell {supercell.tolist()} gave {len(inside)} of {cells}")
        sites.append(np.mod(inside + 1e-8, 1.0) - 1e-8)
    return np.concatenate(sites)


class TwistedBilayerRecord(BaseModel):
    """What :func:`twisted_bilayer` built: angles, supercells, strain and size."""

    bottom_formula: str = Field(description="Reduced formula of the bottom sheet.")
    top_formula: str = Field(description="Reduced formula of the top sheet.")
    requested_angle_deg: float = Field(description="Twist angle asked for (degrees).")
    achieved_angle_deg: float = Field(description="Twist angle of the cell built (degrees).")
    bottom_supercell: list[list[int]] = Field(
        description="Supercell vectors in the bottom sheet's lattice basis (rows)."
    )
    top_supercell: list[list[int]] = Field(
        description="Supercell vectors in the top sheet's lattice basis (rows, before the twist)."
    )
    bottom_cells: int = Field(description="Cells of the bottom sheet in the bilayer cell.")
    top_cells: int = Field(description="Cells of the top sheet in the bilayer cell.")
    strain_percent: float = Field(
        description="Uniform in-plane strain the top layer needed (%; > 0: stretched)."
    )
    n_atoms: int = Field(description="Atoms of the bilayer cell.")
    bottom_k_folds_to: Literal["K", "Gamma"] = Field(
        description="Supercell point the bottom sheet's K valley folds onto."
    )
    top_k_folds_to: Literal["K", "Gamma"] = Field(
        description="Supercell point the top sheet's K valley folds onto."
    )
    superlattice_constant_A: float = Field(description="Length of the supercell vectors (Å).")
    interlayer_distance_A: float = Field(description="Distance between the mid-planes (Å).")
    vacuum_A: float = Field(description="Empty space along c, nucleus to nucleus (Å).")


def twisted_bilayer(
    bottom: Structure,
    top: Structure,
    angle_deg: float,
    interlayer_distance: float = DEFAULT_INTERLAYER_DISTANCE,
    vacuum: float = MIN_VACUUM,
    max_atoms: int = DEFAULT_MAX_ATOMS,
    max_strain_percent: float = DEFAULT_MAX_STRAIN,
    angle_tolerance_deg: float = DEFAULT_ANGLE_TOLERANCE,
) -> tuple[Structure, TwistedBilayerRecord]:
    """Stack ``top`` twisted by ``angle_deg`` (°) on ``bottom`` in their smallest common cell.

    Parameters
    ----------
    bottom, top
        Hexagonal sheets with their vacuum along c (e.g. MX2 monolayers).
    angle_deg
        Twist angle of the top layer (degrees, counter-clockwise seen from +z).
    interlayer_distance
        Distance between the two sheets' mid-planes (Å): metal to metal for MX2.
    vacuum
        Empty space along c (Å, nucleus to nucleus), at least :data:`MIN_VACUUM`.
    max_atoms, max_strain_percent, angle_tolerance_deg
        Limits of the cell search (:func:`commensurate_cell`): atoms, strain of the top
        layer (%), difference between the requested and the achieved angle (°).

    Returns
    -------
    tuple
        The bilayer (bottom layer's sites first, then the top layer's) and its
        :class:`TwistedBilayerRecord`.

    Raises
    ------
    ValueError
        One line: a sheet that is not a hexagonal slab, too little vacuum, layers that
        would overlap, or an angle the limits cannot reach (naming the nearest one).
    """
    if vacuum < MIN_VACUUM:
        raise ValueError(f"vacuum must be at least {MIN_VACUUM:g} Angstrom, got {vacuum:g}")
    if max_atoms < 1 or max_strain_percent < 0 or angle_tolerance_deg < 0:
        raise ValueError("max_atoms must be positive, the strain and angle limits not negative")
    lower, upper = (
        read_hexagonal_sheet(bottom, "bottom sheet"),
        read_hexagonal_sheet(top, "top sheet"),
    )
    gap = interlayer_distance - 0.5 * (lower.thickness + upper.thickness)
    if gap <= 0.5:
        raise ValueError(
            f"an interlayer distance of {interlayer_distance:g} Angstrom leaves the layers "
            f"{gap:.2f} Angstrom apart (sheets {lower.thickness:.2f} and "
            f"{upper.thickness:.2f} Angstrom thick): they would overlap"
        )
    cell = commensurate_cell(
        lower, upper, angle_deg, max_atoms, max_strain_percent, angle_tolerance_deg
    )
    v1 = cell.bottom_supercell[0] @ lower.lattice
    v2 = _ROT60 @ v1
    height = 0.5 * lower.thickness + interlayer_distance + 0.5 * upper.thickness + vacuum
    lattice = Lattice([[v1[0], v1[1], 0.0], [v2[0], v2[1], 0.0], [0.0, 0.0, height]])
    lower_mid = 0.5 * vacuum + 0.5 * lower.thickness
    species: list[str] = []
    coords: list[np.ndarray] = []
    for sheet, supercell, mid in (
        (lower, cell.bottom_supercell, lower_mid),
        (upper, cell.top_supercell, lower_mid + interlayer_distance),
    ):
        frac_xy = _supercell_sites(sheet, supercell)
        per_site = len(frac_xy) // len(sheet.species)
        species += [symbol for symbol in sheet.species for _ in range(per_site)]
        z = np.repeat(sheet.z + mid, per_site) / height
        coords.append(np.column_stack([frac_xy, z]))
    bilayer = Structure(lattice, species, np.concatenate(coords))
    check_structure(bilayer)
    record = TwistedBilayerRecord(
        bottom_formula=lower.formula,
        top_formula=upper.formula,
        requested_angle_deg=float(angle_deg),
        achieved_angle_deg=round(cell.angle_deg, 6) + 0.0,
        bottom_supercell=cell.bottom_supercell.tolist(),
        top_supercell=cell.top_supercell.tolist(),
        bottom_cells=cell.bottom_cells,
        top_cells=cell.top_cells,
        strain_percent=round(cell.strain_percent, 6) + 0.0,  # no -0.0
        n_atoms=len(bilayer),
        bottom_k_folds_to=k_folds_to(lower, cell.bottom_supercell),
        top_k_folds_to=k_folds_to(upper, cell.top_supercell),
        superlattice_constant_A=float(np.linalg.norm(v1)),
        interlayer_distance_A=float(interlayer_distance),
        vacuum_A=float(vacuum_widths(bilayer)[2]),
    )
    return bilayer, record

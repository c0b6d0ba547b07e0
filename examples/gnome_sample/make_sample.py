"""Write a small self-made sample in the GNoME dump format (no GNoME data is copied).

Output, next to this script:

* ``stable_materials_summary.csv`` with GNoME's columns;
* ``by_id.zip`` holding conventional-cell CIFs ``by_id/{MaterialId}.CIF``.

The crystals are textbook prototypes at experimental lattice constants (Angstrom):
tetradymites (Bi2Se3, Bi2Te3, Sb2Te3), rock salt (SnTe, PbTe), zinc blende (HgTe, CdTe,
InSb), half-Heuslers (ScPtBi, LaPtBi), a 1T-PtSe2 monolayer with vacuum, A7 bismuth and
diamond silicon, plus a second, 0.3 % strained PbTe entry that ingestion must merge as a
duplicate. Ids are ``socx`` + six digits. Volumes, densities and symmetry columns are
computed from the structures; ``Formation Energy Per Atom``, ``Decomposition Energy Per
Atom`` and ``Bandgap`` are illustrative round numbers for exercising filters, not
calculated values. Run ``python make_sample.py`` to regenerate (byte-identical output).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

HERE = Path(__file__).parent
ZIP_DATE = (2024, 1, 1, 0, 0, 0)
COLUMNS = [
    "Composition",
    "MaterialId",
    "Reduced Formula",
    "Elements",
    "NSites",
    "Volume",
    "Density",
    "Point Group",
    "Space Group",
    "Space Group Number",
    "Crystal System",
    "Formation Energy Per Atom",
    "Decomposition Energy Per Atom",
    "Dimensionality Cheon",
    "Bandgap",
    "Is Train",
]


def tetradymite(
    a: float, c: float, metal: str, chalcogen: str, z_m: float, z_x: float
) -> Structure:
    """M2X3 in R-3m, hexagonal conventional cell (15 atoms): M 6c, X1 3a, X2 6c."""
    return Structure.from_spacegroup(
        166,
        Lattice.hexagonal(a, c),
        [metal, chalcogen, chalcogen],
        [[0, 0, z_m], [0, 0, 0], [0, 0, z_x]],
    )


def rocksalt(a: float, cation: str, anion: str) -> Structure:
    """Fm-3m conventional cell (8 atoms)."""
    return Structure.from_spacegroup(
        225, Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def zincblende(a: float, cation: str, anion: str) -> Structure:
    """F-43m conventional cell (8 atoms)."""
    return Structure.from_spacegroup(
        216, Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.25] * 3]
    )


def half_heusler(a: float, x: str, y: str, z: str) -> Structure:
    """XYZ in F-43m (12 atoms): Z at 4a, Y at 4c, X at 4b."""
    return Structure.from_spacegroup(
        216, Lattice.cubic(a), [z, y, x], [[0, 0, 0], [0.25] * 3, [0.5] * 3]
    )


def monolayer_1t(a: float, metal: str, chalcogen: str, height: float, vacuum_c: float) -> Structure:
    """1T-MX2 monolayer in P-3m1 with vacuum: M at z = 1/2, X at +-height (Angstrom)."""
    dz = height / vacuum_c
    return Structure.from_spacegroup(
        164,
        Lattice.hexagonal(a, vacuum_c),
        [metal, chalcogen],
        [[0, 0, 0.5], [1 / 3, 2 / 3, 0.5 + dz]],
    )


def a7(a: float, c: float, element: str, z: float) -> Structure:
    """A7 (alpha-As) structure in R-3m, hexagonal conventional cell (6 atoms)."""
    return Structure.from_spacegroup(166, Lattice.hexagonal(a, c), [element], [[0, 0, z]])


def diamond(a: float, element: str) -> Structure:
    """Diamond structure, conventional cubic cell (8 atoms)."""
    return Structure.from_spacegroup(
        216, Lattice.cubic(a), [element, element], [[0, 0, 0], [0.25] * 3]
    )


#: (structure, formation energy (eV/atom), decomposition energy (eV/atom), band gap (eV),
#: dimensionality) per sample entry; energies and gaps are illustrative.
SAMPLE = [
    (tetradymite(4.143, 28.636, "Bi", "Se", 0.4008, 0.2117), -0.30, 0.000, 0.30, 2),
    (tetradymite(4.386, 30.497, "Bi", "Te", 0.4001, 0.2095), -0.15, 0.000, 0.10, 2),
    (tetradymite(4.264, 30.458, "Sb", "Te", 0.3988, 0.2128), -0.10, 0.000, 0.10, 2),
    (rocksalt(6.327, "Sn", "Te"), -0.30, 0.000, 0.10, 3),
    (rocksalt(6.462, "Pb", "Te"), -0.35, 0.000, 0.30, 3),
    (rocksalt(6.462 * 1.003, "Pb", "Te"), -0.34, 0.004, 0.30, 3),
    (zincblende(6.460, "Hg", "Te"), -0.10, 0.000, 0.00, 3),
    (zincblende(6.481, "Cd", "Te"), -0.50, 0.000, 0.60, 3),
    (zincblende(6.479, "In", "Sb"), -0.15, 0.000, 0.00, 3),
    (half_heusler(6.500, "Sc", "Pt", "Bi"), -0.60, 0.000, 0.00, 3),
    (half_heusler(6.829, "La", "Pt", "Bi"), -0.80, 0.020, 0.00, 3),
    (monolayer_1t(3.728, "Pt", "Se", 1.33, 20.0), -0.20, 0.080, 1.20, 2),
    (a7(4.546, 11.862, "Bi", 0.2341), 0.00, 0.000, 0.00, 3),
    (diamond(5.431, "Si"), 0.00, 0.000, 0.60, 3),
]


def summary_row(material_id: str, structure: Structure, formation: float, decomposition: float,
                gap: float, dimensionality: int) -> dict[str, object]:  # fmt: skip
    """One CSV row in GNoME's column layout."""
    sga = SpacegroupAnalyzer(structure, symprec=0.01)
    composition = structure.composition
    return {
        "Composition": composition.formula.replace(" ", ""),
        "MaterialId": material_id,
        "Reduced Formula": composition.reduced_formula,
        "Elements": str(sorted(e.symbol for e in composition.elements)),
        "NSites": len(structure),
        "Volume": round(structure.volume, 4),
        "Density": round(structure.density, 4),
        "Point Group": sga.get_point_group_symbol(),
        "Space Group": sga.get_space_group_symbol(),
        "Space Group Number": sga.get_space_group_number(),
        "Crystal System": sga.get_crystal_system(),
        "Formation Energy Per Atom": formation,
        "Decomposition Energy Per Atom": decomposition,
        "Dimensionality Cheon": dimensionality,
        "Bandgap": gap,
        "Is Train": False,
    }


def main(out: Path = HERE) -> None:
    """Write the summary CSV and the CIF zip into ``out``."""
    rows = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, (structure, formation, decomposition, gap, dim) in enumerate(SAMPLE, 1):
            material_id = f"socx{number:06d}"
            rows.append(summary_row(material_id, structure, formation, decomposition, gap, dim))
            info = zipfile.ZipInfo(f"by_id/{material_id}.CIF", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, str(CifWriter(structure)))
    (out / "by_id.zip").write_bytes(buffer.getvalue())
    with open(out / "stable_materials_summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()

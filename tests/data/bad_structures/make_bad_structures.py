"""Write the bad-input set used by the ingestion tests (run once; files are committed).

* ``unreadable.cif``: a CIF cut off in the middle of its atom loop;
* ``partial_occupancy.cif``: rock-salt (Sn0.5Pb0.5)Te, a disordered site;
* ``huge_2000_atoms.vasp``: 2,000 Si atoms, a diamond supercell with seeded random
  displacements (0.05 Angstrom), so that its primitive cell keeps all 2,000 atoms;
* ``UTe.cif``: rock-salt UTe, an element outside the model's element set;
* ``POSCAR_Si``: diamond Si primitive cell, the one good file of the folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar

HERE = Path(__file__).parent


def main() -> None:
    """Write the files next to this script."""
    rocksalt = Structure.from_spacegroup(
        225, Lattice.cubic(6.40), [{"Sn": 0.5, "Pb": 0.5}, "Te"], [[0, 0, 0], [0.5] * 3]
    )
    (HERE / "partial_occupancy.cif").write_text(str(CifWriter(rocksalt)))

    ute = Structure.from_spacegroup(225, Lattice.cubic(6.16), ["U", "Te"], [[0, 0, 0], [0.5] * 3])
    (HERE / "UTe.cif").write_text(str(CifWriter(ute)))

    text = str(CifWriter(ute)).splitlines()
    (HERE / "unreadable.cif").write_text("\n".join(text[: len(text) - 6]) + "\n  U  U0  1  0.0 0.")

    si_conventional = Structure.from_spacegroup(216, Lattice.cubic(5.431), ["Si", "Si"],
                                                [[0, 0, 0], [0.25] * 3])  # fmt: skip
    big = si_conventional * (5, 5, 10)
    rng = np.random.default_rng(2000)
    big = Structure(big.lattice, big.species, big.cart_coords + rng.normal(0, 0.05, (len(big), 3)),
                    coords_are_cartesian=True)  # fmt: skip
    poscar = Poscar(big).get_str(significant_figures=5)
    (HERE / "huge_2000_atoms.vasp").write_text(poscar)

    primitive = si_conventional.get_primitive_structure()
    primitive.to(filename=str(HERE / "POSCAR_Si"), fmt="poscar")


if __name__ == "__main__":
    main()

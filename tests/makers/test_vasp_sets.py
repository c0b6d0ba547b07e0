"""Spin-orbit input settings, k-points and executables of the VASP validation runs."""

from __future__ import annotations

import numpy as np
import pytest
from atomate2 import SETTINGS as ATOMATE2_SETTINGS
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Incar, Kpoints

from socscreen.makers.vasp import (
    VaspRunMakers,
    band_path_kpoints,
    noncollinear_magmom,
    spin_orbit_incar,
    trim_kpoints,
    vasp_run_kwargs,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_incar_settings_with_and_without_soc():
    on, off = spin_orbit_incar(True), spin_orbit_incar(False)
    assert on["LSORBIT"] and on["LNONCOLLINEAR"] and on["GGA_COMPAT"] is False
    assert on["ISYM"] == 0 and on["SAXIS"] == [0.0, 0.0, 1.0] and on["GGA"] == "PE"
    assert spin_orbit_incar(True, saxis=(1, 0, 0))["SAXIS"] == [1.0, 0.0, 0.0]
    assert not off["LSORBIT"] and not off["LNONCOLLINEAR"] and off["ISPIN"] == 1
    assert off["MAGMOM"] is None and off["ISYM"] == 0


def test_magmom_per_element(bi2se3):
    assert noncollinear_magmom(bi2se3.structure) == {"Bi": [0.0] * 3, "Se": [0.0] * 3}
    assert noncollinear_magmom(bi2se3.structure, {"Bi": (0, 0, 1)})["Bi"] == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="not in"):
        noncollinear_magmom(bi2se3.structure, {"Fe": (0, 0, 1)})
    with pytest.raises(ValueError, match="3-vector"):
        noncollinear_magmom(bi2se3.structure, {"Bi": (1.0,)})


def test_band_path_is_in_the_input_cell(bi2se3):
    kpoints = band_path_kpoints(bi2se3.structure, line_density=20)
    assert kpoints.style == Kpoints.supported_modes.Reciprocal and kpoints.num_kpts == 121
    labelled = {label: k for label, k in zip(kpoints.labels, kpoints.kpts, strict=True) if label}
    # Gamma, Z, L and F of the rhombohedral path are TRIM of the fixture's own cell, and
    # the bands there are those of the equivalent TRIM (the path is not the standard cell's)
    for label in ("\\Gamma", "Z", "L", "F"):
        assert np.allclose(
            2 * np.asarray(labelled[label]), np.rint(2 * np.asarray(labelled[label]))
        )
    z = np.asarray(labelled["Z"])
    assert np.allclose(bi2se3.eigh(z), bi2se3.eigh(np.mod(z, 1.0)), atol=1e-8)
    assert Kpoints.from_str(str(kpoints)).num_kpts == 121  # writes and reads back


def test_trim_kpoints():
    kpoints = trim_kpoints(Structure(Lattice.cubic(3.0), ["Si"], [[0, 0, 0]]))
    assert kpoints.num_kpts == 8 and kpoints.labels[0] == "T000" and kpoints.labels[-1] == "T111"
    assert {tuple(k) for k in kpoints.kpts} == {
        (a / 2, b / 2, c / 2) for a in (0, 1) for b in (0, 1) for c in (0, 1)
    }


def test_executables_come_from_atomate2_settings():
    assert vasp_run_kwargs(True) == {
        "vasp_cmd": ATOMATE2_SETTINGS.VASP_NCL_CMD,
        "vasp_gamma_cmd": ATOMATE2_SETTINGS.VASP_NCL_CMD,
    }
    assert vasp_run_kwargs(False)["vasp_cmd"] == ATOMATE2_SETTINGS.VASP_CMD


def test_run_makers_write_spin_orbit_inputs(bi2se3, tmp_path):
    makers = VaspRunMakers.spin_orbit(True).for_structure(bi2se3.structure, {"Bi": (0, 0, 0.5)})
    assert [m.name for m in (makers.static, makers.bands, makers.parity)] == [
        "soc static",
        "soc band structure",
        "soc trim parity",
    ]
    generator = makers.static.input_set_generator
    generator.get_input_set(bi2se3.structure, potcar_spec=True).write_input(tmp_path)
    incar = Incar.from_file(tmp_path / "INCAR")
    assert incar["LSORBIT"] and incar["LNONCOLLINEAR"] and incar["ISYM"] == 0
    assert "ISPIN" not in incar and "LORBIT" not in incar and "LAECHG" not in incar
    magmom = {
        str(site.specie): list(m) for site, m in zip(bi2se3.structure, incar["MAGMOM"], strict=True)
    }
    assert magmom == {"Bi": [0.0, 0.0, 0.5], "Se": [0.0, 0.0, 0.0]}
    assert (tmp_path / "POTCAR.spec").read_text().split() == ["Se", "Bi_d", "Se"]
    assert makers.parity.input_set_generator.user_incar_settings["LORBIT"] == 12
    assert makers.parity.input_set_generator.user_kpoints_settings.num_kpts == 8
    assert makers.bands.input_set_generator.user_kpoints_settings.num_kpts == 121
    # the template is left untouched
    assert (
        "MAGMOM"
        not in VaspRunMakers.spin_orbit(True).static.input_set_generator.user_incar_settings
    )
    with pytest.raises(ValueError, match="non-collinear"):
        VaspRunMakers.spin_orbit(False).for_structure(bi2se3.structure, {"Bi": (0, 0, 1)})

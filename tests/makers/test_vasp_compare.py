"""Comparison of parsed VASP runs with a prediction (plain functions, no jobflow).

With the GPAW fixture that generated the reference runs as the "prediction", every band
comparison must vanish to the four decimals of vasprun.xml, and the Z2 indices, flags and
details must come from the parsed files.
"""

from __future__ import annotations

import pytest

from socscreen.makers.vasp import read_vasp_runs, vasp_validation_document
from socscreen.makers.vasp.compare import combined_gap
from socscreen.stores.schemas.validation import ValidationTarget

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def dirs(data_dir, case: str) -> dict[str, str]:
    base = data_dir / "vasp" / case
    return {
        "static": str(base.parent / f"{base.name}_static" / "outputs"),
        "bands": str(base.parent / f"{base.name}_band_structure" / "outputs"),
        "parity": str(base.parent / f"{base.name}_trim_parity" / "outputs"),
    }


@pytest.fixture(scope="module")
def bi2se3_runs(data_dir):
    return read_vasp_runs(dirs(data_dir, "Bi2Se3/soc")), read_vasp_runs(
        dirs(data_dir, "Bi2Se3/soc-off")
    )


def target(ham, z2) -> ValidationTarget:
    return ValidationTarget(
        material_id="m", campaign="c", structure=ham.structure.as_dict(), z2_predicted=z2
    )


def test_generating_hamiltonian_reproduces_the_runs(bi2se3, bi2se3_runs):
    soc, soc_off = bi2se3_runs
    doc = vasp_validation_document(target(bi2se3, [0, 0, 0, 0]), bi2se3, soc, soc_off)
    for comparison in (doc.band_comparison, doc.band_comparison_path, doc.soc_off):
        assert comparison.band_mae < 1e-4 and comparison.band_max_error < 2e-4
        assert comparison.band_offset == 0 and abs(comparison.energy_shift) < 1e-4
    assert doc.z2_dft == [1, 0, 0, 0] and doc.z2_dft_soc_off == [0, 0, 0, 0]
    assert doc.z2_agree is False  # the target claimed a trivial insulator
    assert doc.dft_flags == ["semimetal"] and doc.gap_dft == combined_gap(soc) == 0.0
    details = doc.dft_details["soc"]
    assert details["nelect"] == 48 and details["nbands"] == 56
    assert details["n_kpoints"] == {"static": 36, "bands": 121, "parity": 8}
    assert details["dirs"]["parity"].endswith("soc_trim_parity/outputs")
    assert doc.dft_settings["encut"] == 680.0 and doc.dft_settings["saxis"] == [0.0, 0.0, 1.0]


def test_mismatched_inputs_are_rejected(bi2se3, silicon, bi2se3_runs, data_dir):
    soc, soc_off = bi2se3_runs
    with pytest.raises(ValueError, match="LSORBIT runs"):
        vasp_validation_document(target(bi2se3, None), bi2se3, soc_off, soc)
    with pytest.raises(ValueError, match="different cells"):
        vasp_validation_document(target(silicon, None), silicon, soc)
    mixed = dirs(data_dir, "Bi2Se3/soc") | {"bands": dirs(data_dir, "Bi2Se3/soc-off")["bands"]}
    with pytest.raises(ValueError, match="disagree on LSORBIT"):
        read_vasp_runs(mixed)
    with pytest.raises(ValueError, match="not given"):
        read_vasp_runs({"static": mixed["static"]})
    other_cell = dirs(data_dir, "Bi2Se3/soc") | {"parity": dirs(data_dir, "Si/soc")["parity"]}
    with pytest.raises(ValueError, match="one cell"):
        read_vasp_runs(other_cell)
    si = read_vasp_runs(dirs(data_dir, "Si/soc"))  # indirect gap: no run alone sees it all
    assert 0 < combined_gap(si) <= min(si.static.gap(), si.bands.gap(), si.trim.gap())

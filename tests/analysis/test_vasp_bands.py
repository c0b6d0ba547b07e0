"""Band energies read from the VASP reference runs (vasprun.xml, generated from GPAW).

The reference outputs in tests/data/vasp were generated from the corpus fixtures, so the
parsed energies must be the fixtures' own eigenvalues at the parsed k-points (to the four
decimals of vasprun.xml), whatever ion order atomate2 wrote.
"""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from socscreen.analysis.vasp_bands import find_vasp_file, read_vasp_bands

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def vasp_dir(data_dir):
    return data_dir / "vasp"


@pytest.mark.parametrize(
    ("case", "fixture", "soc"),
    [
        ("Bi2Se3/soc", "bi2se3", True),
        ("Bi2Se3/soc-off", "bi2se3", False),
        ("Si/soc", "silicon", True),
    ],
    ids=["Bi2Se3-soc", "Bi2Se3-soc-off", "Si-soc"],
)
@pytest.mark.parametrize("run", ["static", "band_structure", "trim_parity"])
def test_energies_are_the_hamiltonian_eigenvalues(vasp_dir, request, case, fixture, soc, run):
    ham = request.getfixturevalue(fixture)
    bands = read_vasp_bands(vasp_dir / f"{case}_{run}" / "outputs")
    assert bands.soc is soc and bands.spinor is soc
    n_occ = int(ham.nelect) if soc else int(ham.nelect) // 2
    assert bands.nelect == ham.nelect and bands.n_occupied == n_occ
    assert np.allclose(bands.structure.lattice.matrix, ham.structure.lattice.matrix)
    expected = np.asarray(ham.eigh(bands.kpoints, soc=soc, spinor=soc))[
        :, : bands.energies.shape[1]
    ]
    assert np.abs(bands.energies - expected).max() < 6e-5
    assert bands.weights.sum() == pytest.approx(1.0)
    if not soc:  # collinear bands hold two electrons: listed twice as spinor bands
        assert np.array_equal(bands.spinor_energies[:, ::2], bands.energies)
        assert np.array_equal(bands.spinor_energies[:, 1::2], bands.energies)
    assert bands.spinor_energies.shape[1] == (1 if soc else 2) * bands.energies.shape[1]


def test_kpoints_labels_and_mesh(vasp_dir):
    static = read_vasp_bands(vasp_dir / "Bi2Se3/soc_static/outputs")
    path = read_vasp_bands(vasp_dir / "Bi2Se3/soc_band_structure/outputs")
    trim = read_vasp_bands(vasp_dir / "Bi2Se3/soc_trim_parity/outputs")
    # 4x4x4 Gamma mesh folded by time reversal only (ISYM = 0): 8 self-partners + 28 pairs
    assert len(static.kpoints) == 36 and static.labels == [""] * 36
    assert path.labels[0] == "\\Gamma" and len(path.kpoints) == 121
    assert trim.labels == ["T000", "T001", "T010", "T011", "T100", "T101", "T110", "T111"]
    assert np.allclose(2 * trim.kpoints, np.rint(2 * trim.kpoints))
    # GPAW szp Bi2Se3 with SOC: bands overlap between k-points (semimetal), gapped at TRIM
    assert static.gap() == 0.0 and trim.gap() > 0.1
    assert static.energies[:, 47].max() > static.efermi > static.energies[:, 48].min()


def test_atomate2_dir_name_and_plain_files(vasp_dir, tmp_path):
    source = vasp_dir / "Si/soc_static/outputs/vasprun.xml.gz"
    with gzip.open(source, "rb") as src, (tmp_path / "vasprun.xml").open("wb") as dst:
        shutil.copyfileobj(src, dst)
    assert find_vasp_file(f"node17:{tmp_path}", "vasprun.xml") == tmp_path / "vasprun.xml"
    bands = read_vasp_bands(f"node17:{tmp_path}")
    assert bands.labels == [""] * len(bands.kpoints)  # no KPOINTS file next to it
    with pytest.raises(FileNotFoundError, match="PROCAR"):
        find_vasp_file(tmp_path, "PROCAR")


def test_spin_polarised_collinear_run_is_rejected(vasp_dir, tmp_path):
    with gzip.open(vasp_dir / "Bi2Se3/soc-off_static/outputs/vasprun.xml.gz", "rt") as f:
        text = f.read()
    spin_line = '<i type="int" name="ISPIN">     1</i>'
    assert spin_line in text
    (tmp_path / "vasprun.xml").write_text(text.replace(spin_line, spin_line.replace("1<", "2<")))
    with pytest.raises(ValueError, match="ISPIN=2"):
        read_vasp_bands(tmp_path)

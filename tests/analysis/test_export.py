"""tbmodels and wannier90 exports reproduce the model's bands."""

from __future__ import annotations

import numpy as np
import pytest
import tbmodels

from socscreen.analysis.bloch import eigh_k
from socscreen.analysis.export import to_tbmodels, write_hr_dat
from socscreen.analysis.models import haldane
from socscreen.analysis.tb import OrthogonalTB

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:tbmodels")
RNG = np.random.default_rng(29)


@pytest.fixture(scope="module")
def silicon_tb(silicon):
    return OrthogonalTB.from_hamiltonian(silicon, grid=(5, 5, 5))


@pytest.mark.parametrize("which", ["silicon", "haldane"])
def test_tbmodels_model_has_the_same_bands(which, silicon_tb):
    tb = silicon_tb if which == "silicon" else haldane()
    model = to_tbmodels(tb)
    k = RNG.random((5, 3))
    np.testing.assert_allclose(np.array([model.eigenval(x) for x in k]), eigh_k(tb, k), atol=1e-9)
    assert model.occ == tb.n_occupied
    np.testing.assert_allclose(model.uc, tb.lattice)


def test_hr_dat_round_trip_through_tbmodels(silicon_tb, tmp_path):
    path = write_hr_dat(silicon_tb, tmp_path / "si_hr.dat", comment="Si szp Löwdin")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("Si szp Löwdin")
    assert int(lines[1]) == 36 and int(lines[2]) == len(silicon_tb.R)
    n_deg_lines = -(-len(silicon_tb.R) // 15)
    assert len(lines) == 3 + n_deg_lines + len(silicon_tb.R) * 36 * 36
    model = tbmodels.Model.from_wannier_files(hr_file=str(path))
    k = RNG.random((4, 3))
    np.testing.assert_allclose(
        np.array([model.eigenval(x) for x in k]), eigh_k(silicon_tb, k), atol=1e-9
    )

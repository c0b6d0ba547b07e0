"""z2pack, run on the same Bloch Hamiltonians, confirms the own Wilson-loop route."""

from __future__ import annotations

import pytest

from socscreen.analysis.bloch import LowdinBloch
from socscreen.analysis.models import four_band_ti, fu_kane_mele, kane_mele
from socscreen.analysis.wilson import wilson_z2
from socscreen.analysis.z2pack_route import z2pack_z2
from socscreen.hamiltonian import Hamiltonian

MODELS = {
    "fkm-strong": fu_kane_mele(dt=0.4),
    "fkm-weak": fu_kane_mele(dt=-0.4),
    "fkm-no-inversion": fu_kane_mele(dt=0.4, lam_v=0.3),
    "km-rashba-qsh": kane_mele(lam_v=0.1, lam_r=0.05),
    "km-rashba-trivial": kane_mele(lam_v=0.4, lam_r=0.05),
    "four-band-weak": four_band_ti(m0=-6.0),
}
EXPECTED = {
    "fkm-strong": [1, 1, 1, 1],
    "fkm-weak": [0, 1, 1, 1],
    "fkm-no-inversion": [1, 1, 1, 1],
    "km-rashba-qsh": [1],
    "km-rashba-trivial": [0],
    "four-band-weak": [0, 1, 1, 1],
}


@pytest.mark.parametrize("name", MODELS)
def test_z2pack_agrees_on_models(name):
    source = LowdinBloch(MODELS[name].symmetrized())
    assert z2pack_z2(source, 2) == wilson_z2(source, 2).z2 == EXPECTED[name]


def test_z2pack_agrees_on_a_noncentrosymmetric_dft_insulator(data_dir):
    source = LowdinBloch(Hamiltonian.from_npz(data_dir / "LiBr_sz.npz").symmetrized())
    assert z2pack_z2(source, 8) == wilson_z2(source, 8).z2 == [0, 0, 0, 0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("soc", "z2"), [(True, [1, 0, 0, 0]), (False, [0, 0, 0, 0])], ids=["soc", "no-soc"]
)
def test_z2pack_confirms_bi2se3(bi2se3, soc, z2, bi2se3_z2, bi2se3_z2_no_soc):
    ours = bi2se3_z2 if soc else bi2se3_z2_no_soc
    assert z2pack_z2(LowdinBloch(bi2se3.symmetrized(), soc=soc), 48) == ours.z2_wilson == z2

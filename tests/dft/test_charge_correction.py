"""Self-consistent charge correction of H(0): Coulomb kernel, charges, physics, predictor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Lattice, Structure

from socscreen.dft.charge_correction import (
    charge_channels,
    charge_corrected,
    gamma_matrix,
    mulliken_charges,
    self_consistent_charges,
)
from socscreen.dft.hubbard import atomic_hardness, hardness_of, hubbard_u
from socscreen.dft.zeroth_step import compute_zeroth_step
from socscreen.hamiltonian import Hamiltonian
from socscreen.model.predictors import predict_hamiltonian, prediction_version

HOLDOUT = Path(__file__).parents[2] / "benchmarks" / "data" / "holdout"


def _band_error(pred: Hamiltonian, ref: Hamiltonian, window: float = 2.0) -> float:
    """Offset-removed mean |ΔE| (eV) of the SOC bands within E_F ± window on a 4×4×4 grid."""
    grid = np.stack(np.meshgrid(*[np.arange(4) / 4] * 3, indexing="ij"), -1).reshape(-1, 3)
    e_ref, e_pred = ref.eigh(grid), pred.eigh(grid)
    inside = np.abs(e_ref - ref.efermi) < window
    diff = (e_pred - e_ref)[inside]
    return float(np.abs(diff - diff.mean()).mean())


@pytest.fixture(scope="module")
def gaas() -> Hamiltonian:
    """H(0) of zinc-blende GaAs at its experimental lattice constant (fresh GPAW)."""
    return compute_zeroth_step(Hamiltonian.from_npz(HOLDOUT / "GaAs.npz").structure)


def test_hubbard_u_is_the_free_atom_hardness():
    """The shipped table is what GPAW's atom solver gives now; DFTB's PBE values agree."""
    fresh = atomic_hardness("O")
    assert hubbard_u("O") == pytest.approx(fresh.u(1, 1), abs=1e-3)
    shipped = hardness_of("O").derivatives[(0, 1)]
    assert shipped == pytest.approx(fresh.derivatives[(0, 1)], abs=1e-3)
    assert hubbard_u("H") == pytest.approx(11.4, abs=0.3)  # DFTB mio: 0.4195 Ha
    assert hubbard_u("O") == pytest.approx(13.5, abs=0.3)  # DFTB mio: 0.4954 Ha
    assert hubbard_u("F") > hubbard_u("Cl") > hubbard_u("I") > hubbard_u("Cs")


def test_gamma_long_range_is_the_ewald_madelung_energy():
    """With very hard atoms (short-range part negligible) ½ qᵀγq is the Madelung energy."""
    rocksalt = Structure(
        Lattice.cubic(5.64),
        ["Na"] * 4 + ["Cl"] * 4,
        [
            [0, 0, 0],
            [0.5, 0.5, 0],
            [0.5, 0, 0.5],
            [0, 0.5, 0.5],
            [0.5, 0, 0],
            [0, 0.5, 0],
            [0, 0, 0.5],
            [0.5, 0.5, 0.5],
        ],
    )
    q = np.array([1.0] * 4 + [-1.0] * 4)
    hard = np.full(len(rocksalt), 2000.0)  # eV: clouds of ~0.005 Å
    gamma = gamma_matrix(rocksalt, hard)
    assert np.allclose(gamma, gamma.T, atol=1e-10)
    charged = rocksalt.copy()
    charged.add_oxidation_state_by_element({"Na": 1, "Cl": -1})
    madelung = EwaldSummation(charged).total_energy  # eV
    assert 0.5 * q @ gamma @ q - 0.5 * hard.sum() == pytest.approx(madelung, rel=1e-5)


def test_gamma_of_an_isolated_atom_is_its_hubbard_u_plus_its_images():
    """One atom in a 40 Å box: U from its own cloud plus the images' point-charge energy in
    a neutralising background, whose simple-cubic Madelung constant is -2.837297 e²/L."""
    box = Structure(Lattice.cubic(40.0), ["O"], [[0, 0, 0]])
    gamma = gamma_matrix(box, np.array([hubbard_u("O")]))
    coulomb = 14.399645  # e²/(4π ε0) in eV Å
    assert gamma[0, 0] == pytest.approx(hubbard_u("O") - 2.837297 * coulomb / 40.0, abs=1e-4)


def test_equivalent_atoms_carry_no_charge_and_nothing_changes(silicon):
    """Diamond Si: both atoms alike, so the charges vanish and H(0) is returned as it was."""
    h0 = compute_zeroth_step(silicon.structure)
    correction = self_consistent_charges(h0)
    assert correction.converged and correction.iterations <= 2
    assert np.abs(correction.charges).max() < 1e-6
    corrected = charge_corrected(h0, correction)
    assert np.abs(corrected.h0 - h0.h0).max() < 1e-6


def test_gaas_moves_charge_to_arsenic_and_approaches_scf(gaas):
    """GaAs: As gains electrons, charges sum to zero, the shift is ½S(V_A+V_B) exactly,
    and the bands move toward the self-consistent GPAW reference (26 -> ~6 meV)."""
    correction = self_consistent_charges(gaas)
    species = [s.symbol for s in gaas.structure.species]
    assert correction.converged
    assert abs(correction.charges.sum()) < 1e-6
    assert correction.charges[species.index("As")] > 0.2
    initial = mulliken_charges(gaas)
    assert np.allclose(initial, correction.initial_charges, atol=1e-8)
    # screening: the self-consistent transfer is smaller than the neutral-density one
    assert abs(correction.charges[0]) < abs(initial[0])
    corrected = charge_corrected(gaas, correction)
    v = correction.shifts[gaas.orbitals.atom_of_orbital]
    assert np.allclose(corrected.h0 - gaas.h0, 0.5 * gaas.overlap * (v[:, None] + v[None, :]))
    assert corrected.hermiticity_error() < 1e-10
    np.testing.assert_array_equal(corrected.soc_ud, gaas.soc_ud)
    reference = Hamiltonian.from_npz(HOLDOUT / "GaAs.npz")
    assert _band_error(corrected, reference) < 0.5 * _band_error(gaas, reference)


def test_scc_predictor_is_rotation_invariant_and_labelled(gaas):
    """The whole prediction turns with the crystal: same bands to 1e-5 eV after a rotation."""
    structure = gaas.structure
    theta = 0.7
    rotation = np.array(
        [[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]]
    )
    turned = Structure(
        Lattice(structure.lattice.matrix @ rotation.T), structure.species, structure.frac_coords
    )
    a = predict_hamiltonian(structure, "scc")
    b = predict_hamiltonian(turned, "scc")
    k = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.25, 0.5, 0.75], [0.1, 0.2, 0.3]])
    assert np.abs((a.eigh(k) - a.efermi) - (b.eigh(k) - b.efermi)).max() < 1e-5
    assert a.meta["predictor"] == "scc"
    assert a.meta["charge_correction"]["converged"]
    assert prediction_version(a.meta).startswith("H0-SCC-GPAW-")


def test_late_transition_metals_get_a_d_channel_early_ones_do_not():
    """Channels: Pt s/p + d (d below s), Zr one (diffuse d above s), Ga one (3d in core);
    the free-atom electrons of the channels add up to the cell's valence."""
    pt = Hamiltonian.from_npz(HOLDOUT / "Pt.npz")
    channels = charge_channels(pt)
    assert channels.labels == ("Pt:sp", "Pt:d")
    assert channels.reference.sum() == pytest.approx(pt.nelect)
    assert channels.reference[1] == pytest.approx(9.0)  # 5d9 6s1 in Pt's setup
    d_orbitals = channels.of_orbital == 1
    assert np.all(pt.orbitals.l_of_orbital[d_orbitals] == 2)
    assert channels.onsite[0, 1] == pytest.approx(hardness_of("Pt").u(0, 2))
    zrnisn = Hamiltonian.from_npz(HOLDOUT / "ZrNiSn.npz")
    assert charge_channels(zrnisn).labels == ("Zr:sp", "Ni:sp", "Ni:d", "Sn:sp")
    assert charge_channels(zrnisn, "atom").labels == ("Zr:sp", "Ni:sp", "Sn:sp")


def test_gold_moves_charge_from_d_to_sp_toward_the_scf_bands():
    """fcc Au: one atom, so no charge moves between atoms, but the solid fills its 6s/6p at
    the expense of 5d; the d channel's shift brings the bands toward GPAW's SCF."""
    reference = Hamiltonian.from_npz(HOLDOUT / "Au.npz")
    h0 = Hamiltonian.from_npz(HOLDOUT / "zeroth_step" / "Au.npz")
    correction = self_consistent_charges(h0)
    assert correction.converged
    assert correction.charges[0] > 0.1 and correction.charges[1] < -0.1  # sp gains, d loses
    assert correction.atom_charges == pytest.approx([0.0], abs=1e-8)
    assert _band_error(charge_corrected(h0, correction), reference) < 0.6 * _band_error(
        h0, reference
    )


def test_cli_predicts_with_self_consistent_charges(gaas, tmp_path):
    """``socscreen predict --predictor scc`` writes the corrected H with its charges."""
    from typer.testing import CliRunner

    from socscreen.cli import app

    cif = tmp_path / "GaAs.cif"
    gaas.structure.to(filename=str(cif))
    out = tmp_path / "GaAs_scc.npz"
    result = CliRunner().invoke(app, ["predict", str(cif), "-o", str(out), "--predictor", "scc"])
    assert result.exit_code == 0, result.output
    assert "H0-SCC-GPAW-" in result.output
    ham = Hamiltonian.from_npz(out)
    assert ham.meta["predictor"] == "scc"
    assert ham.meta["charge_correction"]["channels"] == ["Ga:sp", "As:sp"]
    assert ham.meta["charge_correction"]["charges"][1] > 0.2


def test_charges_on_a_grid_of_real_points_are_solved_in_real_arithmetic(gaas, monkeypatch):
    # a large cell's 2 x 2 x 2 grid has only time-reversal-invariant points (real H(k), S(k));
    # the same points moved by 1e-12 take the complex route and give the same charges
    from socscreen.analysis.bloch import monkhorst_pack
    from socscreen.dft import charge_correction

    trim = monkhorst_pack((2, 2, 2))
    charges = {}
    for shift in (0.0, 1e-12):
        monkeypatch.setattr(charge_correction, "length_grid", lambda *_, s=shift: trim + s)
        charges[shift] = mulliken_charges(gaas)
    assert np.abs(charges[0.0] - charges[1e-12]).max() < 1e-8
    assert np.abs(charges[0.0]).max() > 0.01  # GaAs moves charge already at H(0)

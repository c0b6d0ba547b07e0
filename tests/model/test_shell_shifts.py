"""Fitted shell shifts of a correction model: their physics, symmetry and closed-form fit.

Uses the exactly equivariant synthetic H(0) of ``test_correction`` (a multiple of the
exact overlap plus element on-site energies) as the baseline.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from equivariance_checks import assert_hermitian_time_reversal, assert_rotation_equivariant
from pymatgen.core import Lattice, Structure
from scipy.linalg import solve_sylvester
from test_correction import CORRECTION, make_model, make_predictor, synthetic_baseline
from test_network import CUTOFFS, SHELLS, _rotation

from socscreen.dft.graph import radius_graph
from socscreen.hamiltonian import Hamiltonian
from socscreen.model.data import CrystalData
from socscreen.model.network import UniHamGNN
from socscreen.model.shell_shifts import fit_shell_shifts, shell_shift_table
from socscreen.orbitals import OrbitalTable

SHIFTED = CORRECTION.model_copy(update={"shell_shifts": True})
K = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.21, 0.37, 0.11], [0.4, 0.45, 0.5]])


def _structures() -> list[Structure]:
    lattice = Lattice([[4.1, 0.2, 0.0], [0.3, 4.3, 0.1], [-0.2, 0.1, 5.2]])
    base = Structure(
        lattice, ["Bi", "Se", "Se"], [[0.0, 0.0, 0.0], [0.48, 0.52, 0.3], [0.1, 0.45, 0.66]]
    )
    rng = np.random.default_rng(5)
    out = [base]
    for _ in range(3):
        strained = Lattice(lattice.matrix @ (np.eye(3) + 0.04 * rng.standard_normal((3, 3))))
        coords = base.frac_coords + 0.03 * rng.standard_normal(base.frac_coords.shape)
        out.append(Structure(strained, base.species, coords))
    return out


def _prediction(model: UniHamGNN, structure: Structure) -> Hamiltonian:
    h0, soc, R = make_predictor(model)(structure)
    baseline = synthetic_baseline(structure)
    return Hamiltonian(
        structure,
        baseline.orbitals,
        R,
        h0,
        baseline.overlap,
        soc_uu=1j * soc[2],
        soc_ud=1j * soc[0] + soc[1],
        nelect=baseline.nelect,
    )


def _set_shifts(model: UniHamGNN, table: dict[str, float]) -> None:
    """``{"Bi:1": δ}``: element and shell index (GPAW order) -> shift (eV)."""
    with torch.no_grad():
        model.shell_shift.zero_()
        for key, value in table.items():
            symbol, shell = key.split(":")
            z = model.layout.elements.index(symbol)
            model.shell_shift[z, model.layout.element_slots(symbol)[int(shell)]] = value


def test_a_uniform_shift_moves_every_band_by_it():
    # The test graph's cutoffs (test_network.CUTOFFS) are shorter than the basis functions'
    # reach, so S has elements of ~1e-4 beyond the graph that no prediction has: compare
    # with the unshifted prediction and allow for them.
    structure = _structures()[0]
    model = make_model(SHIFTED, randomise=False)
    plain = _prediction(model, structure)
    _set_shifts(
        model, {f"{s}:{i}": 0.37 for s, shells in SHELLS.items() for i in range(len(shells))}
    )
    np.testing.assert_allclose(
        _prediction(model, structure).eigh(K), plain.eigh(K) + 0.37, atol=1e-3
    )


def test_a_shell_shift_moves_the_bands_it_populates():
    """Raising Se p alone raises the bands by their Se-p Mulliken weight, to first order."""
    structure = _structures()[0]
    model = make_model(SHIFTED, randomise=False)
    plain = _prediction(model, structure)
    energies, vectors = plain.eigh(K[:1], vectors=True)
    n = plain.n_orbitals
    s = plain.overlap_k(K[:1])[0]
    c = vectors[0]
    weight = (c[:n].conj() * (s @ c[:n])).real + (c[n:].conj() * (s @ c[n:])).real
    se_p = (np.array(plain.orbitals.symbols)[plain.orbitals.atom_of_orbital] == "Se") & (
        plain.orbitals.l_of_orbital == 1
    )
    _set_shifts(model, {"Se:1": 1e-4})
    shifted = _prediction(model, structure).eigh(K[:1])[0]
    np.testing.assert_allclose((shifted - energies[0]) / 1e-4, weight[se_p].sum(axis=0), atol=1e-3)


@pytest.mark.parametrize("improper", [False, True], ids=["rotation", "rotoinversion"])
def test_shifted_predictions_stay_equivariant_and_hermitian(improper):
    structure = _structures()[1]
    model = make_model(SHIFTED)
    _set_shifts(model, {"Bi:0": 0.3, "Bi:2": -0.5, "Bi:3": 0.2, "Se:1": 0.4, "Se:2": -0.1})
    run = make_predictor(model)
    orbitals = OrbitalTable(tuple(structure.atomic_numbers), SHELLS)
    assert_rotation_equivariant(run, structure, orbitals, _rotation(improper))
    assert_hermitian_time_reversal(run(structure))


def test_the_fit_finds_the_shifts_that_made_the_reference():
    """References built as baseline + known shifts: the fit reproduces their bands."""
    truth = {"Bi:0": -0.4, "Bi:1": 0.25, "Bi:2": 0.6, "Se:0": 0.3, "Se:1": -0.2, "Se:2": 0.5}
    maker = make_model(SHIFTED, randomise=False)
    _set_shifts(maker, truth)
    model = make_model(SHIFTED, randomise=False)
    samples = []
    for structure in _structures():
        reference = _prediction(maker, structure)
        energies = reference.eigh(np.zeros((1, 3)))[0]
        efermi = float(energies[int(reference.nelect) - 1 : int(reference.nelect) + 1].mean())
        samples.append(
            CrystalData.from_hamiltonian(
                reference._replace(efermi=efermi),
                model.layout,
                model.cutoffs,
                baseline=synthetic_baseline(structure),
            )
        )

    def band_error() -> float:
        errors = []
        for sample, structure in zip(samples, _structures(), strict=True):
            diff = _prediction(model, structure).eigh(K) - _prediction(maker, structure).eigh(K)
            inside = np.abs(_prediction(maker, structure).eigh(K) - sample.efermi) < 4.0
            errors.append(np.abs(diff[inside] - diff[inside].mean()).mean())
        return float(np.mean(errors))

    steps = []
    scores = fit_shell_shifts(
        model,
        samples,
        ridge=1e-8,
        iterations=4,
        n_kpoints=4,
        window=4.0,
        overlap_cutoff=0.0,
        score=band_error,
        progress=lambda i, step, value: steps.append(step),
    )
    assert scores[0] > 0.05 and min(scores) < 1e-4
    assert band_error() == min(scores)  # the best iteration is kept
    assert steps[-1] < 1e-3  # Gauss-Newton converged
    table = shell_shift_table(model)
    assert {"Bi:s", "Bi:p", "Bi:d", "Se:s", "Se:p", "Se:d"} <= set(table)


ENVIRONMENT = SHIFTED.model_copy(update={"environment_shifts": True, "network_delta": False})
OPERATORS = ENVIRONMENT.model_copy(update={"onsite_operators": True})


@pytest.mark.parametrize("config", [ENVIRONMENT, OPERATORS], ids=["shifts", "operators"])
@pytest.mark.parametrize("improper", [False, True], ids=["rotation", "rotoinversion"])
def test_environment_shifts_stay_equivariant_and_hermitian(config, improper):
    structure = _structures()[1]
    run = make_predictor(make_model(config))
    orbitals = OrbitalTable(tuple(structure.atomic_numbers), SHELLS)
    assert_rotation_equivariant(run, structure, orbitals, _rotation(improper))
    assert_hermitian_time_reversal(run(structure))


def test_environment_shifts_are_one_shell_shift_per_atom():
    """Without the free ΔH, H − H(0) = ½(δ_μ + δ_ν) S: one δ per atom and shell, set by the
    atom's environment (the two Se atoms of a distorted cell get different ones)."""
    structure = _structures()[1]
    model = make_model(ENVIRONMENT)
    h0, _, R = make_predictor(model)(structure)
    baseline = synthetic_baseline(structure)
    orbitals = baseline.orbitals
    graph = radius_graph(structure, CUTOFFS)
    on_graph = np.zeros_like(h0, dtype=bool)
    offsets = orbitals.atom_offsets
    for (i, j), shift in zip(graph.edge_index.T, graph.shifts, strict=True):
        r = int(np.flatnonzero((R == shift).all(axis=1))[0])
        on_graph[r, offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]] = True
    home = int(np.flatnonzero(~R.any(axis=1))[0])
    delta_h = h0 - baseline.h0
    delta = np.diag(delta_h[home]) / np.diag(baseline.overlap[home])  # δ of every orbital
    mulliken = 0.5 * (delta[:, None] + delta[None, :]) * baseline.overlap
    np.testing.assert_allclose(delta_h[on_graph], mulliken[on_graph], atol=1e-10)
    se_p = [
        delta[offsets[a] : offsets[a + 1]][orbitals.l_of_orbital[offsets[a] : offsets[a + 1]] == 1]
        for a in (1, 2)
    ]
    for values in se_p:  # one δ per shell: the three p orbitals of a shell share it
        assert np.ptp(values[:3]) < 1e-12
    assert abs(se_p[0][0] - se_p[1][0]) > 1e-4


def _graph_mask(structure: Structure, orbitals: OrbitalTable, R: np.ndarray) -> np.ndarray:
    """Orbital pairs of the blocks on the model's graph, ``[n_R, n, n]``."""
    graph = radius_graph(structure, CUTOFFS)
    on_graph = np.zeros((len(R), orbitals.n_orbitals, orbitals.n_orbitals), dtype=bool)
    offsets = orbitals.atom_offsets
    for (i, j), shift in zip(graph.edge_index.T, graph.shifts, strict=True):
        r = int(np.flatnonzero((R == shift).all(axis=1))[0])
        on_graph[r, offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]] = True
    return on_graph


def test_onsite_operators_split_shells_and_act_through_the_overlap():
    """With on-site operators H − H(0) = ½(Δ_i S_ij + S_ij Δ_j), Δ_i a full on-site block:
    in a distorted cell Se's three p levels are split (a crystal field), which one shift
    per shell cannot do."""
    structure = _structures()[1]
    h0, _, R = make_predictor(make_model(OPERATORS))(structure)
    baseline = synthetic_baseline(structure)
    orbitals, overlap = baseline.orbitals, baseline.overlap
    offsets = orbitals.atom_offsets
    home = int(np.flatnonzero(~R.any(axis=1))[0])
    delta_h = h0 - baseline.h0
    selenium = [a for a, z in enumerate(orbitals.numbers) if z == 34]
    operators = {}
    for a in selenium:  # Δ_a from its on-site block: ½(Δ_a S_aa + S_aa Δ_a) = ΔH_aa
        block = slice(offsets[a], offsets[a + 1])
        s_aa = overlap[home][block, block]
        operators[a] = solve_sylvester(0.5 * s_aa, 0.5 * s_aa, delta_h[home][block, block])
    on_graph = _graph_mask(structure, orbitals, R)
    checked = 0
    for r in range(len(R)):
        for a in selenium:
            for b in selenium:
                rows, cols = slice(offsets[a], offsets[a + 1]), slice(offsets[b], offsets[b + 1])
                if not on_graph[r, rows, cols].all():
                    continue
                s_ab = overlap[r][rows, cols]
                expected = 0.5 * (operators[a] @ s_ab + s_ab @ operators[b])
                np.testing.assert_allclose(delta_h[r][rows, cols], expected, atol=1e-10)
                checked += 1
    assert checked > len(selenium)  # on-site blocks and Se-Se pairs
    p_orbitals = orbitals.l_of_orbital[offsets[selenium[0]] : offsets[selenium[0] + 1]] == 1
    p_levels = np.linalg.eigvalsh(operators[selenium[0]][np.ix_(p_orbitals, p_orbitals)][:3, :3])
    assert np.ptp(p_levels) > 1e-4

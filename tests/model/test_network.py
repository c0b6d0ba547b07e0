"""Equivariance, Hermiticity and time reversal of the network by construction (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from equivariance_checks import (
    assert_hermitian_time_reversal,
    assert_permutation_equivariant,
    assert_rotation_equivariant,
    assert_translation_invariant,
)
from pymatgen.core import Lattice, Structure

from socscreen.model.data import CrystalData, collate, scatter_blocks
from socscreen.model.network import ModelConfig, UniHamGNN
from socscreen.orbitals import OrbitalTable

SHELLS = {"Bi": (0, 1, 2, 2), "Se": (0, 1, 2)}
CUTOFFS = {"Bi": 3.6, "Se": 3.0}
SMALL = ModelConfig(
    hidden_irreps="8x0e+2x0o+4x1o+2x1e+2x2e+2x2o+1x3o",
    pair_irreps="4x0e+2x1o+2x1e+2x2e+1x2o",
    soc_pair_irreps="4x0e+2x1o+1x1e+1x2e+1x2o",
    n_radial_pair=6,
    species_embedding=4,
    mlp_hidden=8,
    message_cutoff=4.5,
)
RNG = np.random.default_rng(11)


def _rotation(improper: bool) -> np.ndarray:
    q, _ = np.linalg.qr(RNG.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    return -q if improper else q


def build_model(
    config: ModelConfig, seed: int = 0, normalization: dict | None = None, randomise: bool = True
) -> UniHamGNN:
    """Random model built in float64 (e3nn bakes Wigner-3j constants at build time).

    ``randomise=False`` keeps the initialisation (readouts and gates start at zero).
    """
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = UniHamGNN(
            SHELLS, CUTOFFS, config, normalization=normalization or {"avg_num_neighbors": 6.0}
        )
    finally:
        torch.set_default_dtype(previous)
    if randomise:
        with torch.no_grad():  # readouts start at zero: give every parameter a random part
            for parameter in model.parameters():
                parameter.add_(0.2 * torch.randn_like(parameter))
    model.soc.xi_reference.fill_(0.3)
    model.onsite_reference.normal_()
    return model.eval()


def make_predictor(model: UniHamGNN):
    def predict(structure: Structure):
        sample = CrystalData.from_structure(structure, model.layout, model.cutoffs, "szp(dzp)")
        batch = collate([sample], with_targets=False).to("cpu", torch.float64)
        with torch.no_grad():
            out = model(batch)
        return (
            scatter_blocks(out["h0"], sample).numpy(),
            scatter_blocks(out["soc"], sample).numpy(),
            sample.R,
        )

    return predict


@pytest.fixture(scope="module")
def structure() -> Structure:
    lattice = Lattice([[4.1, 0.2, 0.0], [0.3, 4.3, 0.1], [-0.2, 0.1, 5.2]])
    return Structure(
        lattice, ["Bi", "Se", "Se"], [[0.0, 0.0, 0.0], [0.48, 0.52, 0.3], [0.1, 0.45, 0.66]]
    )


@pytest.fixture(scope="module")
def orbitals(structure) -> OrbitalTable:
    return OrbitalTable(tuple(structure.atomic_numbers), SHELLS)


@pytest.fixture(scope="module", params=[True, False], ids=["soc-offsite", "soc-onsite-only"])
def predict(request):
    return make_predictor(build_model(SMALL.model_copy(update={"soc_offsite": request.param})))


@pytest.mark.parametrize("improper", [False, True], ids=["rotation", "rotoinversion"])
def test_rotation_equivariance(predict, structure, orbitals, improper):
    assert_rotation_equivariant(predict, structure, orbitals, _rotation(improper))


def test_translation_invariance(predict, structure):
    assert_translation_invariant(predict, structure, np.array([0.37, -0.21, 0.55]))


def test_permutation_equivariance(predict, structure, orbitals):
    assert_permutation_equivariant(predict, structure, orbitals, np.array([2, 0, 1]))


def test_hermiticity_and_time_reversal(predict, structure):
    h0, soc, R = predict(structure)
    assert np.abs(h0).max() > 1e-3 and np.abs(soc).max() > 1e-6  # non-trivial output
    assert_hermitian_time_reversal((h0, soc, R))


def test_onsite_only_soc_has_no_offsite_blocks(structure):
    predict = make_predictor(build_model(SMALL.model_copy(update={"soc_offsite": False})))
    _, soc, R = predict(structure)
    home = int(np.flatnonzero(~R.any(axis=1))[0])
    offsite = np.abs(soc).sum(axis=(0, 2, 3))
    offsite[home] = 0.0
    assert offsite.max() == 0.0
    # on-site SOC of Bi's p shell (orbitals 1..3) is ξ L with ξ > 0
    from socscreen.model.basis import antisymmetric_l

    a = soc[:, home, 1:4, 1:4]
    xi = np.sum(a * antisymmetric_l(1)) / np.sum(antisymmetric_l(1) ** 2)
    assert xi > 0
    np.testing.assert_allclose(a, xi * antisymmetric_l(1), atol=1e-12)


def test_unknown_element_is_rejected(structure):
    model = build_model(SMALL)
    bad = Structure(structure.lattice, ["Bi", "Te", "Au"], structure.frac_coords)
    with pytest.raises(ValueError, match=r"\['Au', 'Te'\]"):
        CrystalData.from_structure(bad, model.layout, model.cutoffs, "szp(dzp)")

"""The model's correction on the sparse H(0) of a bilayer: the route of large cells."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from socscreen.analysis.band_edges import band_edges
from socscreen.analysis.screening import analyse_hamiltonian
from socscreen.bilayers import twisted_bilayer
from socscreen.model.predictors import predict_hamiltonian
from socscreen.sparse_hamiltonian import SparseHamiltonian
from socscreen.stores.schemas.campaign import CampaignSettings

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from test_bilayers import MOSE2, WSE2  # noqa: E402


@pytest.mark.slow
def test_the_sparse_prediction_of_a_bilayer_is_its_dense_prediction():
    """The 60° cell is its own aligned cell: both routes see the same charges."""
    cell, _ = twisted_bilayer(MOSE2, WSE2, 60.0)
    dense = predict_hamiltonian(cell, "model")
    sparse_ham = predict_hamiltonian(cell, "model", sparse_blocks=True)
    assert isinstance(sparse_ham, SparseHamiltonian)
    assert sparse_ham.meta["model"] == dense.meta["model"]
    assert "aligned bilayer" in sparse_ham.meta["baseline"]["charge_correction"]["method"]
    scc = predict_hamiltonian(cell, "scc", sparse_blocks=True)
    correction = sparse_ham.home_block("h0") - scc.home_block("h0")  # on-site and R = 0
    assert np.abs(correction.data).max() > 0.05  # eV: the correction is there
    assert sparse_ham.efermi == pytest.approx(dense.efermi, abs=2e-3)
    k = np.array([[1 / 3, 1 / 3, 0.0], [0.0, 0.0, 0.0]])
    for a, b in zip(band_edges(dense, k), band_edges(sparse_ham, k), strict=True):
        np.testing.assert_allclose(a.valence + a.conduction, b.valence + b.conduction, atol=1e-3)

    # a campaign analyses the sparse container at its valley edges only; the bilayer's
    # band extrema are at K and Γ, so its gaps are those of the whole analysis
    settings = CampaignSettings()
    whole, edges = analyse_hamiltonian(dense, settings), analyse_hamiltonian(sparse_ham, settings)
    assert "valley_edges_only" in edges.flags and "valley_edges_only" not in whole.flags
    assert edges.gaps.kind == whole.gaps.kind == "insulator"
    assert edges.gaps.indirect == pytest.approx(whole.gaps.indirect, abs=1e-3)
    assert edges.gaps.direct == pytest.approx(whole.gaps.direct, abs=1e-3)
    for name in ("valence_splitting_eV", "conduction_splitting_eV", "direct_gap_k_eV"):
        expected = getattr(whole.valley, name)
        assert getattr(edges.valley, name) == pytest.approx(expected, abs=1e-3), name

"""predict() and the CLI on the shipped checkpoint."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from socscreen.analysis.bands import fermi_level
from socscreen.checksums import file_sha256
from socscreen.cli import app
from socscreen.dft.basis_functions import valence_electrons
from socscreen.dft.overlap import overlap_matrices, overlapping_R
from socscreen.hamiltonian import Hamiltonian
from socscreen.model.checkpoint import load_checkpoint
from socscreen.model.inference import (
    PREDICTION_OVERLAP_CUTOFF,
    load_model,
    predict,
)
from socscreen.model.predictors import FEW_TRAINING_FILES, default_checkpoint


@pytest.fixture(scope="module")
def shipped():
    return load_model(None, "cpu")


@pytest.fixture(scope="module")
def bi2se3_prediction(bi2se3) -> Hamiltonian:
    return predict(bi2se3.structure)


def test_shipped_checkpoint_has_a_record(shipped):
    model, payload = shipped
    record = payload["record"]
    path = default_checkpoint()
    assert path.suffix == ".pt" and path.stat().st_size < 8e6
    assert record["checkpoint_sha256"] == file_sha256(path)
    assert record["elements"] == model.elements
    assert record["training_files"] and all(
        len(f["sha256"]) == 64 for f in record["training_files"]
    )
    # how it was made: one training, or the ensemble of trainings that differ in their seed
    trainings = record.get("members", [record])
    assert all(member["command"].startswith("socscreen train") for member in trainings)
    if "members" in record:
        assert record["command"].startswith("socscreen model ensemble")
        assert len({member["seed"] for member in trainings}) == len(trainings) >= 2
    # held-out fixtures never enter training
    names = {f["name"] for f in record["training_files"]}
    assert not any("Bi2Se3_szp" in n or "Si_szp" in n for n in names)


def test_predict_returns_a_complete_container(bi2se3, bi2se3_prediction):
    h = bi2se3_prediction
    assert h.has_soc and h.orbitals.element_shells == bi2se3.orbitals.element_shells
    # every R with overlapping orbitals, and those where H(0) keeps PAW tails beyond them
    graph_R = set(map(tuple, overlapping_R(bi2se3.structure, "szp(dzp)").tolist()))
    assert graph_R <= set(map(tuple, h.R.tolist()))
    # the overlap of GPAW's H(0), which the correction keeps: our exact two-centre one
    exact = overlap_matrices(h.structure, h.orbitals, h.R)
    np.testing.assert_allclose(h.overlap, exact, rtol=0, atol=1e-6)
    assert h.hermiticity_error() < 1e-10
    assert h.nelect == sum(valence_electrons(s.specie.symbol) for s in bi2se3.structure) == 48
    bands = h.eigh([[0.0, 0.0, 0.0]])[0]
    assert bands[0] < h.efermi < bands[-1]
    meta = h.meta["model"]
    assert meta["checkpoint_sha256"] == file_sha256(default_checkpoint())
    assert meta["name"].startswith("Uni-HamGNN") and meta["trained_on"]["files"] > 0
    # predicted on-site SOC of Bi p is ξ L with a Bi-like strength (0.8 eV in the DFT fixture)
    home = h.home_index
    a_z = h.soc_uu[home][10:13, 10:13].imag  # A_z = ξ A'_z, A'_z[y, x] = 1
    assert 0.4 < a_z[0, 2] < 1.2


def test_batch_and_single_predictions_agree(bi2se3, bi2se3_prediction):
    s = bi2se3.structure
    shifted = s.cart_coords.copy()
    shifted[1] += [0.03, -0.02, 0.01]  # move one Bi slightly, no wrapping
    moved = Structure(s.lattice, s.species, shifted, coords_are_cartesian=True)
    both = predict([moved, s], batch_size=2)
    assert len(both) == 2
    np.testing.assert_allclose(both[1].h0, bi2se3_prediction.h0, atol=1e-5)
    np.testing.assert_allclose(both[1].soc_ud, bi2se3_prediction.soc_ud, atol=1e-6)
    home = (both[0].home_index, bi2se3_prediction.home_index)
    assert np.abs(both[0].h0[home[0]] - bi2se3_prediction.h0[home[1]]).max() > 1e-3


def test_soc_can_be_switched_off(bi2se3):
    h = predict(bi2se3.structure, soc=False)
    assert not h.has_soc and h.meta["soc"] is False


def test_elements_without_gpaw_data_are_listed(shipped):
    # Xe has GPAW data but no training file (the correction model would give it H(0)
    # alone); Pu has no PAW setup at all: the error names Pu alone
    model, _ = shipped
    assert not {"Pu", "Xe"} & set(model.elements)
    structure = Structure(Lattice.cubic(4.0), ["Pu", "Xe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(ValueError, match=r"\['Pu'\] \(Pu: no PBE PAW setup\)"):
        predict(structure)


def test_fermi_level_of_an_insulator_lies_in_the_gap(silicon):
    grid = np.stack(np.meshgrid(*[np.arange(4) / 4] * 3, indexing="ij"), -1).reshape(-1, 3)
    bands = silicon.eigh(grid)
    ef = fermi_level(silicon)
    assert bands[:, 7].max() < ef < bands[:, 8].min()
    assert abs(ef - silicon.efermi) < 0.5


def test_ionic_crystal_with_nearly_singular_overlap_has_no_ghost_bands():
    # CsI (CsCl type, experimental a): diffuse Cs/I orbitals give S(k) eigenvalues down to
    # 3e-5, so model errors along them made spurious bands hundreds of eV deep that took
    # occupied slots (a "metal"); predictions drop those directions (DFT gap 3.56 eV).
    csi = Structure(Lattice.cubic(4.567), ["Cs", "I"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    h = predict(csi)
    assert h.overlap_cutoff == PREDICTION_OVERLAP_CUTOFF > 0
    grid = np.stack(np.meshgrid(*[np.arange(4) / 4] * 3, indexing="ij"), -1).reshape(-1, 3)
    assert np.linalg.eigvalsh(h.overlap_k(grid)).min() < 1e-3
    bands = h.eigh(grid)
    n = int(round(h.nelect))
    occupied, empty = bands[:, :n], bands[:, n:]
    assert occupied.min() > h.efermi - 40.0  # deepest real level: Cs 5s, about -23 eV
    assert empty.min() - occupied.max() > 1.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_gpu_prediction_matches_cpu(bi2se3, bi2se3_prediction):
    h = predict(bi2se3.structure, device="cuda")
    np.testing.assert_allclose(h.h0, bi2se3_prediction.h0, atol=1e-4)


def test_cli_predict_writes_a_corpus_file(tmp_path, bi2se3, bi2se3_prediction):
    cif = tmp_path / "Bi2Se3.cif"
    bi2se3.structure.to(filename=str(cif))
    out = tmp_path / "pred.npz"
    result = CliRunner().invoke(app, ["predict", str(cif), "-o", str(out), "--predictor", "model"])
    assert result.exit_code == 0, result.output
    h = Hamiltonian.from_npz(out)
    assert h.has_soc and h.n_orbitals == 55
    # the CIF wraps atoms into the cell (other R labels, same crystal): compare bands
    k = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.1, 0.2, 0.3]])
    ours, ref = h.eigh(k), bi2se3_prediction.eigh(k)
    near = np.abs(ref - bi2se3_prediction.efermi) < 3.0  # float32 file: compare near E_F
    np.testing.assert_allclose(ours[near], ref[near], atol=2e-3)
    assert abs(h.efermi - bi2se3_prediction.efermi) < 2e-3


def test_cli_rejects_unknown_elements(tmp_path, shipped):
    model, _ = shipped
    foreign = ["Pu"]
    assert "Pu" not in model.elements
    path = tmp_path / "x.cif"
    Structure(Lattice.cubic(4.0), foreign, [[0, 0, 0]]).to(filename=str(path))
    result = CliRunner().invoke(
        app, ["predict", str(path), "-o", str(tmp_path / "x.npz"), "--predictor", "model"]
    )
    assert result.exit_code != 0 and foreign[0] in result.output


def test_cli_model_info(shipped):
    model, payload = shipped
    table = CliRunner().invoke(app, ["model", "info"])
    assert table.exit_code == 0, table.output
    assert "hidden_irreps" in table.output and "training files" in table.output
    assert "corrected elements" in table.output and "uncorrected_elements" in table.output
    # the elements a prediction flags sparsely_trained_elements, with their file counts
    counts = payload["record"]["element_files"]
    fewest = min(counts, key=counts.get)
    assert counts[fewest] < FEW_TRAINING_FILES <= counts["Te"]
    assert f"{fewest}:{counts[fewest]}" in table.output and f"Te:{counts['Te']}" not in table.output
    result = CliRunner().invoke(app, ["model", "info", "--json"])
    record = json.loads(result.output)
    assert record["elements"] == model.elements
    assert record["config"] == model.config.model_dump()
    assert record["checkpoint_sha256"] == payload["record"]["checkpoint_sha256"]


@pytest.mark.slow
def test_cli_finetune_starts_from_the_shipped_model(tmp_path, data_dir, shipped):
    feedback = tmp_path / "validated"
    feedback.mkdir()
    shutil.copy(data_dir / "Si_szp.npz", feedback)  # a validated GPAW Hamiltonian
    out = tmp_path / "tuned"
    args = ["train", "--finetune", str(feedback), "--out", str(out)]
    args += ["--epochs", "1", "--soc-epochs", "1", "--band-epochs", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    model, payload = load_checkpoint(out / "model.pt")
    record = payload["record"]
    assert record["finetuned_from"]["sha256"] == file_sha256(default_checkpoint())
    assert model.elements == shipped[0].elements  # the universal layout is kept
    assert record["settings"]["lr"] == 5e-4 and record["settings"]["init_checkpoint"]

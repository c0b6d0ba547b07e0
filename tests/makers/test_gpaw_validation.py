"""GPAW validation route: a real GPAW run compared with a known 'prediction'.

The Bi2Se3 corpus fixture was computed with the corpus settings, so taken as the
prediction it must agree with a fresh GPAW run to the float32 rounding of the file, with
and without spin-orbit coupling; the DFT Hamiltonian written to the training-data store
must load as a corpus file that the fine-tuning loader accepts for the shipped model.
"""

from __future__ import annotations

import numpy as np
import pytest

from socscreen.checksums import file_sha256
from socscreen.corpus.loading import load_corpus
from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.gpaw_validation import comparison_kpoints, validate_with_gpaw
from socscreen.model.data import CrystalData
from socscreen.model.inference import load_model
from socscreen.stores.schemas.validation import ValidationTarget
from socscreen.stores.training_data import write_training_file

pytestmark = [pytest.mark.gpaw, pytest.mark.slow]


def target_of(ham: Hamiltonian, z2: list[int]) -> ValidationTarget:
    return ValidationTarget(
        material_id="bi2se3-fixture",
        campaign="tests",
        formula="Bi2 Se3",
        structure=ham.structure.as_dict(),
        model_version="fixture",
        z2_predicted=z2,
        reasons=["candidate"],
    )


@pytest.fixture(scope="module")
def validated(bi2se3):
    doc, dft = validate_with_gpaw(target_of(bi2se3, [1, 0, 0, 0]), bi2se3, soc_off_twin=True)
    return doc, dft


def test_fresh_gpaw_run_agrees_with_the_corpus_file(validated, bi2se3):
    doc, dft = validated
    assert doc.validation_id == "bi2se3-fixture:gpaw" and doc.route == "gpaw"
    grid = doc.band_comparison
    assert grid.n_kpoints == len(comparison_kpoints(dft)) == 5**3 + 8
    assert grid.band_offset == 0 and grid.n_bands_compared >= 10
    assert grid.band_mae < 2e-3 and grid.band_max_error < 1e-2  # float32 file vs fresh run
    assert doc.band_comparison_path is not None and doc.band_comparison_path.band_mae < 2e-3
    assert doc.z2_dft == [1, 0, 0, 0] and doc.z2_agree is True
    assert doc.z2_route_dft in ("parity+wilson", "parity")
    assert doc.gap_dft == pytest.approx(doc.gap_predicted, abs=5e-3)
    assert doc.soc_off is not None and doc.soc_off.band_mae < 2e-3
    assert doc.dft_settings["code"] == "GPAW" and doc.dft_settings["basis"] == "szp(dzp)"
    assert doc.dft_settings["hr_grid"] == bi2se3.meta["hr_grid"]
    assert doc.timings["dft"] > 0 and doc.reasons == ["candidate"]


def test_training_file_is_a_valid_corpus_file(validated, tmp_path):
    _, dft = validated
    record = write_training_file(dft, "bi2se3-fixture", "tests", tmp_path)
    again = write_training_file(dft, "bi2se3-fixture", "tests", tmp_path)
    assert again.path == record.path and len(list(tmp_path.glob("*.npz"))) == 1
    assert record.sha256 == file_sha256(record.path) and record.basis == "szp(dzp)"
    loaded = Hamiltonian.from_npz(record.path)
    assert loaded.meta["material_id"] == "bi2se3-fixture" and loaded.has_soc
    k = comparison_kpoints(dft)[:20]
    assert np.abs(loaded.eigh(k) - dft.eigh(k)).max() < 5e-3
    # the fine-tuning loader takes the folder with the shipped model's layout
    files, hams = load_corpus(tmp_path)
    model, _ = load_model()
    sample = CrystalData.from_hamiltonian(hams[0], model.layout, model.cutoffs)
    assert files[0].name == "bi2se3-fixture_Bi2Se3.npz" and sample.complete

"""The GPAW reference Maker under jobflow: document, data-store routing, corpus file."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.dft_reference import GPAWReferenceMaker
from socscreen.stores.schemas.dft import DFTReferenceDocument

pytestmark = [pytest.mark.gpaw, pytest.mark.slow]


def test_maker_routes_the_hamiltonian_to_the_data_store(silicon, tmp_path):
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    maker = GPAWReferenceMaker(
        settings=GPAWReferenceSettings(basis="sz(dzp)"), output_dir=str(tmp_path / "corpus")
    )
    job = maker.make(silicon.structure)
    responses = run_locally(job, store=store, ensure_success=True, root_dir=tmp_path)

    doc = responses[job.uuid][1].output
    assert isinstance(doc, DFTReferenceDocument)
    assert (doc.formula, doc.basis, doc.xc, doc.code) == ("Si2", "sz(dzp)", "PBE", "GPAW")
    assert doc.soc and doc.n_orbitals == 8 and doc.nelect == 8
    assert doc.kscf == silicon.meta["kscf"]
    assert set(doc.timings) == {"scf", "lcao_matrices", "soc", "fourier", "checks"}
    assert doc.settings["basis"] == "sz(dzp)"

    # the main document holds only a reference; the arrays sit in the data store
    raw = store.query_one({"uuid": job.uuid})["output"]["hamiltonian"]
    assert raw["store"] == "data" and "arrays" not in raw
    loaded = store.get_output(job.uuid, load=True)["hamiltonian"]
    again = Hamiltonian.from_dict(loaded)
    np.testing.assert_array_equal(again.h0, doc.hamiltonian.h0)
    np.testing.assert_array_equal(again.soc_ud, doc.hamiltonian.soc_ud)

    written = Hamiltonian.from_npz(doc.corpus_file)
    assert written.meta["basis"] == "sz(dzp)"
    k = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    exact = doc.hamiltonian.eigh(k)
    near = np.abs(exact - doc.efermi).max(axis=0) < 5.0  # float32 file: bands near E_F
    assert near.sum() >= 8
    np.testing.assert_allclose(written.eigh(k)[:, near], exact[:, near], atol=2e-3)


def test_maker_defaults_follow_the_corpus():
    maker = GPAWReferenceMaker()
    assert maker.name == "gpaw reference"
    assert maker.settings.basis == "szp(dzp)" and maker.settings.grid_spacing == 0.25
    assert maker.soc and maker.output_dir is None


def test_maker_settings_survive_fireworks_serialisation(silicon):
    """A Firework stores the maker as JSON; the settings must come back as settings."""
    from fireworks import Firework
    from jobflow.managers.fireworks import job_to_firework

    settings = GPAWReferenceSettings(basis="sz(dzp)", grid_spacing=0.3)
    job = GPAWReferenceMaker(settings=settings).make(silicon.structure)
    restored = Firework.from_dict(job_to_firework(job).to_dict()).tasks[0]["job"]
    assert restored.maker.settings == settings

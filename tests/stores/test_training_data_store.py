"""The training-data folder: location from the settings, corpus files, bad input."""

from __future__ import annotations

import pytest

from socscreen.hamiltonian import Hamiltonian
from socscreen.settings import SETTINGS
from socscreen.stores.training_data import training_dir, write_training_file


def test_folder_follows_the_settings(monkeypatch, tmp_path):
    monkeypatch.setattr(SETTINGS, "training_dir", None)
    monkeypatch.setattr(SETTINGS, "home", tmp_path / "home")
    assert training_dir() == tmp_path / "home" / "training" / "szp(dzp)"
    assert training_dir("sz(dzp)") == tmp_path / "home" / "training" / "sz(dzp)"
    monkeypatch.setattr(SETTINGS, "training_dir", tmp_path / "mine")
    assert training_dir("sz(dzp)") == tmp_path / "mine"


def test_written_file_round_trips_and_keeps_the_caller_meta(silicon, monkeypatch, tmp_path):
    monkeypatch.setattr(SETTINGS, "training_dir", tmp_path / "store")
    before = dict(silicon.meta)
    record = write_training_file(silicon, "gnome/1:x", "c1")
    assert silicon.meta == before
    assert record.path == str((tmp_path / "store" / "gnome_1_x_Si2.npz").resolve())
    loaded = Hamiltonian.from_npz(record.path)
    assert (loaded.meta["material_id"], loaded.meta["campaign"]) == ("gnome/1:x", "c1")
    assert loaded.n_orbitals == record.n_orbitals == silicon.n_orbitals


def test_files_without_soc_or_electrons_are_refused(silicon, tmp_path):
    no_soc = Hamiltonian(silicon.structure, silicon.orbitals, silicon.R, silicon.h0,
                         silicon.overlap, nelect=silicon.nelect)  # fmt: skip
    with pytest.raises(ValueError, match="spin-orbit"):
        write_training_file(no_soc, "si", folder=tmp_path)
    no_electrons = Hamiltonian(silicon.structure, silicon.orbitals, silicon.R, silicon.h0,
                               silicon.overlap, silicon.soc_uu, silicon.soc_ud)  # fmt: skip
    with pytest.raises(ValueError, match="electron count"):
        write_training_file(no_electrons, "si", folder=tmp_path)

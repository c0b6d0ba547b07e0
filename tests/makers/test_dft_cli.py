"""``socscreen dft-reference``: a real GPAW run from a CIF, and clean failures on bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.hamiltonian import Hamiltonian


@pytest.mark.gpaw
@pytest.mark.slow
def test_dft_reference_writes_a_corpus_file(silicon, tmp_path):
    cif = tmp_path / "si.cif"
    silicon.structure.to(filename=str(cif))
    out = tmp_path / "out.npz"
    result = CliRunner().invoke(
        app, ["dft-reference", str(cif), "-o", str(out), "--basis", "sz(dzp)"]
    )
    assert result.exit_code == 0, result.output
    assert "lcao_matrices" in result.output and "total" in result.output
    ham = Hamiltonian.from_npz(out)
    assert ham.meta["basis"] == "sz(dzp)" and ham.meta["formula"] == "Si2"
    assert ham.has_soc and ham.n_orbitals == 8
    gamma = ham.eigh([0, 0, 0])[0]
    assert np.all(np.diff(gamma) >= -1e-9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz", "si.cif"]


def _technetium_cif(tmp_path):
    path = tmp_path / "tc.cif"
    Structure(Lattice.cubic(3.0), ["Tc"], [[0, 0, 0]]).to(filename=str(path))
    return path


def test_dft_reference_rejects_bad_input_without_writing(tmp_path):
    cif = _technetium_cif(tmp_path)
    result = CliRunner().invoke(app, ["dft-reference", str(cif), "-o", str(tmp_path / "x.npz")])
    assert result.exit_code == 1
    assert "Tc" in result.output and "PAW setup" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tc.cif"]


def test_python_dash_m_runs_the_same_command(tmp_path):
    cif = _technetium_cif(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "socscreen", "dft-reference", str(cif), "-o",
         str(tmp_path / "x.npz")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 1
    assert "no PBE PAW setup" in proc.stderr
    assert not (tmp_path / "x.npz").exists()

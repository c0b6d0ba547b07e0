"""``socscreen z2`` and ``socscreen bands`` on corpus-format files."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from socscreen.analysis.models import fu_kane_mele
from socscreen.cli import app

RUNNER = CliRunner()


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_z2_of_a_model_written_as_a_corpus_file(tmp_path):
    path = fu_kane_mele(dt=0.4).to_npz(tmp_path / "fkm.npz")
    wcc = tmp_path / "wcc.png"
    out = _json(RUNNER.invoke(app, ["z2", str(path), "--route", "auto", "--wcc-png", str(wcc)]))
    assert out["z2"] == [1, 1, 1, 1] and out["route"] == "parity+wilson"
    assert out["flags"] == [] and out["gap_eV"] > 0.5
    assert (tmp_path / "wcc.png").stat().st_size > 1000


def test_z2_defaults_to_the_screening_route(data_dir):
    """As campaigns do: parities with an inversion centre (Bi2Se3, no Wilson loops run),
    Wilson loops without one (zinc-blende GaAs, the GPAW reference of the benchmarks)."""
    result = RUNNER.invoke(app, ["z2", str(data_dir / "Bi2Se3_szp.npz")])
    out = _json(result)
    assert out["z2"] == [1, 0, 0, 0] and out["route"] == "parity" and out["z2_wilson"] is None
    assert re.fullmatch(r"z2 Bi2Se3_szp\.npz: done in \d+\.\d s\n", result.stderr)
    gaas = data_dir.parents[1] / "benchmarks" / "data" / "holdout" / "GaAs.npz"
    out = _json(RUNNER.invoke(app, ["z2", str(gaas)]))
    assert out["z2"] == [0, 0, 0, 0] and out["route"] == "wilson" and out["z2_parity"] is None


def test_z2_routes_on_dft_files(data_dir):
    out = _json(RUNNER.invoke(app, ["z2", str(data_dir / "LiBr_sz.npz"), "--route", "wilson"]))
    assert out["z2"] == [0, 0, 0, 0] and out["route"] == "wilson"
    out = _json(RUNNER.invoke(app, ["z2", str(data_dir / "Cu_sz.npz")]))
    assert out["z2"] is None and "metal" in out["flags"]
    out = _json(RUNNER.invoke(app, ["z2", str(data_dir / "Si_szp.npz"), "--route", "parity"]))
    assert out["z2"] == [0, 0, 0, 0] and out["route"] == "parity"


def test_bands_command(data_dir, tmp_path):
    png = tmp_path / "si.png"
    result = RUNNER.invoke(app, ["bands", str(data_dir / "Si_szp.npz"), "--png", str(png)])
    out = _json(result)
    assert re.fullmatch(r"bands Si_szp\.npz: done in \d+\.\d s\n", result.stderr)
    assert [name for _, name in out["labels"]][:3] == ["Γ", "X", "W"]
    assert out["gap"]["kind"] == "insulator"
    assert abs(out["gap"]["indirect_gap_eV"] - 0.95) < 0.05
    assert out["spin_splitting"]["max_valence_eV"] < 1e-8
    assert out["valleys"] is None  # bulk
    assert png.stat().st_size > 1000


def test_bands_of_a_hexagonal_sheet_print_its_valleys(data_dir):
    """The GPAW MoSe2 monolayer of the benchmarks: a 2D path and grid, its valleys at K."""
    sheet = data_dir.parents[1] / "benchmarks" / "data" / "sheets" / "MoSe2.npz"
    out = _json(RUNNER.invoke(app, ["bands", str(sheet)]))
    assert [name for _, name in out["labels"]] == ["Γ", "M", "K", "Γ"]
    assert out["gap"]["grid"][2] == 1
    valleys = out["valleys"]
    assert valleys["valence_splitting_eV"] == pytest.approx(out["spin_splitting"]["max_valence_eV"])
    assert 0.15 < valleys["valence_splitting_eV"] < 0.25
    assert valleys["omega_k"] == pytest.approx(-valleys["omega_k_prime"])
    assert _json(RUNNER.invoke(app, ["bands", str(sheet), "--no-soc"]))["valleys"] is None


def test_bad_input_is_reported(data_dir, tmp_path):
    result = RUNNER.invoke(app, ["z2", str(data_dir / "Si_szp.npz"), "--route", "magic"])
    assert result.exit_code == 2 and "unknown route" in result.output
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    result = RUNNER.invoke(app, ["z2", str(broken)])
    assert result.exit_code == 1 and "cannot read" in result.output


@pytest.mark.gpaw
def test_bands_of_a_conventional_cell_follow_its_own_path(silicon, tmp_path):
    """An 8-atom cubic Si cell: no standard-cell mapping, so the Latimer-Munro path; same gap."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from socscreen.analysis.gaps import band_gap
    from socscreen.model.predictors import predict_hamiltonian

    conventional = SpacegroupAnalyzer(silicon.structure).get_conventional_standard_structure()
    assert len(conventional) == 8
    ham = predict_hamiltonian(conventional, "baseline")
    path = ham.to_npz(tmp_path / "Si8.npz")
    result = CliRunner().invoke(app, ["bands", str(path), "--png", str(tmp_path / "Si8.png")])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["path_type"] == "latimer_munro" and (tmp_path / "Si8.png").is_file()
    assert any(name == "Γ" for _, name in out["labels"])
    primitive = predict_hamiltonian(silicon.structure, "baseline")
    gap = band_gap(primitive, soc=True).indirect_gap_eV
    assert abs(out["gap"]["indirect_gap_eV"] - gap) < 0.05  # band folding keeps the gap


@pytest.mark.gpaw
def test_sparse_prediction_of_a_sheet_and_its_valleys(tmp_path):
    """``predict --sparse`` writes H(0) of a MoSe2 sheet with sparse blocks; ``valleys`` reads
    it and gives the valleys of the dense file of the same H(0), K' as K (time reversal)."""
    from socscreen.corpus.training_sheets import mx2_2h

    cif = tmp_path / "MoSe2.cif"
    mx2_2h("Mo", "Se", a=3.32, h=3.34, c=23.0).to(filename=str(cif))
    files = {"sparse": tmp_path / "sparse.npz", "dense": tmp_path / "dense.npz"}
    for kind, path in files.items():
        extra = ["--sparse"] if kind == "sparse" else []
        command = ["predict", str(cif), "-o", str(path), "--predictor", "baseline", *extra]
        assert RUNNER.invoke(app, command).exit_code == 0
    sparse, dense = (_json(RUNNER.invoke(app, ["valleys", str(p)])) for p in files.values())
    assert 0.15 < sparse["K"]["valence_splitting"] < 0.25  # MoSe2: 0.19 eV
    for key in ("valence_splitting", "conduction_splitting", "direct_gap"):
        assert sparse["K"][key] == pytest.approx(dense["K"][key], abs=5e-4)
    assert sparse["K'"]["valence"] == sparse["K"]["valence"]
    assert sparse["gap"] > 1.0 and sparse["efermi"] == pytest.approx(dense["efermi"], abs=5e-3)
    result = RUNNER.invoke(app, ["bands", str(files["sparse"])])  # dense analyses refuse it
    assert result.exit_code == 1 and "sparse blocks of a large cell" in result.output
    result = RUNNER.invoke(app, ["predict", str(cif), "-o", str(tmp_path / "x"), "--sparse"])
    assert result.exit_code != 0 and "MoSe2 is one sheet, not a bilayer" in result.output

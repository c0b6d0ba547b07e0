"""Ensembles of trainings that differ in their seed: the mean prediction, its checkpoint, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from equivariance_checks import assert_hermitian_time_reversal, assert_rotation_equivariant
from test_correction import CORRECTION, NORMALIZATION, make_predictor, synthetic_baseline
from test_network import SHELLS, _rotation, build_model
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.model.checkpoint import load_checkpoint, save_checkpoint
from socscreen.model.ensemble import ModelEnsemble, ensemble_record
from socscreen.model.predictors import model_meta
from socscreen.orbitals import OrbitalTable

CONFIG = CORRECTION.model_copy(update={"soc_correction": True})
SPLIT = {"train": ["a.npz", "b.npz"], "val": ["c.npz"], "test": ["d.npz"]}
FILES = [{"name": n, "sha256": n, "content_sha256": "c" + n} for n in ("a.npz", "b.npz")]


def member(seed: int):
    return build_model(CONFIG, seed=seed, normalization=NORMALIZATION)


def record(seed: int, **changes) -> dict:
    return {
        "name": "test",
        "settings": {"seed": seed, "model": {"correction": True}},
        "split": SPLIT,
        "training_files": FILES,
        "zeroth_step_version": 2,
        "basis": "szp(dzp)",
        "metrics": {"val": {"band_mae": 0.03 + 0.001 * seed}},
        "command": f"socscreen train --seed {seed}",
        **changes,
    }


@pytest.fixture(scope="module")
def structure():
    from pymatgen.core import Lattice, Structure

    lattice = Lattice([[4.1, 0.2, 0.0], [0.3, 4.3, 0.1], [-0.2, 0.1, 5.2]])
    return Structure(
        lattice, ["Bi", "Se", "Se"], [[0.0, 0.0, 0.0], [0.48, 0.52, 0.3], [0.1, 0.45, 0.66]]
    )


def test_an_ensemble_predicts_h0_plus_its_members_mean_correction(structure):
    members = [member(1), member(2), member(3)]
    h0, soc, R = make_predictor(ModelEnsemble(members))(structure)
    each = [make_predictor(m)(structure) for m in members]
    np.testing.assert_allclose(h0, np.mean([e[0] for e in each], axis=0), atol=1e-12)
    np.testing.assert_allclose(soc, np.mean([e[1] for e in each], axis=0), atol=1e-12)
    # the members disagree, so the mean is none of them
    assert np.abs(each[0][0] - each[1][0]).max() > 1e-3
    # the mean of the corrections is added once: H(0) is not averaged into a multiple
    baseline = synthetic_baseline(structure)
    home = int(np.flatnonzero(~R.any(axis=1))[0])
    drift = np.abs(np.diag(h0[home]) - np.diag(baseline.h0[home])).max()
    assert drift < 1.0  # eV: a correction of H(0), not 3 H(0) / 3 computed wrongly


def test_an_ensemble_is_equivariant_and_hermitian(structure):
    run = make_predictor(ModelEnsemble([member(4), member(5)]))
    orbitals = OrbitalTable(tuple(structure.atomic_numbers), SHELLS)
    assert_rotation_equivariant(run, structure, orbitals, _rotation(True), atol=1e-5)
    assert_hermitian_time_reversal(run(structure))


def test_members_of_another_layout_or_architecture_are_refused():
    other = build_model(CONFIG.model_copy(update={"soc_correction": False}), seed=1)
    with pytest.raises(ValueError, match="member 1 differs from member 0 in \\['architecture'\\]"):
        ModelEnsemble([member(1), other])
    with pytest.raises(ValueError, match="at least one member"):
        ModelEnsemble([])


def test_the_record_keeps_one_split_and_names_every_member():
    merged = ensemble_record([record(0), record(1)], ["s0.pt", "s1.pt"], "socscreen model ...")
    assert merged["split"] == SPLIT and merged["training_files"] == FILES
    assert "metrics" not in merged and merged["command"] == "socscreen model ..."
    assert [m["seed"] for m in merged["members"]] == [0, 1]
    assert merged["members"][1]["metrics"]["val"]["band_mae"] == pytest.approx(0.031)
    assert model_meta(merged)["members"] == 2
    # a member that held out other files has trained on the ensemble's test files
    other_split = record(1, split={**SPLIT, "test": ["b.npz"], "train": ["a.npz", "d.npz"]})
    with pytest.raises(ValueError, match="s1.pt has another split than s0.pt"):
        ensemble_record([record(0), other_split], ["s0.pt", "s1.pt"], "")
    recompacted = record(1, training_files=[{**f, "sha256": "other bytes"} for f in FILES])
    ensemble_record([record(0), recompacted], ["s0.pt", "s1.pt"], "")  # same content
    changed = record(1, training_files=[{**FILES[0], "content_sha256": "x"}, FILES[1]])
    with pytest.raises(ValueError, match="another training_files"):
        ensemble_record([record(0), changed], ["s0.pt", "s1.pt"], "")


def test_cli_combines_checkpoints_into_one_that_round_trips(tmp_path, structure):
    paths = []
    for seed in (6, 7):
        paths.append(
            save_checkpoint(tmp_path / f"s{seed}" / "model.pt", member(seed), record(seed))
        )
    out = tmp_path / "ensemble.pt"
    runner = CliRunner()
    result = runner.invoke(app, ["model", "ensemble", *map(str, paths), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "the mean of 2 models" in result.output
    model, payload = load_checkpoint(out)
    assert isinstance(model, ModelEnsemble) and len(model.members) == 2
    assert payload["record"]["checkpoint"] == "ensemble.pt"
    assert [m["checkpoint_sha256"] for m in payload["record"]["members"]] == [
        json.loads(p.with_suffix(".json").read_text())["checkpoint_sha256"] for p in paths
    ]
    expected = make_predictor(ModelEnsemble([member(6), member(7)]))(structure)
    for got, want in zip(make_predictor(model)(structure), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    info = runner.invoke(app, ["model", "info", "--checkpoint", str(out)], env={"COLUMNS": "200"})
    assert info.exit_code == 0 and "member seed 7" in info.output and "37.00 meV" in info.output
    # one checkpoint, or an ensemble among the members, is refused in one line
    single = runner.invoke(app, ["model", "ensemble", str(paths[0]), "--out", str(tmp_path / "x")])
    assert single.exit_code != 0 and "two or more" in single.output
    nested = runner.invoke(app, ["model", "ensemble", str(out), str(paths[0]), "-o", "y.pt"])
    assert nested.exit_code == 1 and "ensembles themselves" in nested.output
    with pytest.raises(ValueError, match="no training state"):
        save_checkpoint(tmp_path / "z.pt", model, {}, {"stage": "bands"})

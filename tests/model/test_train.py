"""A tiny real training run: loss decreases, checkpoints save, resume and reload."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from socscreen.checksums import file_sha256
from socscreen.hamiltonian import COMPACT_ZERO_THRESHOLDS, Hamiltonian
from socscreen.model.checkpoint import load_checkpoint
from socscreen.model.data import CrystalData
from socscreen.model.network import ModelConfig
from socscreen.model.train import TrainConfig, evaluate, stage_optimizer, train
from socscreen.workflows.training_data import compact_corpus

TINY = ModelConfig(
    hidden_irreps="8x0e+2x0o+4x1o+2x1e+2x2e+1x2o",
    pair_irreps="8x0e+2x1o+2x1e+2x2e+1x2o",
    soc_pair_irreps="4x0e+2x1o+1x1e+1x2e+1x2o",
    n_radial_pair=8,
    species_embedding=8,
    mlp_hidden=16,
)


@pytest.fixture()
def corpus(tmp_path, data_dir):
    folder = tmp_path / "corpus"
    shutil.copytree(data_dir / "corpus", folder)
    return folder


def _config(corpus, **changes) -> TrainConfig:
    base = dict(
        model=TINY,
        data=str(corpus),
        basis="sz(dzp)",
        h0_epochs=20,
        soc_epochs=3,
        band_epochs=1,
        val_fraction=0.0,
        test_fraction=0.0,
        batch_size=1,
        checkpoint_every=1,
        band_start_threshold=100.0,
    )
    return TrainConfig(**{**base, **changes})


@pytest.mark.slow
def test_training_reduces_losses_and_resumes(corpus, tmp_path):
    out = tmp_path / "run"
    final = train(_config(corpus), out, command="socscreen train (test)")
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    trained = [x for x in lines if x["epoch"] > 0]
    h0 = [x["train_h0_loss"] for x in trained if x["stage"] == "h0"]
    soc = [x["train_soc_loss"] for x in trained if x["stage"] == "soc"]
    assert len(h0) == 20 and h0[-1] < 0.6 * h0[0]
    assert len(soc) == 3 and soc[-1] < soc[0]
    bands = [x for x in trained if x["stage"] == "bands"]
    assert len(bands) == 1 and bands[0]["train_band_mae"] > 0

    record = json.loads(final.with_suffix(".json").read_text())
    assert sorted(f["name"] for f in record["training_files"]) == sorted(
        p.name for p in corpus.glob("*.npz")
    )
    assert all(len(f["sha256"]) == 64 for f in record["training_files"])
    assert record["command"] == "socscreen train (test)"
    assert (
        record["elements"] == sorted(record["elements"]) and record["metrics"]["val"]["h0_mae"] > 0
    )
    # training structures per element, of the training split only
    trained = [Hamiltonian.from_npz(corpus / name).structure for name in record["split"]["train"]]
    assert sum(record["element_files"].values()) == sum(
        len(s.composition.elements) for s in trained
    )
    assert set(record["element_files"]) == {e.symbol for s in trained for e in s.composition}

    model, payload = load_checkpoint(final)
    assert payload["record"]["checkpoint_sha256"] == record["checkpoint_sha256"]
    # resume from the stage-1 checkpoint: continues in stage h0 with the stored optimiser
    best = load_checkpoint(out / "best_h0.pt")[1]["training_state"]
    assert best["stage"] == "h0" and "optimizer" in best
    resumed = train(
        _config(corpus, h0_epochs=21, band_start_threshold=1e-3),
        tmp_path / "resumed",
        resume=out / "best_h0.pt",
    )
    lines = (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
    epochs = [x["epoch"] for x in map(json.loads, lines) if x["stage"] == "h0"]
    assert epochs == list(range(best["epoch"] + 1, 22))
    again, payload = load_checkpoint(resumed)
    assert again.elements == model.elements == ["Ge", "Te"]
    assert "bands" in payload["record"]["metrics"]["skipped_stages"]  # poor H: no stage 2


def test_checkpoint_rejects_foreign_files(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"weights": 1}, path)
    with pytest.raises(ValueError, match="not a socscreen-unihamgnn"):
        load_checkpoint(path)


def test_finetune_starts_from_the_base_weights(corpus, tmp_path, data_dir):
    base = train(_config(corpus, h0_epochs=4, soc_epochs=1, band_epochs=0), tmp_path / "base")
    base_record = json.loads(base.with_suffix(".json").read_text())
    small = tmp_path / "feedback"
    small.mkdir()
    shutil.copy(corpus / "train_00010_Te2.npz", small)

    tuned = train(
        _config(
            small, h0_epochs=2, soc_epochs=1, band_epochs=0, lr=1e-4, init_checkpoint=str(base)
        ),
        tmp_path / "tuned",
    )
    lines = [json.loads(x) for x in (tmp_path / "tuned" / "metrics.jsonl").read_text().splitlines()]
    start = lines[0]
    assert start["stage"] == "h0" and start["epoch"] == 0
    # epoch 0 evaluates the inherited weights: exactly the base model on this corpus
    base_model, _ = load_checkpoint(base)
    sample = CrystalData.from_hamiltonian(
        Hamiltonian.from_npz(small / "train_00010_Te2.npz"), base_model.layout, base_model.cutoffs
    )
    config = _config(small)
    expected = evaluate(base_model, [sample], "h0", config, torch.float32)
    assert start["val_h0_mae"] == pytest.approx(expected["h0_mae"], rel=1e-6)
    assert min(x["val_h0_mae"] for x in lines if x["stage"] == "h0") <= start["val_h0_mae"]
    model, payload = load_checkpoint(tuned)
    record = payload["record"]
    assert model.elements == ["Ge", "Te"]  # the base layout, although the corpus has only Te
    assert record["finetuned_from"]["sha256"] == base_record["checkpoint_sha256"]
    assert record["finetuned_from"]["training_files"] == base_record["training_files"]
    assert [f["name"] for f in record["training_files"]] == ["train_00010_Te2.npz"]

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    shutil.copy(data_dir / "Si_szp.npz", foreign)
    with pytest.raises(ValueError, match="elements it does not know: Si"):
        train(_config(foreign, init_checkpoint=str(base)), tmp_path / "bad")
    shutil.copy(corpus / "train_00010_Te2.npz", foreign)  # a grown corpus with a new element
    config = _config(
        foreign,
        h0_epochs=1,
        soc_epochs=0,
        band_epochs=0,
        init_checkpoint=str(base),
        skip_unknown_elements=True,
    )
    record = load_checkpoint(train(config, tmp_path / "known"))[1]["record"]
    assert [f["name"] for f in record["training_files"]] == ["train_00010_Te2.npz"]
    assert record["skipped_files"] == ["Si_szp.npz"]


def test_files_restrict_the_corpus_and_the_cli_checks_their_hashes(corpus, tmp_path):
    compact_corpus(corpus)  # training-corpus storage: half R, SOC below 0.1 meV zeroed
    out = tmp_path / "one"
    config = _config(
        corpus, h0_epochs=1, soc_epochs=0, band_epochs=0, files=["train_00006_GeTe.npz"]
    )
    record = json.loads(train(config, out).with_suffix(".json").read_text())
    assert [f["name"] for f in record["training_files"]] == ["train_00006_GeTe.npz"]
    with pytest.raises(ValueError, match="not in"):
        train(_config(corpus, files=["train_99999_X.npz"]), tmp_path / "missing")

    from typer.testing import CliRunner

    from socscreen.cli import app

    assert all(len(f["content_sha256"]) == 64 for f in record["training_files"])
    # stored anew in full-R storage (other bytes, same Hamiltonian): still the recorded file
    stored = corpus / "train_00006_GeTe.npz"
    Hamiltonian.from_npz(stored).to_npz(stored, thresholds=COMPACT_ZERO_THRESHOLDS)
    assert file_sha256(corpus / "train_00006_GeTe.npz") != record["training_files"][0]["sha256"]
    settings = tmp_path / "one.yaml"
    settings.write_text(json.dumps(config.model_dump(exclude={"files"})))  # JSON is YAML
    args = ["train", "--config", str(settings), "--files-from", str(out / "model.json")]
    result = CliRunner().invoke(app, [*args, "--seed", "3", "--out", str(tmp_path / "same")])
    assert result.exit_code == 0, result.output
    same = json.loads((tmp_path / "same" / "model.json").read_text())
    assert same["settings"]["seed"] == 3 and same["split"] == record["split"]

    (corpus / "train_00006_GeTe.npz").write_bytes(b"changed")  # no longer the recorded file
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "again")])
    assert result.exit_code == 2 and "differ" in result.output


@pytest.mark.parametrize(("stage", "lr"), [("h0", 5e-3), ("bands", 1e-3)])
def test_weight_decay_shrinks_weights_without_gradient(stage, lr):
    config = TrainConfig(lr=5e-3, band_lr=1e-3, weight_decay=0.1)
    weights = torch.nn.Parameter(torch.ones(4))
    optimizer = stage_optimizer([weights], stage, config)
    weights.grad = torch.zeros(4)
    optimizer.step()
    torch.testing.assert_close(weights.detach(), torch.full((4,), 1 - lr * 0.1))
    plain = torch.nn.Parameter(torch.ones(4))
    optimizer = stage_optimizer([plain], stage, TrainConfig())  # default: no decay
    plain.grad = torch.zeros(4)
    optimizer.step()
    torch.testing.assert_close(plain.detach(), torch.ones(4))


def test_stage_zero_fits_the_shell_shifts_a_baseline_lacks(corpus, tmp_path):
    """Stand-in H(0) = DFT minus known shell shifts: the fitted shifts restore the bands."""
    from socscreen.corpus.loading import load_corpus
    from socscreen.corpus.zeroth_step import companion_path
    from socscreen.dft.zeroth_step import ZEROTH_STEP_VERSION

    truth = {0: 0.6, 1: 0.1}  # Te s and p (eV); only their difference moves Te2's bands
    (file,), (h,) = load_corpus(corpus, ["train_00010_Te2.npz"])
    delta = np.array([truth[int(ell)] for ell in h.orbitals.l_of_orbital])
    shift = 0.5 * (delta[:, None] + delta[None, :])[None] * h.overlap
    meta = {
        "reference": {"file": file.name, "sha256": h.content_sha256()},
        "zeroth_step_version": ZEROTH_STEP_VERSION,
    }
    h._replace(h0=h.h0 - shift, meta=meta).to_npz(companion_path(file))
    model = TINY.model_copy(update={"correction": True, "shell_shifts": True})
    config = _config(
        corpus,
        model=model,
        files=[file.name],
        h0_epochs=0,
        soc_epochs=0,
        band_epochs=0,
        band_window=12.0,  # Te 5s lies 10 eV below E_F
        shift_ridge=1e-6,
        overlap_cutoff=0.0,
    )
    record = json.loads(train(config, tmp_path / "run").with_suffix(".json").read_text())
    lines = [json.loads(x) for x in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    scores = [x["val_band_mae"] for x in lines if x["stage"] == "shifts"]
    assert scores[0] > 0.05 and min(scores) < 2e-3
    assert record["metrics"]["val"]["band_mae"] == pytest.approx(min(scores))
    fitted = record["shell_shifts"]
    assert fitted["Te:s"] - fitted["Te:p"] == pytest.approx(truth[0] - truth[1], abs=0.01)


def test_the_splitting_weight_adds_the_splitting_error_and_leaves_the_band_mae():
    """Distorted cells (P1) have spin-split bands: the band stage reports their error, and
    ``band_splitting_weight`` adds it to the loss without changing the band MAE. LiF's 13
    orbitals per spin make its SOC-off problem odd-sized: only spinor bands pair."""
    from pathlib import Path

    from socscreen.corpus.loading import load_corpus
    from socscreen.model.checkpoint import build_model
    from socscreen.model.layout import OrbitalLayout
    from socscreen.model.normalization import compute_normalization
    from socscreen.model.train import corpus_layout

    corpus = Path(__file__).parents[2] / "data" / "corpus" / "gpaw-szp"
    _, hams = load_corpus(corpus, ["train_00547_GeTe.npz", "train_00580_FLi.npz"])
    shells, cutoffs = corpus_layout(hams, "szp(dzp)")
    layout = OrbitalLayout(shells)
    samples = [CrystalData.from_hamiltonian(h, layout, cutoffs) for h in hams]
    assert all(s.complete for s in samples) and hams[1].n_orbitals % 2
    model = build_model(
        shells, cutoffs, TINY, compute_normalization(samples, layout, TINY.message_cutoff),
        torch.float64,
    )  # fmt: skip
    plain = evaluate(model, samples, "bands", _config(corpus), torch.float64)
    weighted = evaluate(
        model, samples, "bands", _config(corpus, band_splitting_weight=10.0), torch.float64
    )
    assert plain["splitting_mae"] > 1e-4  # an untrained model misses GeTe's splittings
    assert weighted["band_mae"] == plain["band_mae"] > 0
    assert weighted["splitting_mae"] == plain["splitting_mae"]
    added = 10.0 * plain["splitting_mae"] / float(model.h0_scale)  # band_weight 1
    assert weighted["loss"] - plain["loss"] == pytest.approx(added, rel=1e-6)


def test_runs_sharing_a_split_seed_hold_out_the_same_files(corpus, tmp_path):
    # members of an ensemble (socscreen model ensemble) differ in their seed alone
    for n in range(11, 16):  # Te2 under five more names: enough files to draw a split from
        shutil.copy(corpus / "train_00010_Te2.npz", corpus / f"train_{n:05d}_Te2.npz")
    splits = {}
    for seed, split_seed in ((0, None), (1, None), (1, 0), (2, 0)):
        config = _config(
            corpus,
            h0_epochs=1,
            soc_epochs=0,
            band_epochs=0,
            val_fraction=0.3,
            test_fraction=0.3,
            seed=seed,
            split_seed=split_seed,
        )
        out = tmp_path / f"{seed}-{split_seed}"
        record = json.loads(train(config, out).with_suffix(".json").read_text())
        splits[seed, split_seed] = record["split"]
    assert len(splits[0, None]["test"]) == len(splits[0, None]["val"]) == 2
    assert splits[1, None] != splits[0, None]  # the seed alone draws another split
    assert splits[1, 0] == splits[0, None] and splits[2, 0] == splits[0, None]


def test_finetuning_an_ensemble_finetunes_each_member(corpus, tmp_path):
    from socscreen.model.checkpoint import save_checkpoint
    from socscreen.model.ensemble import ModelEnsemble, ensemble_record

    bases = [
        train(_config(corpus, h0_epochs=1, soc_epochs=0, band_epochs=0, seed=s), tmp_path / f"s{s}")
        for s in (0, 1)
    ]
    loaded = [load_checkpoint(path) for path in bases]
    merged = ensemble_record([p["record"] for _, p in loaded], ["s0", "s1"], "socscreen model")
    ensemble = save_checkpoint(
        tmp_path / "ensemble.pt", ModelEnsemble([m for m, _ in loaded]), merged
    )
    small = tmp_path / "feedback"
    small.mkdir()
    shutil.copy(corpus / "train_00010_Te2.npz", small)
    config = _config(small, h0_epochs=1, soc_epochs=0, band_epochs=0, init_checkpoint=str(ensemble))
    tuned, payload = load_checkpoint(train(config, tmp_path / "tuned"))
    assert isinstance(tuned, ModelEnsemble) and len(tuned.members) == 2
    record = payload["record"]
    assert record["finetuned_from"]["sha256"] == file_sha256(ensemble)
    assert [m["seed"] for m in record["members"]] == [0, 1]  # each member keeps its seed
    assert [f["name"] for f in record["training_files"]] == ["train_00010_Te2.npz"]
    for (base, _), member in zip(loaded, tuned.members, strict=True):
        before, after = base.state_dict(), member.state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before)  # each was trained
    with pytest.raises(ValueError, match="not trained as a whole"):
        train(config, tmp_path / "resumed", resume=ensemble)

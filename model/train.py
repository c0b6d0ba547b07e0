"""Training: delta learning (H0, then SOC on frozen H0 features), then band fine-tuning.

Stages (each with early stopping on its validation MAE, checkpoints every
``checkpoint_every`` epochs and at the best epoch, resumable):

0. ``shifts`` correction models with ``shell_shifts`` only: the per-shell on-site shifts,
   fitted in closed form on the training bands (:mod:`.shell_shifts`);
1. ``h0``    channel 1 on the H0 element loss (modulo ``c S``, :mod:`.loss`);
2. ``soc``   channel 2 only (channel 1 frozen) on the SOC element loss;
3. ``bands`` both channels, lower learning rate, element losses plus a small-weight
   band-energy loss at random k inside ``E_F ± band_window`` (exact S through Cholesky,
   DFT bands under ``no_grad``, degeneracy-safe eigenvector backward). It only runs after
   stages 1–2 converged: gradients through eigendecompositions of a poor H diverge.

Every epoch appends one JSON line to ``metrics.jsonl`` in the output folder.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, Field
from tqdm.auto import tqdm

from socscreen.checksums import file_sha256
from socscreen.corpus.loading import load_baselines, load_corpus, recorded_split, split_files
from socscreen.hamiltonian import Hamiltonian
from socscreen.model.checkpoint import build_model, load_checkpoint, save_checkpoint
from socscreen.model.data import CrystalData, GraphBatch, collate, scatter_blocks
from socscreen.model.ensemble import ModelEnsemble, ensemble_record
from socscreen.model.inference import PREDICTION_OVERLAP_CUTOFF, correction_baseline
from socscreen.model.layout import OrbitalLayout
from socscreen.model.loss import (
    band_error,
    h0_element_loss,
    orthogonalised,
    predicted_bands,
    soc_element_loss,
    spin_splitting_error,
    spinor_bloch,
)
from socscreen.model.network import ModelConfig, UniHamGNN
from socscreen.model.normalization import compute_normalization
from socscreen.model.predictors import element_file_counts
from socscreen.model.shell_shifts import fit_shell_shifts, shell_shift_table

__all__ = ["TrainConfig", "command_line", "stage_optimizer", "train"]

log = logging.getLogger(__name__)

STAGES = ("shifts", "h0", "soc", "bands")
MODEL_NAME = "Uni-HamGNN (socscreen)"


class TrainConfig(BaseModel):
    """Settings of a training run (``socscreen train --config file.yaml``)."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="Architecture.")
    data: str = Field("data/corpus/gpaw-szp", description="Folder of corpus *.npz files.")
    files: list[str] | None = Field(
        None,
        description="Only these file names of the folder (e.g. the training files of a "
        "checkpoint record, to reproduce it after the corpus grew); None: every *.npz.",
    )
    basis: str = Field("szp(dzp)", description="Basis of the corpus (GPAW subset syntax).")
    seed: int = Field(0, description="Seed of the split, initialisation and k sampling.")
    split_seed: int | None = Field(
        None,
        description="Seed of the split alone (None: ``seed``). Runs that differ only in "
        "``seed`` but share this hold out the same files, so they are compared on one test "
        "set and can be combined (``socscreen model ensemble``) without one member having "
        "trained on another's test files.",
    )
    split: Literal["structure", "composition"] = Field(
        "structure", description="Split by structure, or keep each element set in one split."
    )

    split_from: str | None = Field(
        None,
        description="A checkpoint record (.json) whose split to keep: the files it holds "
        "out stay held out and its training files stay in training, so a model fine-tuned "
        "on a grown corpus is never tested on what it was trained on; only files new to "
        "the record are split (seeded, with the fractions below).",
    )
    val_fraction: float = Field(0.1, description="Fraction of structures for validation.")
    test_fraction: float = Field(0.1, description="Fraction of structures held out for testing.")
    batch_size: int = Field(1, description="Structures per optimiser step.")
    h0_epochs: int = Field(60, description="Epochs of stage 1 (H0).")
    soc_epochs: int = Field(30, description="Epochs of stage 1b (SOC, H0 frozen).")
    band_epochs: int = Field(8, description="Epochs of stage 2 (band fine-tuning).")
    lr: float = Field(5e-3, description="Learning rate of the element stages.")
    band_lr: float = Field(1e-3, description="Learning rate of band fine-tuning.")
    final_lr_fraction: float = Field(
        0.05, description="Cosine decay of each stage's learning rate down to this fraction."
    )
    loss: Literal["mae", "mse", "mae+mse"] = Field("mae+mse", description="Element loss.")
    offsite_weight_floor: float | None = Field(
        0.02, description="Off-site elements weigh |S_ij| + this (None: uniform weights)."
    )
    band_weight: float = Field(1.0, description="Weight of the band loss (stage 2).")
    band_soc_off_weight: float = Field(
        1.0,
        description="Weight of the SOC-off band loss (H0 alone vs the DFT H0 bands) in "
        "stage 2: keeps channel 1 a correct scalar-relativistic Hamiltonian on its own, so "
        "switching SOC off in a prediction gives the DFT ordering (band inversions).",
    )
    band_window: float = Field(2.5, description="Half width of the band window around E_F (eV).")
    band_balance: bool = Field(
        False,
        description="Weigh band energies below and above E_F half each in the band loss "
        "(an insulator's conduction bands, and so its gap, count as much as its valence "
        "bands).",
    )
    band_window_edges: bool = Field(
        False,
        description="Count the bands from band_window below the valence-band top to "
        "band_window above the conduction-band bottom in the band loss, the window of the "
        "shell-shift fit (model.loss.band_edge_window), instead of E_F ± band_window: "
        "an insulator whose DFT E_F lies more than band_window below its conduction band "
        "(CaF2, BN, AlN) otherwise has its gap out of the loss.",
    )
    band_splitting_weight: float = Field(
        0.0,
        ge=0.0,
        description="Weight in stage 2 of the error of the spin splittings of the spinor "
        "band pairs near E_F (model.loss.spin_splitting_error), added to the SOC-on band "
        "loss; the band MAE reported stays the band energies' alone.",
    )
    band_kpoints: int = Field(4, description="Random k-points per structure and step.")
    shift_iterations: int = Field(
        3, ge=0, description="Gauss-Newton iterations of the shell-shift fit (stage 0)."
    )
    shift_ridge: float = Field(
        0.003,
        ge=0.0,
        description="Ridge weight of the shell-shift fit (larger: smaller shifts; 0.003 was "
        "the best of 0.001-1 on the validation files, docs/model.md).",
    )
    shift_kpoints: int = Field(
        6, ge=1, description="Fixed k-points per structure of the shell-shift fit (Γ first)."
    )
    band_eta: float = Field(1e-4, description="Broadening of the eigenvector gradient (eV).")
    overlap_cutoff: float = Field(
        PREDICTION_OVERLAP_CUTOFF,
        ge=0.0,
        description="Band losses drop eigen-directions of S(k) at or below this (canonical "
        "orthogonalisation, as predictions are solved; 0: plain Cholesky). Set it to the "
        "inference cutoff so the model is trained on the problem it is used with.",
    )
    skip_unknown_elements: bool = Field(
        False,
        description="Fine-tuning (init_checkpoint) only: leave out corpus files with "
        "elements the checkpoint does not know, named in the record under skipped_files, "
        "instead of refusing the corpus (the layout of a trained model is fixed).",
    )
    patience: int = Field(20, description="Epochs without validation improvement before stopping.")
    clip_grad_norm: float = Field(10.0, description="Gradient-norm clip of every step.")
    weight_decay: float = Field(
        0.0,
        ge=0.0,
        description="Decoupled weight decay (AdamW) of every stage; 0: plain Adam.",
    )
    band_start_threshold: float = Field(
        1.5,
        description="Skip band fine-tuning if the validation band MAE after stage 1 "
        "exceeds this (eV): gradients through eigenvectors of a poor H diverge.",
    )
    checkpoint_every: int = Field(5, description="Write a checkpoint every N epochs.")
    threads: int = Field(1, description="torch threads.")
    max_minutes: float | None = Field(None, description="Stop after this wall time (minutes).")
    dtype: Literal["float32", "float64"] = Field("float32", description="Model precision.")
    init_checkpoint: str | None = Field(
        None,
        description="Fine-tune: start from these weights (architecture, element layout and "
        "normalisation come from the checkpoint; the corpus may only hold its elements).",
    )

    @property
    def drawn_split_seed(self) -> int:
        """The seed the split is drawn with: ``split_seed``, else ``seed``."""
        return self.seed if self.split_seed is None else self.split_seed


def command_line() -> str:
    """Return the running ``socscreen`` command as a shell line, for a checkpoint record."""
    return " ".join(shlex.quote(a) for a in ["socscreen", *sys.argv[1:]])


# -- data ------------------------------------------------------------------------------
def corpus_layout(hamiltonians: Sequence[Hamiltonian], basis: str) -> tuple[dict, dict]:
    """Element shells (checked across files) and orbital cutoffs (Å) of a corpus."""
    from socscreen.dft.basis_functions import cutoff_radius

    shells: dict[str, tuple[int, ...]] = {}
    for h in hamiltonians:
        for symbol, own in h.orbitals.element_shells.items():
            if shells.setdefault(symbol, own) != own:
                raise ValueError(f"{symbol} has shells {shells[symbol]} and {own} in the corpus")
    return shells, {s: cutoff_radius(s, basis) for s in sorted(shells)}


def _finetune_layout(
    base: UniHamGNN, shells: dict[str, tuple[int, ...]], config: TrainConfig
) -> tuple[dict, dict]:
    """Return the base model's shells and cutoffs (Å), after checking the corpus fits them."""
    unknown = sorted(set(shells) - set(base.elements))
    if unknown:
        raise ValueError(
            f"cannot fine-tune {config.init_checkpoint} on elements it does not know: "
            f"{', '.join(unknown)} (train a new model with them instead)"
        )
    own = base.layout.element_shells
    clash = sorted(e for e in shells if tuple(own[e]) != tuple(shells[e]))
    if clash or base.basis_name != config.basis:
        raise ValueError(
            f"corpus basis {config.basis} (shells of {clash}) differs from the checkpoint's "
            f"{base.basis_name}"
        )
    return dict(own), dict(base.cutoffs)


# -- band helpers --------------------------------------------------------------------------
def _band_term(
    out: dict[str, torch.Tensor],
    batch: GraphBatch,
    samples: Sequence[CrystalData],
    config: TrainConfig,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean band loss, band MAE and spin-splitting error of a batch's structures (eV)."""
    losses, maes, splittings = [], [], []
    start = 0
    for s in samples:
        stop = start + s.graph.n_edges
        if not s.complete or s.efermi is None or not math.isfinite(s.efermi):
            start = stop  # aliased or unknown reference bands
            continue
        k = rng.random((config.band_kpoints, 3))
        h0_pred = scatter_blocks(out["h0"][start:stop], s)
        h0_ref = torch.as_tensor(s.h0, dtype=torch.float64)
        with torch.no_grad():
            s_k = spinor_bloch(torch.as_tensor(s.overlap, dtype=torch.float64), None, s.R, k)
        e, ref = _window_bands(
            spinor_bloch(h0_pred, scatter_blocks(out["soc"][start:stop], s), s.R, k),
            spinor_bloch(h0_ref, torch.as_tensor(s.soc, dtype=torch.float64), s.R, k),
            s_k,
            config,
        )
        loss, _ = band_error(
            e, ref, s.efermi, config.band_window, config.band_balance, config.band_window_edges
        )
        splitting = spin_splitting_error(e, ref, s.efermi, config.band_window)
        maes.append(loss.detach())
        splittings.append(splitting.detach())
        if config.band_splitting_weight:
            loss = loss + config.band_splitting_weight * splitting
        if config.band_soc_off_weight:
            n = s_k.shape[-1] // 2  # H0 ⊗ I2 is block diagonal: one spin block suffices
            e, ref = _window_bands(
                spinor_bloch(h0_pred, None, s.R, k)[:, :n, :n],
                spinor_bloch(h0_ref, None, s.R, k)[:, :n, :n],
                s_k[:, :n, :n],
                config,
            )
            soc_off, _ = band_error(
                e, ref, s.efermi, config.band_window, config.band_balance, config.band_window_edges
            )
            loss = loss + config.band_soc_off_weight * soc_off
        losses.append(loss)
        start = stop
    if not losses:
        zero = out["h0"].sum() * 0.0
        return zero, zero.detach(), zero.detach()
    return torch.stack(losses).mean(), torch.stack(maes).mean(), torch.stack(splittings).mean()


def _window_bands(
    h_pred: torch.Tensor,
    h_ref: torch.Tensor,
    s_k: torch.Tensor,
    config: TrainConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (eV) of ``h_pred`` (differentiable) and of ``h_ref``, same overlap."""
    with torch.no_grad():
        ref = torch.linalg.eigvalsh(orthogonalised(h_ref, s_k, config.overlap_cutoff))
    e = predicted_bands(h_pred.to(torch.complex128), s_k, config.band_eta, config.overlap_cutoff)
    return e, ref


# -- the loop --------------------------------------------------------------------------
def _stage_parameters(model: UniHamGNN, stage: str) -> list[torch.nn.Parameter]:
    h0_params = list(model.h0.parameters())
    if model.config.environment_shifts:
        h0_params += list(model.environment_shift.parameters())
    soc_params = list(model.soc.parameters())
    for p in h0_params:
        p.requires_grad_(stage in ("h0", "bands"))
    for p in soc_params:
        p.requires_grad_(stage in ("soc", "bands"))
    return {"h0": h0_params, "soc": soc_params, "bands": h0_params + soc_params}[stage]


def stage_optimizer(
    params: Sequence[torch.nn.Parameter], stage: str, config: TrainConfig
) -> torch.optim.Optimizer:
    """AdamW of a stage: ``band_lr`` in stage 2, else ``lr``; decoupled ``weight_decay``."""
    lr = config.band_lr if stage == "bands" else config.lr
    return torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay)


def _step_losses(
    model: UniHamGNN,
    batch: GraphBatch,
    samples: Sequence[CrystalData],
    stage: str,
    config: TrainConfig,
    rng: np.random.Generator,
) -> dict[str, torch.Tensor]:
    out = model(batch, soc=stage != "h0")
    floor = config.offsite_weight_floor
    h0_loss, h0_mae = h0_element_loss(out["h0"], batch, model.h0_scale, config.loss, floor)
    result = {"h0_loss": h0_loss, "h0_mae": h0_mae}
    if stage != "h0":
        soc_loss, soc_mae = soc_element_loss(
            out["soc"], batch, model.soc.soc_scale, config.loss, floor
        )
        result.update(soc_loss=soc_loss, soc_mae=soc_mae)
    if stage == "h0":
        result["loss"] = h0_loss
    elif stage == "soc":
        result["loss"] = soc_loss
    else:
        bands, band_mae, splitting_mae = _band_term(out, batch, samples, config, rng)
        result.update(
            band_mae=band_mae,
            splitting_mae=splitting_mae,
            loss=h0_loss + soc_loss + config.band_weight * bands / model.h0_scale,
        )
    return result


def _score(stage: str, metrics: dict[str, float], correction: bool = False) -> float:
    """Return the validation number a stage is selected and early-stopped on.

    The stage's own mean absolute error (eV): robust against the few outliers that
    dominate the squared part of the training loss on a small validation set. A
    correction model's H0 stage is scored by its (dimensionless) element loss instead:
    H(0) is already within ~1 meV on the many far-apart elements that dominate the plain
    MAE, so that number hides what the correction does to the on-site and bonding blocks
    the loss weighs.
    """
    if stage == "h0" and correction:
        return metrics["h0_loss"]
    return metrics[{"h0": "h0_mae", "soc": "soc_mae", "bands": "band_mae"}[stage]]


def _batches(
    samples: Sequence[CrystalData], size: int, rng: random.Random | None
) -> list[list[CrystalData]]:
    order = list(range(len(samples)))
    if rng is not None:
        rng.shuffle(order)
    return [[samples[i] for i in order[k : k + size]] for k in range(0, len(order), size)]


def evaluate(
    model: UniHamGNN,
    samples: Sequence[CrystalData],
    stage: str,
    config: TrainConfig,
    dtype: torch.dtype,
) -> dict[str, float]:
    """Mean losses and MAEs (eV) over ``samples`` without gradients."""
    model.eval()
    totals: dict[str, float] = {}
    rng = np.random.default_rng(config.seed)
    with torch.no_grad():
        for group in _batches(samples, config.batch_size, None):
            batch = collate(group).to("cpu", dtype)
            for key, value in _step_losses(model, batch, group, stage, config, rng).items():
                totals[key] = totals.get(key, 0.0) + float(value) * len(group)
    return {k: v / max(len(samples), 1) for k, v in totals.items()}


def train(
    config: TrainConfig,
    out_dir: str | os.PathLike,
    resume: str | os.PathLike | None = None,
    command: str | None = None,
) -> Path:
    """Run (or resume) all stages and write ``model.pt`` + ``model.json`` to ``out_dir``.

    Parameters
    ----------
    config
        Settings.
    out_dir
        Folder for checkpoints (``last.pt``, ``best_<stage>.pt``, ``model.pt``) and
        ``metrics.jsonl``.
    resume
        A checkpoint written by this function to continue from (stage, epoch,
        optimiser and early-stopping state are restored).
    command
        The command line to record (default: ``sys.argv``).

    Returns
    -------
    pathlib.Path
        The final checkpoint ``out_dir/model.pt``.
    """
    out_dir = Path(out_dir)
    source = resume or config.init_checkpoint
    start = load_checkpoint(source) if source is not None else None
    if resume is None and start is not None and isinstance(start[0], ModelEnsemble):
        return _finetune_ensemble(config, start[0], start[1]["record"], out_dir, command)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    dtype = getattr(torch, config.dtype)
    corpus = _TrainingCorpus(config, resume, start)
    config = corpus.config
    split = split_files(
        corpus.hamiltonians,
        seed=config.drawn_split_seed,
        by=config.split,
        val_fraction=config.val_fraction,
        test_fraction=config.test_fraction,
        kept=recorded_split(config.split_from, corpus.files),
    )
    record = corpus.record(split, resume, command)
    samples = corpus.take_samples()
    train_set = [samples[i] for i in split["train"]]
    val_set = [samples[i] for i in split["val"]] or train_set

    state: dict[str, Any] = {"stage": STAGES[0], "epoch": 0, "best": math.inf, "bad": 0}
    optimizer_state = None
    torch.manual_seed(config.seed)
    if corpus.base is not None:  # resumed or fine-tuned
        model = corpus.base.to(dtype)
        if resume is not None:
            state.update(corpus.payload.get("training_state") or {})
            optimizer_state = state.pop("optimizer", None)
    else:
        normalization = compute_normalization(train_set, corpus.layout, config.model.message_cutoff)
        model = build_model(
            corpus.shells, corpus.cutoffs, config.model, normalization, dtype, config.basis
        )

    run = _Run(config, model, record, out_dir, train_set, val_set, dtype)
    first = STAGES.index(state["stage"]) if state["stage"] in STAGES else len(STAGES)
    for stage in STAGES[first:]:
        if state["stage"] != stage:
            state = {"stage": stage, "epoch": 0, "best": math.inf, "bad": 0}
        run.stage(state, optimizer_state)
        optimizer_state = None
        state = {
            "stage": STAGES[STAGES.index(stage) + 1] if stage != STAGES[-1] else "done",
            "epoch": 0,
            "best": math.inf,
            "bad": 0,
        }
        save_checkpoint(out_dir / "last.pt", model, record, state)

    test_set = [samples[i] for i in split["test"]]
    final_stage = "bands" if config.band_epochs or model.config.correction else "soc"
    record["metrics"] = {
        "val": evaluate(model, val_set, final_stage, config, dtype),
        **({"test": evaluate(model, test_set, final_stage, config, dtype)} if test_set else {}),
        "minutes": round((time.monotonic() - run.started) / 60, 2),
        "skipped_stages": run.skipped,
    }
    return save_checkpoint(out_dir / "model.pt", model, record, {"stage": "done"})


def _finetune_ensemble(
    config: TrainConfig,
    ensemble: ModelEnsemble,
    record: dict[str, Any],
    out_dir: Path,
    command: str | None,
) -> Path:
    """Fine-tune every member of an ensemble on the same files and combine them again.

    Member ``m`` is written to ``out_dir/member_m/base.pt`` and fine-tuned there with its
    own training seed and one split for all (``split_seed``, default ``config.seed``);
    ``out_dir/model.pt`` is the ensemble of the fine-tuned members, its record naming the
    ensemble it started from under ``finetuned_from``. Costs one fine-tuning per member.
    """
    members = record.get("members") or [{} for _ in ensemble.members]
    base_record = {k: v for k, v in record.items() if k != "members"}
    tuned, records, names = [], [], []
    for index, (member, info) in enumerate(zip(ensemble.members, members, strict=True)):
        folder = out_dir / f"member_{index}"
        base = save_checkpoint(folder / "base.pt", member, base_record)
        seed = info.get("seed")
        update = {
            "init_checkpoint": str(base),
            "seed": config.seed + index if seed is None else seed,
            "split_seed": config.drawn_split_seed,
        }
        log.info("fine-tuning ensemble member %d of %d", index + 1, len(ensemble.members))
        model, payload = load_checkpoint(
            train(config.model_copy(update=update), folder, None, command)
        )
        tuned.append(model)
        records.append(payload["record"])
        names.append(f"{folder.name}/model.pt")
    merged = ensemble_record(records, names, command or command_line())
    merged["finetuned_from"] = {
        "checkpoint": str(config.init_checkpoint),
        "sha256": file_sha256(config.init_checkpoint),
        "training_files": record.get("training_files", []),
    }
    return save_checkpoint(out_dir / "model.pt", ModelEnsemble(tuned), merged)


class _TrainingCorpus:
    """The corpus files of a run, the checkpoint it starts from and its orbital layout."""

    def __init__(
        self,
        config: TrainConfig,
        resume: str | os.PathLike | None,
        start: tuple[UniHamGNN | ModelEnsemble, dict[str, Any]] | None,
    ) -> None:
        """``start`` is the loaded checkpoint of ``resume`` or ``config.init_checkpoint``."""
        self.config = config
        self.base: UniHamGNN | None = None
        self.payload: dict[str, Any] = {}
        self.skipped_files: list[str] = []
        if start is not None:
            self.base, self.payload = start
            if isinstance(self.base, ModelEnsemble):
                raise ValueError(
                    f"{resume or config.init_checkpoint} is an ensemble, which is not trained "
                    "as a whole: resume the run of one of its members"
                )
        self.files, self.hamiltonians = load_corpus(config.data, config.files)
        if config.init_checkpoint is not None and config.skip_unknown_elements:
            self._drop_unknown_elements(set(self.base.elements))
        self.shells, self.cutoffs = corpus_layout(self.hamiltonians, config.basis)
        if self.base is not None:
            if config.init_checkpoint is not None:
                self.shells, self.cutoffs = _finetune_layout(self.base, self.shells, config)
                self.config = config.model_copy(update={"model": self.base.config})
            elif sorted(self.base.elements) != sorted(self.shells):
                raise ValueError(
                    f"{resume} covers {self.base.elements}, the corpus has {sorted(self.shells)}"
                )
        self.content_sha256 = [h.content_sha256() for h in self.hamiltonians]
        self.layout = OrbitalLayout(self.shells)

    def _drop_unknown_elements(self, known_elements: set[str]) -> None:
        """Fine-tuning with ``skip_unknown_elements``: leave out files the base cannot hold."""
        known = [set(h.orbitals.element_shells) <= known_elements for h in self.hamiltonians]
        self.skipped_files = [f.name for f, ok in zip(self.files, known, strict=True) if not ok]
        self.files = [f for f, ok in zip(self.files, known, strict=True) if ok]
        self.hamiltonians = [h for h, ok in zip(self.hamiltonians, known, strict=True) if ok]

    def record(
        self,
        split: dict[str, list[int]],
        resume: str | os.PathLike | None,
        command: str | None,
    ) -> dict[str, Any]:
        """Return the checkpoint's reproducibility record: settings, files with hashes, split."""
        config, files = self.config, self.files
        record: dict[str, Any] = {
            "name": MODEL_NAME,
            "version": _version(),
            "elements": sorted(self.shells),
            "basis": config.basis,
            "settings": config.model_dump(),
            "command": command or command_line(),
            "training_files": [
                {"name": f.name, "sha256": file_sha256(f), "content_sha256": sha}
                for f, sha in zip(files, self.content_sha256, strict=True)
            ],
            "split": {k: [files[i].name for i in v] for k, v in split.items()},
            "element_files": element_file_counts(
                [self.hamiltonians[i].structure for i in split["train"]]
            ),
            **({"skipped_files": self.skipped_files} if self.skipped_files else {}),
        }
        if config.model.correction:
            from socscreen.dft.zeroth_step import ZEROTH_STEP_VERSION

            record["zeroth_step_version"] = ZEROTH_STEP_VERSION
        if config.init_checkpoint is not None:
            record["finetuned_from"] = (
                self.payload["record"].get("finetuned_from")
                if resume
                else {
                    "checkpoint": str(config.init_checkpoint),
                    "sha256": file_sha256(config.init_checkpoint),
                    "training_files": self.payload["record"].get("training_files", []),
                }
            )
        return record

    def take_samples(self) -> list[CrystalData]:
        """Return the graph samples of every file, with the correction baseline if any.

        Built one file at a time (each H(0) is read, corrected and dropped), and the
        corpus Hamiltonians are released afterwards: the samples hold all that training
        needs, and the Hamiltonians were a third of its memory (4 of 12 GB at 643 files).
        """
        model_config = self.config.model
        baselines = (
            load_baselines(self.files, self.hamiltonians, self.content_sha256)
            if model_config.correction
            else iter([None] * len(self.files))
        )
        samples = []
        for f, h, b in tqdm(
            zip(self.files, self.hamiltonians, baselines, strict=True),
            total=len(self.files),
            desc=f"samples (baseline {model_config.baseline})",
            disable=None,
        ):
            baseline = None if b is None else correction_baseline(b, model_config.baseline)
            samples.append(
                CrystalData.from_hamiltonian(
                    h, self.layout, self.cutoffs, name=f.stem, baseline=baseline
                )
            )
        self.hamiltonians = []
        return samples


class _Run:
    """One training run's fixed context; :meth:`stage` trains one stage in place."""

    def __init__(
        self,
        config: TrainConfig,
        model: UniHamGNN,
        record: dict,
        out_dir: Path,
        train_set: list[CrystalData],
        val_set: list[CrystalData],
        dtype: torch.dtype,
    ) -> None:
        self.config, self.model, self.record, self.out_dir = config, model, record, out_dir
        self.train_set, self.val_set, self.dtype = train_set, val_set, dtype
        self.started = time.monotonic()
        self.skipped: dict[str, str] = {}
        self.metrics = out_dir / "metrics.jsonl"

    def _log(self, entry: dict[str, Any]) -> None:
        with self.metrics.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def _out_of_time(self) -> bool:
        limit = self.config.max_minutes
        return limit is not None and time.monotonic() - self.started > 60 * limit

    def fit_shifts(self) -> None:
        """Stage 0: fit the shell shifts on the training bands, keep the best on validation."""
        config = self.config

        def score() -> float:
            return evaluate(self.model, self.val_set, "bands", config, self.dtype)["band_mae"]

        def progress(iteration: int, step: float, value: float | None) -> None:
            self._log(
                {"stage": "shifts", "epoch": iteration, "rms_step": step, "val_band_mae": value}
            )
            log.info(
                "shell shifts %d: rms step %.3f eV, val band MAE %.4f eV", iteration, step, value
            )

        scores = fit_shell_shifts(
            self.model,
            self.train_set,
            ridge=config.shift_ridge,
            iterations=config.shift_iterations,
            n_kpoints=config.shift_kpoints,
            window=config.band_window,
            overlap_cutoff=config.overlap_cutoff,
            seed=config.seed,
            score=score,
            progress=progress,
        )
        log.info("shell shifts: validation band MAE %s eV (kept the best)", scores)
        self.record["shell_shifts"] = shell_shift_table(self.model)

    def stage(self, state: dict[str, Any], optimizer_state: dict[str, Any] | None) -> None:
        """Train ``state["stage"]`` from ``state["epoch"]``; keep its best weights."""
        config, model, stage = self.config, self.model, state["stage"]
        if stage == "shifts":
            if model.config.shell_shifts:
                self.fit_shifts()
            return
        epochs = {"h0": config.h0_epochs, "soc": config.soc_epochs, "bands": config.band_epochs}[
            stage
        ]
        if stage == "soc" and model.config.correction and not model.config.soc_correction:
            self.skipped[stage] = "correction model without soc_correction: the SOC is H(0)'s"
            return
        params = _stage_parameters(model, stage)
        optimizer = stage_optimizer(params, stage, config)
        lr = optimizer.defaults["lr"]
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(epochs, 1), eta_min=lr * config.final_lr_fraction
        )
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state["optimizer"])
            scheduler.load_state_dict(optimizer_state["scheduler"])
        best_path = self.out_dir / f"best_{stage}.pt"
        if state["epoch"] == 0 and epochs > 0 and not self._starting_weights(state, best_path):
            return
        # seeds numbered as before stage 0 existed, so earlier runs reproduce
        shuffle = random.Random(config.seed + 1000 * (STAGES.index(stage) - 1) + state["epoch"])
        k_rng = np.random.default_rng(config.seed + state["epoch"])
        bar = tqdm(
            total=epochs, initial=state["epoch"], desc=f"stage {stage}", unit="epoch", disable=None
        )
        while (
            state["epoch"] < epochs and state["bad"] < config.patience and not self._out_of_time()
        ):
            tick = time.monotonic()
            totals = self._epoch(stage, params, optimizer, shuffle, k_rng)
            val = evaluate(model, self.val_set, stage, config, self.dtype)
            scheduler.step()
            state["epoch"] += 1
            score = _score(stage, val, model.config.correction)
            improved = score < state["best"]
            state["bad"] = 0 if improved else state["bad"] + 1
            state["best"] = min(state["best"], score)
            self._log(
                {
                    "stage": stage,
                    "epoch": state["epoch"],
                    "seconds": round(time.monotonic() - tick, 2),
                    "lr": optimizer.param_groups[0]["lr"],
                    **{f"train_{k}": v / len(self.train_set) for k, v in totals.items()},
                    **{f"val_{k}": v for k, v in val.items()},
                }
            )
            bar.update(1)
            bar.set_postfix(
                train=f"{totals['loss'] / len(self.train_set):.4f}", val=f"{val['loss']:.4f}"
            )
            training_state = {
                **state,
                "optimizer": {
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                },
            }
            if improved:
                save_checkpoint(best_path, model, self.record, training_state)
            if state["epoch"] % config.checkpoint_every == 0:
                save_checkpoint(self.out_dir / "last.pt", model, self.record, training_state)
        bar.close()
        if self._out_of_time():
            log.warning("time budget of %s min reached in stage %s", config.max_minutes, stage)
        if best_path.exists():  # continue from the best weights of this stage
            model.load_state_dict(torch.load(best_path, weights_only=False)["state_dict"])

    def _starting_weights(self, state: dict[str, Any], best_path: Path) -> bool:
        """Score the weights a stage starts from; whether the stage should run.

        The starting weights compete too, so a stage never makes the model worse. The
        band stage does not run on a model whose bands are still far off (its gradients
        through eigendecompositions of a poor H diverge).
        """
        config, stage = self.config, state["stage"]
        start = evaluate(self.model, self.val_set, stage, config, self.dtype)
        self._log({"stage": stage, "epoch": 0, **{f"val_{k}": v for k, v in start.items()}})
        if stage == "bands" and start["band_mae"] > config.band_start_threshold:
            self.skipped[stage] = (
                f"validation band MAE {start['band_mae']:.3f} eV > "
                f"{config.band_start_threshold} eV after stage 1"
            )
            log.warning("skipping band fine-tuning: %s", self.skipped[stage])
            return False
        state["best"] = _score(stage, start, self.model.config.correction)
        save_checkpoint(best_path, self.model, self.record, dict(state))
        return True

    def _epoch(
        self,
        stage: str,
        params: list[torch.nn.Parameter],
        optimizer: torch.optim.Optimizer,
        shuffle: random.Random,
        k_rng: np.random.Generator,
    ) -> dict[str, float]:
        """One pass over the training set; the losses summed over its structures."""
        self.model.train()
        totals: dict[str, float] = {}
        for group in _batches(self.train_set, self.config.batch_size, shuffle):
            batch = collate(group).to("cpu", self.dtype)
            losses = _step_losses(self.model, batch, group, stage, self.config, k_rng)
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            torch.nn.utils.clip_grad_norm_(params, self.config.clip_grad_norm)
            optimizer.step()
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach()) * len(group)
        return totals


def _version() -> str:
    from socscreen import __version__

    return __version__

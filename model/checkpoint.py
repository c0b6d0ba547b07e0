"""Checkpoints: everything needed to rebuild a model, plus a JSON record beside it.

A checkpoint (``*.pt``) holds the layout (element shells), orbital cutoffs, architecture,
normalisation, weights, and optionally the training state (stage, epoch, optimiser) for
``--resume``. Its record (same stem, ``.json``) names the model and what it was trained
on (files with sha256, settings, split, the reproducing command, metrics). An ensemble's
checkpoint (:class:`~socscreen.model.ensemble.ModelEnsemble`, format
:data:`ENSEMBLE_FORMAT`) holds one such payload per member, without training state.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from socscreen.checksums import file_sha256
from socscreen.model.ensemble import ModelEnsemble
from socscreen.model.network import ModelConfig, UniHamGNN
from socscreen.model.predictors import checkpoint_record

__all__ = ["ENSEMBLE_FORMAT", "FORMAT", "build_model", "load_checkpoint", "save_checkpoint"]

FORMAT = "socscreen-unihamgnn/1"
ENSEMBLE_FORMAT = "socscreen-unihamgnn-ensemble/1"


def build_model(
    element_shells: dict[str, Any],
    cutoffs: dict[str, float],
    config: ModelConfig,
    normalization: dict[str, Any],
    dtype: torch.dtype = torch.float32,
    basis_name: str = "szp(dzp)",
) -> UniHamGNN:
    """Build a model with e3nn's constants in ``dtype`` (they are baked at build time)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return UniHamGNN(
            {k: tuple(v) for k, v in element_shells.items()},
            cutoffs,
            config,
            normalization,
            basis_name,
        )
    finally:
        torch.set_default_dtype(previous)


def _model_payload(model: UniHamGNN) -> dict[str, Any]:
    """Return what rebuilds one model: layout, basis, cutoffs, config, normalisation, weights."""
    return {
        "format": FORMAT,
        "element_shells": {k: list(v) for k, v in model.layout.element_shells.items()},
        "basis_name": model.basis_name,
        "cutoffs": model.cutoffs,
        "config": model.config.model_dump(),
        "normalization": model.normalization(),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "state_dict": model.state_dict(),
    }


def _rebuilt_model(payload: dict[str, Any]) -> UniHamGNN:
    """Rebuild the model of a :func:`_model_payload`, in eval mode on CPU."""
    model = build_model(
        payload["element_shells"],
        payload["cutoffs"],
        ModelConfig(**payload["config"]),
        payload["normalization"],
        getattr(torch, payload.get("dtype", "float32")),
        payload.get("basis_name", "szp(dzp)"),
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def save_checkpoint(
    path: str | os.PathLike,
    model: UniHamGNN | ModelEnsemble,
    record: dict[str, Any],
    training_state: dict[str, Any] | None = None,
) -> Path:
    """Write ``path`` (``.pt``) atomically and its JSON record (``.json``).

    The record gets ``checkpoint_sha256`` of the written weights. An ensemble is written
    with its members' payloads and no training state.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(model, ModelEnsemble):
        if training_state is not None:
            raise ValueError("an ensemble is not trained as a whole: it has no training state")
        payload = {
            "format": ENSEMBLE_FORMAT,
            "members": [_model_payload(member) for member in model.members],
        }
    else:
        payload = {**_model_payload(model), "training_state": training_state}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".pt")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    record = {**record, "checkpoint": path.name, "checkpoint_sha256": file_sha256(path)}
    path.with_suffix(".json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[UniHamGNN | ModelEnsemble, dict[str, Any]]:
    """Rebuild a model, or an ensemble of models, from a checkpoint.

    Returns
    -------
    tuple
        ``(model, payload)``: the model in eval mode on ``map_location`` and the raw
        payload (``training_state``, ``normalization``, ...; an ensemble's ``members``)
        with the JSON record under ``"record"`` (empty if the ``.json`` file is missing).

    Raises
    ------
    ValueError
        If the file is not a socscreen Uni-HamGNN checkpoint.
    """
    path = Path(path)
    payload = torch.load(path, map_location=map_location, weights_only=False)
    kind = payload.get("format") if isinstance(payload, dict) else None
    if kind == FORMAT:
        model = _rebuilt_model(payload)
    elif kind == ENSEMBLE_FORMAT:
        model = ModelEnsemble([_rebuilt_model(member) for member in payload["members"]])
    else:
        raise ValueError(f"{path} is not a {FORMAT} (or {ENSEMBLE_FORMAT}) checkpoint")
    payload["record"] = checkpoint_record(path)
    return model.to(map_location).eval(), payload

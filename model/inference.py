"""Inference: structures in, :class:`~socscreen.hamiltonian.Hamiltonian` containers out.

``predict`` loads the shipped checkpoint by default (``model/checkpoints/*.pt``), runs the
network on CPU (or the GPU when present), fills H0 and the SOC blocks on every lattice
vector with overlapping orbitals, adds the exact two-centre overlap S(R)
(:mod:`socscreen.dft.overlap`), counts valence electrons from the PAW setups and
estimates the Fermi level from the predicted bands.

Energies are in the model's own gauge (the DFT zero is arbitrary, see
:mod:`socscreen.model.loss`); compare bands relative to ``efermi``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
from pymatgen.core import Structure

from socscreen.analysis.bands import fermi_level
from socscreen.hamiltonian import Hamiltonian
from socscreen.model.checkpoint import load_checkpoint
from socscreen.model.data import (
    CrystalData,
    collate,
    covering,
    scatter_blocks,
    scatter_sparse_blocks,
)
from socscreen.model.network import UniHamGNN
from socscreen.model.predictors import (
    default_checkpoint,
    model_meta,
    sparsely_trained_elements,
)
from socscreen.orbitals import OrbitalTable
from socscreen.sparse_hamiltonian import SparseHamiltonian

__all__ = [
    "PREDICTION_OVERLAP_CUTOFF",
    "load_model",
    "predict",
]

#: Keys of H(0)'s ``meta`` recorded under ``meta["baseline"]`` of a corrected prediction.
BASELINE_KEYS = (
    "source",
    "code",
    "gpaw_version",
    "basis",
    "xc",
    "grid_spacing",
    "seconds",
    "timings",
    "charge_correction",
    "zeroth_step_version",
)

#: ``overlap_cutoff`` of every prediction (see
#: :attr:`socscreen.hamiltonian.Hamiltonian.overlap_cutoff`): eigen-directions of S(k)
#: at or below 1e-2 are dropped when its bands are solved. Diffuse szp(dzp) orbitals of
#: alkali, halide and bcc-metal crystals make S(k) nearly singular (smallest eigenvalue
#: 1e-5 to 1e-3), and a few meV of model error along those directions become spurious
#: bands hundreds of eV deep that take occupied slots (predicted CsI: a -2.0 eV "gap";
#: with the cutoff 3.0 eV, DFT 3.56 eV). Dropping the directions moves DFT bands within
#: E_F ± 2 eV by at most 12 meV for CsI and 90 meV for CaF2; crystals whose S(k) stays
#: above 1e-2 (most covalent and topological compounds) are not touched.
PREDICTION_OVERLAP_CUTOFF = 1e-2


@lru_cache(maxsize=4)
def _cached_model(path: str, device: str, mtime: float) -> tuple[UniHamGNN, dict[str, Any]]:
    return load_checkpoint(path, map_location=device)


def load_model(
    checkpoint: str | os.PathLike | None = None, device: str | torch.device | None = None
) -> tuple[UniHamGNN, dict[str, Any]]:
    """Load (and cache) a checkpoint; default the shipped one on CPU or the GPU."""
    path = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    device = str(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return _cached_model(str(path.resolve()), device, path.stat().st_mtime)


def _check_baseline_version(record: dict[str, Any]) -> None:
    """Refuse a correction checkpoint trained on another H(0) than this installation builds.

    Its ΔH corrects the H(0) it was trained on; added to another it is wrong by their
    difference (version 1, GPAW's own normalisation, put a MoSe2/WSe2 bilayer's layers
    ~1 eV apart). A record without the key was trained on version 1.
    """
    from socscreen.dft.zeroth_step import ZEROTH_STEP_VERSION

    trained = record.get("zeroth_step_version", 1)
    if trained != ZEROTH_STEP_VERSION:
        raise ValueError(
            f"checkpoint {record.get('checkpoint', '?')} corrects zeroth-step H(0) version "
            f"{trained}, but this socscreen builds version {ZEROTH_STEP_VERSION}: retrain it "
            "(socscreen train) on companions from `socscreen dft-corpus zeroth-step`"
        )


def _check_elements(structures: Sequence[Structure], model: UniHamGNN) -> None:
    present = {site.specie.symbol for s in structures for site in s}
    unknown = sorted(present - set(model.elements))
    if unknown:
        raise ValueError(
            f"element(s) {unknown} are not covered by the model (it covers {model.elements})"
        )


def _container(
    structure: Structure,
    model: UniHamGNN,
    sample: CrystalData,
    h0: np.ndarray,
    soc: np.ndarray | None,
    meta: dict[str, Any],
) -> Hamiltonian:
    from socscreen.dft.basis_functions import valence_electrons

    symbols = {site.specie.symbol for site in structure}
    orbitals = OrbitalTable(
        tuple(structure.atomic_numbers),
        {k: v for k, v in model.layout.element_shells.items() if k in symbols},
        model.basis_name,
    )
    h = Hamiltonian(
        structure,
        orbitals,
        sample.R,
        h0,
        sample.overlap,
        soc_uu=None if soc is None else 1j * soc[2],
        soc_ud=None if soc is None else 1j * soc[0] + soc[1],
        nelect=sum(valence_electrons(site.specie.symbol) for site in structure),
        meta=meta,
    )
    h.efermi = fermi_level(h)
    return h


def correction_baseline(
    h0: Hamiltonian | SparseHamiltonian, kind: str
) -> Hamiltonian | SparseHamiltonian:
    """Build the Hamiltonian a correction model adds its ΔH to, from GPAW's H(0) ``h0``.

    ``kind`` is :attr:`ModelConfig.baseline`: ``"h0"`` returns ``h0`` itself, ``"scc"``
    H(0) with self-consistent charges
    (:func:`~socscreen.dft.charge_correction.charge_corrected`; for a sparse H(0), the
    charges of the bilayer's aligned cell,
    :func:`~socscreen.dft.bilayer_charges.sparse_charge_corrected`).
    Training and prediction both call this, so a model corrects what it was trained on.
    The scc baseline's ``efermi`` is left ``None``: a prediction finds the Fermi level of
    the corrected bands, and training uses the DFT one.
    """
    if kind == "h0":
        return h0
    if kind == "scc" and isinstance(h0, SparseHamiltonian):
        from socscreen.dft.bilayer_charges import sparse_charge_corrected

        return sparse_charge_corrected(h0)
    if kind == "scc":
        from socscreen.dft.charge_correction import charge_corrected

        return charge_corrected(h0, fermi=False)
    raise ValueError(f"unknown correction baseline {kind!r}: 'h0' or 'scc'")


def _baseline(
    structure: Structure,
    model: UniHamGNN,
    soc: bool,
    sparse_blocks: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Hamiltonian | SparseHamiltonian:
    """Compute the Hamiltonian a correction model corrects (in the model's basis)."""
    from socscreen.dft.calculator import GPAWReferenceSettings
    from socscreen.dft.zeroth_step import compute_zeroth_step

    settings = GPAWReferenceSettings(basis=model.basis_name)
    h0 = compute_zeroth_step(
        structure, settings, soc=soc, fermi=False, sparse_blocks=sparse_blocks, progress=progress
    )
    if progress and model.config.baseline == "scc":
        progress("charges")
    return correction_baseline(h0, model.config.baseline)


def _provenance(baseline: Hamiltonian) -> dict[str, Any]:
    """Return what ``meta["baseline"]`` of a correction model's prediction records of H(0)."""
    return {k: baseline.meta.get(k) for k in BASELINE_KEYS}


def _corrected(
    baseline: Hamiltonian | SparseHamiltonian,
    sample: CrystalData,
    delta_h0: torch.Tensor,
    delta_soc: torch.Tensor | None,
    meta: dict[str, Any],
    progress: Callable[[str], None] | None = None,
) -> Hamiltonian | SparseHamiltonian:
    """Add the predicted correction to H(0) in place and return it as the prediction.

    ``delta_h0`` ``[n_edges, P, P]`` and ``delta_soc`` (``A_α``, ``[n_edges, 3, P, P]``)
    are the padded edge blocks of ``sample``, whose ``R`` are ``baseline.R``
    (:meth:`CrystalData.from_structure`); H(0) keeps its blocks beyond the graph (PAW
    tails) uncorrected. Nothing dense is allocated: a 100-atom cell's blocks are GBs.
    A sparse H(0) gets the blocks as sparse matrices on its own pattern and beyond.
    """
    if isinstance(baseline, SparseHamiltonian):
        baseline.h0 = (baseline.h0 + scatter_sparse_blocks(delta_h0.numpy(), sample)).tocsr()
        if delta_soc is not None and baseline.has_soc:
            a = [scatter_sparse_blocks(delta_soc[:, axis].numpy(), sample) for axis in range(3)]
            baseline.soc_uu = (baseline.soc_uu + 1j * a[2]).tocsr()
            baseline.soc_ud = (baseline.soc_ud + 1j * a[0] + a[1]).tocsr()
    else:
        scatter_blocks(delta_h0, sample, out=torch.from_numpy(baseline.h0))
        if delta_soc is not None and baseline.has_soc:
            up_up = torch.view_as_real(torch.from_numpy(baseline.soc_uu))  # H_uu = i A_z
            up_down = torch.view_as_real(torch.from_numpy(baseline.soc_ud))  # i A_x + A_y
            scatter_blocks(delta_soc[:, 2], sample, out=up_up[..., 1])
            scatter_blocks(delta_soc[:, 0], sample, out=up_down[..., 1])
            scatter_blocks(delta_soc[:, 1], sample, out=up_down[..., 0])
    baseline.meta = {**meta, "baseline": _provenance(baseline)}
    if progress:
        progress("fermi level")
    baseline.efermi = fermi_level(baseline)
    return baseline


@overload
def predict(
    structures: Structure,
    checkpoint: str | os.PathLike | None = ...,
    device: str | None = ...,
    batch_size: int = ...,
    soc: bool = ...,
    sparse_blocks: bool = ...,
) -> Hamiltonian | SparseHamiltonian: ...
@overload
def predict(
    structures: Sequence[Structure],
    checkpoint: str | os.PathLike | None = ...,
    device: str | None = ...,
    batch_size: int = ...,
    soc: bool = ...,
    sparse_blocks: bool = ...,
) -> list[Hamiltonian | SparseHamiltonian]: ...


def predict(
    structures: Structure | Sequence[Structure],
    checkpoint: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 8,
    soc: bool = True,
    sparse_blocks: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Hamiltonian | SparseHamiltonian | list[Hamiltonian | SparseHamiltonian]:
    """Predict SOC tight-binding Hamiltonians.

    Parameters
    ----------
    structures
        One pymatgen structure or a list of them.
    checkpoint
        Checkpoint path; default the shipped model.
    device
        ``"cpu"``, ``"cuda"``, ...; default the GPU when present, else CPU.
    batch_size
        Structures per network call.
    soc
        Predict the spin-orbit blocks (``False``: H0 only, ``has_soc`` is False).
    sparse_blocks
        A correction model's prediction on the sparse H(0) of a large cell
        (:class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`; with the ``scc``
        baseline, a bilayer of two sheets whose charges come from their aligned cell):
        the same correction added to sparse blocks, its Fermi level from band counts and
        second variation.
    progress
        Called with the name of each stage as it starts: those of H(0)
        (:func:`~socscreen.dft.zeroth_step.compute_zeroth_step`), ``"charges"``,
        ``"correction"`` (the network) and ``"fermi level"``; minutes each for a cell of
        hundreds of atoms.

    Returns
    -------
    Hamiltonian or list of Hamiltonian
        Containers with H0, exact S, SOC blocks (eV), ``nelect``, ``efermi`` (from the
        predicted bands), ``meta["model"]`` naming the checkpoint and
        ``meta["overlap_cutoff"]`` (:data:`PREDICTION_OVERLAP_CUTOFF`); a correction
        model's prediction of elements it never saw has ``meta["uncorrected_elements"]``
        (H(0) alone), one with elements in few training files
        ``meta["sparsely_trained_elements"]`` (``{element: files}``, see
        :func:`~socscreen.model.predictors.sparsely_trained_elements`).

    Raises
    ------
    ValueError
        If a structure contains elements a pure-ML model does not cover (all are listed),
        or a correction model was trained on another H(0) version.
    """
    single = isinstance(structures, Structure)
    items = [structures] if single else list(structures)
    model, payload = load_model(checkpoint, device)
    correction = model.config.correction
    if correction:
        _check_baseline_version(payload["record"])
    else:
        _check_elements(items, model)
        if sparse_blocks:
            raise ValueError("sparse blocks need a correction model: a pure-ML one predicts dense")
    meta = {
        "basis": model.basis_name,
        "source": "prediction",
        "model": model_meta(payload["record"], model.elements),
        "energy_reference": "model gauge (H0 defined up to c*S); compare to efermi",
        "overlap_cutoff": PREDICTION_OVERLAP_CUTOFF,
        "soc": soc,
    }
    baselines = (
        [_baseline(s, model, soc, sparse_blocks, progress) for s in items]
        if correction
        else [None] * len(items)
    )
    out: list[Hamiltonian | None] = [None] * len(items)
    todo = []
    for i, (structure, baseline) in enumerate(zip(items, baselines, strict=True)):
        unknown = sorted({site.specie.symbol for site in structure} - set(model.elements))
        if unknown:  # only a correction model gets here: H(0) alone, said in meta and flags
            baseline.meta = {
                **meta,
                "baseline": _provenance(baseline),
                "uncorrected_elements": unknown,
            }
            baseline.efermi = fermi_level(baseline)
            out[i] = baseline
        else:
            todo.append(i)
    param = next(model.parameters())
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        if correction:
            for i in chunk:
                baselines[i] = covering(baselines[i], model.cutoffs)
        samples = [
            CrystalData.from_structure(
                items[i], model.layout, model.cutoffs, model.basis_name, baseline=baselines[i]
            )
            for i in chunk
        ]
        batch = collate(samples, with_targets=False).to(param.device, param.dtype)
        if progress:
            progress("correction")
        with torch.no_grad():
            result = model(batch, soc=soc)
        offset = 0
        for i, sample in zip(chunk, samples, strict=True):
            edges = slice(offset, offset + sample.graph.n_edges)
            offset = edges.stop
            h0, a = result["h0"][edges], result["soc"][edges] if soc else None
            if correction:
                h0 = (h0 - batch.baseline_h0[edges]).double().cpu()
                a = (a - batch.baseline_soc[edges]).double().cpu() if soc else None
                out[i] = _corrected(baselines[i], sample, h0, a, meta, progress)
            else:
                h0 = scatter_blocks(h0, sample).double().cpu().numpy()
                a = scatter_blocks(a, sample).double().cpu().numpy() if soc else None
                out[i] = _container(items[i], model, sample, h0, a, meta)
    for i in todo:
        sparse = sparsely_trained_elements(payload["record"], items[i])
        if sparse:
            out[i].meta = {**out[i].meta, "sparsely_trained_elements": sparse}
    return out[0] if single else out

"""The zeroth-step H(0) of every corpus file, computed once and kept beside it.

A corpus file ``DIR/name.npz`` (the self-consistent GPAW reference) gets the companion
``DIR/zeroth_step/name.npz``: :func:`~socscreen.dft.zeroth_step.compute_zeroth_step` of
the same structure with the same basis, with
``meta["reference"] = {"file": name, "sha256": <content sha256 of the reference>}``. A
companion whose reference changed (another content hash), or that an older H(0) built
(``meta["zeroth_step_version"]`` other than
:data:`~socscreen.dft.zeroth_step.ZEROTH_STEP_VERSION`), is stale and recomputed; one that
matches is never recomputed, so training reads H(0) and never runs GPAW.

A companion is stored as its difference from the reference (:func:`write_companion`):
H(0) − H_SCF and SOC(0) − SOC_SCF in the compact corpus format, and no overlap, which is
the reference's own (same basis, same geometry). The difference is ~3 % of H, so a
companion takes a fifth of the room of a full copy; that is what lets ~1,000 corpus files
and their H(0) fit the 200 MB corpus budget. Companions written as full copies (before
this storage) are still read, and :func:`write_zeroth_step_companions` rewrites them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from socscreen.dft.block_assembly import row_lookup
from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.dft.zeroth_step import ZEROTH_STEP_VERSION, compute_zeroth_step
from socscreen.hamiltonian import COMPACT_ZERO_THRESHOLDS, Hamiltonian

__all__ = [
    "COMPANION_FOLDER",
    "companion_is_current",
    "companion_path",
    "current_companion",
    "write_companion",
    "write_zeroth_step_companions",
]

#: Sub-folder of a corpus folder that holds the H(0) companions.
COMPANION_FOLDER = "zeroth_step"

#: Meta keys of the reference copied onto its companion (the generator's provenance).
PROVENANCE_KEYS = ("prototype", "elements", "holdout", "strain_sigma", "rattle", "formula", "seed")

#: ``meta`` flag of a companion stored as its difference from the reference.
DIFFERENCE_KEY = "difference_from_reference"

#: Largest |S(0) − S_SCF| (overlap units) of a companion and its reference: both are the
#: overlap of one basis at one geometry, and the reference stores S in float32 with
#: elements below 1e-5 zeroed.
OVERLAP_TOLERANCE = 1e-4

Outcome = Literal["written", "rewritten", "current", "failed"]


def companion_path(reference: Path) -> Path:
    """Path of the H(0) companion of a corpus file."""
    return reference.parent / COMPANION_FOLDER / reference.name


def _blocks_on(ham: Hamiltonian, R: np.ndarray) -> dict[str, np.ndarray]:
    """H0, S and SOC blocks of ``ham`` on the lattice vectors ``R`` (zero where it has none)."""
    index = row_lookup(ham.R, R)
    present = index >= 0
    blocks = {"h0": ham.h0, "overlap": ham.overlap}
    if ham.has_soc:
        blocks |= {"soc_uu": ham.soc_uu, "soc_ud": ham.soc_ud}
    out = {}
    for name, array in blocks.items():
        out[name] = np.zeros((len(R), *array.shape[1:]), dtype=array.dtype)
        out[name][present] = array[index[present]]
    return out


def _union_R(a: Hamiltonian, b: Hamiltonian) -> np.ndarray:
    return np.unique(np.concatenate([a.R, b.R]), axis=0)


def write_companion(zeroth_step: Hamiltonian, reference: Hamiltonian, path: Path) -> Path:
    """Store H(0) as its difference from the corpus file it belongs to, atomically.

    ``reference`` is the corpus file as read back (:meth:`Hamiltonian.from_npz`), so
    :func:`current_companion` rebuilds H(0) from exactly what it reads. The blocks
    H(0) − H_SCF and SOC(0) − SOC_SCF are written on the union of both lattice-vector sets
    in the compact corpus format (elements below 1e-4 eV zeroed, half of ``±R``); the
    overlap is left out. Fermi level, electron count and energy are H(0)'s own.

    Raises
    ------
    ValueError
        If the two do not share their orbitals, their spin-orbit part, or their overlap
        (to :data:`OVERLAP_TOLERANCE`): H(0) of another basis or geometry.
    """
    if zeroth_step.orbitals != reference.orbitals or zeroth_step.has_soc != reference.has_soc:
        raise ValueError(f"{path.name}: H(0) and its reference differ in orbitals or in SOC")
    R = _union_R(zeroth_step, reference)
    own, ref = _blocks_on(zeroth_step, R), _blocks_on(reference, R)
    overlap_error = float(np.abs(own["overlap"] - ref["overlap"]).max())
    if overlap_error > OVERLAP_TOLERANCE:
        raise ValueError(
            f"{path.name}: the overlap of H(0) and of its reference differ by {overlap_error:.1e}"
            " (another basis or geometry)"
        )
    difference = {name: own[name] - ref[name] for name in own if name != "overlap"}
    stored = zeroth_step._replace(
        R=R,
        overlap=np.zeros_like(difference["h0"]),
        meta={**zeroth_step.meta, DIFFERENCE_KEY: True},
        **difference,
    )
    thresholds = {**COMPACT_ZERO_THRESHOLDS, "SR": np.inf}
    return stored.to_npz(path, thresholds=thresholds, half_R=True)


def _added_to(reference: Hamiltonian, stored: Hamiltonian) -> Hamiltonian:
    """H(0) from its stored difference and the reference (the reference's overlap)."""
    R = _union_R(stored, reference)
    difference, ref = _blocks_on(stored, R), _blocks_on(reference, R)
    blocks = {name: ref[name] + difference[name] for name in difference if name != "overlap"}
    meta = {k: v for k, v in stored.meta.items() if k != DIFFERENCE_KEY}
    return stored._replace(R=R, overlap=ref["overlap"], meta=meta, **blocks)


def _is_current(meta: dict, reference_sha256: str) -> bool:
    """Whether a companion's ``meta`` names that reference content and today's H(0)."""
    return (
        meta.get("reference", {}).get("sha256") == reference_sha256
        and meta.get("zeroth_step_version") == ZEROTH_STEP_VERSION
    )


def companion_is_current(path: Path, reference_sha256: str) -> bool:
    """Whether the corpus file ``path`` has a current companion (:func:`_is_current`).

    Reads only the companion's ``meta``, not its blocks.
    """
    companion_file = companion_path(path)
    if not companion_file.exists():
        return False
    with np.load(companion_file, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
    return _is_current(meta, reference_sha256)


def current_companion(
    path: Path, reference: Hamiltonian, reference_sha256: str | None = None
) -> Hamiltonian | None:
    """H(0) of the corpus file ``path`` if its companion exists and is current.

    ``reference`` is that file's Hamiltonian and ``reference_sha256`` its
    :meth:`Hamiltonian.content_sha256` (computed when not given).
    """
    companion_file = companion_path(path)
    if not companion_file.exists():
        return None
    stored = Hamiltonian.from_npz(companion_file)
    sha = reference_sha256 or reference.content_sha256()
    if not _is_current(stored.meta, sha):
        return None
    return _added_to(reference, stored) if stored.meta.get(DIFFERENCE_KEY) else stored


def zeroth_step_of(reference: Hamiltonian, name: str, reference_sha256: str) -> Hamiltonian:
    """H(0) of a corpus file's structure, with the same basis and the link to the file."""
    settings = GPAWReferenceSettings(basis=reference.meta.get("basis", "szp(dzp)"))
    ham = compute_zeroth_step(reference.structure, settings)
    ham.meta |= {k: reference.meta[k] for k in PROVENANCE_KEYS if k in reference.meta}
    ham.meta["reference"] = {"file": name, "sha256": reference_sha256}
    return ham


def write_zeroth_step_companions(
    folder: str | Path,
    on_file: Callable[[Path, Outcome, str], None] | None = None,
    names: list[str] | None = None,
) -> dict[Outcome, int]:
    """Compute the missing or stale H(0) companions of the corpus files of ``folder``.

    Parameters
    ----------
    folder
        Corpus folder (``*.npz``; its ``zeroth_step/`` sub-folder is created).
    on_file
        Called after each file with ``(reference path, outcome, detail)``: ``"written"``
        (detail: seconds), ``"rewritten"`` (a current companion stored as a full copy,
        now stored as a difference; no GPAW), ``"current"`` (nothing to do) or
        ``"failed"`` (detail: the reason). A failure is reported and the next file
        follows.
    names
        Only these file names (default: every ``*.npz`` of the folder).

    Returns
    -------
    dict
        Count of each outcome.

    Raises
    ------
    FileNotFoundError
        If the folder holds no corpus file.
    """
    folder = Path(folder)
    files = sorted(folder / n for n in names) if names else sorted(folder.glob("*.npz"))
    if not files:
        raise FileNotFoundError(f"no corpus files (*.npz) in {folder}")
    counts: dict[Outcome, int] = {"written": 0, "rewritten": 0, "current": 0, "failed": 0}
    for path in files:
        reference = Hamiltonian.from_npz(path)
        sha = reference.content_sha256()
        current = current_companion(path, reference, sha)
        try:
            if current is None:
                ham = zeroth_step_of(reference, path.name, sha)
                write_companion(ham, reference, companion_path(path))
                outcome, detail = "written", f"{ham.meta['seconds']:.1f} s"
            elif not Hamiltonian.from_npz(companion_path(path)).meta.get(DIFFERENCE_KEY):
                write_companion(current, reference, companion_path(path))
                outcome, detail = "rewritten", ""
            else:
                outcome, detail = "current", ""
        except Exception as error:  # one file's failure must not stop the folder
            outcome, detail = "failed", f"{type(error).__name__}: {error}"
        counts[outcome] += 1
        if on_file is not None:
            on_file(path, outcome, detail)
    return counts

"""The zeroth-step H(0) of every corpus file, computed once and kept beside it.

A corpus file ``DIR/name.npz`` (the self-consistent GPAW reference) gets the companion
``DIR/zeroth_step/name.npz``: :func:`~socscreen.dft.zeroth_step.compute_zeroth_step` of
the same structure with the same basis, stored in the training corpus' compact format
(:func:`~socscreen.corpus.storage.write_compact`), with
``meta["reference"] = {"file": name, "sha256": <content sha256 of the reference>}``. A
companion whose reference changed (another content hash) is stale and recomputed; one
that matches is never recomputed, so training reads H(0) and never runs GPAW.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from socscreen.corpus.storage import write_compact
from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.dft.zeroth_step import compute_zeroth_step
from socscreen.hamiltonian import Hamiltonian

__all__ = [
    "COMPANION_FOLDER",
    "companion_path",
    "current_companion",
    "is_current",
    "write_zeroth_step_companions",
]

#: Sub-folder of a corpus folder that holds the H(0) companions.
COMPANION_FOLDER = "zeroth_step"

#: Meta keys of the reference copied onto its companion (the generator's provenance).
PROVENANCE_KEYS = ("prototype", "elements", "holdout", "strain_sigma", "rattle", "formula", "seed")

Outcome = Literal["written", "current", "failed"]


def companion_path(reference: Path) -> Path:
    """Path of the H(0) companion of a corpus file."""
    return reference.parent / COMPANION_FOLDER / reference.name


def current_companion(reference: Path, reference_sha256: str) -> Hamiltonian | None:
    """The companion of ``reference`` if it exists and was computed from that content."""
    path = companion_path(reference)
    if not path.exists():
        return None
    companion = Hamiltonian.from_npz(path)
    recorded = companion.meta.get("reference", {})
    return companion if recorded.get("sha256") == reference_sha256 else None


def is_current(reference: Path, reference_sha256: str | None = None) -> bool:
    """Whether the companion of ``reference`` exists and was computed from its content."""
    sha = reference_sha256 or Hamiltonian.from_npz(reference).content_sha256()
    return current_companion(reference, sha) is not None


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
        (detail: seconds), ``"current"`` (nothing to do) or ``"failed"`` (detail: the
        reason). A failure is reported and the next file follows.
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
    counts: dict[Outcome, int] = {"written": 0, "current": 0, "failed": 0}
    for path in files:
        reference = Hamiltonian.from_npz(path)
        sha = reference.content_sha256()
        if is_current(path, sha):
            outcome, detail = "current", ""
        else:
            try:
                ham = zeroth_step_of(reference, path.name, sha)
                write_compact(ham, companion_path(path))
                outcome, detail = "written", f"{ham.meta['seconds']:.1f} s"
            except Exception as error:  # one file's failure must not stop the folder
                outcome, detail = "failed", f"{type(error).__name__}: {error}"
        counts[outcome] += 1
        if on_file is not None:
            on_file(path, outcome, detail)
    return counts

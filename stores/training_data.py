"""The training-data store: DFT Hamiltonians that validation reruns feed back to the model.

A folder of corpus-format ``.npz`` files (docs/model.md, "Training corpus storage";
:meth:`Hamiltonian.to_npz`) that ``socscreen train --finetune DIR`` reads like the
shipped corpus, plus one :class:`TrainingDataRecord` per file in the ``training_data``
collection (material, campaign, formula, SHA-256, path).

The folder is ``SOCSCREEN_TRAINING_DIR`` when set, else ``<home>/training/<basis>/``: one
folder per basis, because a fine-tuning corpus must share the checkpoint's basis. Files
are named ``<material_id>_<formula>.npz``, so a second validation of a material replaces
its file instead of adding a duplicate.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

from socscreen.checksums import file_sha256
from socscreen.hamiltonian import Hamiltonian
from socscreen.settings import SETTINGS
from socscreen.stores.schemas.validation import TrainingDataRecord

__all__ = ["file_sha256", "training_dir", "write_training_file"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def training_dir(basis: str | None = None) -> Path:
    """Folder of the training-data store for ``basis`` (default the settings' basis).

    ``SOCSCREEN_TRAINING_DIR`` wins when set (it then holds one basis only).
    """
    if SETTINGS.training_dir is not None:
        return Path(SETTINGS.training_dir).expanduser()
    return Path(SETTINGS.home).expanduser() / "training" / (basis or SETTINGS.basis)


def write_training_file(
    ham: Hamiltonian,
    material_id: str,
    campaign: str | None = None,
    folder: str | os.PathLike | None = None,
    source: str = "gpaw-validation",
) -> TrainingDataRecord:
    """Write a DFT Hamiltonian into the training-data folder and describe the file.

    Parameters
    ----------
    ham
        DFT Hamiltonian with spin-orbit blocks (e.g. from the GPAW reference).
    material_id
        Material it belongs to (recorded in the file's ``meta`` and the record).
    campaign
        Campaign whose validation produced it.
    folder
        Target folder; default :func:`training_dir` of the Hamiltonian's basis.
    source
        What produced the file.

    Returns
    -------
    TrainingDataRecord
        The record to store in the ``training_data`` collection.

    Raises
    ------
    ValueError
        If the Hamiltonian has no spin-orbit blocks or no electron count (the corpus
        needs both).
    """
    if not ham.has_soc:
        raise ValueError("training data must carry spin-orbit blocks (the corpus is SOC)")
    if ham.nelect <= 0:
        raise ValueError("training data needs the electron count nelect")
    basis = ham.orbitals.basis_name
    folder = Path(folder) if folder is not None else training_dir(basis)
    formula = ham.meta.get("formula") or ham.structure.composition.formula.replace(" ", "")
    name = _UNSAFE.sub("_", f"{material_id}_{formula}")
    tagged = copy.copy(ham)  # arrays shared, provenance added to a new meta only
    tagged.meta = {**ham.meta, "material_id": material_id, "campaign": campaign, "source": source}
    path = tagged.to_npz(folder / f"{name}.npz").resolve()
    return TrainingDataRecord(
        material_id=material_id,
        campaign=campaign,
        formula=formula,
        basis=basis,
        path=str(path),
        sha256=file_sha256(path),
        n_orbitals=ham.n_orbitals,
        source=source,
    )

"""What every validation route shares: the predicted Hamiltonian and storing the outcome.

A route (GPAW here, VASP in :mod:`socscreen.makers.vasp_validation`) gets a
:class:`~socscreen.stores.schemas.validation.ValidationTarget`, runs its DFT
calculation, compares it with the prediction and stores a ``ValidationDocument``:

* :func:`predicted_hamiltonian` predicts the target's structure again with the
  campaign's checkpoint (the model is deterministic: this is the prediction the campaign
  analysed, as long as the checkpoint is unchanged; a different model version is
  flagged by :func:`model_flags`);
* :func:`store_validation` upserts the document into the ``validations`` collection of
  the database of the running job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from socscreen.makers.batch import job_database
from socscreen.makers.process import model_version
from socscreen.stores.validations import save_validation

if TYPE_CHECKING:
    from socscreen.hamiltonian import Hamiltonian
    from socscreen.stores.schemas.validation import ValidationDocument, ValidationTarget

__all__ = ["model_flags", "predicted_hamiltonian", "store_validation"]


def predicted_hamiltonian(target: ValidationTarget, device: str | None = None) -> Hamiltonian:
    """Predict the SOC Hamiltonian of the target's structure with its campaign's model.

    Parameters
    ----------
    target
        The material to validate (``checkpoint``: the campaign's, ``None`` the shipped
        model).
    device
        Torch device; default the GPU when present, else CPU.

    Returns
    -------
    Hamiltonian
        Prediction with ``nelect``, ``efermi`` (eV, model gauge) and ``meta["model"]``.
    """
    from socscreen.model.inference import predict  # torch loads only in workers

    return predict(target.get_structure(), checkpoint=target.checkpoint, device=device)


def model_flags(target: ValidationTarget, predicted: Hamiltonian) -> list[str]:
    """Flag a prediction made by another model version than the campaign's result."""
    version = model_version(predicted.meta)
    if target.model_version and version and version != target.model_version:
        return ["model_version_changed"]
    return []


def store_validation(doc: ValidationDocument) -> None:
    """Upsert ``doc`` into the ``validations`` collection of the running job's database.

    Raises
    ------
    RuntimeError
        Outside a jobflow job whose config exposes the store.
    """
    db = job_database()
    store = db.store("validations")
    store.connect()
    try:
        save_validation(store, doc)
    finally:
        store.close()

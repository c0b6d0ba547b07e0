"""What every validation route shares: the predicted Hamiltonian and storing the outcome.

A route (GPAW here, VASP in :mod:`socscreen.makers.vasp_validation`) gets a
:class:`~socscreen.stores.schemas.validation.ValidationTarget`, runs its DFT
calculation, compares it with the prediction and stores a ``ValidationDocument``:

* :func:`predicted_hamiltonian` returns the prediction the campaign analysed: the
  Hamiltonian its predict job put into the ``data`` store (found by the target's
  ``prediction_job_uuid``), or, where that output is gone or was never stored, a new
  prediction with the campaign's checkpoint (``meta["prediction_source"]`` says which;
  a different model version is flagged by :func:`model_flags`);
* :func:`store_validation` upserts the document into the ``validations`` collection of
  the database of the running job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobflow import CURRENT_JOB
from monty.json import MontyDecoder

from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.batch import job_database
from socscreen.model.predictors import prediction_version
from socscreen.stores.validations import save_validation

if TYPE_CHECKING:
    from socscreen.stores.schemas.validation import ValidationDocument, ValidationTarget

__all__ = ["model_flags", "predicted_hamiltonian", "store_validation", "stored_prediction"]


def stored_prediction(target: ValidationTarget) -> Hamiltonian | None:
    """Load the target's Hamiltonian from its predict job's output (running job's store).

    Returns
    -------
    Hamiltonian or None
        ``None`` outside a job with an exposed store, without a ``prediction_job_uuid``,
        or when that job's output no longer exists or does not hold the material.
    """
    store = getattr(CURRENT_JOB, "store", None)
    if store is None or target.prediction_job_uuid is None:
        return None
    try:
        output = store.get_output(target.prediction_job_uuid, load=True)
    except ValueError:  # the output was removed
        return None
    for item in (output or {}).get("hamiltonians") or []:
        if item.get("material_id") == target.material_id:
            ham = MontyDecoder().process_decoded(item["hamiltonian"])
            return ham if isinstance(ham, Hamiltonian) else None
    return None


def predicted_hamiltonian(target: ValidationTarget, device: str | None = None) -> Hamiltonian:
    """Return the prediction of the target's structure that the campaign analysed.

    Parameters
    ----------
    target
        The material to validate (``prediction_job_uuid`` to find the stored prediction,
        ``checkpoint`` to predict again: the campaign's, ``None`` the shipped model).
    device
        Torch device of a new prediction; default the GPU when present, else CPU.

    Returns
    -------
    Hamiltonian
        Prediction with ``nelect``, ``efermi`` (eV, model gauge), ``meta["model"]`` and
        ``meta["prediction_source"]``: ``"stored"`` or ``"recomputed"``.
    """
    ham = stored_prediction(target)
    source = "stored"
    if ham is None:
        from socscreen.model.inference import predict  # torch loads only in workers

        ham = predict(target.get_structure(), checkpoint=target.checkpoint, device=device)
        source = "recomputed"
    ham.meta["prediction_source"] = source
    return ham


def model_flags(target: ValidationTarget, predicted: Hamiltonian) -> list[str]:
    """Flag a prediction made by another model version than the campaign's result."""
    version = prediction_version(predicted.meta)
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

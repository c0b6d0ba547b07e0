"""What every validation route shares: the predicted Hamiltonian and storing the outcome.

A route (GPAW here, VASP in :mod:`socscreen.makers.vasp_validation`) gets a
:class:`~socscreen.stores.schemas.validation.ValidationTarget`, runs its DFT
calculation, compares it with the prediction and stores a ``ValidationDocument``:

* :func:`predicted_hamiltonian` returns the prediction the campaign analysed: the
  Hamiltonian its predict job put into the ``data`` store (found by the target's
  ``prediction_job_uuid``), or, where that output is gone or was never stored, a new
  prediction by the campaign's predictor (``meta["prediction_source"]`` says which;
  a different version is flagged by :func:`model_flags`);
* :func:`store_validation` upserts the document into the ``validations`` collection of
  the database of the running job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobflow import CURRENT_JOB

from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.batch import campaign_stores
from socscreen.model.predictors import prediction_version
from socscreen.stores.queries import load_hamiltonian
from socscreen.stores.validations import save_validation

if TYPE_CHECKING:
    from socscreen.stores.schemas.validation import ValidationDocument, ValidationTarget

__all__ = ["model_flags", "predicted_hamiltonian", "store_validation"]


def predicted_hamiltonian(target: ValidationTarget, device: str | None = None) -> Hamiltonian:
    """Return the prediction of the target's structure that the campaign analysed.

    The Hamiltonian the target's predict job stored
    (:func:`~socscreen.stores.queries.load_hamiltonian` on the running job's store);
    where there is none (outside a job, no ``prediction_job_uuid``, the output removed)
    the target's predictor predicts it again
    (:func:`~socscreen.model.predictors.predict_hamiltonian`).

    Parameters
    ----------
    target
        The material to validate (``prediction_job_uuid`` to find the stored prediction;
        ``predictor`` and ``checkpoint`` to predict again).
    device
        Torch device of a new model prediction; default the GPU when present, else CPU.

    Returns
    -------
    Hamiltonian
        Prediction with ``nelect``, ``efermi`` (eV, the predictor's gauge),
        ``meta["predictor"]`` and ``meta["prediction_source"]``: ``"stored"`` or
        ``"recomputed"``.
    """
    store = getattr(CURRENT_JOB, "store", None)
    if store is not None and target.prediction_job_uuid is not None:
        try:
            ham = load_hamiltonian(
                store, target.campaign, target.material_id, target.prediction_job_uuid
            )
        except ValueError:  # the output was removed
            pass
        else:
            ham.meta["prediction_source"] = "stored"
            return ham
    from socscreen.model.predictors import predict_hamiltonian  # torch only in workers

    ham = predict_hamiltonian(
        target.get_structure(), target.predictor, checkpoint=target.checkpoint, device=device
    )
    ham.meta["prediction_source"] = "recomputed"
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
    with campaign_stores("validations") as (store,):
        save_validation(store, doc)

"""Predict stage of a campaign: ingested structures to SOC Hamiltonians in the data store.

:func:`predict_structure` is the per-structure function: the cell-size guard, then
:func:`socscreen.model.inference.predict` (the checkpoint is loaded once per worker
process and cached; workers run torch with one thread). :class:`PredictBatchMaker` runs
it on a batch and returns a :class:`PredictedBatch`: the Hamiltonians, which jobflow
routes to the additional store ``data`` (GridFS) in the compact format of the training
corpus (:meth:`~socscreen.hamiltonian.Hamiltonian.stored_compact`: about 0.15 MB instead
of 2.2 MB per structure), and the structures that failed with their reasons. A cell of more
than ``settings.sparse_from_sites`` sites (a twisted bilayer) is predicted and stored on
sparse blocks (:class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`). The
batch's analyse job reads both through the output reference and writes every result
document; the predict job writes nothing else, so that a GPU worker needs no more than
the JobStore.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobflow import Maker
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.batch import (
    BatchSummary,
    campaign_job,
    campaign_stores,
    peak_memory_mb,
    records_to_do,
)
from socscreen.sparse_hamiltonian import SparseHamiltonian
from socscreen.stores.schemas.campaign import CampaignSettings, ErrorDocument, StructureRecord

__all__ = [
    "PredictBatchMaker",
    "PredictedBatch",
    "PredictedHamiltonian",
    "PredictionFailure",
    "Predictor",
    "expected_prediction_version",
    "result_version",
    "predict_structure",
    "stage_reporter",
]

#: The per-structure function of a predict job: record and settings to Hamiltonian.
Predictor = Callable[[StructureRecord, CampaignSettings], Hamiltonian | SparseHamiltonian]


def expected_prediction_version(settings: CampaignSettings) -> str | None:
    """Return the version label a campaign's new results will carry.

    :func:`socscreen.model.predictors.expected_version` of the campaign's predictor,
    checkpoint and explicit ``model_version``; ``None`` if the checkpoint has no record.
    """
    from socscreen.model.predictors import expected_version

    return expected_version(settings.predictor, settings.checkpoint, settings.model_version)


def result_version(settings: CampaignSettings, meta: dict) -> str | None:
    """Version label a result of this prediction carries (``model_version`` of the result).

    The campaign's explicit ``model_version`` for the model, else
    :func:`socscreen.model.predictors.prediction_version` of the Hamiltonian's ``meta``.
    """
    if settings.predictor == "model" and settings.model_version:
        return settings.model_version
    from socscreen.model.predictors import prediction_version

    return prediction_version(meta)


def predict_structure(
    record: StructureRecord, settings: CampaignSettings
) -> Hamiltonian | SparseHamiltonian:
    """Predict the SOC Hamiltonian of one ingested structure.

    Parameters
    ----------
    record
        An ingested structure (primitive cell).
    settings
        Campaign settings: ``predictor``, ``checkpoint``, ``device``, the ``max_sites``
        guard and ``sparse_from_sites``.

    Returns
    -------
    Hamiltonian or SparseHamiltonian
        H0, exact overlap and SOC blocks (eV), ``nelect``, ``efermi``, the predictor in
        ``meta["predictor"]`` (and the model in ``meta["model"]``); sparse blocks for a
        cell of more than ``settings.sparse_from_sites`` sites, whose stages the job's
        log shows as they start (:func:`stage_reporter`).

    Raises
    ------
    ValueError
        If the cell has more than ``settings.max_sites`` sites (checked before the
        predictor runs), or the predictor cannot treat an element.
    """
    from socscreen.model.predictors import predict_hamiltonian  # torch only in workers

    structure = record.get_structure()
    if len(structure) > settings.max_sites:
        raise ValueError(
            f"{len(structure)} sites in the primitive cell exceed max_sites = "
            f"{settings.max_sites}: too large to screen"
        )
    large = len(structure) > settings.sparse_from_sites
    label = f"{record.material_id} ({len(structure)} sites)"
    return predict_hamiltonian(
        structure,
        settings.predictor,
        checkpoint=settings.checkpoint,
        device=settings.device,
        sparse_blocks=large,
        progress=stage_reporter(label) if large else None,
    )


def stage_reporter(label: str) -> Callable[[str], None]:
    """Write ``label: stage (+s)`` to the job's log as each stage of a long prediction starts.

    A large cell's prediction takes minutes to an hour; the worker's log says where it is.
    The time is the wall time since the first stage (s).
    """
    start = time.perf_counter()

    def report(stage: str) -> None:
        tqdm.write(f"{label}: {stage} (+{time.perf_counter() - start:.0f} s)", file=sys.stderr)

    return report


class PredictedHamiltonian(BaseModel):
    """The Hamiltonian of one structure of a batch."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    material_id: str = Field(description="Stable id of the structure.")
    hamiltonian: Hamiltonian | SparseHamiltonian = Field(
        description="Predicted SOC Hamiltonian (eV, Angstrom), sparse for a large cell, "
        "kept in the 'data' store (compactly, see Hamiltonian.stored_compact, unless the "
        "maker says otherwise)."
    )
    seconds: float = Field(ge=0.0, description="Wall time of the prediction (s).")


class PredictionFailure(BaseModel):
    """A structure of a batch whose prediction raised."""

    material_id: str = Field(description="Stable id of the structure.")
    error: ErrorDocument = Field(description="Why the prediction failed (stage 'predict').")
    seconds: float = Field(ge=0.0, description="Wall time until the failure (s).")


class PredictedBatch(BatchSummary):
    """Output of a predict job: Hamiltonians and failures of the structures it handled."""

    hamiltonians: list[PredictedHamiltonian] = Field(
        default_factory=list, description="Predicted Hamiltonians, in batch order."
    )
    failures: list[PredictionFailure] = Field(
        default_factory=list, description="Structures whose prediction failed."
    )


@dataclass
class PredictBatchMaker(Maker):
    """Predict the Hamiltonians of a batch of ingested structures.

    Parameters
    ----------
    name
        Job name.
    predictor
        Per-structure function ``(record, settings) -> Hamiltonian``; importable (jobs
        are serialised by reference).
    compact_storage
        Store the Hamiltonians in the training corpus's compact format (half R, float32,
        elements below 1e-4 eV zeroed; bands within 2 eV of E_F move by at most about
        1 meV); ``False`` stores them exactly (float64, about 15 times larger).
    """

    name: str = "predict batch"
    predictor: Predictor = predict_structure
    compact_storage: bool = True

    @campaign_job
    def make(
        self, campaign: str, material_ids: list[str], settings: CampaignSettings
    ) -> PredictedBatch:
        """Predict the structures of ``material_ids`` that have no finished result.

        Parameters
        ----------
        campaign
            Campaign name.
        material_ids
            Ids of ingested records of the campaign.
        settings
            Settings passed to the predictor.

        Returns
        -------
        PredictedBatch
            Hamiltonians (to the ``data`` store), failures and counts.
        """
        t0, cpu0 = time.perf_counter(), time.process_time()
        with campaign_stores("structures", "results") as (structures, results):
            records, n_skipped = records_to_do(
                structures, results, campaign, material_ids, expected_prediction_version(settings)
            )
        batch = PredictedBatch(campaign=campaign, material_ids=material_ids, n_skipped=n_skipped)
        for record in tqdm(records, desc=self.name):
            start = time.perf_counter()
            try:
                ham = self.predictor(record, settings)
            except Exception as exc:  # one structure's failure must not stop the batch
                error = ErrorDocument.from_exception("predict", exc)
                batch.failures.append(
                    PredictionFailure(
                        material_id=record.material_id,
                        error=error,
                        seconds=time.perf_counter() - start,
                    )
                )
                continue
            batch.hamiltonians.append(
                PredictedHamiltonian(
                    material_id=record.material_id,
                    hamiltonian=ham.stored_compact() if self.compact_storage else ham,
                    seconds=time.perf_counter() - start,
                )
            )
        return batch.model_copy(
            update={
                "n_processed": len(records),
                "n_failed": len(batch.failures),
                "seconds": time.perf_counter() - t0,
                "cpu_seconds": time.process_time() - cpu0,
                "peak_memory_mb": peak_memory_mb(),
            }
        )

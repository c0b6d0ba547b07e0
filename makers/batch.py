"""Batch job of a campaign: process a list of ingested structures, store each result.

One Firework processes ``settings.batch_size`` structures: it loads their records from
the ``structures`` collection, calls the per-structure ``processor`` (default
:func:`~socscreen.makers.process.process_structure`) on each, and upserts every result
(or error document) into ``results`` as soon as it exists, so that a worker killed in the
middle loses only the structure it was on. Results already done are skipped, which
makes a rerun (lost-run recovery, resubmission) finish the rest.

Campaign jobs find their database from the JobStore they run with (``expose_store``):
results always go to the database of the job outputs, configured once per worker by
``JOBFLOW_CONFIG_FILE``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from jobflow import CURRENT_JOB, JobConfig, Maker, job
from pydantic import BaseModel, Field
from tqdm.auto import tqdm

from socscreen.makers.base import DATA_OBJECTS
from socscreen.makers.process import process_structure
from socscreen.stores.config import DatabaseConfig
from socscreen.stores.queries import done_ids, load_records, save_results
from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    MaterialResultDocument,
    StructureRecord,
    TimingsDocument,
)

__all__ = ["BatchSummary", "ProcessBatchMaker", "Processor", "campaign_job", "job_database"]

#: The per-structure function of a batch: record (with its campaign) and settings to result.
Processor = Callable[[StructureRecord, CampaignSettings], MaterialResultDocument]


def campaign_job(method: Callable) -> Callable:
    """Declare a campaign job: large objects to the ``data`` store, JobStore exposed."""
    return job(method, data=DATA_OBJECTS, config=JobConfig(expose_store=True))


def job_database() -> DatabaseConfig:
    """Database of the JobStore the current job runs with.

    Raises
    ------
    RuntimeError
        Outside a running job or when the job's config does not expose the store.
    """
    store = getattr(CURRENT_JOB, "store", None)
    if store is None:
        raise RuntimeError("campaign jobs must run inside jobflow with expose_store=True")
    return DatabaseConfig.from_store(store.docs_store)


class BatchSummary(BaseModel):
    """Output of a batch job."""

    campaign: str = Field(description="Campaign name.")
    material_ids: list[str] = Field(description="Ids given to the batch.")
    n_processed: int = Field(0, description="Structures processed by this run.")
    n_failed: int = Field(0, description="Of those, structures that ended with an error.")
    n_skipped: int = Field(0, description="Structures already done before this run.")
    seconds: float = Field(0.0, description="Wall time of the batch (s).")


@dataclass
class ProcessBatchMaker(Maker):
    """Process a batch of ingested structures of a campaign.

    Parameters
    ----------
    name
        Job name.
    processor
        Per-structure function ``(record, settings) -> MaterialResultDocument``;
        importable (jobs are serialised by reference).
    """

    name: str = "process batch"
    processor: Processor = process_structure

    @campaign_job
    def make(
        self, campaign: str, material_ids: list[str], settings: CampaignSettings
    ) -> BatchSummary:
        """Process ``material_ids`` of ``campaign`` and store their results.

        Parameters
        ----------
        campaign
            Campaign name.
        material_ids
            Ids of ingested records of the campaign.
        settings
            Settings passed to the processor.

        Returns
        -------
        BatchSummary
            Counts of the run; the results themselves are in the ``results`` collection.
        """
        t0 = time.perf_counter()
        db = job_database()
        structures, results = db.store("structures"), db.store("results")
        structures.connect()
        results.connect()
        try:
            done = done_ids(results, campaign, material_ids)
            todo = [i for i in material_ids if i not in done]
            summary = BatchSummary(
                campaign=campaign, material_ids=material_ids, n_skipped=len(done)
            )
            for record in tqdm(load_records(structures, campaign, todo), desc=self.name):
                doc = self._process_one(record, settings)
                save_results(results, [doc])
                summary.n_processed += 1
                summary.n_failed += doc.error is not None
        finally:
            structures.close()
            results.close()
        summary.seconds = time.perf_counter() - t0
        return summary

    def _process_one(
        self, record: StructureRecord, settings: CampaignSettings
    ) -> MaterialResultDocument:
        """Run the processor on one record; any exception becomes the record's error."""
        t0 = time.perf_counter()
        try:
            doc = self.processor(record, settings)
        except Exception as exc:  # one structure's failure must not stop the batch
            doc = MaterialResultDocument.from_error(record, "process", exc)
        if (doc.material_id, doc.campaign) != (record.material_id, record.campaign):
            raise ValueError(
                f"processor returned the result of {doc.material_id!r} in {doc.campaign!r} "
                f"for {record.material_id!r} in {record.campaign!r}"
            )
        total = time.perf_counter() - t0
        timings = doc.timings.model_copy(update={"total": doc.timings.total or total})
        return doc.model_copy(update={"timings": TimingsDocument.model_validate(timings)})

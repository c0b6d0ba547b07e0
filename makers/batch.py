"""What the batch jobs of a campaign share: database access, skipping, error capture.

A campaign handles ``settings.batch_size`` structures per pair of jobs: a predict job
(:class:`~socscreen.makers.predict.PredictBatchMaker`, model to Hamiltonians in the
``data`` store) and an analyse job (:class:`~socscreen.makers.analyse.AnalyseBatchMaker`,
Hamiltonians to result documents). Both

* find their database from the JobStore they run with (``expose_store``): results go to
  the database of the job outputs, configured once per worker by ``JOBFLOW_CONFIG_FILE``;
* skip structures whose result is already done, which makes a rerun (lost-run recovery,
  resubmission) finish only the rest;
* turn an exception of one structure into that structure's error, never the batch's;
* report counts, wall and CPU time and the worker's peak memory in their
  :class:`BatchSummary`.
"""

from __future__ import annotations

import contextlib
import resource
import sys
from collections.abc import Callable, Sequence

from jobflow import CURRENT_JOB, JobConfig, job
from maggma.stores import MongoStore
from pydantic import BaseModel, Field

from socscreen.hamiltonian import Hamiltonian
from socscreen.sparse_hamiltonian import SparseHamiltonian
from socscreen.stores.config import DatabaseConfig
from socscreen.stores.queries import done_ids, load_records
from socscreen.stores.schemas.campaign import StructureRecord

__all__ = [
    "DATA_OBJECTS",
    "BatchSummary",
    "campaign_job",
    "campaign_stores",
    "job_database",
    "peak_memory_mb",
    "records_to_do",
]

#: Classes whose instances in a job's output jobflow stores in the additional ``data``
#: store (GridFS in production; a Hamiltonian is MB of arrays, a large cell's sparse one
#: up to hundreds of MB, beyond a MongoDB document's 16 MB), as atomate2 does for band
#: structures and charge densities.
DATA_OBJECTS: list[type] = [Hamiltonian, SparseHamiltonian]


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


def campaign_stores(*names: str) -> contextlib.AbstractContextManager[list[MongoStore]]:
    """Connect the socscreen stores ``names`` of the current job's database, then close them."""
    return job_database().connected(*names)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB; ``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def records_to_do(
    structures: MongoStore,
    results: MongoStore,
    campaign: str,
    material_ids: Sequence[str],
    model_version: str | None = None,
) -> tuple[list[StructureRecord], int]:
    """Load the records of ``material_ids`` without a finished result; count the done ones.

    With ``model_version`` a result of another model is not finished (see
    :func:`~socscreen.stores.queries.done_ids`).
    """
    done = done_ids(results, campaign, material_ids, model_version)
    todo = [i for i in material_ids if i not in done]
    return load_records(structures, campaign, todo), len(done)


class BatchSummary(BaseModel):
    """What a batch job did."""

    campaign: str = Field(description="Campaign name.")
    material_ids: list[str] = Field(description="Ids given to the batch.")
    n_processed: int = Field(0, ge=0, description="Structures handled by this run.")
    n_failed: int = Field(0, ge=0, description="Of those, structures that ended with an error.")
    n_skipped: int = Field(0, ge=0, description="Structures already done before this run.")
    seconds: float = Field(0.0, ge=0.0, description="Wall time of the batch (s).")
    cpu_seconds: float = Field(
        0.0, ge=0.0, description="CPU time of the worker process during the batch (s)."
    )
    peak_memory_mb: float | None = Field(
        None, ge=0.0, description="Peak resident memory of the worker process after the job (MB)."
    )

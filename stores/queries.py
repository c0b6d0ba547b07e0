"""Reading and writing campaign documents: upserts, "already done", filters, summaries.

All writes are upserts keyed by (campaign, material_id), which a unique index backs
(:data:`socscreen.stores.config.INDEXES`), so resubmitting or rerunning never duplicates
a document.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from maggma.core import Store

from socscreen.hamiltonian import Hamiltonian
from socscreen.stores.schemas.campaign import (
    CampaignSummaryDocument,
    MaterialClass,
    MaterialResultDocument,
    StructureRecord,
)

if TYPE_CHECKING:
    from jobflow import JobStore

    from socscreen.stores.config import DatabaseConfig

__all__ = [
    "CAMPAIGN_KEY",
    "done_ids",
    "load_hamiltonian",
    "load_records",
    "prediction_jobs",
    "require_campaign",
    "results_query",
    "save_records",
    "save_results",
    "stored_summary",
    "summarise_campaign",
]

CAMPAIGN_KEY = ["campaign", "material_id"]


def save_records(store: Store, records: Iterable[StructureRecord], campaign: str) -> int:
    """Upsert ingested records of ``campaign``; return how many were written."""
    docs = [r.model_copy(update={"campaign": campaign}).model_dump() for r in records]
    if docs:
        store.update(docs, key=CAMPAIGN_KEY)
    return len(docs)


def save_results(store: Store, docs: Iterable[MaterialResultDocument]) -> int:
    """Upsert result documents (their ``last_updated`` is set to now)."""
    now = datetime.now(UTC)
    payload = [d.model_copy(update={"last_updated": now}).model_dump() for d in docs]
    if payload:
        store.update(payload, key=CAMPAIGN_KEY)
    return len(payload)


def load_records(store: Store, campaign: str, material_ids: Sequence[str]) -> list[StructureRecord]:
    """Load the records of ``campaign`` with the given ids, in the order of ``material_ids``.

    Raises
    ------
    ValueError
        If an id has no record (the structures collection was changed under the campaign).
    """
    found = {
        d["material_id"]: StructureRecord.model_validate(d)
        for d in store.query({"campaign": campaign, "material_id": {"$in": list(material_ids)}})
    }
    missing = [i for i in material_ids if i not in found]
    if missing:
        raise ValueError(f"campaign {campaign!r} has no ingested record for {missing[:5]}")
    return [found[i] for i in material_ids]


def _predict_jobs(campaign: str) -> dict[str, Any]:
    """Criteria for the output documents of a campaign's predict jobs."""
    return {"metadata.campaign": campaign, "metadata.stage": "predict"}


def prediction_jobs(job_store: JobStore, campaign: str) -> dict[str, str]:
    """Uuid of the job whose stored Hamiltonian is each material's prediction.

    That is the latest predict job of ``campaign`` whose output holds the material's
    Hamiltonian (a resubmission with another predictor predicts it again; a job whose
    prediction of it failed holds none), as :func:`load_hamiltonian` reads it.
    ``job_store`` must be connected.
    """
    found: dict[str, str] = {}
    for doc in job_store.docs_store.query(
        _predict_jobs(campaign),
        properties=["uuid", "output.hamiltonians", "completed_at"],
        sort={"completed_at": 1},
    ):
        for item in (doc.get("output") or {}).get("hamiltonians") or []:
            found[item["material_id"]] = doc["uuid"]
    return found


def load_hamiltonian(
    job_store: JobStore, campaign: str, material_id: str, job_uuid: str | None = None
) -> Hamiltonian:
    """Load the predicted Hamiltonian of a material from the ``data`` store (GridFS).

    The one reader of a stored prediction (reports, ``socscreen show``, validations).
    The predict job ``job_uuid`` of ``campaign`` names the blob, by default the latest
    one whose output holds the material (:func:`prediction_jobs`); only that blob is
    read. ``job_store`` must be connected.

    Returns
    -------
    Hamiltonian
        As the predict job stored it (eV; compact or exact storage).

    Raises
    ------
    ValueError
        If no such prediction is stored (never predicted, failed, or removed).
    """
    criteria = {**_predict_jobs(campaign), "output.hamiltonians.material_id": material_id}
    if job_uuid is not None:
        criteria["uuid"] = job_uuid
    doc = job_store.docs_store.query_one(
        criteria, properties=["output.hamiltonians"], sort={"completed_at": -1}
    )
    blob = None
    if doc is not None:
        (item,) = [h for h in doc["output"]["hamiltonians"] if h["material_id"] == material_id]
        blob = job_store.additional_stores["data"].query_one(
            {"blob_uuid": item["hamiltonian"]["blob_uuid"]}
        )
    if blob is None:
        raise ValueError(f"no predicted Hamiltonian of {material_id} in campaign {campaign!r}")
    return Hamiltonian.from_dict(blob["data"])


def done_ids(
    store: Store,
    campaign: str,
    material_ids: Sequence[str] | None = None,
    model_version: str | None = None,
) -> set[str]:
    """Ids of ``campaign`` whose result needs no (re)processing.

    A result is done unless it carries an error of the predict or analysis stage, or,
    when ``model_version`` is given, was predicted by another model (a retrained
    checkpoint: its results are redone); results of structures that failed ingestion are
    done.
    """
    finished: dict[str, Any] = {"error": None}
    if model_version is not None:
        finished["model_version"] = model_version
    query: dict[str, Any] = {"campaign": campaign, "$or": [finished, {"error.stage": "ingest"}]}
    if material_ids is not None:
        query["material_id"] = {"$in": list(material_ids)}
    return {d["material_id"] for d in store.query(query, properties=["material_id"])}


def results_query(
    campaign: str | None = None,
    z2: Literal["strong", "weak", "qsh", "trivial", "topological"] | None = None,
    gap_min: float | None = None,
    gap_max: float | None = None,
    elements: Sequence[str] = (),
    flags: Sequence[str] = (),
    failed: bool | None = None,
    material_class: str | None = None,
    dimension: int | None = None,
    valley_splitting_min: float | None = None,
) -> dict[str, Any]:
    """MongoDB criteria for result documents.

    Parameters
    ----------
    campaign
        Campaign name.
    z2
        Z2 class; ``"topological"`` means strong, weak or qsh (a 2D quantum spin Hall sheet).
    gap_min, gap_max
        Bounds on the fundamental gap with SOC (eV).
    elements
        Elements that must all be present.
    flags
        Flags that must all be set.
    failed
        Only results with (``True``) or without (``False``) an error.
    material_class
        The verdict's class, e.g. ``"topological_semimetal"`` (see
        :mod:`socscreen.stores.verdicts`).
    dimension
        Periodic dimensions of the structure: 3 bulk, 2 a sheet with vacuum.
    valley_splitting_min
        Smallest spin splitting of the top valence band at K (eV); only hexagonal 2D
        sheets have one (``valley`` on the result).
    """
    query: dict[str, Any] = {}
    if campaign:
        query["campaign"] = campaign
    if z2 == "topological":
        query["z2.classification"] = {"$in": ["strong", "weak", "qsh"]}
    elif z2:
        query["z2.classification"] = z2
    gap = {k: v for k, v in (("$gte", gap_min), ("$lte", gap_max)) if v is not None}
    if gap:
        query["gap_eV"] = gap
    if elements:
        query["elements"] = {"$all": list(elements)}
    if flags:
        query["flags"] = {"$all": list(flags)}
    if failed is not None:
        query["error"] = {"$ne": None} if failed else None
    if material_class:
        query["verdict.material_class"] = material_class
    if dimension is not None:
        query["dimension"] = dimension
    if valley_splitting_min is not None:
        query["valley.valence_splitting_eV"] = {"$gte": valley_splitting_min}
    return query


def stored_summary(campaigns: Store, campaign: str) -> CampaignSummaryDocument | None:
    """Read the summary document of ``campaign`` (``None`` if none); ``campaigns`` connected."""
    stored = campaigns.query_one({"campaign": campaign}, properties={"_id": 0})
    return None if stored is None else CampaignSummaryDocument.model_validate(stored)


def require_campaign(db: DatabaseConfig, campaign: str) -> CampaignSummaryDocument:
    """Read the summary document of ``campaign`` from the database ``db``.

    Raises
    ------
    ValueError
        If the database holds no campaign of that name.
    """
    with db.connected("campaigns") as (campaigns,):
        summary = stored_summary(campaigns, campaign)
    if summary is None:
        raise ValueError(f"no campaign {campaign!r} in {db.describe()}")
    return summary


def summarise_campaign(
    structures: Store, results: Store, candidates: Store, campaigns: Store, campaign: str
) -> CampaignSummaryDocument:
    """Recount a campaign's documents and upsert its summary in ``campaigns``.

    Ingestion counts, sources, filters, settings and workflow ids already stored for the
    campaign are kept; the stores must be connected.
    """
    summary = stored_summary(campaigns, campaign) or CampaignSummaryDocument(campaign=campaign)
    by_class = {
        c: results.count({"campaign": campaign, "z2.classification": c})
        for c in ("strong", "weak", "qsh", "trivial")
    }
    by_verdict = {
        c: results.count({"campaign": campaign, "verdict.material_class": c})
        for c in get_args(MaterialClass)
    }
    summary = summary.model_copy(
        update={
            "n_structures": structures.count({"campaign": campaign, "error": None}),
            "n_results": results.count({"campaign": campaign}),
            "n_failed": results.count({"campaign": campaign, "error": {"$ne": None}}),
            "n_candidates": candidates.count({"campaign": campaign}),
            "by_class": by_class,
            "by_verdict": {c: n for c, n in by_verdict.items() if n},
            "last_updated": datetime.now(UTC),
        }
    )
    campaigns.update([summary.model_dump()], key="campaign")
    return summary

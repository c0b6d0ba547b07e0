"""Submitting a structure source to a campaign: ingestion, bookkeeping, the workflow.

A submission is idempotent:

* every entry of the source is accounted for once: a record, a merge named on the
  record it was merged into (also across sources: an entry with the id of a record
  another file gave stays a merge into that record), a filter rejection or a skipped
  entry with its reason; the campaign document keeps one :class:`SourceSubmission` per
  source path, replaced when the source is submitted again, and its counts are sums over
  those, so a resubmission never counts a source twice;
* a structure is submitted only if it has no finished result of the campaign's
  prediction version and no Firework of the campaign waiting to process it with that
  version: submitting twice before the workers run adds one workflow, not two; changed
  settings (another predictor or model version) add only the work they make new;
* a source with no structure entry at all (an empty folder, a folder of text files) is
  refused before anything is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maggma.core import Store

from socscreen.makers.predict import expected_prediction_version
from socscreen.stores.config import DatabaseConfig
from socscreen.stores.queries import done_ids, save_records, save_results, stored_summary
from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    CampaignSummaryDocument,
    MaterialResultDocument,
    MergedEntry,
    SourceSubmission,
    StructureFilter,
    StructureRecord,
)
from socscreen.workflows.ingestion import IngestReport, Merge, ingest, open_source, source_kind

if TYPE_CHECKING:
    from fireworks import LaunchPad

    from socscreen.workflows.campaign import CampaignMaker

__all__ = ["PENDING_STATES", "SubmitReport", "pending_ids", "submit_campaign"]

#: FireWorks states of a Firework that has still to run (or is running).
PENDING_STATES = ("WAITING", "READY", "RESERVED", "RUNNING", "PAUSED")
_BATCH_STAGES = ("fanout", "predict", "analyse")


@dataclass
class SubmitReport:
    """What a submission did.

    Attributes
    ----------
    campaign
        Campaign name.
    ingest
        Ingestion report of the source.
    n_todo
        Structures the new workflow processes.
    fw_id
        FireWorks id of the new workflow's fan-out Firework, ``None`` if nothing was new.
    n_done
        Structures left out because they have a finished result of this version.
    n_pending
        Structures left out because a Firework submitted before will process them.
    """

    campaign: str
    ingest: IngestReport
    n_todo: int
    fw_id: int | None
    n_done: int = 0
    n_pending: int = 0


def submit_campaign(
    db: DatabaseConfig,
    source: str | os.PathLike,
    campaign: str,
    settings: CampaignSettings | None = None,
    filters: StructureFilter | None = None,
    maker: CampaignMaker | None = None,
    supported_elements: Collection[str] | None = None,
    merge_duplicates: bool = True,
    progress: bool = False,
) -> SubmitReport:
    """Ingest a structure source into ``campaign`` and submit the new work to FireWorks.

    Parameters
    ----------
    db
        Database of the launchpad and the stores.
    source
        GNoME CSV or folder, folder of CIF/POSCAR files, or pymatgen JSON list.
    campaign
        Campaign name.
    settings
        Campaign settings (default :class:`CampaignSettings`).
    filters
        Structure filter.
    maker
        Campaign flow maker (its batch makers hold the per-structure functions).
    supported_elements
        Elements the predictor covers (:func:`socscreen.model.predictors.covered_elements`);
        others give an ingestion error (``None``: no check).
    merge_duplicates
        Merge entries of the same crystal (``StructureMatcher``, which scales volumes:
        strained copies of one crystal count as duplicates); entries of the same id are
        merged either way.
    progress
        Show a progress bar while ingesting.

    Raises
    ------
    ValueError
        If the campaign name is empty, the source unreadable or without any structure
        entry; nothing is written then.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from socscreen.workflows.campaign import CampaignMaker

    if not campaign or not campaign.strip():
        raise ValueError("campaign name must not be empty")
    settings = settings or CampaignSettings()
    filters = filters or StructureFilter()
    report = ingest(
        open_source(source),
        filters,
        settings.max_sites,
        supported_elements,
        merge_duplicates=merge_duplicates,
        progress=progress,
    )
    if report.n_read == len(report.skipped):
        raise ValueError(_nothing_to_read(source, report))
    db.ensure_indexes()
    with db.connected("structures", "results", "campaigns") as (structures, results, campaigns):
        keepers = merge_across_sources(structures, campaign, report)
        ok_ids = [r.material_id for r in report.ok]
        version = expected_prediction_version(settings)
        launchpad = db.launchpad()
        done = _done_ids(results, campaign, ok_ids, version)
        pending = pending_ids(launchpad, campaign, version) & (set(ok_ids) - done)
        todo = [i for i in ok_ids if i not in done and i not in pending]
        save_records(structures, report.records + keepers, campaign)
        save_results(results, _ingest_failures(results, campaign, report))
        fw_id = None
        if todo:
            flow = (maker or CampaignMaker()).make(campaign, todo, settings)
            workflow = flow_to_workflow(flow, metadata={"campaign": campaign})
            fan_out_id = workflow.fws[0].fw_id  # flows list the fan-out first
            fw_id = launchpad.add_wf(workflow)[fan_out_id]
        _record_submission(campaigns, campaign, source, report, settings, filters, fw_id)
    return SubmitReport(campaign, report, len(todo), fw_id, len(done), len(pending))


def _nothing_to_read(source: str | os.PathLike, report: IngestReport) -> str:
    """One line saying why ``source`` gives no structure entry."""
    if not report.skipped:
        return f"{source} holds no structure entry: nothing submitted"
    names = ", ".join(s.entry for s in report.skipped[:3])
    more = f" and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
    return f"{source} holds no CIF or POSCAR file (skipped {names}{more}): nothing submitted"


def pending_ids(launchpad: LaunchPad, campaign: str, version: str | None) -> set[str]:
    """Ids that not yet finished Fireworks of ``campaign`` will predict with ``version``.

    Reads the fan-out, predict and analyse Fireworks in a :data:`PENDING_STATES` state;
    ``version`` is the prediction version label of their settings
    (:func:`~socscreen.makers.predict.expected_prediction_version`).
    """
    query = {
        "spec.campaign": campaign,
        "spec.stage": {"$in": list(_BATCH_STAGES)},
        "state": {"$in": list(PENDING_STATES)},
    }
    versions: dict[str, str | None] = {}
    ids: set[str] = set()
    for doc in launchpad.fireworks.find(query, {"spec.settings": 1, "spec._tasks": 1}):
        spec = doc["spec"]
        key = json.dumps(spec["settings"], sort_keys=True)
        if key not in versions:
            versions[key] = expected_prediction_version(
                CampaignSettings.model_validate(spec["settings"])
            )
        if versions[key] == version:
            ids.update(spec["_tasks"][0]["job"]["function_args"][1])  # (campaign, ids, ...)
    return ids


def _done_ids(results: Store, campaign: str, ok_ids: list[str], version: str | None) -> set[str]:
    """Ids with a finished result; an ingestion error of an id that now ingests is dropped.

    (A structure rejected for an element the model lacks ingests under the baseline
    predictor: its old error result must not count as done.)
    """
    if ok_ids:
        results.remove_docs(
            {"campaign": campaign, "material_id": {"$in": ok_ids}, "error.stage": "ingest"}
        )
    return done_ids(results, campaign, ok_ids, version)


def _ingest_failures(
    results: Store, campaign: str, report: IngestReport
) -> list[MaterialResultDocument]:
    """Error results of the records that failed ingestion, never over a finished result."""
    ids = [r.material_id for r in report.errors]
    finished = {
        d["material_id"]
        for d in results.query(
            {"campaign": campaign, "material_id": {"$in": ids}, "error": None}, ["material_id"]
        )
    }
    return [
        MaterialResultDocument.from_record(r, campaign)
        for r in report.errors
        if r.material_id not in finished
    ]


def merge_across_sources(
    structures: Store, campaign: str, report: IngestReport
) -> list[StructureRecord]:
    """Merge the report's records into records the campaign holds from other entries.

    A record of the same id stored from another entry (another file or source) stays the
    keeper: the new entry and the entries merged into it move to the keeper's ``merged``
    and out of ``report.records`` (into ``report.merges``). A record stored from the same
    entry (a resubmission) is replaced, keeping what other sources merged into it.

    Returns
    -------
    list of StructureRecord
        The stored keepers with their new ``merged`` entries, to be saved.
    """
    ids = [r.material_id for r in report.records]
    stored = {
        d["material_id"]: StructureRecord.model_validate(d)
        for d in structures.query(
            {"campaign": campaign, "material_id": {"$in": ids}}, properties={"_id": 0}
        )
    }
    kept: list[StructureRecord] = []
    keepers: list[StructureRecord] = []
    for record in report.records:
        old = stored.get(record.material_id)
        if old is None:
            kept.append(record)
            continue
        path = record.source.path
        if _where(old.source) == _where(record.source):
            record.merged = _other_sources(old, path) + record.merged
            kept.append(record)
            continue
        entry = MergedEntry(source=record.source, material_id=record.material_id, reason="same id")
        fresh = [entry, *record.merged]
        merged = _other_sources(old, path) + fresh
        old.merged = [m for m in merged if _where(m.source) != _where(old.source)]
        keepers.append(old)
        report.merges = [
            Merge(m.entry, m.keeper_id, old.source) if m.keeper_id == old.material_id else m
            for m in report.merges
        ] + [Merge(entry, old.material_id, old.source)]
    report.records = kept
    return keepers


def _where(source: Any) -> tuple[str, str | None]:
    return source.path, source.entry


def _other_sources(record: StructureRecord, path: str) -> list[MergedEntry]:
    """Entries merged into ``record`` from sources other than ``path``."""
    return [m for m in record.merged if m.source.path != path]


def _record_submission(
    campaigns: Store,
    campaign: str,
    source: str | os.PathLike,
    report: IngestReport,
    settings: CampaignSettings,
    filters: StructureFilter,
    fw_id: int | None,
) -> None:
    """Put the source's submission on the campaign document and recount the totals."""
    doc = stored_summary(campaigns, campaign) or CampaignSummaryDocument(campaign=campaign)
    path = str(Path(source).resolve())
    submission = SourceSubmission(
        kind=source_kind(path),
        path=path,
        n_read=report.n_read,
        n_structures=len(report.ok),
        n_ingest_errors=len(report.errors),
        n_merged=report.n_duplicates,
        filtered=dict(report.filtered),
        skipped=report.skipped,
        ingest_time=report.seconds,
    )
    sources = [s for s in doc.sources if s.path != path] + [submission]
    doc = doc.model_copy(
        update={
            "sources": sources,
            "filters": filters,
            "settings": settings,
            "n_read": sum(s.n_read for s in sources),
            "n_filtered": sum(s.n_filtered for s in sources),
            "n_duplicates": sum(s.n_merged for s in sources),
            "n_ingest_errors": sum(s.n_ingest_errors for s in sources),
            "n_skipped": sum(len(s.skipped) for s in sources),
            "workflow_ids": doc.workflow_ids + ([fw_id] if fw_id is not None else []),
            "ingest_time": sum(s.ingest_time for s in sources),
        }
    )
    campaigns.update([doc.model_dump()], key="campaign")

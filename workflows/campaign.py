"""Screening campaigns: ingestion, the campaign flow with dynamic fan-out, submission.

Flow of a campaign (one per submission)::

    fan-out(ids) ──replace──> predict 1 ──> analyse 1 ─┐
                              ...                       ├──> summary
                              predict n ──> analyse n ─┘

* ingestion runs at submission (:func:`~socscreen.workflows.submission.submit_campaign`,
  re-exported here): records go to the ``structures`` collection, structures that failed
  ingestion get an error result at once, and the flow carries only ids (a GNoME dump
  does not fit in a Firework spec);
* the fan-out job skips ids already done, splits the rest into batches of
  ``settings.batch_size`` and returns ``Response(replace=Flow(...))`` with a predict and
  an analyse job per batch; FireWorks inserts them before the summary, so workers keep
  polling while it runs;
* each predict job (:class:`~socscreen.makers.predict.PredictBatchMaker`) puts its
  Hamiltonians in the ``data`` store (GridFS); the analyse job of the same batch
  (:class:`~socscreen.makers.analyse.AnalyseBatchMaker`) gets them through the output
  reference and upserts one result or error document per structure. It also runs when
  its predict job fizzled, recording the missing prediction per structure;
* the summary job (:class:`~socscreen.makers.summary.CampaignSummaryMaker`) runs after all
  batches, failed ones included, builds ``candidates`` and the campaign document.

Every job carries the metadata ``campaign``, ``model_version``, ``settings`` and
``stage``. FireWorks categories (``_category`` in the spec) route the stages to workers:
by default predict jobs are ``"predict"`` and everything else ``"analyse"``, so a worker
without a category runs all of it, a GPU worker started with category ``predict`` only
predictions and CPU workers with category ``analyse`` the analysis and bookkeeping.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal, get_args

from jobflow import Flow, Job, Maker, OnMissing, Response

from socscreen.makers.analyse import AnalyseBatchMaker
from socscreen.makers.batch import campaign_job, campaign_stores
from socscreen.makers.predict import PredictBatchMaker, expected_prediction_version
from socscreen.makers.summary import CampaignSummaryMaker
from socscreen.stores.queries import done_ids
from socscreen.stores.schemas.campaign import CampaignSettings
from socscreen.workflows.submission import SubmitReport, submit_campaign

__all__ = [
    "DEFAULT_CATEGORIES",
    "STAGES",
    "CampaignMaker",
    "SubmitReport",
    "fan_out",
    "submit_campaign",
]

JobStage = Literal["fanout", "predict", "analyse", "summary"]
STAGES: tuple[str, ...] = get_args(JobStage)

#: FireWorks category per stage: predictions apart (e.g. a GPU worker), the light
#: bookkeeping jobs with the analysis.
DEFAULT_CATEGORIES: dict[str, str] = {
    "fanout": "analyse",
    "predict": "predict",
    "analyse": "analyse",
    "summary": "analyse",
}


def _configure(
    new_job: Job,
    stage: JobStage,
    campaign: str,
    settings: CampaignSettings,
    categories: dict[str, str],
    allow_missing: bool = False,
) -> Job:
    """Give a campaign job its own config (store exposed, category) and metadata."""
    category = categories.get(stage)
    new_job.config = dataclasses.replace(
        new_job.config,
        expose_store=True,
        manager_config={"_category": category} if category else {},
        pass_manager_config=False,
        on_missing_references=OnMissing.NONE if allow_missing else OnMissing.ERROR,
    )
    new_job.update_metadata(
        {
            "campaign": campaign,
            "model_version": settings.model_version,
            "settings": settings.model_dump(),
            "stage": stage,
        },
        dynamic=False,  # jobs the fan-out creates get their own stage
    )
    return new_job


@campaign_job
def fan_out(
    campaign: str,
    material_ids: list[str],
    settings: CampaignSettings,
    predict_maker: PredictBatchMaker,
    analyse_maker: AnalyseBatchMaker,
    categories: dict[str, str],
) -> Response:
    """Split the not yet done ids of ``campaign`` into predict + analyse job pairs.

    Returns
    -------
    Response
        Output: ``{"n_batches", "n_todo", "n_done"}``; replacement: the batch jobs.
    """
    with campaign_stores("results") as (results,):
        done = done_ids(results, campaign, material_ids, expected_prediction_version(settings))
    todo = [i for i in material_ids if i not in done]
    size = settings.batch_size
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    jobs = []
    for number, ids in enumerate(chunks, 1):
        predicted = predict_maker.make(campaign, ids, settings)
        analysed = analyse_maker.make(campaign, ids, predicted.output, settings)
        tag = f"{campaign} {number}/{len(chunks)}"
        predicted.name, analysed.name = f"{predict_maker.name} {tag}", f"{analyse_maker.name} {tag}"
        _configure(predicted, "predict", campaign, settings, categories)
        # a fizzled prediction still gets its structures' error documents written
        _configure(analysed, "analyse", campaign, settings, categories, allow_missing=True)
        jobs += [predicted, analysed]
    output = {"n_batches": len(chunks), "n_todo": len(todo), "n_done": len(done)}
    return Response(output=output, replace=Flow(jobs) if jobs else None)


@dataclass
class CampaignMaker(Maker):
    """Build the flow of one campaign submission.

    Parameters
    ----------
    name
        Flow name prefix.
    predict_maker
        Maker of the predict jobs; its ``predictor`` is the per-structure function.
    analyse_maker
        Maker of the analyse jobs; its ``analyser`` is the per-structure function.
    summary_maker
        Maker of the final job (candidates and campaign summary).
    categories
        FireWorks category per stage (``"fanout"``, ``"predict"``, ``"analyse"``,
        ``"summary"``), default :data:`DEFAULT_CATEGORIES`; stages left out run on any
        worker. A worker without a category runs every stage.
    """

    name: str = "campaign"
    predict_maker: PredictBatchMaker = field(default_factory=PredictBatchMaker)
    analyse_maker: AnalyseBatchMaker = field(default_factory=AnalyseBatchMaker)
    summary_maker: CampaignSummaryMaker = field(default_factory=CampaignSummaryMaker)
    categories: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CATEGORIES))

    def __post_init__(self) -> None:
        unknown = set(self.categories) - set(STAGES)
        if unknown:
            raise ValueError(
                f"unknown campaign stage(s) {sorted(unknown)} in categories; "
                f"stages are {', '.join(STAGES)}"
            )

    def make(self, campaign: str, material_ids: list[str], settings: CampaignSettings) -> Flow:
        """Flow of fan-out and summary for ``material_ids`` of ``campaign``."""
        split = fan_out(
            campaign,
            list(material_ids),
            settings,
            self.predict_maker,
            self.analyse_maker,
            self.categories,
        )
        split.name = f"fan-out {campaign}"
        _configure(split, "fanout", campaign, settings, self.categories)
        # the summary waits for the fan-out, and so for the batches FireWorks inserts
        # before it; it also runs when a batch fizzled (missing references allowed)
        summary = self.summary_maker.make(campaign, settings, after=split.output["n_batches"])
        summary.name = f"{self.summary_maker.name} {campaign}"
        _configure(summary, "summary", campaign, settings, self.categories, allow_missing=True)
        return Flow([split, summary], output=summary.output, name=f"{self.name} {campaign}")

"""Last job of a campaign flow: build the candidates and the campaign summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobflow import Maker

from socscreen.makers.batch import campaign_job, job_database
from socscreen.stores.builders import (
    CandidateBuilder,
    Criterion,
    run_builder,
    select_candidates,
)
from socscreen.stores.queries import summarise_campaign
from socscreen.stores.schemas.campaign import CampaignSettings, CampaignSummaryDocument

__all__ = ["CampaignSummaryMaker"]


@dataclass
class CampaignSummaryMaker(Maker):
    """Derive ``candidates`` from ``results`` and recount the campaign.

    Parameters
    ----------
    name
        Job name.
    criterion
        Selection rule of the :class:`~socscreen.stores.builders.CandidateBuilder`
        (``(result, min_gap) -> CandidateDocument | None``), default
        :func:`~socscreen.stores.builders.select_candidates`.
    """

    name: str = "campaign summary"
    criterion: Criterion = select_candidates

    @campaign_job
    def make(
        self, campaign: str, settings: CampaignSettings, after: Any = None
    ) -> CampaignSummaryDocument:
        """Run the candidate builder on ``campaign`` and store its summary document.

        Parameters
        ----------
        campaign
            Campaign name.
        settings
            Campaign settings; the candidate threshold is ``settings.min_gap`` (eV).
        after
            Output reference of the job to wait for (its value is not used): the summary
            reads the ``results`` collection, not job outputs.
        """
        db = job_database()
        builder = CandidateBuilder(
            db.store("results"),
            db.store("candidates"),
            campaign=campaign,
            criterion=self.criterion,
            min_gap=settings.min_gap,
        )
        run_builder(builder)
        with db.connected("structures", "results", "candidates", "campaigns") as stores:
            return summarise_campaign(*stores, campaign)

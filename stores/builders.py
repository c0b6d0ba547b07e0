"""The ``candidates`` collection, derived from ``results`` by a maggma Builder.

The per-document decision is the plain function :func:`select_candidates`; the builder
only feeds it results and writes (or removes) candidates, so a test can call either.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from maggma.core import Builder, Store

from socscreen.stores.schemas.campaign import CandidateDocument, MaterialResultDocument
from socscreen.stores.verdicts import judge_result

__all__ = [
    "DEFAULT_MIN_GAP",
    "CandidateBuilder",
    "Criterion",
    "run_builder",
    "select_candidates",
]

#: Smallest fundamental gap with SOC of a topological candidate (eV).
DEFAULT_MIN_GAP = 0.01

#: A selection rule: result and minimum gap (eV) to candidate or ``None``.
Criterion = Callable[[MaterialResultDocument, float], CandidateDocument | None]


def select_candidates(
    doc: MaterialResultDocument | dict[str, Any], min_gap: float = DEFAULT_MIN_GAP
) -> CandidateDocument | None:
    """Select a result as a candidate by its verdict (:func:`.verdicts.judge_result`).

    Topological insulators (Z2 != 0 with a gap of at least ``min_gap``; a 2D sheet: a
    quantum spin Hall insulator) and topological semimetals (Z2 != 0, the direct gap
    open at every k, but the bands overlap or the gap is below ``min_gap``) are selected.

    Parameters
    ----------
    doc
        A result document (or its stored dict).
    min_gap
        Smallest fundamental gap with SOC that counts as a gap (eV).

    Returns
    -------
    CandidateDocument or None
        The candidate with the reasons of its selection (the verdict's reason first),
        or ``None``.
    """
    if not isinstance(doc, MaterialResultDocument):
        doc = MaterialResultDocument.model_validate(doc)
    verdict = judge_result(doc, min_gap)
    if not verdict.candidate:
        return None
    reasons = [verdict.reason]
    if doc.flags:
        reasons.append(f"flags: {', '.join(doc.flags)}")
    return CandidateDocument(
        material_id=doc.material_id,
        campaign=doc.campaign,
        formula=doc.formula,
        reduced_formula=doc.reduced_formula,
        elements=doc.elements,
        z2=doc.z2,
        gap_eV=doc.gap_eV,
        reasons=reasons,
        result_last_updated=doc.last_updated,
    )


class CandidateBuilder(Builder):
    """Derive ``candidates`` from ``results`` with a selection rule.

    Every result of the campaign (all campaigns if ``campaign`` is ``None``) is passed to
    ``criterion``; selected ones are upserted by (campaign, material_id), results no
    longer selected lose their candidate document. ``Builder.run()`` closes both stores.

    Parameters
    ----------
    results, candidates
        Source and target stores.
    campaign
        Restrict to one campaign.
    criterion
        Selection rule, default :func:`select_candidates`.
    min_gap
        Passed to the criterion (eV).
    """

    def __init__(
        self,
        results: Store,
        candidates: Store,
        campaign: str | None = None,
        criterion: Criterion = select_candidates,
        min_gap: float = DEFAULT_MIN_GAP,
        **kwargs: Any,
    ) -> None:
        self.results = results
        self.candidates = candidates
        self.campaign = campaign
        self.criterion = criterion
        self.min_gap = min_gap
        super().__init__(sources=[results], targets=[candidates], **kwargs)

    def get_items(self) -> Iterator[dict[str, Any]]:
        """Yield the stored result documents of the campaign."""
        query = {} if self.campaign is None else {"campaign": self.campaign}
        yield from self.results.query(criteria=query, properties={"_id": 0})

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """Apply the criterion to one result."""
        candidate = self.criterion(MaterialResultDocument.model_validate(item), self.min_gap)
        return {
            "campaign": item["campaign"],
            "material_id": item["material_id"],
            "candidate": None if candidate is None else candidate.model_dump(),
        }

    def update_targets(self, items: list[dict[str, Any]]) -> None:
        """Upsert selected candidates and remove deselected ones."""
        selected = [i["candidate"] for i in items if i["candidate"] is not None]
        if selected:
            self.candidates.update(selected, key=["campaign", "material_id"])
        dropped: dict[str, list[str]] = defaultdict(list)
        for item in items:
            if item["candidate"] is None:
                dropped[item["campaign"]].append(item["material_id"])
        for campaign, ids in dropped.items():
            self.candidates.remove_docs({"campaign": campaign, "material_id": {"$in": ids}})


def run_builder(builder: Builder) -> None:
    """Run a maggma builder without leaving its logging set-up behind.

    ``Builder.run()`` sets the root logger to DEBUG and adds a handler to it on every
    call, which would fill worker logs with driver chatter; the root logger's level and
    handlers are restored afterwards. The builder's stores are closed by ``run()``.
    """
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        builder.run(log_level=logging.WARNING)
    finally:
        root.setLevel(level)
        root.handlers = handlers

"""Validation reruns in the database: which results to rerun, and their stored outcome.

* :func:`selection_query` turns the ``socscreen rerun`` selectors (candidates,
  low confidence, disagreeing Z2 routes, a user query) into MongoDB criteria on
  ``results``;
* :func:`save_validation` upserts a :class:`ValidationDocument` by ``validation_id``
  (unique index), :func:`load_validations` reads them back;
* :func:`save_training_record` upserts a :class:`TrainingDataRecord` by file path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from maggma.core import Store

from socscreen.stores.schemas.validation import (
    SelectionReason,
    TrainingDataRecord,
    ValidationDocument,
)

__all__ = [
    "DEFAULT_MAX_CONFIDENCE",
    "load_validations",
    "save_training_record",
    "save_validation",
    "selection_query",
    "selection_reasons",
]

#: Results below this confidence count as low-confidence (see analysis.screening.z2_confidence).
DEFAULT_MAX_CONFIDENCE = 0.5


def selection_query(
    campaign: str,
    reasons: Sequence[SelectionReason],
    candidate_ids: Iterable[str] = (),
    max_confidence: float = DEFAULT_MAX_CONFIDENCE,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """MongoDB criteria on ``results`` for the materials of ``campaign`` to validate.

    The selectors in ``reasons`` are alternatives (a result matching any is selected);
    ``extra`` (a user's MongoDB criteria) must hold as well. Results carrying an error
    have no prediction and are never selected.

    Parameters
    ----------
    campaign
        Campaign name.
    reasons
        ``"candidate"`` (ids in ``candidate_ids``), ``"low_confidence"`` (confidence
        below ``max_confidence``), ``"route_disagreement"`` (parity and Wilson-loop Z2
        differ), ``"query"`` (everything ``extra`` matches).
    candidate_ids
        Material ids of the campaign's candidates collection.
    max_confidence
        Confidence (0-1) below which a result is low-confidence.
    extra
        Further criteria on result documents.

    Raises
    ------
    ValueError
        If no selector is given, ``"query"`` comes without ``extra``, or a selector is
        unknown.
    """
    if not reasons:
        raise ValueError("choose at least one selector (candidates, low confidence, ...)")
    alternatives: list[dict[str, Any]] = []
    for reason in reasons:
        if reason == "candidate":
            alternatives.append({"material_id": {"$in": sorted(candidate_ids)}})
        elif reason == "low_confidence":
            alternatives.append({"confidence": {"$lt": max_confidence}})
        elif reason == "route_disagreement":
            alternatives.append(
                {"$or": [{"z2.routes_agree": False}, {"flags": "z2_routes_disagree"}]}
            )
        elif reason == "query":
            if not extra:
                raise ValueError("the 'query' selector needs criteria")
            alternatives.append({})
        else:
            raise ValueError(f"unknown selector {reason!r}")
    criteria: list[dict[str, Any]] = [
        {"campaign": campaign},
        {"error": None},
        {"$or": alternatives} if len(alternatives) > 1 else alternatives[0],
    ]
    if extra:
        criteria.append(extra)
    return {"$and": [c for c in criteria if c]}


def selection_reasons(
    result: dict[str, Any],
    reasons: Sequence[SelectionReason],
    candidate_ids: Iterable[str],
    max_confidence: float = DEFAULT_MAX_CONFIDENCE,
) -> list[SelectionReason]:
    """Which of ``reasons`` a selected result document satisfies (for the record)."""
    candidates = set(candidate_ids)
    z2 = result.get("z2") or {}
    confidence = result.get("confidence")
    checks: dict[str, bool] = {
        "candidate": result["material_id"] in candidates,
        "low_confidence": confidence is not None and confidence < max_confidence,
        "route_disagreement": z2.get("routes_agree") is False
        or "z2_routes_disagree" in (result.get("flags") or []),
        "query": True,
    }
    return [r for r in reasons if checks[r]]


def save_validation(store: Store, doc: ValidationDocument) -> None:
    """Upsert a validation by ``validation_id`` (a rerun replaces the older document)."""
    store.update([doc.model_dump()], key="validation_id")


def load_validations(
    store: Store, campaign: str | None = None, route: str | None = None
) -> list[ValidationDocument]:
    """Load the validations of a campaign (all campaigns if ``None``), by material id."""
    criteria = {k: v for k, v in (("campaign", campaign), ("route", route)) if v}
    docs = store.query(criteria, properties={"_id": 0}, sort={"material_id": 1})
    return [ValidationDocument.model_validate(d) for d in docs]


def save_training_record(store: Store, record: TrainingDataRecord) -> None:
    """Upsert the record of a training-data file by its path."""
    store.update([record.model_dump()], key="path")

"""Validation reruns: flagged results of a campaign rerun with DFT through FireWorks.

:func:`submit_rerun` picks results of a campaign (its candidates, low-confidence
assignments, disagreeing Z2 routes, or a user's MongoDB query; see
:func:`socscreen.stores.validations.selection_query`), turns each into a
:class:`~socscreen.stores.schemas.validation.ValidationTarget` that links to its
prediction (material id, model version, the uuid of the job that predicted it) and
submits one validation job (or flow) per material to the campaign's launchpad:

* the route's maker comes from :data:`ROUTES` (``gpaw``: the open reference in
  :mod:`socscreen.makers.gpaw_validation`; ``vasp``: atomate2 in
  :mod:`socscreen.makers.vasp_validation`);
* every job carries the metadata ``campaign``, ``material_id``, ``validation_id``,
  ``route`` and ``stage = "validation"`` (in the Firework spec) and the FireWorks
  category ``dft`` by default, so that DFT runs go to their own workers
  (``socscreen campaign run --category dft``);
* resubmitting never duplicates: materials that already have a validation by the route
  (unless ``force``) or a validation Firework waiting or running are skipped.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Maker

from socscreen.stores.config import DatabaseConfig
from socscreen.stores.queries import prediction_jobs, require_campaign
from socscreen.stores.schemas.campaign import (
    MaterialResultDocument,
)
from socscreen.stores.schemas.validation import (
    SelectionReason,
    ValidationRoute,
    ValidationTarget,
    validation_id,
)
from socscreen.stores.validations import (
    DEFAULT_MAX_CONFIDENCE,
    selection_query,
    selection_reasons,
)

__all__ = [
    "DFT_CATEGORY",
    "FLAGGED",
    "IN_FLIGHT",
    "ROUTES",
    "RerunReport",
    "route_maker",
    "select_targets",
    "submit_rerun",
]

#: Maker class of each route, ``"module:Class"``; ``Class(soc_off_twin=...)`` makes it
#: and ``.make(target)`` returns a Job or Flow that stores a ValidationDocument.
ROUTES: dict[str, str] = {
    "gpaw": "socscreen.makers.gpaw_validation:GPAWValidationMaker",
    "vasp": "socscreen.makers.vasp_validation:VaspValidationMaker",
}
#: FireWorks category of validation jobs unless told otherwise.
DFT_CATEGORY = "dft"
#: The selectors used when none is given: every kind of flagged result.
FLAGGED: tuple[SelectionReason, ...] = ("candidate", "low_confidence", "route_disagreement")
#: Firework states of a validation that is still to finish.
IN_FLIGHT = ("WAITING", "READY", "RESERVED", "RUNNING", "PAUSED")


def route_maker(route: ValidationRoute, soc_off_twin: bool = False, **kwargs: Any) -> Maker:
    """Build the maker of a validation route.

    Parameters
    ----------
    route
        ``"gpaw"`` or ``"vasp"``.
    soc_off_twin
        Also run and compare the calculation without spin-orbit coupling.
    **kwargs
        Further fields of the route's maker.

    Raises
    ------
    ValueError
        If the route is unknown or its maker cannot be imported (e.g. VASP support
        missing).
    """
    if route not in ROUTES:
        raise ValueError(f"unknown validation route {route!r}; known: {sorted(ROUTES)}")
    module_name, _, class_name = ROUTES[route].partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"validation route {route!r} is not available: {exc}") from exc
    return cls(soc_off_twin=soc_off_twin, **kwargs)


def select_targets(
    db: DatabaseConfig,
    campaign: str,
    reasons: Sequence[SelectionReason] = FLAGGED,
    extra: dict[str, Any] | None = None,
    max_confidence: float = DEFAULT_MAX_CONFIDENCE,
) -> list[ValidationTarget]:
    """Results of ``campaign`` to validate, as targets linked to their predictions.

    Parameters
    ----------
    db
        Database of the campaign.
    campaign
        Campaign name.
    reasons
        Selectors (alternatives), see :func:`~socscreen.stores.validations.selection_query`.
    extra
        MongoDB criteria on result documents that must hold as well.
    max_confidence
        Confidence below which a result counts as low-confidence (0-1).

    Returns
    -------
    list of ValidationTarget
        Sorted by material id.

    Raises
    ------
    ValueError
        If the campaign does not exist or the selection is invalid.
    """
    settings = require_campaign(db, campaign).settings
    with db.connected("candidates", "results") as (candidates, results):
        candidate_ids = {d["material_id"] for d in candidates.query({"campaign": campaign})}
        criteria = selection_query(campaign, reasons, candidate_ids, max_confidence, extra)
        docs = list(results.query(criteria, properties={"_id": 0}, sort={"material_id": 1}))
    uuids: dict[str, str] = {}
    if docs:
        with db.connected_job_store() as job_store:
            uuids = prediction_jobs(job_store, campaign)
    return [
        ValidationTarget.from_result(
            MaterialResultDocument.model_validate(doc),
            settings,
            reasons=selection_reasons(doc, reasons, candidate_ids, max_confidence),
            prediction_job_uuid=uuids.get(doc["material_id"]),
        )
        for doc in docs
    ]


@dataclass
class RerunReport:
    """What a rerun submission did.

    Attributes
    ----------
    campaign, route
        Campaign and DFT route.
    selected
        Material ids the selection matched.
    submitted
        Ids whose validation was submitted now.
    already_validated
        Ids skipped because a validation by the route exists (without ``force``).
    in_flight
        Ids skipped because their validation Firework is still waiting or running.
    fw_ids
        Firework id of each submitted validation's first job.
    """

    campaign: str
    route: str
    selected: list[str] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    already_validated: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    fw_ids: dict[str, int] = field(default_factory=dict)


def _existing(db: DatabaseConfig, ids: list[str]) -> tuple[set[str], set[str]]:
    """Split ``ids`` into those already stored and those with a Firework still to finish."""
    with db.connected("validations") as (store,):
        done = {d["validation_id"] for d in store.query({"validation_id": {"$in": ids}})}
    launchpad = db.launchpad()
    pending = launchpad.fireworks.find(
        {"spec.validation_id": {"$in": ids}, "state": {"$in": list(IN_FLIGHT)}},
        {"spec.validation_id": 1},
    )
    return done, {d["spec"]["validation_id"] for d in pending}


def submit_rerun(
    db: DatabaseConfig,
    campaign: str,
    route: ValidationRoute = "gpaw",
    reasons: Sequence[SelectionReason] = FLAGGED,
    extra: dict[str, Any] | None = None,
    max_confidence: float = DEFAULT_MAX_CONFIDENCE,
    limit: int | None = None,
    soc_off_twin: bool = False,
    category: str | None = DFT_CATEGORY,
    force: bool = False,
    maker: Maker | None = None,
) -> RerunReport:
    """Select results of ``campaign`` and submit their validation to the launchpad.

    Parameters
    ----------
    db
        Database of the campaign (launchpad and stores).
    campaign
        Campaign name.
    route
        DFT route, ``"gpaw"`` or ``"vasp"``.
    reasons, extra, max_confidence
        The selection (see :func:`select_targets`).
    limit
        Submit at most this many validations (after skipping existing ones).
    soc_off_twin
        Also run and compare the calculation without spin-orbit coupling.
    category
        FireWorks category of the validation jobs (``None``: any worker).
    force
        Validate again materials that already have a validation by ``route``.
    maker
        The route's maker (default :func:`route_maker` of ``route``).

    Raises
    ------
    ValueError
        If the campaign does not exist, the selection or route is invalid, or ``limit``
        is below 1.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    maker = maker or route_maker(route, soc_off_twin=soc_off_twin)
    db.ensure_indexes()
    targets = select_targets(db, campaign, reasons, extra, max_confidence)
    report = RerunReport(campaign=campaign, route=route)
    report.selected = [t.material_id for t in targets]
    done, pending = _existing(db, [validation_id(t.material_id, route) for t in targets])
    todo = []
    for target in targets:
        key = validation_id(target.material_id, route)
        if key in pending:
            report.in_flight.append(target.material_id)
        elif key in done and not force:
            report.already_validated.append(target.material_id)
        else:
            todo.append(target)
    todo = todo[:limit] if limit is not None else todo
    if not todo:
        return report
    nodes = []
    for target in todo:
        node = maker.make(target)
        node.name = f"{maker.name} {target.material_id}"
        node.update_metadata(
            {
                "campaign": campaign,
                "material_id": target.material_id,
                "validation_id": validation_id(target.material_id, route),
                "route": route,
                "model_version": target.model_version,
                "stage": "validation",
            }
        )
        if category:
            node.update_config({"manager_config": {"_category": category}})
        nodes.append(node)
    flow = Flow(nodes, name=f"validation {route} {campaign}")
    workflow = flow_to_workflow(flow, metadata={"campaign": campaign, "stage": "validation"})
    firsts = _first_fireworks(workflow, nodes)  # add_wf renumbers the Fireworks in place
    mapping = db.launchpad().add_wf(workflow)
    for target, fw in zip(todo, firsts, strict=True):
        report.fw_ids[target.material_id] = mapping[fw]
        report.submitted.append(target.material_id)
    return report


def _first_fireworks(workflow: Any, nodes: list[Any]) -> list[int]:
    """Provisional Firework id of each node's first job (before ``add_wf`` renumbers)."""
    by_uuid = {fw.tasks[0]["job"].uuid: fw.fw_id for fw in workflow.fws}
    firsts = []
    for node in nodes:
        jobs = node.jobs if isinstance(node, Flow) else [node]
        while isinstance(jobs[0], Flow):
            jobs = jobs[0].jobs
        firsts.append(by_uuid[jobs[0].uuid])
    return firsts

"""Validation commands: ``socscreen rerun`` (DFT reruns of flagged results), ``report``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from socscreen.cli import app
from socscreen.cli.common import DbUri, LaunchpadFile, console, database, fail


@app.command("rerun")
def rerun(
    campaign: Annotated[str, typer.Argument(help="Campaign whose results to validate.")],
    candidates: Annotated[
        bool, typer.Option("--candidates", help="Select the campaign's candidates.")
    ] = False,
    low_confidence: Annotated[
        bool, typer.Option("--low-confidence", help="Select results below --max-confidence.")
    ] = False,
    route_disagreement: Annotated[
        bool,
        typer.Option("--route-disagreement", help="Select results whose Z2 routes disagree."),
    ] = False,
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            help='MongoDB criteria on results as JSON, e.g. \'{"elements": "Bi"}\'; alone '
            "it selects what it matches, with selectors it narrows them.",
        ),
    ] = None,
    max_confidence: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Low-confidence threshold (0-1).")
    ] = 0.5,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Submit at most this many validations.")
    ] = None,
    route: Annotated[str, typer.Option(help="DFT route: gpaw or vasp.")] = "gpaw",
    soc_off_twin: Annotated[
        bool, typer.Option("--soc-off-twin", help="Also compare without spin-orbit coupling.")
    ] = False,
    category: Annotated[
        str, typer.Option(help="FireWorks category of the validation jobs ('' for any worker).")
    ] = "dft",
    force: Annotated[
        bool, typer.Option("--force", help="Validate again materials already validated.")
    ] = False,
    training_dir: Annotated[
        Path | None,
        typer.Option(help="GPAW route: training-data folder (default: the worker's setting)."),
    ] = None,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Submit DFT validations of flagged results (default: every kind of flag).

    Skips materials already validated by the route or whose validation is still queued.
    """
    from socscreen.workflows.rerun import FLAGGED, route_maker, submit_rerun

    if route not in ("gpaw", "vasp"):
        raise fail(f"--route must be gpaw or vasp, got {route!r}", code=2)
    extra = None
    if query:
        try:
            extra = json.loads(query)
        except json.JSONDecodeError as exc:
            raise fail(f"--query is not valid JSON: {exc}", code=2) from exc
        if not isinstance(extra, dict):
            raise fail("--query must be a JSON object of MongoDB criteria", code=2)
    flags = {
        "candidate": candidates,
        "low_confidence": low_confidence,
        "route_disagreement": route_disagreement,
    }
    reasons = [r for r, on in flags.items() if on] or (["query"] if extra else list(FLAGGED))
    options = {"training_dir": str(training_dir.resolve())} if training_dir else {}
    if options and route != "gpaw":
        raise fail("--training-dir applies to the gpaw route only", code=2)
    with database(db_uri, launchpad) as db:
        try:
            maker = route_maker(route, soc_off_twin=soc_off_twin, **options)  # type: ignore[arg-type]
            report = submit_rerun(
                db,
                campaign,
                route,  # type: ignore[arg-type]
                reasons,  # type: ignore[arg-type]
                extra,
                max_confidence,
                limit,
                soc_off_twin,
                category or None,
                force,
                maker,
            )
        except ValueError as exc:
            raise fail(str(exc)) from exc
    console.print(
        f"campaign [bold]{campaign}[/bold], route {route}: {len(report.selected)} selected "
        f"({', '.join(reasons)}), {len(report.submitted)} submitted, "
        f"{len(report.already_validated)} already validated, "
        f"{len(report.in_flight)} still queued or running"
    )
    for material_id in report.submitted:
        console.print(f"  {material_id}: Firework {report.fw_ids[material_id]}")
    if report.submitted:
        where = f" --category {category}" if category else ""
        console.print(f"run them with `socscreen campaign run{where}`")


@app.command("report")
def report(
    campaign: Annotated[str, typer.Argument(help="Campaign to report on.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output .html file (or .pdf via Chromium).")
    ] = Path("report.html"),
    thumbnails: Annotated[
        int,
        typer.Option(min=0, help="Band thumbnails at most, of the stored predictions (0: none)."),
    ] = 24,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Write one self-contained HTML page: summary, candidates, validation, band plots."""
    from socscreen.workflows.report import write_report

    with database(db_uri, launchpad) as db, console.status("writing the report") as status:
        try:
            path = write_report(
                db,
                campaign,
                output,
                thumbnails=thumbnails,
                progress=lambda material_id: status.update(f"band plot of {material_id}"),
            )
        except (ValueError, RuntimeError) as exc:
            raise fail(str(exc)) from exc
    console.print(f"wrote {path}")

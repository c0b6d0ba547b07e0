"""Result commands: ``socscreen query`` (filtered lists) and ``socscreen show`` (one material).

How they find the database: :mod:`socscreen.cli.common`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from socscreen.cli import app
from socscreen.cli.common import DbUri, LaunchpadFile, console, database, fail

if TYPE_CHECKING:
    from socscreen.stores.config import DatabaseConfig


def _candidate_criteria(db: DatabaseConfig, campaign: str | None) -> dict[str, Any]:
    """Criteria matching the results that have a candidate document."""
    ids: dict[str, list[str]] = defaultdict(list)
    with db.connected("candidates") as (store,):
        criteria = {"campaign": campaign} if campaign else {}
        for doc in store.query(criteria, ["campaign", "material_id"]):
            ids[doc["campaign"]].append(doc["material_id"])
    alternatives = [{"campaign": c, "material_id": {"$in": m}} for c, m in ids.items()]
    return {"$or": alternatives} if alternatives else {"material_id": {"$in": []}}


@app.command("query")
def query(
    campaign: Annotated[str | None, typer.Option(help="Campaign name.")] = None,
    z2: Annotated[
        str | None,
        typer.Option(
            help="strong, weak, qsh (2D quantum spin Hall), trivial or topological (any but "
            "trivial)."
        ),
    ] = None,
    gap_min: Annotated[float | None, typer.Option(help="Smallest gap with SOC (eV).")] = None,
    gap_max: Annotated[float | None, typer.Option(help="Largest gap with SOC (eV).")] = None,
    elements: Annotated[
        list[str], typer.Option("--elements", "-e", help="Element that must be present (repeat).")
    ] = [],  # noqa: B006
    flags: Annotated[
        list[str], typer.Option("--flags", help="Flag that must be set (repeat).")
    ] = [],  # noqa: B006
    failed: Annotated[
        bool | None, typer.Option("--failed/--ok", help="Only failed / only successful results.")
    ] = None,
    material_class: Annotated[
        str | None,
        typer.Option(
            "--class",
            help="Verdict class: topological_insulator, topological_semimetal, "
            "trivial_insulator, trivial_semimetal, metal, undetermined or failed.",
        ),
    ] = None,
    dimension: Annotated[
        int | None, typer.Option(help="Periodic dimensions: 3 bulk, 2 sheets with vacuum.")
    ] = None,
    valley_splitting_min: Annotated[
        float | None,
        typer.Option(
            help="Smallest spin splitting of the top valence band at K of a hexagonal 2D "
            "sheet (eV)."
        ),
    ] = None,
    candidates: Annotated[
        bool, typer.Option(help="Only materials in the candidates collection.")
    ] = False,
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    limit: Annotated[int, typer.Option(min=0, help="At most this many rows (0: all).")] = 0,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """List result documents matching filters, as a table, JSON or CSV."""
    from typing import get_args

    from socscreen.cli.tables import CSV_COLUMNS, csv_row, print_results
    from socscreen.stores.queries import results_query
    from socscreen.stores.schemas.campaign import MaterialClass

    if z2 not in (None, "strong", "weak", "qsh", "trivial", "topological"):
        raise fail(f"--z2 must be strong, weak, qsh, trivial or topological, got {z2!r}", code=2)
    if material_class not in (None, *get_args(MaterialClass)):
        known = ", ".join(get_args(MaterialClass))
        raise fail(f"--class must be one of {known}, got {material_class!r}", code=2)
    if output not in ("table", "json", "csv"):
        raise fail(f"--format must be table, json or csv, got {output!r}", code=2)
    _check_query_filters(gap_min, gap_max, elements)
    if dimension not in (None, 2, 3):
        raise fail(f"--dimension must be 2 or 3, got {dimension}", code=2)
    if valley_splitting_min is not None and valley_splitting_min < 0:
        raise fail(f"--valley-splitting-min must be >= 0 eV, got {valley_splitting_min}", code=2)
    filters = (campaign, z2, gap_min, gap_max, elements, flags, failed, material_class)
    sheets = {"dimension": dimension, "valley_splitting_min": valley_splitting_min}
    criteria = results_query(*filters, **sheets)  # type: ignore[arg-type]
    with database(db_uri, launchpad) as db:
        if campaign is not None:
            _require_campaign(db, campaign)
        if candidates:
            criteria = {"$and": [criteria, _candidate_criteria(db, campaign)]}
        with db.connected("results") as (results,):
            docs = list(
                results.query(
                    criteria,
                    properties={"_id": 0, "structure": 0},
                    sort={"campaign": 1, "material_id": 1},
                    limit=limit,
                )
            )
    if output == "json":
        typer.echo(json.dumps(docs, default=str, indent=1))
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_row(d) for d in docs)
        sys.stdout.write(buffer.getvalue())
    else:
        print_results(f"{len(docs)} result(s)", docs, campaign_column=campaign is None)


def _check_query_filters(gap_min: float | None, gap_max: float | None, elements: list[str]) -> None:
    """Refuse filters that can match nothing by mistake (exit code 2, one line each)."""
    from pymatgen.core import Element

    for symbol in elements:
        if not Element.is_valid_symbol(symbol):
            hint = f" (symbols are case-sensitive: {symbol.capitalize()}?)"
            known = Element.is_valid_symbol(symbol.capitalize())
            raise fail(f"-e {symbol}: not an element symbol{hint if known else ''}", code=2)
    for name, value in (("--gap-min", gap_min), ("--gap-max", gap_max)):
        if value is not None and value < 0:
            raise fail(f"{name} {value} eV: a gap is never negative", code=2)
    if gap_min is not None and gap_max is not None and gap_min > gap_max:
        raise fail(f"--gap-min {gap_min} eV is above --gap-max {gap_max} eV", code=2)


def _require_campaign(db: Any, campaign: str) -> None:
    """Fail naming the known campaigns when ``campaign`` has no summary and no result."""
    with db.connected("campaigns", "results") as stores:
        known = {c for store in stores for c in store.distinct("campaign") if c}
    if campaign not in known:
        listed = ", ".join(sorted(known)) if known else "none yet"
        raise fail(f"no campaign {campaign!r} in this database (campaigns: {listed})")


@app.command("show")
def show(
    material_id: Annotated[str, typer.Argument(help="Material id.")],
    campaign: Annotated[str | None, typer.Option(help="Campaign (default: all campaigns).")] = None,
    structure: Annotated[bool, typer.Option(help="Include the structure dict.")] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the document to this JSON file and its band and Wilson-loop PNGs "
            "next to it (<stem>_bands.png, <stem>_wcc.png).",
        ),
    ] = None,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Print the result document(s) of a material as JSON (the ingested record if none).

    With ``--output`` the document goes to that file, and the figures are made from the
    predicted Hamiltonian stored in GridFS: bands along the standard path coloured by
    spin splitting, and the Wilson-loop flow of the Z2 planes (not for a result flagged
    metal; the gap is not taken again). The step, elapsed and wall time go to stderr.
    """
    from socscreen.stores.queries import load_hamiltonian

    criteria: dict[str, Any] = {"material_id": material_id}
    if campaign:
        criteria["campaign"] = campaign
    properties = {"_id": 0} if structure else {"_id": 0, "structure": 0}
    with database(db_uri, launchpad) as db:
        with db.connected("results", "structures") as stores:
            for store in stores:
                docs = list(store.query(criteria, properties=properties))
                if docs:
                    break
        if not docs:
            raise fail(
                f"no result or record for {material_id}" + (f" in {campaign}" if campaign else "")
            )
        text = json.dumps(docs if len(docs) > 1 else docs[0], default=str, indent=1)
        if output is None:
            typer.echo(text)
            return
        if len(docs) > 1:
            raise fail(f"{material_id} is in {len(docs)} campaigns: choose one with --campaign")
        with db.connected_job_store() as job_store:
            try:
                ham = load_hamiltonian(job_store, docs[0]["campaign"], material_id)
            except ValueError as exc:
                raise fail(str(exc)) from exc
    from socscreen.analysis.plots import result_figures
    from socscreen.cli.progress import timed

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n")
    console.print(f"wrote {output}")
    title = f"{docs[0].get('reduced_formula') or ''} {material_id}".strip()
    metal = "metal" in docs[0].get("flags", [])
    with timed(f"figures of {material_id}") as step:
        figures = result_figures(ham, output, title=title, metal=metal, step=step)
    for path in figures.values():
        console.print(f"wrote {path}")
    if "wcc" not in figures:
        console.print("no Wilson-loop figure: the occupied bands are not gapped (a metal)")

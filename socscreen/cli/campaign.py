"""Campaign commands: ``socscreen db ...``, ``socscreen campaign ...``, ``query``, ``show``.

How they find the database: :mod:`socscreen.cli.common`.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from socscreen.cli import app
from socscreen.cli.common import (
    DbUri,
    LaunchpadFile,
    Predictor,
    PredictorOption,
    console,
    database,
    err_console,
    fail,
)

if TYPE_CHECKING:
    from socscreen.stores.config import DatabaseConfig

db_app = typer.Typer(help="The embedded MongoDB-protocol database server.", no_args_is_help=True)
campaign_app = typer.Typer(
    help="Screening campaigns run by FireWorks workers.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(campaign_app, name="campaign")

StoragePath = Annotated[
    Path | None, typer.Option("--path", help="Embedded database folder (default ~/.socscreen/db).")
]


# -- db ---------------------------------------------------------------------------------
@db_app.command("start")
def db_start(
    path: StoragePath = None,
    host: Annotated[
        str,
        typer.Option(
            help="Interface to listen on; any but the loopback one (e.g. 0.0.0.0: all) "
            "requires a password, kept in the data folder."
        ),
    ] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="TCP port (default: the last one).")] = None,
    cache_size: Annotated[
        str | None,
        typer.Option(help="WiredTiger cache, e.g. 256M or 2G (default SOCSCREEN_DB_CACHE_SIZE)."),
    ] = None,
) -> None:
    """Start the embedded database server in the background (kept until `db stop`)."""
    from socscreen.stores.server import CREDENTIALS_FILE, ServerStartError, start_server

    try:
        info = start_server(path, host=host, port=port, cache_size=cache_size)
    except ServerStartError as exc:
        raise fail(str(exc)) from exc
    console.print(
        f"database server running at [bold]{info.address}[/bold] (pid {info.pid}, "
        f"data in {info.storage_path}, started in {info.startup_s:.2f} s)"
    )
    if info.host != host:
        err_console.print(
            f"[yellow]note:[/yellow] it was already running on {info.host}; `socscreen db "
            f"stop` first to listen on {host}",
            soft_wrap=True,
        )
    if info.auth:
        err_console.print(
            f"[yellow]note:[/yellow] listening on {info.host}, reachable from other "
            f"machines: clients log in as user socscreen with the password in "
            f"{info.storage_path / CREDENTIALS_FILE} (`socscreen campaign worker-files` "
            "writes it into the worker files); traffic is not encrypted",
            soft_wrap=True,
        )


@db_app.command("stop")
def db_stop(path: StoragePath = None) -> None:
    """Stop the embedded database server."""
    from socscreen.stores.server import stop_server

    console.print("database server stopped" if stop_server(path) else "no database server running")


@db_app.command("status")
def db_status(path: StoragePath = None) -> None:
    """Show whether the embedded database server runs (exit code 1 if not)."""
    from socscreen.stores.server import default_storage_path, server_status

    info = server_status(path)
    if info is None:
        console.print(f"no database server running for {path or default_storage_path()}")
        raise typer.Exit(code=1)
    started = datetime.fromtimestamp(info.started_at).isoformat(timespec="seconds")
    login = ", password required" if info.auth else ""
    console.print(
        f"running at {info.address} (pid {info.pid}, since {started}, data in "
        f"{info.storage_path}{login})"
    )


# -- campaign ---------------------------------------------------------------------------
def _import_callable(spec: str) -> Callable:
    module_name, _, name = spec.partition(":")
    if not name:
        raise fail(f"functions are given as 'package.module:function', got {spec!r}")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise fail(f"cannot import {spec}: {exc}") from exc
    if not callable(function):
        raise fail(f"{spec} is not callable")
    return function


def _covered_elements(settings: Any) -> frozenset[str]:
    """Elements the campaign's predictor covers (the checkpoint's, or GPAW's for H(0))."""
    from socscreen.model.predictors import covered_elements

    try:
        return covered_elements(settings.predictor, settings.checkpoint)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read the model checkpoint's record: {exc}") from exc


@campaign_app.command("submit")
def campaign_submit(
    source: Annotated[
        Path,
        typer.Argument(
            exists=True, help="GNoME CSV/folder, CIF/POSCAR folder or pymatgen .json list."
        ),
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Campaign name.")],
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help="Structures per batch job (default: CampaignSettings')"),
    ] = None,
    include: Annotated[
        list[str], typer.Option("--include", help="Element that must be present (repeat).")
    ] = [],  # noqa: B006
    exclude: Annotated[
        list[str], typer.Option("--exclude", help="Element that must be absent (repeat).")
    ] = [],  # noqa: B006
    min_heavy_z: Annotated[
        int | None, typer.Option(help="Require an element with Z >= this.")
    ] = None,
    max_source_sites: Annotated[
        int | None, typer.Option(help="Filter: largest cell as the source lists it (sites).")
    ] = None,
    max_decomposition: Annotated[
        float | None, typer.Option(help="Largest decomposition energy (eV/atom).")
    ] = None,
    gap_min: Annotated[float | None, typer.Option(help="Smallest source band gap (eV).")] = None,
    gap_max: Annotated[float | None, typer.Option(help="Largest source band gap (eV).")] = None,
    max_sites: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Largest primitive cell; larger ones get an error document "
            "(default: CampaignSettings')",
        ),
    ] = None,
    z2_route: Annotated[
        str | None,
        typer.Option(
            help="screening (parity or Wilson), auto (both), parity or wilson "
            "(default: CampaignSettings')"
        ),
    ] = None,
    predictor: Annotated[
        Predictor | None,
        typer.Option(
            help="scc, baseline or model, see socscreen predict --help (default: CampaignSettings')"
        ),
    ] = None,
    model_version: Annotated[
        str | None, typer.Option(help="Model version label to predict with (model only).")
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="Torch device of the prediction (default: CampaignSettings')")
    ] = None,
    predict_function: Annotated[
        str, typer.Option(help="Per-structure prediction 'module:function'.")
    ] = "socscreen.makers.predict:predict_structure",
    analyser: Annotated[
        str, typer.Option(help="Per-structure analysis 'module:function'.")
    ] = "socscreen.makers.analyse:analyse_structure",
    predict_category: Annotated[
        str, typer.Option(help="FireWorks category of the predict jobs.")
    ] = "predict",
    analyse_category: Annotated[
        str,
        typer.Option(help="FireWorks category of the analyse jobs, the fan-out and the summary."),
    ] = "analyse",
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Ingest a structure source and submit its campaign flow to the launchpad.

    Predict and analyse jobs carry FireWorks categories (default ``predict`` and
    ``analyse``): workers without a category run both, ``campaign run --category
    predict`` / ``--category analyse`` (or ``worker-files --category``) split them.
    """
    from socscreen.makers.analyse import AnalyseBatchMaker
    from socscreen.makers.predict import PredictBatchMaker, predict_structure
    from socscreen.stores.schemas.campaign import CampaignSettings, StructureFilter
    from socscreen.workflows.campaign import CampaignMaker, submit_campaign

    try:
        filters = StructureFilter(
            include_elements=include,
            exclude_elements=exclude,
            min_heavy_z=min_heavy_z,
            max_sites=max_source_sites,
            max_decomposition_energy=max_decomposition,
            min_band_gap=gap_min,
            max_band_gap=gap_max,
        )
        given = {
            "batch_size": batch_size,
            "predictor": None if predictor is None else predictor.value,
            "model_version": model_version,
            "device": device,
            "max_sites": max_sites,
            "z2_route": z2_route,
        }
        # the defaults are the schema's alone, not declared a second time here
        settings = CampaignSettings(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise fail(str(exc)) from exc
    predict_function = _import_callable(predict_function)
    maker = CampaignMaker(
        predict_maker=PredictBatchMaker(predictor=predict_function),
        analyse_maker=AnalyseBatchMaker(analyser=_import_callable(analyser)),
        categories={
            "fanout": analyse_category,
            "predict": predict_category,
            "analyse": analyse_category,
            "summary": analyse_category,
        },
    )
    # with the shipped predictors, elements they do not cover fail at ingestion
    elements = _covered_elements(settings) if predict_function is predict_structure else None
    with database(db_uri, launchpad) as db:
        try:
            report = submit_campaign(
                db, source, name, settings, filters, maker, elements, progress=True
            )
        except ValueError as exc:
            raise fail(str(exc)) from exc
    _print_submission(name, report)


def _print_submission(name: str, report: Any) -> None:
    """Print where every entry of the source went, then what was submitted."""
    from rich.markup import escape

    ingest = report.ingest
    console.print(
        f"campaign [bold]{escape(name)}[/bold]: {ingest.n_read} read = {len(ingest.ok)} "
        f"structures + {len(ingest.errors)} ingestion errors + {ingest.n_duplicates} merged + "
        f"{ingest.n_filtered} filtered + {len(ingest.skipped)} skipped ({ingest.seconds:.1f} s)"
    )
    for criterion, count in sorted(ingest.filtered.items()):
        console.print(f"  filtered by {criterion}: {count}")
    for merge in ingest.merges:
        entry = merge.entry
        console.print(
            f"  merged {escape(str(entry.source.entry))} ({entry.material_id}) into "
            f"{merge.keeper_id} ({escape(str(merge.keeper.entry))}): {entry.reason}"
        )
    for skipped in ingest.skipped:
        console.print(f"  skipped {escape(skipped.entry)}: {skipped.reason}")
    for record in ingest.errors:
        where = escape(f"{record.material_id} ({record.source.entry})")
        console.print(f"  [yellow]{where}[/yellow]: {escape(record.error.reason)}")
    left_out = (
        f"{report.n_done} with a finished result, {report.n_pending} waiting in "
        "Fireworks submitted before"
    )
    if report.fw_id is None:
        console.print(f"nothing to do: {left_out}")
    else:
        console.print(
            f"submitted {report.n_todo} structures, fan-out Firework {report.fw_id} "
            f"({left_out}); run them with `socscreen campaign run`"
        )


def _worker_group(spec: str) -> Any:
    """Parse ``CATEGORY=N`` of ``campaign run --group``."""
    from socscreen.workflows.workers import WorkerGroup

    category, _, number = spec.partition("=")
    if not category or not number.isdigit() or int(number) < 1:
        raise fail(f"--group must look like CATEGORY=N with N >= 1, got {spec!r}", code=2)
    return WorkerGroup(category, int(number))


@campaign_app.command("run")
def campaign_run(
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="Worker processes (1 thread each).")
    ] = 1,
    category: Annotated[
        list[str],
        typer.Option(
            "--category",
            help="Run only Fireworks of this category (repeat); '__none__': uncategorised.",
        ),
    ] = [],  # noqa: B006
    group: Annotated[
        list[str],
        typer.Option(
            "--group",
            help="CATEGORY=N: N workers of that category (repeat), e.g. --group predict=1 "
            "--group analyse=2; replaces --workers/--category.",
        ),
    ] = [],  # noqa: B006
    lost_after: Annotated[
        float,
        typer.Option(
            help="Rerun RUNNING Fireworks silent for this long (s): workers elsewhere; a "
            "local worker that dies is noticed at once."
        ),
    ] = 4 * 3600.0,
    timeout: Annotated[
        int | None, typer.Option(help="Stop taking new Fireworks after this many seconds.")
    ] = None,
    db_wait: Annotated[
        float,
        typer.Option(
            min=0.0, help="Wait this long (s) for a database that stops answering, then give up."
        ),
    ] = 300.0,
    run_dir: Annotated[
        Path | None,
        typer.Option(help="Folder for worker files and logs (default ~/.socscreen/runs/<time>)."),
    ] = None,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Recover lost runs, then run local workers until no Firework is left to run.

    By default every worker runs every stage. Categories split them, e.g. one predict
    worker and two analyse workers: ``--group predict=1 --group analyse=2``. A worker
    process that dies is noticed at once: its Fireworks rerun and it is started again.
    A database that stops answering is waited for (``--db-wait``; the embedded server is
    started again on its port): the workers stop meanwhile and resume when it is back.
    SIGTERM (or Ctrl-C) stops the workers and sets their Fireworks back to READY.
    """
    from functools import partial

    from socscreen.settings import SETTINGS
    from socscreen.stores.config import resolve_database
    from socscreen.stores.server import restart_server
    from socscreen.workflows.workers import (
        DatabaseUnavailable,
        DatabaseWatch,
        WorkerGroup,
        WorkersStopped,
        run_worker_groups,
    )

    if group and category:
        raise fail("give --group or --category, not both", code=2)
    groups = [_worker_group(spec) for spec in group] or [
        WorkerGroup(list(category) or None, workers)
    ]
    folder = run_dir or Path(SETTINGS.home).expanduser() / "runs" / datetime.now().strftime(
        "%Y%m%d-%H%M%S"
    )
    with database(db_uri, launchpad) as db, console.status("workers starting") as status:

        def show(states: Any) -> None:
            status.update(
                " ".join(f"{k}: {v}" for k, v in sorted(states.items())) or "no Fireworks"
            )

        embedded = resolve_database(db_uri, launchpad) is None  # database() resolved it once
        watch = DatabaseWatch(
            db,
            wait_s=db_wait,
            restart=partial(restart_server, db.uri) if embedded else None,
            notify=lambda line: err_console.print(f"[yellow]warning:[/yellow] {line}",
                                                  soft_wrap=True),
            on_wait=lambda s: status.update(f"database unreachable for {s:.0f} s "
                                            f"(waiting up to {db_wait:.0f} s)"),
        )  # fmt: skip
        try:
            report = run_worker_groups(
                db, groups, folder, lost_after=lost_after, timeout=timeout, on_poll=show,
                watch=watch,
            )  # fmt: skip
        except WorkersStopped as stopped:
            raise fail(
                f"stopped by {stopped.signal}: workers stopped, Fireworks {stopped.rerun} set "
                f"back to READY for the next run; logs in {folder}",
                code=stopped.code,
            ) from None
        except DatabaseUnavailable as exc:
            raise fail(f"{exc}; logs in {folder}") from None
    if report.recovered:
        console.print(f"rerun lost Fireworks {report.recovered}")
    if report.died:
        console.print(
            f"worker(s) died: {', '.join(report.died)}; their Fireworks {report.lost} rerun"
        )
    if report.given_up:
        console.print(f"Fireworks {report.given_up} fizzled: their worker died on each try")
    if report.outages:
        waits = ", ".join(f"{seconds:.0f} s" for seconds in report.outages)
        console.print(
            f"database unreachable {len(report.outages)} time(s) ({waits}): Fireworks "
            f"{sorted(set(report.db_lost))} rerun, workers resumed"
        )
    elif report.db_lost:
        console.print(f"Fireworks {sorted(set(report.db_lost))} rerun: their job lost the database")
    states = ", ".join(f"{k} {v}" for k, v in sorted(report.states.items()))
    console.print(
        f"{len(report.exit_codes)} worker(s) done in {report.seconds:.1f} s; "
        f"Fireworks: {states}; logs in {folder}"
    )
    if any(report.exit_codes):
        raise fail(f"worker exit codes {report.exit_codes}; see {folder}/worker_*/worker.log")


@campaign_app.command("status")
def campaign_status(
    name: Annotated[str | None, typer.Argument(help="Campaign (default: all).")] = None,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Fireworks per state and result counts, per campaign: Z2 classes and verdicts."""
    from socscreen.stores.queries import summarise_campaign
    from socscreen.workflows.workers import firework_states

    with database(db_uri, launchpad) as db:
        with db.connected("structures", "results", "candidates", "campaigns") as stores:
            names = [name] if name else sorted(stores[3].distinct("campaign"))
            if name and not stores[3].count({"campaign": name}):
                raise fail(f"no campaign {name!r}")
            table = Table(
                "campaign",
                "Fireworks",
                "structures",
                "results",
                "failed",
                "candidates",
                "strong/weak/QSH/trivial",
            )
            launchpad_ = db.launchpad()
            verdicts = []
            for campaign in names:
                summary = summarise_campaign(*stores, campaign)
                states = firework_states(launchpad_, campaign)
                classes = "/".join(
                    str(summary.by_class.get(c, 0)) for c in ("strong", "weak", "qsh", "trivial")
                )
                table.add_row(
                    campaign,
                    ", ".join(f"{k} {v}" for k, v in sorted(states.items())),
                    str(summary.n_structures),
                    str(summary.n_results),
                    str(summary.n_failed),
                    str(summary.n_candidates),
                    classes,
                )
                verdicts.append(f"verdicts of {campaign}: " + _verdict_counts(summary.by_verdict))
    console.print(table)
    for line in verdicts:
        console.print(line, soft_wrap=True)


def _verdict_counts(by_verdict: dict[str, int]) -> str:
    """``1 topological semimetal, 2 metal`` from results per verdict class; ``none yet``."""
    return ", ".join(f"{n} {c.replace('_', ' ')}" for c, n in by_verdict.items()) or "none yet"


@campaign_app.command("worker-files")
def campaign_worker_files(
    folder: Annotated[Path, typer.Argument(help="Output folder.")],
    category: Annotated[
        list[str], typer.Option("--category", help="Worker category (repeat).")
    ] = [],  # noqa: B006
    slurm: Annotated[
        bool, typer.Option(help="Also write a SLURM queue adapter (my_qadapter.yaml).")
    ] = False,
    queue: Annotated[str | None, typer.Option(help="SLURM partition.")] = None,
    account: Annotated[str | None, typer.Option(help="SLURM account.")] = None,
    walltime: Annotated[str | None, typer.Option(help="SLURM time limit, e.g. 12:00:00.")] = None,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Write launchpad, fworker and jobflow files (and a SLURM adapter) for workers."""
    from socscreen.stores.config import resolve_database
    from socscreen.stores.server import server_status
    from socscreen.workflows.workers import write_slurm_qadapter, write_worker_files

    try:
        db = resolve_database(db_uri, launchpad)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if db is None:
        from socscreen.settings import SETTINGS
        from socscreen.stores.config import DatabaseConfig

        server = server_status()
        if server is None:
            raise fail(
                "no database configured and no embedded server running: give "
                "--db-uri/--launchpad or run `socscreen db start` first"
            )
        db = DatabaseConfig(uri=server.uri, database=SETTINGS.db_name)
        if server.host in ("127.0.0.1", "localhost"):
            err_console.print(
                "[yellow]note:[/yellow] the embedded server listens on this machine "
                "only; use `db start --host 0.0.0.0` for remote workers"
            )
    files = write_worker_files(db, folder, list(category) or None)
    written = [files.launchpad, files.fworker, files.jobflow]
    if slurm:
        overrides = {
            k: v for k, v in (("queue", queue), ("account", account), ("walltime", walltime)) if v
        }
        written.append(write_slurm_qadapter(files, Path(folder) / "my_qadapter.yaml", **overrides))
    for path in written:
        console.print(f"wrote {path}")


# -- query and show ---------------------------------------------------------------------
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


def _example_source() -> Path:
    """Return the self-made GNoME-format sample shipped in the repository's ``examples/``."""
    import socscreen

    return Path(socscreen.__file__).resolve().parents[1] / "examples" / "gnome_sample"


@campaign_app.command("example")
def campaign_example(
    name: Annotated[str, typer.Option("--name", "-n", help="Campaign name.")] = "example",
    source: Annotated[
        Path | None, typer.Option(help="Structure source (default: examples/gnome_sample).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker processes.")] = 2,
    batch_size: Annotated[int, typer.Option(min=1, help="Structures per batch job.")] = 4,
    run_dir: Annotated[
        Path | None, typer.Option(help="Folder for worker files and logs (default: a temp dir).")
    ] = None,
    predictor: PredictorOption = Predictor.scc,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Run a whole small campaign: ingest, submit, run workers, print results and candidates.

    With no database configured it runs on the embedded server, started for the command.
    """
    import tempfile

    from socscreen.cli.tables import (
        print_candidates,
        print_flags,
        print_next_commands,
        print_results,
    )
    from socscreen.model.predictors import STATED_GAP_ERROR, checkpoint_record, default_checkpoint
    from socscreen.stores.queries import results_query
    from socscreen.stores.schemas.campaign import CampaignSettings
    from socscreen.workflows.campaign import submit_campaign
    from socscreen.workflows.workers import run_workers

    source = source or _example_source()
    if not source.exists():
        raise fail(f"structure source {source} does not exist")
    settings = CampaignSettings(batch_size=batch_size, predictor=predictor.value)
    elements, model_error = _covered_elements(settings), STATED_GAP_ERROR.get(predictor.value)
    if predictor is Predictor.model:
        model_error = _stated_band_error(checkpoint_record(default_checkpoint()))
    with database(db_uri, launchpad) as db, tempfile.TemporaryDirectory() as tmp:
        report = submit_campaign(db, source, name, settings, supported_elements=elements)
        _print_submission(name, report)
        folder = run_dir or Path(tmp)
        with console.status(f"{workers} FireWorks workers running"):
            run = run_workers(db, workers, folder)
        states = ", ".join(f"{k} {v}" for k, v in sorted(run.states.items()))
        console.print(f"{workers} worker(s) done in {run.seconds:.1f} s; Fireworks: {states}")
        with db.connected("results", "candidates") as (results, candidates):
            docs = list(
                results.query(
                    results_query(name),
                    properties={"_id": 0, "structure": 0},
                    sort={"material_id": 1},
                )
            )
            chosen = {
                d["material_id"] for d in candidates.query({"campaign": name}, ["material_id"])
            }
    n_failed = sum(d.get("error") is not None for d in docs)
    console.print()
    print_results(
        f"{len(docs)} results of {name} = {len(docs) - n_failed} analysed + {n_failed} failed",
        docs,
        model_error,
    )
    print_flags(docs)
    print_candidates(docs, chosen, model_error)
    show = sorted(chosen) or [d["material_id"] for d in docs if d.get("error") is None]
    setup = (
        f"export SOCSCREEN_DB_URI={db_uri}" if db_uri
        else f"export SOCSCREEN_LAUNCHPAD_FILE={launchpad}" if launchpad else None
    )  # fmt: skip
    print_next_commands(name, show[0] if show else None, setup)
    if any(run.exit_codes):
        raise fail(f"worker exit codes {run.exit_codes}")


def _stated_band_error(record: dict[str, Any]) -> float | None:
    """Return the band error a checkpoint states (eV): its test split's band MAE near E_F."""
    return (record.get("metrics") or {}).get("test", {}).get("band_mae")

"""Campaign commands: ``socscreen campaign submit``, ``run``, ``status``, ``worker-files``, ...

``campaign example`` runs a whole small campaign from ingestion to candidates.

How they find the database: :mod:`socscreen.cli.common`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

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
    predictor_elements,
    print_submission,
)

campaign_app = typer.Typer(
    help="Screening campaigns run by FireWorks workers.", no_args_is_help=True
)
app.add_typer(campaign_app, name="campaign")


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
            help="model, scc or baseline, see socscreen predict --help (default: CampaignSettings')"
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
    elements = predictor_elements(settings) if predict_function is predict_structure else None
    with database(db_uri, launchpad) as db:
        try:
            report = submit_campaign(
                db, source, name, settings, filters, maker, elements, progress=True
            )
        except ValueError as exc:
            raise fail(str(exc)) from exc
    print_submission(name, report)


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
    if report.unlocked:
        console.print(
            f"released the workflow lock left by a dead process (workflows of Fireworks "
            f"{sorted(set(report.unlocked))})"
        )
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
    predictor: PredictorOption = Predictor.model,
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
    from socscreen.model.predictors import STATED_GAP_ERROR
    from socscreen.stores.queries import results_query
    from socscreen.stores.schemas.campaign import CampaignSettings
    from socscreen.workflows.campaign import submit_campaign
    from socscreen.workflows.workers import run_workers

    source = source or _example_source()
    if not source.exists():
        raise fail(f"structure source {source} does not exist")
    settings = CampaignSettings(batch_size=batch_size, predictor=predictor.value)
    elements, model_error = predictor_elements(settings), STATED_GAP_ERROR.get(predictor.value)
    with database(db_uri, launchpad) as db, tempfile.TemporaryDirectory() as tmp:
        report = submit_campaign(db, source, name, settings, supported_elements=elements)
        print_submission(name, report)
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

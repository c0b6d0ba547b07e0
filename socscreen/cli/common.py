"""What the database-backed commands share: consoles, options, errors, database, submissions.

A submission (``campaign submit``, ``campaign example``, ``twist``) checks the elements its
predictor covers (:func:`predictor_elements`) and prints where every entry went
(:func:`print_submission`).

Every command that needs the database takes ``--db-uri`` or ``--launchpad``; without
them it uses ``SOCSCREEN_DB_URI`` / ``SOCSCREEN_LAUNCHPAD_FILE``, else the embedded
server, which it starts for the command and stops afterwards unless ``socscreen db
start`` left it running.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from socscreen.stores.config import DatabaseConfig

__all__ = [
    "DbUri",
    "LaunchpadFile",
    "Predictor",
    "PredictorOption",
    "console",
    "database",
    "err_console",
    "fail",
    "predictor_elements",
    "print_submission",
]

console = Console()
err_console = Console(stderr=True)

DbUri = Annotated[
    str | None,
    typer.Option("--db-uri", help="MongoDB URI (default: SOCSCREEN_DB_URI, else embedded)."),
]
LaunchpadFile = Annotated[
    Path | None,
    typer.Option("--launchpad", "-l", help="FireWorks launchpad yaml naming the database."),
]


class Predictor(StrEnum):
    """What predicts a Hamiltonian (see :mod:`socscreen.model.predictors`)."""

    model = "model"
    baseline = "baseline"
    scc = "scc"


PredictorOption = Annotated[
    Predictor,
    typer.Option(
        help="model: the Uni-HamGNN checkpoint (shipped: GPAW's zeroth-step H(0) with "
        "self-consistent atomic charges plus shell shifts, per element and learned from each "
        "atom's environment, fitted on DFT bands); scc: that "
        "H(0) with self-consistent charges, no learning; baseline: H(0) alone."
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr, one line at any width; return the Exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(code=code)


@contextlib.contextmanager
def database(uri: str | None, launchpad: Path | None) -> Iterator[DatabaseConfig]:
    """Open the configured database (or the embedded one) with readable errors.

    A database that does not answer (pymongo's ``ConnectionFailure`` anywhere in the
    ``with`` block) ends the command in one line too.
    """
    from pymongo.errors import ConnectionFailure

    from socscreen.stores.config import open_database
    from socscreen.stores.server import ServerStartError
    from socscreen.workflows.outages import first_line

    db = None
    try:
        with open_database(uri, launchpad) as db:
            yield db
    except (ValueError, ServerStartError) as exc:
        raise fail(str(exc)) from exc
    except ConnectionFailure as exc:
        where = db.describe() if db is not None else "the database"
        raise fail(f"{where} does not answer: {first_line(exc)}") from None


def predictor_elements(settings: Any) -> frozenset[str]:
    """Elements the campaign's predictor covers (the checkpoint's, or GPAW's for H(0))."""
    from socscreen.model.predictors import covered_elements

    try:
        return covered_elements(settings.predictor, settings.checkpoint)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read the model checkpoint's record: {exc}") from exc


def print_submission(name: str, report: Any) -> None:
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

"""Pieces every database-backed command shares: consoles, options, errors, the database.

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
from typing import TYPE_CHECKING, Annotated

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
        help="scc (default): GPAW's zeroth-step H(0) with self-consistent atomic charges (no "
        "learning); baseline: H(0) alone; model: the pure-ML Uni-HamGNN checkpoint."
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

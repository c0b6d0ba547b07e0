"""The ``socscreen`` command line.

Each area registers its commands from its own module; heavy imports (torch, GPAW,
jobflow) happen inside the command functions so that ``socscreen --help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="socscreen",
    help="High-throughput screening of spin-orbit-driven quantum materials.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main() -> None:
    """High-throughput screening of spin-orbit-driven quantum materials."""


@app.command()
def version() -> None:
    """Print the socscreen version."""
    from socscreen import __version__

    typer.echo(__version__)


# The command modules register on app; the order they are imported in is the order
# `socscreen --help` lists their commands (then their groups: db, campaign, ...).
# isort: off
from socscreen.cli import (  # noqa: E402
    analysis,  # noqa: F401
    results,  # noqa: F401
    db,  # noqa: F401
    campaign,  # noqa: F401
    dft,  # noqa: F401
    model,  # noqa: F401
    twist,  # noqa: F401
    validation,  # noqa: F401
)
# isort: on

__all__ = ["app"]

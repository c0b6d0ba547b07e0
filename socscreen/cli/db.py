"""Database commands: ``socscreen db start``, ``db stop``, ``db status``.

The embedded MongoDB-protocol server a campaign runs on when no other database is given
(:mod:`socscreen.stores.server`; how commands find the database: :mod:`socscreen.cli.common`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from socscreen.cli import app
from socscreen.cli.common import console, err_console, fail

db_app = typer.Typer(help="The embedded MongoDB-protocol database server.", no_args_is_help=True)
app.add_typer(db_app, name="db")

StoragePath = Annotated[
    Path | None, typer.Option("--path", help="Embedded database folder (default ~/.socscreen/db).")
]


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

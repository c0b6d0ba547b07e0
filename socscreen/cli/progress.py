"""What a long command says on stderr: a spinner with the elapsed time, then its wall time.

Long commands (``predict``, ``z2``, ``show -o``) run their work inside :func:`timed`:
on a terminal a transient spinner names the current step and counts seconds; every
command ends with one line ``<what>: done in <seconds> s`` on stderr, so stdout keeps
only the command's own output (the JSON of ``z2``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from socscreen.cli.common import err_console

__all__ = ["timed"]


@contextlib.contextmanager
def timed(what: str) -> Iterator[Callable[[str], None]]:
    """Show a spinner for ``what`` on stderr and print its wall time (s) when it ends.

    Yields a function that renames the step shown beside the spinner (e.g. ``"gap"``). The
    wall time is printed only when the block finishes without an exception.
    """
    start = time.perf_counter()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    shown = err_console.is_terminal  # a log file gets the wall time only
    with Progress(*columns, console=err_console, transient=True, disable=not shown) as progress:
        task = progress.add_task(what, total=None)
        yield lambda step: progress.update(task, description=f"{what}: {step}")
    err_console.print(f"{what}: done in {time.perf_counter() - start:.1f} s", soft_wrap=True)

"""Analysis commands: ``socscreen z2``, ``bands`` and ``valleys`` on corpus-format files.

They read any corpus-format ``.npz`` (DFT or predicted; ``valleys`` also the sparse files
of large cells), take the electron count from its ``nelect`` and print one JSON object on
stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from socscreen.cli import app

_FILE = typer.Argument(exists=True, dir_okay=False, help="Corpus-format .npz file.")
_SOC = typer.Option("--soc/--no-soc", help="Include spin-orbit coupling.")


def _load(path: Path, sparse: bool = False):  # noqa: ANN202 - Hamiltonian, imported lazily
    """Read a corpus-format file (with ``sparse`` also a sparse one), or exit with its error."""
    from socscreen.hamiltonian import Hamiltonian
    from socscreen.sparse_hamiltonian import read_hamiltonian

    try:
        return read_hamiltonian(path) if sparse else Hamiltonian.from_npz(path)
    except (KeyError, ValueError, OSError, EOFError) as error:
        reason = (
            "not a corpus-format Hamiltonian (.npz); make one with `socscreen predict` or "
            "`socscreen dft-reference`"
            if path.suffix != ".npz"
            else str(error)
        )
        typer.secho(f"error: cannot read {path}: {reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from error


@app.command("z2")
def z2(
    file: Annotated[Path, _FILE],
    route: Annotated[
        str,
        typer.Option(
            help="'screening' (parity with an inversion centre, else Wilson loops: the "
            "campaigns' route), 'auto' (parity and Wilson loops), 'parity', 'wilson'."
        ),
    ] = "screening",
    soc: Annotated[bool, _SOC] = True,
    wcc_png: Annotated[
        Path | None, typer.Option("--wcc-png", help="Write the Wilson-loop WCC flow here.")
    ] = None,
) -> None:
    """Z2 indices (nu0; nu1 nu2 nu3), or nu for a 2D sheet, as JSON.

    stdout holds only the JSON; a spinner with the step and the wall time go to stderr.
    """
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from socscreen.analysis.bloch import LowdinBloch
    from socscreen.analysis.parity import hamiltonian_inversion
    from socscreen.analysis.topology import screening_route, z2_with_wilson
    from socscreen.cli.progress import timed

    if route not in ("screening", "auto", "parity", "wilson"):
        typer.secho(f"error: unknown route {route!r}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    ham = _load(file)
    with timed(f"z2 {file.name}") as step:
        if route == "screening":
            step("inversion centre")
            route = screening_route(hamiltonian_inversion(LowdinBloch(ham))[0] is not None)
        step(f"gap and {route} route")
        result, wilson = z2_with_wilson(ham, route=route, soc=soc)  # type: ignore[arg-type]
        if wcc_png is not None and wilson is not None:
            from socscreen.analysis.plots import plot_wcc

            step("Wilson-loop figure")
            plot_wcc(wilson.planes, wcc_png, title=file.stem)
    typer.echo(json.dumps({"file": str(file), **result.model_dump()}))


@app.command("bands")
def bands(
    file: Annotated[Path, _FILE],
    png: Annotated[Path | None, typer.Option("--png", help="Write the band plot here.")] = None,
    soc: Annotated[bool, _SOC] = True,
    path_type: Annotated[
        str, typer.Option(help="pymatgen path: setyawan_curtarolo, latimer_munro, hinuma.")
    ] = "setyawan_curtarolo",
    window: Annotated[float, typer.Option(help="Plot window +- around the VBM (eV).")] = 3.0,
) -> None:
    """Band structure along the standard path, the gap and spin splitting, as JSON.

    The gap is the one every command reports (grid, path and refinement; its ``sampling``
    says which k), whatever ``--path-type`` the plot follows. A hexagonal 2D sheet that is
    no metal also gets its valleys (spin splittings, gap, Berry curvature at K and K', as
    the campaign's valley document; ``null`` otherwise and without SOC). The step, elapsed
    and wall time go to stderr.
    """
    from dataclasses import asdict

    from socscreen.analysis.bands import band_structure
    from socscreen.analysis.gaps import band_gap
    from socscreen.analysis.valley import hexagonal_sheet, valley_quantities
    from socscreen.cli.progress import timed

    ham = _load(file)
    with timed(f"bands {file.name}") as step:
        step("bands along the path")
        structure = band_structure(ham, soc=soc, path_type=path_type)
        step("gap")
        gap = band_gap(ham, soc=soc)
        if png is not None:
            from socscreen.analysis.plots import plot_bands

            step("band plot")
            plot_bands(structure, png, window_eV=(-window, window), title=file.stem)
        valleys = None
        if soc and ham.has_soc and gap.kind != "metal" and hexagonal_sheet(ham):
            step("valleys")
            valleys = asdict(valley_quantities(ham))
    out = {
        "file": str(file),
        "n_occupied": structure.n_occupied,
        "path_type": structure.path.path_type,
        "labels": [[d, name] for d, name in structure.path.labels],
        "gap": gap.model_dump(),
        "spin_splitting": None if structure.splitting is None else structure.splitting.model_dump(),
        "valleys": valleys,
        "png": None if png is None else str(png),
    }
    typer.echo(json.dumps(out))


@app.command("valleys")
def valleys(file: Annotated[Path, _FILE]) -> None:
    """Spin splittings and gaps at K, K' and Γ of a hexagonal 2D sheet of any size, as JSON.

    Reads dense and sparse files (``socscreen predict --sparse``: twisted bilayers of
    hundreds of atoms) and takes the band edges from the bands nearest the file's Fermi
    level (second variation for a sparse file; docs/large_cells.md). Energies in eV; the
    step and the wall time go to stderr.
    """
    from socscreen.analysis.valley import valley_edges
    from socscreen.cli.progress import timed

    ham = _load(file, sparse=True)
    with timed(f"valleys {file.name}") as step:
        step(f"band edges at K and Γ, {ham.n_orbitals} orbitals")
        try:
            edges = valley_edges(ham)
        except ValueError as error:
            typer.secho(f"error: {file}: {error}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from error
    points = {
        name: {
            "k": e.k,
            "valence": e.valence,
            "conduction": e.conduction,
            "valence_splitting": e.valence_splitting,
            "conduction_splitting": e.conduction_splitting,
            "direct_gap": e.direct_gap,
        }
        for name, e in edges.items()
    }
    vbm = max(e.valence[1] for e in edges.values())
    cbm = min(e.conduction[0] for e in edges.values())
    typer.echo(json.dumps({"file": str(file), "efermi": ham.efermi, "gap": cbm - vbm, **points}))

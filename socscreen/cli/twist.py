"""Twisted heterobilayers: ``socscreen twist`` (build, write, submit) and ``twist-plot``.

``socscreen twist MoSe2.cif WSe2.cif --angles 0 13.2 21.8 27.8 60 --name moire`` builds
one commensurate cell per angle (:mod:`socscreen.bilayers`), prints them, writes them as
CIF files into ``moire/`` and submits them as the campaign ``moire``;
``socscreen campaign run`` computes them and ``socscreen twist-plot --name moire`` draws
the spin splitting at K and the gap against the angle.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from socscreen.cli import app
from socscreen.cli.common import (
    DbUri,
    LaunchpadFile,
    Predictor,
    PredictorOption,
    console,
    database,
    fail,
    predictor_elements,
    print_submission,
)

# socscreen.bilayers' defaults, written out so that `socscreen --help` does not import
# pymatgen (tests/test_bilayers.py checks they agree)
DEFAULT_INTERLAYER_DISTANCE = 6.5  # Angstrom
MIN_VACUUM = 15.0  # Angstrom
DEFAULT_MAX_ATOMS = 500
DEFAULT_MAX_STRAIN = 1.0  # %
DEFAULT_ANGLE_TOLERANCE = 0.5  # degrees
DEFAULT_SPARSE_FROM = 150  # sites: CampaignSettings.sparse_from_sites

SheetFile = Annotated[Path, typer.Argument(help="Monolayer (CIF/POSCAR), vacuum along c.")]


def _angles(given: list[float], extra: list[str]) -> list[float]:
    """``--angles 0 13.2 21.8``: the first value is the option's, the rest come as extras."""
    angles = list(given)
    for token in extra:
        try:
            angles.append(float(token))
        except ValueError:
            raise fail(
                f"unexpected argument {token!r} (angles are numbers, in degrees)", 2
            ) from None
    if not angles:
        raise fail("give at least one twist angle: --angles 0 21.8 60", 2)
    if extra and not given:
        raise fail(f"unexpected arguments {' '.join(extra)}: put them after --angles", 2)
    if not all(math.isfinite(a) for a in angles):
        raise fail("twist angles must be finite numbers (degrees)", 2)
    return angles


def _folded(point: str) -> str:
    return "Γ" if point == "Gamma" else point


def _table(cells: list[Any]) -> Table:
    """One row per requested angle: angles (degrees), atoms, strain (%), cells, id."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("angle", "achieved", "atoms", "strain %", "cells", "K at"):
        table.add_column(column, justify="right")
    table.add_column("id (file ID.cif)", no_wrap=True)
    for cell in cells:
        r = cell.record
        table.add_row(
            f"{r.requested_angle_deg:g}",
            f"{r.achieved_angle_deg:.2f}",
            str(r.n_atoms),
            f"{r.strain_percent:+.2f}",
            f"{r.bottom_cells}+{r.top_cells}",
            f"{_folded(r.bottom_k_folds_to)}+{_folded(r.top_k_folds_to)}",
            escape(cell.material_id),
        )
    return table


@app.command(
    "twist",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def twist(
    ctx: typer.Context,
    bottom: SheetFile,
    top: SheetFile,
    name: Annotated[str, typer.Option("--name", "-n", help="Campaign name (and id prefix).")],
    angles: Annotated[
        list[float],
        typer.Option(
            "--angles",
            help="Twist angles of the top layer (degrees, counter-clockwise): "
            "--angles 0 13.2 21.8 27.8 60.",
        ),
    ] = [],  # noqa: B006
    out: Annotated[
        Path | None, typer.Option(help="Folder of the CIF files (default ./NAME).")
    ] = None,
    interlayer_distance: Annotated[
        float, typer.Option(help="Distance of the mid-planes, metal to metal for MX2 (A).")
    ] = DEFAULT_INTERLAYER_DISTANCE,
    vacuum: Annotated[
        float, typer.Option(min=MIN_VACUUM, help="Empty space along c (A).")
    ] = MIN_VACUUM,
    max_atoms: Annotated[
        int, typer.Option(min=1, help="Largest bilayer cell (atoms).")
    ] = DEFAULT_MAX_ATOMS,
    max_strain: Annotated[
        float, typer.Option(min=0.0, help="Largest strain of the top layer (%).")
    ] = DEFAULT_MAX_STRAIN,
    angle_tolerance: Annotated[
        float, typer.Option(min=0.0, help="Largest miss of a requested angle (degrees).")
    ] = DEFAULT_ANGLE_TOLERANCE,
    build_only: Annotated[
        bool, typer.Option("--build-only", help="Write the cells, submit nothing.")
    ] = False,
    predictor: PredictorOption = Predictor.scc,
    batch_size: Annotated[int, typer.Option(min=1, help="Cells per batch job.")] = 1,
    sparse_from: Annotated[
        int,
        typer.Option(
            min=0,
            help="Cells of more atoms are predicted on sparse blocks (memory linear in the "
            "atoms) and analysed at their valley edges only: gap and spin splittings at "
            "K, K' and Gamma, no Z2 or Berry curvature.",
        ),
    ] = DEFAULT_SPARSE_FROM,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Build twisted bilayers of BOTTOM and TOP and submit them as one campaign.

    Each angle gets the smallest commensurate cell within the limits (the top layer
    strained to fit); an angle they cannot reach stops the command before anything is
    written, naming the nearest angle that works. Cells of more than ``--sparse-from``
    atoms take the large-cell route (sparse blocks, valley edges only).
    """
    from socscreen.stores.schemas.campaign import CampaignSettings
    from socscreen.structures import read_structure
    from socscreen.workflows.twist import build_twist_cells, write_twist_cells

    angle_list = _angles(angles, list(ctx.args))
    if not name.strip():
        raise fail("--name must not be empty", 2)
    try:
        sheets = [read_structure(path) for path in (bottom, top)]
        cells = build_twist_cells(
            *sheets,
            angle_list,
            name,
            interlayer_distance=interlayer_distance,
            vacuum=vacuum,
            max_atoms=max_atoms,
            max_strain_percent=max_strain,
            angle_tolerance_deg=angle_tolerance,
        )
        settings = CampaignSettings(
            predictor=predictor.value, batch_size=batch_size, sparse_from_sites=sparse_from
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    folder = out or Path(name)
    source = write_twist_cells(cells, folder)
    console.print(_table(cells))
    console.print(
        "angles in degrees; cells: bottom + top unit cells; K at: the supercell point each "
        "sheet's K valley folds onto; wrote "
        f"{len({c.material_id for c in cells})} CIF files and the campaign source {source}",
        soft_wrap=True,
    )
    if build_only:
        return
    _submit(source, name, settings, db_uri, launchpad)


def _submit(
    source: Path, name: str, settings: Any, db_uri: str | None, launchpad: Path | None
) -> None:
    from socscreen.workflows.twist import submit_twist_sweep

    elements = predictor_elements(settings)
    with database(db_uri, launchpad) as db:
        try:
            report = submit_twist_sweep(db, source, name, settings, elements)
        except ValueError as exc:
            raise fail(str(exc)) from exc
    print_submission(name, report)


@app.command("twist-plot")
def twist_plot(
    name: Annotated[str, typer.Option("--name", "-n", help="Campaign of `socscreen twist`.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="PNG file (default NAME-twist.png).")
    ] = None,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Plot spin splitting at K, gap and Berry curvature at K against twist angle; print them."""
    import numpy as np

    from socscreen.analysis.plots import plot_twist_sweep
    from socscreen.workflows.twist import twist_sweep

    with database(db_uri, launchpad) as db:
        try:
            points = twist_sweep(db, name)
        except ValueError as exc:
            raise fail(str(exc)) from exc
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("angle", "atoms", "strain %", "gap eV", "split K eV", "Ω(K) Å²"):
        table.add_column(column, justify="right")
    table.add_column("id / note", no_wrap=True)

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for p in points:
        r = p.record
        at_gamma = [
            layer
            for layer, point in (("bottom", r.bottom_k_folds_to), ("top", r.top_k_folds_to))
            if point == "Gamma"
        ]
        note = p.material_id + (f": {p.error}" if p.error else "")
        if at_gamma:
            note += f" ({' and '.join(at_gamma)} K folds to Γ, not in the K splitting)"
        table.add_row(
            f"{r.achieved_angle_deg:.2f}",
            str(r.n_atoms),
            f"{r.strain_percent:+.2f}",
            number(p.gap_eV),
            number(p.splitting_K_eV),
            "-" if p.curvature_K_A2 is None else f"{p.curvature_K_A2:.3g}",
            escape(note),
        )
    console.print(table)
    if all(p.gap_eV is None for p in points):
        raise fail(f"campaign {name!r} has no finished result yet: `socscreen campaign run`")
    path = output or Path(f"{name}-twist.png")
    nan = float("nan")
    plot_twist_sweep(
        np.array([p.record.achieved_angle_deg for p in points]),
        np.array([nan if p.gap_eV is None else p.gap_eV for p in points]),
        np.array([nan if p.splitting_K_eV is None else p.splitting_K_eV for p in points]),
        path,
        title=f"{points[0].record.bottom_formula} / {points[0].record.top_formula} ({name})",
        curvatures_A2=np.array(
            [nan if p.curvature_K_A2 is None else p.curvature_K_A2 for p in points]
        ),
    )
    console.print(
        f"angles in degrees; split K: spin splitting of the top valence band at K; Ω(K): "
        f"Berry curvature of the occupied bands at K; wrote {path}",
        soft_wrap=True,
    )

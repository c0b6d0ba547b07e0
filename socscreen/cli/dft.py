"""DFT commands: ``dft-reference``, ``dft-corpus generate|compact|zeroth-step|submit``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socscreen.cli import app
from socscreen.cli.common import DbUri, LaunchpadFile, database, fail

corpus_app = typer.Typer(
    help="Generate the GPAW training corpus (one reference calculation per seed).",
    no_args_is_help=True,
)
app.add_typer(corpus_app, name="dft-corpus")


@app.command("dft-reference")
def dft_reference(
    structure_file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="Any pymatgen-readable file: CIF, POSCAR, JSON."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Corpus file to write (default: <input stem>.npz)."),
    ] = None,
    basis: Annotated[
        str | None,
        typer.Option(help="GPAW basis, e.g. 'szp(dzp)' (default: SOCSCREEN_BASIS) or 'sz(dzp)'."),
    ] = None,
    soc: Annotated[bool, typer.Option("--soc/--no-soc", help="Compute the SOC blocks.")] = True,
    seed: Annotated[int, typer.Option(help="Seed recorded in meta, used for the S(k) check.")] = 0,
    gpaw_log: Annotated[
        Path | None, typer.Option(help="Write GPAW's text log to this file.")
    ] = None,
) -> None:
    """Run the GPAW LCAO reference calculation of one structure and write its corpus file."""
    import os

    from rich.console import Console
    from rich.table import Table

    from socscreen.dft.calculator import GPAWReferenceSettings
    from socscreen.dft.reference import compute_gpaw_reference
    from socscreen.structures import read_structure

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        structure = read_structure(structure_file)
    except ValueError as error:
        raise fail(str(error)) from error
    options = {"seed": seed} | ({"basis": basis} if basis else {})
    settings = GPAWReferenceSettings(**options)
    output = output or Path(f"{structure_file.stem}.npz")
    console = Console(stderr=True)
    try:
        with console.status("GPAW reference calculation") as status:
            ham = compute_gpaw_reference(
                structure,
                settings,
                soc=soc,
                progress=lambda stage: status.update(f"GPAW reference calculation: {stage}"),
                txt=gpaw_log,
            )
    except ValueError as error:
        raise fail(str(error)) from error
    path = ham.to_npz(output)
    table = Table(title=f"{ham.meta['formula']} ({settings.basis}, SOC {'on' if soc else 'off'})")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in ham.meta["timings"].items():
        table.add_row(stage, f"{seconds:.1f}")
    table.add_row("total", f"{ham.meta['seconds']:.1f}")
    Console().print(table)
    typer.echo(
        f"{path}: {ham.n_orbitals} orbitals, {len(ham.R)} R (grid {ham.meta['hr_grid']}), "
        f"E_F = {ham.efermi:.4f} eV"
    )


@corpus_app.command("generate")
def dft_corpus_generate(
    n: Annotated[int, typer.Option("--n", min=1, help="Number of training seeds.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="First seed.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Corpus folder.")] = Path(
        "data/corpus/gpaw-szp"
    ),
    workers: Annotated[int, typer.Option(min=1, help="Parallel GPAW processes.")] = 1,
    basis: Annotated[
        str | None, typer.Option(help="GPAW basis (default: SOCSCREEN_BASIS).")
    ] = None,
    max_cost: Annotated[
        float, typer.Option(help="Skip cells of larger estimated cost (Si 1.7, ScPtBi 42).")
    ] = 45.0,
    cpu_seconds: Annotated[
        int, typer.Option(min=1, help="CPU-time limit of one structure (s).")
    ] = 600,
    retry_failed: Annotated[
        bool, typer.Option(help="Rerun seeds listed in failures.jsonl.")
    ] = False,
    max_total_mb: Annotated[
        float | None, typer.Option(help="Stop once the folder's .npz files reach this (MB).")
    ] = None,
) -> None:
    """Compute train_<seed>_<formula>.npz for seeds SEED..SEED+N-1 (existing files kept)."""
    import os

    from tqdm import tqdm

    from socscreen.dft.calculator import GPAWReferenceSettings
    from socscreen.workflows.training_data import FAILURES_FILE, generate_corpus

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    settings = GPAWReferenceSettings(**({"basis": basis} if basis else {}))
    counts = {"written": 0, "exists": 0, "skipped": 0, "failed": 0}
    with tqdm(total=n, unit="structure", desc="dft-corpus") as bar:

        def report(entry) -> None:
            counts[entry.status] += 1
            detail = f"{entry.seconds:.0f} s" if entry.status in ("written", "failed") else ""
            tqdm.write(
                f"seed {entry.seed:5d} {entry.formula:<12} {entry.prototype:<15} "
                f"{entry.status:<8} {detail} {entry.error or ''}".rstrip()
            )
            bar.set_postfix(counts)
            bar.update()

        generate_corpus(
            n,
            seed,
            out,
            settings,
            workers=workers,
            retry_failed=retry_failed,
            max_total_mb=max_total_mb,
            cpu_seconds=cpu_seconds,
            on_entry=report,
            max_cost=max_cost,
        )
    typer.echo(
        f"{counts['written']} written, {counts['exists']} already there, "
        f"{counts['skipped']} over the caps, {counts['failed']} failed "
        f"(see {out / FAILURES_FILE})"
    )


@corpus_app.command("compact")
def dft_corpus_compact(
    folder: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="Corpus folder (*.npz).")
    ] = Path("data/corpus/gpaw-szp"),
) -> None:
    """Rewrite corpus files with the training corpus' thresholds (SOC below 0.1 meV zeroed)."""
    from tqdm import tqdm

    from socscreen.workflows.training_data import compact_corpus

    with tqdm(total=len(list(folder.glob("*.npz"))), unit="file", desc="compact") as bar:
        try:
            before, after = compact_corpus(folder, on_file=lambda *_: bar.update())
        except FileNotFoundError as error:
            raise fail(str(error)) from None
    typer.echo(f"{folder}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")


@corpus_app.command("zeroth-step")
def dft_corpus_zeroth_step(
    folders: Annotated[
        list[Path] | None,
        typer.Argument(help="Corpus folders (*.npz); default the training corpus."),
    ] = None,
) -> None:
    """Compute the zeroth-step H(0) of every corpus file that lacks it (or whose file changed).

    Each ``DIR/name.npz`` gets ``DIR/zeroth_step/name.npz`` (GPAW at the atomic density,
    ~1 s per small cell), linked to the file's content hash: rerunning computes only what
    is missing or stale, so training never runs GPAW.
    """
    from tqdm import tqdm

    from socscreen.corpus.zeroth_step import write_zeroth_step_companions

    for folder in folders or [Path("data/corpus/gpaw-szp")]:
        if not folder.is_dir():
            raise fail(f"{folder}: no such folder")
        failures: list[str] = []
        with tqdm(total=len(list(folder.glob("*.npz"))), unit="file", desc=str(folder)) as bar:

            def report(path: Path, outcome: str, detail: str, failures=failures) -> None:
                bar.update()
                if outcome == "failed":
                    failures.append(f"{path.name}: {detail}")

            try:
                counts = write_zeroth_step_companions(folder, on_file=report)
            except FileNotFoundError as error:
                raise fail(str(error)) from None
        typer.echo(
            f"{folder}: {counts['written']} written, {counts['rewritten']} rewritten as "
            f"differences, {counts['current']} already current, {counts['failed']} failed"
        )
        for line in failures:
            typer.echo(f"  failed {line}", err=True)


@corpus_app.command("submit")
def dft_corpus_submit(
    n: Annotated[int, typer.Option("--n", min=1, help="Number of training seeds.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="First seed.")] = 0,
    out: Annotated[
        Path, typer.Option("--out", help="Corpus folder (shared by all workers).")
    ] = Path("data/corpus/gpaw-szp"),
    batch_size: Annotated[int, typer.Option(min=1, help="Seeds per FireWorks job.")] = 4,
    category: Annotated[
        str | None, typer.Option(help="FireWorks category of the jobs (e.g. 'dft').")
    ] = None,
    basis: Annotated[
        str | None, typer.Option(help="GPAW basis (default: SOCSCREEN_BASIS).")
    ] = None,
    cpu_seconds: Annotated[
        int, typer.Option(min=1, help="CPU-time limit of one structure (s).")
    ] = 600,
    retry_failed: Annotated[
        bool, typer.Option(help="Also submit seeds listed in failures.jsonl.")
    ] = False,
    db_uri: DbUri = None,
    launchpad: LaunchpadFile = None,
) -> None:
    """Submit the corpus seeds SEED..SEED+N-1 as a FireWorks training-data campaign.

    Seeds whose file exists (or that failed before) are left out; run the jobs with
    `socscreen campaign run --workers N` (add `--category` to match `--category` here).
    """
    from jobflow.managers.fireworks import flow_to_workflow

    from socscreen.dft.calculator import GPAWReferenceSettings
    from socscreen.workflows.training_data import pending_seeds, training_data_flow

    seeds = pending_seeds(n, seed, out, retry_failed)
    if not seeds:
        typer.echo(f"nothing to submit: seeds {seed}..{seed + n - 1} are done in {out}")
        return
    settings = GPAWReferenceSettings(**({"basis": basis} if basis else {}))
    flow = training_data_flow(seeds, out, settings, batch_size, category, cpu_seconds=cpu_seconds)
    with database(db_uri, launchpad) as db:
        workflow = flow_to_workflow(flow, metadata={"training_data": str(out.resolve())})
        db.launchpad().add_wf(workflow)
    typer.echo(
        f"submitted {len(seeds)} seeds in {len(flow.jobs)} jobs writing to {out.resolve()}; "
        "run them with `socscreen campaign run --workers N`"
    )

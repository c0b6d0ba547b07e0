"""Model commands: ``socscreen predict``, ``socscreen train``, ``socscreen model info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from socscreen.cli import app
from socscreen.cli.common import Predictor, PredictorOption, err_console, fail

model_app = typer.Typer(name="model", help="Inspect Uni-HamGNN checkpoints.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@app.command()
def predict(
    structure_file: Annotated[Path, typer.Argument(help="Structure file (CIF, POSCAR, ...).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output corpus-format .npz.")],
    checkpoint: Annotated[
        Path | None, typer.Option(help="Checkpoint (.pt); default the shipped model.")
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, ...; default GPU if present.")
    ] = None,
    soc: Annotated[bool, typer.Option("--soc/--no-soc", help="Predict spin-orbit blocks.")] = True,
    predictor: PredictorOption = Predictor.model,
    sparse: Annotated[
        bool,
        typer.Option(
            "--sparse",
            help="Sparse blocks for cells of hundreds of atoms (model and scc: a bilayer of "
            "two sheets; baseline: any cell): memory linear in the atoms; the file is read "
            "by `socscreen valleys`.",
        ),
    ] = False,
) -> None:
    """Predict the SOC tight-binding Hamiltonian of a structure and write it as .npz.

    A cell of more than 100 atoms is announced with a rough peak-memory estimate; a
    spinner shows the elapsed time and the wall time is printed at the end (stderr).
    ``--sparse`` writes the sparse format (docs/large_cells.md).
    """
    from socscreen.cli.progress import timed
    from socscreen.model.predictors import (
        LARGE_CELL_ATOMS,
        peak_memory_estimate,
        predict_hamiltonian,
        prediction_version,
    )
    from socscreen.structures import read_structure

    try:
        structure = read_structure(structure_file)
        if len(structure) > LARGE_CELL_ATOMS and not sparse:
            err_console.print(
                f"warning: {structure_file.name} has {len(structure)} atoms: a large "
                f"prediction, roughly {peak_memory_estimate(len(structure)) / 1e9:.1f} GB of "
                "memory and minutes of CPU time",
                soft_wrap=True,
            )
        with timed(f"predict {structure_file.name}") as step:
            step(f"{predictor.value}, {len(structure)} atoms")
            h = predict_hamiltonian(
                structure,
                predictor.value,
                checkpoint=checkpoint,
                device=device,
                soc=soc,
                sparse_blocks=sparse,
                progress=step,
            )
    except ValueError as err:
        raise fail(str(err)) from err
    path = h.to_npz(output)
    typer.echo(
        f"{h!r}: E_F = {h.efermi:.3f} eV, {h.nelect:g} electrons "
        f"({prediction_version(h.meta)}) -> {path}"
    )


@model_app.command("info")
def info(
    checkpoint: Annotated[
        Path | None, typer.Option(help="Checkpoint (.pt); default the shipped model.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full record as JSON.")] = False,
) -> None:
    """Print the elements a checkpoint covers, its settings and training record."""
    from rich.console import Console
    from rich.table import Table

    from socscreen.model.inference import load_model
    from socscreen.model.predictors import FEW_TRAINING_FILES, sparsely_trained

    model, payload = load_model(checkpoint, "cpu")
    record = payload["record"]
    if as_json:
        typer.echo(json.dumps({**record, "config": model.config.model_dump()}, indent=2))
        return
    console = Console()
    table = Table(title=record.get("name", "Uni-HamGNN"), show_header=False)
    table.add_row(
        "checkpoint",
        f"{record.get('checkpoint')} (sha256 {record.get('checkpoint_sha256', '')[:12]})",
    )
    table.add_row("version", str(record.get("version")))
    table.add_row("basis", str(record.get("basis")))
    if model.config.correction:
        table.add_row("corrected elements", " ".join(model.elements))
        table.add_row(
            "other elements",
            f"with GPAW data: the {model.config.baseline} baseline alone "
            "(flag uncorrected_elements)",
        )
    else:
        table.add_row("elements", " ".join(model.elements))
    sparse = sparsely_trained(record)
    if sparse:
        table.add_row(
            f"in < {FEW_TRAINING_FILES} training files",
            " ".join(f"{e}:{n}" for e, n in sorted(sparse.items(), key=lambda x: x[1]))
            + " (flag sparsely_trained_elements)",
        )
    table.add_row("parameters", f"{sum(p.numel() for p in model.parameters()):,}")
    for key, value in model.config.model_dump().items():
        table.add_row(key, str(value))
    table.add_row("training files", str(len(record.get("training_files", []))))
    for part, names in record.get("split", {}).items():
        table.add_row(f"split: {part}", str(len(names)))
    metrics = record.get("metrics", {})
    for part in ("val", "test"):
        if part in metrics:
            text = ", ".join(
                f"{k}={v * 1000:.2f} meV" for k, v in metrics[part].items() if k.endswith("mae")
            )
            table.add_row(f"{part} metrics", text)
    for stage, reason in metrics.get("skipped_stages", {}).items():
        table.add_row(f"skipped {stage}", reason)
    for member in record.get("members", []):
        val = member.get("metrics", {}).get("val", {})
        table.add_row(
            f"member seed {member.get('seed')}",
            f"{member.get('checkpoint')}"
            + (f", val band_mae={val['band_mae'] * 1000:.2f} meV" if "band_mae" in val else ""),
        )
    table.add_row("command", str(record.get("command")))
    console.print(table)


@model_app.command("export")
def export(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint written by `socscreen train`.")],
    output: Annotated[Path, typer.Argument(help="Output .pt (its .json record goes beside it).")],
) -> None:
    """Write a checkpoint without training state (weights + record), e.g. to ship it."""
    from socscreen.model.checkpoint import load_checkpoint, save_checkpoint

    model, payload = load_checkpoint(checkpoint)
    path = save_checkpoint(output, model, payload["record"])
    typer.echo(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")


@model_app.command("ensemble")
def ensemble(
    members: Annotated[
        list[Path],
        typer.Argument(help="Checkpoints of one recipe trained with different seeds."),
    ],
    output: Annotated[
        Path, typer.Option("--out", "-o", help="Output .pt (its .json record goes beside it).")
    ],
) -> None:
    """Combine trainings that differ only in their seed into one model predicting their mean.

    The members must share their corpus, split (``split_seed``), layout and architecture.
    """
    from socscreen.model.checkpoint import load_checkpoint, save_checkpoint
    from socscreen.model.ensemble import ModelEnsemble, ensemble_record
    from socscreen.model.train import command_line

    if len(members) < 2:
        raise typer.BadParameter("an ensemble needs two or more checkpoints", param_hint="MEMBERS")
    try:
        loaded = [load_checkpoint(path) for path in members]
        models = [model for model, _ in loaded]
        nested = [
            str(p) for p, m in zip(members, models, strict=True) if isinstance(m, ModelEnsemble)
        ]
        if nested:
            raise ValueError(f"{nested} are ensembles themselves: list their members instead")
        record = ensemble_record(
            [payload["record"] for _, payload in loaded],
            [str(path) for path in members],
            command_line(),
        )
        path = save_checkpoint(output, ModelEnsemble(models), record)
    except (OSError, ValueError) as err:
        raise fail(str(err)) from err
    typer.echo(f"{path}: the mean of {len(models)} models ({path.stat().st_size / 1e6:.1f} MB)")


def _recorded_files(record_path: Path, folder: Path) -> list[str]:
    """File names of a checkpoint record's corpus, each checked against its hash.

    A file matches by its content (``content_sha256``: the same Hamiltonian however it is
    stored, e.g. after ``socscreen dft-corpus compact``) or, for records without it, by
    its bytes (``sha256``).
    """
    import json

    from socscreen.checksums import file_sha256
    from socscreen.hamiltonian import Hamiltonian

    listed = json.loads(record_path.read_text()).get("training_files") or []
    if not listed:
        raise typer.BadParameter(f"{record_path} lists no training files")

    def same(entry: dict) -> bool:
        path = folder / entry["name"]
        if not path.exists():
            return False
        if "content_sha256" not in entry:
            return file_sha256(path) == entry["sha256"]
        try:
            return Hamiltonian.from_npz(path).content_sha256() == entry["content_sha256"]
        except (OSError, ValueError, KeyError):  # not a readable corpus file
            return False

    changed = [f["name"] for f in listed if not same(f)]
    if changed:
        raise typer.BadParameter(
            f"{len(changed)} files of {record_path} are missing or differ in {folder}: "
            f"{changed[:5]}"
        )
    return [f["name"] for f in listed]


#: Fine-tuning settings unless the config says otherwise: a delta on top of the model.
FINETUNE_DEFAULTS = {
    "h0_epochs": 30,
    "soc_epochs": 10,
    "band_epochs": 10,
    "lr": 5e-4,
    "band_lr": 2e-4,
    "val_fraction": 0.0,
    "test_fraction": 0.0,
}


@app.command()
def train(
    config: Annotated[Path | None, typer.Option(help="YAML file with TrainConfig fields.")] = None,
    data: Annotated[Path | None, typer.Option(help="Folder of corpus *.npz files.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder (checkpoints, metrics.jsonl).")] = Path(
        "runs/train"
    ),
    resume: Annotated[Path | None, typer.Option(help="Checkpoint to resume from.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs of stage 1 (H0).")] = None,
    soc_epochs: Annotated[int | None, typer.Option(help="Epochs of the SOC stage.")] = None,
    band_epochs: Annotated[int | None, typer.Option(help="Epochs of band fine-tuning.")] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads.")] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the initialisation and k sampling (and of the split, unless the "
            "config sets split_seed): the members of an ensemble differ in it alone."
        ),
    ] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Wall-time budget (minutes).")] = None,
    finetune: Annotated[
        Path | None,
        typer.Option(
            help="Fine-tune a trained model on this folder of corpus *.npz files (e.g. the "
            "validated GPAW Hamiltonians of `socscreen rerun`) instead of training anew."
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Model to fine-tune (with --finetune); default the shipped one."),
    ] = None,
    files_from: Annotated[
        Path | None,
        typer.Option(
            help="Train only on the files a checkpoint record (.json) lists, checking their "
            "sha256: reproduces that checkpoint's corpus after the folder grew."
        ),
    ] = None,
) -> None:
    """Train Uni-HamGNN on a corpus: H0, then SOC on frozen H0, then band fine-tuning.

    With ``--finetune DIR`` the run starts from a trained checkpoint (its architecture,
    elements and normalisation) with smaller learning rates and fewer epochs, unless the
    config or options say otherwise.
    """
    import yaml

    from socscreen.model.train import TrainConfig
    from socscreen.model.train import train as run_train

    settings = yaml.safe_load(config.read_text()) if config is not None else {}
    if finetune is not None:
        from socscreen.model.predictors import default_checkpoint

        for key, value in FINETUNE_DEFAULTS.items():
            settings.setdefault(key, value)
        settings["data"] = str(finetune)
        settings["init_checkpoint"] = str(checkpoint or default_checkpoint())
        _zeroth_step_for_correction(Path(settings["init_checkpoint"]), finetune)
    elif checkpoint is not None:
        raise typer.BadParameter("--checkpoint only goes with --finetune (or use --resume)")
    if files_from is not None:
        folder = Path(data or settings.get("data") or TrainConfig().data)
        settings["files"] = _recorded_files(files_from, folder)
    overrides = {
        "data": str(data) if data is not None else None,
        "h0_epochs": epochs,
        "soc_epochs": soc_epochs,
        "band_epochs": band_epochs,
        "threads": threads,
        "seed": seed,
        "max_minutes": max_minutes,
    }
    settings.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = TrainConfig(**settings)
        path = run_train(cfg, out, resume=resume)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    typer.echo(f"trained model -> {path}")


def _zeroth_step_for_correction(checkpoint: Path, folder: Path) -> None:
    """Compute the H(0) a correction checkpoint trains on for the corpus files of ``folder``."""
    from socscreen.corpus.zeroth_step import write_zeroth_step_companions
    from socscreen.model.predictors import checkpoint_record, is_correction_record

    if not is_correction_record(checkpoint_record(checkpoint)):
        return
    counts = write_zeroth_step_companions(folder)
    typer.echo(
        f"zeroth-step H(0) of {folder}: {counts['written']} computed, "
        f"{counts['rewritten']} rewritten, {counts['current']} current, {counts['failed']} failed"
    )

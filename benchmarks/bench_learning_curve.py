"""Learning curve of the shipped correction model: test error against training files.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_learning_curve.py [--sizes 100 200 0]
        [--config model/checkpoints/uni_hamgnn_szp_shifts.yaml] [--out runs/curve]
        [--trained runs/seed0/model.json]

Trains the config's model (for the shipped one: the shell shifts of stage 0) on the first
``N`` of its training files (seeded shuffle; ``0`` means all of them), with the config's
validation and test files unchanged (its ``split_from`` record fixes every part), and
prints the band MAE and the spin-splitting error on the same validation and test files of
each (eight random k per file, as training scores its epochs), after a first row for the
untrained model (its baseline: no shift fit and no training epoch). ``--trained`` names
the record of a training already run with this config: a row whose training files and
settings are exactly that record's reads its metrics instead of training again (for the
shipped recipe, the seed-0 member is the "all files" row). 5-15 minutes per row of
100-200 files on one core, 35-60 min for all 801 of the shipped recipe's.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import yaml

from socscreen.model.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, default=ROOT / "model/checkpoints/uni_hamgnn_szp_shifts.yaml"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs/curve")
    parser.add_argument(
        "--trained",
        type=Path,
        nargs="*",
        default=[],
        help="records (model.json) of trainings of this config to reuse for their row",
    )
    args = parser.parse_args()
    config = TrainConfig(**yaml.safe_load(args.config.read_text()))
    if config.split_from is None:
        raise SystemExit(f"{args.config} has no split_from: the test files would move")
    split = json.loads((ROOT / config.split_from).read_text())["split"]
    listed = set(config.files or [])
    training = sorted(set(split["train"]) & listed)
    random.Random(config.seed).shuffle(training)
    held_out = sorted((set(split["val"]) | set(split["test"])) & listed)
    trained = [json.loads(path.read_text()) for path in args.trained]
    rows = []
    untrained = {"shift_iterations": 0, "h0_epochs": 0, "soc_epochs": 0, "band_epochs": 0}
    runs = [("untrained", len(training), untrained)]
    runs += [(str(size or len(training)), size or len(training), {}) for size in args.sizes]
    for label, n, changes in runs:
        run = config.model_copy(update={"files": held_out + training[:n], **changes})
        tick = time.perf_counter()
        record = next((r for r in trained if _same_training(r, run)), None)
        if record is None:
            checkpoint = train(run, args.out / label, command=f"bench_learning_curve {label}")
            record = json.loads(checkpoint.with_suffix(".json").read_text())
            seconds = f"{time.perf_counter() - tick:.0f}"
        else:
            seconds = f"{60 * record['metrics']['minutes']:.0f} (reused)"
        rows.append((label, record["metrics"], seconds))
    print(f"\n### Learning curve of {args.config.name} ({len(held_out)} held-out files)\n")
    print(
        "| training files | val band MAE (meV) | test band MAE (meV) "
        "| val / test spin-splitting error (meV) | time (s) |"
    )
    print("|---|---|---|---|---|")
    for label, metrics, seconds in rows:
        val, test = metrics["val"], metrics["test"]
        print(
            f"| {label} | {1e3 * val['band_mae']:.1f} | {1e3 * test['band_mae']:.1f} "
            f"| {_splitting(val)} / {_splitting(test)} | {seconds} |"
        )


def _same_training(record: dict, run: TrainConfig) -> bool:
    """Whether ``record`` is a training of ``run``: the same files and the same settings."""
    names = {entry["name"] for entry in record["training_files"]}
    settings = {k: v for k, v in record["settings"].items() if k != "files"}
    expected = {k: v for k, v in run.model_dump(mode="json").items() if k != "files"}
    return names == set(run.files or []) and settings == expected


def _splitting(metrics: dict) -> str:
    """The spin-splitting error in meV, or a dash where the record has none."""
    return f"{1e3 * metrics['splitting_mae']:.2f}" if "splitting_mae" in metrics else "-"


if __name__ == "__main__":
    main()

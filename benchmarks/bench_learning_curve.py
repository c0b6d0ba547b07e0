"""Learning curve of the shipped correction model: test error against training files.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_learning_curve.py [--sizes 100 200 0]
        [--config model/checkpoints/uni_hamgnn_szp_shifts.yaml] [--out runs/curve]

Trains the config's model (for the shipped one: the shell shifts of stage 0) on the first
``N`` of its training files (seeded shuffle; ``0`` means all of them), with the config's
validation and test files unchanged (its ``split_from`` record fixes every part), and
prints the band MAE on the same validation and test files of each, after a first row for
the untrained model (its baseline: no shift fit and no training epoch). A few minutes per
row of 100-200 files on one core, 20 min for all of the shipped model's files.
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
    args = parser.parse_args()
    config = TrainConfig(**yaml.safe_load(args.config.read_text()))
    if config.split_from is None:
        raise SystemExit(f"{args.config} has no split_from: the test files would move")
    split = json.loads((ROOT / config.split_from).read_text())["split"]
    listed = set(config.files or [])
    training = sorted(set(split["train"]) & listed)
    random.Random(config.seed).shuffle(training)
    held_out = sorted((set(split["val"]) | set(split["test"])) & listed)
    rows = []
    untrained = {"shift_iterations": 0, "h0_epochs": 0, "soc_epochs": 0, "band_epochs": 0}
    runs = [("untrained", len(training), untrained)]
    runs += [(str(size or len(training)), size or len(training), {}) for size in args.sizes]
    for label, n, changes in runs:
        run = config.model_copy(update={"files": held_out + training[:n], **changes})
        tick = time.perf_counter()
        checkpoint = train(run, args.out / label, command=f"bench_learning_curve {label}")
        metrics = json.loads(checkpoint.with_suffix(".json").read_text())["metrics"]
        rows.append(
            (
                label,
                1e3 * metrics["val"]["band_mae"],
                1e3 * metrics["test"]["band_mae"],
                time.perf_counter() - tick,
            )
        )
    print(f"\n### Learning curve of {args.config.name} ({len(held_out)} held-out files)\n")
    print("| training files | val band MAE (meV) | test band MAE (meV) | time (s) |")
    print("|---|---|---|---|")
    for label, val, test, seconds in rows:
        print(f"| {label} | {val:.1f} | {test:.1f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()

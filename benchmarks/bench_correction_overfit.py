"""Can the correction model fit a handful of corpus files? (A check of its band gradient.)

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_correction_overfit.py \\
        [--config model/checkpoints/uni_hamgnn_szp_scccorr.yaml] [--files 6] [--passes 40]
        [--lr 1e-4]

Builds the correction model of ``--config`` (its baseline, ``h0`` or ``scc``) for the first
``--files`` small binary compounds of the config's file list, then takes Adam steps on the
band loss alone (``train._band_term``: bands within E_F ± band_window at the config's
number of k-points), one file per step, float64, with the **same** k-points every pass.
Prints the band MAE (meV) of each file every few passes. A falling MAE shows the band
gradient through the eigenvalues is right; if full training still fails to descend, the
cause is the corpus-wide optimisation (conflicting files, noisy k), not the gradient.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from socscreen.corpus.loading import load_baselines, load_corpus
from socscreen.model.checkpoint import build_model
from socscreen.model.data import CrystalData, collate
from socscreen.model.inference import correction_baseline
from socscreen.model.layout import OrbitalLayout
from socscreen.model.normalization import compute_normalization
from socscreen.model.train import TrainConfig, _band_term, corpus_layout

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, default=ROOT / "model/checkpoints/uni_hamgnn_szp_scccorr.yaml"
    )
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--passes", type=int, default=40)
    parser.add_argument("--lr", type=float, default=1e-4)
    args = parser.parse_args()
    torch.set_num_threads(1)

    config = TrainConfig(**yaml.safe_load(args.config.read_text()))
    if not config.model.correction:
        raise SystemExit(f"{args.config} is not a correction model")
    binaries = [n for n in config.files or [] if sum(c.isupper() for c in n.split("_")[2]) == 2]
    files, hamiltonians = load_corpus(ROOT / config.data, binaries[: args.files])
    shas = [h.content_sha256() for h in hamiltonians]
    baselines = [
        correction_baseline(b, config.model.baseline)
        for b in load_baselines(files, hamiltonians, shas)
    ]
    shells, cutoffs = corpus_layout(hamiltonians, config.basis)
    layout = OrbitalLayout(shells)
    samples = [
        CrystalData.from_hamiltonian(h, layout, cutoffs, name=f.stem, baseline=b)
        for f, h, b in zip(files, hamiltonians, baselines, strict=True)
    ]
    normalization = compute_normalization(samples, layout, config.model.message_cutoff)
    model = build_model(shells, cutoffs, config.model, normalization, torch.float64, config.basis)
    optimizer = torch.optim.Adam(model.h0.parameters(), lr=args.lr)

    names = [s.name.split("_", 2)[2] for s in samples]
    print(f"band MAE (meV), baseline {config.model.baseline}, lr {args.lr}, same k every pass\n")
    print("| pass | " + " | ".join(names) + " | mean |")
    print("|---" * (len(names) + 2) + "|")
    for step in range(args.passes + 1):
        maes = []
        for sample in samples:
            batch = collate([sample]).to("cpu", torch.float64)
            out = model(batch, soc=True)
            loss, mae, _ = _band_term(out, batch, [sample], config, np.random.default_rng(0))
            if step < args.passes:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            maes.append(1000 * float(mae))
        if step % 5 == 0 or step == args.passes:
            row = " | ".join(f"{m:.1f}" for m in maes)
            print(f"| {step} | {row} | {np.mean(maes):.1f} |")


if __name__ == "__main__":
    main()

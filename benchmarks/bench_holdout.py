"""Benchmark the predictors on real compounds at experimental geometry (held out).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_holdout.py --compute   # GPAW references once
    OMP_NUM_THREADS=1 python benchmarks/bench_holdout.py [--checkpoint PT]
        [--predictor baseline scc model]

``--predictor`` (default all three): ``model`` the checkpoint, ``baseline`` GPAW's
zeroth-step H(0) with no learning, ``scc`` H(0) with self-consistent atomic charges; every
table puts them side by side per compound.

The training corpus only holds strained and rattled cells (every seed is perturbed, see
``socscreen.corpus.training_structures``), so these compounds at their experimental
lattice constants are never seen in training: they measure how the model generalises to
the real crystals users screen. ``--compute`` runs the corpus GPAW reference calculation
(szp(dzp), SOC) for every compound whose file is missing in ``benchmarks/data/holdout``
and stores it with the training corpus' storage thresholds.

Prints markdown tables:

1. accuracy per compound and predictor: band MAE within E_F ± 2 eV on an 8×8×8 grid
   (offset-removed, aligned at E_F, VBM-aligned with bands matched by electron count),
   H0 MAE over bonding elements (|S| > 0.05), spin-splitting error; mean and median;
2. the screening verdict from the campaign analysis (``analysis_fields`` with the
   default campaign settings) on the DFT and on each predicted Hamiltonian: gap with SOC,
   Z2 class and whether the prediction reaches the DFT's topological class; the mean
   gap error over compounds whose DFT has a gap.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_model import (  # noqa: E402
    PREDICTOR_LABELS,
    ROOT,
    _exact_reference,
    _means,
    _table,
    add_predictor_argument,
    compare,
    predict_with,
)

from socscreen.hamiltonian import COMPACT_ZERO_THRESHOLDS, Hamiltonian  # noqa: E402

HOLDOUT_DIR = ROOT / "benchmarks/data/holdout"

#: Real compounds (names of ``REAL_COMPOUNDS``) benchmarked; Bi2Se3 and Si are the test
#: fixtures and reported by ``bench_model.py``.
HOLDOUT = (
    "GaAs",
    "InSb",
    "CdTe",
    "HgTe",
    "InAs",
    "GaN",
    "PbTe",
    "SnTe",
    "GeTe",
    "PbS",
    "Bi2Te3",
    "Sb2Te3",
    "Bi",
    "Sb",
    "NaCl",
    "CsI",
    "CaF2",
    "Mg2Sn",
    "CsPbI3",
    "PtSe2",
    "HfTe2",
    "ZrNiSn",
    "LiZnAs",
    "Au",
    "Pt",
    "W",
)


def _compound(name: str):
    from socscreen.corpus.training_structures import REAL_COMPOUNDS

    by_name = {c.name: c for c in REAL_COMPOUNDS}
    return by_name[name]


def compute_references(names: tuple[str, ...], max_cost: float) -> None:
    """GPAW corpus-settings references of the compounds that have no file yet."""
    from socscreen.dft.calculator import GPAWReferenceSettings
    from socscreen.dft.reference import compute_gpaw_reference
    from socscreen.workflows.training_data import estimated_cost

    settings = GPAWReferenceSettings()
    HOLDOUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = HOLDOUT_DIR / f"{name}.npz"
        if path.exists():
            continue
        compound = _compound(name)
        structure = compound.build()
        structure.properties = {"prototype": compound.prototype, "holdout": True, "source": name}
        cost = estimated_cost(structure, settings.basis)
        if cost > max_cost:
            print(f"{name:8s} skipped: estimated cost {cost:.1f} > {max_cost}")
            continue
        start = time.perf_counter()
        ham = compute_gpaw_reference(structure, settings)
        ham.to_npz(path, thresholds=COMPACT_ZERO_THRESHOLDS)
        print(f"{name:8s} {time.perf_counter() - start:6.1f} s -> {path.relative_to(ROOT)}")


def _verdict(fields) -> dict[str, str | float | None]:
    z2 = fields.z2
    return {
        "gap": fields.gaps.indirect,
        "z2": "({};{}{}{})".format(*z2.z2) if z2 is not None else "-",
        "class": z2.classification if z2 is not None else "-",
        "flags": ", ".join(fields.flags) or "-",
    }


#: Metrics of the accuracy table: key, header, scale to meV.
METRICS = (
    ("band_offset", "bands offs.-rem."),
    ("band_ef", "bands E_F-al."),
    ("band_ef_same", "bands E_F-al. (one rule)"),
    ("band_vbm", "bands VBM-al."),
    ("h0_bonded", "H0 bonded"),
    ("spin_split", "spin split"),
)


def evaluate(checkpoint: Path | None, predictors: tuple[str, ...]) -> None:
    """Tables 1 and 2 for every stored reference, the predictors side by side."""
    from socscreen.makers.analyse import analysis_fields
    from socscreen.model.inference import load_model
    from socscreen.stores.schemas.campaign import CampaignSettings

    covered = set(load_model(checkpoint, "cpu")[0].elements) if "model" in predictors else None
    settings = CampaignSettings()
    accuracy, verdicts, missing = [], [], []
    for name in HOLDOUT:
        path = HOLDOUT_DIR / f"{name}.npz"
        if not path.exists():
            missing.append(name)
            continue
        ref = Hamiltonian.from_npz(path)
        lacking = sorted({s.symbol for s in ref.structure.species} - (covered or set()))
        if covered is not None and lacking:
            missing.append(f"{name} (model lacks {', '.join(lacking)})")
            continue
        exact = _exact_reference(ref)
        dft = _verdict(analysis_fields(ref if exact is None else exact, settings))
        row = {"name": name, "prototype": ref.meta.get("prototype", "?")}
        verdict = {"name": name, "dft_gap": dft["gap"], "dft_z2": f"{dft['z2']} {dft['class']}"}
        for predictor in predictors:
            pred = predict_with(predictor, ref, checkpoint)
            row |= {f"{predictor}:{k}": v for k, v in compare(pred, ref).items()}
            guess = _verdict(analysis_fields(pred, settings))
            verdict |= {
                f"{predictor}:gap": guess["gap"],
                f"{predictor}:gap_error": None
                if dft["gap"] is None or guess["gap"] is None or dft["gap"] <= 0
                else abs(guess["gap"] - dft["gap"]),
                f"{predictor}:z2": f"{guess['z2']} {guess['class']}",
                f"{predictor}:same": "yes" if dft["class"] == guess["class"] else "NO",
            }
        accuracy.append(row)
        verdicts.append(verdict)
    keys = [f"{p}:{k}" for k, _ in METRICS for p in predictors]
    columns = [("name", "compound", 1), ("prototype", "prototype", 1)] + [
        (f"{p}:{k}", f"{label} {PREDICTOR_LABELS[p]} (meV)", 1e3)
        for k, label in METRICS
        for p in predictors
    ]
    if accuracy:
        accuracy += [
            {
                "name": f"{label} ({len(accuracy)})",
                "prototype": "-",
                **_means(accuracy, average, keys),
            }
            for label, average in (("mean", np.mean), ("median", np.median))
        ]
    _table(
        "Real compounds at experimental geometry (never in training) vs GPAW szp(dzp)",
        accuracy,
        columns,
    )
    gap_keys = [f"{p}:gap_error" for p in predictors]
    with_gap = sum(v["dft_gap"] is not None and v["dft_gap"] > 0 for v in verdicts)
    if verdicts:
        verdicts.append(
            {
                "name": f"mean gap error ({with_gap} with a DFT gap)",
                **_means(verdicts, np.mean, gap_keys),
            }
        )
    same = ", ".join(
        f"{PREDICTOR_LABELS[p]} {sum(v.get(f'{p}:same') == 'yes' for v in verdicts)}"
        for p in predictors
    )
    _table(
        f"Screening verdict, DFT vs predicted (same class of {len(HOLDOUT) - len(missing)}: "
        f"{same})",
        verdicts,
        [("name", "compound", 1), ("dft_gap", "DFT gap (meV)", 1e3)]
        + [(f"{p}:gap", f"{PREDICTOR_LABELS[p]} gap (meV)", 1e3) for p in predictors]
        + [(f"{p}:gap_error", f"{PREDICTOR_LABELS[p]} gap error (meV)", 1e3) for p in predictors]
        + [("dft_z2", "DFT Z2", 1)]
        + [(f"{p}:z2", f"{PREDICTOR_LABELS[p]} Z2", 1) for p in predictors]
        + [(f"{p}:same", f"{PREDICTOR_LABELS[p]} same class", 1) for p in predictors],
    )
    if missing:
        print(f"\nnot evaluated: {', '.join(missing)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument(
        "--compute", action="store_true", help="Run GPAW for compounds without a reference."
    )
    parser.add_argument("--max-cost", type=float, default=45.0, help="Skip costlier cells.")
    add_predictor_argument(parser)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.compute:
        compute_references(HOLDOUT, args.max_cost)
    evaluate(args.checkpoint, tuple(args.predictor))
    print(f"\n(benchmark took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

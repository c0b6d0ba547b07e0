"""Benchmark the Z2 routes on corpus files, one core (CPU seconds of this process).

Usage::

    python benchmarks/bench_z2.py                      # tests/data + data/corpus/gpaw-szp
    python benchmarks/bench_z2.py --files a.npz b.npz  # any corpus-format files

For every file: the parity route (inversion search, Hamiltonian symmetry check, Fu-Kane
parities) and the full ``z2_invariants(route="auto")`` (symmetrisation, metal/insulator
grid, parity, Wilson loops; shown only where the Wilson route ran, i.e. not for metals,
which are flagged after the grid). Then median and worst times per band-count bin, against
the goals: parity <= 0.1 s, full Z2 <= 10 s for <= 60 spinor bands. Times are process
CPU seconds with one BLAS thread, so a shared, busy machine does not inflate them.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from socscreen.analysis.bloch import LowdinBloch  # noqa: E402
from socscreen.analysis.parity import hamiltonian_inversion, parity_z2  # noqa: E402
from socscreen.analysis.topology import z2_invariants  # noqa: E402
from socscreen.analysis.wilson import wilson_z2  # noqa: E402
from socscreen.hamiltonian import Hamiltonian  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GLOBS = ("tests/data/*.npz", "data/corpus/gpaw-szp/*.npz")
BINS = ((0, 30), (31, 60), (61, 120), (121, 10**6))
PARITY_GOAL_S, FULL_GOAL_S, GOAL_BANDS = 0.1, 10.0, 60


def bench_file(path: Path, wilson_on_metals: bool = False) -> dict:
    """Time the parity route, the Wilson route and the full Z2 of one file.

    The parity time is the inversion search, the Hamiltonian symmetry check and (when the
    Hamiltonian is inversion symmetric) the Fu-Kane parities; the Wilson time is
    :func:`wilson_z2` alone, measured for insulators and semimetals (and metals with an
    even electron count when ``wilson_on_metals``); the full time is ``z2_invariants``.
    """
    ham = Hamiltonian.from_npz(path)
    source = LowdinBloch(ham.symmetrized())
    start = time.process_time()
    inversion, _ = hamiltonian_inversion(source)
    n_occ = int(round(ham.nelect))
    if inversion is not None and n_occ % 2 == 0:
        parity_z2(source, n_occ, inversion)
    parity_s = time.process_time() - start
    start = time.process_time()
    full = z2_invariants(ham, route="auto")
    full_s = time.process_time() - start
    wilson_s = None
    forced = wilson_on_metals and n_occ % 2 == 0 and ham.nelect == n_occ
    if "wilson" in full.timings or forced:
        start = time.process_time()
        wilson_z2(source, n_occ)
        wilson_s = time.process_time() - start
    return {
        "file": path.name,
        "formula": ham.structure.composition.reduced_formula,
        "bands": ham.n_spinor,
        "z2": full.z2,
        "route": full.route or "-",
        "inversion": inversion is not None,
        "parity_s": parity_s,
        "wilson_s": wilson_s,
        "full_s": full_s if "wilson" in full.timings else None,
        "flags": ",".join(full.flags) or "-",
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="+", type=Path, help="corpus-format .npz files")
    parser.add_argument(
        "--wilson-on-metals",
        action="store_true",
        help="also time the Wilson route on metals with an even electron count",
    )
    args = parser.parse_args()
    files = args.files or sorted(p for g in DEFAULT_GLOBS for p in ROOT.glob(g))
    if not files:
        parser.error("no corpus files found")
    rows = []
    header = (
        f"{'file':30s} {'formula':8s} {'bands':>5s} {'inv':>3s} {'z2':6s} {'route':13s} "
        f"{'parity_s':>8s} {'wilson_s':>8s} {'full_s':>7s}  flags"
    )
    print(header)
    print("-" * len(header))
    for path in files:
        try:
            row = bench_file(Path(path), args.wilson_on_metals)
        except np.linalg.LinAlgError as error:  # a broken file is reported, not timed
            print(f"{Path(path).name[:30]:30s} skipped: {error}", flush=True)
            continue
        rows.append(row)
        z2 = "-" if row["z2"] is None else "".join(map(str, row["z2"]))
        print(
            f"{row['file'][:30]:30s} {row['formula'][:8]:8s} {row['bands']:5d} "
            f"{'yes' if row['inversion'] else 'no':>3s} {z2:6s} {row['route']:13s} "
            f"{_fmt(row['parity_s']):>8s} {_fmt(row['wilson_s']):>8s} "
            f"{_fmt(row['full_s']):>7s}  {row['flags']}",
            flush=True,
        )
    print()
    print(
        f"{'spinor bands':12s} {'n':>3s} {'parity med':>10s} {'parity max':>10s} "
        f"{'n_wil':>5s} {'wilson med':>10s} {'wilson max':>10s} {'n_full':>6s} "
        f"{'full med':>8s} {'full max':>8s}"
    )
    for lo, hi in BINS:
        group = [r for r in rows if lo <= r["bands"] <= hi]
        if not group:
            continue
        label = f"{lo}-{hi}" if hi < 10**6 else f">{lo - 1}"
        stats = [_stats([r[key] for r in group]) for key in ("parity_s", "wilson_s", "full_s")]
        print(
            f"{label:12s} {len(group):3d} {stats[0][1]:>10s} {stats[0][2]:>10s} "
            f"{stats[1][0]:5d} {stats[1][1]:>10s} {stats[1][2]:>10s} "
            f"{stats[2][0]:6d} {stats[2][1]:>8s} {stats[2][2]:>8s}"
        )
    small = [r for r in rows if r["bands"] <= GOAL_BANDS]
    print()
    for key, goal, name in (
        ("parity_s", PARITY_GOAL_S, "parity"),
        ("full_s", FULL_GOAL_S, "full Z2"),
    ):
        values = [r[key] for r in small if r[key] is not None]
        if values:
            verdict = "met" if max(values) <= goal else "MISSED"
            print(
                f"goal {name} <= {goal} s for <= {GOAL_BANDS} spinor bands: "
                f"worst {max(values):.3f} s over {len(values)} files -> {verdict}"
            )


def _stats(values: list[float | None]) -> tuple[int, str, str]:
    """Count, median and maximum of the non-missing values."""
    present = [v for v in values if v is not None]
    if not present:
        return 0, "-", "-"
    return len(present), _fmt(statistics.median(present)), _fmt(max(present))


if __name__ == "__main__":
    main()

"""Benchmark the Z2 routes on corpus files, one core.

Usage::

    python benchmarks/bench_z2.py                      # tests/data + data/corpus/gpaw-szp
    python benchmarks/bench_z2.py --files a.npz b.npz  # any corpus-format files

For every file: the parity route (inversion search, Hamiltonian symmetry check, Fu-Kane
parities) and the full ``z2_invariants(route="auto")`` (symmetrisation, metal/insulator
grid, parity, Wilson loops). Metals stop after the grid (no indices), so their "full" time
is the screening cost, not a Wilson-loop time. Then median and worst times per band-count
bin, against the goals: parity <= 0.1 s, full Z2 <= 10 s for <= 60 spinor bands.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from socscreen.analysis.topology import z2_invariants  # noqa: E402
from socscreen.hamiltonian import Hamiltonian  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GLOBS = ("tests/data/*.npz", "data/corpus/gpaw-szp/*.npz")
BINS = ((0, 30), (31, 60), (61, 120), (121, 10**6))
PARITY_GOAL_S, FULL_GOAL_S, GOAL_BANDS = 0.1, 10.0, 60


def bench_file(path: Path) -> dict:
    """Time the parity route and the full Z2 of one file."""
    ham = Hamiltonian.from_npz(path)
    parity = z2_invariants(ham, route="parity")
    parity_s = (
        parity.timings.get("inversion", 0.0) + parity.timings.get("parity", 0.0)
        if "inversion" in parity.timings
        else None
    )
    start = time.perf_counter()
    full = z2_invariants(ham, route="auto")
    full_s = time.perf_counter() - start
    return {
        "file": path.name,
        "formula": ham.structure.composition.reduced_formula,
        "bands": ham.n_spinor,
        "z2": full.z2,
        "route": full.route or "-",
        "parity_s": parity_s if parity.z2 is not None else None,
        "wilson_s": full.timings.get("wilson"),
        "full_s": full_s,
        "flags": ",".join(full.flags) or "-",
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="+", type=Path, help="corpus-format .npz files")
    args = parser.parse_args()
    files = args.files or sorted(p for g in DEFAULT_GLOBS for p in ROOT.glob(g))
    if not files:
        parser.error("no corpus files found")
    rows = []
    header = (
        f"{'file':34s} {'formula':9s} {'bands':>5s} {'z2':12s} {'route':13s} "
        f"{'parity_s':>8s} {'wilson_s':>8s} {'full_s':>7s}  flags"
    )
    print(header)
    print("-" * len(header))
    for path in files:
        row = bench_file(Path(path))
        rows.append(row)
        z2 = "-" if row["z2"] is None else "".join(map(str, row["z2"]))
        print(
            f"{row['file'][:34]:34s} {row['formula'][:9]:9s} {row['bands']:5d} {z2:12s} "
            f"{row['route']:13s} {_fmt(row['parity_s']):>8s} {_fmt(row['wilson_s']):>8s} "
            f"{row['full_s']:7.2f}  {row['flags']}",
            flush=True,
        )
    print()
    print(
        f"{'spinor bands':14s} {'n':>3s} {'parity med':>10s} {'parity max':>10s} "
        f"{'n_ins':>5s} {'full med':>8s} {'full max':>8s}"
    )
    for lo, hi in BINS:
        group = [r for r in rows if lo <= r["bands"] <= hi]
        if not group:
            continue
        parity = [r["parity_s"] for r in group if r["parity_s"] is not None]
        full = [r["full_s"] for r in group if r["wilson_s"] is not None]
        label = f"{lo}-{hi}" if hi < 10**6 else f">{lo - 1}"
        print(
            f"{label:14s} {len(group):3d} "
            f"{_fmt(statistics.median(parity) if parity else None):>10s} "
            f"{_fmt(max(parity) if parity else None):>10s} {len(full):5d} "
            f"{_fmt(statistics.median(full) if full else None):>8s} "
            f"{_fmt(max(full) if full else None):>8s}"
        )
    small = [r for r in rows if r["bands"] <= GOAL_BANDS]
    parity_small = [r["parity_s"] for r in small if r["parity_s"] is not None]
    full_small = [r["full_s"] for r in small if r["wilson_s"] is not None]
    print()
    if parity_small:
        ok = max(parity_small) <= PARITY_GOAL_S
        print(
            f"goal parity <= {PARITY_GOAL_S} s (<= {GOAL_BANDS} bands): worst "
            f"{max(parity_small):.3f} s -> {'met' if ok else 'MISSED'}"
        )
    if full_small:
        ok = max(full_small) <= FULL_GOAL_S
        print(
            f"goal full Z2 <= {FULL_GOAL_S} s (<= {GOAL_BANDS} bands, insulators and "
            f"semimetals): worst {max(full_small):.2f} s -> {'met' if ok else 'MISSED'}"
        )


if __name__ == "__main__":
    main()

"""Time the commands a user waits on: ``socscreen predict`` and ``socscreen z2``, end to end.

Usage::

    python benchmarks/bench_cli_speed.py

Every command runs as a user runs it: a fresh ``socscreen`` process with one thread
(OMP/OPENBLAS/MKL = 1), timed from start to exit (imports, model construction, GPAW set-up
and the work itself), peak memory from the child's resource usage. Cells: zinc-blende GaAs
(2 atoms) and Bi2Se3 (5 atoms, the test fixture's structure). Prints a markdown table:
``predict`` with each predictor (``scc`` is the default), and ``z2`` on the ``scc``
prediction of Bi2Se3 by the default screening route and by ``--route auto`` (parities and
Wilson loops).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELLS = {
    "GaAs": ROOT / "benchmarks/data/holdout/GaAs.npz",
    "Bi2Se3": ROOT / "tests/data/Bi2Se3_szp.npz",
}


#: Runs ``socscreen ARGS`` and writes its own peak RSS (kB) to the file named first.
WRAPPER = """
import resource, runpy, sys
out, sys.argv = sys.argv[1], ["socscreen", *sys.argv[2:]]
try:
    runpy.run_module("socscreen", run_name="__main__")
finally:
    open(out, "w").write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def timed(args: list[str], folder: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``socscreen`` command in a fresh process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}  # fmt: skip
    peak = folder / "peak_kb"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", WRAPPER, str(peak), *args], env=env, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - start, int(peak.read_text()) / 1024


def main() -> None:
    from socscreen.hamiltonian import Hamiltonian

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, source in CELLS.items():
            cif = folder / f"{name}.cif"
            Hamiltonian.from_npz(source).structure.to(filename=str(cif))
            for predictor in ("scc", "baseline", "model"):
                out = folder / f"{name}_{predictor}.npz"
                seconds, peak = timed(["predict", str(cif), "-o", str(out),
                                       "--predictor", predictor], folder)  # fmt: skip
                rows.append((f"predict {name}", f"--predictor {predictor}", seconds, peak))
        prediction = folder / "Bi2Se3_scc.npz"
        for route in ("screening", "auto"):
            seconds, peak = timed(["z2", str(prediction), "--route", route], folder)
            rows.append(("z2 Bi2Se3 (scc prediction)", f"--route {route}", seconds, peak))
    print("\n| command | option | seconds (1 core, fresh process) | peak RSS (MB) |")
    print("|---|---|---|---|")
    for command, option, seconds, peak in rows:
        print(f"| {command} | {option} | {seconds:.1f} | {peak:.0f} |")


if __name__ == "__main__":
    main()

"""Time the commands a user waits on: ``predict``, ``z2`` and ``show``, end to end.

Usage::

    python benchmarks/bench_cli_speed.py [--save AFTER.json] [--compare BEFORE.json]
                                         [--no-large]

Every command runs as a user runs it: a fresh ``socscreen`` process with one thread
(OMP/OPENBLAS/MKL = 1), started in a scratch folder, timed from start to exit (imports,
model construction, GPAW set-up, database start and the work itself); its CPU time
(user + system, s) and peak memory come from its own resource usage. On a shared machine
the CPU time is the steadier number; compare wall times only from one quiet machine.

Cells: zinc-blende GaAs (2 atoms), Bi2Se3 (5 atoms, the test fixture's structure) and a
5x5x2 GaAs supercell (100 atoms, ``scc`` only; ``--no-large`` leaves it out). Rows:

* ``predict`` of each cell with each predictor (``scc`` is the default);
* ``z2`` on the ``scc`` prediction of Bi2Se3 by the default screening route and by
  ``--route auto`` (parities and Wilson loops);
* ``show`` of the Bi2Se3 result of a one-structure ``scc`` campaign in a scratch
  ``SOCSCREEN_HOME`` (submitted and run first, untimed): the JSON with the embedded
  database started and stopped by the command, the same with ``socscreen db start``
  running, and ``show -o`` (band and Wilson-loop figures).

``--save`` writes the timings as JSON; ``--compare`` prints them beside those of an
earlier ``--save`` (e.g. run once with ``PYTHONPATH`` on an install of the old code).
"""

from __future__ import annotations

import argparse
import json
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
#: The large cell: a supercell of GaAs, predicted with scc only.
LARGE = ("GaAs", (5, 5, 2))

#: Runs ``socscreen ARGS`` and writes its own CPU time (s) and peak RSS (kB) as JSON to
#: the file named first.
WRAPPER = """
import json, resource, runpy, sys
out, sys.argv = sys.argv[1], ["socscreen", *sys.argv[2:]]
try:
    runpy.run_module("socscreen", run_name="__main__")
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    json.dump({"cpu": usage.ru_utime + usage.ru_stime, "rss_kb": usage.ru_maxrss}, open(out, "w"))
"""


def run(args: list[str], folder: Path, env: dict[str, str]) -> dict[str, float]:
    """Wall and CPU seconds and peak RSS (MB) of one ``socscreen`` command, fresh process."""
    usage = folder / "usage.json"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(usage), *args], env=env,
                          cwd=folder, capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"socscreen {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    measured = json.loads(usage.read_text())
    return {"wall": wall, "cpu": measured["cpu"], "rss": measured["rss_kb"] / 1024}


def write_cells(folder: Path, large: bool) -> dict[str, tuple[Path, int]]:
    """CIFs of the benchmark cells: name -> (path, number of atoms)."""
    from socscreen.hamiltonian import Hamiltonian

    cells = {}
    for name, source in CELLS.items():
        structure = Hamiltonian.from_npz(source).structure
        cells[name] = (folder / f"{name}.cif", len(structure))
        structure.to(filename=str(cells[name][0]))
    if large:
        name, scale = LARGE
        structure = Hamiltonian.from_npz(CELLS[name]).structure * scale
        label = f"{name}x{'x'.join(map(str, scale))}"
        cells[label] = (folder / f"{label}.cif", len(structure))
        structure.to(filename=str(cells[label][0]))
    return cells


def measure(large: bool) -> dict[str, dict[str, float]]:
    """Every row of the table: ``"command | option"`` -> wall, cpu (s) and rss (MB)."""
    rows = {}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, (cif, n_atoms) in write_cells(folder, large).items():
            predictors = ("scc",) if n_atoms > 10 else ("scc", "baseline", "model")
            for predictor in predictors:
                out = folder / f"{name}_{predictor}.npz"
                rows[f"predict {name} ({n_atoms} atoms) | --predictor {predictor}"] = run(
                    ["predict", str(cif), "-o", str(out), "--predictor", predictor], folder, env
                )
        prediction = str(folder / "Bi2Se3_scc.npz")
        for route in ("screening", "auto"):
            rows[f"z2 Bi2Se3 (scc prediction) | --route {route}"] = run(
                ["z2", prediction, "--route", route], folder, env
            )
        rows.update(measure_show(folder, {**env, "SOCSCREEN_HOME": str(folder / "home")}))
    return rows


def measure_show(folder: Path, env: dict[str, str]) -> dict[str, dict[str, float]]:
    """``show`` rows on a one-structure campaign of Bi2Se3 in ``env``'s SOCSCREEN_HOME."""
    source = folder / "campaign"
    source.mkdir()
    (source / "Bi2Se3.cif").write_bytes((folder / "Bi2Se3.cif").read_bytes())

    def socscreen(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "socscreen", *args], env=env, cwd=folder,
                              capture_output=True, text=True, check=True)  # fmt: skip
        return done.stdout

    socscreen("campaign", "submit", str(source), "--name", "bench", "--predictor", "scc")
    socscreen("campaign", "run", "--workers", "1")
    found = json.loads(socscreen("query", "--campaign", "bench", "--format", "json"))
    (material_id,) = [d["material_id"] for d in found]
    rows = {"show Bi2Se3 result | (database started by the command)":
            run(["show", material_id], folder, env)}  # fmt: skip
    socscreen("db", "start")
    try:
        rows["show Bi2Se3 result | (socscreen db start running)"] = run(
            ["show", material_id], folder, env
        )
        rows["show Bi2Se3 result | -o (bands and Wilson-loop figures)"] = run(
            ["show", material_id, "-o", str(folder / "shown" / "bi2se3.json")], folder, env
        )
    finally:
        socscreen("db", "stop")
    return rows


def print_table(rows: dict[str, dict[str, float]], before: dict | None) -> None:
    """Markdown table of the rows, with the earlier run's numbers beside them if given."""
    if before is None:
        print("\n| command | option | wall (s) | CPU (s) | peak RSS (MB) |")
        print("|---|---|---|---|---|")
    else:
        print("\n| command | option | wall before → after (s) | CPU before → after (s) "
              "| peak RSS before → after (MB) |")  # fmt: skip
        print("|---|---|---|---|---|")
    for key, now in rows.items():
        command, option = key.split(" | ")
        old = (before or {}).get(key)
        cells = [
            f"{old[q]:.{digits}f} → {now[q]:.{digits}f}" if old else f"{now[q]:.{digits}f}"
            for q, digits in (("wall", 1), ("cpu", 1), ("rss", 0))
        ]
        print(f"| {command} | {option} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="Write the timings here (JSON).")
    parser.add_argument("--compare", type=Path, help="Timings of an earlier --save.")
    parser.add_argument("--no-large", action="store_true", help="Leave out the 100-atom cell.")
    options = parser.parse_args()
    rows = measure(large=not options.no_large)
    if options.save is not None:
        options.save.write_text(json.dumps(rows, indent=1))
    before = json.loads(options.compare.read_text()) if options.compare else None
    print_table(rows, before)


if __name__ == "__main__":
    main()

"""Time the commands a user waits on: ``predict``, ``z2`` and ``show``, end to end.

Usage::

    python benchmarks/bench_cli_speed.py [--before DIR] [--save TIMINGS.json] [--no-large]

Every command runs as a user runs it: a fresh ``socscreen`` process with one thread
(OMP/OPENBLAS/MKL = 1), started in a scratch folder, timed from start to exit (imports,
model construction, GPAW set-up, database start and the work itself); its CPU time
(user + system, s) and peak memory come from its own resource usage. On a shared machine
the CPU time is the steadier number.

Before/after: ``--before DIR`` names older code installed apart, e.g.
``git archive OLD | tar -x -C old && pip install --no-deps --target DIR old``; every
command then runs with it (``PYTHONPATH=DIR``) and at once with the current code, so both
see the same machine load, and the table prints ``before → now``.

Cells: zinc-blende GaAs (2 atoms), Bi2Se3 (5 atoms, the test fixture's structure) and a
5x5x2 GaAs supercell (100 atoms; ``--no-large`` leaves it out). Rows:

* ``predict`` of each cell with each predictor: ``model`` (the default: H(0) with
  self-consistent charges plus the learned correction), ``scc`` and ``baseline`` (H(0)
  alone, whose time is H(0)'s share of the model's); the 100-atom cell with ``model`` and
  ``baseline`` only;
* ``z2`` on the current code's ``scc`` prediction of Bi2Se3 by the default screening
  route and by ``--route auto`` (parities and Wilson loops);
* ``show`` of the Bi2Se3 result of a one-structure ``scc`` campaign in a scratch
  ``SOCSCREEN_HOME`` (submitted and run first by the current code, untimed): the JSON with
  the embedded database started and stopped by the command, the same with ``socscreen db
  start`` running, and ``show -o`` (band and Wilson-loop figures).
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
#: The large cell: a supercell of GaAs, predicted by the model and by H(0) alone.
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


def measure(large: bool, before: Path | None) -> dict[str, dict[str, dict[str, float]]]:
    """Every row: ``"command | option"`` -> version -> wall, cpu (s) and rss (MB).

    Versions: ``"now"`` (the installed code) and, with ``before``, ``"before"`` (the code
    installed under that folder, first on ``PYTHONPATH``), each command run back to back.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}  # fmt: skip
    envs = {"now": env}
    if before is not None:
        envs = {"before": {**env, "PYTHONPATH": str(before.resolve())}, "now": env}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def each(*args: str) -> dict[str, dict[str, float]]:
            """The command run once by every version (``{out}`` names its own output)."""
            return {
                version: run([a.format(out=f"{version}_") for a in args], folder, version_env)
                for version, version_env in envs.items()
            }

        for name, (cif, n_atoms) in write_cells(folder, large).items():
            predictors = ("model", "baseline") if n_atoms > 10 else ("model", "scc", "baseline")
            for predictor in predictors:
                out = f"{{out}}{name}_{predictor}.npz"
                rows[f"predict {name} ({n_atoms} atoms) | --predictor {predictor}"] = each(
                    "predict", str(cif), "-o", str(folder / out), "--predictor", predictor
                )
        prediction = str(folder / "now_Bi2Se3_scc.npz")  # one input for every version
        for route in ("screening", "auto"):
            rows[f"z2 Bi2Se3 (scc prediction) | --route {route}"] = each(
                "z2", prediction, "--route", route
            )
        home = {"SOCSCREEN_HOME": str(folder / "home")}
        envs = {version: {**version_env, **home} for version, version_env in envs.items()}
        material_id = submit_campaign(folder, envs["now"])
        rows["show Bi2Se3 result | (database started by the command)"] = each("show", material_id)
        socscreen(envs["now"], folder, "db", "start")
        try:
            rows["show Bi2Se3 result | (socscreen db start running)"] = each("show", material_id)
            rows["show Bi2Se3 result | -o (bands and Wilson-loop figures)"] = each(
                "show", material_id, "-o", str(folder / "{out}shown" / "bi2se3.json")
            )
        finally:
            socscreen(envs["now"], folder, "db", "stop")
    return rows


def socscreen(env: dict[str, str], folder: Path, *args: str) -> str:
    """Stdout of an untimed ``socscreen`` command (set-up)."""
    done = subprocess.run([sys.executable, "-m", "socscreen", *args], env=env, cwd=folder,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


def submit_campaign(folder: Path, env: dict[str, str]) -> str:
    """Run a one-structure ``scc`` campaign of Bi2Se3; return the material id of its result."""
    source = folder / "campaign"
    source.mkdir()
    (source / "Bi2Se3.cif").write_bytes((folder / "Bi2Se3.cif").read_bytes())
    socscreen(env, folder, "campaign", "submit", str(source), "--name", "bench",
              "--predictor", "scc")  # fmt: skip
    socscreen(env, folder, "campaign", "run", "--workers", "1")
    found = json.loads(socscreen(env, folder, "query", "--campaign", "bench", "--format", "json"))
    (material_id,) = [d["material_id"] for d in found]
    return material_id


def print_table(rows: dict[str, dict[str, dict[str, float]]]) -> None:
    """Markdown table of the rows; ``before → now`` where two versions ran."""
    both = any("before" in versions for versions in rows.values())
    arrow = " before → now" if both else ""
    print(f"\n| command | option | wall{arrow} (s) | CPU{arrow} (s) | peak RSS{arrow} (MB) |")
    print("|---|---|---|---|---|")
    for key, versions in rows.items():
        command, option = key.split(" | ")
        cells = [
            " → ".join(f"{v[quantity]:.{digits}f}" for v in versions.values())
            for quantity, digits in (("wall", 1), ("cpu", 1), ("rss", 0))
        ]
        print(f"| {command} | {option} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path,
                        help="Folder with older socscreen code installed (pip install --no-deps "
                        "--target DIR OLD_CHECKOUT): every command also runs with it, just "
                        "before the current code.")  # fmt: skip
    parser.add_argument("--save", type=Path, help="Also write the timings here (JSON).")
    parser.add_argument("--no-large", action="store_true", help="Leave out the 100-atom cell.")
    options = parser.parse_args()
    rows = measure(large=not options.no_large, before=options.before)
    if options.save is not None:
        options.save.write_text(json.dumps(rows, indent=1))
    print_table(rows)


if __name__ == "__main__":
    main()

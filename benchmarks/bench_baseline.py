"""Time the zeroth-step H(0) (the baseline predictor) against the GPAW reference.

Usage::

    python benchmarks/bench_baseline.py [--reference-max-atoms 20] [--skip-holdout]

Every measurement runs in a fresh process with one thread (OMP/OPENBLAS/MKL = 1), so its
peak resident memory is its own. Prints markdown tables:

1. the hold-out compounds (``benchmarks/data/holdout``): H(0) seconds per cell, beside the
   seconds the stored GPAW reference took (``meta["seconds"]``, SCF + extraction, measured
   when it was made), their ratio, and the median;
2. cell sizes 2, 5, 20, 50 and 100 atoms (GaAs, Bi2Se3 and its supercells): H(0) time and
   peak memory, and the reference's time and ratio where it is run (cells up to
   ``--reference-max-atoms``; larger ones take hours on one core).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_holdout import HOLDOUT, HOLDOUT_DIR  # noqa: E402
from bench_model import ROOT, _table  # noqa: E402

from socscreen.hamiltonian import Hamiltonian  # noqa: E402

SNIPPET = """
import json, resource, sys, time
from socscreen.hamiltonian import Hamiltonian
from socscreen.dft.zeroth_step import compute_zeroth_step
from socscreen.dft.reference import compute_gpaw_reference
ref = Hamiltonian.from_npz(sys.argv[1])
structure = ref.structure.copy()
structure.make_supercell([int(x) for x in sys.argv[2].split(",")])
compute = compute_gpaw_reference if sys.argv[3] == "reference" else compute_zeroth_step
t = time.perf_counter(); h = compute(structure); dt = time.perf_counter() - t
print(json.dumps({"atoms": len(structure), "orbitals": h.n_orbitals, "n_R": len(h.R),
                  "seconds": dt, "timings": h.meta.get("timings"),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

#: Cells of the size table: label, source file, supercell.
SIZES = (
    ("GaAs", "benchmarks/data/holdout/GaAs.npz", "1,1,1"),
    ("Bi2Se3", "tests/data/Bi2Se3_szp.npz", "1,1,1"),
    ("Bi2Se3 2x2x1", "tests/data/Bi2Se3_szp.npz", "2,2,1"),
    ("Bi2Se3 2x5x1", "tests/data/Bi2Se3_szp.npz", "2,5,1"),
    ("Bi2Se3 2x2x5", "tests/data/Bi2Se3_szp.npz", "2,2,5"),
)


def measure(path: Path, supercell: str, what: str = "zeroth-step") -> dict:
    """One computation in a fresh single-threaded process: time, size and peak memory."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(path), supercell, what],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def holdout_table() -> None:
    """Table 1: every hold-out compound, H(0) beside the reference's recorded time."""
    rows = []
    for name in HOLDOUT:
        path = HOLDOUT_DIR / f"{name}.npz"
        if not path.exists():
            continue
        result = measure(path, "1,1,1")
        reference = Hamiltonian.from_npz(path).meta.get("seconds")
        rows.append(
            {
                "name": name,
                "atoms": result["atoms"],
                "orbitals": result["orbitals"],
                "seconds": result["seconds"],
                "reference": reference,
                "ratio": result["seconds"] / reference if reference else None,
                "peak_mb": result["peak_mb"],
            }
        )
    compounds = list(rows)
    for label, average in (("median", np.median), ("mean", np.mean)):
        rows.append(
            {
                "name": f"{label} ({len(compounds)})",
                **{
                    key: float(average([r[key] for r in compounds if r.get(key) is not None]))
                    for key in ("seconds", "reference", "ratio", "peak_mb")
                },
            }
        )
    _table(
        "H(0) of the hold-out compounds on 1 core (fresh process each)",
        rows,
        [
            ("name", "compound", 1),
            ("atoms", "atoms", 1),
            ("orbitals", "orbitals", 1),
            ("seconds", "H(0) (s)", 1),
            ("reference", "GPAW reference, recorded (s)", 1),
            ("ratio", "H(0) / reference", 1),
            ("peak_mb", "H(0) peak RSS (MB)", 1),
        ],
    )


def size_table(reference_max_atoms: int) -> None:
    """Table 2: H(0) time and memory against cell size, the reference where affordable."""
    rows = []
    for label, source, supercell in SIZES:
        result = measure(ROOT / source, supercell)
        row = {
            "name": label,
            "atoms": result["atoms"],
            "orbitals": result["orbitals"],
            "n_R": result["n_R"],
            "seconds": result["seconds"],
            "setup": result["timings"]["setup"],
            "assemble": result["timings"]["assemble"],
            "fermi": result["timings"]["fermi_level"],
            "peak_mb": result["peak_mb"],
        }
        if result["atoms"] <= reference_max_atoms:
            reference = measure(ROOT / source, supercell, "reference")
            row |= {
                "reference": reference["seconds"],
                "reference_mb": reference["peak_mb"],
                "ratio": result["seconds"] / reference["seconds"],
            }
        rows.append(row)
        print(f"  {label}: {result['seconds']:.1f} s", file=sys.stderr)
    _table(
        f"H(0) against cell size on 1 core (reference run up to {reference_max_atoms} atoms)",
        rows,
        [
            ("name", "cell", 1),
            ("atoms", "atoms", 1),
            ("orbitals", "orbitals", 1),
            ("n_R", "R vectors", 1),
            ("seconds", "H(0) (s)", 1),
            ("setup", "GPAW set-up (s)", 1),
            ("assemble", "assembly (s)", 1),
            ("fermi", "Fermi level (s)", 1),
            ("peak_mb", "H(0) peak RSS (MB)", 1),
            ("reference", "reference (s)", 1),
            ("reference_mb", "reference peak RSS (MB)", 1),
            ("ratio", "H(0) / reference", 1),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-max-atoms", type=int, default=20)
    parser.add_argument("--skip-holdout", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    if not args.skip_holdout:
        holdout_table()
    size_table(args.reference_max_atoms)
    print(f"\n(benchmark took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

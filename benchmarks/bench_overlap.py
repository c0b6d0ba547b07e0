"""Benchmark the exact LCAO overlap S(R): accuracy against GPAW data and speed.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_overlap.py [--data DIR ...]

Prints two markdown tables:

1. accuracy: for every corpus file (default ``tests/data/*.npz``), the largest |ΔS| of
   ``overlap_matrices`` against the stored S(R) over all elements, over the elements the
   file stores (it zeroes |S| < 1e-5 and keeps float32), and, where the file's H(R) grid
   is shorter than the basis reach, against the alias-folded exact S;
2. speed: S(R) on every overlapping R for supercells of the Bi2Se3 (5 atoms, szp) and Si
   (2 atoms, szp) fixtures with about 5, 50 and 100 atoms: wall and process CPU seconds
   (the shared test machine inflates wall times), cold and warm,
   plus the largest deviation of the supercell blocks from the primitive cell's. "Cold"
   is the first call in a fresh interpreter (basis files read, tables built).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from socscreen.dft.overlap import overlap_matrices, overlapping_R
from socscreen.hamiltonian import Hamiltonian
from socscreen.orbitals import OrbitalTable

ROOT = Path(__file__).resolve().parents[1]


def _folded_error(ham: Hamiltonian, grid: np.ndarray) -> float:
    """Max |S_file - sum of exact S(R') over R' = R mod grid|."""
    reach = overlapping_R(ham.structure, ham.orbitals.basis_name)
    exact = overlap_matrices(ham.structure, ham.orbitals, reach)
    folded = np.zeros_like(ham.overlap)
    row = {tuple(r): i for i, r in enumerate(ham.R.tolist())}
    for block, r in zip(exact, ((reach + grid // 2) % grid - grid // 2).tolist(), strict=True):
        if tuple(r) in row:
            folded[row[tuple(r)]] += block
    return float(np.abs(folded - ham.overlap).max())


def accuracy_table(files: list[Path]) -> None:
    """Print the accuracy table."""
    print("| file | basis | atoms | n_R | max abs dS | max abs dS (stored) | folded |")
    print("|---|---|---|---|---|---|---|")
    for path in files:
        ham = Hamiltonian.from_npz(path)
        exact = overlap_matrices(ham.structure, ham.orbitals, ham.R)
        error = np.abs(exact - ham.overlap)
        stored = ham.overlap != 0
        grid = np.array(json.loads(str(np.load(path)["meta"])).get("hr_grid", [0, 0, 0]))
        reach = overlapping_R(ham.structure, ham.orbitals.basis_name)
        aliased = np.any(np.abs(reach).max(axis=0) > grid // 2)
        folded = f"{_folded_error(ham, grid):.1e}" if aliased else "-"
        print(
            f"| {path.name} | {ham.orbitals.basis_name} | {len(ham.structure)} | {len(ham.R)} "
            f"| {error.max():.1e} | {error[stored].max():.1e} | {folded} |"
        )


def _timed(structure, orbitals, R) -> tuple[np.ndarray, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    s = overlap_matrices(structure, orbitals, R)
    return s, time.perf_counter() - wall, time.process_time() - cpu


def _supercell_error(ham: Hamiltonian, reps, supercell, s_super: np.ndarray, R) -> float:
    """Largest deviation of 300 random supercell blocks from the primitive blocks."""
    frac = supercell.frac_coords * reps  # primitive fractional coordinates
    prim = ham.structure.frac_coords
    kind = np.argmin(np.linalg.norm((frac[:, None] - prim[None] + 0.5) % 1 - 0.5, axis=2), axis=1)
    shift = np.rint(frac - prim[kind]).astype(int)
    offsets = ham.orbitals.atom_offsets
    super_offsets = np.concatenate([[0], np.cumsum(np.diff(offsets)[kind])])
    rng = np.random.default_rng(0)
    picks = rng.integers([len(R), len(kind), len(kind)], size=(300, 3))
    r_prim = shift[picks[:, 2]] - shift[picks[:, 1]] + R[picks[:, 0]] * reps
    needed = np.unique(r_prim, axis=0)
    s_prim = overlap_matrices(ham.structure, ham.orbitals, needed)
    row = {tuple(r): i for i, r in enumerate(needed.tolist())}
    worst = 0.0
    for (ir, a, b), r in zip(picks, r_prim.tolist(), strict=True):
        ours = s_super[
            ir, super_offsets[a] : super_offsets[a + 1], super_offsets[b] : super_offsets[b + 1]
        ]
        ref = s_prim[
            row[tuple(r)],
            offsets[kind[a]] : offsets[kind[a] + 1],
            offsets[kind[b]] : offsets[kind[b] + 1],
        ]
        worst = max(worst, float(np.abs(ours - ref).max()))
    return worst


_COLD = """
import time, numpy as np
from socscreen.hamiltonian import Hamiltonian
from socscreen.dft.overlap import overlap_matrices, overlapping_R
from socscreen.orbitals import OrbitalTable
ham = Hamiltonian.from_npz({path!r})
s = ham.structure.copy(); s.make_supercell({reps!r})
orb = OrbitalTable(tuple(s.atomic_numbers), ham.orbitals.element_shells, ham.orbitals.basis_name)
wall, cpu = time.perf_counter(), time.process_time()
overlap_matrices(s, orb, overlapping_R(s, orb.basis_name))
print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def _cold(name: str, reps: tuple[int, int, int]) -> tuple[float, float]:
    """Wall and CPU seconds of the first call in a fresh interpreter (tables built)."""
    code = _COLD.format(path=str(ROOT / "tests" / "data" / name), reps=list(reps))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    wall, cpu = map(float, result.stdout.split())
    return wall, cpu


def speed_table() -> None:
    """Print the speed table."""
    cases = [
        ("Bi2Se3_szp.npz", (1, 1, 1)),
        ("Bi2Se3_szp.npz", (5, 2, 1)),
        ("Bi2Se3_szp.npz", (5, 2, 2)),
        ("Si_szp.npz", (1, 1, 1)),
        ("Si_szp.npz", (5, 5, 1)),
        ("Si_szp.npz", (5, 5, 2)),
    ]
    print(
        "| cell | atoms | orbitals | n_R | cold wall / CPU (s) | warm wall / CPU (s) "
        "| S size (MB) | supercell vs primitive |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, reps in cases:
        ham = Hamiltonian.from_npz(ROOT / "tests" / "data" / name)
        structure = ham.structure.copy()
        structure.make_supercell(reps)
        orbitals = OrbitalTable(
            tuple(structure.atomic_numbers), ham.orbitals.element_shells, ham.orbitals.basis_name
        )
        R = overlapping_R(structure, orbitals.basis_name)
        first_wall, first_cpu = _cold(name, reps)
        s, wall, cpu = _timed(structure, orbitals, R)
        check = _supercell_error(ham, np.array(reps), structure, s, R) if reps != (1, 1, 1) else 0.0
        label = f"{ham.structure.composition.reduced_formula} x{'x'.join(map(str, reps))}"
        print(
            f"| {label} | {len(structure)} | {orbitals.n_orbitals} | {len(R)} "
            f"| {first_wall:.2f} / {first_cpu:.2f} | {wall:.2f} / {cpu:.2f} "
            f"| {s.nbytes / 1e6:.0f} | {check:.1e} |"
        )


def main() -> None:
    """Run both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", type=Path, default=[ROOT / "tests" / "data"])
    args = parser.parse_args()
    files = sorted(p for d in args.data for p in (d.glob("*.npz") if d.is_dir() else [d]))
    accuracy_table(files)
    print()
    speed_table()


if __name__ == "__main__":
    main()

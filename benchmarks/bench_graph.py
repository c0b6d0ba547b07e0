"""Time the periodic graph of overlapping orbitals (radius_graph) on 100 and 200-atom cells.

The 100-atom random Si cell is the one ``tests/dft/test_graph.py`` builds; its time was a
test's wall-clock assert (< 3 s) and is measured here instead, wall and CPU time, best of
``--repeat`` runs::

    OMP_NUM_THREADS=1 python benchmarks/bench_graph.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from pymatgen.core import Lattice, Structure

from socscreen.dft.graph import radius_graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Runs per cell (best is shown).")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    print("| atoms | edges | wall (s) | CPU (s) |\n|---|---|---|---|")
    for n, a in ((100, 11.0), (200, 11.0 * 2 ** (1 / 3))):
        structure = Structure(Lattice.cubic(a), ["Si"] * n, rng.random((n, 3)))
        runs = []
        for _ in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            graph = radius_graph(structure, {"Si": 4.5})
            runs.append((time.perf_counter() - wall, time.process_time() - cpu))
        best = min(runs)
        print(f"| {n} | {graph.n_edges} | {best[0]:.3f} | {best[1]:.3f} |")


if __name__ == "__main__":
    main()

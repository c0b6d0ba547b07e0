"""Benchmark the large-cell route of a campaign against GPAW on the twisted bilayers.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_twist_references.py [--predictor scc model]

A twist campaign predicts a cell above ``sparse_from_sites`` on sparse blocks and reads
only its valley edges (:func:`socscreen.analysis.screening.analyse_valley_edges`). This
runs that route, :func:`~socscreen.model.predictors.predict_hamiltonian` with
``sparse_blocks=True`` and then :func:`~socscreen.analysis.valley.valley_edges`, on every
twisted MoSe2/WSe2 cell of ``bench_sheets.BILAYERS`` that has a GPAW reference (21.79°,
42 atoms; 13.17°, 114 atoms), and the same edges of the GPAW Hamiltonian.

Prints one markdown table: per cell and source, the prediction and valley times (s, one
core), the spin splittings of the top valence and bottom conduction pairs at K (meV), the
direct gaps at K and Γ and the gap over both points (eV), as the campaign stores them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_model import _table  # noqa: E402
from bench_sheets import BILAYERS, SHEETS_DIR  # noqa: E402

from socscreen.hamiltonian import Hamiltonian  # noqa: E402


def _row(name: str, source: str, ham, predict_s: float | None) -> dict:
    """The valley edges of ``ham`` at K and Γ as one table row (eV, s)."""
    from socscreen.analysis.valley import valley_edges

    start = time.perf_counter()
    edges = valley_edges(ham)
    seconds = time.perf_counter() - start
    at_k, gamma = edges["K"], edges["Gamma"]
    return {
        "name": name,
        "atoms": len(ham.structure),
        "source": source,
        "predict": float("nan") if predict_s is None else predict_s,
        "valleys": seconds,
        "valence": at_k.valence_splitting,
        "conduction": at_k.conduction_splitting,
        "gap_k": at_k.direct_gap,
        "gap_gamma": gamma.direct_gap,
        "gap": min(at_k.conduction[0], gamma.conduction[0])
        - max(at_k.valence[1], gamma.valence[1]),
    }


def evaluate(predictors: tuple[str, ...]) -> list[dict]:
    """Print the table of every twisted cell with a reference; return its rows."""
    from socscreen.model.predictors import predict_hamiltonian

    rows = []
    for bilayer in BILAYERS:
        path = SHEETS_DIR / f"{bilayer.name}.npz"
        if bilayer.angle in (0.0, 60.0) or not path.exists():
            continue
        reference = Hamiltonian.from_npz(path)
        rows.append(_row(bilayer.name, "GPAW", reference, reference.meta.get("seconds")))
        for predictor in predictors:
            start = time.perf_counter()
            ham = predict_hamiltonian(reference.structure, predictor, sparse_blocks=True)
            rows.append(
                _row(bilayer.name, f"{predictor}, sparse", ham, time.perf_counter() - start)
            )
    _table(
        "Twisted MoSe2/WSe2 cells by the campaign's large-cell route: valley edges at K and "
        "Γ, GPAW szp(dzp) vs predicted (one core)",
        rows,
        [
            ("name", "cell", 1),
            ("atoms", "atoms", 1),
            ("source", "source", 1),
            ("predict", "predict (s)", 1),
            ("valleys", "valleys (s)", 1),
            ("valence", "VB split. at K (meV)", 1e3),
            ("conduction", "CB split. at K (meV)", 1e3),
            ("gap_k", "gap at K (meV)", 1e3),
            ("gap_gamma", "gap at Γ (meV)", 1e3),
            ("gap", "gap over K, Γ (meV)", 1e3),
        ],
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--predictor", nargs="+", default=["scc", "model"], choices=["baseline", "scc", "model"]
    )
    args = parser.parse_args()
    start = time.perf_counter()
    evaluate(tuple(args.predictor))
    print(f"\n(benchmark took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

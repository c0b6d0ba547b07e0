"""Benchmark the charges a large bilayer copies from its aligned cell against its own SCC.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_bilayer_charges.py [--angles 21.79 13.17]

For each twist angle, the MoSe2/WSe2 bilayer of ``bench_large_cells.py`` is solved twice
from one dense H(0): its own charge self-consistency
(:func:`~socscreen.dft.charge_correction.self_consistent_charges`), and the charges of the
two sheets' aligned 1×1 cell copied by layer, sublayer and channel
(:func:`~socscreen.dft.bilayer_charges.transferred_charges`, what
``predict_hamiltonian(s, "scc", sparse_blocks=True)`` adds to the sparse blocks). Prints
one markdown table: the largest and mean difference of the channel potentials (meV), the
charge the layers exchange (e), and the valence splitting and direct gap at K and the
edges at Γ of both (:func:`~socscreen.analysis.valley.valley_edges`).

Measured December 2026 (session 19), one core beside other work: 42 atoms potentials 21 /
11 meV apart, gap at K 1.080 (own) against 1.105 eV (copied); 114 atoms 16 / 6 meV, 1.118
against 1.105 eV.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_large_cells import bilayer  # noqa: E402

DEFAULT_ANGLES = (21.786789, 13.173551)


def compare(angle: float) -> dict:
    """Both charge corrections of the bilayer at ``angle`` (°) and their valley edges."""
    from socscreen.analysis.valley import valley_edges
    from socscreen.dft.bilayer_charges import aligned_bilayer, bilayer_sites, transferred_charges
    from socscreen.dft.charge_correction import charge_corrected, self_consistent_charges
    from socscreen.dft.zeroth_step import compute_zeroth_step
    from socscreen.structure_flags import centred

    structure, record = bilayer(angle)
    h0 = compute_zeroth_step(centred(structure), fermi=False)
    start = time.perf_counter()
    own = self_consistent_charges(h0)
    own_s = time.perf_counter() - start
    start = time.perf_counter()
    aligned = compute_zeroth_step(aligned_bilayer(h0.structure), soc=False, fermi=False)
    copied = transferred_charges(h0, self_consistent_charges(aligned), aligned.structure)
    copied_s = time.perf_counter() - start
    layer = bilayer_sites(h0.structure)[0][own.channels.atom]
    out = {
        "angle": record.achieved_angle_deg,
        "atoms": len(structure),
        "dv_max": np.abs(copied.shifts - own.shifts).max(),
        "dv_mean": np.abs(copied.shifts - own.shifts).mean(),
        "own_s": own_s,
        "copied_s": copied_s,
    }
    for name, correction in (("own", own), ("copied", copied)):
        edges = valley_edges(charge_corrected(h0, correction))
        out[f"{name}_transfer"] = correction.charges[layer == 0].sum()
        out[f"{name}_split"] = edges["K"].valence_splitting
        out[f"{name}_gap"] = edges["K"].direct_gap
        out[f"{name}_gamma"] = np.array(edges["Gamma"].valence + edges["Gamma"].conduction)
    out["gamma_diff"] = np.abs(out["own_gamma"] - out["copied_gamma"]).max()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--angles", type=float, nargs="+", default=DEFAULT_ANGLES)
    args = parser.parse_args()
    print(
        "| twist (°) | atoms | potentials, max / mean difference (meV) | electrons to the "
        "lower layer, own / copied | K valence splitting, own / copied (meV) | K direct gap, "
        "own / copied (eV) | Γ edges, largest difference (meV) | SCC own / copied (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for angle in args.angles:
        r = compare(angle)
        print(
            f"| {r['angle']:.2f} | {r['atoms']} | {1e3 * r['dv_max']:.0f} / "
            f"{1e3 * r['dv_mean']:.0f} | {r['own_transfer']:.3f} / {r['copied_transfer']:.3f} "
            f"| {1e3 * r['own_split']:.1f} / {1e3 * r['copied_split']:.1f} "
            f"| {r['own_gap']:.3f} / {r['copied_gap']:.3f} | {1e3 * r['gamma_diff']:.0f} "
            f"| {r['own_s']:.1f} / {r['copied_s']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

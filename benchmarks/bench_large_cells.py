"""Benchmark prediction and valley analysis of large twisted MoSe2/WSe2 bilayers on one core.

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_large_cells.py
    ... --angles 21.79 13.17 --gpaw-max-atoms 42 --timeout 1200 --gpaw-timeout 600
    ... --sparse     # the sparse H(0) route (predictor "baseline", sparse_blocks=True)
    ... --sparse scc # the same with the charges of the aligned bilayer (predictor "scc")
    ... --sparse model  # and the shipped model's correction on top (predictor "model")

Each twist angle gives the smallest commensurate bilayer of the MoSe2 and WSe2 sheets of
``bench_sheets.py`` (:func:`socscreen.bilayers.twisted_bilayer`, unstrained): 21.79° 42
atoms, 13.17° 114, 9.43° 222, 7.34° 366, 4.41° 1014. Every cell runs in a child process
of its own (so that its peak memory is its own), with the default ``scc`` predictor and
then :func:`socscreen.analysis.valley.valley_edges` (shift-invert band edges at K, K' and
Γ, where each layer's valley folds). A cell whose dense ``[n_R, n, n]`` H0, S and SOC
blocks (48 bytes per element) and Fermi-level diagonalisation would not fit in the
memory available now is not started: the line says how much they need. A child that
runs past ``--timeout`` seconds is stopped. Cells of at most ``--gpaw-max-atoms`` atoms
also run the corpus GPAW reference (:func:`socscreen.dft.reference.
compute_gpaw_reference`) within ``--gpaw-timeout`` seconds, for the speed-up over DFT.
With ``--sparse`` every cell takes the sparse route instead: H(0) as
:class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`, its Fermi level from spinless
band counts and second variation
(:func:`~socscreen.analysis.band_edges.inertia_fermi_level`), no charges (``--sparse
scc``: the charges of the two sheets' aligned cell, :mod:`socscreen.dft.bilayer_charges`;
``--sparse model``: those and the shipped model's correction, whose network and Fermi
level share the last stage), and the valley edges by second variation too; the dense
memory check does not apply. A cell stopped by the timeout keeps the stages it finished.

Prints one markdown table: atoms, orbitals n, lattice vectors of the blocks, predict
time (s, wall clock and this process's CPU: the machine may be shared) with its stages
(GPAW set-up, H(0) assembly, charge self-consistency, Fermi level, wall), valley
analysis time (s), peak resident memory (GB), the top valence spin splitting at K and
the gap over K, K' and Γ (eV), the GPAW time and the ratio GPAW / (predict + analysis).

Measured December 2026 on two cores shared with other work (load 5-8): 42 atoms 21 s +
5 s, 1.0 GB, GPAW 320 s (ratio 12); 114 atoms 98 s wall / 60 s CPU + 47 s CPU of dense
valley edges, 3.6 GB; 222 atoms 690 s / 264 s CPU + 185 s CPU by shift-invert, 8.0 GB;
366 atoms (session 15, one core beside one GPAW worker) 1006 s wall / 1001 s CPU (GPAW
set-up 72, H(0) 72, charges 394, Fermi level 467) + 688 s of valley edges, 18.7 GB; 1,014
atoms not run (dense blocks 53 GB, Fermi-level diagonalisation 63 GB).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_sheets import MONOLAYERS  # noqa: E402

#: Twist angles (°) of 42, 114, 222, 366 and 1,014 atoms.
DEFAULT_ANGLES = (21.79, 13.17, 9.43, 7.341, 4.4085)
#: Orbitals per atom of MoSe2/WSe2 in szp(dzp) (1292 for the 114-atom cell).
ORBITALS_PER_ATOM = 1292 / 114
#: Lattice vectors of the blocks of a cell wider than the orbitals' reach (3 x 3 in-plane).
MIN_LATTICE_VECTORS = 9
#: Bytes per element of the dense blocks: H0 and S (float64), SOC up-up and up-down (complex).
BYTES_PER_ELEMENT = 48


def bilayer(angle: float):
    """The MoSe2 (bottom) / WSe2 (top) bilayer at ``angle`` (°) and its atom count."""
    from socscreen.bilayers import twisted_bilayer

    sheets = {sheet.name: sheet.build() for sheet in MONOLAYERS}
    structure, record = twisted_bilayer(
        sheets["MoSe2"], sheets["WSe2"], angle, max_atoms=1100, angle_tolerance_deg=0.01
    )
    return structure, record


def peak_gb() -> float:
    """Peak resident memory of this process (GB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_cell(angle: float, sparse: str | None) -> None:
    """Predict and analyse one bilayer (``sparse``: sparse H(0) by that predictor).

    Prints the JSON line of everything measured so far after each stage, so that a cell
    stopped by the timeout still reports the stages it finished.
    """
    from socscreen.analysis.band_edges import inertia_fermi_level
    from socscreen.analysis.bands import fermi_grid
    from socscreen.analysis.valley import valley_edges
    from socscreen.dft.bilayer_charges import sparse_charge_corrected
    from socscreen.dft.zeroth_step import compute_zeroth_step
    from socscreen.model.predictors import predict_hamiltonian
    from socscreen.structure_flags import centred

    out: dict = {}

    def report(**fields) -> None:
        out.update(fields, peak_GB=peak_gb())
        print(json.dumps(out), flush=True)

    structure, _ = bilayer(angle)
    start, cpu = time.perf_counter(), time.process_time()
    if sparse == "model":
        ham = predict_hamiltonian(structure, "model", sparse_blocks=True)
        baseline = ham.meta["baseline"]
        charges = baseline["charge_correction"]["seconds"]
        rest = time.perf_counter() - start - baseline["seconds"] - charges
        stages = {**baseline["timings"], "charges": charges, "fermi": rest}
        report(blocks_GB=ham.nbytes / 1024**3)
    elif sparse:  # predict_hamiltonian(structure, sparse, sparse_blocks=True), stage by stage
        ham = compute_zeroth_step(centred(structure), fermi=False, sparse_blocks=True)
        report(
            atoms=len(structure),
            orbitals=ham.n_orbitals,
            n_R=len(ham.R),
            blocks_GB=ham.nbytes / 1024**3,
            stages_s=ham.meta["timings"],
        )
        stages = dict(ham.meta["timings"])
        if sparse == "scc":
            charges = time.perf_counter()
            ham = sparse_charge_corrected(ham)
            stages["charges"] = time.perf_counter() - charges
        fermi = time.perf_counter()
        ham.efermi, _ = inertia_fermi_level(ham, fermi_grid(ham), second_variation=True)
        stages["fermi"] = time.perf_counter() - fermi
    else:
        ham = predict_hamiltonian(structure, "scc")
        charges = ham.meta["charge_correction"]["seconds"]
        fermi = time.perf_counter() - start - ham.meta["seconds"] - charges
        stages = {**ham.meta["timings"], "charges": charges, "fermi": fermi}
        fields = (ham.h0, ham.overlap, ham.soc_uu, ham.soc_ud)
        report(blocks_GB=sum(x.nbytes for x in fields if x is not None) / 1024**3)
    report(
        atoms=len(structure),
        orbitals=ham.n_orbitals,
        n_R=len(ham.R),
        predict_s=time.perf_counter() - start,
        predict_cpu_s=time.process_time() - cpu,
        stages_s=stages,
    )
    start, cpu = time.perf_counter(), time.process_time()
    edges = valley_edges(ham)
    report(
        analysis_s=time.perf_counter() - start,
        analysis_cpu_s=time.process_time() - cpu,
        splitting_K_eV=edges["K"].valence_splitting,
        gap_eV=min(e.conduction[0] for e in edges.values())
        - max(e.valence[1] for e in edges.values()),
    )


def run_gpaw(angle: float) -> dict:
    """The corpus GPAW reference of one bilayer; the child's JSON line."""
    from socscreen.dft.reference import compute_gpaw_reference

    structure, _ = bilayer(angle)
    start = time.perf_counter()
    compute_gpaw_reference(structure)
    return {"gpaw_s": time.perf_counter() - start, "gpaw_peak_GB": peak_gb()}


def available_gb() -> float:
    """Memory available to a new process now (GB, ``MemAvailable`` of /proc/meminfo)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024**2
    return float("inf")


def dense_memory_gb(atoms: int) -> tuple[float, float]:
    """Lower bounds (GB) of a cell's dense H0, S and SOC blocks and of the Fermi level's
    work arrays (about eight complex ``2n x 2n`` matrices at one k-point)."""
    n = ORBITALS_PER_ATOM * atoms
    blocks = MIN_LATTICE_VECTORS * n * n * BYTES_PER_ELEMENT
    return blocks / 1024**3, 8 * 16 * (2 * n) ** 2 / 1024**3


def child(mode: str, angle: float, timeout: float, sparse: str | None = None) -> dict:
    """Run ``--mode angle`` in a fresh interpreter; its last JSON line, and why it stopped."""
    command = [sys.executable, __file__, f"--{mode}", str(angle)]
    command += ["--sparse", sparse] if sparse else []
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        stdout, error = done.stdout, None
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["killed"])[-1]
            error = f"exit {done.returncode}: {tail[:80]}"
    except subprocess.TimeoutExpired as stopped:
        stdout, error = stopped.stdout or "", f"stopped after {timeout:.0f} s"
        stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    out = json.loads(lines[-1]) if lines else {}
    return out | ({"error": error} if error else {})


def row(
    angle: float, gpaw_max_atoms: int, timeout: float, gpaw_timeout: float, sparse: str | None
) -> dict:
    """One table row: the cell, then GPAW where small enough."""
    structure, record = bilayer(angle)
    atoms = len(structure)
    out: dict = {"angle": record.achieved_angle_deg, "atoms": atoms}
    (blocks, solver), have = dense_memory_gb(atoms), available_gb()
    if not sparse and blocks + solver > 0.8 * have:
        out["error"] = (
            f"not run: dense H(R) blocks >= {blocks:.0f} GB + E_F diagonalisation "
            f">= {solver:.0f} GB, {have:.0f} GB available"
        )
    else:
        out |= child("cell", angle, timeout, sparse)
    if atoms <= gpaw_max_atoms:
        gpaw = child("gpaw", angle, gpaw_timeout)
        out |= {"gpaw_error": gpaw["error"]} if "error" in gpaw else gpaw
    return out


def _value(r: dict, *keys: str, fmt: str = "{:.0f}") -> str:
    """``fmt`` of each of ``keys`` of a row joined by " / ", or "-" for a missing one."""
    return " / ".join(fmt.format(r[key]) if key in r else "-" for key in keys)


def table(rows: list[dict]) -> str:
    """Markdown table of the rows; a cell stopped early shows the stages it finished."""
    lines = [
        "| twist (°) | atoms | n | n_R | predict (s, wall / cpu) | setup / H(0) / charges / E_F "
        "(s) | valleys (s, wall / cpu) | peak (GB) | H(R) blocks (GB) | Δ_v(K) (eV) "
        "| gap K,K',Γ (eV) | GPAW (s) | GPAW / ours | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gpaw = r.get("gpaw_s")
        ours = r.get("predict_s", 0.0) + r.get("analysis_s", 0.0)
        ratio = f"{gpaw / ours:.0f}" if gpaw and ours else "-"
        gpaw_text = f"{gpaw:.0f}" if gpaw else r.get("gpaw_error", "-")
        stages = _value(r.get("stages_s", {}), "setup", "assemble", "charges", "fermi")
        lines.append(
            f"| {r['angle']:.2f} | {r['atoms']} | {_value(r, 'orbitals')} | {_value(r, 'n_R')} "
            f"| {_value(r, 'predict_s', 'predict_cpu_s')} | {stages} "
            f"| {_value(r, 'analysis_s', 'analysis_cpu_s', fmt='{:.1f}')} "
            f"| {_value(r, 'peak_GB', fmt='{:.2f}')} | {_value(r, 'blocks_GB', fmt='{:.2f}')} "
            f"| {_value(r, 'splitting_K_eV', fmt='{:.3f}')} | {_value(r, 'gap_eV', fmt='{:.3f}')} "
            f"| {gpaw_text} | {ratio} | {r.get('error', '')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--angles", type=float, nargs="+", default=DEFAULT_ANGLES)
    parser.add_argument("--gpaw-max-atoms", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per cell")
    parser.add_argument("--gpaw-timeout", type=float, default=600.0, help="seconds per GPAW")
    parser.add_argument(
        "--sparse",
        nargs="?",
        const="baseline",
        choices=["baseline", "scc", "model"],
        help="the sparse route with this predictor (default baseline) instead of dense scc",
    )
    parser.add_argument("--cell", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--gpaw", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell is not None:
        run_cell(args.cell, args.sparse)
        return
    if args.gpaw is not None:
        print(json.dumps(run_gpaw(args.gpaw)))
        return
    rows = []
    for angle in args.angles:
        rows.append(row(angle, args.gpaw_max_atoms, args.timeout, args.gpaw_timeout, args.sparse))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()

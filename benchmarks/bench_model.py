"""Benchmark the predictors (Uni-HamGNN checkpoint, H(0), H(0) + SCC): accuracy, speed.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_model.py [--checkpoint PT] [--data DIR]
        [--split-from RECORD.json] [--part test|val] [--predictor model baseline scc]
        [--skip-speed]

``--predictor`` names what is benchmarked (default all three, side by side): ``model`` the
checkpoint, ``baseline`` GPAW's zeroth-step H(0) with no learning, ``scc`` H(0) with
self-consistent atomic charges (no learning either), ``model-dft-soc`` the model's H0 with
the reference's own SOC blocks (the bound of what a learned SOC correction could earn).
The test files are the checkpoint's test split every time, so all compare on the same
files.

Prints markdown tables (one set per predictor, then a side-by-side summary):

1. accuracy on the checkpoint's test split (``data/corpus/gpaw-szp``) and on the held-out
   fixtures (Bi2Se3, Si at experimental geometry): MAE of H0 elements (after the
   per-structure gauge shift c·S, see ``socscreen.model.loss``), of S (exact overlaps vs
   GPAW), of SOC elements (H_uu, H_ud), band energies within E_F ± 2 eV on an 8×8×8 grid
   (each relative to its own E_F — the reference's is GPAW's SCF value —, relative to
   Fermi levels both from ``analysis.bands.fermi_level`` on a dense grid ("one rule"),
   after removing the mean offset, and aligned at the valence-band maximum with bands
   matched by electron count as validation reruns do),
   the H0 MAE over the bonding elements (|S_ij| > 0.05) alone, spin splittings;
   averaged per prototype family, and split by whether a test file's element set also
   occurs in the training split (the composition split); predicted bands are solved as
   every prediction is (``overlap_cutoff`` 1e-2), the DFT ones with
   ``DFT_OVERLAP_CUTOFF`` of the GPAW references (1e-4);
2. SOC off vs on for the predicted Bi2Se3: Γ gap and Fu–Kane Z2;
3. speed and peak memory of ``predict`` for a 5-atom and a 100-atom cell on 1 CPU core, the
   share of H(0) and its charges in it, and ``socscreen predict`` end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from socscreen.analysis.bands import fermi_level
from socscreen.analysis.comparison import compare_band_energies
from socscreen.dft.reference import DFT_OVERLAP_CUTOFF
from socscreen.hamiltonian import Hamiltonian

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 2.0  # eV around E_F
GRID = 8
#: k-points per direction times |a| (Å) for the Fermi levels of the "same rule" alignment:
#: dense enough that analysis.bands.fermi_level is within ~0.05 eV of converged for metals.
FERMI_DENSITY = 32.0
#: |S_ij| above which an H0 element counts as a bonding one: the mean over all elements is
#: dominated by the many small far-neighbour ones, the bands by these.
BONDED_OVERLAP = 0.05


def _blocks_by_r(h: Hamiltonian) -> dict[tuple[int, ...], int]:
    return {tuple(r): k for k, r in enumerate(h.R.tolist())}


def _aligned(pred: Hamiltonian, ref: Hamiltonian) -> dict[str, np.ndarray]:
    """Blocks of both on the union of their R (zeros where one lacks an R)."""
    keys = sorted(set(_blocks_by_r(pred)) | set(_blocks_by_r(ref)))
    out = {}
    for name, h in (("pred", pred), ("ref", ref)):
        index = _blocks_by_r(h)
        n = h.n_orbitals
        arrays = {
            k: np.zeros((len(keys), n, n), dtype=complex if k.startswith("soc") else float)
            for k in ("h0", "overlap", "soc_uu", "soc_ud")
        }
        for row, r in enumerate(keys):
            if r in index:
                for k in arrays:
                    value = getattr(h, k)
                    if value is not None:
                        arrays[k][row] = value[index[r]]
        out[name] = arrays
    return out


def _band_metrics(pred: Hamiltonian, ref: Hamiltonian, soc: bool = True) -> dict[str, float]:
    """Band errors within E_F ± WINDOW (none for a wide-gap insulator: the table says n/a)."""
    grid = np.stack(np.meshgrid(*[np.arange(GRID) / GRID] * 3, indexing="ij"), -1).reshape(-1, 3)
    e_ref = ref.eigh(grid, soc=soc)
    e_pred = pred.eigh(grid, soc=soc)
    inside = np.abs(e_ref - ref.efermi) < WINDOW
    if not inside.any():  # wide-gap insulator: no band within the window
        return {}
    diff = (e_pred - pred.efermi) - (e_ref - ref.efermi)
    # GPAW's efermi comes from its SCF k-grid with Fermi smearing (0.58 eV from the midgap
    # of PbTe's own bands, L being off its grid): align both at fermi_level() instead.
    same_rule = (e_pred - fermi_level(pred, FERMI_DENSITY)) - (
        e_ref - fermi_level(ref, FERMI_DENSITY)
    )
    vbm_aligned = compare_band_energies(
        pred, grid, e_ref, ref.efermi, window=WINDOW, soc=soc, dft_nelect=ref.nelect, align="vbm"
    )
    raw = (e_pred - e_ref)[inside]
    split_ref = e_ref[:, 1::2] - e_ref[:, ::2]
    split_pred = e_pred[:, 1::2] - e_pred[:, ::2]
    pair_inside = inside[:, ::2] & inside[:, 1::2]
    return {
        "band_ef": float(np.abs(diff[inside]).mean()),
        "band_ef_same": float(np.abs(same_rule[inside]).mean()),
        "band_offset": float(np.abs(raw - raw.mean()).mean()),
        "band_vbm": vbm_aligned.band_mae,
        "spin_split": float(np.abs(split_pred - split_ref)[pair_inside].mean()),
        "spin_split_ref": float(np.abs(split_ref[pair_inside]).mean()),
        "efermi": float(pred.efermi - ref.efermi - raw.mean()),
    }


def _exact_reference(ref: Hamiltonian) -> Hamiltonian | None:
    """The DFT H on every overlapping R with the exact S, or None if its grid aliased.

    Its bands are solved with the overlap cutoff of every GPAW reference (1e-4: the
    stored H's rounding alone makes ghost bands along directions of S(k) below it).

    Corpus files drop lattice vectors whose elements are all below the storage
    thresholds; such an R inside the file's H(R) grid has zero blocks. An overlapping R
    outside the grid means the stored H(R) is aliased.
    """
    from socscreen.dft.overlap import overlap_matrices, overlapping_R

    full = overlapping_R(ref.structure, ref.orbitals.basis_name)
    reach = (np.asarray(ref.meta.get("hr_grid", 2 * np.abs(ref.R).max(axis=0) + 1)) - 1) // 2
    if np.any(np.abs(full) > reach):
        return None
    index = _blocks_by_r(ref)
    R = np.array(sorted(set(map(tuple, full.tolist())) | set(index)), dtype=int)
    n = ref.n_orbitals
    h0 = np.zeros((len(R), n, n))
    uu = np.zeros((len(R), n, n), dtype=complex)
    ud = np.zeros((len(R), n, n), dtype=complex)
    for row, r in enumerate(map(tuple, R.tolist())):
        if r in index:
            h0[row], uu[row], ud[row] = ref.h0[index[r]], ref.soc_uu[index[r]], ref.soc_ud[index[r]]
    overlap = overlap_matrices(ref.structure, ref.orbitals, R)
    meta = {**ref.meta, "overlap_cutoff": DFT_OVERLAP_CUTOFF}
    return ref._replace(R=R, h0=h0, overlap=overlap, soc_uu=uu, soc_ud=ud, meta=meta)


def compare(pred: Hamiltonian, ref: Hamiltonian) -> dict[str, float]:
    """Element and band errors of a prediction (eV).

    Bands need the reference's H(R) on every overlapping R; files whose H(R) grid was too
    small (aliased Bloch sums) get element errors only. Reference bands use the exact
    overlap (the file's S is float32 with elements below 1e-5 dropped).
    """

    a = _aligned(pred, ref)
    p, r = a["pred"], a["ref"]
    delta = p["h0"] - r["h0"]
    c = np.sum(delta * r["overlap"]) / np.sum(r["overlap"] ** 2)
    bonded = np.abs(r["overlap"]) > BONDED_OVERLAP
    row = {
        "h0": float(np.abs(delta - c * r["overlap"]).mean()),
        "h0_bonded": float(np.abs(delta - c * r["overlap"])[bonded].mean()),
        "overlap": float(np.abs(p["overlap"] - r["overlap"]).mean()),
        "soc": float(
            0.5
            * (np.abs(p["soc_uu"] - r["soc_uu"]).mean() + np.abs(p["soc_ud"] - r["soc_ud"]).mean())
        ),
        "soc_ref": float(0.5 * (np.abs(r["soc_uu"]).mean() + np.abs(r["soc_ud"]).mean())),
    }
    exact = _exact_reference(ref)
    if exact is not None:
        row.update(_band_metrics(pred, exact))
    return row


def _table(title: str, rows: list[dict], columns: list[tuple[str, str, float]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(c[1] for c in columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        cells = []
        for key, _, scale in columns:
            value = row.get(key)
            if value is None:
                cells.append("n/a")
            else:
                cells.append(str(value) if not isinstance(value, float) else f"{value * scale:.2f}")
        print("| " + " | ".join(cells) + " |")


COLUMNS = [
    ("name", "structure", 1),
    ("prototype", "prototype", 1),
    ("h0", "H0 MAE (meV)", 1e3),
    ("h0_bonded", "H0 MAE where |S|>0.05 (meV)", 1e3),
    ("overlap", "S MAE (1e-3)", 1e3),
    ("soc", "SOC MAE (meV)", 1e3),
    ("soc_ref", "mean |SOC| (meV)", 1e3),
    ("band_ef", "bands ±2 eV, E_F-aligned (meV)", 1e3),
    ("band_ef_same", "bands ±2 eV, aligned at E_F by one rule (meV)", 1e3),
    ("band_offset", "bands, offset-removed (meV)", 1e3),
    ("band_vbm", "bands, VBM-aligned (meV)", 1e3),
    ("spin_split", "spin-splitting error (meV)", 1e3),
    ("efermi", "E_F error (meV)", 1e3),
]


def _means(rows: list[dict], average=np.mean, keys=None) -> dict[str, float | None]:
    """``average`` of each metric over the rows that have it (default the COLUMNS metrics)."""
    out = {}
    for key in keys or [key for key, _, _ in COLUMNS[2:]]:
        values = [x[key] for x in rows if x.get(key) is not None]
        out[key] = float(average(values)) if values else None
    return out


def _element_set(file_name: str) -> frozenset[str]:
    """Elements of a corpus file from its name, ``train_<seed>_<formula>.npz``."""
    from pymatgen.core import Composition

    formula = Path(file_name).stem.split("_", 2)[2]
    return frozenset(str(e) for e in Composition(formula).elements)


def predict_with(predictor: str, ref: Hamiltonian, checkpoint: Path | None) -> Hamiltonian:
    """The predictor's Hamiltonian of a reference file's structure (SOC on).

    ``model-dft-soc`` is the model's H0 and S with the reference's own SOC blocks: what a
    perfect learned SOC correction (``ModelConfig.soc_correction``) would give, the bound
    of what that head can earn.
    """
    from socscreen.model.predictors import predict_hamiltonian

    if predictor == "model-dft-soc":
        return with_soc_of(predict_hamiltonian(ref.structure, "model", checkpoint=checkpoint), ref)
    return predict_hamiltonian(ref.structure, predictor, checkpoint=checkpoint)


def with_soc_of(pred: Hamiltonian, ref: Hamiltonian) -> Hamiltonian:
    """``pred``'s H0 and S with ``ref``'s SOC blocks, on the union of their R."""
    R = np.array(sorted(set(_blocks_by_r(pred)) | set(_blocks_by_r(ref))), dtype=int)
    blocks = _aligned(pred, ref)
    h = pred._replace(
        R=R,
        h0=blocks["pred"]["h0"],
        overlap=blocks["pred"]["overlap"],
        soc_uu=blocks["ref"]["soc_uu"],
        soc_ud=blocks["ref"]["soc_ud"],
    )
    h.efermi = fermi_level(h)
    return h


PREDICTOR_LABELS = {
    "model": "Uni-HamGNN",
    "baseline": "H(0) baseline",
    "scc": "H(0)+SCC",
    "model-dft-soc": "Uni-HamGNN + DFT SOC",
}


def add_predictor_argument(parser: argparse.ArgumentParser) -> None:
    """``--predictor``: which predictors a benchmark runs, side by side (default both)."""
    parser.add_argument(
        "--predictor",
        nargs="+",
        choices=list(PREDICTOR_LABELS),
        default=["baseline", "scc", "model"],
        help="What to benchmark: the checkpoint (model), the zeroth-step H(0) (baseline), "
        "H(0) with self-consistent charges (scc), the model's H0 with the DFT SOC blocks "
        "(model-dft-soc: the bound of a learned SOC correction).",
    )


def accuracy(
    checkpoint: Path | None,
    data: Path,
    split_from: Path | None = None,
    predictors: tuple[str, ...] = ("baseline", "model"),
    part: str = "test",
) -> None:
    """Tables 1 and 2 per predictor (test files from ``split_from``, a record, if given).

    ``part="val"`` takes the record's validation files instead of its test files.
    """
    from socscreen.model.inference import load_model

    _, payload = load_model(checkpoint, "cpu")
    record = payload["record"]
    if not record.get("split"):
        raise SystemExit(
            f"{checkpoint or 'the shipped checkpoint'} has no training record with a split "
            "(its .json beside the .pt): without it the test files, and whether a model "
            "trained on them, are unknown"
        )
    test_names = record["split"].get(part, [])
    if split_from is not None:
        test_names = json.loads(split_from.read_text()).get("split", {}).get(part, [])
        # validation files chose the model's epoch: held out from a test, not from a
        # validation (--part val), where every model is chosen on them alike
        seen = ("train", "val") if part == "test" else ("train",)
        trained = {name for key in seen for name in record["split"].get(key, [])}
        if trained & set(test_names):
            raise SystemExit(
                f"{split_from} has {part} files this model was trained on"
                + (" or validated on" if part == "test" else "")
                + f": {sorted(trained & set(test_names))[:5]}"
            )
    cases = [(name, data / name) for name in test_names if (data / name).exists()]
    held_out = [
        ("Bi2Se3 (fixture)", ROOT / "tests/data/Bi2Se3_szp.npz"),
        ("Si (fixture)", ROOT / "tests/data/Si_szp.npz"),
    ]
    summary = []
    for predictor in predictors:
        rows = _accuracy_tables(predictor, checkpoint, cases, held_out, record, part)
        label = PREDICTOR_LABELS[predictor]
        for average, word in ((np.mean, "mean"), (np.median, "median")):
            summary.append(
                {
                    "name": f"{label}, {word}",
                    "prototype": "-",
                    **_means(rows[: len(cases)], average),
                }
            )
    _table(f"Side by side on the same {len(cases)} {part}-split files", summary, COLUMNS)
    soc_switch(checkpoint, predictors)


def _accuracy_tables(
    predictor: str,
    checkpoint: Path | None,
    cases: list[tuple[str, Path]],
    held_out: list[tuple[str, Path]],
    record: dict,
    part: str = "test",
) -> list[dict]:
    """Per-file, per-family and composition-split tables of one predictor; its rows."""
    label = PREDICTOR_LABELS[predictor]
    rows = []
    for name, path in cases + held_out:
        ref = Hamiltonian.from_npz(path)
        pred = predict_with(predictor, ref, checkpoint)
        rows.append(
            {"name": name, "prototype": ref.meta.get("prototype", "?"), **compare(pred, ref)}
        )
    _table(
        f"{label}: accuracy vs GPAW szp(dzp) ({len(cases)} {part}-split files "
        "+ 2 held-out fixtures)",
        rows,
        COLUMNS,
    )
    families = defaultdict(list)
    for row in rows[: len(cases)]:
        families[row["prototype"]].append(row)
    family_rows = [
        {
            "name": f"{fam} ({len(v)})",
            "prototype": fam,
            **_means(v),
        }
        for fam, v in sorted(families.items())
    ]
    if cases:
        family_rows.append(
            {
                "name": f"all {part} ({len(cases)})",
                "prototype": "-",
                **_means(rows[: len(cases)]),
            }
        )
        family_rows.append(
            {
                "name": f"all {part}, median ({len(cases)})",
                "prototype": "-",
                **_means(rows[: len(cases)], np.median),
            }
        )
    _table(f"{label}: per prototype family ({part} split)", family_rows, COLUMNS)
    seen = {_element_set(name) for name in record.get("split", {}).get("train", [])}
    groups = defaultdict(list)
    for (name, _), row in zip(cases, rows, strict=False):
        groups[
            "element set in training" if _element_set(name) in seen else "new element set"
        ].append(row)
    _table(
        f"{label}: composition split of the {part} files (is the same element set in the "
        "training split?)",
        [
            {"name": f"{key} ({len(v)})", "prototype": "-", **_means(v)}
            for key, v in sorted(groups.items())
        ],
        COLUMNS,
    )
    return rows


def soc_switch(checkpoint: Path | None, predictors: tuple[str, ...] = ("model",)) -> None:
    """Γ gap and Fu–Kane Z2 of Bi2Se3, predicted and DFT, with and without SOC."""
    from socscreen.analysis.topology import z2_invariants

    ref = Hamiltonian.from_npz(ROOT / "tests/data/Bi2Se3_szp.npz")
    rows = []
    predicted = [(PREDICTOR_LABELS[p], predict_with(p, ref, checkpoint)) for p in predictors]
    for label, h in [("GPAW DFT", ref), *predicted]:
        for soc in (True, False):
            e = h.eigh([[0.0, 0.0, 0.0]], soc=soc)[0]
            n = int(round(h.nelect))
            z2 = z2_invariants(h, route="parity", soc=soc)
            rows.append(
                {
                    "name": label,
                    "soc": "on" if soc else "off",
                    "gap": float(e[n] - e[n - 1]),
                    "indirect": z2.gap_eV,
                    "z2": "({};{}{}{})".format(*z2.z2) if z2.z2 else "-",
                    "flags": ", ".join(z2.flags) or "-",
                }
            )
    _table(
        "Bi2Se3 (held-out fixture): the band inversion needs SOC",
        rows,
        [
            ("name", "Hamiltonian", 1),
            ("soc", "SOC", 1),
            ("gap", "Γ gap (meV)", 1e3),
            ("indirect", "gap on grid (meV)", 1e3),
            ("z2", "Z2 (Fu–Kane)", 1),
            ("flags", "flags", 1),
        ],
    )


SPEED_SNIPPET = """
import json, resource, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
torch.set_num_threads(1)
from socscreen.dft.charge_correction import charge_corrected
from socscreen.dft.zeroth_step import compute_zeroth_step
from socscreen.hamiltonian import Hamiltonian
from socscreen.model.inference import load_model, predict
from socscreen.structure_flags import centred
ref = Hamiltonian.from_npz(sys.argv[1])
structure = ref.structure.copy()
structure.make_supercell([int(x) for x in sys.argv[2].split(",")])
checkpoint = sys.argv[3] if sys.argv[3] != "-" else None
load_model(checkpoint, "cpu")
predict(ref.structure, checkpoint=checkpoint)  # warm-up (e3nn code generation)
t = time.perf_counter(); h = predict(structure, checkpoint=checkpoint); dt = time.perf_counter() - t
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
del h
t = time.perf_counter(); h0 = compute_zeroth_step(centred(structure), soc=True, fermi=False)
h0_s = time.perf_counter() - t
t = time.perf_counter(); charge_corrected(h0, fermi=False); charges_s = time.perf_counter() - t
with tempfile.TemporaryDirectory() as tmp:
    cif = Path(tmp) / "cell.cif"
    structure.to(filename=str(cif))
    out = str(Path(tmp) / "h.npz")
    command = [sys.executable, "-m", "socscreen", "predict", str(cif), "-o", out]
    if checkpoint:
        command += ["--checkpoint", checkpoint]
    t = time.perf_counter(); subprocess.run(command, check=True, capture_output=True)
    cli_s = time.perf_counter() - t
print(json.dumps({"atoms": len(structure), "orbitals": h0.n_orbitals, "n_R": len(h0.R),
                  "seconds": dt, "h0_seconds": h0_s, "charges_seconds": charges_s,
                  "cli_seconds": cli_s, "peak_mb": peak_mb}))
"""


def speed(checkpoint: Path | None) -> None:
    """Table 3: one fresh process per cell, 1 thread.

    ``predict()`` in a warm process, the share of it that is H(0) and its self-consistent
    charges (timed again alone, after it), and ``socscreen predict CIF -o H.npz`` end to
    end in a fresh process (start-up, checkpoint, prediction, file).
    """
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    rows = []
    for label, cell in (("Bi2Se3 primitive", "1,1,1"), ("Bi2Se3 2x2x5 supercell", "2,2,5")):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                SPEED_SNIPPET,
                str(ROOT / "tests/data/Bi2Se3_szp.npz"),
                cell,
                str(checkpoint) if checkpoint else "-",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        share = (result["h0_seconds"] + result["charges_seconds"]) / result["seconds"]
        rows.append({"name": label, **result, "ms": result["seconds"] * 1000, "share": share})
    _table(
        "predict() on 1 CPU core (H(0), charges, network, Fermi level), and the command line",
        rows,
        [
            ("name", "cell", 1),
            ("atoms", "atoms", 1),
            ("orbitals", "orbitals", 1),
            ("n_R", "R vectors", 1),
            ("ms", "predict() (ms)", 1),
            ("h0_seconds", "of it H(0) (ms)", 1000),
            ("charges_seconds", "charges (ms)", 1000),
            ("share", "H(0) + charges (%)", 100),
            ("cli_seconds", "socscreen predict, end to end (s)", 1),
            ("peak_mb", "peak RSS of predict() (MB)", 1),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=ROOT / "data/corpus/gpaw-szp")
    parser.add_argument(
        "--split-from",
        type=Path,
        default=None,
        help="Test on the test split of this checkpoint record (.json) instead, e.g. an "
        "older model on a newer model's split (refused if it trained on any of them).",
    )
    parser.add_argument(
        "--part",
        choices=["test", "val"],
        default="test",
        help="Which files of the split: test (default), or val to choose between trainings "
        "(seeds, an ensemble of them) without looking at the test files.",
    )
    add_predictor_argument(parser)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    accuracy(args.checkpoint, args.data, args.split_from, tuple(args.predictor), args.part)
    if not args.skip_speed:
        speed(args.checkpoint)
    print(f"\n(benchmark took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

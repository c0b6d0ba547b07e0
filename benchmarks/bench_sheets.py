"""Benchmark the valley physics of the MX2 monolayers: GPAW against the predictors.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_sheets.py --compute   # GPAW references once
    OMP_NUM_THREADS=1 python benchmarks/bench_sheets.py [--predictor baseline scc]

2H MoS2, MoSe2, WS2 and WSe2 monolayers (experimental lattice constants, chalcogen-
chalcogen heights of PBE relaxations, 20 Angstrom of vacuum) are the showcase of the
paper's transfer claim: the predictors never saw a sheet. The MoSe2/WSe2 heterobilayers
at 0, 60 and 21.79 degrees (6, 6 and 42 atoms, :data:`BILAYERS`) add the band alignment
of two different layers. ``--compute`` runs the corpus
GPAW reference calculation (szp(dzp), SOC, :func:`socscreen.dft.reference.
compute_gpaw_reference`) for every sheet whose file is missing in
``benchmarks/data/sheets`` and stores it compactly (the training corpus' storage,
:func:`socscreen.corpus.storage.write_compact`).

``--predictor`` (default ``baseline scc``; add ``model`` for the shipped correction
checkpoint, whose 42-atom bilayer takes a few minutes) names the predictors run beside
GPAW.

Prints one markdown table: per monolayer and source (GPAW, each predictor), the
valley quantities of :func:`socscreen.analysis.valley.valley_quantities` — spin splitting
of the top valence and of the bottom conduction band at K, the direct gap at K (meV), the
occupied-band Berry curvature at K and K' (Angstrom^2), whether their signs are opposite,
and whether the lowest conduction band at K has the top valence band's spin (bright, MoX2)
or the opposite one (dark, WX2) — beside the literature PBE valence splitting, the
fundamental gap (:func:`socscreen.analysis.gaps.band_gap`, meV) and the time of the
GPAW reference or of the prediction plus valley analysis (s, one core). ``--plot PNG``
draws the bilayers' valence splitting at K, gap and Berry curvature at K against the twist
angle, GPAW and every predictor in one figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from bench_model import (  # noqa: E402
    PREDICTOR_LABELS,
    ROOT,
    _table,
    add_predictor_argument,
    predict_with,
)
from pymatgen.core import Structure  # noqa: E402

from socscreen.corpus.training_sheets import mx2_2h  # noqa: E402
from socscreen.hamiltonian import Hamiltonian  # noqa: E402

SHEETS_DIR = ROOT / "benchmarks/data/sheets"

#: Empty layer between a sheet and its periodic image (Angstrom, nucleus to nucleus).
VACUUM = 20.0


@dataclass(frozen=True)
class Monolayer:
    """A 2H (trigonal prismatic) MX2 monolayer.

    Attributes
    ----------
    metal, chalcogen
        Element symbols.
    a
        Hexagonal lattice constant (Angstrom, experimental).
    height
        Chalcogen-chalcogen height across the sheet (Angstrom, PBE).
    literature_splitting
        PBE spin splitting of the top valence band at K (eV), from the literature.
    """

    metal: str
    chalcogen: str
    a: float
    height: float
    literature_splitting: float

    @property
    def name(self) -> str:
        return f"{self.metal}{self.chalcogen}2"

    def build(self) -> Structure:
        """The sheet centred at ``z = c / 2`` in a cell of height ``height + VACUUM``."""
        return mx2_2h(self.metal, self.chalcogen, a=self.a, h=self.height, c=self.height + VACUUM)


MONOLAYERS = (
    Monolayer("Mo", "S", 3.18, 3.13, 0.15),
    Monolayer("Mo", "Se", 3.32, 3.34, 0.19),
    Monolayer("W", "S", 3.18, 3.14, 0.43),
    Monolayer("W", "Se", 3.32, 3.35, 0.47),
)


@dataclass(frozen=True)
class Bilayer:
    """A heterobilayer of two monolayers at a twist angle.

    Built by :func:`socscreen.bilayers.twisted_bilayer`:
    0 degrees is the R-type (AA) 1x1 stacking, 60 degrees the H-type one; the metal-metal
    distance is the builder's default (6.5 Angstrom).
    """

    bottom: Monolayer
    top: Monolayer
    angle: float
    literature_splitting: float = float("nan")

    @property
    def name(self) -> str:
        return f"{self.bottom.name}-{self.top.name}-{self.angle:g}deg"

    def build(self) -> Structure:
        from socscreen.bilayers import twisted_bilayer

        return twisted_bilayer(self.bottom.build(), self.top.build(), self.angle)[0]


#: MoSe2/WSe2 at 0 and 60 degrees (6 atoms), the smallest twisted cell, 21.79 degrees
#: (sqrt(7) x sqrt(7), 42 atoms; both sheets' K valleys fold onto the supercell's K), and
#: 13.17 degrees (sqrt(19) x sqrt(19), 114 atoms; the K valleys fold onto K again).
BILAYERS = tuple(
    Bilayer(MONOLAYERS[1], MONOLAYERS[3], angle) for angle in (0.0, 60.0, 21.79, 13.17)
)


def compute_references() -> None:
    """GPAW corpus-settings references of the sheets that have no file yet."""
    from socscreen.corpus.storage import write_compact
    from socscreen.dft.reference import compute_gpaw_reference

    SHEETS_DIR.mkdir(parents=True, exist_ok=True)
    for sheet in (*MONOLAYERS, *BILAYERS):
        path = SHEETS_DIR / f"{sheet.name}.npz"
        if path.exists():
            continue
        structure = sheet.build()
        kind = "2H-MX2 monolayer" if isinstance(sheet, Monolayer) else "MX2 heterobilayer"
        structure.properties = {"prototype": kind, "holdout": True}
        start = time.perf_counter()
        write_compact(compute_gpaw_reference(structure), path)
        size = path.stat().st_size / 1e3
        print(f"{sheet.name:6s} {time.perf_counter() - start:6.1f} s -> {path} ({size:.0f} kB)")


def _row(sheet: Monolayer | Bilayer, source: str, ham: Hamiltonian, seconds: float) -> dict:
    """One table row: the valley quantities and fundamental gap of ``ham`` (eV, Angstrom^2)."""
    from socscreen.analysis.gaps import band_gap
    from socscreen.analysis.valley import valley_quantities

    valleys = valley_quantities(ham)
    gap = band_gap(ham)
    opposite = valleys.omega_k * valleys.omega_k_prime < 0
    return {
        "name": sheet.name,
        "source": source,
        "literature": sheet.literature_splitting,
        "valence": valleys.valence_splitting_eV,
        "conduction": valleys.conduction_splitting_eV,
        "gap_k": valleys.direct_gap_k_eV,
        "gap": gap.indirect_gap_eV,
        "omega_k": valleys.omega_k,
        "omega_k_prime": valleys.omega_k_prime,
        "signs": "opposite" if opposite else "SAME",
        "spins": "same" if valleys.valence_spin_k * valleys.conduction_spin_k > 0 else "opposite",
        "seconds": seconds,
    }


def evaluate(predictors: tuple[str, ...], checkpoint: Path | None = None) -> list[dict]:
    """Print the valley table (GPAW and every predictor per stored sheet); return its rows."""
    rows, missing = [], []
    for sheet in (*MONOLAYERS, *BILAYERS):
        path = SHEETS_DIR / f"{sheet.name}.npz"
        if not path.exists():
            missing.append(sheet.name)
            continue
        reference = Hamiltonian.from_npz(path)
        rows.append(_row(sheet, "GPAW", reference, reference.meta.get("seconds", float("nan"))))
        for predictor in predictors:
            start = time.perf_counter()
            try:
                predicted = predict_with(predictor, reference, checkpoint)
            except ValueError as error:
                missing.append(f"{sheet.name} by {predictor} ({error})")
                continue
            rows.append(
                _row(sheet, PREDICTOR_LABELS[predictor], predicted, time.perf_counter() - start)
            )
    _table(
        "MX2 monolayers and MoSe2/WSe2 bilayers at K: spin splittings, gaps (meV) and "
        "Berry curvature (Å²), GPAW szp(dzp) vs predicted",
        rows,
        [
            ("name", "monolayer", 1),
            ("source", "source", 1),
            ("literature", "lit. PBE VB split.", 1e3),
            ("valence", "VB split. at K", 1e3),
            ("conduction", "CB split. at K", 1e3),
            ("gap_k", "direct gap at K", 1e3),
            ("gap", "fundamental gap", 1e3),
            ("omega_k", "Ω(K)", 1),
            ("omega_k_prime", "Ω(K')", 1),
            ("signs", "Ω signs K/K'", 1),
            ("spins", "lowest CB spin vs top VB", 1),
            ("seconds", "time (s)", 1),
        ],
    )
    if missing:
        print(f"\nnot evaluated: {', '.join(missing)}")
    return rows


def plot_bilayers(rows: list[dict], path: Path) -> None:
    """The bilayers' VB splitting at K, gap and Ω(K) against twist angle, one line per source."""
    from socscreen.analysis.plots import TwistSeries, plot_twist_comparison

    angle = {bilayer.name: bilayer.angle for bilayer in BILAYERS}
    series = []
    for source in dict.fromkeys(row["source"] for row in rows):
        mine = sorted(
            (angle[r["name"]], r) for r in rows if r["source"] == source and r["name"] in angle
        )
        if mine:
            series.append(
                TwistSeries(
                    source,
                    np.array([a for a, _ in mine]),
                    np.array([r["gap"] for _, r in mine]),
                    np.array([r["valence"] for _, r in mine]),
                    np.array([r["omega_k"] for _, r in mine]),
                )
            )
    title = f"{BILAYERS[0].bottom.name}/{BILAYERS[0].top.name} bilayers"
    plot_twist_comparison(series, path, title)
    print(f"\ntwist-angle figure -> {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--compute", action="store_true", help="Run GPAW for sheets without a reference."
    )
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="Model checkpoint (default: the shipped one)."
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        help="Also draw the bilayers against twist angle, every source in one PNG.",
    )
    add_predictor_argument(parser)
    parser.set_defaults(predictor=["baseline", "scc"])
    args = parser.parse_args()
    start = time.perf_counter()
    if args.compute:
        compute_references()
    rows = evaluate(tuple(args.predictor), args.checkpoint)
    if args.plot is not None:
        plot_bilayers(rows, args.plot)
    print(f"\n(benchmark took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

"""Gap errors of predictors on the corpus cells that hold given elements, by split part.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_corpus_gaps.py N [Ca ...]
        [--predictor scc model] [--checkpoint M.pt]

For every corpus file of the checkpoint's record (training, validation and test parts)
whose formula holds one of the elements, prints the DFT gap and each predictor's gap
error (meV): the indirect gap of the campaign analysis (`analysis_fields`), metals
listed without one. A model that misses its own *training* cells' gaps is limited by its
form, not by its data (docs/model.md, "What the gaps still get wrong"). About 5 s per
cell on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_model import predict_with  # noqa: E402
from pymatgen.core import Composition  # noqa: E402

from socscreen.hamiltonian import Hamiltonian  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from socscreen.makers.analyse import analysis_fields
    from socscreen.model.predictors import default_checkpoint
    from socscreen.stores.schemas.campaign import CampaignSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("elements", nargs="+")
    parser.add_argument(
        "--predictor", nargs="+", default=["scc", "model"], choices=["baseline", "scc", "model"]
    )
    parser.add_argument("--checkpoint", type=Path, default=None)
    args = parser.parse_args()
    checkpoint = args.checkpoint or default_checkpoint()
    record = json.loads(checkpoint.with_suffix(".json").read_text())
    corpus = ROOT / record["settings"]["data"]
    part = {name: key for key, names in record["split"].items() for name in names}
    settings = CampaignSettings()
    errors_header = " | ".join(f"{p} gap error (meV)" for p in args.predictor)
    print(f"| file | part | DFT gap (meV) | {errors_header} |")
    print(f"|---|---|---|{'---|' * len(args.predictor)}")
    for name in sorted(part):
        formula = name.split("_", 2)[2].removesuffix(".npz")
        if not set(args.elements) & {e.symbol for e in Composition(formula).elements}:
            continue
        reference = Hamiltonian.from_npz(corpus / name)
        dft = analysis_fields(reference, settings).gaps.indirect
        if not dft:
            print(f"| {name} | {part[name]} | metal |{' |' * len(args.predictor)}", flush=True)
            continue
        errors = [
            analysis_fields(predict_with(p, reference, checkpoint), settings).gaps.indirect - dft
            for p in args.predictor
        ]
        cells = " | ".join(f"{1e3 * e:+.0f}" for e in errors)
        print(f"| {name} | {part[name]} | {1e3 * dft:.0f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()

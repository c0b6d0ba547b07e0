"""One prediction API: which predictor made a Hamiltonian, and its version label.

Three predictors give a structure's SOC Hamiltonian in the corpus format:

* ``"model"`` (the default): the Uni-HamGNN checkpoint
  (:func:`socscreen.model.inference.predict`). The shipped one is a correction model: H(0)
  with self-consistent charges plus shell shifts fitted on DFT bands, per element
  (:mod:`socscreen.model.shell_shifts`) and from each atom's environment
  (``ModelConfig.environment_shifts``); elements its training never saw get the
  charge-corrected H(0) alone, flagged;
* ``"baseline"``: the zeroth-step H(0) of GPAW at the superposed atomic density, no
  learning at all (:func:`socscreen.dft.zeroth_step.compute_zeroth_step`);
* ``"scc"``: H(0) with self-consistent Mulliken charges (second-order DFTB on top of it,
  free-atom Hubbard U, nothing fitted: :mod:`socscreen.dft.charge_correction`), which
  moves the charge of ionic crystals that the neutral-atom density lacks.

A slab is predicted as a sheet: :func:`predict_hamiltonian` first moves it into the
middle of its cell (:func:`socscreen.structure_flags.centred`, as campaign ingestion
does), so that no hopping crosses the vacuum and the analysis sees two periodic axes
(k-grids and paths without k_z, the 2D Z2, valleys).

Every prediction records its predictor in ``meta["predictor"]``, and
:func:`prediction_version` turns a Hamiltonian's ``meta`` into the label result documents
carry (``model_version``): a campaign resubmitted with another predictor or checkpoint
redoes the results of the other one. Torch loads only when the model predicts.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pymatgen.core import Structure

from socscreen.hamiltonian import Hamiltonian
from socscreen.sparse_hamiltonian import SparseHamiltonian
from socscreen.structure_flags import centred

__all__ = [
    "FEW_TRAINING_FILES",
    "LARGE_CELL_ATOMS",
    "PEAK_BYTES_PER_ATOM_PAIR",
    "PREDICTORS",
    "STATED_GAP_ERROR",
    "PredictorName",
    "checkpoint_record",
    "checkpoint_version",
    "default_checkpoint",
    "element_file_counts",
    "expected_version",
    "is_correction_record",
    "model_meta",
    "peak_memory_estimate",
    "predict_hamiltonian",
    "prediction_version",
    "sparsely_trained",
    "sparsely_trained_elements",
]

PredictorName = Literal["model", "baseline", "scc"]

#: The predictors, with one line each for help texts and printouts.
PREDICTORS: dict[str, str] = {
    "model": "Uni-HamGNN checkpoint: by default H(0) with self-consistent charges plus "
    "corrections learned from DFT bands",
    "baseline": "zeroth-step H(0): GPAW at the atomic density, no SCF, no learning",
    "scc": "H(0) with self-consistent atomic charges (SCC-DFTB on top), no learning",
}


#: Cells with more atoms than this get a warning with :func:`peak_memory_estimate` first.
LARGE_CELL_ATOMS = 100

#: Peak memory of a large cell's prediction per atom pair (bytes): its H(R) blocks grow as
#: the square of the orbitals at a nearly fixed number of R (GaAs 5x5x2: 100 atoms, 900
#: orbitals, 35 R, 3.9 GB peak with scc on one core, December 2026).
PEAK_BYTES_PER_ATOM_PAIR = 3.9e5


def peak_memory_estimate(n_atoms: int) -> float:
    """Rough peak memory (bytes) of predicting a cell of ``n_atoms`` atoms (large cells).

    Scaled from one measured 100-atom prediction (:data:`PEAK_BYTES_PER_ATOM_PAIR`); a cell
    of a few atoms needs the 0.2-0.5 GB of the imported libraries instead.
    """
    return PEAK_BYTES_PER_ATOM_PAIR * n_atoms**2


#: Mean gap error (eV) over the 13 real compounds with a DFT gap in
#: ``benchmarks/data/holdout`` (``bench_holdout.py``, December 2026; ``model``: the shipped
#: checkpoint): the error a printout states beside predicted gaps.
STATED_GAP_ERROR: dict[str, float] = {"model": 0.07, "baseline": 0.32, "scc": 0.10}


def predict_hamiltonian(
    structure: Structure,
    predictor: PredictorName = "model",
    *,
    checkpoint: str | os.PathLike | None = None,
    device: str | None = None,
    soc: bool = True,
    sparse_blocks: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Hamiltonian | SparseHamiltonian:
    """SOC Hamiltonian of ``structure`` from the chosen predictor.

    Parameters
    ----------
    structure
        Ordered periodic crystal; a slab is centred first (the container holds the
        centred cell).
    predictor
        ``"model"`` (the checkpoint), ``"baseline"`` (H(0)) or ``"scc"`` (H(0) with
        self-consistent charges).
    checkpoint, device
        Model checkpoint and torch device (``"model"`` only).
    soc
        Include the spin-orbit blocks.
    sparse_blocks
        Return a :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`: H(0) of a cell
        of hundreds of atoms in memory that grows with its atoms, its Fermi level from
        spinless band counts and second variation. ``"scc"`` and a model on the ``scc``
        baseline take a bilayer of two hexagonal sheets, its charges from the same
        sheets' aligned cell (:mod:`socscreen.dft.bilayer_charges`); the model adds its
        correction to the sparse blocks.
    progress
        Called with the name of each stage as it starts: GPAW set-up, assembly, charges,
        the model's correction, Fermi level; minutes each at hundreds of atoms.

    Returns
    -------
    Hamiltonian or SparseHamiltonian
        With ``meta["predictor"]`` and, for the model, ``meta["model"]``.

    Raises
    ------
    ValueError
        For an unknown predictor, or a structure the predictor cannot treat (elements the
        model does not cover; elements without GPAW data; overlapping atoms; sparse
        charges of a cell that is not a bilayer of two sheets).
    """
    structure = centred(structure)
    if predictor in ("baseline", "scc"):
        from socscreen.dft.zeroth_step import compute_zeroth_step

        ham = compute_zeroth_step(
            structure,
            soc=soc,
            fermi=predictor == "baseline",
            sparse_blocks=sparse_blocks,
            progress=progress,
        )
        if predictor == "scc" and sparse_blocks:
            ham = _sparse_scc(ham, soc, progress)
        elif predictor == "scc":  # finds the Fermi level of the corrected bands
            from socscreen.dft.charge_correction import charge_corrected

            ham = charge_corrected(ham)
    elif predictor == "model":
        from socscreen.model.inference import predict

        ham = predict(
            structure,
            checkpoint=checkpoint,
            device=device,
            soc=soc,
            sparse_blocks=sparse_blocks,
            progress=progress,
        )
    else:
        raise ValueError(f"unknown predictor {predictor!r}: choose one of {list(PREDICTORS)}")
    ham.meta["predictor"] = predictor
    return ham


def _sparse_scc(
    ham: SparseHamiltonian, soc: bool, progress: Callable[[str], None] | None
) -> SparseHamiltonian:
    """Charge-correct the sparse H(0) of a bilayer and find its Fermi level.

    The charges come from the aligned cell of the same two sheets
    (:func:`~socscreen.dft.bilayer_charges.sparse_charge_corrected`); the Fermi level from
    spinless band counts and second variation, as the sparse H(0)'s own.
    """
    from socscreen.analysis.band_edges import inertia_fermi_level
    from socscreen.analysis.bands import fermi_grid
    from socscreen.dft.bilayer_charges import sparse_charge_corrected

    report = progress or (lambda stage: None)
    report("charges")
    start = time.perf_counter()
    ham = sparse_charge_corrected(ham)
    timings = {"charges": time.perf_counter() - start}
    report("fermi level")
    start = time.perf_counter()
    ham.efermi, ham.meta["band_counts"] = inertia_fermi_level(ham, fermi_grid(ham), soc, True)
    timings["fermi_level"] = time.perf_counter() - start
    ham.meta["timings"] = {
        **ham.meta.get("timings", {}),
        **{k: round(v, 3) for k, v in timings.items()},
    }
    return ham


def prediction_version(meta: dict[str, Any]) -> str | None:
    """Version label of what predicted a Hamiltonian, from its ``meta``.

    * the model: ``NAME-VERSION+SHA`` with the first 12 hex digits of the checkpoint's
      sha256 when recorded (two checkpoints of one package version are told apart), e.g.
      ``Uni-HamGNN-0.1.0+82f11d0a429d``;
    * the baseline: ``H0-zeroth-step-GPAW-<version>-<basis>-v<H(0) version>``, e.g.
      ``H0-zeroth-step-GPAW-26.7.0-szp(dzp)-v2``, and ``H0-SCC-GPAW-...`` with
      self-consistent charges (no ``-v`` suffix: H(0) of version 1);
    * ``None`` for anything else (a DFT reference).
    """
    if meta.get("source") == "zeroth-step":
        kind = "SCC" if "charge_correction" in meta else "zeroth-step"
        revision = meta.get("zeroth_step_version")
        suffix = f"-v{revision}" if revision else ""
        return f"H0-{kind}-GPAW-{meta.get('gpaw_version')}-{meta.get('basis')}{suffix}"
    model = meta.get("model") or {}
    name, version = model.get("name"), model.get("version")
    label = f"{name}-{version}" if name and version else name
    sha = model.get("checkpoint_sha256")
    return f"{label}+{sha[:12]}" if label and sha else label


def default_checkpoint() -> Path:
    """Return the checkpoint shipped with socscreen (``socscreen/model/checkpoints/*.pt``)."""
    folder = resources.files("socscreen.model") / "checkpoints"
    found = sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".pt"))
    if not found:
        raise FileNotFoundError(f"no shipped checkpoint in {folder}")
    return found[0]


def checkpoint_version(checkpoint: str | os.PathLike | None = None) -> str | None:
    """Version label of a checkpoint from its JSON record, without loading the weights.

    ``None`` when the record is missing. Equals :func:`prediction_version` of what the
    checkpoint predicts (``meta["model"]`` is written from the same record).
    """
    record = checkpoint_record(checkpoint or default_checkpoint())
    return prediction_version({"model": model_meta(record)}) if record else None


def checkpoint_record(checkpoint: str | os.PathLike) -> dict[str, Any]:
    """Read the JSON record beside a checkpoint (same stem, ``.json``); ``{}`` without one.

    The one reader of the record (:func:`checkpoint_version`,
    :func:`socscreen.model.checkpoint.load_checkpoint`): name, version, sha256 of the
    weights, training files, settings, split and metrics.
    """
    record_path = Path(checkpoint).with_suffix(".json")
    return json.loads(record_path.read_text()) if record_path.exists() else {}


#: An element in fewer training structures than this is *sparsely trained*: its learned
#: correction depends on the training run. Two trainings that differed only in their seed
#: gave GaN (N in 13 training files) gap errors of 0.54 and 0.05 eV, NaCl 92 and 12 meV and
#: Au band errors of 27 and 82 meV, while compounds of elements in 34 or more files moved
#: by tens of meV at most (session 14, ``bench_holdout.py``).
FEW_TRAINING_FILES = 20


def element_file_counts(structures: Sequence[Structure]) -> dict[str, int]:
    """Count the structures each element occurs in (a record's ``element_files``)."""
    counts: dict[str, int] = {}
    for structure in structures:
        for element in {site.specie.symbol for site in structure}:
            counts[element] = counts.get(element, 0) + 1
    return dict(sorted(counts.items()))


def sparsely_trained(record: dict[str, Any]) -> dict[str, int]:
    """Find a checkpoint's elements in fewer than :data:`FEW_TRAINING_FILES` training files.

    ``{element: files}``; empty for a record without ``element_files`` (trained before
    they were recorded).
    """
    counts = record.get("element_files") or {}
    return {e: n for e, n in counts.items() if n < FEW_TRAINING_FILES}


def sparsely_trained_elements(record: dict[str, Any], structure: Structure) -> dict[str, int]:
    """Find the structure's elements among the record's :func:`sparsely_trained` ones.

    ``{element: files}``; elements the model does not cover at all are not among them
    (those are ``uncorrected_elements``).
    """
    sparse = sparsely_trained(record)
    return {e: sparse[e] for e in sorted({site.specie.symbol for site in structure}) if e in sparse}


def is_correction_record(record: dict[str, Any]) -> bool:
    """Whether a checkpoint record is a correction model's (it predicts H(0) + ΔH)."""
    return bool(record.get("settings", {}).get("model", {}).get("correction"))


def model_meta(record: dict[str, Any], elements: list[str] | None = None) -> dict[str, Any]:
    """``meta["model"]`` of a prediction: the checkpoint's name, version, file and corpus.

    An ensemble's (:mod:`socscreen.model.ensemble`) also says how many ``members`` it has.

    ``elements`` stands in for a record that does not list the covered elements.
    """
    return {
        "name": record.get("name", "Uni-HamGNN"),
        "version": record.get("version"),
        "checkpoint": record.get("checkpoint"),
        "checkpoint_sha256": record.get("checkpoint_sha256"),
        "trained_on": {
            "files": len(record.get("training_files", [])),
            "elements": record.get("elements", elements),
            "command": record.get("command"),
        },
        **({"members": len(record["members"])} if record.get("members") else {}),
    }


def expected_version(
    predictor: PredictorName,
    checkpoint: str | os.PathLike | None = None,
    label: str | None = None,
) -> str | None:
    """Version label new predictions of this predictor will carry (see :func:`prediction_version`).

    ``label`` (an explicit campaign setting) wins for the model; the baseline's and the
    charge-corrected baseline's labels come from the installed GPAW and the corpus basis.
    """
    if predictor in ("baseline", "scc"):
        import gpaw

        from socscreen.dft.zeroth_step import ZEROTH_STEP_VERSION
        from socscreen.settings import SETTINGS

        meta = {
            "source": "zeroth-step",
            "gpaw_version": gpaw.__version__,
            "basis": SETTINGS.basis,
            "zeroth_step_version": ZEROTH_STEP_VERSION,
        }
        return prediction_version(meta | ({"charge_correction": {}} if predictor == "scc" else {}))
    return label or checkpoint_version(checkpoint)


def covered_elements(
    predictor: PredictorName, checkpoint: str | os.PathLike | None = None
) -> frozenset[str]:
    """Elements ``predictor`` can predict, for ingestion to refuse the others up front.

    ``"model"``: a correction checkpoint (the shipped one) predicts every element of
    :func:`gpaw_elements` (those it never trained on get H(0) alone, flagged); a pure-ML
    checkpoint only the elements of its record. ``"baseline"`` and ``"scc"``: every
    element GPAW has a PBE setup and a usable szp(dzp) basis for.
    """
    if predictor == "model":
        record = checkpoint_record(checkpoint or default_checkpoint())
        if is_correction_record(record):
            return gpaw_elements()
        if "elements" not in record:
            raise ValueError(f"the record of checkpoint {checkpoint} lists no elements")
        return frozenset(record["elements"])
    if predictor in ("baseline", "scc"):
        return gpaw_elements()
    raise ValueError(f"unknown predictor {predictor!r}; choose from {list(PREDICTORS)}")


@functools.cache
def gpaw_elements(xc: str = "PBE", basis: str = "szp(dzp)") -> frozenset[str]:
    """Elements up to Lr with a GPAW PAW setup for ``xc`` and a basis GPAW can use.

    Lanthanides (their dzp files cannot be reduced to szp), Tc, Po, At and most actinides
    are missing from GPAW 25's data; about a second to look up, cached.
    """
    from pymatgen.core import Element

    from socscreen.dft.calculator import missing_gpaw_data

    symbols = [Element.from_Z(z).symbol for z in range(1, 104)]
    return frozenset(symbols) - set(missing_gpaw_data(symbols, xc, basis))

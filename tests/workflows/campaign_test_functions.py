"""Test-only per-structure functions and candidate rules for the campaign tests.

The campaign machinery tests run the real model (predictions take a fraction of a
second) and replace only the analysis, which takes seconds per structure, by functions
that check the Hamiltonian they receive belongs to the structure and fill only what
follows from the ingested structure (formula, sites, density), never a physics field.
FireWorks workers started by the tests import this module (the tests put its folder on
PYTHONPATH).
"""

from __future__ import annotations

import ast
import csv
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from pymatgen.core import Element, Lattice, Structure

from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.predict import predict_structure
from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    CandidateDocument,
    MaterialResultDocument,
    StructureRecord,
)

#: Flag set by every test analyser, to tell test results from real ones.
TEST_FLAG = "test-structure-only"


def check_hamiltonian(record: StructureRecord, ham: Hamiltonian) -> None:
    """Raise unless ``ham`` is a spin-orbit Hamiltonian of the record's structure."""
    structure = record.get_structure()
    if not ham.has_soc or ham.structure.atomic_numbers != structure.atomic_numbers:
        raise ValueError(f"{record.material_id} got a Hamiltonian of {ham.structure.formula}")
    if abs(ham.structure.volume - structure.volume) > 1e-6:
        raise ValueError(f"{record.material_id} got a Hamiltonian of another cell")


def structure_only(
    record: StructureRecord, ham: Hamiltonian, settings: CampaignSettings
) -> MaterialResultDocument:
    """Result with the structure-derived fields only, once ``ham`` passed the check."""
    check_hamiltonian(record, ham)
    return MaterialResultDocument.from_record(
        record, flags=[TEST_FLAG], model_version=settings.model_version
    )


def slow_structure_only(
    record: StructureRecord, ham: Hamiltonian, settings: CampaignSettings
) -> MaterialResultDocument:
    """As :func:`structure_only` after ``SOCSCREEN_TEST_SLEEP`` seconds (default 0.3)."""
    time.sleep(float(os.environ.get("SOCSCREEN_TEST_SLEEP", "0.3")))
    return structure_only(record, ham, settings)


def fails_for_bismuth(
    record: StructureRecord, ham: Hamiltonian, settings: CampaignSettings
) -> MaterialResultDocument:
    """As :func:`structure_only`, but raise for structures containing Bi."""
    if "Bi" in record.elements:
        raise ValueError(f"test failure: {record.reduced_formula} contains Bi")
    return structure_only(record, ham, settings)


def wrong_material(
    record: StructureRecord, ham: Hamiltonian, settings: CampaignSettings
) -> MaterialResultDocument:
    """Return a result under another id (an analyser bug the batch job must catch)."""
    doc = structure_only(record, ham, settings)
    return doc.model_copy(update={"material_id": "someone-else"})


def predict_except_tellurides(record: StructureRecord, settings: CampaignSettings) -> Hamiltonian:
    """The shipped predictor, failing for structures containing Te."""
    if "Te" in record.elements:
        raise RuntimeError(f"test failure: no prediction for {record.reduced_formula}")
    return predict_structure(record, settings)


def not_a_hamiltonian(record: StructureRecord, settings: CampaignSettings) -> Hamiltonian:
    """A broken predictor returning nothing: its whole predict job fails."""
    return None  # type: ignore[return-value]


def heavy_element_rule(doc: MaterialResultDocument, min_gap: float) -> CandidateDocument | None:
    """Test selection on available fields: an element with Z >= 80 (Hg, Pb, Bi here)."""
    heavy = [e for e in doc.elements if Element(e).Z >= 80]
    if not heavy or doc.error is not None:
        return None
    return CandidateDocument(
        material_id=doc.material_id,
        campaign=doc.campaign,
        formula=doc.formula,
        reduced_formula=doc.reduced_formula,
        elements=doc.elements,
        reasons=[f"test rule: contains {', '.join(heavy)}"],
        result_last_updated=doc.last_updated,
    )


def sample_coverage(sample: str | os.PathLike, elements: Iterable[str]) -> dict[str, list[str]]:
    """Reduced formula -> elements the model lacks, for the GNoME sample's summary rows.

    The expected counts of the campaign tests follow the shipped model's element list
    (read from the sample's CSV, not through the ingestion code under test), so a
    retrained model covering more elements changes the numbers, not the assertions.
    """
    covered = set(elements)
    rows = csv.DictReader(open(Path(sample) / "stable_materials_summary.csv"))
    found: dict[str, list[str]] = {}
    for row in rows:
        missing = sorted(set(ast.literal_eval(row["Elements"])) - covered)
        if missing:
            found[row["Reduced Formula"]] = missing
    return found


def sample_formulas(sample: str | os.PathLike) -> list[str]:
    """Reduced formulas of the sample's rows (duplicates kept)."""
    rows = csv.DictReader(open(Path(sample) / "stable_materials_summary.csv"))
    return [row["Reduced Formula"] for row in rows]


def rock_salt(a: float, cation: str, anion: str) -> Structure:
    """Conventional rock-salt cell (lattice constant ``a`` in Angstrom)."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def write_twins(folder: Path) -> Path:
    """Write seven entries: LiF twice (the same id), NaCl twice (0.4 % strained), a broken
    CIF, a text file and a subfolder."""
    folder.mkdir(parents=True)
    lif = rock_salt(4.03, "Li", "F")
    lif.to(filename=str(folder / "LiF.cif"))
    lif.get_primitive_structure().to(filename=str(folder / "rs-LiF.cif"))
    rock_salt(5.64, "Na", "Cl").to(filename=str(folder / "NaCl.cif"))
    rock_salt(5.66, "Na", "Cl").to(filename=str(folder / "rs-NaCl.cif"))
    (folder / "broken.cif").write_text("data_broken\n_cell_length_a 1\n")
    (folder / "notes.txt").write_text("where these came from\n")
    (folder / "old").mkdir()
    return folder


def kills_its_worker_for_sodium(record: StructureRecord, settings: CampaignSettings) -> Hamiltonian:
    """The shipped predictor, but a structure with Na kills the worker process (SIGKILL)."""
    if "Na" in record.elements:
        os.kill(os.getpid(), signal.SIGKILL)
    return predict_structure(record, settings)

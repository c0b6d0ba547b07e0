"""Ingestion: filters, primitive cells, stable ids, duplicates and error records."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from socscreen.stores.schemas.campaign import StructureFilter
from socscreen.workflows.ingestion import (
    content_id,
    ingest,
    open_source,
    read_gnome,
    read_structure_folder,
    standard_primitive,
    to_record,
)

SAMPLE = Path(__file__).parents[2] / "examples" / "gnome_sample"
BAD = Path(__file__).parents[1] / "data" / "bad_structures"

#: (primitive sites, space group) of the sample.
EXPECTED = {
    "Bi2Se3": (5, 166), "Bi2Te3": (5, 166), "Sb2Te3": (5, 166), "SnTe": (2, 225),
    "TePb": (2, 225), "HgTe": (2, 216), "CdTe": (2, 216), "InSb": (2, 216),
    "ScBiPt": (3, 216), "LaBiPt": (3, 216), "PtSe2": (3, 164), "Bi": (2, 166), "Si": (2, 227),
}  # fmt: skip


@pytest.fixture(scope="module")
def sample_report():
    return ingest(open_source(SAMPLE))


def test_sample_reduced_to_primitive_cells(sample_report):
    report = sample_report
    assert report.n_read == 14 and report.n_duplicates == 1 and report.n_filtered == 0
    assert not report.errors
    records = {r.reduced_formula: r for r in report.records}
    assert {f: (r.nsites, r.space_group_number) for f, r in records.items()} == EXPECTED
    for record in report.records:
        primitive = record.get_structure()
        conventional_volume = record.source_fields["Volume"]
        # a primitive cell holds the conventional cell's content once per lattice point
        ratio = record.nsites_input / record.nsites
        assert primitive.volume * ratio == pytest.approx(conventional_volume, rel=1e-4)
        assert primitive.composition.reduced_formula == record.reduced_formula
        assert record.material_id == record.source_fields["MaterialId"]


def test_duplicate_merged_into_first_entry(sample_report):
    pbte = [r for r in sample_report.records if r.reduced_formula == "TePb"]
    assert [r.material_id for r in pbte] == ["socx000005"]
    (merged,) = pbte[0].merged  # the 0.3 % strained second entry, with its zip member
    assert (merged.material_id, merged.source.entry) == ("socx000006", "by_id/socx000006.CIF")
    assert merged.reason == "same crystal"
    assert sample_report.n_accounted == sample_report.n_read


def test_ids_and_cells_stable_across_runs(sample_report, tmp_path):
    again = ingest(open_source(SAMPLE))
    assert [r.material_id for r in again.records] == [r.material_id for r in sample_report.records]
    assert [r.structure for r in again.records] == [r.structure for r in sample_report.records]
    # content ids: conventional CIF and primitive POSCAR of Si are the same crystal
    silicon = Structure.from_spacegroup(
        216, Lattice.cubic(5.431), ["Si", "Si"], [[0] * 3, [0.25] * 3]
    )
    silicon.to(filename=str(tmp_path / "Si_conventional.cif"))
    shutil.copy(BAD / "POSCAR_Si", tmp_path / "POSCAR_Si")
    first, second = (ingest(read_structure_folder(tmp_path), merge_duplicates=False)
                     for _ in range(2))  # fmt: skip
    assert [r.material_id for r in first.records] == [r.material_id for r in second.records]
    # the same id: one record, naming the other file, even without structure matching
    (record,) = first.records
    (twin,) = record.merged
    assert (record.source.entry, twin.source.entry) == ("POSCAR_Si", "Si_conventional.cif")
    assert (twin.material_id, twin.reason) == (record.material_id, "same id")
    assert record.material_id.startswith("sc-") and len(record.material_id) == 15
    merged = ingest(read_structure_folder(tmp_path))
    assert len(merged.records) == 1 and merged.n_duplicates == 1
    strained = silicon.copy()
    strained.scale_lattice(silicon.volume * 1.1)
    assert content_id(standard_primitive(strained), 227) != record.material_id


def test_filters_skip_parsing_of_rejected_rows():
    loaded = []

    def counting(entries):
        for entry in entries:

            def load(entry=entry):
                loaded.append(entry.material_id)
                return entry.loader()

            yield dataclasses.replace(entry, loader=load)

    filters = StructureFilter(
        min_heavy_z=50, exclude_elements=["Hg"], max_decomposition_energy=0.05
    )
    report = ingest(counting(read_gnome(SAMPLE)), filters)
    assert report.filtered == {"heavy element": 1, "exclude elements": 1, "decomposition energy": 1}
    kept = {r.reduced_formula for r in report.records}
    assert kept.isdisjoint({"Si", "HgTe", "PtSe2"}) and len(kept) == 10
    assert len(loaded) == 11 and "socx000014" not in loaded  # Si never parsed
    gap_window = ingest(read_gnome(SAMPLE), StructureFilter(min_band_gap=0.2, max_band_gap=0.7))
    assert {r.reduced_formula for r in gap_window.records} == {"Bi2Se3", "TePb", "CdTe", "Si"}


def test_filters_on_parsed_structures_of_a_folder():
    report = ingest(read_structure_folder(BAD), StructureFilter(include_elements=["Te"]))
    # files are parsed to be filtered; unreadable ones stay as error records
    assert report.filtered == {"include elements": 2}  # POSCAR_Si and the 2000 Si atoms
    assert {r.source.entry: r.ok for r in report.records} == {
        "UTe.cif": True,
        "partial_occupancy.cif": False,
        "unreadable.cif": False,
    }


@pytest.fixture(scope="module")
def bad_report():
    return ingest(read_structure_folder(BAD), supported_elements={"Si", "Sn", "Pb", "Te"})


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("unreadable.cif", r"^unreadable CIF: "),
        (
            "partial_occupancy.cif",
            r"^partial occupancy \(disordered sites\) is not supported: site 4 holds Sn0.5 Pb0.5",
        ),
        (
            "huge_2000_atoms.vasp",
            r"^2000 sites in the primitive cell exceed max_sites = 200: too large to screen$",
        ),
        ("UTe.cif", r"^element\(s\) U not covered by the predictor$"),
    ],
    ids=["unreadable", "partial-occupancy", "2000-atoms", "unknown-element"],
)
def test_bad_inputs_become_error_records(bad_report, entry, reason):
    (record,) = [r for r in bad_report.records if r.source.entry == entry]
    assert record.error is not None and record.error.stage == "ingest"
    assert re.search(reason, record.error.reason), record.error.reason
    assert record.structure is None and not record.ok
    assert record.material_id.startswith("sc-")
    with pytest.raises(ValueError, match="has no structure"):
        record.get_structure()


def test_bad_folder_ingests_without_raising(bad_report):
    assert len(bad_report.records) == 5 and len(bad_report.errors) == 4
    (good,) = bad_report.ok
    assert good.source.entry == "POSCAR_Si" and good.nsites == 2 and good.space_group_number == 227
    # error records keep their ids across runs (hash of where they came from)
    (raw,) = [e for e in read_structure_folder(BAD) if e.source.entry == "unreadable.cif"]
    (record,) = [r for r in bad_report.errors if r.source.entry == "unreadable.cif"]
    assert to_record(raw).material_id == record.material_id


def test_slabs_and_magnetic_ions_are_recorded_on_every_result(tmp_path):
    """A slab cut by the cell boundary and NiO/CoO: flags, dimension, vacuum, the sheet centred."""
    from socscreen.analysis.bloch import periodic_axes
    from socscreen.model.predictors import predict_hamiltonian
    from socscreen.stores.schemas.campaign import ErrorDocument, MaterialResultDocument

    a, c = 6.32 / 2**0.5, 6.32 / 2 + 30.0  # two SnTe (001) layers, 30 A of vacuum
    z = [0.95, 0.95, 0.045, 0.045]  # the cell boundary cuts the sheet
    slab = Structure(Lattice.tetragonal(a, c), ["Sn", "Te", "Te", "Sn"],
                     [[0, 0, z[0]], [0.5, 0.5, z[1]], [0, 0, z[2]], [0.5, 0.5, z[3]]])  # fmt: skip
    folder = tmp_path / "inputs"
    folder.mkdir()
    slab.to(filename=str(folder / "SnTe_slab.vasp"), fmt="poscar")
    for formula, cation, a_rs in (("NiO", "Ni", 4.17), ("CoO", "Co", 4.26)):
        rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(a_rs), [cation, "O"],
                                             [[0, 0, 0], [0.5, 0.5, 0.5]])  # fmt: skip
        rocksalt.to(filename=str(folder / f"{formula}.cif"))
    records = {r.reduced_formula: r for r in ingest(open_source(folder)).ok}

    sheet = records["SnTe"]
    assert (sheet.dimension, sheet.flags) == (2, ["two_dimensional"])
    assert sheet.vacuum_A == pytest.approx(30.0, abs=0.05)
    # the sheet is moved into the middle of its cell: no bond crosses the vacuum, so the
    # predicted Hamiltonian has no hopping along it and the analysis sees a sheet
    assert periodic_axes(predict_hamiltonian(sheet.get_structure(), "model").R).tolist() == [
        True, True, False]  # fmt: skip
    for formula in ("NiO", "CoO"):
        assert records[formula].dimension == 3
        assert records[formula].flags == ["magnetic_treated_as_nonmagnetic"]

    # every result of the structure carries the flags, failed ones too
    nio = records["NiO"].model_copy(update={"campaign": "flags"})
    assert MaterialResultDocument.from_record(nio, flags=["metal"]).flags == [
        "magnetic_treated_as_nonmagnetic", "metal"]  # fmt: skip
    failed = MaterialResultDocument.from_record(
        nio, error=ErrorDocument(stage="predict", reason="test")
    )
    assert sorted(failed.flags) == ["error", "magnetic_treated_as_nonmagnetic"]


def test_the_printout_explains_the_structure_flags(capsys):
    from socscreen.cli.tables import print_flags

    print_flags([{"material_id": "sc-nio", "flags": ["magnetic_treated_as_nonmagnetic"]},
                 {"material_id": "sc-slab", "flags": ["two_dimensional"]}])  # fmt: skip
    text = " ".join(capsys.readouterr().out.split())
    assert "magnetic_treated_as_nonmagnetic (sc-nio) magnetic ions (V-Ni, Ce-Yb, U-Cm) " \
           "treated as non-magnetic: may be wrong" in text  # fmt: skip
    assert "two_dimensional (sc-slab) a 2D sheet (>= 10 A vacuum" in text

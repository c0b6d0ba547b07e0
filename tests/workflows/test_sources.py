"""Readers of structure sources: GNoME CSV + CIF zip, folders, pymatgen JSON."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from socscreen.workflows.ingestion import open_source, read_gnome, read_pymatgen_json

SAMPLE = Path(__file__).parents[2] / "examples" / "gnome_sample"


def test_gnome_rows_and_cifs_from_the_zip_without_extracting(tmp_path):
    sample = Path(shutil.copytree(SAMPLE, tmp_path / "sample"))
    before = sorted(p.relative_to(sample) for p in sample.rglob("*"))
    entries = list(read_gnome(sample / "stable_materials_summary.csv"))
    assert [e.material_id for e in entries] == [f"socx{i:06d}" for i in range(1, 15)]
    first = entries[0]
    assert first.source.kind == "gnome" and first.source.entry == "by_id/socx000001.CIF"
    assert first.elements == ["Bi", "Se"] and first.nsites == 15
    assert first.fields["Space Group Number"] == 166 and first.fields["Reduced Formula"] == "Bi2Se3"
    assert first.band_gap == pytest.approx(0.3) and first.decomposition_energy == 0.0
    structures = [e.load() for e in read_gnome(sample)]  # loads while the reader is open
    assert [len(s) for s in structures] == [e.nsites for e in entries]
    assert structures[0].composition.reduced_formula == "Bi2Se3"
    assert sorted(p.relative_to(sample) for p in sample.rglob("*")) == before  # nothing extracted
    with zipfile.ZipFile(sample / "by_id.zip") as archive:
        assert len(archive.namelist()) == 14


def test_open_source_dispatch_and_errors(tmp_path):
    assert next(iter(open_source(SAMPLE))).source.kind == "gnome"
    with pytest.raises(ValueError, match="does not exist"):
        open_source(tmp_path / "nothing")
    (tmp_path / "a.csv").write_text("MaterialId\n")
    (tmp_path / "b.csv").write_text("MaterialId\n")
    with pytest.raises(ValueError, match="exactly one summary CSV"):
        list(open_source(tmp_path))
    (tmp_path / "b.csv").unlink()
    shutil.copy(SAMPLE / "by_id.zip", tmp_path / "by_id.zip")
    with pytest.raises(ValueError, match="lacks GNoME column"):
        list(open_source(tmp_path / "a.csv"))


def test_gnome_row_without_cif_fails_on_load(tmp_path):
    shutil.copy(SAMPLE / "by_id.zip", tmp_path / "by_id.zip")
    with open(SAMPLE / "stable_materials_summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["MaterialId"] = "not-in-zip"
    with open(tmp_path / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:1])
    with pytest.raises(ValueError, match="no member by_id/not-in-zip.CIF"):
        for entry in read_gnome(tmp_path / "summary.csv"):
            entry.load()


def test_pymatgen_json_list(tmp_path):
    bi = Structure.from_spacegroup(166, Lattice.hexagonal(4.546, 11.862), ["Bi"], [[0, 0, 0.2341]])
    path = tmp_path / "structures.json"
    path.write_text(json.dumps([
        bi.as_dict(),
        {"material_id": "my-bi", "structure": bi.as_dict(), "note": "from a paper"},
        {"structure": {"lattice": "broken"}},
    ]))  # fmt: skip
    entries = list(open_source(path))
    assert [e.material_id for e in entries] == [None, "my-bi", None]
    assert entries[1].fields == {"note": "from a paper"}
    assert entries[0].load() == bi
    with pytest.raises(ValueError, match="not a pymatgen structure"):
        entries[2].load()
    path.write_text(json.dumps({"not": "a list"}))
    with pytest.raises(ValueError, match="JSON list"):
        list(read_pymatgen_json(path))

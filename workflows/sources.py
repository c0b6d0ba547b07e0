"""Readers of structure sources: GNoME dumps, folders of CIF/POSCAR files, pymatgen JSON.

Readers are pure: they yield :class:`~socscreen.makers.ingest.RawStructure` entries,
whose structure is parsed only when ``load()`` is called, so that a filter on the
summary columns of a GNoME dump never opens the CIFs it rejects. CIFs are read from the
GNoME zip without extracting it. What to do with an entry (filters, primitive cell, ids,
duplicates) is decided by :mod:`socscreen.makers.ingest`.

Supported layouts
-----------------
* GNoME: a summary CSV (``MaterialId``, ``Reduced Formula``, ``Elements`` as a Python
  list string, ``NSites``, ``Space Group Number``, ``Bandgap`` (eV),
  ``Decomposition Energy Per Atom`` (eV/atom), ...) and a zip of conventional-cell CIFs
  ``by_id/{MaterialId}.CIF``; give the CSV, or a folder holding one CSV and the zip.
* A folder of ``*.cif`` and POSCAR-like files (``POSCAR*``, ``CONTCAR*``, ``*.vasp``,
  ``*.poscar``); every other name in it (``notes.txt``, a subfolder) is an entry too,
  marked skipped with the reason, so that ingestion can account for it.
* A JSON file (optionally ``.gz``) with a list of pymatgen ``Structure.as_dict()``
  dictionaries, or of ``{"material_id": ..., "structure": {...}, ...}`` mappings.
"""

from __future__ import annotations

import ast
import csv
import os
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monty.serialization import loadfn
from pymatgen.core import Structure
from pymatgen.io.cif import CifParser

from socscreen.makers.ingest import RawStructure
from socscreen.stores.schemas.campaign import SourceInfo

__all__ = [
    "GNOME_BAND_GAP",
    "GNOME_DECOMPOSITION_ENERGY",
    "open_source",
    "parse_structure_text",
    "read_gnome",
    "read_pymatgen_json",
    "read_structure_folder",
    "source_kind",
]

#: GNoME summary columns the filters use (eV and eV/atom).
GNOME_BAND_GAP = "Bandgap"
GNOME_DECOMPOSITION_ENERGY = "Decomposition Energy Per Atom"
_GNOME_NUMERIC = {
    "NSites": int,
    "Space Group Number": int,
    GNOME_BAND_GAP: float,
    GNOME_DECOMPOSITION_ENERGY: float,
    "Formation Energy Per Atom": float,
    "Volume": float,
    "Density": float,
}
_POSCAR_PREFIXES = ("POSCAR", "CONTCAR")
_POSCAR_SUFFIXES = (".vasp", ".poscar")


def parse_structure_text(text: str, fmt: str) -> Structure:
    """Parse CIF or POSCAR text into the cell exactly as written (no reduction).

    Raises
    ------
    ValueError
        If the text holds no structure; partial occupancies are kept (a disordered
        structure), so that ingestion can report them.
    """
    if fmt == "cif":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parser = CifParser.from_str(text, occupancy_tolerance=1.0)
                structures = parser.parse_structures(primitive=False, on_error="raise")
            except Exception as exc:  # pymatgen raises many types for broken CIFs
                raise ValueError(f"unreadable CIF: {exc}") from exc
        if not structures:
            raise ValueError("unreadable CIF: no structure in file")
        return structures[0]
    if fmt == "poscar":
        try:
            return Structure.from_str(text, fmt="poscar")
        except Exception as exc:
            raise ValueError(f"unreadable POSCAR: {exc}") from exc
    raise ValueError(f"unknown structure format {fmt!r} (cif or poscar)")


def _gnome_value(column: str, value: str) -> Any:
    if value is None or value == "":
        return None
    if column == "Elements":
        return list(ast.literal_eval(value))
    kind = _GNOME_NUMERIC.get(column)
    return kind(float(value)) if kind is int else kind(value) if kind else value


def _find_gnome_files(path: Path) -> tuple[Path, Path]:
    if path.is_file():
        csv_path = path
        zips = sorted(path.parent.glob("*.zip"))
    else:
        csvs = sorted(path.glob("*.csv"))
        if len(csvs) != 1:
            raise ValueError(
                f"GNoME folder {path} must hold exactly one summary CSV, found {len(csvs)}"
            )
        csv_path = csvs[0]
        zips = sorted(path.glob("*.zip"))
    by_id = [z for z in zips if z.stem == "by_id"] or zips
    if len(by_id) != 1:
        raise ValueError(
            f"cannot tell which zip beside {csv_path} holds the CIFs (by_id/<MaterialId>.CIF): "
            f"found {[z.name for z in zips]}"
        )
    return csv_path, by_id[0]


def read_gnome(
    path: str | os.PathLike, cif_zip: str | os.PathLike | None = None
) -> Iterator[RawStructure]:
    """Read a GNoME-format dump: summary CSV rows, CIFs from the zip without extracting.

    Parameters
    ----------
    path
        The summary CSV, or a folder with one CSV and the CIF zip.
    cif_zip
        The zip of ``by_id/{MaterialId}.CIF`` (default: ``by_id.zip`` beside the CSV, or
        the only zip there).

    Yields
    ------
    RawStructure
        One entry per CSV row, in file order; a row whose CIF is missing from the zip
        raises ``KeyError`` when loaded.
    """
    path = Path(path).resolve()
    csv_path, zip_path = _find_gnome_files(path) if cif_zip is None else (path, Path(cif_zip))
    zip_path = zip_path.resolve()
    with open(csv_path, newline="") as handle, zipfile.ZipFile(zip_path) as archive:
        members = {
            Path(name).stem: name for name in archive.namelist() if name.startswith("by_id/")
        }
        reader = csv.DictReader(handle)
        required = {"MaterialId", "Elements", "NSites"}
        if not required <= set(reader.fieldnames or ()):
            missing = sorted(required - set(reader.fieldnames or ()))
            raise ValueError(f"{csv_path} lacks GNoME column(s) {missing}")
        for row in reader:
            fields = {k: _gnome_value(k, v) for k, v in row.items() if k}
            material_id = str(fields["MaterialId"])
            member = members.get(material_id, f"by_id/{material_id}.CIF")

            def load(member: str = member) -> Structure:
                if member not in archive.NameToInfo:
                    raise ValueError(f"{zip_path.name} has no member {member}")
                return parse_structure_text(archive.read(member).decode("utf-8", "replace"), "cif")

            yield RawStructure(
                source=SourceInfo(kind="gnome", path=str(csv_path), entry=member),
                loader=load,
                material_id=material_id,
                fields=fields,
                elements=fields["Elements"],
                nsites=fields["NSites"],
                decomposition_energy=fields.get(GNOME_DECOMPOSITION_ENERGY),
                band_gap=fields.get(GNOME_BAND_GAP),
            )


def _structure_format(path: Path) -> str | None:
    name = path.name
    if name.lower().endswith(".cif"):
        return "cif"
    if name.startswith(_POSCAR_PREFIXES) or name.lower().endswith(_POSCAR_SUFFIXES):
        return "poscar"
    return None


def _skip_reason(path: Path, fmt: str | None) -> str | None:
    """Why a name of a structure folder is not read as a structure, ``None`` if it is."""
    if path.is_dir():
        return "a folder (sources are read without their subfolders)"
    if not path.is_file():
        return "not a regular file"
    if fmt is None:
        return "not a CIF or POSCAR file (*.cif, POSCAR*, CONTCAR*, *.vasp, *.poscar)"
    return None


def _never_loaded() -> Structure:
    raise ValueError("a skipped entry has no structure")


def read_structure_folder(folder: str | os.PathLike) -> Iterator[RawStructure]:
    """Read every name of ``folder`` (not recursive), sorted.

    CIF and POSCAR-like files are structure entries; every other name (text files,
    subfolders) is an entry with ``skip`` set to the reason it is not read.
    """
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    for path in sorted(folder.iterdir()):
        fmt = _structure_format(path)
        source = SourceInfo(kind="folder", path=str(folder), entry=path.name)
        reason = _skip_reason(path, fmt)
        if reason is not None:
            yield RawStructure(source=source, loader=_never_loaded, skip=reason)
            continue

        def load(path: Path = path, fmt: str = fmt) -> Structure:
            return parse_structure_text(path.read_text(errors="replace"), fmt)

        yield RawStructure(source=source, loader=load)


def read_pymatgen_json(path: str | os.PathLike) -> Iterator[RawStructure]:
    """Read a JSON list of structures or of ``{"material_id", "structure", ...}`` mappings."""
    path = Path(path).resolve()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        items = loadfn(path, cls=None)
    if not isinstance(items, list):
        raise ValueError(f"{path} must hold a JSON list of structures, got {type(items).__name__}")
    for index, item in enumerate(items):
        if isinstance(item, dict) and "structure" in item:
            fields = {k: v for k, v in item.items() if k not in ("structure", "material_id")}
            material_id = item.get("material_id")
            payload = item["structure"]
        else:
            fields, material_id, payload = {}, None, item

        def load(payload: Any = payload) -> Structure:
            if isinstance(payload, Structure):
                return payload
            try:
                return Structure.from_dict(payload)
            except Exception as exc:
                raise ValueError(f"not a pymatgen structure: {exc}") from exc

        yield RawStructure(
            source=SourceInfo(kind="pymatgen-json", path=str(path), entry=str(index)),
            loader=load,
            material_id=None if material_id is None else str(material_id),
            fields=fields,
        )


def source_kind(path: str | os.PathLike) -> str:
    """Format of a structure source, told from the path.

    A ``.csv`` file or a folder holding a ``.csv`` is ``"gnome"``, a ``.json``/``.json.gz``
    file ``"pymatgen-json"``, any other folder ``"folder"`` (CIF/POSCAR files).

    Raises
    ------
    ValueError
        If the path does not exist or is a file of another format.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"structure source {path} does not exist")
    name = path.name.lower()
    if path.is_file() and name.endswith(".csv"):
        return "gnome"
    if path.is_file() and name.endswith((".json", ".json.gz")):
        return "pymatgen-json"
    if path.is_dir():
        return "gnome" if any(path.glob("*.csv")) else "folder"
    raise ValueError(
        f"cannot tell the format of {path}: give a GNoME CSV or folder, a folder of "
        "CIF/POSCAR files or a .json list"
    )


def open_source(path: str | os.PathLike) -> Iterator[RawStructure]:
    """Read any supported source, telling the format from the path (:func:`source_kind`)."""
    readers = {"gnome": read_gnome, "pymatgen-json": read_pymatgen_json}
    return readers.get(source_kind(path), read_structure_folder)(path)

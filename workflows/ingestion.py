"""Ingestion: structure sources read into validated primitive-cell :class:`StructureRecord` s.

What a campaign does with a source before any job runs, in one place: the readers, then
what happens to each entry they yield.

Readers
-------
Readers are pure: they yield :class:`RawStructure` entries, whose structure is parsed only
when ``load()`` is called, so that a filter on the summary columns of a GNoME dump never
opens the CIFs it rejects. CIFs are read from the GNoME zip without extracting it
(:func:`open_source` picks the reader of a path). Supported layouts:

* GNoME: a summary CSV (``MaterialId``, ``Reduced Formula``, ``Elements`` as a Python
  list string, ``NSites``, ``Space Group Number``, ``Bandgap`` (eV),
  ``Decomposition Energy Per Atom`` (eV/atom), ...) and a zip of conventional-cell CIFs
  ``by_id/{MaterialId}.CIF``; give the CSV, or a folder holding one CSV and the zip.
* A folder of ``*.cif`` and POSCAR-like files (``POSCAR*``, ``CONTCAR*``, ``*.vasp``,
  ``*.poscar``); every other name in it (``notes.txt``, a subfolder) is an entry too,
  marked skipped with the reason, so that ingestion can account for it.
* A JSON file (optionally ``.gz``) with a list of pymatgen ``Structure.as_dict()``
  dictionaries, or of ``{"material_id": ..., "structure": {...}, ...}`` mappings.

Per entry (:func:`ingest`)
--------------------------
Filter on what the source lists (elements, sites, decomposition energy, band
gap) before parsing; parse; reject disordered cells, unsupported elements, overlapping
atoms and cells too large for the model as *error records* (never exceptions); reduce to
the standardised primitive cell (spglib; GNoME CIFs are conventional cells); give a
stable id (the source's id, else :func:`content_id` of the standardised cell); record
what the structure says before anything is computed (:mod:`socscreen.structure_flags`:
a slab, with its sheet moved to the middle of the cell, and magnetic ions). Then
duplicates are merged with pymatgen's ``StructureMatcher`` within each reduced formula,
keeping the first entry, which names every entry merged into it.

Every entry read ends as exactly one of: a record (usable, or an error record), a merge
named on its record, a filter rejection (counted per criterion) or a skipped entry that
is no structure (named with its reason): ``IngestReport.n_read`` is their sum.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import time
import warnings
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import spglib
from monty.serialization import loadfn
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifParser
from tqdm.auto import tqdm

from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    ErrorDocument,
    MergedEntry,
    SkippedEntry,
    SourceInfo,
    StructureFilter,
    StructureRecord,
)
from socscreen.structure_flags import centred, periodic_dimension, structure_flags, vacuum_widths
from socscreen.structures import MIN_DISTANCE, check_structure

__all__ = [
    "DEFAULT_MAX_SITES",
    "GNOME_BAND_GAP",
    "GNOME_DECOMPOSITION_ENERGY",
    "IngestReport",
    "Merge",
    "RawStructure",
    "content_id",
    "deduplicate",
    "ingest",
    "open_source",
    "parse_structure_text",
    "read_gnome",
    "read_pymatgen_json",
    "read_structure_folder",
    "source_kind",
    "standard_primitive",
    "to_record",
]

#: Largest primitive cell (sites) ingested by default (the campaign setting's default).
DEFAULT_MAX_SITES: int = CampaignSettings.model_fields["max_sites"].default


@dataclass
class RawStructure:
    """One entry of a source, parsed on demand by :meth:`load`.

    Readers may only guarantee :meth:`load` until they are asked for the next entry (a
    GNoME reader closes its zip at the end).

    Attributes
    ----------
    source
        Where the entry is.
    loader
        Parses the structure, raising ``ValueError`` on unreadable input.
    material_id
        Id given by the source (GNoME ``MaterialId``, JSON ``material_id``), else ``None``.
    fields
        Original fields of the entry (GNoME columns, extra JSON keys).
    elements, nsites
        Element symbols and site count when the source lists them without parsing.
    decomposition_energy
        Decomposition energy given by the source (eV/atom), if any.
    band_gap
        Band gap given by the source (eV), if any.
    skip
        Why the entry is no structure and is not read (e.g. ``notes.txt`` in a folder of
        CIFs); ``None`` for a structure entry.
    """

    source: SourceInfo
    loader: Callable[[], Structure] = field(repr=False)
    material_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    elements: list[str] | None = None
    nsites: int | None = None
    decomposition_energy: float | None = None
    band_gap: float | None = None
    skip: str | None = None

    def load(self) -> Structure:
        """Parse the structure."""
        return self.loader()

    def rejected_by(
        self, filters: StructureFilter, structure: Structure | None = None
    ) -> str | None:
        """Criterion of ``filters`` that removes this entry (see ``StructureFilter.rejects``).

        Uses the source's element list and site count when it has them, else ``structure``.
        """
        if self.elements is not None and self.nsites is not None:
            elements, nsites = self.elements, self.nsites
        elif structure is not None:
            elements, nsites = [e.symbol for e in structure.composition.elements], len(structure)
        else:
            raise ValueError("entry lists no elements: pass its parsed structure")
        return filters.rejects(elements, nsites, self.decomposition_energy, self.band_gap)


@dataclass(frozen=True)
class Merge:
    """One entry merged into a kept record.

    Attributes
    ----------
    entry
        The merged entry, its own id and why it was merged (also on the keeper's
        ``merged``).
    keeper_id
        Id of the record it was merged into.
    keeper
        Where that record came from.
    """

    entry: MergedEntry
    keeper_id: str
    keeper: SourceInfo


@dataclass
class IngestReport:
    """Outcome of ingesting a source.

    Attributes
    ----------
    records
        Kept records in source order: usable structures and error records.
    n_read
        Entries read from the source; each is exactly one record, merge, filter
        rejection or skipped entry.
    filtered
        Entries removed by the filter, per criterion.
    merges
        Entries merged into a kept record as the same crystal.
    skipped
        Entries that are no structure, with the reason.
    seconds
        Wall time (s).
    """

    records: list[StructureRecord] = field(default_factory=list)
    n_read: int = 0
    filtered: Counter = field(default_factory=Counter)
    merges: list[Merge] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def n_filtered(self) -> int:
        """Entries removed by the filter."""
        return sum(self.filtered.values())

    @property
    def n_duplicates(self) -> int:
        """Entries merged into a kept record."""
        return len(self.merges)

    @property
    def errors(self) -> list[StructureRecord]:
        """Records that could not be ingested."""
        return [r for r in self.records if r.error is not None]

    @property
    def ok(self) -> list[StructureRecord]:
        """Records with a usable structure."""
        return [r for r in self.records if r.error is None]

    @property
    def n_accounted(self) -> int:
        """Records + merges + filter rejections + skipped entries (equals ``n_read``)."""
        return len(self.records) + len(self.merges) + self.n_filtered + len(self.skipped)


def standard_primitive(structure: Structure, symprec: float = 0.01) -> Structure:
    """Standardised primitive cell of an ordered structure (spglib, idealised).

    Parameters
    ----------
    structure
        Ordered crystal, any cell.
    symprec
        Symmetry tolerance (Angstrom).

    Raises
    ------
    ValueError
        If spglib cannot analyse the structure.
    """
    cell = (structure.lattice.matrix, structure.frac_coords, structure.atomic_numbers)
    result = spglib.standardize_cell(cell, to_primitive=True, no_idealize=False, symprec=symprec)
    if result is None:
        raise ValueError(f"symmetry analysis failed (spglib, symprec {symprec} Angstrom)")
    lattice, positions, numbers = result
    return Structure(Lattice(lattice), [int(z) for z in numbers], positions)


def space_group_number(structure: Structure, symprec: float = 0.01) -> int:
    """International space-group number (spglib, ``symprec`` in Angstrom)."""
    cell = (structure.lattice.matrix, structure.frac_coords, structure.atomic_numbers)
    dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    if dataset is None:
        raise ValueError(f"symmetry analysis failed (spglib, symprec {symprec} Angstrom)")
    return int(dataset.number)


def content_id(primitive: Structure, space_group: int) -> str:
    """Stable id ``sc-<12 hex>`` of a standardised primitive cell.

    Hashes the reduced formula, space group, lattice parameters (0.01 Angstrom, 0.1 deg)
    and the sorted (Z, fractional coordinates to 1e-3) of the sites, so that the same
    crystal read from a conventional or a primitive cell gets the same id.
    """
    frac = np.round(np.mod(primitive.frac_coords, 1.0), 3) % 1.0
    sites = sorted(
        (int(z), *(float(x) for x in f))
        for z, f in zip(primitive.atomic_numbers, frac, strict=True)
    )
    payload = [
        primitive.composition.reduced_formula,
        int(space_group),
        [round(x, 2) for x in primitive.lattice.abc],
        [round(x, 1) for x in primitive.lattice.angles],
        sites,
    ]
    digest = hashlib.sha256(json.dumps(payload).encode()).hexdigest()
    return f"sc-{digest[:12]}"


def _error_record(entry: RawStructure, reason: str, exc: BaseException | None = None,
                  structure: Structure | None = None) -> StructureRecord:  # fmt: skip
    error = ErrorDocument(
        stage="ingest", reason=reason, exception=None if exc is None else type(exc).__name__
    )
    fallback = (
        entry.material_id
        or f"sc-{hashlib.sha256(entry.source.model_dump_json().encode()).hexdigest()[:12]}"
    )
    composition = None if structure is None else structure.composition
    return StructureRecord(
        material_id=fallback,
        source=entry.source,
        formula=None if composition is None else composition.formula,
        reduced_formula=None if composition is None else composition.reduced_formula,
        elements=sorted(e.symbol for e in composition.elements)
        if composition
        else (entry.elements or []),
        nsites_input=len(structure) if structure is not None else entry.nsites,
        source_fields=entry.fields,
        error=error,
    )


def _unreadable(entry: RawStructure, exc: BaseException) -> StructureRecord:
    reason = str(exc) if isinstance(exc, ValueError) else f"cannot read entry: {exc}"
    return _error_record(entry, reason, exc)


def to_record(
    entry: RawStructure,
    structure: Structure | None = None,
    max_sites: int = DEFAULT_MAX_SITES,
    supported_elements: Collection[str] | None = None,
    symprec: float = 0.01,
) -> StructureRecord:
    """Validate one entry and reduce it to a primitive-cell record.

    Parameters
    ----------
    entry
        The source entry.
    structure
        The entry's structure if already parsed (else it is loaded here).
    max_sites
        Largest primitive cell accepted (sites).
    supported_elements
        Elements the model knows; ``None`` accepts every element.
    symprec
        Symmetry tolerance of the reduction (Angstrom).

    Returns
    -------
    StructureRecord
        A usable record, with its dimension, vacuum and structure flags (a slab's sheet
        moved to the middle of its cell), or an error record whose ``error.reason``
        names the problem: unreadable file, partial occupancy, unsupported element,
        overlapping atoms, too many atoms, failed symmetry analysis.
    """
    if structure is None:
        try:
            structure = entry.load()
        except Exception as exc:  # readers raise ValueError, zip/IO errors pass through
            return _unreadable(entry, exc)
    try:  # before spglib: a NaN coordinate would crash it
        check_structure(structure, MIN_DISTANCE)
    except ValueError as exc:
        return _error_record(entry, str(exc), structure=structure)
    symbols = sorted(e.symbol for e in structure.composition.elements)
    if supported_elements is not None:
        unknown = [s for s in symbols if s not in set(supported_elements)]
        if unknown:
            return _error_record(
                entry,
                f"element(s) {', '.join(unknown)} not covered by the predictor",
                structure=structure,
            )
    try:
        primitive = standard_primitive(structure, symprec) if len(structure) > 1 else structure
    except ValueError as exc:
        return _error_record(entry, str(exc), exc, structure=structure)
    if len(primitive) > max_sites:
        return _error_record(
            entry,
            f"{len(primitive)} sites in the primitive cell exceed max_sites = {max_sites}: "
            "too large to screen",
            structure=structure,
        )
    number = space_group_number(primitive, symprec)
    material_id = entry.material_id or content_id(primitive, number)
    primitive = centred(primitive)  # a translation: the id stays that of the standard cell
    return StructureRecord(
        material_id=material_id,
        source=entry.source,
        formula=primitive.composition.formula,
        reduced_formula=primitive.composition.reduced_formula,
        elements=symbols,
        nsites=len(primitive),
        nsites_input=len(structure),
        space_group_number=number,
        structure=primitive.as_dict(),
        source_fields=entry.fields,
        dimension=periodic_dimension(primitive),
        vacuum_A=round(float(vacuum_widths(primitive).max()), 3),
        flags=structure_flags(primitive),
    )


def deduplicate(
    records: list[StructureRecord],
    matcher: StructureMatcher | None = None,
    by_structure: bool = True,
) -> tuple[list[StructureRecord], list[Merge]]:
    """Merge records of the same crystal, keeping the first of each.

    Records match when their ids are equal (always: a campaign holds one record per id)
    or, with ``by_structure``, when ``matcher`` (default ``StructureMatcher()``) fits
    them within the same reduced formula. Error records merge only on a repeated id.
    Each merged entry (its file and id) goes to the keeper's ``merged``.

    Returns
    -------
    tuple
        The kept records in input order and the merges.
    """
    matcher = matcher or StructureMatcher()
    kept: list[StructureRecord] = []
    by_id: dict[str, StructureRecord] = {}
    by_formula: dict[str, list[tuple[StructureRecord, Structure]]] = defaultdict(list)
    merges: list[Merge] = []
    for record in records:
        keeper = by_id.get(record.material_id)
        reason = "same id"
        if keeper is None and record.ok and by_structure:
            structure = record.get_structure()
            for candidate, candidate_structure in by_formula[record.reduced_formula]:
                if matcher.fit(candidate_structure, structure):
                    keeper, reason = candidate, "same crystal"
                    break
            if keeper is None:
                by_formula[record.reduced_formula].append((record, structure))
        if keeper is None:
            by_id[record.material_id] = record
            kept.append(record)
            continue
        entry = MergedEntry(source=record.source, material_id=record.material_id, reason=reason)
        keeper.merged.append(entry)
        merges.append(Merge(entry, keeper.material_id, keeper.source))
    return kept, merges


def ingest(
    entries: Iterable[RawStructure],
    filters: StructureFilter | None = None,
    max_sites: int = DEFAULT_MAX_SITES,
    supported_elements: Collection[str] | None = None,
    symprec: float = 0.01,
    merge_duplicates: bool = True,
    progress: bool = False,
) -> IngestReport:
    """Filter, validate, reduce, identify and deduplicate the entries of a source.

    Parameters
    ----------
    entries
        Entries from a reader (:func:`open_source`).
    filters
        Which entries to keep (applied before parsing where the source lists elements).
    max_sites, supported_elements, symprec
        See :func:`to_record`.
    merge_duplicates
        Merge entries of the same crystal (:func:`deduplicate`); entries of the same id
        are merged either way.
    progress
        Show a progress bar (on a terminal).

    Returns
    -------
    IngestReport
        Records (usable and error records), merges, skipped entries and counts; nothing
        raises per entry.
    """
    t0 = time.perf_counter()
    report = IngestReport()
    records: list[StructureRecord] = []
    # the bar shows on a terminal only, and goes when done (the caller prints a summary)
    bar = tqdm(
        entries, desc="ingest", unit="entry", disable=None if progress else True, leave=False
    )
    for entry in bar:
        report.n_read += 1
        if entry.skip is not None:
            report.skipped.append(SkippedEntry(entry=entry.source.entry or "", reason=entry.skip))
            continue
        structure = None
        if filters is not None:
            if entry.elements is None:
                try:
                    structure = entry.load()
                except Exception as exc:
                    records.append(_unreadable(entry, exc))
                    continue
            criterion = entry.rejected_by(filters, structure)
            if criterion is not None:
                report.filtered[criterion] += 1
                continue
        records.append(to_record(entry, structure, max_sites, supported_elements, symprec))
    report.records, report.merges = deduplicate(records, by_structure=merge_duplicates)
    report.seconds = time.perf_counter() - t0
    return report


# -- readers ----------------------------------------------------------------------------
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

"""Ingestion: raw source entries to validated primitive-cell :class:`StructureRecord` s.

Per entry: filter on what the source lists (elements, sites, decomposition energy, band
gap) before parsing; parse; reject disordered cells, unsupported elements, overlapping
atoms and cells too large for the model as *error records* (never exceptions); reduce to
the standardised primitive cell (spglib; GNoME CIFs are conventional cells); give a
stable id (the source's id, else :func:`content_id` of the standardised cell); record
what the structure says before anything is computed (:mod:`socscreen.structure_flags`:
a slab, with its sheet moved to the middle of the cell, and magnetic ions). Then
duplicates are merged with pymatgen's ``StructureMatcher`` within each reduced formula,
keeping the first entry, which names every entry merged into it. The readers that
produce the entries live in :mod:`socscreen.workflows.sources`.

Every entry read ends as exactly one of: a record (usable, or an error record), a merge
named on its record, a filter rejection (counted per criterion) or a skipped entry that
is no structure (named with its reason): ``IngestReport.n_read`` is their sum.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import spglib
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure
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
    "IngestReport",
    "Merge",
    "RawStructure",
    "content_id",
    "deduplicate",
    "ingest",
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
        Entries from a reader of :mod:`socscreen.workflows.sources`.
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

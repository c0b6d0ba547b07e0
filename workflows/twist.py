"""Twist-angle sweeps of a heterobilayer through the normal campaign machinery.

:func:`build_twist_cells` builds one commensurate cell per requested angle
(:func:`socscreen.bilayers.twisted_bilayer`), :func:`write_twist_cells` writes them as CIF
files plus the campaign source ``twist.json`` (a pymatgen JSON list whose entries carry
their :class:`~socscreen.bilayers.TwistedBilayerRecord` under the source field
:data:`TWIST_FIELD`), :func:`submit_twist_sweep` submits that source as one campaign
(``socscreen campaign run`` computes it) and :func:`twist_sweep` reads the finished
results back, angle by angle: gap and, where the result holds a valley document, the
spin splitting of the top valence band at K.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter

from socscreen.bilayers import TwistedBilayerRecord, twisted_bilayer
from socscreen.stores.config import DatabaseConfig
from socscreen.stores.schemas.campaign import CampaignSettings
from socscreen.workflows.submission import SubmitReport, submit_campaign

__all__ = [
    "SOURCE_FILE",
    "TWIST_FIELD",
    "TwistCell",
    "TwistPoint",
    "build_twist_cells",
    "submit_twist_sweep",
    "twist_material_id",
    "twist_sweep",
    "valley_figure",
    "write_twist_cells",
]

#: Source field of a twist campaign's entries holding the bilayer's record.
TWIST_FIELD = "twist"
#: Name of the campaign source written beside the CIF files.
SOURCE_FILE = "twist.json"


@dataclass(frozen=True)
class TwistCell:
    """One requested angle: the bilayer built for it and its id in the campaign."""

    material_id: str
    structure: Structure
    record: TwistedBilayerRecord


def twist_material_id(name: str, angle_deg: float) -> str:
    """Campaign id of the cell at ``angle_deg`` (°): ``moire-21.79deg``, ``moire-m21.79deg``."""
    sign = "m" if round(angle_deg, 2) < 0 else ""
    return f"{name}-{sign}{abs(angle_deg):.2f}deg"


def build_twist_cells(
    bottom: Structure, top: Structure, angles_deg: Sequence[float], name: str, **options: Any
) -> list[TwistCell]:
    """Build the bilayer of every angle (°) in order; ``options`` go to ``twisted_bilayer``.

    Angles that give the same cell share its id. Raises ``ValueError`` (one line, the
    first unreachable angle) before anything is returned.
    """
    if not angles_deg:
        raise ValueError("no twist angle given")
    cells = []
    for angle in angles_deg:
        structure, record = twisted_bilayer(bottom, top, angle, **options)
        material_id = twist_material_id(name, record.achieved_angle_deg)
        cells.append(TwistCell(material_id, structure, record))
    return cells


def write_twist_cells(cells: Sequence[TwistCell], folder: str | os.PathLike) -> Path:
    """Write ``ID.cif`` per distinct cell and the campaign source; return the source's path.

    The source ``twist.json`` is written last, through a temporary file, so that a folder
    holding it holds every cell.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for cell in cells:
        if cell.material_id in entries:
            continue
        CifWriter(cell.structure).write_file(folder / f"{cell.material_id}.cif")
        entries[cell.material_id] = {
            "material_id": cell.material_id,
            "structure": cell.structure.as_dict(),
            TWIST_FIELD: cell.record.model_dump(),
        }
    source = folder / SOURCE_FILE
    partial = source.with_suffix(".json.partial")
    partial.write_text(json.dumps(list(entries.values())))
    partial.replace(source)
    return source


def submit_twist_sweep(
    db: DatabaseConfig,
    source: str | os.PathLike,
    campaign: str,
    settings: CampaignSettings | None = None,
    supported_elements: Collection[str] | None = None,
) -> SubmitReport:
    """Submit the cells of ``source`` (:func:`write_twist_cells`) as ``campaign``.

    Every angle stays its own structure: duplicates are not merged by geometry (the 0°
    and 60° stackings of one pair of sheets are nearly alike). The campaign's largest
    cell is raised to the largest bilayer if needed.
    """
    entries = json.loads(Path(source).read_text())
    largest = max(entry[TWIST_FIELD]["n_atoms"] for entry in entries)
    settings = settings or CampaignSettings()
    if settings.max_sites < largest:
        settings = settings.model_copy(update={"max_sites": largest})
    return submit_campaign(
        db,
        source,
        campaign,
        settings,
        supported_elements=supported_elements,
        merge_duplicates=False,
    )


@dataclass(frozen=True)
class TwistPoint:
    """One cell of a twist campaign and what its result says (``None``: not there yet).

    Attributes
    ----------
    material_id
        Campaign id of the cell.
    record
        How the cell was built (angles in °, strain in %, atoms).
    gap_eV
        Fundamental gap with SOC (eV).
    splitting_K_eV
        Spin splitting of the top valence band at K (eV), from the result's valley
        document.
    curvature_K_A2
        Berry curvature of the occupied bands at K along the sheet normal (Å²), from the
        valley document.
    error
        Why the cell has no result, if it failed.
    """

    material_id: str
    record: TwistedBilayerRecord
    gap_eV: float | None = None
    splitting_K_eV: float | None = None
    curvature_K_A2: float | None = None
    error: str | None = None


def valley_figure(valley: Any, name: str) -> float | None:
    """Read one number of a result's ``valley`` document (``None`` without one).

    E.g. ``valence_splitting_eV`` (eV) or ``omega_k`` (Å²), as
    :class:`~socscreen.stores.schemas.campaign.ValleyDocument` names them.
    """
    if not isinstance(valley, dict) or valley.get(name) is None:
        return None
    return float(valley[name])


def twist_sweep(db: DatabaseConfig, campaign: str) -> list[TwistPoint]:
    """Read the cells of a twist campaign with their results, by achieved angle.

    Raises
    ------
    ValueError
        If the campaign holds no twisted bilayer.
    """
    with db.connected("structures", "results") as (structures, results):
        records = {
            doc["material_id"]: TwistedBilayerRecord.model_validate(
                doc["source_fields"][TWIST_FIELD]
            )
            for doc in structures.query(
                {"campaign": campaign, f"source_fields.{TWIST_FIELD}": {"$exists": True}},
                properties=["material_id", f"source_fields.{TWIST_FIELD}"],
            )
        }
        if not records:
            raise ValueError(f"campaign {campaign!r} holds no twisted bilayer (`socscreen twist`)")
        found = {
            doc["material_id"]: doc
            for doc in results.query(
                {"campaign": campaign, "material_id": {"$in": list(records)}},
                properties=["material_id", "gap_eV", "valley", "error"],
            )
        }
    points = []
    for material_id, record in records.items():
        doc = found.get(material_id, {})
        error = doc.get("error")
        points.append(
            TwistPoint(
                material_id,
                record,
                gap_eV=doc.get("gap_eV"),
                splitting_K_eV=valley_figure(doc.get("valley"), "valence_splitting_eV"),
                curvature_K_A2=valley_figure(doc.get("valley"), "omega_k"),
                error=error.get("reason") if isinstance(error, dict) else None,
            )
        )
    return sorted(points, key=lambda point: point.record.achieved_angle_deg)

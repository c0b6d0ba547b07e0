"""Documents of validation reruns: a DFT calculation compared with the prediction.

One :class:`ValidationDocument` per (material, route) lives in the ``validations``
collection, unique by ``validation_id``; it links to the prediction it checks through
``material_id``, ``campaign``, the model version and the prediction job's uuid.
:class:`TrainingDataRecord` describes one corpus file that a GPAW validation fed back
into the training-data folder (collection ``training_data``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pymatgen.core import Structure

from socscreen.analysis.comparison import BandComparison
from socscreen.stores.schemas.campaign import CampaignSettings, MaterialResultDocument

__all__ = [
    "BandComparisonDocument",
    "SelectionReason",
    "TrainingDataRecord",
    "ValidationDocument",
    "ValidationRoute",
    "ValidationTarget",
    "validation_id",
]

ValidationRoute = Literal["gpaw", "vasp"]
SelectionReason = Literal["candidate", "low_confidence", "route_disagreement", "query"]


def _now() -> datetime:
    return datetime.now(UTC)


def validation_id(material_id: str, route: ValidationRoute) -> str:
    """Key of the validation of ``material_id`` by ``route``: ``"<material_id>:<route>"``."""
    return f"{material_id}:{route}"


class ValidationTarget(BaseModel):
    """What a validation job needs to know about the prediction it checks.

    Built by ``socscreen rerun`` from the stored result (and the campaign settings) and
    passed to every route's maker (``make(target)``); small enough for a Firework spec.
    """

    material_id: str = Field(description="Material id of the result.")
    campaign: str = Field(description="Campaign of the result.")
    formula: str | None = Field(None, description="Formula of the primitive cell.")
    structure: dict[str, Any] = Field(
        description="Primitive cell as pymatgen Structure.as_dict() (Angstrom), the one "
        "the prediction used."
    )
    model_version: str | None = Field(None, description="Model version of the prediction.")
    predictor: Literal["model", "baseline", "scc"] = Field(
        "model",
        description="Predictor of the campaign (CampaignSettings.predictor), which predicts "
        "again where the stored prediction is gone; 'model' for targets made before it was "
        "recorded, when the model was every campaign's predictor.",
    )
    checkpoint: str | None = Field(
        None, description="Checkpoint path the campaign predicted with (None: shipped model)."
    )
    prediction_job_uuid: str | None = Field(
        None, description="jobflow uuid of the prediction job, if the result records it."
    )
    z2_predicted: list[int] | None = Field(
        None, description="Predicted Z2 indices (nu0; nu1 nu2 nu3), None when undefined."
    )
    z2_route_predicted: str | None = Field(None, description="Route of the predicted indices.")
    gap_predicted: float | None = Field(
        None, description="Predicted fundamental gap with SOC (eV)."
    )
    spin_splitting_predicted: float | None = Field(
        None, description="Predicted largest spin splitting at the gap (eV)."
    )
    confidence: float | None = Field(None, description="Confidence of the prediction (0-1).")
    flags: list[str] = Field(default_factory=list, description="Flags of the result.")
    reasons: list[SelectionReason] = Field(
        default_factory=list, description="Why the material was selected for validation."
    )

    @field_validator("structure", mode="before")
    @classmethod
    def _structure_as_dict(cls, value: Any) -> Any:
        # monty decodes the stored dict back into a Structure when a job's inputs load
        return value.as_dict() if isinstance(value, Structure) else value

    @classmethod
    def from_result(
        cls,
        result: MaterialResultDocument,
        settings: CampaignSettings | None = None,
        reasons: list[SelectionReason] | None = None,
        prediction_job_uuid: str | None = None,
    ) -> ValidationTarget:
        """Build from a stored result and the settings of its campaign.

        Raises
        ------
        ValueError
            If the result has no structure or carries an error (nothing to validate).
        """
        if result.structure is None or result.error is not None:
            raise ValueError(
                f"result {result.material_id} in {result.campaign} has no prediction to "
                f"validate ({result.error.reason if result.error else 'no structure'})"
            )
        return cls(
            material_id=result.material_id,
            campaign=result.campaign,
            formula=result.formula,
            structure=result.structure,
            model_version=result.model_version,
            predictor=settings.predictor if settings else "model",
            checkpoint=settings.checkpoint if settings else None,
            prediction_job_uuid=prediction_job_uuid,
            z2_predicted=result.z2.z2 if result.z2 else None,
            z2_route_predicted=result.z2.route if result.z2 else None,
            gap_predicted=result.gap_eV,
            spin_splitting_predicted=result.spin_splitting_max,
            confidence=result.confidence,
            flags=list(result.flags),
            reasons=list(reasons or []),
        )

    def get_structure(self) -> Structure:
        """Return the primitive cell as a pymatgen Structure."""
        return Structure.from_dict(self.structure)


#: Predicted versus DFT band energies, stored as the analysis returns them: its fields,
#: with their units, are declared once, in ``analysis.comparison.BandComparison``. The
#: name stays importable here because JobStore outputs written before carry it as their
#: ``@class`` (``socscreen.stores.schemas.validation.BandComparisonDocument``).
BandComparisonDocument = BandComparison


class ValidationDocument(BaseModel):
    """A DFT validation of one predicted material (one per material and route)."""

    validation_id: str = Field(description="Unique key '<material_id>:<route>'.")
    material_id: str = Field(
        description="Material validated; links to MaterialResultDocument.material_id."
    )
    campaign: str = Field(description="Campaign of the prediction.")
    route: ValidationRoute = Field(description="DFT route: 'gpaw' (LCAO reference) or 'vasp'.")
    formula: str | None = Field(None, description="Formula of the primitive cell.")
    prediction_model_version: str | None = Field(
        None, description="Version of the model that made the prediction."
    )
    prediction_job_uuid: str | None = Field(
        None, description="jobflow uuid of the job that produced the prediction, if known."
    )
    prediction_source: Literal["stored", "recomputed"] | None = Field(
        None,
        description="Where the compared prediction came from: the predict job's stored "
        "output, or predicted again with the campaign's checkpoint.",
    )
    reasons: list[SelectionReason] = Field(
        default_factory=list, description="Why the material was selected for validation."
    )
    dft_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="DFT settings: code, basis or ENCUT (eV), k-grids, functional, soc.",
    )
    band_comparison: BandComparisonDocument = Field(
        description="Predicted vs DFT bands with SOC on the DFT k-points (eV)."
    )
    band_comparison_path: BandComparisonDocument | None = Field(
        None, description="The same comparison along the high-symmetry band path (eV)."
    )
    z2_predicted: list[int] | None = Field(
        None, description="Predicted Z2 indices (nu0; nu1 nu2 nu3), None when undefined."
    )
    z2_dft: list[int] | None = Field(
        None, description="Z2 indices of the DFT calculation, None when undefined."
    )
    z2_route_dft: str | None = Field(
        None, description="Method of the DFT indices: 'parity', 'wilson', 'parity+wilson'."
    )
    z2_agree: bool | None = Field(
        None, description="Predicted and DFT indices equal (None if either is undefined)."
    )
    gap_dft: float | None = Field(
        None, description="DFT fundamental gap with SOC on a dense k-grid (eV); 0 for metals."
    )
    gap_predicted: float | None = Field(
        None, description="Predicted fundamental gap with SOC, as stored in the result (eV)."
    )
    spin_splitting_dft: float | None = Field(
        None, description="Largest DFT spin splitting of the gap bands on the path (eV)."
    )
    spin_splitting_predicted: float | None = Field(
        None, description="Largest predicted spin splitting of the gap bands on the path (eV)."
    )
    dft_flags: list[str] = Field(
        default_factory=list, description="Flags of the DFT analysis, e.g. 'metal'."
    )
    dft_hamiltonian_path: str | None = Field(
        None,
        description="GPAW route: absolute path of the corpus-format .npz fed back to training.",
    )
    soc_off: BandComparisonDocument | None = Field(
        None, description="Comparison of the SOC-off twin calculation, when it was run (eV)."
    )
    z2_dft_soc_off: list[int] | None = Field(
        None, description="Z2 indices of the SOC-off twin calculation, when it was run."
    )
    dft_details: dict[str, Any] = Field(
        default_factory=dict,
        description="Route-specific results, e.g. for VASP the per-TRIM parity products and "
        "their confidence, the Fermi levels (eV) and gaps (eV) of the runs, run folders.",
    )
    timings: dict[str, float] = Field(
        default_factory=dict, description="Wall time per stage, e.g. dft, compare, z2 (s)."
    )
    created_at: datetime = Field(default_factory=_now, description="Creation time (UTC).")

    @classmethod
    def of_target(
        cls, target: ValidationTarget, route: ValidationRoute, **fields: Any
    ) -> ValidationDocument:
        """Build the validation of ``target`` by ``route``.

        The keys, the material and the prediction it checks (model version, predict job,
        selection reasons, predicted Z2 indices) come from the target; ``fields`` are the
        route's DFT results (energies in eV).
        """
        return cls(
            validation_id=validation_id(target.material_id, route),
            material_id=target.material_id,
            campaign=target.campaign,
            route=route,
            formula=target.formula,
            prediction_model_version=target.model_version,
            prediction_job_uuid=target.prediction_job_uuid,
            reasons=target.reasons,
            z2_predicted=target.z2_predicted,
            **fields,
        )


class TrainingDataRecord(BaseModel):
    """One corpus-format Hamiltonian file written for fine-tuning (collection training_data)."""

    material_id: str = Field(description="Material the Hamiltonian belongs to.")
    campaign: str | None = Field(None, description="Campaign whose validation produced it.")
    formula: str = Field(description="Formula of the cell, e.g. 'Bi2Se3'.")
    basis: str = Field(description="LCAO basis of the file, e.g. 'szp(dzp)'.")
    path: str = Field(description="Absolute path of the .npz file.")
    sha256: str = Field(description="SHA-256 of the file's bytes (hex).")
    n_orbitals: int = Field(description="Spinless orbitals of the cell.")
    source: str = Field("gpaw-validation", description="What produced the file.")
    created_at: datetime = Field(default_factory=_now, description="Creation time (UTC).")

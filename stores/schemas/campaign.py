"""Documents of a screening campaign: ingested structures, per-material results, summary.

Every stored field has a description with its unit. Analysis results are typed optional
sub-documents (:class:`Z2Document`, :class:`GapsDocument`, :class:`BerryCurvatureDocument`,
:class:`ValleyDocument`) that stay ``None`` until the analysis fills them; a structure
that failed carries an :class:`ErrorDocument` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pymatgen.core import Structure

__all__ = [
    "BerryCurvatureDocument",
    "CampaignSettings",
    "CampaignSummaryDocument",
    "CandidateDocument",
    "ErrorDocument",
    "GapsDocument",
    "MaterialClass",
    "MaterialResultDocument",
    "MergedEntry",
    "SkippedEntry",
    "SourceInfo",
    "SourceSubmission",
    "StructureFilter",
    "StructureRecord",
    "TimingsDocument",
    "TopologyClass",
    "ValleyDocument",
    "VerdictDocument",
    "Z2Document",
    "classify_z2",
]

TopologyClass = Literal["strong", "weak", "trivial", "qsh"]
MaterialClass = Literal[
    "topological_insulator",
    "topological_semimetal",
    "trivial_insulator",
    "trivial_semimetal",
    "metal",
    "undetermined",
    "failed",
]
Stage = Literal["ingest", "predict", "analysis"]


def _now() -> datetime:
    return datetime.now(UTC)


def classify_z2(z2: Sequence[int]) -> TopologyClass:
    """Classify Z2 invariants: (nu0; nu1 nu2 nu3) of a 3D crystal, [nu] of a 2D sheet.

    3D: ``strong`` (nu0 = 1), ``weak`` (nu0 = 0, some nu_i = 1) or ``trivial``; 2D:
    ``qsh`` (quantum spin Hall, nu = 1) or ``trivial``.

    Raises
    ------
    ValueError
        If there are not four (3D) or one (2D) indices, or one is not 0 or 1.
    """
    values = [int(v) for v in z2]
    if len(values) not in (1, 4) or any(v not in (0, 1) for v in values):
        raise ValueError(
            f"Z2 indices must be four values (nu0; nu1 nu2 nu3) or one (nu, 2D) of 0 or 1, got {z2}"
        )
    if len(values) == 1:
        return "qsh" if values[0] else "trivial"
    if values[0] == 1:
        return "strong"
    return "weak" if any(values[1:]) else "trivial"


def z2_label(z2: Sequence[int] | None) -> str | None:
    """``(nu0;nu1nu2nu3)`` of a 3D crystal, ``(nu)`` of a 2D sheet, ``None`` without Z2."""
    if not z2:
        return None
    if len(z2) == 4:
        return f"({z2[0]};{z2[1]}{z2[2]}{z2[3]})"
    return "(" + "".join(str(v) for v in z2) + ")"


# -- inputs ----------------------------------------------------------------------------
class SourceInfo(BaseModel):
    """Where a structure came from."""

    kind: Literal["gnome", "folder", "pymatgen-json"] = Field(
        description="Source format: GNoME summary CSV + CIF zip, folder of CIF/POSCAR "
        "files, or a JSON list of pymatgen structures."
    )
    path: str = Field(description="Absolute path of the source (CSV, folder or JSON file).")
    entry: str | None = Field(
        None, description="Entry inside the source: zip member, file name or list index."
    )


class MergedEntry(BaseModel):
    """A source entry merged into a kept record because it is the same crystal."""

    source: SourceInfo = Field(description="Where the merged entry is (file name in 'entry').")
    material_id: str = Field(description="Id the entry got on its own (see StructureRecord).")
    reason: Literal["same id", "same crystal"] = Field(
        description="'same id': the entry got the kept record's id (the same standardised "
        "cell, or the same source id); 'same crystal': pymatgen's StructureMatcher fits it "
        "onto the kept record (e.g. a strained copy)."
    )


class SkippedEntry(BaseModel):
    """A source entry that is no structure (e.g. 'notes.txt' in a folder), and why."""

    entry: str = Field(description="File name, zip member or list index inside the source.")
    reason: str = Field(description="Why it was not read, e.g. 'not a CIF or POSCAR file'.")


class ErrorDocument(BaseModel):
    """Why a structure has no result."""

    stage: Stage = Field(description="Stage that failed: ingest, predict or analysis.")
    reason: str = Field(description="Human-readable reason, e.g. 'partial occupancy'.")
    exception: str | None = Field(None, description="Exception class name, if one was raised.")

    @classmethod
    def from_exception(cls, stage: Stage, exc: BaseException) -> ErrorDocument:
        """Describe ``exc`` raised during ``stage``."""
        return cls(stage=stage, reason=str(exc) or type(exc).__name__, exception=type(exc).__name__)


class StructureFilter(BaseModel):
    """Which structures of a source enter a campaign (``None``/empty: no restriction)."""

    include_elements: list[str] = Field(
        default_factory=list, description="Elements that must all be present."
    )
    exclude_elements: list[str] = Field(
        default_factory=list, description="Elements that must all be absent."
    )
    min_heavy_z: int | None = Field(
        None, description="At least one element with atomic number Z >= this value."
    )
    max_sites: int | None = Field(
        None, description="Largest number of sites of the cell as given by the source."
    )
    max_decomposition_energy: float | None = Field(
        None, description="Largest decomposition energy (energy above hull) (eV/atom)."
    )
    min_band_gap: float | None = Field(None, description="Smallest source band gap (eV).")
    max_band_gap: float | None = Field(None, description="Largest source band gap (eV).")

    @field_validator("include_elements", "exclude_elements")
    @classmethod
    def _known_elements(cls, value: list[str]) -> list[str]:
        from pymatgen.core import Element

        for symbol in value:
            if not Element.is_valid_symbol(symbol):
                raise ValueError(f"unknown element symbol {symbol!r} in element filter")
        return value

    def rejects(
        self,
        elements: Sequence[str],
        nsites: int,
        decomposition_energy: float | None = None,
        band_gap: float | None = None,
    ) -> str | None:
        """Return the criterion that filters an entry out, or ``None`` if it passes.

        Parameters
        ----------
        elements
            Element symbols of the entry.
        nsites
            Number of sites of the cell as given.
        decomposition_energy
            Decomposition energy (eV/atom), if the source has one.
        band_gap
            Band gap of the source (eV), if it has one.

        Returns
        -------
        str or None
            A short criterion name (``"include elements"``, ``"band gap unknown"``, ...)
            suited to counting rejections.
        """
        from pymatgen.core import Element

        present = set(elements)
        if not set(self.include_elements) <= present:
            return "include elements"
        if present & set(self.exclude_elements):
            return "exclude elements"
        if self.min_heavy_z is not None and max(Element(e).Z for e in present) < self.min_heavy_z:
            return "heavy element"
        if self.max_sites is not None and nsites > self.max_sites:
            return "sites"
        bounds = (
            ("decomposition energy", decomposition_energy, None, self.max_decomposition_energy),
            ("band gap", band_gap, self.min_band_gap, self.max_band_gap),
        )
        for name, value, low, high in bounds:
            if low is None and high is None:
                continue
            if value is None:
                return f"{name} unknown"
            if (low is not None and value < low) or (high is not None and value > high):
                return name
        return None


class StructureRecord(BaseModel):
    """One ingested structure (primitive cell), or the reason it could not be ingested."""

    material_id: str = Field(
        description="Stable id: the source's id (GNoME MaterialId) or 'sc-' + 12 hex digits "
        "of a hash of the standardised primitive cell."
    )
    campaign: str | None = Field(None, description="Campaign the record belongs to.")
    source: SourceInfo = Field(description="Where the structure came from.")
    formula: str | None = Field(None, description="Formula of the primitive cell, e.g. 'Bi2 Se3'.")
    reduced_formula: str | None = Field(None, description="Reduced formula, e.g. 'Bi2Se3'.")
    elements: list[str] = Field(default_factory=list, description="Sorted element symbols.")
    nsites: int | None = Field(None, description="Number of sites of the primitive cell.")
    nsites_input: int | None = Field(None, description="Number of sites of the cell as read.")
    space_group_number: int | None = Field(
        None, description="International space-group number (spglib, symprec 0.01 Angstrom)."
    )
    structure: dict[str, Any] | None = Field(
        None, description="Primitive cell as pymatgen Structure.as_dict() (Angstrom)."
    )
    source_fields: dict[str, Any] = Field(
        default_factory=dict,
        description="Original fields of the source entry (GNoME columns, with their units).",
    )
    merged: list[MergedEntry] = Field(
        default_factory=list,
        description="Later entries found to be the same crystal, with their files and ids.",
    )
    dimension: int | None = Field(
        None,
        description="Periodic dimensions: 3 for a bulk crystal, 2 for a slab (an empty layer "
        "of at least 10 Angstrom along one lattice direction; socscreen.structure_flags).",
    )
    vacuum_A: float | None = Field(
        None,
        description="Widest empty layer along a lattice direction (Angstrom, nucleus to nucleus).",
    )
    flags: list[str] = Field(
        default_factory=list,
        description="What the structure says before anything is computed, carried into "
        "every result: 'two_dimensional' (a slab), 'magnetic_treated_as_nonmagnetic'.",
    )
    error: ErrorDocument | None = Field(None, description="Why ingestion failed, if it did.")
    created_at: datetime = Field(default_factory=_now, description="Ingestion time (UTC).")

    @property
    def ok(self) -> bool:
        """Whether the record holds a usable structure."""
        return self.error is None and self.structure is not None

    def get_structure(self) -> Structure:
        """Primitive cell as a pymatgen Structure."""
        if self.structure is None:
            raise ValueError(f"record {self.material_id} has no structure ({self.error})")
        return Structure.from_dict(self.structure)


# -- settings --------------------------------------------------------------------------
class CampaignSettings(BaseModel):
    """Settings every job of a campaign receives (recorded in job metadata and summary)."""

    predictor: Literal["model", "baseline", "scc"] = Field(
        "model",
        description="What predicts the Hamiltonians: 'model' (the Uni-HamGNN checkpoint; the "
        "shipped one corrects GPAW's zeroth-step H(0) with self-consistent atomic charges by "
        "shell shifts per element and from each atom's environment, fitted on DFT bands, the "
        "most accurate on the benchmarks), 'scc' (that "
        "H(0) with self-consistent charges, no learning) or 'baseline' (H(0) alone).",
    )
    model_version: str | None = Field(
        None, description="Model (checkpoint) version to predict with; None: the default."
    )
    checkpoint: str | None = Field(
        None, description="Path of a model checkpoint overriding model_version."
    )
    device: str = Field("cpu", description="Torch device of the prediction, e.g. 'cuda'.")
    max_sites: int = Field(
        200,
        ge=1,
        description="Largest primitive cell (sites) a campaign accepts; larger cells get an "
        "error document at ingestion and are never sent to the model.",
    )
    sparse_from_sites: int = Field(
        150,
        ge=0,
        description="Cells of more sites than this (twisted bilayers) are predicted on "
        "sparse blocks (memory linear in the atoms) and analysed at the valleys only: the "
        "band edges at K, K' and Gamma of a hexagonal sheet by shift-invert, the gap over "
        "those points, no Z2, k-path or Berry curvature (flag 'valley_edges_only').",
    )
    z2_route: Literal["screening", "parity", "wilson", "auto"] = Field(
        "screening",
        description="Z2 method: 'screening' takes Fu-Kane parities when the Hamiltonian has "
        "an inversion centre and Wilson loops (hybrid Wannier centres) otherwise; "
        "'parity' or 'wilson' force one route; 'auto' runs parities where possible and "
        "Wilson loops always, as a cross-check (several times slower).",
    )
    berry_curvature: bool = Field(True, description="Compute Berry-curvature figures.")
    min_gap: float = Field(
        0.01, ge=0.0, description="Gaps below this count as gapless; candidate threshold (eV)."
    )
    batch_size: int = Field(20, ge=1, description="Structures per batch job.")


# -- results ---------------------------------------------------------------------------
class Z2Document(BaseModel):
    """Z2 topological invariants of the occupied spinor bands."""

    z2: list[int] = Field(
        min_length=1,
        max_length=4,
        description="Z2 invariants, each 0 or 1: (nu0; nu1 nu2 nu3) of a 3D crystal, [nu] "
        "of a 2D sheet.",
    )
    classification: TopologyClass = Field(
        description="3D: 'strong' (nu0 = 1), 'weak' (nu0 = 0, some nu_i = 1) or 'trivial'; "
        "2D: 'qsh' (quantum spin Hall, nu = 1) or 'trivial'."
    )
    route: Literal["parity", "wilson"] = Field(
        description="Method: Fu-Kane inversion parities or Wilson loops (z2pack)."
    )
    n_occupied: int | None = Field(None, description="Number of occupied spinor bands.")
    z2_no_soc: list[int] | None = Field(
        None, min_length=1, max_length=4, description="Z2 with spin-orbit coupling switched off."
    )
    routes_agree: bool | None = Field(
        None, description="Whether parity and Wilson-loop routes agree (None: one route run)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Z2Document:
        if classify_z2(self.z2) != self.classification:
            raise ValueError(
                f"classification {self.classification!r} contradicts Z2 = {self.z2} "
                f"({classify_z2(self.z2)!r})"
            )
        return self

    @classmethod
    def from_indices(
        cls, z2: Sequence[int], route: Literal["parity", "wilson"], **kwargs: Any
    ) -> Z2Document:
        """Build from the indices (four in 3D, one in 2D), deriving the classification."""
        return cls(z2=[int(v) for v in z2], classification=classify_z2(z2), route=route, **kwargs)


class GapsDocument(BaseModel):
    """Band gaps with and without spin-orbit coupling (eV; 0 for a metal)."""

    direct: float | None = Field(None, ge=0.0, description="Smallest direct gap with SOC (eV).")
    indirect: float | None = Field(
        None, ge=0.0, description="Fundamental (indirect) gap with SOC (eV)."
    )
    direct_no_soc: float | None = Field(
        None, ge=0.0, description="Smallest direct gap without SOC (eV)."
    )
    indirect_no_soc: float | None = Field(
        None, ge=0.0, description="Fundamental (indirect) gap without SOC (eV)."
    )
    k_direct: list[float] | None = Field(
        None, min_length=3, max_length=3, description="k of the direct SOC gap (fractional)."
    )
    k_vbm: list[float] | None = Field(
        None, min_length=3, max_length=3, description="k of the valence-band maximum (fractional)."
    )
    k_cbm: list[float] | None = Field(
        None,
        min_length=3,
        max_length=3,
        description="k of the conduction-band minimum (fractional).",
    )
    kind: Literal["insulator", "semimetal", "metal"] | None = Field(
        None,
        description="With SOC: 'insulator' (indirect gap open), 'semimetal' (bands overlap "
        "in energy but the direct gap is open at every k, so Z2 is defined) or 'metal' "
        "(the direct gap closes, or an odd electron count).",
    )
    band_overlap: float | None = Field(
        None,
        ge=0.0,
        description="How far the valence maximum lies above the conduction minimum with "
        "SOC (eV): > 0 for a semimetal, 0 with a gap, None for a metal.",
    )
    sampling: str | None = Field(
        None,
        description="The k-points the gaps were taken over (socscreen.analysis.gaps): "
        "Gamma-centred grid, band path and refined extrema.",
    )


class BerryCurvatureDocument(BaseModel):
    """Berry-curvature figures of the occupied bands."""

    max_abs_curvature: float | None = Field(
        None, ge=0.0, description="Largest |Omega_z| along the k-path (Angstrom^2)."
    )
    k_max_curvature: list[float] | None = Field(
        None, min_length=3, max_length=3, description="k of the largest |Omega_z| (fractional)."
    )
    ahc: list[float] | None = Field(
        None,
        min_length=3,
        max_length=3,
        description="Anomalous Hall conductivity (sigma_yz, sigma_zx, sigma_xy) at the "
        "Fermi level (S/cm).",
    )
    shc: float | None = Field(
        None, description="Spin Hall conductivity sigma^z_xy at the Fermi level ((hbar/e) S/cm)."
    )
    fermi_level: float | None = Field(None, description="Energy the conductivities refer to (eV).")


class ValleyDocument(BaseModel):
    """Valley figures of a hexagonal 2D sheet at K and K' = -K (socscreen.analysis.valley).

    Spinor bands with SOC; band ``v`` is the top valence band, ``c = v + 1`` the bottom
    conduction band; spins are ``<sigma_z>`` along Cartesian z. Berry curvature, spins and
    dichroism are None for a cell analysed at its valley edges only (flag
    'valley_edges_only': a large cell on sparse blocks).
    """

    k_valley: list[float] = Field(
        min_length=3, max_length=3, description="K (fractional; K' = -K)."
    )
    valence_splitting_eV: float = Field(
        ge=0.0, description="Spin splitting of the top valence pair at K, E[v] - E[v-1] (eV)."
    )
    conduction_splitting_eV: float = Field(
        ge=0.0, description="Spin splitting of the bottom conduction pair at K (eV)."
    )
    direct_gap_k_eV: float = Field(description="Direct gap at K, E[c] - E[v] (eV).")
    omega_k: float | None = Field(
        None,
        description="Berry curvature of the occupied bands at K along the sheet normal "
        "b1 x b2 (Angstrom^2).",
    )
    omega_k_prime: float | None = Field(
        None, description="The same at K' (Angstrom^2); opposite to omega_k with time reversal."
    )
    valence_spin_k: float | None = Field(
        None, ge=-1.0, le=1.0, description="<sigma_z> of the top valence band at K."
    )
    conduction_spin_k: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="<sigma_z> of the bottom conduction band at K: the valence spin's sign "
        "for a bright lowest exciton (MoX2), the opposite one for a dark one (WX2).",
    )
    circular_dichroism_k: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Circular polarisation (|P+|^2 - |P-|^2) / (|P+|^2 + |P-|^2) of the "
        "transitions from the top valence band to the bottom conduction pair at K.",
    )
    circular_dichroism_k_prime: float | None = Field(
        None, ge=-1.0, le=1.0, description="The same at K'; opposite to K's in a valley material."
    )


class TimingsDocument(BaseModel):
    """Wall times of one material (s)."""

    predict: float | None = Field(None, ge=0.0, description="Model prediction (s).")
    analysis: float | None = Field(None, ge=0.0, description="Analysis (s).")
    total: float | None = Field(None, ge=0.0, description="Whole processing (s).")


class VerdictDocument(BaseModel):
    """What a result means: its class and whether it is a candidate, with the reason."""

    material_class: MaterialClass = Field(
        description="topological_insulator (Z2 != 0, gap >= the campaign's min_gap), "
        "topological_semimetal (Z2 != 0, direct gap open at every k but no usable "
        "indirect gap: bands overlap or the gap is below min_gap), trivial_insulator, "
        "trivial_semimetal, metal (the direct gap closes: no Z2), undetermined (gapped "
        "but no Z2 index) or failed (an error)."
    )
    candidate: bool = Field(description="Selected for follow-up (topological classes).")
    reason: str = Field(description="One line saying why, with the numbers (eV).")

    @classmethod
    def from_error(cls, error: ErrorDocument) -> VerdictDocument:
        """Return the verdict of a result that failed: its stage and reason."""
        return cls(
            material_class="failed",
            candidate=False,
            reason=f"not a candidate: {error.stage} failed: {error.reason}",
        )


class MaterialResultDocument(BaseModel):
    """Result of one material in one campaign (unique by campaign + material_id)."""

    material_id: str = Field(description="Stable id of the structure (see StructureRecord).")
    campaign: str = Field(description="Campaign name.")
    formula: str | None = Field(None, description="Formula of the primitive cell.")
    reduced_formula: str | None = Field(None, description="Reduced formula.")
    elements: list[str] = Field(default_factory=list, description="Sorted element symbols.")
    nsites: int | None = Field(None, description="Sites of the primitive cell.")
    density: float | None = Field(None, description="Mass density (g/cm^3).")
    structure: dict[str, Any] | None = Field(
        None, description="Primitive cell as pymatgen Structure.as_dict() (Angstrom)."
    )
    z2: Z2Document | None = Field(None, description="Z2 invariants and how they were obtained.")
    confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="Confidence of the topological assignment (0-1)."
    )
    gaps: GapsDocument | None = Field(None, description="Band gaps with and without SOC (eV).")
    gap_eV: float | None = Field(
        None, ge=0.0, description="Headline gap = gaps.indirect, with SOC (eV); indexed."
    )
    band_inversion: bool | None = Field(
        None, description="Whether SOC inverts bands (parity or gap closing as SOC is turned on)."
    )
    spin_splitting_max: float | None = Field(
        None, ge=0.0, description="Largest spin splitting of bands near the Fermi level (eV)."
    )
    spin_splitting_k: list[float] | None = Field(
        None, min_length=3, max_length=3, description="k of the largest splitting (fractional)."
    )
    berry: BerryCurvatureDocument | None = Field(None, description="Berry-curvature figures.")
    dimension: int | None = Field(
        None,
        description="Periodic dimensions of the structure: 3 bulk, 2 slab (see StructureRecord).",
    )
    valley: ValleyDocument | None = Field(
        None,
        description="Valley figures at K and K' of a hexagonal 2D sheet that is not a metal; "
        "None for other results.",
    )
    flags: list[str] = Field(
        default_factory=list,
        description="Warnings for follow-up, e.g. 'gapless', 'z2_routes_disagree', 'error'.",
    )
    error: ErrorDocument | None = Field(None, description="Why processing failed, if it did.")
    verdict: VerdictDocument | None = Field(
        None, description="Class and candidate decision with its one-line reason."
    )
    model_version: str | None = Field(
        None,
        description="Version label of what predicted H: the checkpoint's "
        "(NAME-VERSION+SHA12) or the zeroth-step baseline's (H0-zeroth-step-GPAW-...).",
    )
    predictor: Literal["model", "baseline", "scc"] | None = Field(
        None,
        description="Predictor of H: the Uni-HamGNN model, the zeroth-step baseline, or the "
        "baseline with self-consistent charges.",
    )
    timings: TimingsDocument = Field(
        default_factory=TimingsDocument, description="Wall times per stage (s)."
    )
    created_at: datetime = Field(default_factory=_now, description="Creation time (UTC).")
    last_updated: datetime = Field(default_factory=_now, description="Last update (UTC).")

    @model_validator(mode="after")
    def _headline_gap(self) -> MaterialResultDocument:
        if self.gap_eV is None and self.gaps is not None:
            self.gap_eV = self.gaps.indirect
        if self.error is not None and "error" not in self.flags:
            self.flags.append("error")
        if self.error is not None and self.verdict is None:
            self.verdict = VerdictDocument.from_error(self.error)
        return self

    @classmethod
    def from_record(
        cls, record: StructureRecord, campaign: str | None = None, **fields: Any
    ) -> MaterialResultDocument:
        """Start a result from an ingested record; ``fields`` fill the rest.

        ``campaign`` defaults to the record's campaign; the record's flags are added to
        those in ``fields``.
        """
        campaign = campaign or record.campaign
        if not campaign:
            raise ValueError(f"record {record.material_id} belongs to no campaign: pass one")
        density = None
        if record.structure is not None:
            density = float(record.get_structure().density)
        identity = {
            "material_id": record.material_id,
            "campaign": campaign,
            "formula": record.formula,
            "reduced_formula": record.reduced_formula,
            "elements": list(record.elements),
            "nsites": record.nsites,
            "dimension": record.dimension,
            "density": density,
            "structure": record.structure,
        }
        if record.error is not None:
            identity["error"] = record.error
        flags = sorted({*record.flags, *fields.pop("flags", [])})
        return cls(**{**identity, **fields, "flags": flags})

    @classmethod
    def from_error(
        cls,
        record: StructureRecord,
        stage: Stage,
        exc: BaseException,
        campaign: str | None = None,
        **fields: Any,
    ) -> MaterialResultDocument:
        """Build the result of a structure whose processing raised ``exc`` in ``stage``."""
        error = ErrorDocument.from_exception(stage, exc)
        return cls.from_record(record, campaign, error=error, **fields)


class CandidateDocument(BaseModel):
    """A material selected for follow-up (e.g. a DFT rerun), derived from a result."""

    material_id: str = Field(description="Stable id of the structure.")
    campaign: str = Field(description="Campaign name.")
    formula: str | None = Field(None, description="Formula of the primitive cell.")
    reduced_formula: str | None = Field(None, description="Reduced formula.")
    elements: list[str] = Field(default_factory=list, description="Sorted element symbols.")
    z2: Z2Document | None = Field(None, description="Z2 invariants of the result.")
    gap_eV: float | None = Field(None, description="Fundamental gap with SOC (eV).")
    reasons: list[str] = Field(description="Why the material was selected.")
    result_last_updated: datetime = Field(
        description="last_updated of the result it was derived from (UTC)."
    )
    last_updated: datetime = Field(default_factory=_now, description="Selection time (UTC).")


class SourceSubmission(BaseModel):
    """What the last ingestion of one source gave a campaign.

    Every entry read is exactly one of: a record (a structure or an ingestion error), a
    merge into a record (named on that record), a filter rejection (counted per
    criterion) or a skipped entry (named here with its reason).
    """

    kind: Literal["gnome", "folder", "pymatgen-json"] = Field(
        "folder", description="Source format (see SourceInfo)."
    )
    path: str = Field(description="Absolute path of the source as submitted.")
    n_read: int = Field(0, ge=0, description="Entries read: files of a folder, rows, list items.")
    n_structures: int = Field(0, ge=0, description="Entries ingested as usable structures.")
    n_ingest_errors: int = Field(0, ge=0, description="Entries that could not be ingested.")
    n_merged: int = Field(0, ge=0, description="Entries merged into a record as the same crystal.")
    filtered: dict[str, int] = Field(
        default_factory=dict, description="Entries removed by the filter, per criterion."
    )
    skipped: list[SkippedEntry] = Field(
        default_factory=list, description="Entries that are no structure, with the reason."
    )
    ingest_time: float = Field(0.0, ge=0.0, description="Wall time of the ingestion (s).")
    submitted_at: datetime = Field(default_factory=_now, description="Submission time (UTC).")

    @property
    def n_filtered(self) -> int:
        """Entries removed by the filter."""
        return sum(self.filtered.values())


class CampaignSummaryDocument(BaseModel):
    """State of a campaign (one document per campaign, updated on every submission).

    The ingestion counts are sums over ``sources``; submitting a source again replaces
    its entry, so they never count a source twice.
    """

    campaign: str = Field(description="Campaign name.")
    sources: list[SourceSubmission] = Field(
        default_factory=list, description="Submitted sources, with what each one gave."
    )
    filters: StructureFilter = Field(
        default_factory=StructureFilter, description="Structure filter of the last submission."
    )
    settings: CampaignSettings = Field(
        default_factory=CampaignSettings, description="Campaign settings of the last submission."
    )
    n_read: int = Field(0, ge=0, description="Entries read from the sources.")
    n_filtered: int = Field(0, ge=0, description="Entries removed by the filter.")
    n_duplicates: int = Field(0, ge=0, description="Entries merged as duplicates.")
    n_ingest_errors: int = Field(0, ge=0, description="Entries that could not be ingested.")
    n_skipped: int = Field(0, ge=0, description="Entries that are no structure (named per source).")
    n_structures: int = Field(0, ge=0, description="Ingested structures of the campaign.")
    n_results: int = Field(0, ge=0, description="Result documents (errors included).")
    n_failed: int = Field(0, ge=0, description="Results carrying an error.")
    n_candidates: int = Field(0, ge=0, description="Selected candidates.")
    by_class: dict[str, int] = Field(
        default_factory=dict, description="Results per Z2 class (strong, weak, trivial)."
    )
    by_verdict: dict[str, int] = Field(
        default_factory=dict,
        description="Results per verdict class (VerdictDocument.material_class: "
        "topological_insulator, ..., metal, failed); classes without results are left out.",
    )
    workflow_ids: list[int] = Field(
        default_factory=list, description="FireWorks ids of the root Firework of each submission."
    )
    ingest_time: float | None = Field(None, ge=0.0, description="Wall time of ingestion (s).")
    created_at: datetime = Field(default_factory=_now, description="First submission (UTC).")
    last_updated: datetime = Field(default_factory=_now, description="Last update (UTC).")

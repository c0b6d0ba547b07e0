"""What a campaign report shows, gathered and summed up (no HTML): see :mod:`.report`.

:func:`load_report_data` reads a campaign's summary, results, candidates and validations
from the stores; :func:`validation_statistics` sums up how the validations agree;
:func:`band_thumbnails` draws the band thumbnails of candidates and validated materials
from the Hamiltonians the campaign stored (over the DFT bands of a validation where one
exists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jobflow import JobStore

from socscreen.stores.config import DatabaseConfig
from socscreen.stores.queries import require_campaign
from socscreen.stores.schemas.campaign import (
    CampaignSummaryDocument,
    CandidateDocument,
    MaterialResultDocument,
)
from socscreen.stores.schemas.validation import ValidationDocument

__all__ = [
    "ReportData",
    "ValidationStatistics",
    "band_thumbnails",
    "load_report_data",
    "validation_statistics",
]


@dataclass
class ReportData:
    """Everything stored about one campaign that the report shows."""

    summary: CampaignSummaryDocument
    results: list[MaterialResultDocument]
    candidates: list[CandidateDocument]
    validations: list[ValidationDocument]

    @property
    def results_by_id(self) -> dict[str, MaterialResultDocument]:
        """Results keyed by material id."""
        return {r.material_id: r for r in self.results}


def _query(db: DatabaseConfig, name: str, campaign: str, drop: Iterable[str] = ()) -> list[dict]:
    properties = {"_id": 0, **dict.fromkeys(drop, 0)}
    with db.connected(name) as (store,):
        return list(
            store.query({"campaign": campaign}, properties=properties, sort={"material_id": 1})
        )


def load_report_data(db: DatabaseConfig, campaign: str) -> ReportData:
    """Read a campaign's summary, results, candidates and validations.

    Raises
    ------
    ValueError
        If the campaign does not exist.
    """
    return ReportData(
        summary=require_campaign(db, campaign),
        results=[MaterialResultDocument.model_validate(d) for d in _query(db, "results", campaign)],
        candidates=[
            CandidateDocument.model_validate(d) for d in _query(db, "candidates", campaign)
        ],
        validations=[
            ValidationDocument.model_validate(d) for d in _query(db, "validations", campaign)
        ],
    )


@dataclass
class ValidationStatistics:
    """Agreement of predictions with their DFT validations.

    Attributes
    ----------
    n_validations
        Validation documents.
    n_z2_compared
        Validations where both the predicted and the DFT Z2 are defined.
    n_z2_agree
        Of those, the ones whose indices agree.
    band_mae
        Band MAE near E_F on the DFT k-points of each validation, eV.
    gap_pairs
        ``(material_id, predicted gap, DFT gap)`` where both are known, eV.
    """

    n_validations: int = 0
    n_z2_compared: int = 0
    n_z2_agree: int = 0
    band_mae: list[float] = field(default_factory=list)
    gap_pairs: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def z2_agreement_rate(self) -> float | None:
        """Fraction of compared Z2 assignments that agree (None if none compared)."""
        return self.n_z2_agree / self.n_z2_compared if self.n_z2_compared else None

    @property
    def gap_mae(self) -> float | None:
        """Mean |predicted - DFT| gap, eV (None without pairs)."""
        if not self.gap_pairs:
            return None
        return float(np.mean([abs(p - d) for _, p, d in self.gap_pairs]))


def validation_statistics(validations: Iterable[ValidationDocument]) -> ValidationStatistics:
    """Agreement statistics of a set of validations."""
    stats = ValidationStatistics()
    for doc in validations:
        stats.n_validations += 1
        if doc.z2_agree is not None:
            stats.n_z2_compared += 1
            stats.n_z2_agree += int(doc.z2_agree)
        stats.band_mae.append(doc.band_comparison.band_mae)
        if doc.gap_predicted is not None and doc.gap_dft is not None:
            stats.gap_pairs.append((doc.material_id, doc.gap_predicted, doc.gap_dft))
    return stats


def band_thumbnails(
    data: ReportData,
    job_store: JobStore,
    limit: int = 24,
    progress: Callable[[str], None] | None = None,
) -> dict[str, bytes]:
    """PNG band thumbnails of the candidates and validated materials.

    Each material's bands come from the Hamiltonian the campaign stored (whatever
    predictor or checkpoint made it; nothing is predicted again); where a validation
    wrote its DFT Hamiltonian (``dft_hamiltonian_path``) the DFT bands are drawn under
    the predicted ones on the same path.

    Parameters
    ----------
    data
        The campaign's documents.
    job_store
        The campaign's connected JobStore (its ``data`` store holds the predictions).
    limit
        At most this many thumbnails (candidates first, then validated materials).
    progress
        Called with each material id before its figure is drawn.

    Returns
    -------
    dict
        PNG bytes per material id.
    """
    from socscreen.analysis.bands import band_structure
    from socscreen.analysis.validation_plots import plot_band_comparison, png_bytes
    from socscreen.hamiltonian import Hamiltonian
    from socscreen.stores.queries import load_hamiltonian

    dft_paths = {v.material_id: v.dft_hamiltonian_path for v in data.validations}
    ids = list(dict.fromkeys([c.material_id for c in data.candidates] + list(dft_paths)))
    results = data.results_by_id
    out: dict[str, bytes] = {}
    for material_id in ids[:limit]:
        result = results.get(material_id)
        if result is None or result.structure is None:
            continue
        if progress is not None:
            progress(material_id)
        try:
            predicted = load_hamiltonian(job_store, data.summary.campaign, material_id)
        except ValueError:  # e.g. failed before its prediction was stored
            continue
        bands = band_structure(predicted, soc=True)
        dft_bands = None
        dft_file = dft_paths.get(material_id)
        if dft_file and Path(dft_file).is_file():
            dft = Hamiltonian.from_npz(dft_file)
            dft_bands = band_structure(dft, soc=True)
        title = f"{result.reduced_formula or ''} ({material_id})"
        out[material_id] = png_bytes(plot_band_comparison(bands, dft_bands, title=title))
    return out

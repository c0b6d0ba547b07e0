"""Analysis stage of a campaign: Hamiltonians in, result documents out.

The physics is :func:`socscreen.analysis.screening.analyse_hamiltonian` (a plain function:
what is computed per material, the flag rules and the confidence are described there);
:meth:`AnalysisFields.of` turns its :class:`~socscreen.analysis.screening.Screening` into the
typed sub-documents of :class:`~socscreen.stores.schemas.campaign.MaterialResultDocument`
(:func:`analysis_fields` does both); :func:`analyse_structure` joins them with the ingested
record; :class:`AnalyseBatchMaker` is the analyse job of a batch: it receives the predict
job's output (Hamiltonians from the ``data`` store, prediction failures) through its output
reference and writes one result or error document per structure, each with its verdict
(class, candidate decision and reason, :func:`~socscreen.stores.verdicts.with_verdict`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from jobflow import Maker
from pydantic import BaseModel, Field
from tqdm.auto import tqdm

from socscreen.analysis.screening import Screening, analyse_hamiltonian
from socscreen.hamiltonian import Hamiltonian
from socscreen.makers.batch import (
    BatchSummary,
    campaign_job,
    campaign_stores,
    peak_memory_mb,
    records_to_do,
)
from socscreen.makers.predict import (
    PredictedBatch,
    PredictedHamiltonian,
    PredictionFailure,
    expected_prediction_version,
    result_version,
)
from socscreen.sparse_hamiltonian import SparseHamiltonian
from socscreen.stores.queries import save_results
from socscreen.stores.schemas.campaign import (
    BerryCurvatureDocument,
    CampaignSettings,
    ErrorDocument,
    GapsDocument,
    MaterialResultDocument,
    StructureRecord,
    TimingsDocument,
    ValleyDocument,
    Z2Document,
)
from socscreen.stores.verdicts import with_verdict

__all__ = [
    "NO_PREDICTION",
    "AnalyseBatchMaker",
    "Analyser",
    "AnalysisFields",
    "analyse_structure",
    "analysis_fields",
]

#: The per-structure function of an analyse job: record, Hamiltonian and settings to result.
Analyser = Callable[
    [StructureRecord, Hamiltonian | SparseHamiltonian, CampaignSettings], MaterialResultDocument
]

#: Reason recorded for a structure whose predict job left no output at all.
NO_PREDICTION = "no prediction: the predict job of this batch left no output (see its Firework)"


class AnalysisFields(BaseModel):
    """The physics fields of a result document (a :class:`Screening` as documents)."""

    z2: Z2Document | None = Field(None, description="Z2 invariants (None if undefined).")
    confidence: float = Field(0.0, ge=0.0, le=1.0, description="Confidence of z2 (0-1).")
    gaps: GapsDocument = Field(description="Gaps with and without SOC (eV).")
    band_inversion: bool | None = Field(None, description="SOC inverts bands at the gap.")
    spin_splitting_max: float | None = Field(
        None, ge=0.0, description="Largest splitting of the gap band pairs on the path (eV)."
    )
    spin_splitting_k: list[float] | None = Field(
        None, description="Fractional k of the largest splitting."
    )
    berry: BerryCurvatureDocument | None = Field(None, description="Berry-curvature figures.")
    valley: ValleyDocument | None = Field(
        None, description="Valley figures at K and K' (hexagonal 2D sheets that are no metal)."
    )
    flags: list[str] = Field(default_factory=list, description="Analysis warnings.")
    seconds: float = Field(0.0, ge=0.0, description="Wall time of the analysis (s).")

    @classmethod
    def of(cls, screening: Screening) -> AnalysisFields:
        """Return the documents of a screening's fields (values unchanged)."""
        z2, gaps, berry, valley = (screening.z2, screening.gaps, screening.berry, screening.valley)
        return cls(
            z2=None if z2 is None else Z2Document.from_indices(**asdict(z2)),
            confidence=screening.confidence,
            gaps=GapsDocument(**asdict(gaps)),
            band_inversion=screening.band_inversion,
            spin_splitting_max=screening.spin_splitting_max,
            spin_splitting_k=screening.spin_splitting_k,
            berry=None if berry is None else BerryCurvatureDocument(**asdict(berry)),
            valley=None if valley is None else ValleyDocument(**asdict(valley)),
            flags=screening.flags,
            seconds=screening.seconds,
        )


def analysis_fields(
    ham: Hamiltonian | SparseHamiltonian, settings: CampaignSettings
) -> AnalysisFields:
    """Screen a Hamiltonian (:func:`~socscreen.analysis.screening.analyse_hamiltonian`).

    Returns
    -------
    AnalysisFields
        The physics fields as result sub-documents; problems are reported in ``flags``.
    """
    return AnalysisFields.of(analyse_hamiltonian(ham, settings))


def analyse_structure(
    record: StructureRecord, ham: Hamiltonian | SparseHamiltonian, settings: CampaignSettings
) -> MaterialResultDocument:
    """Build the result document of one structure from its predicted Hamiltonian.

    Parameters
    ----------
    record
        The ingested structure (``record.campaign`` set).
    ham
        Its Hamiltonian with spin-orbit blocks (sparse for a large cell: the valley edges
        only, :func:`~socscreen.analysis.screening.analyse_valley_edges`).
    settings
        Campaign settings (analysis options, ``model_version``).

    Returns
    -------
    MaterialResultDocument
        Identity from the record, physics from :func:`analysis_fields`, the predictor
        and its version (:func:`~socscreen.makers.predict.result_version`) and the
        analysis time.
    """
    fields = analysis_fields(ham, settings)
    return MaterialResultDocument.from_record(
        record,
        **fields.model_dump(exclude={"seconds"}),
        model_version=result_version(settings, ham.meta),
        predictor=ham.meta.get("predictor", settings.predictor),
        timings=TimingsDocument(analysis=fields.seconds),
    )


@dataclass
class AnalyseBatchMaker(Maker):
    """Analyse the predicted Hamiltonians of a batch and store its result documents.

    Parameters
    ----------
    name
        Job name.
    analyser
        Per-structure function ``(record, hamiltonian, settings) ->
        MaterialResultDocument``; importable (jobs are serialised by reference).
    """

    name: str = "analyse batch"
    analyser: Analyser = analyse_structure

    @campaign_job
    def make(
        self,
        campaign: str,
        material_ids: list[str],
        predicted: PredictedBatch | None,
        settings: CampaignSettings,
    ) -> BatchSummary:
        """Write the result (or error) document of every not yet done structure.

        Parameters
        ----------
        campaign
            Campaign name.
        material_ids
            Ids of the batch.
        predicted
            Output of the batch's predict job (an output reference when the flow is
            built); ``None`` when that job left no output.
        settings
            Settings passed to the analyser.

        Returns
        -------
        BatchSummary
            Counts of the run; the documents themselves are in ``results``.
        """
        t0, cpu0 = time.perf_counter(), time.process_time()
        hamiltonians = {p.material_id: p for p in predicted.hamiltonians} if predicted else {}
        failures = {f.material_id: f for f in predicted.failures} if predicted else {}
        with campaign_stores("structures", "results") as (structures, results):
            records, n_skipped = records_to_do(
                structures, results, campaign, material_ids, expected_prediction_version(settings)
            )
            n_failed = 0
            for record in tqdm(records, desc=self.name):
                prediction = hamiltonians.get(record.material_id)
                if prediction is not None:
                    doc = self._analyse(record, prediction, settings)
                else:
                    doc = _prediction_error(record, failures.get(record.material_id))
                save_results(results, [with_verdict(doc, settings.min_gap)])
                n_failed += doc.error is not None
        return BatchSummary(
            campaign=campaign,
            material_ids=material_ids,
            n_processed=len(records),
            n_failed=n_failed,
            n_skipped=n_skipped,
            seconds=time.perf_counter() - t0,
            cpu_seconds=time.process_time() - cpu0,
            peak_memory_mb=peak_memory_mb(),
        )

    def _analyse(
        self, record: StructureRecord, prediction: PredictedHamiltonian, settings: CampaignSettings
    ) -> MaterialResultDocument:
        """Run the analyser; any exception becomes the record's analysis error.

        The result carries the prediction's model version unless the analyser set one
        (resubmissions redo results of another model, see ``done_ids``).
        """
        t0 = time.perf_counter()
        meta = prediction.hamiltonian.meta
        version = result_version(settings, meta)
        try:
            doc = self.analyser(record, prediction.hamiltonian, settings)
        except Exception as exc:  # one structure's failure must not stop the batch
            doc = MaterialResultDocument.from_error(record, "analysis", exc, model_version=version)
        if (doc.material_id, doc.campaign) != (record.material_id, record.campaign):
            raise ValueError(
                f"analyser returned the result of {doc.material_id!r} in {doc.campaign!r} "
                f"for {record.material_id!r} in {record.campaign!r}"
            )
        analysis = doc.timings.analysis or time.perf_counter() - t0
        timings = TimingsDocument(
            predict=prediction.seconds, analysis=analysis, total=prediction.seconds + analysis
        )
        return doc.model_copy(
            update={
                "timings": timings,
                "model_version": doc.model_version or version,
                "predictor": meta.get("predictor", settings.predictor),
            }
        )


def _prediction_error(
    record: StructureRecord, failure: PredictionFailure | None
) -> MaterialResultDocument:
    """Error document of a structure that has no predicted Hamiltonian."""
    if failure is None:
        error = ErrorDocument(stage="predict", reason=NO_PREDICTION)
        return MaterialResultDocument.from_record(record, error=error)
    timings = TimingsDocument(predict=failure.seconds, total=failure.seconds)
    return MaterialResultDocument.from_record(record, error=failure.error, timings=timings)

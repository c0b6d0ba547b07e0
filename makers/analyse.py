"""Analysis stage of a campaign: Hamiltonians in, result documents out.

:func:`analyse_hamiltonian` is a plain function (no jobflow) that calls
:mod:`socscreen.analysis` and translates its results into the typed sub-documents of
:class:`~socscreen.stores.schemas.campaign.MaterialResultDocument`;
:func:`analyse_structure` joins them with the ingested record; :class:`AnalyseBatchMaker`
is the analyse job of a batch: it receives the predict job's output (Hamiltonians from the
``data`` store, prediction failures) through its output reference and writes one result
or error document per structure, each with its verdict (class, candidate decision and
reason, :func:`~socscreen.stores.verdicts.with_verdict`).

What is computed, per material
------------------------------
* gaps with and without SOC (direct and indirect) by the one gap definition,
  :func:`~socscreen.analysis.gaps.band_gap` (grid, band path and refinement; the
  Z2 route's loops add the k where they find the gap closed);
* Z2 indices by ``settings.z2_route``, with and without SOC: by default (``"screening"``)
  Fu-Kane parities when the Hamiltonian has an inversion centre (milliseconds) and Wilson
  loops otherwise; ``"auto"`` adds the Wilson cross-check for centrosymmetric crystals
  (several times slower); metals and gapless cases become flags, never exceptions;
* the SOC band-inversion indicator (parity change at a TRIM for centrosymmetric crystals,
  gap closing and reopening as SOC is switched on otherwise; the SOC scan runs only where
  it is the indicator);
* the largest spin splitting of the band pairs at the gap along the standard k-path;
* Berry curvature of the occupied bands along the path, only where it can be non-zero:
  with time reversal and inversion together Omega(k) vanishes identically, so it is
  evaluated for non-centrosymmetric insulators only.
* the valley figures of a hexagonal 2D sheet that is not a metal (MX2 monolayers):
  spin splittings, direct gap, Berry curvature, spins and circular dichroism at K and K'
  (:func:`~socscreen.analysis.valley.valley_quantities`).

The gaps with and without SOC are computed once and handed to the Z2 and band-inversion
functions.

Confidence
----------
``confidence`` in [0, 1] is ``min(1, g / 0.1 eV)`` with ``g`` the smallest direct gap the
Z2 evidence rests on (on the Wilson loops when they ran, else at the TRIM/grid), halved
when the parity and Wilson routes disagree, and 0 when no Z2 index could be assigned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from jobflow import Maker
from pydantic import BaseModel, Field
from tqdm.auto import tqdm

from socscreen.analysis import (
    LowdinBloch,
    band_gap,
    band_structure,
    berry_curvature,
    hamiltonian_inversion,
    n_occupied,
    soc_band_inversion,
    z2_invariants,
)
from socscreen.analysis.gaps import GapResult
from socscreen.analysis.topology import Route, Z2Result, screening_route
from socscreen.analysis.valley import hexagonal_sheet, valley_quantities
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
    "CONFIDENT_GAP_EV",
    "NO_PREDICTION",
    "AnalyseBatchMaker",
    "Analyser",
    "AnalysisFields",
    "analyse_hamiltonian",
    "analyse_structure",
    "z2_confidence",
]

#: The per-structure function of an analyse job: record, Hamiltonian and settings to result.
Analyser = Callable[[StructureRecord, Hamiltonian, CampaignSettings], MaterialResultDocument]

#: Reason recorded for a structure whose predict job left no output at all.
NO_PREDICTION = "no prediction: the predict job of this batch left no output (see its Firework)"

#: SOC scale factors of the gap-closing scan (non-centrosymmetric band-inversion indicator).
SOC_SCAN_LAMBDAS = 6

#: Direct gap (eV) along the Z2 evidence above which an assignment counts as fully confident.
CONFIDENT_GAP_EV = 0.1

#: Splittings below this (eV) are numerical noise of Kramers-degenerate bands.
SPLITTING_RESOLUTION_EV = 1e-6


class AnalysisFields(BaseModel):
    """The physics fields of a result document, as produced by :func:`analyse_hamiltonian`."""

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


def z2_confidence(result: Z2Result) -> float:
    """Confidence in [0, 1] of a Z2 assignment (see the module docstring)."""
    if result.z2 is None:
        return 0.0
    evidence = [g for g in (result.min_loop_gap_eV, result.trim_gap_eV) if g is not None]
    gap = min(evidence) if evidence else (result.direct_gap_eV or 0.0)
    confidence = float(np.clip(gap / CONFIDENT_GAP_EV, 0.0, 1.0))
    return 0.5 * confidence if result.routes_agree is False else confidence


def _z2_document(on: Z2Result, off: Z2Result) -> Z2Document | None:
    if on.z2 is None:
        return None
    route = "parity" if on.z2_parity is not None and on.route != "wilson" else "wilson"
    no_soc = off.z2 if off.z2 is not None and len(off.z2) == len(on.z2) else None
    return Z2Document.from_indices(
        on.z2,
        route,
        n_occupied=on.n_occupied,
        z2_no_soc=no_soc,
        routes_agree=on.routes_agree,
    )


def _gaps_document(on: GapResult, off: GapResult) -> GapsDocument:
    """Return the stored gaps (eV): 0 where none; a semimetal keeps its open direct gap."""

    def gaps(result: GapResult) -> tuple[float, float]:
        direct = 0.0 if result.kind == "metal" else max(result.direct_gap_eV, 0.0)
        indirect = max(result.indirect_gap_eV, 0.0) if result.kind == "insulator" else 0.0
        return direct, indirect

    (direct, indirect), (direct_off, indirect_off) = gaps(on), gaps(off)
    return GapsDocument(
        direct=direct,
        indirect=indirect,
        direct_no_soc=direct_off,
        indirect_no_soc=indirect_off,
        k_direct=on.k_direct,
        k_vbm=on.k_vbm,
        k_cbm=on.k_cbm,
        kind=on.kind,
        band_overlap=None if on.kind == "metal" else max(-on.indirect_gap_eV, 0.0),
        sampling=on.sampling,
    )


def _berry_along_path(ham: Hamiltonian, kpoints: np.ndarray) -> BerryCurvatureDocument:
    """Largest occupied-band Omega_z on the path, from the exact Löwdin bands.

    Not from a real-space Löwdin model: its truncation error reaches 0.4 eV where S(k) is
    nearly singular (MX2 sheets) and hundreds of eV across the dropped overlap directions
    of a prediction (predicted WS2: 2300 Angstrom^2 instead of 21).
    """
    omega = berry_curvature(LowdinBloch(ham), kpoints, n_occ=n_occupied(ham.nelect))[:, 2]
    i = int(np.abs(omega).argmax())
    return BerryCurvatureDocument(
        max_abs_curvature=float(abs(omega[i])),
        k_max_curvature=[float(x) for x in kpoints[i]],
        fermi_level=ham.efermi,
    )


def _route(settings: CampaignSettings, centrosymmetric: bool) -> Route:
    if settings.z2_route == "screening":
        return screening_route(centrosymmetric)
    return settings.z2_route


def analyse_hamiltonian(ham: Hamiltonian, settings: CampaignSettings) -> AnalysisFields:
    """Gaps, Z2, band inversion, spin splitting, Berry curvature and valleys of a Hamiltonian.

    Parameters
    ----------
    ham
        Predicted (or DFT) Hamiltonian with spin-orbit blocks; ``nelect`` sets the filling.
    settings
        Campaign settings (``z2_route``, ``berry_curvature``, ``min_gap``).

    Returns
    -------
    AnalysisFields
        The physics fields; problems are reported in ``flags``.

    Raises
    ------
    ValueError
        If the Hamiltonian has no spin-orbit blocks or a fractional electron count.
    """
    t0 = time.perf_counter()
    if not ham.has_soc:
        raise ValueError("the campaign analysis needs a Hamiltonian with spin-orbit blocks")
    ham = ham.symmetrized()
    if ham.nelect % 2:  # a half-filled Kramers pair: a metal with or without SOC
        return AnalysisFields(
            gaps=GapsDocument(direct=0.0, indirect=0.0, direct_no_soc=0.0, indirect_no_soc=0.0),
            flags=["metal", "odd_electron_count"],
            seconds=time.perf_counter() - t0,
        )
    flags: list[str] = []
    if ham.meta.get("uncorrected_elements"):  # H(0) alone: the correction never saw them
        flags.append("uncorrected_elements")
    gap_on, gap_off = band_gap(ham, soc=True), band_gap(ham, soc=False)
    inversion, _ = hamiltonian_inversion(LowdinBloch(ham))
    centrosymmetric = inversion is not None
    route = _route(settings, centrosymmetric)
    z2_on = z2_invariants(ham, route=route, soc=True, gap=gap_on)
    z2_off = z2_invariants(ham, route=route, soc=False, gap=gap_off)
    # a closing the Z2 route's loops found replaces the gap (then a metal)
    gap_on, gap_off = z2_on.band_gap or gap_on, z2_off.band_gap or gap_off
    if gap_on.kind != "insulator":
        flags.append(gap_on.kind)
    elif gap_on.indirect_gap_eV < settings.min_gap:
        flags.append("gapless")
    flags += [f"z2_{f}" for f in z2_on.flags if f not in {"metal", "semimetal"}]
    if z2_on.dimension == 2:
        flags.append("two_dimensional")

    inversion_scan = None
    if gap_on.kind != "metal" and gap_off.kind != "metal":
        # with an inversion centre the TRIM parities decide; the SOC scan (n_lambda
        # values) is the indicator of non-centrosymmetric crystals only
        n_lambda = 2 if centrosymmetric else SOC_SCAN_LAMBDAS
        inversion_scan = soc_band_inversion(ham, n_lambda=n_lambda, gaps=(gap_on, gap_off))

    bands = band_structure(ham, soc=True)
    splitting_max = splitting_k = None
    if bands.splitting is not None:
        s = bands.splitting
        valence = s.max_valence_eV >= s.max_conduction_eV
        splitting_max = max(s.max_valence_eV, s.max_conduction_eV)
        if splitting_max > SPLITTING_RESOLUTION_EV:
            splitting_k = s.k_max_valence if valence else s.k_max_conduction

    berry = None
    if settings.berry_curvature and gap_on.kind == "insulator" and not centrosymmetric:
        berry = _berry_along_path(ham, bands.path.kpoints)

    valley = None
    if gap_on.kind != "metal" and hexagonal_sheet(ham):
        valley = ValleyDocument(**asdict(valley_quantities(ham)))

    return AnalysisFields(
        z2=_z2_document(z2_on, z2_off),
        confidence=z2_confidence(z2_on),
        gaps=_gaps_document(gap_on, gap_off),
        band_inversion=None if inversion_scan is None else inversion_scan.band_inversion,
        spin_splitting_max=splitting_max,
        spin_splitting_k=splitting_k,
        berry=berry,
        valley=valley,
        flags=sorted(set(flags)),
        seconds=time.perf_counter() - t0,
    )


def analyse_structure(
    record: StructureRecord, ham: Hamiltonian, settings: CampaignSettings
) -> MaterialResultDocument:
    """Build the result document of one structure from its predicted Hamiltonian.

    Parameters
    ----------
    record
        The ingested structure (``record.campaign`` set).
    ham
        Its Hamiltonian with spin-orbit blocks.
    settings
        Campaign settings (analysis options, ``model_version``).

    Returns
    -------
    MaterialResultDocument
        Identity from the record, physics from :func:`analyse_hamiltonian`, the predictor
        and its version (:func:`~socscreen.makers.predict.result_version`) and the
        analysis time.
    """
    fields = analyse_hamiltonian(ham, settings)
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

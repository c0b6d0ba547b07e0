"""The per-structure work of a screening campaign: structure in, result document out.

:func:`process_structure` is what every batch job of a campaign calls for each ingested
structure (through :class:`~socscreen.makers.batch.ProcessBatchMaker`, whose
``processor`` field can point to any function of the same signature):

1. :func:`socscreen.model.inference.predict` gives the SOC Hamiltonian (exact overlap,
   ``nelect`` from the PAW valence counts, ``efermi`` from the predicted bands);
2. :func:`socscreen.makers.analyse.analyse_hamiltonian` derives gaps, Z2, band
   inversion, spin splitting and Berry-curvature figures;
3. :meth:`MaterialResultDocument.from_record` joins them with the record's identity.

An exception in either stage is recorded as that structure's error document, with the
stage that failed, by the batch job; the rest of the batch goes on.
"""

from __future__ import annotations

import time

from socscreen.makers.analyse import analyse_hamiltonian
from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    ErrorDocument,
    MaterialResultDocument,
    StructureRecord,
    TimingsDocument,
)

__all__ = ["model_version", "process_structure"]


def model_version(meta: dict) -> str | None:
    """Version string of the model that predicted a Hamiltonian (``meta["model"]``)."""
    model = meta.get("model") or {}
    name, version = model.get("name"), model.get("version")
    return f"{name}-{version}" if name and version else name


def process_structure(
    record: StructureRecord, settings: CampaignSettings
) -> MaterialResultDocument:
    """Predict the Hamiltonian of one structure and analyse it.

    Parameters
    ----------
    record
        An ingested structure of a campaign (``record.ok`` is true, ``record.campaign``
        is set; primitive cell).
    settings
        Model and analysis settings of the campaign.

    Returns
    -------
    MaterialResultDocument
        The result of ``record.material_id`` in ``record.campaign``; a failure of the
        prediction or the analysis gives a document whose ``error`` names the stage.
    """
    from socscreen.model.inference import predict  # torch loads only in workers

    t0 = time.perf_counter()
    try:
        ham = predict(record.get_structure(), checkpoint=settings.checkpoint, device=settings.device)
    except Exception as exc:
        return MaterialResultDocument.from_error(record, "predict", exc)
    t_predict = time.perf_counter() - t0
    version = settings.model_version or model_version(ham.meta)
    try:
        fields = analyse_hamiltonian(ham, settings)
    except Exception as exc:
        return MaterialResultDocument.from_record(
            record,
            error=ErrorDocument.from_exception("analysis", exc),
            model_version=version,
            timings=TimingsDocument(predict=t_predict),
        )
    return MaterialResultDocument.from_record(
        record,
        z2=fields.z2,
        confidence=fields.confidence,
        gaps=fields.gaps,
        band_inversion=fields.band_inversion,
        spin_splitting_max=fields.spin_splitting_max,
        spin_splitting_k=fields.spin_splitting_k,
        berry=fields.berry,
        flags=fields.flags,
        model_version=version,
        timings=TimingsDocument(
            predict=t_predict, analysis=fields.seconds, total=time.perf_counter() - t0
        ),
    )

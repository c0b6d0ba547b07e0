"""The per-structure work of a screening campaign: structure in, result document out.

:func:`process_structure` is what every batch job of a campaign calls for each ingested
structure (through :class:`~socscreen.makers.batch.ProcessBatchMaker`, whose
``processor`` field can point to any function of the same signature). Its body is the
integration point of the model and the analysis:

1. ``socscreen.model.inference.predict(record.get_structure(), checkpoint=...,
   device=settings.device)`` gives the SOC Hamiltonian;
2. the analysis (:mod:`socscreen.analysis`: gaps with and without SOC, band inversion,
   spin splitting, Z2 by ``settings.z2_route``, Berry curvature if
   ``settings.berry_curvature``) fills the typed sub-documents of
   :class:`~socscreen.stores.schemas.campaign.MaterialResultDocument`, built with
   ``MaterialResultDocument.from_record(record, z2=..., gaps=..., ...)``.

Until that wiring lands the function raises ``NotImplementedError``, which batch jobs
treat as a configuration error (the Firework fizzles) rather than as a per-structure
failure; it never invents results.
"""

from __future__ import annotations

from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    MaterialResultDocument,
    StructureRecord,
)

__all__ = ["process_structure"]


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
        The result of ``record.material_id`` in ``record.campaign``. Exceptions other than
        ``NotImplementedError`` are recorded by the batch job as the structure's error.
    """
    raise NotImplementedError(
        "process_structure is not wired to socscreen.model.inference.predict and "
        "socscreen.analysis yet; pass ProcessBatchMaker(processor=...) to run a campaign "
        "with another per-structure function"
    )

"""Ensembles: models of one recipe trained with different seeds, predicting their mean.

Trainings of the shipped recipe that differ only in their seed agree on average (test-split
band errors within 2 %) but not compound by compound where the data are thin: GaN (N in
13 training files) came out with gap errors of 0.05 and 0.54 eV. The mean of the members'
predictions keeps what they agree on and averages that scatter down.

The members must share the orbital layout, cutoffs, architecture and basis (checked), so
the mean of their blocks is a block of the same kind: equivariant and Hermitian, and for
correction models H(0) plus the mean correction, ``H(0) + (1/M) Σ_m ΔH_m``. An ensemble
answers to everything inference asks of a :class:`~socscreen.model.network.UniHamGNN`
(``layout``, ``cutoffs``, ``config``, ``basis_name``, ``elements``, a forward pass with
``h0``, ``soc`` and ``mask``); it is not trained or fine-tuned as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from socscreen.model.data import GraphBatch
from socscreen.model.layout import OrbitalLayout
from socscreen.model.network import ModelConfig, UniHamGNN

__all__ = ["ModelEnsemble", "ensemble_record"]


class ModelEnsemble(nn.Module):
    """The mean prediction of ``members`` (at least one), all of one layout and config.

    Raises
    ------
    ValueError
        If there are no members, or they differ in elements and shells, cutoff radii,
        architecture or basis (their blocks would not mean the same orbitals).
    """

    def __init__(self, members: Sequence[UniHamGNN]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0]
        for index, member in enumerate(members[1:], start=1):
            differ = [
                name
                for name, same in (
                    ("element shells", member.layout.element_shells == first.layout.element_shells),
                    ("cutoffs", member.cutoffs == first.cutoffs),
                    ("architecture", member.config == first.config),
                    ("basis", member.basis_name == first.basis_name),
                )
                if not same
            ]
            if differ:
                raise ValueError(f"ensemble member {index} differs from member 0 in {differ}")
        super().__init__()
        self.members = nn.ModuleList(members)

    @property
    def layout(self) -> OrbitalLayout:
        """The members' orbital layout."""
        return self.members[0].layout

    @property
    def cutoffs(self) -> dict[str, float]:
        """The members' orbital cutoff radii per element (Å)."""
        return self.members[0].cutoffs

    @property
    def config(self) -> ModelConfig:
        """The members' architecture."""
        return self.members[0].config

    @property
    def basis_name(self) -> str:
        """The members' basis (GPAW subset syntax)."""
        return self.members[0].basis_name

    @property
    def elements(self) -> list[str]:
        """Covered element symbols, sorted."""
        return self.members[0].elements

    def forward(self, batch: GraphBatch, soc: bool = True) -> dict[str, torch.Tensor]:
        """Return the members' mean blocks ``h0`` and ``soc`` (eV) and the ``mask``.

        See :meth:`UniHamGNN.forward`; a correction model's blocks include H(0), which is
        the same in every member, so the mean is H(0) plus the mean correction.
        """
        outputs = [member(batch, soc=soc) for member in self.members]
        result = {
            "h0": torch.stack([out["h0"] for out in outputs]).mean(dim=0),
            "mask": outputs[0]["mask"],
        }
        if soc:
            result["soc"] = torch.stack([out["soc"] for out in outputs]).mean(dim=0)
        return result


#: Record keys every member must share: one corpus, one split, one H(0) and basis.
SHARED_RECORD_KEYS = ("split", "training_files", "zeroth_step_version", "basis")


def _corpus(record: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Return a record's corpus by name and content (bytes may differ after compaction)."""
    return [(f["name"], f.get("content_sha256")) for f in record.get("training_files", [])]


def ensemble_record(
    records: Sequence[dict[str, Any]], names: Sequence[str], command: str
) -> dict[str, Any]:
    """Build the checkpoint record of an ensemble of checkpoints with these ``records``.

    It is member 0's record (name, version, elements, settings, corpus, split,
    ``element_files``) with ``command`` and, under ``members``, each member's file name
    (``names``), weights hash, seed, command and metrics; the members' own metrics are
    not the ensemble's, so it has none of its own.

    Raises
    ------
    ValueError
        If a member was trained on another corpus, split, H(0) version or basis than
        member 0: an ensemble of different splits would have trained on its test files.
    """
    first = records[0]
    for index, record in enumerate(records[1:], start=1):
        for key in SHARED_RECORD_KEYS:
            same = (
                _corpus(record) == _corpus(first)
                if key == "training_files"
                else record.get(key) == first.get(key)
            )
            if not same:
                raise ValueError(
                    f"ensemble member {names[index]} has another {key} than {names[0]}: "
                    "train the members on one corpus with one split (split_seed)"
                )
    dropped = ("checkpoint", "checkpoint_sha256", "metrics", "command")
    return {
        **{k: v for k, v in first.items() if k not in dropped},
        "command": command,
        "members": [
            {
                "checkpoint": name,
                "checkpoint_sha256": record.get("checkpoint_sha256"),
                "seed": record.get("settings", {}).get("seed"),
                "command": record.get("command"),
                "metrics": record.get("metrics", {}),
            }
            for name, record in zip(names, records, strict=True)
        ],
    }

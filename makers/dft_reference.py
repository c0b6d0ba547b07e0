"""Jobflow Maker of the GPAW reference calculation (DFT rerun of flagged materials)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Maker
from pymatgen.core import Structure

from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.dft.reference import compute_gpaw_reference
from socscreen.makers.base import socscreen_job
from socscreen.stores.schemas.dft import DFTReferenceDocument

__all__ = ["GPAWReferenceMaker"]


@dataclass
class GPAWReferenceMaker(Maker):
    """Compute the GPAW LCAO Hamiltonian with spin-orbit coupling of one structure.

    Parameters
    ----------
    name
        Job name.
    settings
        Numerical settings (corpus defaults: szp(dzp), h = 0.25 Angstrom, PBE, ...).
    soc
        Compute the spin-orbit blocks.
    output_dir
        Also write the corpus ``.npz`` there (``<formula>_gpaw.npz``); ``None``: do not.
    """

    name: str = "gpaw reference"
    settings: GPAWReferenceSettings = field(default_factory=GPAWReferenceSettings)
    soc: bool = True
    output_dir: str | None = None

    @socscreen_job(output_schema=DFTReferenceDocument)
    def make(self, structure: Structure) -> DFTReferenceDocument:
        """Run the reference calculation; the Hamiltonian goes to the ``data`` store."""
        ham = compute_gpaw_reference(structure, self.settings, soc=self.soc)
        corpus_file = None
        if self.output_dir is not None:
            target = Path(self.output_dir) / f"{ham.meta['formula']}_gpaw.npz"
            corpus_file = str(ham.to_npz(target).resolve())
        return DFTReferenceDocument.from_hamiltonian(
            ham, settings=self.settings.model_dump(mode="json"), corpus_file=corpus_file
        )

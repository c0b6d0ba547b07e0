"""Document of a DFT reference calculation (GPAW LCAO Hamiltonian with SOC).

The :class:`~socscreen.hamiltonian.Hamiltonian` itself (MB of arrays) sits in the
``hamiltonian`` field; jobs declared with :func:`socscreen.makers.base.socscreen_job` route
it to jobflow's additional ``data`` store (GridFS in production), leaving a reference in
the main document, as atomate2 does for charge densities.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure

from socscreen import __version__
from socscreen.hamiltonian import Hamiltonian

__all__ = ["DFTReferenceDocument"]


class DFTReferenceDocument(BaseModel):
    """A GPAW reference Hamiltonian of one crystal, with its settings and timings."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    formula: str = Field(description="Hill formula of the cell, not reduced, e.g. 'Bi2Se3'.")
    reduced_formula: str = Field(description="Reduced formula, e.g. 'Bi2Se3'.")
    structure: Structure = Field(
        description="The calculated cell, fractional positions wrapped to [0, 1) as GPAW "
        "uses them (Angstrom)."
    )
    code: str = Field("GPAW", description="DFT code.")
    code_version: str = Field(description="Version of the DFT code.")
    socscreen_version: str = Field(__version__, description="socscreen version that ran it.")
    basis: str = Field(description="LCAO basis in GPAW syntax, e.g. 'szp(dzp)'.")
    xc: str = Field(description="Exchange-correlation functional.")
    soc: bool = Field(description="Whether the spin-orbit blocks were computed.")
    kscf: list[int] = Field(description="Gamma-centred SCF k-mesh.")
    hr_grid: list[int] = Field(
        description="Full-zone grid of the H(R) transform (odd, from the basis cutoffs)."
    )
    n_orbitals: int = Field(description="Number of spinless orbitals.")
    n_lattice_vectors: int = Field(description="Number of lattice vectors R with blocks.")
    nelect: float = Field(description="Valence electrons in the cell.")
    efermi: float = Field(description="Fermi level (eV), on the energy scale of H.")
    energy: float = Field(description="GPAW total energy (eV).")
    seconds: float = Field(description="Wall time of the whole calculation (s).")
    timings: dict[str, float] = Field(
        description="Wall time per stage: scf, lcao_matrices, soc, fourier, checks (s)."
    )
    settings: dict[str, Any] = Field(
        description="All numerical settings (grid spacing h in Angstrom, smearing in eV, "
        "k-point density in Angstrom, seed, ...)."
    )
    provenance: dict[str, Any] = Field(
        default_factory=dict,
        description="Structure provenance: prototype, elements, holdout, strain_sigma, "
        "rattle (from the structure generator; defaults for user structures).",
    )
    corpus_file: str | None = Field(
        None, description="Absolute path of the corpus .npz written alongside, if any."
    )
    hamiltonian: Hamiltonian = Field(
        description="H0(R), S(R), H_soc(R) (eV) in the corpus convention; stored in the "
        "'data' additional store."
    )
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC), description="Creation time (UTC)."
    )

    @classmethod
    def from_hamiltonian(
        cls,
        hamiltonian: Hamiltonian,
        settings: dict[str, Any],
        corpus_file: str | None = None,
    ) -> DFTReferenceDocument:
        """Build the document from a reference Hamiltonian and its settings.

        Parameters
        ----------
        hamiltonian
            Output of the GPAW reference calculation (its ``meta`` holds grids, code
            version and timings).
        settings
            The settings used, as a JSON-ready dict.
        corpus_file
            Path of a corpus file written from ``hamiltonian``.
        """
        meta = hamiltonian.meta
        provenance_keys = ("prototype", "elements", "holdout", "strain_sigma", "rattle")
        return cls(
            formula=meta["formula"],
            reduced_formula=hamiltonian.structure.composition.reduced_formula,
            structure=hamiltonian.structure,
            code=meta["code"],
            code_version=meta["gpaw_version"],
            basis=meta["basis"],
            xc=meta["xc"],
            soc=hamiltonian.has_soc,
            kscf=meta["kscf"],
            hr_grid=meta["hr_grid"],
            n_orbitals=hamiltonian.n_orbitals,
            n_lattice_vectors=len(hamiltonian.R),
            nelect=hamiltonian.nelect,
            efermi=hamiltonian.efermi,
            energy=hamiltonian.energy,
            seconds=meta["seconds"],
            timings=meta["timings"],
            settings=settings,
            provenance={k: meta[k] for k in provenance_keys if k in meta},
            corpus_file=corpus_file,
            hamiltonian=hamiltonian,
        )

"""socscreen.analysis: physics on a predicted or DFT Hamiltonian container.

Bands (:mod:`.bands`), the one gap definition (:mod:`.gaps`), k-paths (:mod:`.kpath`), Z2
indices by parity and Wilson loops (:mod:`.topology`, :mod:`.parity`, :mod:`.wilson`,
z2pack cross-check in :mod:`.z2pack_route`), Berry
curvature and Hall conductivities (:mod:`.berry`, wannierberri and Kubo), the valleys of
hexagonal sheets (:mod:`.valley`), orthogonal
tight-binding models (:mod:`.tb`), exports (:mod:`.export`), figures (:mod:`.plots`),
textbook models as containers (:mod:`.models`) and what a campaign screens and flags per
material (:mod:`.screening`). Never imports jobflow, FireWorks or stores.
"""

from socscreen.analysis.bands import (
    BandStructure,
    SocEffect,
    SpinSplitting,
    band_structure,
    soc_band_inversion,
    spin_splitting,
    spin_splitting_at,
)
from socscreen.analysis.berry import (
    HallConductivity,
    ValleyResult,
    anomalous_hall,
    berry_curvature,
    berry_curvature_wannierberri,
    chern_number_kubo,
    spin_hall,
    valley_berry_curvature,
)
from socscreen.analysis.bloch import BlochSystem, LowdinBloch, eigh_k, n_occupied
from socscreen.analysis.export import to_tbmodels, write_hr_dat
from socscreen.analysis.gaps import GapResult, band_gap
from socscreen.analysis.kpath import KPath, high_symmetry_path
from socscreen.analysis.parity import ParityZ2, find_inversion, hamiltonian_inversion, parity_z2
from socscreen.analysis.tb import OrthogonalTB
from socscreen.analysis.topology import Z2Result, z2_invariants, z2_with_wilson
from socscreen.analysis.valley import ValleyQuantities, hexagonal_sheet, valley_quantities
from socscreen.analysis.wilson import Plane, PlaneWCC, WilsonZ2, plane_wcc, wilson_z2

__all__ = [
    "BandStructure",
    "BlochSystem",
    "GapResult",
    "HallConductivity",
    "KPath",
    "LowdinBloch",
    "OrthogonalTB",
    "ParityZ2",
    "Plane",
    "PlaneWCC",
    "SocEffect",
    "SpinSplitting",
    "ValleyQuantities",
    "ValleyResult",
    "WilsonZ2",
    "Z2Result",
    "anomalous_hall",
    "band_gap",
    "band_structure",
    "berry_curvature",
    "berry_curvature_wannierberri",
    "chern_number_kubo",
    "eigh_k",
    "find_inversion",
    "hexagonal_sheet",
    "hamiltonian_inversion",
    "high_symmetry_path",
    "n_occupied",
    "parity_z2",
    "plane_wcc",
    "soc_band_inversion",
    "spin_hall",
    "spin_splitting",
    "spin_splitting_at",
    "to_tbmodels",
    "valley_berry_curvature",
    "valley_quantities",
    "wilson_z2",
    "write_hr_dat",
    "z2_invariants",
    "z2_with_wilson",
]

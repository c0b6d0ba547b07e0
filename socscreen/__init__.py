"""socscreen: high-throughput screening of spin-orbit-driven quantum materials.

The core package holds the Hamiltonian container, the orbital tables, settings and the
command line; the subpackages ``socscreen.model``, ``socscreen.analysis``,
``socscreen.makers``, ``socscreen.workflows`` and ``socscreen.stores`` live in the
top-level folders of the same names.
"""

from socscreen.hamiltonian import Hamiltonian
from socscreen.orbitals import OrbitalTable

__version__ = "0.1.0"

__all__ = ["Hamiltonian", "OrbitalTable", "__version__"]

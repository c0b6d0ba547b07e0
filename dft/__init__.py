"""socscreen.dft: where DFT quantities are computed, truth and baseline alike.

* :mod:`~socscreen.dft.calculator`: the one place a GPAW LCAO calculator is configured
  (settings, structure validation, orbital table, PAW spin-orbit operator);
* :mod:`~socscreen.dft.reference`: the self-consistent reference Hamiltonian (the corpus);
* :mod:`~socscreen.dft.zeroth_step`: the zeroth-step H(0) at the atomic density, no SCF;
* :mod:`~socscreen.dft.charge_correction`: H(0) with self-consistent Mulliken charges
  (second-order DFTB on top; free-atom Hubbard U from :mod:`~socscreen.dft.hubbard`);
* basis functions, PAW setups, radial and real-harmonic tools, exact two-centre overlaps
  (``basis_functions``, ``paw_setups``, ``radial``, ``real_harmonics``, ``two_centre``,
  ``overlap``, ``paw_overlap``) and the periodic graph of overlapping orbitals (``graph``).

Torch-free; ``socscreen.model`` imports from here, never the reverse.
"""

"""Parities and Fu-Kane Z2 from PROCAR phase projections (the GPAW-derived references).

The PROCARs in tests/data/vasp carry projections computed from the fixtures'
eigenvectors, so the per-TRIM parity products must be those that
:mod:`socscreen.analysis.parity` computes directly from the Hamiltonians.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.io.vasp import Procar

from socscreen.analysis.bloch import LowdinBloch, trim_points
from socscreen.analysis.parity import (
    Inversion,
    hamiltonian_inversion,
    parity_matrix,
    trim_deltas,
)
from socscreen.analysis.vasp_bands import read_vasp_bands
from socscreen.analysis.vasp_parity import (
    degenerate_groups,
    multiplet_parities,
    odd_pair_count,
    procar_parity_z2,
    run_parity_z2,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def trim_run(data_dir, case: str):
    folder = data_dir / "vasp" / f"{case}_trim_parity" / "outputs"
    return folder, Procar(str(folder / "PROCAR.gz")), read_vasp_bands(folder)


@pytest.mark.parametrize(
    ("case", "fixture", "soc", "z2"),
    [
        ("Bi2Se3/soc", "bi2se3", True, [1, 0, 0, 0]),
        ("Bi2Se3/soc-off", "bi2se3", False, [0, 0, 0, 0]),
        ("Si/soc", "silicon", True, [0, 0, 0, 0]),
    ],
    ids=["Bi2Se3-soc", "Bi2Se3-soc-off", "Si-soc"],
)
def test_projection_parities_match_the_hamiltonian(data_dir, request, case, fixture, soc, z2):
    ham = request.getfixturevalue(fixture)
    result = run_parity_z2(data_dir / "vasp" / f"{case}_trim_parity" / "outputs")
    assert result.z2 == z2 and result.reason is None
    assert result.confidence > 0.99  # three printed decimals keep |xi| just below 1
    source = LowdinBloch(ham, soc=soc, spinor=soc)
    inversion, _ = hamiltonian_inversion(source)
    n_occ = int(ham.nelect) if soc else int(ham.nelect) // 2
    direct, _, _ = trim_deltas(source, inversion, n_occ, trim_points(np.ones(3, dtype=bool)))
    assert [t.trim for t in result.trims] == [tuple(k) for k in trim_points(np.ones(3, bool))]
    assert result.deltas == direct.tolist()
    for t in result.trims:
        assert sum(t.pairs) == (n_occ // 2 if soc else n_occ)
        assert t.gap > 0 and 0 <= min(t.odd_pairs)


def test_inversion_centre_off_the_origin(data_dir):
    result = run_parity_z2(data_dir / "vasp" / "Si/soc_trim_parity/outputs")
    # diamond: the centre lies midway between the two atoms
    assert np.allclose(np.mod(result.inversion_centre, 0.5), [0.125] * 3)
    # at the X-type TRIM the spinless two-fold bands have both parities: mean parity 0
    mixed = [x for t in result.trims for x, n in zip(t.parities, t.pairs, strict=True) if n == 2]
    assert mixed and all(abs(x) < 0.01 for x in mixed)


def test_no_inversion_and_bad_input(data_dir):
    _, procar, bands = trim_run(data_dir, "Bi2Se3/soc")
    displaced = bands.structure.copy()  # one Bi moved along the trigonal axis: no centre left
    bi = [i for i, site in enumerate(displaced) if site.specie.symbol == "Bi"][0]
    displaced.translate_sites([bi], [0.01, 0.01, 0.01])
    result = procar_parity_z2(procar, displaced, bands.nelect, spinor=True)
    assert result.z2 is None and result.reason == "no_inversion" and result.trims == []
    _, procar, bands = trim_run(data_dir, "Si/soc")
    # an odd electron count leaves half a Kramers pair at the Fermi level
    result = procar_parity_z2(procar, bands.structure, bands.nelect - 1, spinor=True)
    assert result.z2 is None and result.reason == "metal_at_trim"
    with pytest.raises(ValueError, match="ions"):
        procar_parity_z2(procar, bands.structure * (1, 1, 2), bands.nelect, spinor=True)
    procar.kpoints = np.asarray(procar.kpoints) + 0.1
    with pytest.raises(ValueError, match="lacks the TRIM"):
        procar_parity_z2(procar, bands.structure, bands.nelect, spinor=True)
    procar.phase_factors = {}
    with pytest.raises(ValueError, match="LORBIT = 12"):
        procar_parity_z2(procar, bands.structure, bands.nelect, spinor=True)


def test_multiplet_counting_on_a_two_site_model():
    # two s orbitals swapped by inversion: bonding (even) and antibonding (odd) states
    inversion = Inversion(centre=np.zeros(3), atom_map=np.array([1, 0]), shifts=np.zeros((2, 3)))
    p = parity_matrix(
        inversion, np.array([0, 1]), np.array([0, 0]), np.arange(3), np.zeros(3), spinor=False
    )
    even, odd = np.array([1, 1]) / np.sqrt(2), np.array([1, -1]) / np.sqrt(2)
    # a degenerate pair mixed by the solver: each state has no parity, the pair has both
    mixed = np.stack([0.6 * even + 0.8 * odd, 0.8 * even - 0.6 * odd])
    energies = np.array([-1.0, -1.0 + 1e-4, 2.0])
    groups = degenerate_groups(energies, tol=1e-3)
    assert [g.tolist() for g in groups] == [[0, 1], [2]]
    xi = multiplet_parities(np.vstack([mixed, 0.5 * odd]), p, groups)
    assert xi == pytest.approx([0.0, -1.0])  # both parities in the pair; pure odd state
    assert odd_pair_count(xi[0], 2) == (1, 1.0) and odd_pair_count(xi[1], 1) == (1, 1.0)
    assert odd_pair_count(0.9, 1) == (0, pytest.approx(0.9))  # one pair: confidence |xi|
    assert odd_pair_count(0.5, 2)[1] == pytest.approx(0.0)  # ambiguous count

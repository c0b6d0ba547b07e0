"""Callers that already have the band gaps can pass them on instead of recomputing them."""

from __future__ import annotations

import pytest
from nested_close import assert_nested_close

from socscreen.analysis import band_gap, soc_band_inversion, z2_invariants


@pytest.fixture(scope="module")
def ham(silicon):
    return silicon.symmetrized()  # what both functions analyse


def test_z2_with_a_given_gap_equals_z2_computing_it(ham):
    for soc in (True, False):
        given = z2_invariants(ham, soc=soc, gap=band_gap(ham, soc=soc))
        own = z2_invariants(ham, soc=soc)
        assert_nested_close(
            given.model_dump(exclude={"timings"}), own.model_dump(exclude={"timings"}), abs=1e-8
        )
    with pytest.raises(ValueError, match="soc=False, the Z2 run soc=True"):
        z2_invariants(ham, soc=True, gap=band_gap(ham, soc=False))


def test_band_inversion_with_given_gaps_equals_computing_them(ham):
    gaps = band_gap(ham, soc=True), band_gap(ham, soc=False)
    given, own = soc_band_inversion(ham, gaps=gaps), soc_band_inversion(ham)
    assert_nested_close(given.model_dump(), own.model_dump(), abs=1e-8)
    with pytest.raises(ValueError, match="with SOC and without SOC, in that order"):
        soc_band_inversion(ham, gaps=gaps[::-1])

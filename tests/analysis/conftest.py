"""Shared results of the expensive analyses (computed once per test session)."""

from __future__ import annotations

import pytest

from socscreen.analysis.topology import Z2Result, z2_invariants
from socscreen.hamiltonian import Hamiltonian


@pytest.fixture(scope="session")
def bi2se3_z2(bi2se3: Hamiltonian) -> Z2Result:
    """Bi2Se3 Z2 with SOC by both routes (parity and Wilson loops)."""
    return z2_invariants(bi2se3, route="auto")


@pytest.fixture(scope="session")
def bi2se3_z2_no_soc(bi2se3: Hamiltonian) -> Z2Result:
    """Bi2Se3 Z2 with spin-orbit coupling switched off, both routes."""
    return z2_invariants(bi2se3, route="auto", soc=False)

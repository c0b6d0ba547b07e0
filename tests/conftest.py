"""Shared fixtures: corpus-format files copied from the DFT fixtures (GPAW szp(dzp), SOC)."""

from __future__ import annotations

from pathlib import Path

import pytest

from socscreen.hamiltonian import Hamiltonian

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder of the small test data files."""
    return DATA


@pytest.fixture(scope="session")
def bi2se3() -> Hamiltonian:
    """Bi2Se3 (tetradymite, experimental geometry), GPAW szp(dzp) with SOC."""
    return Hamiltonian.from_npz(DATA / "Bi2Se3_szp.npz")


@pytest.fixture(scope="session")
def silicon() -> Hamiltonian:
    """Si (diamond, a = 5.431 A), GPAW szp(dzp) with SOC."""
    return Hamiltonian.from_npz(DATA / "Si_szp.npz")

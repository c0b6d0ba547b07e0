"""H(0) companions: computed once with real GPAW, stored as a difference, read back whole."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from socscreen.corpus.zeroth_step import (
    DIFFERENCE_KEY,
    companion_is_current,
    companion_path,
    current_companion,
    write_companion,
    write_zeroth_step_companions,
    zeroth_step_of,
)
from socscreen.dft.zeroth_step import ZEROTH_STEP_VERSION
from socscreen.hamiltonian import Hamiltonian

NAME = "train_00010_Te2.npz"


@pytest.fixture(scope="module")
def folder(data_dir, tmp_path_factory):
    """A corpus folder holding Te2 alone, with its H(0) computed by GPAW."""
    out = tmp_path_factory.mktemp("corpus")
    shutil.copy(data_dir / "corpus" / NAME, out / NAME)
    outcomes = []
    counts = write_zeroth_step_companions(out, on_file=lambda p, o, d: outcomes.append(o))
    assert counts["written"] == 1 and outcomes == ["written"]
    return out


def _largest_difference(a: Hamiltonian, b: Hamiltonian) -> dict[str, float]:
    """Largest element difference of H0, S and SOC over both sets of lattice vectors."""
    rows_a = {tuple(r): i for i, r in enumerate(a.R.tolist())}
    rows_b = {tuple(r): i for i, r in enumerate(b.R.tolist())}
    errors = {}
    for name in ("h0", "overlap", "soc_uu", "soc_ud"):
        blocks_a, blocks_b = getattr(a, name), getattr(b, name)
        errors[name] = max(
            float(
                np.abs(
                    (blocks_a[rows_a[r]] if r in rows_a else 0)
                    - (blocks_b[rows_b[r]] if r in rows_b else 0)
                ).max()
            )
            for r in rows_a.keys() | rows_b.keys()
        )
    return errors


def test_a_companion_is_stored_as_a_difference_and_read_back_as_h0(folder):
    path = folder / NAME
    reference = Hamiltonian.from_npz(path)
    stored = Hamiltonian.from_npz(companion_path(path))
    assert stored.meta[DIFFERENCE_KEY] and not stored.overlap.any()
    # the stored blocks are the correction H(0) - H_SCF: small next to H itself
    assert np.abs(stored.h0).max() < 0.2 * np.abs(reference.h0).max()

    h0 = current_companion(path, reference)
    fresh = zeroth_step_of(reference, NAME, reference.content_sha256())
    assert DIFFERENCE_KEY not in h0.meta and h0.meta["source"] == "zeroth-step"
    assert h0.efermi == pytest.approx(fresh.efermi) and h0.nelect == fresh.nelect
    # H(0) as computed, to the storage thresholds (1e-4 eV each for H(0) and the file)
    errors = _largest_difference(h0, fresh)
    assert errors["h0"] < 2.5e-4 and errors["soc_uu"] < 2.5e-4 and errors["soc_ud"] < 2.5e-4
    assert errors["overlap"] < 2e-5  # the file's own overlap, stored to 1e-5
    assert _largest_difference(h0, reference)["overlap"] == 0.0


def test_a_full_copy_companion_is_rewritten_as_a_difference_without_gpaw(folder, tmp_path):
    shutil.copy(folder / NAME, tmp_path / NAME)
    reference = Hamiltonian.from_npz(tmp_path / NAME)
    h0 = current_companion(folder / NAME, reference)
    h0.to_npz(companion_path(tmp_path / NAME))  # how companions were stored before
    full_size = companion_path(tmp_path / NAME).stat().st_size
    assert current_companion(tmp_path / NAME, reference) is not None

    assert write_zeroth_step_companions(tmp_path)["rewritten"] == 1
    assert companion_path(tmp_path / NAME).stat().st_size < full_size / 2
    errors = _largest_difference(current_companion(tmp_path / NAME, reference), h0)
    assert max(errors.values()) < 1.5e-4
    assert write_zeroth_step_companions(tmp_path) == {
        "written": 0,
        "rewritten": 0,
        "current": 1,
        "failed": 0,
    }


def test_a_companion_of_other_content_is_stale_and_one_of_another_geometry_refused(
    folder, tmp_path
):
    reference = Hamiltonian.from_npz(folder / NAME)
    assert current_companion(folder / NAME, reference, "another content") is None
    h0 = current_companion(folder / NAME, reference)
    squeezed = h0._replace(overlap=h0.overlap * 1.01)
    with pytest.raises(ValueError, match="overlap of H\\(0\\) and of its reference differ"):
        write_companion(squeezed, reference, tmp_path / NAME)
    assert not (tmp_path / NAME).exists()


def test_a_companion_of_an_older_zeroth_step_is_stale_and_recomputed(folder, tmp_path):
    # H(0) built before every atom was made neutral (no version key) is not what
    # training or prediction would compute today
    shutil.copy(folder / NAME, tmp_path / NAME)
    reference = Hamiltonian.from_npz(tmp_path / NAME)
    h0 = current_companion(folder / NAME, reference)
    h0.meta.pop("zeroth_step_version")
    write_companion(h0, reference, companion_path(tmp_path / NAME))
    assert not companion_is_current(tmp_path / NAME, reference.content_sha256())
    assert current_companion(tmp_path / NAME, reference) is None

    assert write_zeroth_step_companions(tmp_path)["written"] == 1
    renewed = current_companion(tmp_path / NAME, reference)
    assert renewed.meta["zeroth_step_version"] == ZEROTH_STEP_VERSION

"""A real SecantusDB server process for the tests of this folder, and a folder of twins."""

from pathlib import Path

import pytest
from campaign_test_functions import write_twins

from socscreen.stores.testing import db, db_server  # noqa: F401


@pytest.fixture
def twins(tmp_path) -> Path:
    """A structure folder of seven entries (see ``write_twins``)."""
    return write_twins(tmp_path / "twins")

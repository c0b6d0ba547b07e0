"""A real SecantusDB server process for the tests of this folder."""

from socscreen.stores.testing import db, db_server  # noqa: F401

"""``python -m socscreen`` runs the command line."""

from socscreen.cli import app

app()

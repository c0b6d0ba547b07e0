"""socscreen.workflows."""

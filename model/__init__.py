"""socscreen.model."""

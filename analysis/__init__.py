"""socscreen.analysis."""

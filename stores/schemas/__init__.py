"""Pydantic schemas of every stored document, one module per area."""

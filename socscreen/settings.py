"""Settings of socscreen, read from ``SOCSCREEN_*`` environment variables.

Follows atomate2's ``SETTINGS`` pattern: one pydantic-settings object, every field with a
default and a description; a field ``foo`` is overridden by ``SOCSCREEN_FOO``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SocscreenSettings", "SETTINGS"]


class SocscreenSettings(BaseSettings):
    """User-facing configuration of socscreen."""

    model_config = SettingsConfigDict(env_prefix="SOCSCREEN_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".socscreen",
        description="Directory for socscreen's own data: embedded database, logs, runs.",
    )
    basis: str = Field(
        "szp(dzp)", description="Default LCAO basis of DFT reference calculations (GPAW syntax)."
    )
    dft_grid_spacing: float = Field(
        0.25, description="Real-space grid spacing h of GPAW reference calculations (Angstrom)."
    )
    dft_kpoint_density: float = Field(
        20.0,
        description="SCF k-points per direction times lattice length |a| (Angstrom); "
        "n_k = max(1, ceil(density / |a|)) (the corpus convention).",
    )
    dft_smearing: float = Field(
        0.05, description="Fermi-Dirac width of GPAW reference calculations (eV)."
    )
    db_uri: str | None = Field(
        None,
        description="MongoDB connection string of the results/workflow database, e.g. "
        "'mongodb://user:pw@host:27017'; unset means a launchpad file or the embedded server.",
    )
    db_name: str = Field(
        "socscreen",
        description="Database name used with db_uri or the embedded server (a URI path wins).",
    )
    launchpad_file: Path | None = Field(
        None,
        description="FireWorks launchpad yaml to take the database from when db_uri is unset.",
    )
    training_dir: Path | None = Field(
        None,
        description="Folder of the training-data store: corpus-format .npz Hamiltonians "
        "that validation reruns feed back for fine-tuning; unset means "
        "<home>/training/<basis>/.",
    )
    db_start_timeout: float = Field(
        60.0, description="Seconds to wait for the embedded database server to answer a ping."
    )
    db_cache_size: str = Field(
        "256M",
        description="WiredTiger cache of the embedded database server (SecantusDB "
        "--cache-size), bytes with an optional K, M, G or T suffix, e.g. '256M' or '2G'. "
        "The server's memory is this cache plus about 100-300 MB of its own.",
    )


SETTINGS = SocscreenSettings()

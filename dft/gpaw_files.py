"""Locate and read GPAW data files (PAW setups, LCAO basis sets) without GPAW itself.

GPAW searches the directories of the ``GPAW_SETUP_PATH`` environment variable
(``os.pathsep``-separated) first and then the ``setups`` folder of the PyPI data package
``gpaw-data`` (``gpaw_data.datapath()``); in each directory it takes ``<name>`` or
``<name>.gz``. :func:`find_data_file` follows the same order, so socscreen reads exactly the
files a GPAW reference calculation on the same machine reads.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

__all__ = ["BOHR", "DataFileNotFoundError", "find_data_file", "read_data_file", "setup_paths"]

#: Bohr radius in Angstrom, ASE's CODATA-2014 value that GPAW uses (``ase.units.Bohr``).
BOHR = 0.5291772105638411


class DataFileNotFoundError(ValueError):
    """A GPAW setup or basis file is in none of the search directories."""


def setup_paths() -> tuple[Path, ...]:
    """Directories searched for GPAW data files, in GPAW's order.

    Returns
    -------
    tuple of pathlib.Path
        The entries of ``GPAW_SETUP_PATH`` (if set), then the ``gpaw-data`` package's
        setup folder (if the package is installed).
    """
    paths = [Path(p) for p in os.environ.get("GPAW_SETUP_PATH", "").split(os.pathsep) if p]
    try:
        import gpaw_data
    except ModuleNotFoundError:  # pragma: no cover - gpaw-data is a dependency
        pass
    else:
        paths.append(Path(gpaw_data.datapath()))
    return tuple(paths)


def find_data_file(name: str, paths: tuple[Path, ...] | None = None) -> Path:
    """Find a GPAW data file such as ``"Bi.dzp.basis"`` or ``"Bi.PBE"``.

    Parameters
    ----------
    name
        File name without the optional ``.gz`` suffix.
    paths
        Directories to search; default :func:`setup_paths`.

    Returns
    -------
    pathlib.Path
        The first match; within one directory GPAW's rule applies (the lexically largest
        of ``name`` and ``name.gz``, i.e. the gzipped file if both exist).

    Raises
    ------
    DataFileNotFoundError
        If no directory holds the file.
    """
    paths = setup_paths() if paths is None else paths
    for directory in paths:
        candidates = [p for p in (directory / name, directory / f"{name}.gz") if p.is_file()]
        if candidates:
            return max(candidates, key=str)
    searched = ", ".join(str(p) for p in paths) or "(none: install gpaw-data)"
    raise DataFileNotFoundError(
        f"GPAW data file {name!r} not found in {searched}; set GPAW_SETUP_PATH or install "
        "the gpaw-data package"
    )


def read_data_file(path: Path) -> bytes:
    """Read a (possibly gzipped) data file."""
    if path.suffix == ".gz":
        with gzip.open(path) as handle:
            return handle.read()
    return path.read_bytes()

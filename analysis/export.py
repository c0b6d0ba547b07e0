"""Exports of orthogonal tight-binding models: tbmodels and wannier90 ``_hr.dat``.

Both take an :class:`~socscreen.analysis.tb.OrthogonalTB` (for a container:
``OrthogonalTB.from_hamiltonian``, the Löwdin model). Conventions carried over:
``H_mn(R) = <m, 0|H|n, R>`` and ``H(k) = sum_R exp(2 pi i k.R) H(R)`` (wannier90's and
tbmodels' ``convention=2``); spinor bases stay spin-major (all spin-up functions first),
which wannier90 users reading old-VASP style files will recognise; the minimal-distance
replica weights are already folded into ``H(R)``, so every degeneracy is written as 1.
"""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from socscreen.analysis.tb import OrthogonalTB

__all__ = ["to_tbmodels", "write_hr_dat"]


def to_tbmodels(tb: OrthogonalTB) -> Any:
    """Build a ``tbmodels.Model`` with the same hoppings, positions, cell and filling.

    Returns
    -------
    tbmodels.Model
        3D model (non-periodic axes keep their single ``R = 0`` layer).
    """
    import tbmodels

    with warnings.catch_warnings():  # tbmodels 1.4 trips numpy 2's __array__(copy=) notice
        warnings.simplefilter("ignore", DeprecationWarning)
        return tbmodels.Model(
            hop={tuple(int(x) for x in r): h for r, h in zip(tb.R, tb.hoppings, strict=True)},
            pos=tb.positions,
            uc=tb.lattice,
            occ=tb.n_occupied,
            dim=3,
            contains_cc=True,
            cc_check_tolerance=1e-8,
        )


def write_hr_dat(tb: OrthogonalTB, path: str | os.PathLike, comment: str = "") -> Path:
    """Write a wannier90 ``seedname_hr.dat``.

    Parameters
    ----------
    tb
        The model.
    path
        Output file, conventionally ending in ``_hr.dat``.
    comment
        Text for the header line (a timestamp is appended).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    m = tb.n_basis
    stamp = datetime.now(UTC).strftime("%d%b%Y at %H:%M:%S")
    lines = [f"{comment or 'socscreen orthogonal tight-binding model'} written on {stamp}"]
    lines += [f"{m:12d}", f"{len(tb.R):12d}"]
    degeneracies = ["1"] * len(tb.R)
    lines += [
        "".join(f"{d:>5s}" for d in degeneracies[i : i + 15]) for i in range(0, len(tb.R), 15)
    ]
    col, row = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")  # row fastest
    for r, h in zip(tb.R, tb.hoppings, strict=True):
        values = h[row.ravel(), col.ravel()]
        prefix = f"{r[0]:5d}{r[1]:5d}{r[2]:5d}"
        lines += [
            f"{prefix}{i + 1:5d}{j + 1:5d}{v.real:20.12f}{v.imag:20.12f}"
            for i, j, v in zip(row.ravel(), col.ravel(), values, strict=True)
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path

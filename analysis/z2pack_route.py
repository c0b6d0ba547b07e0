"""Z2 indices through z2pack: the independent cross-check of :mod:`.wilson`.

z2pack (``z2pack.hm.System``) receives the orthonormal-basis ``H(k)`` of a
:class:`~socscreen.analysis.bloch.BlochSystem` (for a container: ``S^-1/2 H S^-1/2``),
the basis-function positions and ``convention=2`` (periodic-gauge ``H(k)``, z2pack adds
the ``exp(-2 pi i k.tau)`` phases), and runs the same planes as
:func:`~socscreen.analysis.wilson.wilson_z2`. It is about two orders of magnitude slower
than the vectorised implementation (one k-point per Python call), so the screening uses
:mod:`.wilson` and this module serves tests and users who want z2pack's own answer.
"""

from __future__ import annotations

import logging

import numpy as np

from socscreen.analysis.bloch import BlochSystem
from socscreen.analysis.wilson import z2_planes

__all__ = ["z2pack_z2"]


def z2pack_z2(system: BlochSystem, n_occ: int, **run_options: float) -> list[int]:
    """Z2 indices computed by z2pack.

    Parameters
    ----------
    system
        Bloch Hamiltonian (orthonormal basis, time-reversal symmetric).
    n_occ
        Occupied bands.
    **run_options
        Passed to ``z2pack.surface.run`` (``pos_tol``, ``num_lines``, ...).

    Returns
    -------
    list of int
        ``[nu0, nu1, nu2, nu3]`` (3D) or ``[nu]`` (2D).

    Raises
    ------
    ValueError
        From z2pack, e.g. for a gapless system.
    """
    import z2pack

    logging.getLogger("z2pack").setLevel(logging.WARNING)
    hm = z2pack.hm.System(
        hamilton=lambda k: system.hamiltonian_k(np.asarray(k, dtype=float))[0],
        pos=np.asarray(system.positions),
        bands=n_occ,
        dim=3,
        convention=2,
        hermitian_tol=1e-6,
    )
    index = {}
    for name, plane in z2_planes(system.periodic).items():

        def surface(t: float, s: float, plane=plane) -> list[float]:
            k = [0.0, 0.0, 0.0]
            k[plane.fixed_axis] = plane.fixed_value
            k[plane.pump_axis] = plane.t_max * t
            k[plane.loop_axis] = s
            return k

        result = z2pack.surface.run(system=hm, surface=surface, **run_options)
        index[name] = z2pack.invariant.z2(result)
    if "2d" in index:
        return [index["2d"]]
    return [
        (index["k1=0"] + index["k1=0.5"]) % 2,
        index["k1=0.5"],
        index["k2=0.5"],
        index["k3=0.5"],
    ]

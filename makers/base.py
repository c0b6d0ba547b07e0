"""The project's job decorator: large objects always go to jobflow's ``data`` store.

Every socscreen job is declared with :func:`socscreen_job` instead of ``jobflow.job`` so
that outputs containing a :class:`~socscreen.hamiltonian.Hamiltonian` (MB of arrays) are
routed to the additional store named ``data`` (GridFS in production), as atomate2 does
for band structures and charge densities.
"""

from __future__ import annotations

from functools import partial

from jobflow import job

from socscreen.hamiltonian import Hamiltonian

__all__ = ["DATA_OBJECTS", "socscreen_job"]

#: Classes whose instances in a job's output are stored in the ``data`` additional store.
DATA_OBJECTS: list[type] = [Hamiltonian]

socscreen_job = partial(job, data=DATA_OBJECTS)

"""Full-cycle Wilson planes for the Chern-number tests (a test helper, not product code)."""

from __future__ import annotations

import numpy as np

from socscreen.analysis.wilson import Plane


def chern_planes(periodic: np.ndarray) -> dict[str, Plane]:
    """Full-cycle plane(s) for Chern numbers: the 2D plane, or ``k3 = 0`` in 3D."""
    axes = np.flatnonzero(np.asarray(periodic, dtype=bool))
    if len(axes) == 2:
        (vac,) = set(range(3)) - set(axes.tolist())
        return {"2d": Plane(vac, 0.0, int(axes[0]), int(axes[1]), t_max=1.0)}
    return {"k3=0": Plane(2, 0.0, 0, 1, t_max=1.0)}

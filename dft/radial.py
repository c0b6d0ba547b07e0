"""Radial grids of GPAW data files and radial functions as GPAW represents them.

GPAW stores radial functions (basis functions, projectors, partial waves) on the grid of
their file and turns each into a clamped cubic spline of ``f(r) / r^l`` on a uniform grid
from 0 to a cutoff (``gpaw.atom.radialgd.RadialGridDescriptor.spline``):

* on an equidistant file grid (``r = d i``) the file's own points are the spline knots and
  the cutoff is the last point;
* on a non-uniform grid the function is interpolated (three-point Lagrange, GPAW's
  "backwards compatible" scheme) onto ``points + 1`` uniform knots up to a given cutoff.

The last knot is set to zero and the spline has zero slope at both ends. This module
reproduces that construction, so the functions here equal GPAW's to rounding. Lengths are
in Bohr internally (as in the files); the public cutoffs of the basis are in Angstrom.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.interpolate import CubicSpline

__all__ = ["RadialFunction", "RadialGrid", "radial_grid_from_attributes"]


@dataclass(frozen=True)
class RadialGrid:
    """A radial grid ``r_g`` (Bohr) with integration weights ``dr_g = dr/dg``.

    Attributes
    ----------
    equation
        GPAW's grid equation string, e.g. ``"r=d*i"``.
    parameters
        Grid parameters (``d`` or ``a``, ``b``), Bohr where dimensioned.
    size
        Number of grid points.
    """

    equation: str
    parameters: tuple[float, ...]
    size: int

    @property
    def equidistant(self) -> bool:
        """Whether ``r = d i``."""
        return self.equation == "r=d*i"

    @property
    def r(self) -> np.ndarray:
        """Grid points, Bohr, shape ``[size]``."""
        g = np.arange(self.size, dtype=float)
        if self.equidistant:
            return self.parameters[0] * g
        a, b = self.parameters
        return a * g / (1.0 - b * g)

    @property
    def dr(self) -> np.ndarray:
        """Jacobian ``dr/dg``, Bohr, shape ``[size]``."""
        if self.equidistant:
            return np.full(self.size, self.parameters[0])
        a, b = self.parameters
        return (b * self.r + a) ** 2 / a

    def r2g(self, r: np.ndarray) -> np.ndarray:
        """Continuous grid index of radius ``r`` (Bohr), as GPAW computes it."""
        r = np.asarray(r, dtype=float)
        if self.equidistant:
            return r / self.parameters[0]
        a, b = self.parameters
        return (1.0 / b) * r / (a / b + r)

    def ceil(self, r: float) -> int:
        """Smallest grid index at or beyond radius ``r`` (Bohr)."""
        return int(np.ceil(self.r2g(r)))


def radial_grid_from_attributes(attributes: Mapping[str, str]) -> RadialGrid:
    """Build a grid from the attributes of a ``<radial_grid>`` XML element.

    Raises
    ------
    ValueError
        For grid equations GPAW data files do not use here (only ``r=d*i``,
        ``r=a*i/(n-i)`` and ``r=a*i/(1-b*i)`` are supported).
    """
    equation = attributes["eq"]
    if equation == "r=d*i":
        if int(attributes.get("istart", "0")) != 0:
            raise ValueError("equidistant radial grids must start at i = 0")
        return RadialGrid(equation, (float(attributes["d"]),), int(attributes["iend"]) + 1)
    if equation == "r=a*i/(n-i)":
        n = int(attributes["n"])
        return RadialGrid(equation, (float(attributes["a"]) / n, 1.0 / n), n)
    if equation == "r=a*i/(1-b*i)":
        return RadialGrid(
            equation, (float(attributes["a"]), float(attributes["b"])), int(attributes["n"])
        )
    raise ValueError(f"unsupported radial grid equation {equation!r}")


def _divide_by_r_to_the_l(values: np.ndarray, ell: int, r: np.ndarray) -> np.ndarray:
    """``values / r^l`` with the r = 0 point extrapolated quadratically (GPAW's ``divrl``)."""
    out = values.astype(float).copy()
    if ell > 0:
        out[1:] /= r[1:] ** ell
        (b1, b2), (r1, r2) = out[1:3], r[1:3] ** 2
        out[0] = (b1 * r2 - b2 * r1) / (r2 - r1)
    return out


@dataclass(frozen=True, eq=False)
class RadialFunction:
    """Radial function ``R(r) = f(r) r^l`` (l = ``ell``) with ``f`` a clamped cubic spline.

    Attributes
    ----------
    ell
        Angular momentum l.
    cutoff
        Radius beyond which the function is zero, Bohr.
    knots
        Values of ``f`` at the uniform knots ``linspace(0, cutoff, len(knots))``; the
        last one is zero.
    label
        Description from the data file (e.g. ``"6p-sz confined orbital"``).
    """

    ell: int
    cutoff: float
    knots: np.ndarray = field(repr=False)
    label: str = ""

    @classmethod
    def from_grid(
        cls,
        grid: RadialGrid,
        values: np.ndarray,
        ell: int,
        cutoff: float | None = None,
        points: int = 25,
        label: str = "",
    ) -> RadialFunction:
        """Reproduce ``RadialGridDescriptor.spline`` of GPAW.

        Parameters
        ----------
        grid
            The file's radial grid.
        values
            ``R(r)`` on the first ``len(values)`` grid points.
        ell
            Angular momentum.
        cutoff
            Spline cutoff, Bohr (non-uniform grids only; equidistant grids use their last
            point, as GPAW does).
        points
            Number of spline intervals on non-uniform grids (GPAW: 400 for basis
            functions, 25 for projectors).
        label
            Description kept with the function.
        """
        values = np.asarray(values, dtype=float)
        n = len(values)
        r = grid.r[:n]
        scaled = _divide_by_r_to_the_l(values, ell, r)
        if grid.equidistant:
            cutoff, knots = float(r[-1]), scaled
        else:
            if cutoff is None:
                raise ValueError("a cutoff is needed to spline on a non-uniform grid")
            r_i = np.linspace(0.0, cutoff, points + 1)
            g_i = np.clip((grid.r2g(r_i) + 0.5).astype(int), 1, n - 2)
            r1, r2, r3 = r[g_i - 1], r[g_i], r[g_i + 1]
            x1 = (r_i - r2) * (r_i - r3) / (r1 - r2) / (r1 - r3)
            x2 = (r_i - r1) * (r_i - r3) / (r2 - r1) / (r2 - r3)
            x3 = (r_i - r1) * (r_i - r2) / (r3 - r1) / (r3 - r2)
            knots = scaled[g_i - 1] * x1 + scaled[g_i] * x2 + scaled[g_i + 1] * x3
        knots = np.array(knots, dtype=float)
        knots[-1] = 0.0
        return cls(ell, float(cutoff), knots, label)

    @cached_property
    def spline(self) -> CubicSpline:
        """The clamped cubic spline of ``f(r) = R(r) / r^l`` on ``[0, cutoff]`` (Bohr)."""
        r_knots = np.linspace(0.0, self.cutoff, len(self.knots))
        return CubicSpline(r_knots, self.knots, bc_type="clamped", extrapolate=False)

    def __call__(self, r: np.ndarray) -> np.ndarray:
        """``R(r) = f(r) r^l`` at radii ``r`` (Bohr); zero at and beyond the cutoff."""
        r = np.asarray(r, dtype=float)
        inside = (r >= 0) & (r < self.cutoff)
        out = np.zeros_like(r)
        out[inside] = self.spline(r[inside]) * r[inside] ** self.ell
        return out

    def quadrature(self, nodes: int = 4, max_piece: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
        """Gauss–Legendre nodes and weights covering ``[0, cutoff]`` (Bohr).

        Every spline interval (where the spline is one cubic polynomial) is split into
        equal pieces no longer than ``max_piece`` with ``nodes`` points each, so
        ``sum(w * g(r))`` integrates products of this function with smooth oscillating
        functions (``j_l(k r)``, ``k <= 30/Bohr``) to ~1e-10.
        """
        x, w = np.polynomial.legendre.leggauss(nodes)
        knots = np.linspace(0.0, self.cutoff, len(self.knots))
        split = max(1, int(np.ceil((knots[1] - knots[0]) / max_piece)))
        edges = np.linspace(0.0, self.cutoff, (len(self.knots) - 1) * split + 1)
        half = 0.5 * np.diff(edges)
        mid = 0.5 * (edges[1:] + edges[:-1])
        return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()

r"""Relative density of a free cluster: its solid over the volume of its convex envelope.

A packing that fills the periodic box cannot change ``int rho dV / V_box`` (mass is conserved),
so densification is measured on a free cluster, particles surrounded by vapour: the solid
divided by the volume of the cluster's envelope, the convex hull of its ``rho = 1/2`` surface,

.. math::
    \rho_{rel} = \frac{\int_{box}\rho\,dV}{V\big(\mathrm{hull}\{x : \rho(x) = \tfrac12\}\big)},

(2D: an area ratio). The surface is sampled at sub-cell accuracy: on every pair of face
neighbours whose values straddle one half, the crossing point of the linear interpolation
between the two cell centres. The numerator is the whole solid, so a mass-conserving run
changes ``rho_rel`` only by its envelope: the pores between the particles, outer concavities
included, count as porosity, and the envelope shrinks as the grains approach. A single disc or
sphere reads 1 up to the diffuse surface: a tanh profile ``(1 - tanh(s / w)) / 2`` holds
``(pi^2 w^2 / 24) int (k_1 + k_2) dA`` more solid than the region inside its contour (k the
curvatures), ``pi^2 w^2 / (12 R^2)`` of a disc, ``pi^2 w^2 / (4 R^2)`` of a sphere; so a
packing of small particles reads a few per cent high. Hull: `scipy.spatial.ConvexHull` (Qhull),
host side.

The cluster must be free: along every axis some slab of the box (a row in 2D, a plane in 3D)
holds no dense cell (``rho > 1/2``). It may straddle the periodic boundary: each axis is cut at
its widest empty gap before the hull is taken. A solid that spans the box along an axis (a
periodic film or packing) has no envelope: NaN (its box fraction is the measure there).
"""

from __future__ import annotations

import numpy as np

from sintersim.grid import Grid


def _longest_empty_run(occupied: np.ndarray) -> int:
    """Start index of the longest cyclic run of False in ``occupied`` (some entry is False)."""
    n = len(occupied)
    start = int(np.flatnonzero(occupied)[0]) if occupied.any() else 0
    best_len, best_start, run, run_start = 0, 0, 0, 0
    for k in range(n):  # walk once around, beginning at an occupied slab
        i = (start + k) % n
        if occupied[i]:
            run = 0
            continue
        if run == 0:
            run_start = i
        run += 1
        if run > best_len:
            best_len, best_start = run, run_start
    return best_start


def envelope_points(rho, level: float = 0.5) -> np.ndarray | None:
    """Points (array index units, cell centres at i + 1/2; (M, d)) of the ``rho = level``
    surface: the linear-interpolation crossing of every face-neighbour pair that straddles
    ``level``, unwrapped (the cluster whole, cut at each axis's widest empty gap) and shifted
    by whole boxes so that their mean lies in the box. None when the dense cells span the box
    along an axis, or when there are none."""
    rho = np.asarray(rho, float)
    dense = rho > level
    if not dense.any():
        return None
    d, shape = rho.ndim, rho.shape
    starts = []
    for ax in range(d):
        occupied = dense.any(axis=tuple(a for a in range(d) if a != ax))
        if occupied.all():
            return None
        start = _longest_empty_run(occupied)
        starts.append(start)
        # slab 0 is empty after the roll; its copy at the end closes the last dense slab
        rho = np.roll(rho, -start, axis=ax)
        rho = np.concatenate([rho, np.take(rho, [0], axis=ax)], axis=ax)
    core = tuple(slice(0, n - 1) for n in rho.shape)  # the box, without the copies
    pts = []
    for ax in range(d):
        a = rho[core]
        nxt = [slice(0, n - 1) for n in rho.shape]
        nxt[ax] = slice(1, rho.shape[ax])
        b = rho[tuple(nxt)]
        cross = (a > level) != (b > level)
        idx = np.argwhere(cross).astype(float)
        if not len(idx):
            continue
        va, vb = a[cross], b[cross]
        idx += 0.5
        idx[:, ax] += (va - level) / (va - vb)
        pts.append(idx)
    if not pts:
        return None
    pts = np.concatenate(pts) + np.asarray(starts, float)  # back to the box's frame, unwrapped
    n = np.asarray(shape, float)
    return pts - n * np.floor(pts.mean(axis=0) / n)


def envelope_volume(rho, grid: Grid, level: float = 0.5) -> float:
    """Volume (area in 2D) of the convex hull of the ``rho = level`` surface, in length units
    (NaN where `envelope_points` has none or the points span no volume)."""
    from scipy.spatial import ConvexHull, QhullError

    pts = envelope_points(rho, level)
    if pts is None or len(pts) <= grid.ndim:
        return float("nan")
    try:
        hull = ConvexHull(pts)
    except QhullError:  # all points on a line / plane
        return float("nan")
    return float(hull.volume) * grid.cell_volume


def envelope_density(rho, grid: Grid, level: float = 0.5) -> float:
    """Relative density of a free cluster, ``int rho dV / V_hull`` (module docstring); NaN when
    the solid spans the periodic box along an axis."""
    rho = np.asarray(rho, float)
    volume = envelope_volume(rho, grid, level)
    return float(np.sum(rho) * grid.cell_volume / volume) if np.isfinite(volume) else np.nan


__all__ = ["envelope_density", "envelope_points", "envelope_volume"]

"""Initial conditions: particles as smoothed discs (2D) or spheres (3D)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Float, Int

from sintersim.grid import Grid
from sintersim.state import State


def particle_profile(
    grid: Grid,
    centre: Sequence[float | int] | Float[np.ndarray, " D"],
    radius: float | int,
    width: float | int,
) -> np.ndarray:
    """``(1 - tanh((r - R) / w)) / 2``: 1 inside a ball of radius R, 0 outside, width ~ 2w.

    Distances are taken along the periodic box's minimum image, so a particle may touch an edge.
    """
    r2 = 0.0
    for x, c, length in zip(grid.coordinates(), centre, grid.lengths, strict=True):
        d = x - c
        d = d - length * np.round(d / length)
        r2 = r2 + d**2
    return 0.5 * (1.0 - np.tanh((np.sqrt(r2) - radius) / width))


# Beyond R + 20 w from its centre a profile is exactly 0 in float64 (1 - tanh(20) rounds to 0).
PROFILE_REACH_WIDTHS = 20.0


def _local_profile(grid: Grid, centre, radius: float, width: float):
    """(window index, values) of `particle_profile` on the cells within ``R + 20 w`` of the
    centre along each axis (periodic): the same values as on the whole grid, at a cost of the
    particle's own cells, so thousands of particles build in seconds."""
    reach = radius + PROFILE_REACH_WIDTHS * width
    idx, d2 = [], 0.0
    dx = grid.spacing
    for a, (ca, n, length) in enumerate(zip(centre, grid.shape, grid.lengths, strict=True)):
        lo, hi = math.floor((ca - reach) / dx - 0.5), math.ceil((ca + reach) / dx - 0.5)
        i = np.arange(n) if hi - lo + 1 >= n else np.arange(lo, hi + 1) % n
        d = (i + 0.5) * dx - ca
        d = d - length * np.round(d / length)
        shape = [1] * grid.ndim
        shape[a] = len(i)
        d2 = d2 + (d**2).reshape(shape)
        idx.append(i)
    return np.ix_(*idx), 0.5 * (1.0 - np.tanh((np.sqrt(d2) - radius) / width))


def particles(
    grid: Grid,
    centres: Sequence[Sequence[float | int]] | Float[np.ndarray, "N D"],
    radii: Sequence[float | int] | Float[np.ndarray, " N"],
    width: float | int = 1.0,
    grain_of: Sequence[int] | Int[np.ndarray, " N"] | None = None,
    n_fields: int | None = None,
    dtype=None,
) -> State:
    """State with one grain per particle: ``eta_g = max`` of its particles' profiles and
    ``rho = max_i profile_i`` (overlapping particles meet at a sharp cusp, the classic neck start).

    grain_of: the order parameter each particle uses (default: particle i -> field i).
    """
    if len(centres) != len(radii):
        raise ValueError("centres and radii must have the same length")
    grain_of = list(range(len(radii))) if grain_of is None else list(grain_of)
    n_fields = max(grain_of) + 1 if n_fields is None else n_fields
    eta = np.zeros((n_fields, *grid.shape))
    rho = np.zeros(grid.shape)
    for c, r, g in zip(centres, radii, grain_of, strict=True):
        win, p = _local_profile(grid, c, r, width)
        eta[g][win] = np.maximum(eta[g][win], p)
        rho[win] = np.maximum(rho[win], p)
    dtype = dtype or jnp.result_type(float)
    return State(jnp.asarray(rho, dtype), jnp.asarray(eta, dtype))


def two_particles(
    grid: Grid,
    radius: float,
    radius2: float | None = None,
    gap: float = 0.0,
    width: float = 1.0,
    dtype=None,
) -> State:
    """Two particles on the first axis, centred in the box, surfaces ``gap`` apart.

    radius, radius2: the two radii (equal if radius2 is None), in grid length units.
    gap: surface-to-surface distance; negative for an overlap (a pre-formed contact).
    Returns also nothing else: centres follow from `two_particle_centres`.
    """
    centres = two_particle_centres(grid, radius, radius2, gap)
    r2 = radius if radius2 is None else radius2
    return particles(grid, centres, [radius, r2], width=width, dtype=dtype)


def two_particle_centres(
    grid: Grid, radius: float, radius2: float | None = None, gap: float = 0.0
) -> list[list[float]]:
    """Centres used by `two_particles`: on the first axis, the pair centred in the box."""
    r2 = radius if radius2 is None else radius2
    span = radius + r2 + gap
    mid = [length / 2 for length in grid.lengths]
    x1 = mid[0] - span / 2
    c1 = [x1] + mid[1:]
    c2 = [x1 + span] + mid[1:]
    for c, r in ((c1, radius), (c2, r2)):
        if c[0] - r < 0 or c[0] + r > grid.lengths[0] or any(r > m for m in mid[1:]):
            raise ValueError(
                f"particle of radius {r} at {c} does not fit in the box {grid.lengths}"
            )
    return [c1, c2]

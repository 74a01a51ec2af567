"""Observables of a state: pure JAX, differentiable where the quantity is smooth.

Lengths are in grid units (multiply by ``Scales.length_m`` for metres).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from sintersim import grains
from sintersim.grid import Grid
from sintersim.model._sinter import SinterModel
from sintersim.orientation import misorientation_matrix
from sintersim.state import State


def mass(state: State, grid: Grid) -> Float[Array, ""]:
    """Total amount of material, ``int rho dV``."""
    return jnp.sum(state.rho) * grid.cell_volume


def grain_volumes(state: State, grid: Grid) -> Float[Array, " P"]:
    """``int eta_i dV`` for every order parameter."""
    return grains.grain_volumes(state.eta, grid.cell_volume)


def orientation_observables(
    state: State, grid: Grid, model: SinterModel, min_area: float = 1.0, min_volume: float = 1.0
) -> dict[str, Array]:
    """Misorientations, boundary areas and the grain count of an oriented state.

    misorientation_deg: (P, P) symmetry-reduced misorientation of every pair of fields; NaN for
        pairs with an empty field (a stitched-away grain keeps a meaningless angle).
    boundary_area: (P, P) area (3D) / length (2D) of each pair's boundary, grid units
        (`GrainBoundaryLaw.boundary_areas`).
    contact: (P, P) bool, pairs whose boundary is at least ``min_area``.
    grain_count: fields holding at least ``min_volume`` of material (stitched grains count once).
    total_boundary_area: sum of the boundary areas over pairs.
    """
    law = model.energy.boundaries
    if law is None or state.orientation is None:
        raise ValueError("orientation observables need orientations and energy.boundaries")
    theta = misorientation_matrix(state.orientation, law.symmetry)
    area = law.boundary_areas(state.eta, state.orientation, grid.cell_volume)
    vol = grain_volumes(state, grid)
    live = vol >= min_volume
    both = live[:, None] & live[None, :]
    return {
        "misorientation_deg": jnp.where(both, jnp.degrees(theta), jnp.nan),
        "boundary_area": area,
        "contact": area >= min_area,
        "grain_count": jnp.sum(vol >= min_volume),
        "total_boundary_area": 0.5 * jnp.sum(area),
    }


def free_energy(state: State, grid: Grid, model: SinterModel) -> Float[Array, ""]:
    return model.free_energy(state, grid)


def grain_centres(state: State, grid: Grid) -> Float[Array, "P D"]:
    """Centre of each grain, ``int x eta_i^2 dV / int eta_i^2 dV`` (no wrap-around: particles are
    assumed not to straddle the periodic boundary)."""
    return grains.weighted_centres(state.eta**2, grid)


def cross_sections(state: State, grid: Grid) -> Float[Array, " N0"]:
    """``A(x) = int rho dy (dz)``: the material cross-section of every plane normal to axis 0.

    In 2D this is a length (the solid width of the column), in 3D an area.
    """
    axes = tuple(range(1, grid.ndim))
    return jnp.sum(state.rho, axis=axes) * grid.spacing ** (grid.ndim - 1)


def neck_size(
    state: State, grid: Grid, x_lo: float | Float[Array, ""], x_hi: float | Float[Array, ""]
) -> Float[Array, ""]:
    """Neck width (2D) or neck radius (3D) between two particles on axis 0.

    The neck is the cross-section at the grain boundary between grains 0 and 1: the plane
    ``x_gb = int x g dx / int g dx`` with ``g(x) = int eta_0 eta_1 dy (dz)``, the cross-section
    ``A(x)`` linearly interpolated there. Without a boundary (one grain field, or the boundary
    has gone) it is the narrowest cross-section between the planes ``x_lo < x < x_hi`` (normally
    the initial particle centres). Width ``w = A`` in 2D, radius ``sqrt(A / pi)`` in 3D. Both
    integrate rho, so the value varies continuously below one cell.

    Why the boundary plane and not simply the narrowest plane: late in fusion the pair rounds
    into one body whose ends retract inside the initial centres, and the narrowest plane between
    them is then near an end, not at the neck.
    """
    a = cross_sections(state, grid)
    x = jnp.asarray(np.asarray(grid.coordinates()[0]).ravel())
    inside = (x > x_lo) & (x < x_hi)
    a_min = jnp.min(jnp.where(inside, a, jnp.inf))
    if state.eta.shape[0] >= 2:
        g = jnp.where(
            inside, jnp.sum(state.eta[0] * state.eta[1], axis=tuple(range(1, grid.ndim))), 0
        )
        g_sum = jnp.sum(g)
        has_gb = g_sum > 1e-3 * grid.spacing ** (grid.ndim - 1)
        x_gb = jnp.sum(x * g) / jnp.where(has_gb, g_sum, 1.0)
        a_gb = jnp.interp(x_gb, x, a)
        a_min = jnp.where(has_gb, a_gb, a_min)
    if grid.ndim <= 2:
        return a_min
    return jnp.sqrt(a_min / jnp.pi)


def centre_distance(state: State, grid: Grid, i: int = 0, j: int = 1) -> Float[Array, ""]:
    c = grain_centres(state, grid)
    return jnp.linalg.norm(c[i] - c[j])


def two_particle_observables(
    state: State,
    grid: Grid,
    model: SinterModel,
    x_lo: float | Float[Array, ""],
    x_hi: float | Float[Array, ""],
) -> dict[str, Array]:
    """The standard set for a two-particle run (grid units), as one pytree.

    x_lo, x_hi: the initial particle centres on axis 0 (the neck is searched between them).
    """
    return {
        "neck": neck_size(state, grid, x_lo, x_hi),
        "centre_distance": centre_distance(state, grid),
        "free_energy": free_energy(state, grid, model),
        "mass": mass(state, grid),
        "grain_volume": grain_volumes(state, grid),
    }

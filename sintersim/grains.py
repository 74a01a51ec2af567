"""Grain measures, one definition each: volume and (weighted) centre of every order parameter.

Used by the model (rotation, rigid-body motion, stitching) inside the compiled step and by the
observables; pure JAX, grid units.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.grid import Grid


def grain_volumes(eta: Float[Array, "P *grid"], cell_volume: float) -> Float[Array, " P"]:
    """``V_i = int eta_i dV`` for every order parameter."""
    return jnp.sum(eta, axis=tuple(range(1, eta.ndim))) * cell_volume


def weighted_centres(
    weights: Float[Array, "P *grid"], grid: Grid, floor: float = 0.0
) -> Float[Array, "P D"]:
    """``int x w_i dV / max(int w_i dV, floor)`` for every weight field w_i (no wrap-around:
    grains are assumed not to straddle the periodic boundary). A floor > 0 keeps an emptied
    field's centre finite (at the origin) where the motion of grains uses it.

    The weight says which centre: ``eta`` gives the centre of mass (the lever arm of the
    rigid-body rotation), ``eta**2`` a centre that the diffuse surface pulls less (the
    observables' grain centre).
    """
    axes = tuple(range(1, weights.ndim))
    dv = grid.cell_volume
    norm = jnp.maximum(jnp.sum(weights, axis=axes) * dv, floor)
    cs = [
        jnp.sum(weights * jnp.asarray(x, weights.dtype), axis=axes) * dv / norm
        for x in grid.coordinates()
    ]
    return jnp.stack(cs, axis=-1)

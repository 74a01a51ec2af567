r"""Grains on the device: connected components of every order parameter, inside jit.

A field holds several grains in a packing (distant particles share an order parameter), so
anything that acts per grain (rigid-body motion) first needs the grains. The host labelling of
the observables (`sintersim.observables._labels`, scipy) cannot run inside a compiled step; this
one is pure JAX:

* label propagation: every cell of the mask starts with its own flat index; each sweep takes the
  minimum over the cell and its 2d face neighbours (periodic), restricted to the mask;
* pointer jumping after each sweep (``lab <- lab[lab]``): a label is the index of a cell of the
  same component whose own label is at least as small, so following it shortens chains; the
  number of sweeps grows like the log of a grain's diameter rather than linearly;
* the loop stops when a sweep changes nothing (``lax.while_loop``), so the result is exact, not
  truncated: every component ends labelled by its smallest flat index (its *root*).

Labels are recomputed from the fields themselves, so they follow field re-assignment (a grain
moved to another order parameter is found there) and grains that merge or split, and they carry
no state between steps. A grain's identity across save-points (the scenario's grain ids) is the
observables' business (`sintersim.packing` tracking); the motion only needs the components.
Integer outputs carry no tangents, so forward- and reverse-mode differentiation pass by.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int


def _neighbour_min(lab: Array, ndim: int) -> Array:
    """Minimum of each cell and its face neighbours (periodic) over the last ndim axes."""
    out = lab
    for ax in range(-ndim, 0):
        out = jnp.minimum(out, jnp.minimum(jnp.roll(lab, 1, ax), jnp.roll(lab, -1, ax)))
    return out


def label_components(mask: Bool[Array, "P *grid"], ndim: int) -> Int[Array, "P *grid"]:
    """Connected components (face connectivity, periodic) of every field's mask.

    mask: (P, *grid) booleans, one mask per order parameter. Returns int32 labels of the same
    shape: the flat index (over the grid, per field) of each component's first cell, and
    ``size`` (the number of cells, one past any index) outside the mask.
    """
    grid_shape = mask.shape[-ndim:]
    size = 1
    for n in grid_shape:
        size *= int(n)
    p = mask.shape[0]
    idx = jnp.arange(size, dtype=jnp.int32).reshape(grid_shape)
    outside = jnp.int32(size)
    lab0 = jnp.where(mask, idx[None], outside)

    def jump(lab):
        flat = lab.reshape(p, size)
        # Pad with the 'outside' value so cells outside the mask (label = size) gather it.
        padded = jnp.concatenate([flat, jnp.full((p, 1), outside, jnp.int32)], axis=1)
        return jnp.take_along_axis(padded, flat, axis=1).reshape(lab.shape)

    def sweep(carry):
        lab, _ = carry
        new = jnp.where(mask, _neighbour_min(lab, ndim), outside)
        new = jnp.minimum(new, jump(new))
        new = jump(new)
        return new, jnp.any(new != lab)

    lab, _ = jax.lax.while_loop(lambda c: c[1], sweep, (lab0, jnp.bool_(True)))
    return lab


def dilate_labels(labels: Int[Array, "P *grid"], ndim: int, cells: int) -> Int[Array, "P *grid"]:
    """Labels grown ``cells`` cells into the background (the smallest neighbouring label wins
    where two grains of one field reach the same cell); labelled cells keep theirs."""
    size = 1
    for n in labels.shape[-ndim:]:
        size *= int(n)
    out = labels
    for _ in range(cells):
        out = jnp.where(out < size, out, _neighbour_min(out, ndim))
    return out

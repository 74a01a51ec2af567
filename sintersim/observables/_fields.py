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
    a = _at_neck_plane(state, grid, x_lo, x_hi, cross_sections(state, grid))
    if grid.ndim <= 2:
        return a
    return jnp.sqrt(a / jnp.pi)


def _at_neck_plane(
    state: State,
    grid: Grid,
    x_lo: float | Float[Array, ""],
    x_hi: float | Float[Array, ""],
    profile: Float[Array, " N0"],
) -> Float[Array, ""]:
    """``profile(x)`` (one value per plane normal to axis 0) read at the neck plane.

    The neck plane is the grain-boundary plane between grains 0 and 1,
    ``x_gb = int x g dx / int g dx`` with ``g(x) = int eta_0 eta_1 dy (dz)`` over
    ``x_lo < x < x_hi``, where the profile is linearly interpolated; without a boundary (one grain
    field, or the boundary has gone) the value is the smallest profile value between the planes.
    Shared by `neck_size` and `projected_neck_width` so both read the same plane.
    """
    x = jnp.asarray(np.asarray(grid.coordinates()[0]).ravel())
    inside = (x > x_lo) & (x < x_hi)
    a_min = jnp.min(jnp.where(inside, profile, jnp.inf))
    if state.eta.shape[0] >= 2:
        g = jnp.where(
            inside, jnp.sum(state.eta[0] * state.eta[1], axis=tuple(range(1, grid.ndim))), 0
        )
        g_sum = jnp.sum(g)
        has_gb = g_sum > 1e-3 * grid.spacing ** (grid.ndim - 1)
        x_gb = jnp.sum(x * g) / jnp.where(has_gb, g_sum, 1.0)
        a_gb = jnp.interp(x_gb, x, profile)
        a_min = jnp.where(has_gb, a_gb, a_min)
    return a_min


def projected_neck_width(
    state: State,
    grid: Grid,
    x_lo: float | Float[Array, ""],
    x_hi: float | Float[Array, ""],
    beam_axis: int = 2,
    threshold: float | None = None,
) -> Float[Array, ""]:
    """Neck width a TEM sees: the width of the projected silhouette at the neck (3D only).

    An in-situ TEM image is a projection along the electron beam, so a measured neck width is
    the width of the silhouette of the fused pair, not the 3D neck radius; for a pair that is not
    a body of revolution about axis 0 (unequal necks, a tilted or offset pair, a faceted neck) it
    depends on the beam direction. With the particles on axis 0, the beam along ``z`` (axis
    ``beam_axis``) and ``y`` the remaining axis:

    1. projected thickness ``T(x, y) = int rho dz`` (sum along the beam times the spacing, grid
       length units): the thickness of material the beam crosses;
    2. silhouette occupancy ``s(x, y) = clip(T / t_c, 0, 1)`` with ``t_c = threshold``: 1 where
       the column holds at least ``t_c`` of material, ramping linearly to 0 below it. The ramp
       (rather than a step ``T > t_c``) keeps the width continuous below one cell and
       differentiable almost everywhere, as `neck_size` is;
    3. silhouette width ``W(x) = int s dy`` at every plane normal to axis 0;
    4. the projected neck width is ``W`` at the neck plane found as in `neck_size`: the
       ``eta_0 eta_1``-weighted grain-boundary plane between ``x_lo`` and ``x_hi`` (``W``
       linearly interpolated there), or the narrowest ``W`` between them when there is no
       boundary.

    Viewed perpendicular to its axis a body of revolution of radius ``r(x)`` has the silhouette
    width ``2 r(x)``, so for an axisymmetric pair the result is about ``2 * neck_size`` whatever
    the beam axis (1 or 2).

    Two effects of the diffuse, gridded fields, both about a spacing (measured on tanh pairs):

    - the silhouette is wider than the ``rho = 1/2`` surface: the diffuse tail of the surface,
      integrated along a chord, projects to a thickness above ``t_c`` just outside it (about
      ``sqrt(pi a w) exp(-2 delta / w)`` at a distance ``delta`` outside a neck of radius ``a``
      with the tanh interface ``(1 - tanh((r - R) / w)) / 2``). For a neck surface normal to the
      boundary plane and ``t_c`` two spacings, the excess width is ~0.4-0.8 spacings for
      ``w = 0.5`` and ~1.4-2.1 for ``w = 1`` (neck radii of 3-12 spacings); a fresh cusped
      contact, whose surface meets the plane obliquely, adds more. Compare simulated widths with
      each other or with ``2 * neck_size`` knowing this offset, or pass a larger ``threshold``;
    - the silhouette edge is sampled cell by cell: the width is continuous, but as a neck grows
      it runs in steps of about a cell (the excess above oscillates by ~+-0.3 spacings, and
      the local slope ``dW/dR`` swings between ~0.2 and ~2 times its mean for ``w = 0.5``; less
      for a wider interface). Gradients are exact for the definition, but fit over changes of
      a cell or more.

    threshold: ``t_c``, grid length units; default two grid spacings. The edge of a TEM
        silhouette is where the projected thickness falls to a few atomic layers, and a grid
        spacing is of the order of a lattice spacing in production runs. Two rather than one
        because of the diffuse tail above: at one spacing the excess width is ~0.9-1.2 spacings
        for ``w = 0.5`` (~2.2-2.8 for ``w = 1``), against ~0.4-0.8 at two, while the linear ramp
        below ``t_c`` takes only about ``t_c^2 / (12 a)`` off the width of a sharp-edged neck.
    beam_axis: 1 or 2, the grid axis of the beam (perpendicular to the particle axis 0).

    Example (an axisymmetric pair, centres 12 apart, radius 8: ``2 sqrt(8^2 - 6^2) = 10.58``)::

        from sintersim import Grid, two_particles
        from sintersim.initial import two_particle_centres
        from sintersim.observables import neck_size, projected_neck_width

        grid = Grid((47, 32, 32))
        state = two_particles(grid, 8.0, gap=-4.0, width=0.5)
        (x_lo, *_), (x_hi, *_) = two_particle_centres(grid, 8.0, gap=-4.0)
        projected_neck_width(state, grid, x_lo, x_hi, beam_axis=2)  # 11.63 (beam 1: the same)
        2 * neck_size(state, grid, x_lo, x_hi)  # 10.62
    """
    if grid.ndim != 3 or state.rho.ndim != 3:
        raise ValueError(
            "projected_neck_width needs a 3D state and grid (a projection along a beam), got a "
            f"{grid.ndim}D grid and rho of shape {tuple(state.rho.shape)}"
        )
    if isinstance(beam_axis, bool) or beam_axis not in (1, 2):
        raise ValueError(
            f"beam_axis must be 1 or 2 (perpendicular to the particle axis 0), got {beam_axis!r}"
        )
    t_c = 2.0 * grid.spacing if threshold is None else threshold
    if not t_c > 0:
        raise ValueError(f"threshold must be > 0 (a thickness in grid length units), got {t_c}")
    thickness = jnp.sum(state.rho, axis=beam_axis) * grid.spacing  # T(x, y), shape (N0, Ny)
    occupancy = jnp.clip(thickness / t_c, 0.0, 1.0)
    width = jnp.sum(occupancy, axis=1) * grid.spacing  # W(x)
    return _at_neck_plane(state, grid, x_lo, x_hi, width)


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

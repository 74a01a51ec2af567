r"""Rigid-body motion of grains (Wang, Acta Mater. 54, 953 (2006)), optional.

Each grain moves as a rigid body with the velocity field

.. math::
    v_i(r) = \frac{m_t}{V_i} F_i + \omega_i \times (r - r_{c,i}),\qquad
    F_i = \int \kappa_f\,(\rho - \rho_0) \sum_{j \ne i} \langle\eta_i\eta_j\rangle
          (\nabla\eta_i - \nabla\eta_j)\,dV,

where ``<eta_i eta_j>`` is 1 inside the boundary (``eta_i eta_j >= c_gb``) and 0 elsewhere, so a
boundary short of (or above) the reference density ``rho_0`` pulls (pushes) the two grains along
its normal: this is Wang's densification force. The angular velocity ``omega_i`` is the lattice
rotation rate of `sintersim._rotation` (``m_r tau_i / V_i`` with the free-energy torque), so a
grain's shape turns together with its crystal lattice; without a `Rotation` it is zero.

The fields are advected in flux form (so mass is conserved to round-off):

.. math::
    \partial_t\eta_i \mathrel{+}= -\nabla\cdot(\eta_i v_i),\qquad
    \partial_t\rho \mathrel{+}= -\nabla\cdot\Big(\rho \sum_i \eta_i v_i\Big),

applied after the diffusive step (operator splitting; SSP-RK3, spectral divergences).
Stable while ``|v| dt`` stays well below a cell. Grains are assumed not to straddle the periodic
boundary (their centres and lever arms are taken without wrap-around).
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.grains import grain_volumes, weighted_centres
from sintersim.grid import Grid
from sintersim.model._base import AbstractKinetics
from sintersim.model._rotation import Rotation, angular_velocity
from sintersim.orientation import quat_to_matrix
from sintersim.state import State


class RigidBody(AbstractKinetics):
    """Wang-type rigid-body translation (and field rotation) of the grains.

    m_t: translational mobility (internal units): velocity = m_t F_i / V_i.
    kappa_f: strength of the boundary force density (Wang's kappa).
    rho0: reference density of a relaxed boundary (force zero there).
    c_gb: threshold of eta_i eta_j that marks a boundary cell.
    """

    m_t: Float[Array, ""] | float
    kappa_f: Float[Array, ""] | float = 1.0
    rho0: float = 0.998
    c_gb: float = 0.14

    gradient_flow: ClassVar[bool] = False  # advection is not a descent of F

    def update(self, model, grid: Grid, old: State, new: State, dt) -> State:
        """Advect the new fields with the rigid velocities of the old state (Wang 2006); the
        angular velocity is the lattice rotation rate of the model's `Rotation` (none: 0)."""
        vol = jnp.maximum(grain_volumes(old.eta, grid.cell_volume), 1.0)
        centres = weighted_centres(old.eta, grid, floor=1.0)
        trans = self.m_t * boundary_forces(old.rho, old.eta, grid, self) / vol[:, None]
        omega = None
        if old.orientation is not None and model.find(Rotation) is not None:
            omega = angular_velocity(model, grid, old)
            if omega.ndim == 2:  # body-frame rotation vectors -> lab frame
                omega = jnp.einsum("pab,pb->pa", quat_to_matrix(old.orientation), omega)
        v = velocities(grid, old.eta, trans, omega, centres)
        rho, eta = advect(new.rho, new.eta, grid, v, dt)
        return State(rho, eta, new.orientation)


def boundary_forces(rho: Array, eta: Array, grid: Grid, body: RigidBody) -> Float[Array, "P D"]:
    """F_i, the net boundary force on every grain (internal units)."""
    p = eta.shape[0]
    grads = [grid.gradient(eta[i]) for i in range(p)]
    forces = []
    for i in range(p):
        f = [jnp.zeros((), rho.dtype)] * grid.ndim
        for j in range(p):
            if j == i:
                continue
            inside = (eta[i] * eta[j] >= body.c_gb).astype(rho.dtype)
            w = body.kappa_f * (rho - body.rho0) * inside
            pairs = zip(f, grads[i], grads[j], strict=True)
            f = [fa + jnp.sum(w * (gi - gj)) for fa, gi, gj in pairs]
        forces.append(jnp.stack(f) * grid.cell_volume)
    return jnp.stack(forces)


def velocities(
    grid: Grid,
    eta: Array,
    translation: Float[Array, "P D"],
    omega: Array | None,
    centres: Float[Array, "P D"],
) -> list[Array]:
    """The rigid velocity field of every grain, one (P, *grid) array per axis.

    translation: velocity of each grain's centre; omega: (P,) in 2D, (P, 3) in 3D, or None.
    """
    shape = (-1,) + (1,) * grid.ndim
    coords = [jnp.asarray(x, eta.dtype) for x in grid.coordinates()]
    arm = [coords[a][None] - centres[:, a].reshape(shape) for a in range(grid.ndim)]
    v = [translation[:, a].reshape(shape) + jnp.zeros_like(eta) for a in range(grid.ndim)]
    if omega is None:
        return v
    if grid.ndim == 2:  # omega about z: (-w y, w x)
        w = omega.reshape(shape)
        return [v[0] - w * arm[1], v[1] + w * arm[0]]
    w = [omega[:, a].reshape(shape) for a in range(3)]
    cross = [
        w[1] * arm[2] - w[2] * arm[1],
        w[2] * arm[0] - w[0] * arm[2],
        w[0] * arm[1] - w[1] * arm[0],
    ]
    return [va + ca for va, ca in zip(v, cross, strict=True)]


def _rates(rho: Array, eta: Array, grid: Grid, v: list[Array]) -> tuple[Array, Array]:
    """(-div(rho v_rho), -div(eta_i v_i)), ``v_rho = sum_i eta_i v_i / sum_i eta_i``."""
    eta_flux = [eta * va for va in v]
    d_eta = jnp.stack([grid.divergence([f[i] for f in eta_flux]) for i in range(eta.shape[0])])
    # Material moves with the grain it belongs to: weights eta_i / sum eta (not eta_i alone,
    # which would slow rho down across the surface, where eta < 1, and pile it up).
    share = rho / jnp.maximum(jnp.sum(eta, axis=0), 0.02)  # bounded in the vapour
    d_rho = grid.divergence([share * jnp.sum(f, axis=0) for f in eta_flux])
    return -d_rho, -d_eta


def advect(rho: Array, eta: Array, grid: Grid, v: list[Array], dt) -> tuple[Array, Array]:
    """Advance ``d eta_i/dt = -div(eta_i v_i)``, ``d rho/dt = -div(rho sum eta_i v_i)`` by dt.

    Three-stage SSP Runge-Kutta (Shu-Osher) with the velocities frozen: forward Euler is unstable
    for pure advection with spectral derivatives (its amplification exceeds 1 for every
    imaginary eigenvalue); RK3 is stable up to ``|k v dt| < sqrt(3)``. Flux form, so
    ``int rho`` is conserved to round-off.
    """

    def euler(r, e):
        dr, de = _rates(r, e, grid, v)
        return r + dt * dr, e + dt * de

    r1, e1 = euler(rho, eta)
    r2, e2 = euler(r1, e1)
    r2, e2 = 0.75 * rho + 0.25 * r2, 0.75 * eta + 0.25 * e2
    r3, e3 = euler(r2, e2)
    return rho / 3.0 + 2.0 / 3.0 * r3, eta / 3.0 + 2.0 / 3.0 * e3

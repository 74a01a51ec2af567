r"""Grain rotation (the rigid-body rotation law of Wang, Acta Mater. 54, 953 (2006)).

.. math::
    \frac{d\theta_i}{dt} = \frac{m_r}{V_i}\,\tau_i,\qquad
    \tau_i = -\frac{\partial F}{\partial \theta_i},\qquad V_i = \int\eta_i\,dV,

the torque taken by autodiff of the free energy (in 3D with respect to a small body-frame
rotation vector). For a pair with a boundary of length (area) ``A`` the torque is
``A d gamma/d theta``, so with geometrically similar grains (``A ~ R^{d-1}``, ``V ~ R^d``) the
rotation time grows linearly with the grain size R, in 2D and in 3D.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.grains import grain_volumes
from sintersim.grid import Grid
from sintersim.model._base import AbstractKinetics
from sintersim.orientation import rotate
from sintersim.state import State


class Rotation(AbstractKinetics):
    """Rigid rotation of each grain's crystal lattice under the free-energy torque.

    m_r: rotational mobility (internal units: angle per time per torque, times volume), the
        Wang (2006) ``m_r`` in ``d theta_i / dt = m_r tau_i / V_i``.
    min_volume: floor on V_i, so an emptied field (after stitching) does not divide by zero.

    An explicit Euler step of the orientations under the torque of the state at the start of
    the step; a state without orientations is left unchanged.
    """

    m_r: Float[Array, ""] | float
    min_volume: float = 1.0

    def update(self, model, grid: Grid, old: State, new: State, dt) -> State:
        if old.orientation is None:
            return new
        omega = angular_velocity(model, grid, old)
        orient = rotate(new.orientation, dt * omega).astype(new.orientation.dtype)
        return State(new.rho, new.eta, orient)


def _n_rotation(orientation: Array) -> tuple[int, ...]:
    return orientation.shape if orientation.ndim == 1 else (*orientation.shape[:-1], 3)


def torque(model, state: State, grid: Grid) -> Array:
    """tau_i = -dF/d(rotation of grain i), by autodiff of the orientation-dependent energy
    (`SinterModel.orientation_energy`).

    Shape ``(P,)`` in 2D (about the out-of-plane axis), ``(P, 3)`` in 3D (body frame).
    """
    o = state.orientation
    v0 = jnp.zeros(_n_rotation(o), o.dtype)
    g = jax.grad(lambda v: model.orientation_energy(state, grid, rotate(o, v)))(v0)
    return -g


def angular_velocity(model, grid: Grid, state: State) -> Array:
    """``m_r tau_i / V_i`` of the model's `Rotation`: (P,) in 2D, (P, 3) body-frame rotation
    vectors in 3D."""
    rot = model.find(Rotation)
    vol = jnp.maximum(grain_volumes(state.eta, grid.cell_volume), rot.min_volume)
    tau = torque(model, state, grid)
    scale = rot.m_r / vol
    return tau * (scale if tau.ndim == 1 else scale[:, None])

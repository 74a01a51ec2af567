"""Thermal noise of the fields (Cahn-Hilliard-Cook / Langevin), an optional kinetics term."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.grid import Grid
from sintersim.model._base import AbstractKinetics
from sintersim.state import State


class ThermalNoise(AbstractKinetics):
    r"""Thermal fluctuations (Cahn-Hilliard-Cook on rho, Langevin on eta).

    .. math::
        \partial_t\rho = \nabla\cdot(M\nabla\mu + \zeta),\quad
        \langle\zeta_a\zeta_b'\rangle = 2\theta M\,\delta_{ab}\delta(x-x')\delta(t-t');\qquad
        \partial_t\eta_i = -L\,\delta F/\delta\eta_i + \xi_i,\quad
        \langle\xi_i\xi_j'\rangle = 2\theta L\,\delta_{ij}\delta(x-x')\delta(t-t')

    Discretised per cell and step as ``sqrt(2 theta M / (dV dt)) N(0, 1)``. The conserved noise
    enters as a flux, so mass stays conserved to round-off and no extra FFT is needed.

    temperature: theta = k_B T / (E0 l0^3), the thermal energy in internal units (times any
        user scale factor).
    key: JAX PRNG key; step n draws from ``fold_in(key, n)`` with n the global step index, so a
        resumed run draws the same numbers as an uninterrupted one.
    """

    gradient_flow: ClassVar[bool] = False
    deterministic: ClassVar[bool] = False

    temperature: Float[Array, ""] | float
    key: Array

    def _keys(self, step_index):
        return jax.random.split(jax.random.fold_in(self.key, step_index))

    def _variance(self, grid: Grid, dt):
        return 2.0 * self.temperature / (grid.cell_volume * dt)

    def rho_flux(self, model, grid: Grid, state: State, mobility, dt, step_index) -> list[Array]:
        k_rho, _ = self._keys(step_index)
        amp = jnp.sqrt(self._variance(grid, dt) * jnp.maximum(mobility, 0.0))
        rho = state.rho
        return [
            amp * jax.random.normal(jax.random.fold_in(k_rho, a), rho.shape, rho.dtype)
            for a in range(grid.ndim)
        ]

    def eta_force(self, model, grid: Grid, state: State, dt, step_index) -> Array:
        _, k_eta = self._keys(step_index)
        z = jax.random.normal(k_eta, state.eta.shape, state.eta.dtype)
        return jnp.sqrt(self._variance(grid, dt) * model.L) * z

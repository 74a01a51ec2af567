r"""Sublimation: material leaves the particle surface to the vapour and is lost (optional).

The solver conserves mass; with sublimation the density equation gains a sink on the surface,

.. math::
    \partial_t\rho = \nabla\cdot(M\nabla\mu) - v\,2\bar\rho\,|\nabla\rho|,\qquad
    \bar\rho = \mathrm{clip}(\rho, 0, 1),

where v is the recession velocity of the surface. Across a planar surface ``2 rho |grad rho|``
integrates to 1 (it is ``d(rho^2)/dn``), so the volume lost per time is ``v`` times the surface
area for any diffuse profile, and the sink vanishes in the vapour (rho = 0) and in the bulk
(grad rho = 0). For free evaporation into vacuum (the microscope column) the Hertz-Knudsen
law gives

.. math::
    v = \frac{\Omega\,p_v(T)}{\sqrt{2\pi m k_B T}}

with Omega the volume and m the mass per formula unit and p_v the equilibrium vapour pressure
(`hertz_knudsen_velocity`). The grain fields follow the density through the Wang potential
(an order parameter where rho = 0 costs energy), so a sublimed region empties of grains too.
The sink is explicit: a step moves the surface by ``v dt``, far below a cell in practice.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.constants import K_B
from sintersim.grid import Grid
from sintersim.model._base import AbstractKinetics


class Sublimation(AbstractKinetics):
    """Surface sink of the density (module docstring).

    velocity: v, the recession velocity of the surface (internal length / internal time).
    """

    conserves_mass: ClassVar[bool] = False
    gradient_flow: ClassVar[bool] = False

    velocity: Float[Array, ""] | float

    def rho_source(self, model, grid: Grid, state) -> Array:
        return self.rate(state.rho, grid)

    def rate(self, rho: Float[Array, "*grid"], grid: Grid) -> Float[Array, "*grid"]:
        """``-v 2 clip(rho) |grad rho|``, the sink's d rho / dt (spectral gradient)."""
        g2 = sum(d**2 for d in grid.gradient(rho))
        return -self.velocity * 2.0 * jnp.clip(rho, 0.0, 1.0) * jnp.sqrt(g2)


def hertz_knudsen_velocity(
    vapour_pressure_Pa: float, temperature_K: float, atomic_volume_m3: float, mass_kg: float
) -> float:
    """Recession velocity (m/s) of a surface evaporating into vacuum: ``Omega p / sqrt(2 pi m kT)``
    (unit evaporation coefficient)."""
    return (
        atomic_volume_m3
        * vapour_pressure_Pa
        / math.sqrt(2.0 * math.pi * mass_kg * K_B * temperature_K)
    )

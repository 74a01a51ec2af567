"""A stiff density outside the physical range: the crystal's bulk modulus.

Wang's density well ``A rho^2 (1 - rho)^2 + B (1 - rho)^2`` (inside a grain) is soft: its
curvature at rho = 1 is ``2 (A + B)``, the same as the curvature that sets the surface energy, so
a boundary pressed by surface tension (rigid-body motion, a box-filling film) compresses by 10-50 %
instead of the ~0.1 % of a real solid. This term stiffens the density above 1 and below 0 only: on
the physical range it is zero, so equilibrium profiles, surface and boundary energies are unchanged.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.model._base import AbstractLocalTerm
from sintersim.model._rigid_body import RigidBody

# the factor that ran seed 004's box-filling film with motion to its end (0 and 10 did not)
FILM_FACTOR = 100.0


class DensityBounds(AbstractLocalTerm):
    r"""Penalty on a density outside [0, 1]

    .. math::
        f_k = \tfrac{K}{2}\left[\max(\rho - 1, 0)^2 + \max(-\rho, 0)^2\right],\qquad
        K = s\cdot 2(A + B)

    factor: s, K in units of the well's own curvature at rho = 1 (``2 (A + B)``), so that the
        density's modulus above 1 is ``(1 + s)`` times Wang's. 0 switches it off.
    """

    factor: float = eqx.field(static=True, default=10.0)

    def __check_init__(self):
        if not (0.0 <= self.factor <= 1e3):  # also rejects NaN
            raise ValueError(f"DensityBounds.factor = {self.factor}: must lie in [0, 1000]")

    def modulus(self, model) -> Float[Array, ""] | float:
        """K = factor * 2 (A + B), in the energy's units."""
        return self.factor * 2.0 * (model.energy.A + model.energy.B)

    def density(self, model, rho: Float[Array, "*grid"], eta) -> Float[Array, "*grid"]:
        over = jnp.maximum(rho - 1.0, 0.0)
        under = jnp.maximum(-rho, 0.0)
        return 0.5 * self.modulus(model) * (over**2 + under**2)

    def bulk_stiffness(self, model) -> Float[Array, ""] | float:
        return self.modulus(model)

    def local_stiffness(self, model, rho: Float[Array, "*grid"]) -> Float[Array, "*grid"]:
        return jnp.where((rho > 1.0) | (rho < 0.0), self.modulus(model), 0.0)


def soft_density_hint(model) -> str:
    """What a run that left the state range should try when rigid-body motion presses grains
    into a density softer than `FILM_FACTOR` ('' without motion or with that stiffness)."""
    if model.find(RigidBody) is None:
        return ""
    bounds = model.find(DensityBounds)
    if bounds is not None and bounds.factor >= FILM_FACTOR:
        return ""
    return (
        "grains pressed together by rigid-body motion compress a soft density: stiffen it "
        f"(motion.density_stiffness = {FILM_FACTOR:g} in a config, DensityBounds({FILM_FACTOR:g}) "
        "in a model's terms; it ran seed 004's film)"
    )

"""Cahn-Hilliard mobility blending volume, vapour, surface and grain-boundary transport."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float


class Mobility(eqx.Module):
    r"""Density mobility (Wang 2006 form, dimensionless)

    .. math::
        M(\rho,\eta) = M_{vol}\,\phi(\rho) + M_{vap}\,(1-\phi(\rho)) + M_{surf}\,\rho^2(1-\rho)^2
            + M_{gb}\sum_{i\ne j}\eta_i\eta_j,\qquad \phi = \rho^3(10-15\rho+6\rho^2).

    M_vol: lattice (volume) diffusion in the crystal.
    M_vap: transport through the vapour (evaporation-condensation).
    M_surf: surface diffusion, active where 0 < rho < 1.
    M_gb: grain-boundary diffusion, active where two order parameters overlap.

    rho and eta are clipped to [0, 1] first: a small numerical undershoot would otherwise make the
    surface term negative (backward diffusion) and blow the run up.
    """

    M_vol: Float[Array, ""] | float | int
    M_vap: Float[Array, ""] | float | int
    M_surf: Float[Array, ""] | float | int
    M_gb: Float[Array, ""] | float | int

    def __call__(self, rho: Float[Array, "*grid"], eta: Float[Array, "P *grid"]) -> Array:
        r = jnp.clip(rho, 0.0, 1.0)
        e = jnp.clip(eta, 0.0, 1.0)
        phi = r**3 * (10.0 - 15.0 * r + 6.0 * r**2)
        # Written out per field (not jnp.sum over axis 0): fuses on XLA CPU, see WangEnergy.bulk.
        s1 = sum(e[i] for i in range(e.shape[0]))
        pairs = s1**2 - sum(e[i] ** 2 for i in range(e.shape[0]))  # sum_{i != j} eta_i eta_j
        return (
            self.M_vol * phi
            + self.M_vap * (1.0 - phi)
            + self.M_surf * r**2 * (1.0 - r) ** 2
            + self.M_gb * pairs
        )

    def upper_bound(self) -> Array:
        """A bound on max M over physical states, used as the implicit stabilising mobility.

        max rho^2(1-rho)^2 = 1/16; sum_{i!=j} eta_i eta_j stays below 1/2 at a two-grain boundary.
        """
        return jnp.maximum(self.M_vol, self.M_vap) + self.M_surf / 16.0 + 0.5 * self.M_gb

"""Free energy of the Wang (Acta Mater. 54, 953, 2006) sintering model.

Everything the solver needs from the physics is derived from `WangEnergy.total` (chemical
potentials, later torques) by automatic differentiation; new physics enters as a new energy term.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._grid import Grid
from ._state import State


class WangEnergy(eqx.Module):
    r"""Free-energy functional (dimensionless)

    .. math::
        F = \int A\rho^2(1-\rho)^2 + B[\rho^2 + 6(1-\rho)S_2 - 4(2-\rho)S_3 + 3S_2^2]
            + \tfrac{\kappa_\rho}{2}|\nabla\rho|^2
            + \tfrac{\kappa_\eta}{2}\sum_i|\nabla\eta_i|^2 \,dV

    with :math:`S_2=\sum_i\eta_i^2`, :math:`S_3=\sum_i\eta_i^3`. Both bulk phases, crystal
    (rho = 1, one eta_i = 1) and vapour (rho = eta = 0), have zero energy density and zero
    chemical potential, so interfaces between them are at coexistence.

    A: double-well height of the density (sets the surface energy relative to the grain boundary).
    B: height of the grain-structure potential.
    kappa_rho, kappa_eta: gradient coefficients of rho and of every eta_i.
    """

    A: Float[Array, ""] | float
    B: Float[Array, ""] | float
    kappa_rho: Float[Array, ""] | float
    kappa_eta: Float[Array, ""] | float

    def bulk(self, rho: Float[Array, "*grid"], eta: Float[Array, "P *grid"]) -> Array:
        """Local (homogeneous) energy density f0(rho, eta), pointwise.

        eta: the stacked fields, or a sequence of P fields (what `bulk_derivatives` passes).
        """
        # Sums written out over the fields: on XLA CPU a reduction over the stacked grain axis
        # does not fuse with the pointwise work and costs several times more (scripts/bench.py).
        s2 = sum(e**2 for e in eta)
        s3 = sum(e**3 for e in eta)
        well = self.A * rho**2 * (1.0 - rho) ** 2
        grains = rho**2 + 6.0 * (1.0 - rho) * s2 - 4.0 * (2.0 - rho) * s3 + 3.0 * s2**2
        return well + self.B * grains

    def bulk_derivatives(self, rho: Array, eta: Array) -> tuple[Array, Array]:
        """(df0/drho, df0/deta_i), pointwise, by autodiff of `bulk`.

        Differentiated with respect to the list of fields, not the stacked array: the adjoint of
        ``eta[i]`` on a stack is a scatter into a full (P, *grid) zero array per field, which makes
        the cost grow like P^2 (measured: 8 fields at 512^2 took 27x the time of 2).
        """
        fields = [eta[i] for i in range(eta.shape[0])]
        d_rho, d_eta = jax.grad(lambda r, e: jnp.sum(self.bulk(r, e)), argnums=(0, 1))(rho, fields)
        return d_rho, jnp.stack(d_eta)

    def total(self, state: State, grid: Grid) -> Float[Array, ""]:
        """F[rho, eta] on the periodic grid (gradient terms spectral, by Parseval)."""
        bulk = jnp.sum(self.bulk(state.rho, state.eta)) * grid.cell_volume
        grad = self.kappa_rho * grid.gradient_energy(state.rho)
        grad = grad + self.kappa_eta * grid.gradient_energy(state.eta)
        return bulk + grad

    def variational_derivatives(self, state: State, grid: Grid) -> State:
        """(dF/drho, dF/deta) per unit volume: ``jax.grad(total) / dV``, the chemical potentials."""
        g = jax.grad(self.total)(state, grid)
        return State(g.rho / grid.cell_volume, g.eta / grid.cell_volume)

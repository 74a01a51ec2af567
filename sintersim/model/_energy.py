"""Free energy of the Wang (Acta Mater. 54, 953, 2006) sintering model.

Everything the solver needs from the physics is derived from the free energy (chemical
potentials, torques) by automatic differentiation (`SinterModel`); new physics enters as a new
energy term (`sintersim.model.AbstractEnergyTerm`).
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from sintersim.grid import Grid
from sintersim.model._boundaries import GrainBoundaryLaw
from sintersim.state import State

# Up to this many fields the boundary cross terms are written out pair by pair (fuses on XLA CPU);
# beyond, one contraction over the field axis.
PAIR_LOOP_MAX = 8


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
    boundaries: optional misorientation-dependent boundary energy (`GrainBoundaryLaw`): the
        pair coefficients c_ij of the cross term.
    """

    A: Float[Array, ""] | float
    B: Float[Array, ""] | float
    kappa_rho: Float[Array, ""] | float
    kappa_eta: Float[Array, ""] | float
    boundaries: GrainBoundaryLaw | None = None

    def bulk(
        self,
        rho: Float[ArrayLike, "*grid"],
        eta: Float[ArrayLike, "P *grid"] | Sequence[Float[ArrayLike, "*grid"]],
        pair: Float[Array, "P P"] | Float[Array, ""] | float | None = None,
    ) -> Float[ArrayLike, "*grid"]:
        """Local (homogeneous) energy density f0(rho, eta), pointwise.

        eta: the stacked fields, or a sequence of P fields (what `bulk_derivatives` passes).
        pair: ``c_ij - 1``, the change of the boundary cross term ``6 c_ij eta_i^2 eta_j^2``
            (a (P, P) matrix, or one number for every pair); None is Wang's c = 1.
        """
        # Sums written out over the fields: on XLA CPU a reduction over the stacked grain axis
        # does not fuse with the pointwise work and costs several times more (scripts/bench.py).
        s2 = sum(e**2 for e in eta)
        s3 = sum(e**3 for e in eta)
        well = self.A * rho**2 * (1.0 - rho) ** 2
        grains = rho**2 + 6.0 * (1.0 - rho) * s2 - 4.0 * (2.0 - rho) * s3 + 3.0 * s2**2
        if pair is not None and jnp.ndim(pair) == 2 and len(eta) > PAIR_LOOP_MAX:
            # Many fields (a packing, a crystal per particle): one contraction,
            # 6 sum_{i<j} c_ij e_i^2 e_j^2 = 3 sum_i e_i^2 (C e^2)_i with C's diagonal zeroed; the
            # written-out loop would put P(P-1)/2 terms into the program (slow to compile).
            e2 = jnp.stack([e**2 for e in eta])
            c = pair * (1.0 - jnp.eye(len(eta), dtype=e2.dtype))
            grains = grains + 3.0 * jnp.sum(e2 * jnp.tensordot(c, e2, axes=1), axis=0)
        elif pair is not None:
            p = len(eta)
            scalar = jnp.ndim(pair) == 0
            for i in range(p):
                for j in range(i + 1, p):
                    c = pair if scalar else pair[i, j]
                    grains = grains + 6.0 * c * eta[i] ** 2 * eta[j] ** 2
        return well + self.B * grains

    def pair_excess(self, orientation: Array | None) -> Array | None:
        """c_ij - 1 from the orientations (None without a boundary law or orientations)."""
        if self.boundaries is None or orientation is None:
            return None
        return self.boundaries.pair_excess(orientation)

    def total(self, state: State, grid: Grid) -> Float[Array, ""]:
        """F_Wang[rho, eta, orientation] on the periodic grid (gradient terms spectral, by
        Parseval). A model with extra terms: `SinterModel.free_energy`."""
        eta = [state.eta[i] for i in range(state.eta.shape[0])]
        pair = self.pair_excess(state.orientation)
        bulk = jnp.sum(self.bulk(state.rho, eta, pair)) * grid.cell_volume
        grad = self.kappa_rho * grid.gradient_energy(state.rho)
        grad = grad + self.kappa_eta * grid.gradient_energy(state.eta)
        return bulk + grad

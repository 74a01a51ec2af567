"""Free energy of the Wang (Acta Mater. 54, 953, 2006) sintering model.

Everything the solver needs from the physics is derived from `WangEnergy.total` (chemical
potentials, later torques) by automatic differentiation; new physics enters as a new energy term.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._anisotropy import SurfaceAnisotropy
from ._grid import Grid
from ._rotation import GrainBoundaryLaw
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
    boundaries: GrainBoundaryLaw | None = None
    anisotropy: SurfaceAnisotropy | None = None

    def bulk(
        self,
        rho: Float[Array, "*grid"],
        eta: Float[Array, "P *grid"],
        pair: Float[Array, "P P"] | float | None = None,
    ) -> Array:
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
        if pair is not None:
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

    def bulk_derivatives(
        self, rho: Array, eta: Array, orientation: Array | None = None
    ) -> tuple[Array, Array]:
        """(df0/drho, df0/deta_i), pointwise, by autodiff of `bulk`.

        Differentiated with respect to the list of fields, not the stacked array: the adjoint of
        ``eta[i]`` on a stack is a scatter into a full (P, *grid) zero array per field, which makes
        the cost grow like P^2 (measured: 8 fields at 512^2 took 27x the time of 2).
        """
        fields = [eta[i] for i in range(eta.shape[0])]
        pair = self.pair_excess(orientation)
        d_rho, d_eta = jax.grad(lambda r, e: jnp.sum(self.bulk(r, e, pair)), argnums=(0, 1))(
            rho, fields
        )
        return d_rho, jnp.stack(d_eta)

    def total(self, state: State, grid: Grid) -> Float[Array, ""]:
        """F[rho, eta, orientation] on the periodic grid (gradient terms spectral, by Parseval)."""
        grad = self.kappa_rho * grid.gradient_energy(state.rho)
        grad = grad + self.kappa_eta * grid.gradient_energy(state.eta)
        return self.orientation_energy(state, grid, state.orientation) + grad

    def solid(self) -> WangEnergy:
        """The energy of the crystals alone (itself here; `LiquidEnergy` drops its liquid): what
        the unit mapping's surface and grain-boundary checks measure."""
        return self

    def crystal_count(self, n_fields: int) -> int:
        """How many of the ``n_fields`` order parameters (the first ones) are crystals with an
        orientation: all of them here; `LiquidEnergy` keeps its last field, the liquid, out of
        the anisotropy, stitching and the grain observables."""
        return n_fields

    def anisotropic_energy(
        self, state: State, grid: Grid, orientation: Array | None = None
    ) -> Float[Array, ""]:
        """The orientation-dependent surface term of the crystals (0 without `anisotropy` or
        orientations)."""
        o = state.orientation if orientation is None else orientation
        if self.anisotropy is None or o is None:
            return jnp.zeros((), state.rho.dtype)
        k = self.crystal_count(state.eta.shape[0])
        return self.anisotropy.energy(state.rho, state.eta[:k], o[:k], grid, self.kappa_rho)

    def stitch(
        self, eta: Float[Array, "P *grid"], orientation: Array, cell_volume: float
    ) -> tuple[Array, Array]:
        """Merge touching, aligned crystals (`GrainBoundaryLaw.stitch`); the other fields and
        everything without a boundary law stay unchanged."""
        if self.boundaries is None:
            return eta, orientation
        k = self.crystal_count(eta.shape[0])
        crystals, o = self.boundaries.stitch(eta[:k], orientation[:k], cell_volume)
        if k == eta.shape[0]:
            return crystals, o
        return (
            jnp.concatenate([crystals, eta[k:]], axis=0),
            jnp.concatenate([o, orientation[k:]], axis=0),
        )

    def orientation_energy(
        self, state: State, grid: Grid, orientation: Array | None
    ) -> Float[Array, ""]:
        """F without its isotropic gradient terms, with the fields of ``state`` and the given
        orientations: the bulk (with the boundary pair terms) plus the anisotropic surface term.

        Everything in F that depends on the orientations is here, so its gradient with respect
        to them is minus the torque; `total` adds the gradient terms.
        """
        pair = self.pair_excess(orientation)
        bulk = jnp.sum(self.bulk(state.rho, state.eta, pair)) * grid.cell_volume
        return bulk + self.anisotropic_energy(state, grid, orientation)

    def variational_derivatives(self, state: State, grid: Grid) -> State:
        """(dF/drho, dF/deta) per unit volume: ``jax.grad(total) / dV``, the chemical potentials."""
        g = jax.grad(self.total)(state, grid)
        return State(g.rho / grid.cell_volume, g.eta / grid.cell_volume, state.orientation)

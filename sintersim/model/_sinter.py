r"""The model: Wang's functional and mobility plus optional terms, paths and kinetics, one pytree.

.. math::
    \partial_t\rho = \nabla\cdot\big(M(\rho,\eta)\nabla\,\delta F/\delta\rho\big) + \ldots,\qquad
    \partial_t\eta_i = -L\,\delta F/\delta\eta_i + \ldots,\qquad
    F = F_{Wang} + \sum_k F_k,\quad M = M_{Wang} + \sum_k M_k

Everything the solver needs is asked of the model here: chemical potentials (autodiff of F),
the implicit stiffness and mobility bounds, which fields are crystals, and whether the flow
conserves mass and stays a gradient flow. The stepper (`sintersim.solver`) names no feature.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.grid import Grid
from sintersim.model._base import (
    AbstractEnergyTerm,
    AbstractKinetics,
    AbstractLocalTerm,
    AbstractMobilityPath,
)
from sintersim.model._energy import WangEnergy
from sintersim.model._mobility import Mobility
from sintersim.state import State


class SinterModel(eqx.Module):
    r"""Cahn-Hilliard / Allen-Cahn sintering model (dimensionless).

    energy: Wang's functional F_Wang (with its misorientation-dependent boundary law).
    mobility: Wang's density mobility (volume, vapour, surface, grain-boundary paths), evaluated
        on the crystal fields.
    L: Allen-Cahn (grain-boundary) mobility.
    terms: extra free-energy terms F_k (`AbstractEnergyTerm`: surface anisotropy, a liquid, an
        external potential, ...).
    paths: extra density-mobility paths M_k (`AbstractMobilityPath`: liquid transport, ...).
    kinetics: everything else that moves the state (`AbstractKinetics`: rotation, rigid-body
        motion, stitching, sublimation, thermal noise, ...), applied in this order.
    """

    energy: WangEnergy
    mobility: Mobility
    L: Float[Array, ""] | float
    terms: tuple[AbstractEnergyTerm, ...] = ()
    paths: tuple[AbstractMobilityPath, ...] = ()
    kinetics: tuple[AbstractKinetics, ...] = ()

    # --------------------------------------------------------------------------- structure
    def n_crystals(self, n_fields: int) -> int:
        """How many of ``n_fields`` order parameters (the first ones) are crystals: those no term
        owns (a liquid owns the last field)."""
        return n_fields - sum(t.owned_fields for t in self.terms)

    def find(self, kind: type) -> eqx.Module | None:
        """The first term, path or kinetics of type ``kind`` (None if the model has none)."""
        for part in (*self.terms, *self.paths, *self.kinetics):
            if isinstance(part, kind):
                return part
        return None

    @property
    def conserves_mass(self) -> bool:
        return all(k.conserves_mass for k in self.kinetics)

    @property
    def gradient_flow(self) -> bool:
        """True if the free energy can only fall (no noise, sinks or advection)."""
        return all(k.gradient_flow for k in self.kinetics)

    @property
    def deterministic(self) -> bool:
        """True if no kinetics draws random numbers (adaptive and higher-order steps need it)."""
        return all(k.deterministic for k in self.kinetics)

    # ------------------------------------------------------------------------------ energy
    def _pair(self, orientation: Array | None, n_fields: int) -> Array | None:
        """``c_ij - 1`` among the crystals, zero in the rows and columns of owned fields."""
        k = self.n_crystals(n_fields)
        if orientation is None or self.energy.boundaries is None:
            return None
        pair = self.energy.pair_excess(orientation[:k])
        if k == n_fields:
            return pair
        return jnp.pad(pair, ((0, n_fields - k), (0, n_fields - k)))

    def bulk_density(
        self, rho: Array, eta: list[Array], orientation: Array | None = None
    ) -> Float[Array, "*grid"]:
        """Wang's bulk density (boundary pair terms among the crystals) plus every local term."""
        f = self.energy.bulk(rho, eta, self._pair(orientation, len(eta)))
        for t in self.terms:
            if isinstance(t, AbstractLocalTerm):
                f = f + t.density(self, rho, eta)
        return f

    def bulk_derivatives(
        self, rho: Array, eta: Array, orientation: Array | None = None
    ) -> tuple[Array, Array]:
        """(df0/drho, df0/deta_i) pointwise, by one autodiff pass of `bulk_density`.

        Differentiated with respect to the list of fields, not the stacked array: the adjoint of
        ``eta[i]`` on a stack is a scatter into a full (P, *grid) zero array per field, which makes
        the cost grow like P^2 (measured: 8 fields at 512^2 took 27x the time of 2).
        """
        fields = [eta[i] for i in range(eta.shape[0])]
        d_rho, d_eta = jax.grad(
            lambda r, e: jnp.sum(self.bulk_density(r, e, orientation)), argnums=(0, 1)
        )(rho, fields)
        return d_rho, jnp.stack(d_eta)

    def global_terms(self) -> tuple[AbstractEnergyTerm, ...]:
        """The terms that are not pointwise (their potentials need their own autodiff pass)."""
        return tuple(t for t in self.terms if not isinstance(t, AbstractLocalTerm))

    def global_energy(self, state: State, grid: Grid, orientation_only: bool = False) -> Array:
        """Sum of the non-pointwise terms (only the orientation-dependent ones if asked)."""
        total = jnp.zeros((), state.rho.dtype)
        for t in self.global_terms():
            if t.orientation_dependent or not orientation_only:
                total = total + t.energy(self, state, grid)
        return total

    def orientation_energy(
        self, state: State, grid: Grid, orientation: Array | None
    ) -> Float[Array, ""]:
        """F without its isotropic gradient terms and orientation-free global terms, with the
        fields of ``state`` and the given orientations: everything in F that depends on the
        orientations, so its gradient with respect to them is minus the torque."""
        eta = [state.eta[i] for i in range(state.eta.shape[0])]
        bulk = jnp.sum(self.bulk_density(state.rho, eta, orientation)) * grid.cell_volume
        turned = State(state.rho, state.eta, orientation)
        return bulk + self.global_energy(turned, grid, orientation_only=True)

    def free_energy(self, state: State, grid: Grid) -> Float[Array, ""]:
        """F[rho, eta, orientation] on the periodic grid (gradient terms spectral, by Parseval)."""
        e = self.energy
        grad = e.kappa_rho * grid.gradient_energy(state.rho)
        grad = grad + e.kappa_eta * grid.gradient_energy(state.eta)
        f = self.orientation_energy(state, grid, state.orientation) + grad
        others = [t for t in self.global_terms() if not t.orientation_dependent]
        for t in others:
            f = f + t.energy(self, state, grid)
        return f

    def variational_derivatives(self, state: State, grid: Grid) -> State:
        """(dF/drho, dF/deta) per unit volume: ``jax.grad(free_energy) / dV``."""
        g = jax.grad(self.free_energy)(state, grid)
        return State(g.rho / grid.cell_volume, g.eta / grid.cell_volume, state.orientation)

    def stiffness(self, state: State, ndim: int) -> Array | float:
        """The rho-gradient coefficient of the implicit stabiliser: ``kappa_rho``, or
        ``max(1, s / 2) kappa_rho`` with s the largest stiffness a term declares (energy
        stability of the linear step needs at least half the largest stiffness)."""
        s = [t.stiffness(self, state, ndim) for t in self.terms]
        if not s:
            return self.energy.kappa_rho
        return self.energy.kappa_rho * jnp.maximum(1.0, 0.5 * max(s))

    def bulk_stiffness(self) -> Array | float:
        """What the terms add to a bound on ``d^2 f0 / d rho^2`` (their ``bulk_stiffness``)."""
        return sum((t.bulk_stiffness(self) for t in self.terms), 0.0)

    def local_stiffness(self, rho: Array) -> Array | None:
        """The terms' ``d^2 f_k / d rho^2`` pointwise, summed (None: no term stiffens rho)."""
        parts = [t.local_stiffness(self, rho) for t in self.terms]
        parts = [p for p in parts if p is not None]
        return sum(parts[1:], parts[0]) if parts else None

    # ---------------------------------------------------------------------------- mobility
    def mobility_field(self, rho: Array, eta: Array) -> Float[Array, "*grid"]:
        """``M = M_Wang(rho, crystals) + sum_k M_k(rho, eta)``."""
        k = self.n_crystals(eta.shape[0])
        m = self.mobility(rho, eta if k == eta.shape[0] else eta[:k])
        for p in self.paths:
            m = m + p(self, rho, eta)
        return m

    def mobility_bound(self) -> Array:
        """A bound on max M over physical states: Wang's bound plus every path's."""
        b = self.mobility.upper_bound()
        for p in self.paths:
            b = b + p.upper_bound()
        return b

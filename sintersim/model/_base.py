r"""The three interfaces through which physics plugs into the model.

A `SinterModel` is Wang's functional and mobility plus three tuples of optional parts; the stepper,
the stability check, the driver and the fit ask these parts what they need and never name one:

* `AbstractEnergyTerm`: an additive free-energy term ``F_k[state]``. Its chemical potentials come
  from autodiff (explicit in the step); it states the stiffness its rho-gradient energy adds to
  the implicit stabiliser, whether it depends on the orientations (torque), and how many order
  parameters it owns (fields that are not crystals, e.g. a liquid). A pointwise term
  (`AbstractLocalTerm`) gives a density ``f_k(rho, eta)`` instead, which joins Wang's bulk density
  in one autodiff pass.
* `AbstractMobilityPath`: an additive density-mobility path ``M_k(rho, eta)`` with an upper bound
  (the implicit mobility must dominate every path).
* `AbstractKinetics`: anything else that moves the state: a conserved noise flux, a non-conserved
  source of rho, an extra Allen-Cahn force, or an update after the diffusive step (rotation,
  rigid-body motion, stitching). It says whether it conserves mass and whether the flow stays a
  gradient flow (the driver's energy-rise check applies only if every part says so).

How a part changes with temperature is said where it is built from physical values: the scenario
assembly maps a config at temperature T to a model (`sintersim.scenario`), so a part carries
internal numbers only.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.grid import Grid
from sintersim.state import State

# The parts receive the whole model (a `SinterModel`) as their first argument; annotated as a
# Module here because the model module imports this one.
_Model = eqx.Module


class AbstractEnergyTerm(eqx.Module):
    """An additive free-energy term ``F_k[state]`` (dimensionless, internal units).

    owned_fields: how many order parameters, counted from the last, this term owns (they are not
        crystals: no orientation physics, no grain observables). 0 for most terms.
    orientation_dependent: whether ``F_k`` depends on the orientations (then it contributes to
        the torque of `Rotation`).
    """

    owned_fields: ClassVar[int] = 0
    orientation_dependent: ClassVar[bool] = False

    @abc.abstractmethod
    def energy(self, model: _Model, state: State, grid: Grid) -> Float[Array, ""]:
        """``F_k`` of ``state`` on the periodic grid; ``model`` gives the shared coefficients."""

    def observables(self, model: _Model, state: State) -> dict[str, float]:
        """What the term reports of itself at a save-point (host side; e.g. a liquid's share).
        Default: nothing."""
        return {}

    def stiffness(self, model: _Model, state: State, ndim: int) -> float | Array:
        """Largest stiffness of the whole rho-gradient energy with this term, in units of
        ``kappa_rho`` (the implicit stabiliser becomes ``max(1, max_k stiffness / 2) kappa_rho``).
        0: the term adds no gradient stiffness."""
        return 0.0

    def bulk_stiffness(self, model: _Model) -> float | Array:
        """A bound on this term's ``d^2 f_k / d rho^2`` (the implicit rho stabiliser S_rho grows
        by half of it). 0: the term adds no local stiffness."""
        return 0.0

    def local_stiffness(self, model: _Model, rho: Float[Array, "*grid"]) -> Array | None:
        """This term's ``d^2 f_k / d rho^2`` pointwise where it stiffens the density (the
        rigid-body motion weighs its contact stiffness by it); None: nowhere."""
        return None


class AbstractLocalTerm(AbstractEnergyTerm):
    """A pointwise term ``F_k = int f_k(rho, eta_1..eta_P) dV``: its density joins Wang's bulk
    density, so one autodiff pass gives both chemical potentials."""

    @abc.abstractmethod
    def density(
        self, model: _Model, rho: Float[Array, "*grid"], eta: list[Float[Array, "*grid"]]
    ) -> Float[Array, "*grid"]:
        """``f_k`` pointwise; ``eta`` is the list of the P order-parameter fields."""

    def energy(self, model: _Model, state: State, grid: Grid) -> Float[Array, ""]:
        eta = [state.eta[i] for i in range(state.eta.shape[0])]
        return jnp.sum(self.density(model, state.rho, eta)) * grid.cell_volume


class AbstractMobilityPath(eqx.Module):
    """An additive density-mobility path ``M_k(rho, eta) >= 0`` (dimensionless)."""

    @abc.abstractmethod
    def __call__(
        self, model: _Model, rho: Float[Array, "*grid"], eta: Float[Array, "P *grid"]
    ) -> Float[Array, "*grid"]:
        """``M_k`` pointwise (evaluate with rho and eta clipped to [0, 1])."""

    @abc.abstractmethod
    def upper_bound(self) -> Float[Array, ""] | float:
        """A bound on ``max M_k`` over physical states (enters the implicit mobility M_0)."""


class AbstractKinetics(eqx.Module):
    """Kinetics beyond the Cahn-Hilliard / Allen-Cahn gradient flow. Every hook is optional.

    conserves_mass: False if the term adds or removes material.
    gradient_flow: False if F may rise under it (noise, sinks, advection): the driver's
        energy-rise check is then off.
    deterministic: False if its increments are random (noise): such a term needs fixed steps
        of the first-order scheme (a Runge-Kutta stage or a rejected step would redraw or reuse
        its random numbers).
    """

    conserves_mass: ClassVar[bool] = True
    gradient_flow: ClassVar[bool] = True
    deterministic: ClassVar[bool] = True

    def rho_flux(
        self,
        model: _Model,
        grid: Grid,
        state: State,
        mobility: Float[Array, "*grid"],
        dt: Float[Array, ""] | float,
        step_index: Array | int,
    ) -> list[Array] | None:
        """An extra flux of rho (one array per axis), added to ``(M - M_0) grad mu`` before the
        divergence; conserves mass by construction. None: no flux."""
        return None

    def eta_force(
        self,
        model: _Model,
        grid: Grid,
        state: State,
        dt: Float[Array, ""] | float,
        step_index: Array | int,
    ) -> Float[Array, "P *grid"] | None:
        """An extra explicit Allen-Cahn force: ``d eta/dt += force``. None: none."""
        return None

    def rho_source(self, model: _Model, grid: Grid, state: State) -> Float[Array, "*grid"] | None:
        """A non-conserved ``d rho/dt`` (explicit, after the diffusive step). None: none."""
        return None

    def update(
        self, model: _Model, grid: Grid, old: State, new: State, dt: Float[Array, ""] | float
    ) -> State:
        """Change the new state after the diffusive step (``old``: the state at the start of the
        step, whose torques and forces drive explicit updates). Default: unchanged."""
        return new

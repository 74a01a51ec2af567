"""Semi-implicit Fourier time steps: stabilised IMEX Euler (first order) and a second-order
linearly implicit Rosenbrock-W pair (ROS2) with an embedded first-order error estimate."""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.grid import Grid
from sintersim.model._sinter import SinterModel
from sintersim.state import State


class _Operators(NamedTuple):
    """Host constants of one step in the fields' precision, and the implicit symbols.

    Λ_rho = M_0 p_rho with p_rho = kappa_stab k^4 + S_rho k^2, and Λ_eta = L p_eta with
    p_eta = S_eta + kappa_eta k^2: the (non-negative, diagonal in Fourier space) linear operators
    the schemes treat implicitly. (Kept as factors so the first-order step rounds as it always
    has.)
    """

    ks: list
    k2: Array
    m0: Array
    p_rho: Array
    p_eta: Array


class _SpectralIMEX(eqx.Module):
    """What both schemes share: the stabilisers and the explicit rates of the model.

    stab_mobility_factor: multiplies the mobility bound M_0 (>= 1/2 is stable in practice).
    s_rho_factor: S_rho = s_rho_factor * (A + B).
    s_eta_factor: S_eta = s_eta_factor * B.
    """

    stab_mobility_factor: float = 1.0
    s_rho_factor: float = 1.0
    s_eta_factor: float = 6.0

    def _operators(self, model: SinterModel, grid: Grid, state: State) -> _Operators:
        en = model.energy
        # Host constants in the field's precision: a float64 wavevector would silently promote a
        # float32 run (and double its FFT cost) whenever x64 is enabled.
        real = state.rho.dtype
        ks = [jnp.asarray(k, real) for k in grid.wavevectors()]
        k2 = jnp.asarray(grid.k2(), real)
        kappa_stab = model.stiffness(state, grid.ndim)
        m0 = self.stab_mobility_factor * model.mobility_bound()
        # a local term stiffer than Wang's well (DensityBounds) raises the bound on f0''
        s_rho = self.s_rho_factor * (en.A + en.B) + 0.5 * model.bulk_stiffness()
        s_eta = self.s_eta_factor * en.B
        return _Operators(ks, k2, m0, kappa_stab * k2**2 + s_rho * k2, s_eta + en.kappa_eta * k2)

    def _derivatives(self, model: SinterModel, grid: Grid, state: State):
        """Bulk derivatives f0' of rho and eta (one autodiff pass), plus the explicit chemical
        potentials of the terms that are not pointwise."""
        rho, eta, orient = state.rho, state.eta, state.orientation
        d_rho, d_eta = model.bulk_derivatives(rho, eta, orient)
        if model.global_terms():
            a_rho, a_eta = jax.grad(
                lambda r, e: model.global_energy(State(r, e, orient), grid), argnums=(0, 1)
            )(rho, eta)
            d_rho = d_rho + a_rho / grid.cell_volume
            d_eta = d_eta + a_eta / grid.cell_volume
        return d_rho, d_eta

    def _divergence(self, model, grid, state, ops, rho_hat, d_rho, dt, step_index) -> Array:
        r"""Fourier coefficients of ``div(M grad mu + J_extra)``.

        div(M grad mu) = -M0 k^2 mu_hat + div((M - M0) grad mu): the constant part M0 is exact in
        Fourier space (Nyquist included), the variable remainder goes through real space with
        first derivatives whose Nyquist component is zeroed (it is not real-representable).
        Without the split the Nyquist mode of rho would never relax.
        """
        en = model.energy
        mu_hat = grid.rfft(d_rho) + en.kappa_rho * ops.k2 * rho_hat
        m = model.mobility_field(state.rho, state.eta)
        extra = [k.rho_flux(model, grid, state, m, dt, step_index) for k in model.kinetics]
        extra = [f for f in extra if f is not None]
        div_hat = -ops.m0 * ops.k2 * mu_hat
        for a, k in enumerate(ops.ks):
            flux = (m - ops.m0) * grid.irfft(1j * k * mu_hat)
            for f in extra:
                flux = flux + f[a]
            div_hat = div_hat + 1j * k * grid.rfft(flux)
        return div_hat

    def _drive(self, model, grid, state, d_eta, dt, step_index) -> Array:
        """``L f0'_eta`` minus the kinetics' explicit Allen-Cahn forces (real space)."""
        drive = model.L * d_eta
        for k in model.kinetics:
            force = k.eta_force(model, grid, state, dt, step_index)
            if force is not None:
                drive = drive - force
        return drive

    @staticmethod
    def _source(model, grid, state) -> Array | None:
        """The kinetics' non-conserved d rho / dt (None: none)."""
        total = None
        for k in model.kinetics:
            s = k.rho_source(model, grid, state)
            if s is not None:
                total = s if total is None else total + s
        return total

    @staticmethod
    def _finish(model, grid, old: State, new: State, dt) -> State:
        """The kinetics that change the new state (explicit, driven by the old state)."""
        rho, eta = old.rho, old.eta
        new = State(new.rho.astype(rho.dtype), new.eta.astype(eta.dtype), new.orientation)
        for k in model.kinetics:
            new = k.update(model, grid, old, new, dt)
        return State(new.rho.astype(rho.dtype), new.eta.astype(eta.dtype), new.orientation)


class SemiImplicitFourier(_SpectralIMEX):
    r"""One step of the stabilised semi-implicit Fourier scheme (first order).

    Density (Cahn-Hilliard, variable mobility explicit, constant stabiliser implicit):

    .. math::
        \hat\rho^{n+1} = \hat\rho^n + \frac{\Delta t\,[-M_0k^2\hat\mu^n
            + \widehat{\nabla\cdot((M^n-M_0)\nabla\mu^n)}]}
            {1 + \Delta t\,M_0(\kappa_\rho k^4 + S_\rho k^2)},\qquad
        \hat\mu^n = \widehat{f_{0,\rho}}(\rho^n,\eta^n) + \kappa_\rho k^2\hat\rho^n

    Grains (Allen-Cahn, gradient term implicit, bulk explicit with linear stabiliser):

    .. math::
        \hat\eta_i^{n+1} = \frac{(1 + \Delta t L S_\eta)\hat\eta_i^n
            - \Delta t L\,\widehat{f_{0,\eta_i}}}{1 + \Delta t L (S_\eta + \kappa_\eta k^2)}

    Both are ``u^{n+1} = u^n + Δt (1 + Δt Λ)^{-1} F(u^n)`` with F the full rate and Λ >= 0 the
    stabilising operator (`_Operators`): a linearly implicit Euler step whose Jacobian is
    approximated by -Λ. M_0 is ``stab_mobility_factor * mobility.upper_bound()``; S_rho and S_eta
    (Eyre / Shen-Yang linear stabilisation) default to multiples of A and B. Both stabilisers
    cancel at steady state, so they change the transient error, not the equilibria. The bulk
    derivatives f0' come from autodiff of the energy; the quadratic gradient terms are applied
    as the exact spectral Laplacian, which `WangEnergy.total` uses too (tested: mu equals
    jax.grad(F)/dV).

    What the model adds (`SinterModel`; the stepper names no feature): local energy terms join
    f0 in one autodiff pass (`SinterModel.bulk_derivatives`); the other terms add their autodiff
    chemical potentials explicitly, and the implicit rho stiffness becomes
    `SinterModel.stiffness` (``max(1, s / 2) kappa_rho`` for a term of stiffness s); mobility
    paths add to M and to its bound M_0; kinetics add a conserved flux of rho (inside the
    divergence), an explicit Allen-Cahn force, a non-conserved source of rho (after the mean
    fix) and updates after the step, in the model's order (rotation, rigid-body motion,
    stitching, ...).

    Error estimate (`step_with_error`, for adaptive steps): step doubling. The two half steps
    are the result; their difference from one full step estimates its local error (O(dt^2)).
    """

    order: ClassVar[int] = 1
    # the local error the estimate measures is O(dt^error_order)
    error_order: ClassVar[int] = 2
    # fixed steps that resolve one accepted error-controlled step as finely: step doubling
    # accepts two half steps (a frozen plan of one step each was twice as far off, measured)
    substeps: ClassVar[int] = 2

    def step(
        self,
        model: SinterModel,
        grid: Grid,
        state: State,
        dt: Float[Array, ""] | float,
        step_index: Array | int = 0,
    ) -> State:
        """One step from ``state``; ``step_index`` (the global step count) selects the random
        numbers of stochastic kinetics, so a resumed run draws what an uninterrupted one would."""
        new = self._gradient_step(model, grid, state, dt, step_index)
        return self._finish(model, grid, state, new, dt)

    def _gradient_step(self, model, grid, state: State, dt, step_index) -> State:
        """The step before the kinetics' ``update`` hooks."""
        rho, eta = state.rho, state.eta
        ops = self._operators(model, grid, state)
        d_rho, d_eta = self._derivatives(model, grid, state)

        rho_hat = grid.rfft(rho)
        div_hat = self._divergence(model, grid, state, ops, rho_hat, d_rho, dt, step_index)
        rho_new = grid.irfft(rho_hat + dt * div_hat / (1.0 + dt * ops.m0 * ops.p_rho))
        # The k = 0 coefficient is unchanged in exact arithmetic, but the float32 FFT round trip
        # shifts the mean by a biased ~1e-8 per step (1e-4 after 10^4 steps). Remove the shift,
        # summed over the (small) changes so the sum's own round-off stays far below it.
        rho_new = rho_new - jnp.mean(rho_new - rho)
        source = self._source(model, grid, state)  # non-conserved sources act after the mean fix
        if source is not None:
            rho_new = rho_new + dt * source

        # Allen-Cahn for all grain fields at once; the explicit part is assembled in real space so
        # each grain field costs one forward FFT.
        s_eta = self.s_eta_factor * model.energy.B
        drive = self._drive(model, grid, state, d_eta, dt, step_index)
        num = grid.rfft((1.0 + dt * model.L * s_eta) * eta - dt * drive)
        eta_new = grid.irfft(num / (1.0 + dt * model.L * ops.p_eta))
        return State(rho_new, eta_new, state.orientation)

    def step_with_error(
        self, model: SinterModel, grid: Grid, state: State, dt, step_index: Array | int = 0
    ) -> tuple[State, State]:
        """(two half steps, their difference from one full step). Both paths are the gradient
        flow alone; the kinetics' ``update`` hooks (rotation, stitching, ...) act once, after
        the two half steps, over the whole step, as in ROS2: a discrete event (a stitch) in one
        path and not the other would read as a truncation error."""
        full = self._gradient_step(model, grid, state, dt, step_index)
        half = self._gradient_step(model, grid, state, 0.5 * dt, step_index)
        half = State(
            half.rho.astype(state.rho.dtype), half.eta.astype(state.eta.dtype), state.orientation
        )
        second = self._gradient_step(model, grid, half, 0.5 * dt, step_index)
        err = State(second.rho - full.rho, second.eta - full.eta, None)
        return self._finish(model, grid, state, second, dt), err


GAMMA_ROS2 = 1.0 + 1.0 / math.sqrt(2.0)


class SemiImplicitRosenbrock(_SpectralIMEX):
    r"""Second-order linearly implicit step: the Rosenbrock-W method ROS2 (Verwer, Spee, Blom &
    Hundsdorfer 1999) with the stabilising operator Λ of `SemiImplicitFourier` as its Jacobian
    approximation J = -Λ:

    .. math::
        W = 1 + \gamma\,\Delta t\,Λ,\quad \gamma = 1 + 1/\sqrt2,\qquad
        k_1 = W^{-1}F(u^n),\quad k_2 = W^{-1}\big(F(u^n + \Delta t\,k_1) - 2k_1\big),

        u^{n+1} = u^n + \tfrac32\Delta t\,k_1 + \tfrac12\Delta t\,k_2

    ROS2 is second order for *any* J (a W-method), so the stabilisers, which are only a rough
    Jacobian, keep the order; with W diagonal in Fourier space each stage costs what one Euler
    step costs. It is L-stable for the implicit part. The embedded first-order solution
    ``u^n + Δt k_1`` is the second stage's input; their difference ``Δt (k_1 + k_2) / 2``
    estimates the local error at no extra cost (two rate evaluations per step, against three
    for step doubling).

    F is the whole deterministic rate: div(M grad mu + J_extra), the non-conserved source and
    the Allen-Cahn rate with its explicit forces; the kinetics' ``update`` hooks (rotation,
    rigid-body motion, stitching) act after the step, as in the first-order scheme (first order
    in those, outside the error estimate). Stochastic kinetics (noise) are refused: their
    increments are not a rate a Runge-Kutta stage may re-evaluate.
    """

    order: ClassVar[int] = 2
    error_order: ClassVar[int] = 2
    substeps: ClassVar[int] = 1  # an accepted step is one ROS2 step

    def _rates(self, model, grid, state, ops, rho_hat, eta_hat, dt, step_index):
        """Fourier coefficients of F_rho and F_eta at ``state``, and the mean of F_rho (the
        sources' only: the divergence has none)."""
        d_rho, d_eta = self._derivatives(model, grid, state)
        f_rho = self._divergence(model, grid, state, ops, rho_hat, d_rho, dt, step_index)
        source = self._source(model, grid, state)
        mean = jnp.zeros((), state.rho.dtype)
        if source is not None:
            f_rho = f_rho + grid.rfft(source)
            mean = jnp.mean(source)
        drive = self._drive(model, grid, state, d_eta, dt, step_index)
        f_eta = -grid.rfft(drive) - model.L * model.energy.kappa_eta * ops.k2 * eta_hat
        return f_rho, f_eta, mean

    def step_with_error(
        self, model: SinterModel, grid: Grid, state: State, dt, step_index: Array | int = 0
    ) -> tuple[State, State]:
        """(the second-order step, its difference from the embedded first-order one)."""
        if not model.deterministic:
            raise ValueError(
                "SemiImplicitRosenbrock: stochastic kinetics (thermal noise) need the first-order "
                "SemiImplicitFourier with fixed steps"
            )
        rho, eta = state.rho, state.eta
        ops = self._operators(model, grid, state)
        w_rho = 1.0 / (1.0 + GAMMA_ROS2 * dt * ops.m0 * ops.p_rho)
        w_eta = 1.0 / (1.0 + GAMMA_ROS2 * dt * model.L * ops.p_eta)
        rho_hat, eta_hat = grid.rfft(rho), grid.rfft(eta)

        f_rho, f_eta, mean1 = self._rates(model, grid, state, ops, rho_hat, eta_hat, dt, step_index)
        k1_rho, k1_eta = w_rho * f_rho, w_eta * f_eta
        mid_rho_hat, mid_eta_hat = rho_hat + dt * k1_rho, eta_hat + dt * k1_eta
        # the mean fix of `SemiImplicitFourier.step`: the k = 0 coefficient is exact in Fourier
        # space; remove the FFT round trip's shift and keep the sources' exact change
        mid_rho = _fix_mean(grid.irfft(mid_rho_hat), rho, dt * mean1)
        mid = State(mid_rho, grid.irfft(mid_eta_hat).astype(eta.dtype), state.orientation)

        f_rho, f_eta, mean2 = self._rates(
            model, grid, mid, ops, mid_rho_hat, mid_eta_hat, dt, step_index
        )
        k2_rho = w_rho * (f_rho - 2.0 * k1_rho)
        k2_eta = w_eta * (f_eta - 2.0 * k1_eta)
        rho_new = grid.irfft(rho_hat + dt * (1.5 * k1_rho + 0.5 * k2_rho))
        rho_new = _fix_mean(rho_new, rho, 0.5 * dt * (mean1 + mean2))
        eta_new = grid.irfft(eta_hat + dt * (1.5 * k1_eta + 0.5 * k2_eta))
        err = State(rho_new - mid.rho, eta_new - mid.eta, None)
        new = self._finish(model, grid, state, State(rho_new, eta_new, state.orientation), dt)
        return new, err

    def step(
        self,
        model: SinterModel,
        grid: Grid,
        state: State,
        dt: Float[Array, ""] | float,
        step_index: Array | int = 0,
    ) -> State:
        """One second-order step (fixed-step use)."""
        return self.step_with_error(model, grid, state, dt, step_index)[0]


def _fix_mean(new: Array, old: Array, change: Array) -> Array:
    """``new`` with its mean moved to ``mean(old) + change`` (summed over the small changes, so
    the sum's own round-off stays far below the FFT's shift)."""
    return new - jnp.mean(new - old) + change


Stepper = SemiImplicitFourier | SemiImplicitRosenbrock
SCHEMES = {"euler": SemiImplicitFourier, "ros2": SemiImplicitRosenbrock}

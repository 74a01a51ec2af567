"""Semi-implicit Fourier time step (stabilised IMEX, first order)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.grid import Grid
from sintersim.model._sinter import SinterModel
from sintersim.state import State


class SemiImplicitFourier(eqx.Module):
    r"""One step of the stabilised semi-implicit Fourier scheme.

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

    M_0 is ``stab_mobility_factor * mobility.upper_bound()``; S_rho and S_eta (Eyre / Shen-Yang
    linear stabilisation) default to multiples of A and B. Both stabilisers cancel at steady
    state, so they change the transient error, not the equilibria. The bulk derivatives f0' come
    from autodiff of the energy; the quadratic gradient terms are applied as the exact spectral
    Laplacian, which `WangEnergy.total` uses too (tested: mu equals jax.grad(F)/dV).

    What the model adds (`SinterModel`; the stepper names no feature): local energy terms join
    f0 in one autodiff pass (`SinterModel.bulk_derivatives`); the other terms add their autodiff
    chemical potentials explicitly, and the implicit rho stiffness becomes
    `SinterModel.stiffness` (``max(1, s / 2) kappa_rho`` for a term of stiffness s); mobility
    paths add to M and to its bound M_0; kinetics add a conserved flux of rho (inside the
    divergence), an explicit Allen-Cahn force, a non-conserved source of rho (after the mean
    fix) and updates after the step, in the model's order (rotation, rigid-body motion,
    stitching, ...).

    stab_mobility_factor: multiplies the mobility bound M_0 (>= 1/2 is stable in practice).
    s_rho_factor: S_rho = s_rho_factor * (A + B).
    s_eta_factor: S_eta = s_eta_factor * B.
    """

    stab_mobility_factor: float = 1.0
    s_rho_factor: float = 1.0
    s_eta_factor: float = 6.0

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
        en = model.energy
        rho, eta, orient = state.rho, state.eta, state.orientation
        # Host constants in the field's precision: a float64 wavevector would silently promote a
        # float32 run (and double its FFT cost) whenever x64 is enabled.
        real = rho.dtype
        ks = [jnp.asarray(k, real) for k in grid.wavevectors()]
        k2 = jnp.asarray(grid.k2(), real)

        d_rho, d_eta = model.bulk_derivatives(rho, eta, orient)
        if model.global_terms():
            # Terms that are not pointwise: their chemical potentials by autodiff, explicitly.
            a_rho, a_eta = jax.grad(
                lambda r, e: model.global_energy(State(r, e, orient), grid), argnums=(0, 1)
            )(rho, eta)
            d_rho = d_rho + a_rho / grid.cell_volume
            d_eta = d_eta + a_eta / grid.cell_volume
        kappa_stab = model.stiffness(state, grid.ndim)

        # Cahn-Hilliard. div(M grad mu) = -M0 k^2 mu_hat + div((M - M0) grad mu): the constant part
        # M0 is exact in Fourier space (Nyquist included), the variable remainder goes through real
        # space with first derivatives whose Nyquist component is zeroed (it is not
        # real-representable). Without the split the Nyquist mode of rho would never relax.
        rho_hat = grid.rfft(rho)
        mu_hat = grid.rfft(d_rho) + en.kappa_rho * k2 * rho_hat
        m = model.mobility_field(rho, eta)
        m0 = self.stab_mobility_factor * model.mobility_bound()
        extra = [k.rho_flux(model, grid, state, m, dt, step_index) for k in model.kinetics]
        extra = [f for f in extra if f is not None]
        div_hat = -m0 * k2 * mu_hat
        for a, k in enumerate(ks):
            flux = (m - m0) * grid.irfft(1j * k * mu_hat)
            for f in extra:
                flux = flux + f[a]
            div_hat = div_hat + 1j * k * grid.rfft(flux)
        s_rho = self.s_rho_factor * (en.A + en.B)
        denom = 1.0 + dt * m0 * (kappa_stab * k2**2 + s_rho * k2)
        rho_new = grid.irfft(rho_hat + dt * div_hat / denom)
        # The k = 0 coefficient is unchanged in exact arithmetic, but the float32 FFT round trip
        # shifts the mean by a biased ~1e-8 per step (1e-4 after 10^4 steps). Remove the shift,
        # summed over the (small) changes so the sum's own round-off stays far below it.
        rho_new = rho_new - jnp.mean(rho_new - rho)
        for k in model.kinetics:  # non-conserved sources act after the mean fix
            source = k.rho_source(model, grid, state)
            if source is not None:
                rho_new = rho_new + dt * source

        # Allen-Cahn for all grain fields at once; the explicit part is assembled in real space so
        # each grain field costs one forward FFT.
        s_eta = self.s_eta_factor * en.B
        drive = model.L * d_eta
        for k in model.kinetics:
            force = k.eta_force(model, grid, state, dt, step_index)
            if force is not None:
                drive = drive - force
        num = grid.rfft((1.0 + dt * model.L * s_eta) * eta - dt * drive)
        eta_new = grid.irfft(num / (1.0 + dt * model.L * (s_eta + en.kappa_eta * k2)))

        # Then the kinetics that change the new state (explicit, driven by the old state).
        new = State(rho_new.astype(rho.dtype), eta_new.astype(eta.dtype), orient)
        for k in model.kinetics:
            new = k.update(model, grid, state, new, dt)
        return State(new.rho.astype(rho.dtype), new.eta.astype(eta.dtype), new.orientation)

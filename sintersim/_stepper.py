"""Semi-implicit Fourier time step (stabilised IMEX, first order)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._advection import advect, boundary_forces, grain_centres, velocities
from ._grid import Grid
from ._model import SinterModel
from ._rotation import angular_velocity, grain_volumes, quat_to_matrix, rotate
from ._state import State


class ThermalNoise(eqx.Module):
    r"""Thermal fluctuations (Cahn-Hilliard-Cook on rho, Langevin on eta).

    .. math::
        \partial_t\rho = \nabla\cdot(M\nabla\mu + \zeta),\quad
        \langle\zeta_a\zeta_b'\rangle = 2\theta M\,\delta_{ab}\delta(x-x')\delta(t-t');\qquad
        \partial_t\eta_i = -L\,\delta F/\delta\eta_i + \xi_i,\quad
        \langle\xi_i\xi_j'\rangle = 2\theta L\,\delta_{ij}\delta(x-x')\delta(t-t')

    Discretised per cell and step as ``sqrt(2 theta M / (dV dt)) N(0, 1)``. The conserved noise
    enters as a flux, so mass stays conserved to round-off and no extra FFT is needed.

    temperature: theta = k_B T / (E0 l0^3), the thermal energy in internal units (times any
        user scale factor).
    key: JAX PRNG key; step n draws from ``fold_in(key, n)`` with n the global step index, so a
        resumed run draws the same numbers as an uninterrupted one.
    """

    temperature: Float[Array, ""] | float
    key: Array


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

    Orientations (when the state has them): the boundary pair terms enter f0 through
    ``energy.bulk_derivatives``; an anisotropic surface term adds its autodiff chemical
    potentials explicitly (the implicit stabiliser becomes ``max(1, bound / 2) kappa_rho`` with
    bound its largest stiffness, `SurfaceAnisotropy.stiffness_bound`);
    with ``model.rotation`` the orientations take an explicit Euler step under the torque of the
    old state; then aligned touching grains stitch (`GrainBoundaryLaw.stitch`).

    stab_mobility_factor: multiplies the mobility bound M_0 (>= 1/2 is stable in practice).
    s_rho_factor: S_rho = s_rho_factor * (A + B).
    s_eta_factor: S_eta = s_eta_factor * B.
    noise: optional `ThermalNoise`; ``step_index`` selects its random numbers.
    """

    stab_mobility_factor: float = 1.0
    s_rho_factor: float = 1.0
    s_eta_factor: float = 6.0
    noise: ThermalNoise | None = None

    def step(
        self,
        model: SinterModel,
        grid: Grid,
        state: State,
        dt: Float[Array, ""],
        step_index: Array | int = 0,
    ) -> State:
        en, mob = model.energy, model.mobility
        rho, eta, orient = state.rho, state.eta, state.orientation
        # Host constants in the field's precision: a float64 wavevector would silently promote a
        # float32 run (and double its FFT cost) whenever x64 is enabled.
        real = rho.dtype
        ks = [jnp.asarray(k, real) for k in grid.wavevectors()]
        k2 = jnp.asarray(grid.k2(), real)

        d_rho, d_eta = en.bulk_derivatives(rho, eta, orient)
        kappa_stab = en.kappa_rho
        if en.anisotropy is not None and orient is not None:
            # The anisotropic surface term is not quadratic: its chemical potentials come from
            # autodiff, explicitly; the implicit stabiliser must be at least half the largest
            # stiffness of the whole rho gradient energy (energy stability of the linear step).
            a_rho, a_eta = jax.grad(
                lambda r, e: en.anisotropic_energy(State(r, e, orient), grid), argnums=(0, 1)
            )(rho, eta)
            d_rho = d_rho + a_rho / grid.cell_volume
            d_eta = d_eta + a_eta / grid.cell_volume
            kappa_stab = en.kappa_rho * jnp.maximum(
                1.0, 0.5 * en.anisotropy.stiffness_bound(grid.ndim)
            )
        if self.noise is not None:
            k_rho, k_eta = jax.random.split(jax.random.fold_in(self.noise.key, step_index))
            var = 2.0 * self.noise.temperature / (grid.cell_volume * dt)

        # Cahn-Hilliard. div(M grad mu) = -M0 k^2 mu_hat + div((M - M0) grad mu): the constant part
        # M0 is exact in Fourier space (Nyquist included), the variable remainder goes through real
        # space with first derivatives whose Nyquist component is zeroed (it is not
        # real-representable). Without the split the Nyquist mode of rho would never relax.
        rho_hat = grid.rfft(rho)
        mu_hat = grid.rfft(d_rho) + en.kappa_rho * k2 * rho_hat
        m = mob(rho, eta)
        m0 = self.stab_mobility_factor * mob.upper_bound()
        div_hat = -m0 * k2 * mu_hat
        for a, k in enumerate(ks):
            flux = (m - m0) * grid.irfft(1j * k * mu_hat)
            if self.noise is not None:
                z = jax.random.normal(jax.random.fold_in(k_rho, a), rho.shape, rho.dtype)
                flux = flux + jnp.sqrt(var * jnp.maximum(m, 0.0)) * z
            div_hat = div_hat + 1j * k * grid.rfft(flux)
        s_rho = self.s_rho_factor * (en.A + en.B)
        denom = 1.0 + dt * m0 * (kappa_stab * k2**2 + s_rho * k2)
        rho_new = grid.irfft(rho_hat + dt * div_hat / denom)
        # The k = 0 coefficient is unchanged in exact arithmetic, but the float32 FFT round trip
        # shifts the mean by a biased ~1e-8 per step (1e-4 after 10^4 steps). Remove the shift,
        # summed over the (small) changes so the sum's own round-off stays far below it.
        rho_new = rho_new - jnp.mean(rho_new - rho)
        if model.sublimation is not None:  # the one non-conserved term: after the mean fix
            rho_new = rho_new + dt * model.sublimation.rate(rho, grid)

        # Allen-Cahn for all grain fields at once; the explicit part is assembled in real space so
        # each grain field costs one forward FFT.
        s_eta = self.s_eta_factor * en.B
        drive = model.L * d_eta
        if self.noise is not None:
            z = jax.random.normal(k_eta, eta.shape, eta.dtype)
            drive = drive - jnp.sqrt(var * model.L) * z
        num = grid.rfft((1.0 + dt * model.L * s_eta) * eta - dt * drive)
        eta_new = grid.irfft(num / (1.0 + dt * model.L * (s_eta + en.kappa_eta * k2)))

        # Orientations: explicit Euler under the torque of the old state; then (optionally) the
        # grains move as rigid bodies; then aligned, touching grains stitch into one crystal.
        omega = None
        if orient is not None and model.rotation is not None:
            omega = angular_velocity(model, grid, state)
            orient = rotate(orient, dt * omega).astype(orient.dtype)
        if model.rigid_body is not None:
            rho_new, eta_new = self._rigid_motion(model, grid, state, rho_new, eta_new, omega, dt)
        if orient is not None and en.boundaries is not None:
            eta_new, orient = en.stitch(eta_new, orient, grid.cell_volume)
        return State(rho_new.astype(rho.dtype), eta_new.astype(eta.dtype), orient)

    @staticmethod
    def _rigid_motion(model, grid, state, rho_new, eta_new, omega, dt):
        """Advect the new fields with the rigid velocities of the old state (Wang 2006)."""
        body = model.rigid_body
        vol = jnp.maximum(grain_volumes(state.eta, grid.cell_volume), 1.0)
        centres = grain_centres(state.eta, grid, vol)
        trans = body.m_t * boundary_forces(state.rho, state.eta, grid, body) / vol[:, None]
        if omega is not None and omega.ndim == 2:  # body-frame rotation vectors -> lab frame
            omega = jnp.einsum("pab,pb->pa", quat_to_matrix(state.orientation), omega)
        v = velocities(grid, state.eta, trans, omega, centres)
        return advect(rho_new, eta_new, grid, v, dt)

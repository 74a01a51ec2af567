"""Equilibrium 1D interface profiles of the model and their excess quantities.

Used twice: to map physical interface energies and width onto model coefficients (`_units`), and
to prove that mapping, by measuring the energies of the model's own profiles.

The profiles minimise the 1D functional with fixed end values (a continuum-resolved finite
difference grid, float64). Both bulk phases sit at zero energy density and zero chemical
potential, so the minimum of F is the excess energy of the interface: gamma = min F.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from sintersim.model._energy import WangEnergy


@dataclasses.dataclass(frozen=True)
class InterfaceProfile:
    """One equilibrium interface, in the energy's own (dimensionless) units.

    gamma: excess free energy per unit area.
    width: ``1 / max |d rho/dx|`` (surface) or ``1 / max |d eta_1/dx|`` (grain boundary).
    surface_integral: ``int rho^2 (1-rho)^2 dx`` across the interface (surface mobility weight).
    gb_integral: ``int sum_{i!=j} eta_i eta_j dx`` (grain-boundary mobility weight).
    x, rho, eta: the profile.
    """

    gamma: float
    width: float
    surface_integral: float
    gb_integral: float
    x: np.ndarray
    rho: np.ndarray
    eta: np.ndarray


def profile_energy(z, energy, h, fixed, free_idx, periodic: bool, pair=None):
    """F of a 1D profile of any energy with ``bulk(rho, eta[, pair])``, ``kappa_rho`` and
    ``kappa_eta`` (a `WangEnergy`, a `LiquidEnergy`). ``fixed``: (1 + P, n) fields (rho,
    eta...), ``z`` the free entries at the flat indices ``free_idx``. Bulk on nodes (trapezoid
    unless periodic), gradients on links: a second-order discretisation."""
    u = fixed.ravel().at[free_idx].set(z).reshape(fixed.shape)
    r, e = u[0], u[1:]
    f = energy.bulk(r, e) if pair is None else energy.bulk(r, e, pair)
    if periodic:
        bulk = h * jnp.sum(f)
        du = u - jnp.roll(u, 1, axis=-1)
    else:
        bulk = h * (jnp.sum(f) - 0.5 * (f[0] + f[-1]))
        du = jnp.diff(u, axis=-1)
    grad = energy.kappa_rho / 2 * jnp.sum(du[0] ** 2) / h
    grad = grad + energy.kappa_eta / 2 * jnp.sum(du[1:] ** 2) / h
    return bulk + grad


# Compiled once per profile shape; the energy is a pytree argument, so calibration loops over
# many coefficient values without recompiling.
_value_and_grad = jax.jit(jax.value_and_grad(profile_energy), static_argnums=(5,))


def _hvp(z, v, *args):
    return jax.jvp(lambda y: jax.grad(profile_energy)(y, *args), (z,), (v,))[1]


_hessp = jax.jit(_hvp, static_argnums=(6,))


def descend(fun, hessp, z0, gtol, maxiter, newton, ftol=0.0, maxfun=None):
    """The one minimiser of the 1D and radial profiles: L-BFGS from ``z0`` (``fun`` returns the
    value and gradient), then (``newton``) a trust-region Newton-Krylov polish with exact
    Hessian-vector products ``hessp``, for the soft modes L-BFGS stalls on (a thick premelted
    layer: stiffness ~ q / xi). Returns scipy's result."""
    maxfun = 4 * maxiter if maxfun is None else maxfun
    opts = {"maxiter": maxiter, "maxfun": maxfun, "ftol": ftol, "gtol": gtol}
    res = scipy.optimize.minimize(fun, z0, jac=True, method="L-BFGS-B", options=opts)
    if newton:
        res = scipy.optimize.minimize(
            fun, res.x, jac=True, hessp=hessp, method="trust-krylov",
            options={"gtol": gtol, "maxiter": 2000},
        )  # fmt: skip
    return res


def minimise_profile(
    energy, h, fields, free, *, periodic=False, pair=None, gtol=1e-11, maxiter=50000,
    newton=False, ftol=0.0, maxfun=None,
) -> tuple[float, np.ndarray]:  # fmt: skip
    """Minimise `profile_energy` over the entries of ``fields`` (1 + P, n) where ``free`` is
    True (float64); returns (F, u). ``newton``: polish with Newton-Krylov (`descend`)."""
    with jax.enable_x64(True):
        fields = np.asarray(fields, dtype=np.float64)
        idx = np.flatnonzero(np.asarray(free).ravel())
        en = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), energy)
        pr = None if pair is None else jnp.asarray(pair, jnp.float64)
        args = (en, float(h), jnp.asarray(fields), jnp.asarray(idx), periodic, pr)

        def fun(z):
            v, g = _value_and_grad(jnp.asarray(z), *args)
            return float(v), np.asarray(g, dtype=np.float64)

        def hessp(z, v):
            return np.asarray(_hessp(jnp.asarray(z), jnp.asarray(v), *args), np.float64)

        res = descend(fun, hessp, fields.ravel()[idx], gtol, maxiter, newton, ftol, maxfun)
        u = fields.ravel().copy()
        u[idx] = res.x
        return float(res.fun), u.reshape(fields.shape)


def _relax(
    energy: WangEnergy, x, rho0, eta0, pair: float = 1.0
) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimise F over the interior nodes (L-BFGS); the end nodes keep their initial values.

    pair: the boundary cross-term coefficient c (`WangEnergy.bulk` gets ``c - 1``).
    """
    fields = np.vstack([np.asarray(rho0)[None], np.asarray(eta0)])
    free = np.ones(fields.shape, bool)
    free[:, 0] = free[:, -1] = False
    f, u = minimise_profile(
        energy, x[1] - x[0], fields, free, pair=pair - 1.0, gtol=1e-11, maxiter=20000,
        ftol=1e-15, maxfun=15000,
    )  # fmt: skip
    return f, u[0], u[1:]


def _natural_width(energy: WangEnergy) -> float:
    return float(np.sqrt(max(float(energy.kappa_eta), float(energy.kappa_rho)) / float(energy.B)))


def _grid_1d(energy: WangEnergy, n: int, span: float) -> np.ndarray:
    w = _natural_width(energy)
    return np.linspace(-span * w / 2, span * w / 2, n)


def surface_profile(energy: WangEnergy, n: int = 801, span: float = 40.0) -> InterfaceProfile:
    """Crystal (rho = eta = 1, x < 0) against vapour (rho = eta = 0, x > 0)."""
    with jax.enable_x64(True):
        x = _grid_1d(energy, n, span)
        w = _natural_width(energy)
        rho0 = 0.5 * (1 - np.tanh(x / w))
        eta0 = rho0[None].copy()
        gamma, r, e = _relax(energy, x, rho0, eta0)
    h = x[1] - x[0]
    width = 1.0 / np.max(np.abs(np.diff(r)) / h)
    return InterfaceProfile(
        gamma=gamma,
        width=float(width),
        surface_integral=float(np.trapezoid(r**2 * (1 - r) ** 2, x)),
        gb_integral=0.0,
        x=x,
        rho=r,
        eta=e,
    )


def grain_boundary_profile(
    energy: WangEnergy, n: int = 801, span: float = 40.0, pair: float = 1.0
) -> InterfaceProfile:
    """Grain 1 (x < 0) against grain 2 (x > 0), both dense (rho = 1 at the ends).

    pair: cross-term coefficient c of the two grains (1: Wang's model, the high-angle boundary;
    smaller c: a lower-angle boundary, see `sintersim._rotation`).
    """
    with jax.enable_x64(True):
        x = _grid_1d(energy, n, span)
        w = _natural_width(energy)
        e1 = 0.5 * (1 - np.tanh(x / w))
        eta0 = np.stack([e1, 1 - e1])
        rho0 = np.ones_like(x)
        gamma, r, e = _relax(energy, x, rho0, eta0, pair)
    h = x[1] - x[0]
    width = 1.0 / np.max(np.abs(np.diff(e[0])) / h)
    pairs = np.sum(e, axis=0) ** 2 - np.sum(e**2, axis=0)
    return InterfaceProfile(
        gamma=gamma,
        width=float(width),
        surface_integral=float(np.trapezoid(r**2 * (1 - r) ** 2, x)),
        gb_integral=float(np.trapezoid(pairs, x)),
        x=x,
        rho=r,
        eta=e,
    )


def relax_on_grid(
    model,
    grid_spacing: float = 1.0,
    n: int = 256,
    kind: str = "surface",
    t_end: float = 400.0,
    dt: float = 0.05,
    misorientation_deg: float | None = None,
):
    """Relax a periodic 1D slab with the solver's own discretisation and time stepper.

    Two interfaces (surface: crystal slab in vapour; grain boundary: grain 1 slab in grain 2, all
    dense). Mobilities are replaced by unit ones: the equilibrium does not depend on them, and
    they make relaxation fast. Returns (gamma, width, x, rho, eta) in the model's units, where
    gamma = F / 2 and width = 1 / max|d rho/dx| (surface) or 1 / max|d eta_1/dx| (boundary),
    the slope taken from the band-limited (Fourier-interpolated) profile.

    misorientation_deg: for a grain boundary with a misorientation-dependent energy
    (``model.energy.boundaries``), the two grains get orientations 0 and this angle (no rotation).
    """
    from sintersim.grid import Grid
    from sintersim.model._mobility import Mobility
    from sintersim.solver._integrate import advance
    from sintersim.state import State

    with jax.enable_x64(True):
        grid = Grid((n,), grid_spacing)
        x = grid.coordinates()[0]
        length = grid.lengths[0]
        w = 2.0 * np.sqrt(float(model.energy.kappa_eta) / float(model.energy.B))
        slab = 0.5 * (np.tanh((x - length / 4) / w) - np.tanh((x - 3 * length / 4) / w))
        if kind == "surface":
            state = State(jnp.asarray(slab), jnp.asarray(slab[None]))
        elif kind == "grain_boundary":
            orient = None
            if misorientation_deg is not None:
                orient = jnp.asarray([0.0, np.radians(misorientation_deg)])
            state = State(jnp.ones(n), jnp.asarray(np.stack([slab, 1 - slab])), orient)
        else:
            raise ValueError(f"kind must be 'surface' or 'grain_boundary', got {kind!r}")
        # equilibrium only: unit mobilities, no extra transport paths, no kinetics
        fast = dataclasses.replace(
            model, mobility=Mobility(1.0, 1.0, 1.0, 1.0), L=1.0, paths=(), kinetics=()
        )
        steps = int(np.ceil(t_end / dt))
        state = jax.jit(advance, static_argnums=(1,))(fast, grid, state, steps, dt)
        gamma = float(model.free_energy(state, grid)) / 2.0
        u = np.asarray(state.rho if kind == "surface" else state.eta[0])
    # Slope of the band-limited profile, sampled 16x finer.
    fine = np.fft.irfft(np.fft.rfft(u), 16 * n) * 16
    slope = np.max(np.abs(np.diff(fine))) / (grid_spacing / 16)
    return gamma, 1.0 / slope, x.ravel(), np.asarray(state.rho), np.asarray(state.eta)

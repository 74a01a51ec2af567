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

from ._energy import WangEnergy


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


def _discrete_energy(z, params, x, fixed_rho, fixed_eta):
    """F of the 1D profile; interior nodes packed in ``z``, end nodes held at their values."""
    energy = WangEnergy(*params[:4])
    h = x[1] - x[0]
    n, p = fixed_rho.size, fixed_eta.shape[0]
    r = fixed_rho.at[1 : n - 1].set(z[: n - 2])
    e = fixed_eta.at[:, 1 : n - 1].set(z[n - 2 :].reshape(p, n - 2))
    # Bulk on nodes (trapezoid), gradients on links: a second-order discretisation.
    f = energy.bulk(r, e, params[4])
    bulk = h * (jnp.sum(f) - 0.5 * (f[0] + f[-1]))
    grad = energy.kappa_rho / 2 * jnp.sum(jnp.diff(r) ** 2) / h
    grad = grad + energy.kappa_eta / 2 * jnp.sum(jnp.diff(e, axis=-1) ** 2) / h
    return bulk + grad, (r, e)


# Compiled once per profile shape; the energy coefficients are arguments, so calibration loops
# over many coefficient values without recompiling.
_value_and_grad = jax.jit(jax.value_and_grad(_discrete_energy, has_aux=True))


def _relax(
    energy: WangEnergy, x, rho0, eta0, pair: float = 1.0
) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimise F over the interior nodes (L-BFGS); the end nodes keep their initial values.

    pair: the boundary cross-term coefficient c (`WangEnergy.bulk` gets ``c - 1``).
    """
    params = jnp.asarray(
        [energy.A, energy.B, energy.kappa_rho, energy.kappa_eta, pair - 1.0], dtype=jnp.float64
    )
    args = (params, jnp.asarray(x), jnp.asarray(rho0), jnp.asarray(eta0))

    def fun(z):
        (v, _), g = _value_and_grad(jnp.asarray(z), *args)
        return float(v), np.asarray(g, dtype=np.float64)

    z0 = np.concatenate([rho0[1:-1], eta0[:, 1:-1].ravel()])
    opts = {"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-11}
    res = scipy.optimize.minimize(fun, z0, jac=True, method="L-BFGS-B", options=opts)
    (v, (r, e)), _ = _value_and_grad(jnp.asarray(res.x), *args)
    return float(v), np.asarray(r), np.asarray(e)


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
    import equinox as eqx

    from ._grid import Grid
    from ._integrate import advance
    from ._mobility import Mobility
    from ._state import State

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
        fast = eqx.tree_at(lambda m: (m.mobility, m.L), model, (Mobility(1.0, 1.0, 1.0, 1.0), 1.0))
        fast = eqx.tree_at(lambda m: m.rotation, fast, None, is_leaf=lambda x: x is None)
        steps = int(np.ceil(t_end / dt))
        state = jax.jit(advance, static_argnums=(1,))(fast, grid, state, steps, dt)
        gamma = float(model.energy.total(state, grid)) / 2.0
        u = np.asarray(state.rho if kind == "surface" else state.eta[0])
    # Slope of the band-limited profile, sampled 16x finer.
    fine = np.fft.irfft(np.fft.rfft(u), 16 * n) * 16
    slope = np.max(np.abs(np.diff(fine))) / (grid_spacing / 16)
    return gamma, 1.0 / slope, x.ravel(), np.asarray(state.rho), np.asarray(state.eta)

r"""A premelted sphere of the phase-field liquid (radial 1D minimisation, host side, float64):
the layer on a particle of radius R (`premelt_sphere`) and the size-depressed melting point
(`sphere_melting_point`), the phase-field counterparts of the Kofman sphere model
(`sintersim.materials.layer_thickness`, `melting_temperature`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from sintersim.calibrate._liquid import (
    InterfaceEnergies,
    _default_spacing,
    _energy_from,
    _natural_width,
    _params,
)
from sintersim.calibrate._profiles import descend
from sintersim.model._liquid import LiquidEnergy, liquid_fraction


def _sphere_geometry(n: int, h: float):
    """Control volumes and link weights / (4 pi) of nodes r_i = i h, i < n.

    Node i owns the shell [max(r_i - h/2, 0), min(r_i + h/2, r_max)], so ``sum node_w = r_max^3
    / 3`` exactly; a link (i, i+1) carries ``int r^2 dr / h^2`` over [r_i, r_i+1], the weight of
    the piecewise-linear gradient ``(u_{i+1} - u_i) / h`` squared. The outer end is a natural
    (zero-flux) boundary, r = 0 is the centre (regular by symmetry: no boundary term).
    """
    r = h * np.arange(n)
    lo = np.maximum(r - h / 2, 0.0)
    hi = np.minimum(r + h / 2, r[-1])
    node_w = (hi**3 - lo**3) / 3.0
    link_w = (r[1:] ** 3 - r[:-1] ** 3) / (3.0 * h * h)
    return r, node_w, link_w


def _sphere_energy(y, params, node_w, link_w, sqrt_w, mass):
    r"""F / (4 pi) of a radial profile, with the fields scaled as ``y = sqrt(node_w) u``.

    .. math::
        \frac{F}{4\pi} = \sum_i w_i f_0(u_i)
            + \sum_{i} \lambda_{i+1/2} \Big[\tfrac{\kappa_\rho}{2}(\Delta\rho)^2
            + \tfrac{\kappa_\eta}{2}\sum_k(\Delta\eta_k)^2\Big]_{i+1/2}

    with w_i the node control volumes and lambda the link weights of `_sphere_geometry`
    (``node_w``, ``link_w``), Delta the difference across a link. The scaling makes the
    Hessian's diagonal ~ uniform (the r^2 weights span orders of magnitude between the centre
    and the surface, which stalls L-BFGS otherwise). Mass is conserved exactly: the rho part of
    ``y`` is projected onto ``sum w rho = sum sqrt(w) y_rho = mass`` (a sphere at the coexistence
    chemical potential mu = 0 is a critical nucleus, not a minimum, so the grand-canonical slab
    treatment does not carry over; canonically it is a minimum).
    """
    energy = _energy_from(params)
    y = y.reshape(-1, node_w.shape[0])
    yr = y[0] - sqrt_w * (jnp.dot(sqrt_w, y[0]) - mass) / jnp.dot(sqrt_w, sqrt_w)
    u = jnp.concatenate([yr[None], y[1:]]) / sqrt_w
    f = energy.bulk(u[0], u[1:])
    du = jnp.diff(u, axis=-1)
    grad = energy.kappa_rho / 2 * jnp.sum(link_w * du[0] ** 2)
    grad = grad + energy.kappa_eta / 2 * jnp.sum(link_w * du[1:] ** 2)
    return jnp.sum(node_w * f) + grad


_sphere_value_and_grad = jax.jit(jax.value_and_grad(_sphere_energy))


@jax.jit
def _sphere_hessp(y, v, *args):
    return jax.jvp(lambda z: jax.grad(_sphere_energy)(z, *args), (y,), (v,))[1]


def _minimise_sphere(energy, h, fields, q, gtol=1e-10, maxiter=50000, newton=True):
    """Minimise F of a radial profile ``fields`` (1 + P, n) at fixed mass (every entry free);
    returns (F, u) with F the full 4 pi-integral. Same minimiser as `_minimise`."""
    with jax.enable_x64(True):
        fields = np.asarray(fields, dtype=np.float64)
        _, node_w, link_w = _sphere_geometry(fields.shape[-1], h)
        sqrt_w = np.sqrt(node_w)
        mass = float(np.sum(node_w * fields[0]))
        args = tuple(jnp.asarray(a) for a in (_params(energy, q), node_w, link_w, sqrt_w, mass))

        def fun(z):
            v, g = _sphere_value_and_grad(jnp.asarray(z), *args)
            return float(v), np.asarray(g, dtype=np.float64)

        def hessp(z, v):
            return np.asarray(_sphere_hessp(jnp.asarray(z), jnp.asarray(v), *args), np.float64)

        res = descend(fun, hessp, (fields * sqrt_w).ravel(), gtol, maxiter, newton)
        y = res.x.reshape(fields.shape)
        y[0] -= sqrt_w * (np.dot(sqrt_w, y[0]) - mass) / np.dot(sqrt_w, sqrt_w)
        return 4.0 * np.pi * float(res.fun), y / sqrt_w


@dataclasses.dataclass(frozen=True)
class PremeltSphere:
    r"""A relaxed radially symmetric particle (solid core, liquid shell, vapour) at driving force q.

    radius: R, where rho = 1/2 (the relaxed particle can be a little smaller than the uniform
    sphere of the start's mass: the vapour takes up some, see `_sphere_result`).
    liquid_volume: ``V_l = int h_l dV = dF/dq`` with h_l = `liquid_fraction` (zero in the
    vapour, which carries no matter).
    delta_area: the issue's measure, liquid volume per unit particle surface area,
    ``V_l / (4 pi R^2)``; well defined when the layer is thinner than the diffuse interfaces.
    delta: the same liquid volume as the thickness of a uniform shell on the sphere,
    ``R^3 - (R - delta)^3 = 3 V_l / (4 pi)``, which is what the Kofman model's delta is
    (``delta_area = delta (1 - delta/R + delta^2 / (3R^2))``: equal for thin layers, 0.81 delta
    at delta = R / 5); R when the particle is molten.
    molten: no solid core left (max of the solid field < 1/2).
    energy: F of the relaxed particle (vapour = 0). r, rho, solid, liquid: the profile.
    """

    q: float
    radius: float
    liquid_volume: float
    delta_area: float
    delta: float
    molten: bool
    energy: float
    r: np.ndarray
    rho: np.ndarray
    solid: np.ndarray
    liquid: np.ndarray


def _sphere_result(energy, q, h, f, u) -> PremeltSphere:
    r, node_w, _ = _sphere_geometry(u.shape[-1], h)
    # the particle's edge: where rho falls through 1/2 (the total mass also holds the vapour's
    # share, which is not small for a small particle: the vapour takes up rho_v = mu / (2(A + B))
    # at the Laplace chemical potential mu ~ 2 gamma_sv / R)
    k = max(int(np.argmax(u[0] < 0.5)), 1)
    radius = float(r[k - 1] + h * (u[0][k - 1] - 0.5) / (u[0][k - 1] - u[0][k]))
    vol = float(np.sum(node_w * liquid_fraction(u[0], u[2])))  # / (4 pi)
    molten = bool(np.max(u[1]) < 0.5)
    if molten:
        delta = radius
    else:
        delta = radius - float(np.cbrt(max(radius**3 - 3.0 * vol, 0.0)))
    return PremeltSphere(
        float(q), radius, 4.0 * np.pi * vol, vol / radius**2, delta, molten, f, r, *u
    )


def _sphere_start(energy, radius, h, margin):
    """Dry radial start of uniform-sphere radius ``radius``: (rho, solid, liquid), node count."""
    w = _natural_width(energy)
    n = int(np.ceil((radius + margin) / h)) + 1
    r, node_w, _ = _sphere_geometry(n, h)
    rho = 0.5 * (1.0 - np.tanh((r - radius) / (0.25 * w)))
    rho *= radius**3 / (3.0 * np.sum(node_w * rho))  # the uniform-sphere radius is `radius`
    return r, rho


def _relax_spheres(energy, q, h, starts, gtol, newton, required=True) -> list[PremeltSphere]:
    """Relax each start (1 + P, n); drop the ones that evaporated (max rho < 1/2: the mass spread
    as vapour over the box, which wins in a large box, see `premelt_sphere`)."""
    out = []
    for s in starts:
        f, u = _minimise_sphere(energy, h, s, q, gtol=gtol, newton=newton)
        if np.max(u[0]) >= 0.5:
            out.append(_sphere_result(energy, q, h, f, u))
    if not out and required:
        raise ValueError("every start evaporated: reduce margin (the vapour box is too large)")
    return out


def _check_sphere_args(energy, radius, h, margin):
    if not (np.isfinite(radius) and radius > 0.0):
        raise ValueError(f"radius must be a finite number > 0 (internal units), got {radius!r}")
    h = _default_spacing(energy) if h is None else float(h)
    margin = 1.5 * _natural_width(energy) if margin is None else float(margin)
    if not (h > 0.0 and margin > 0.0):
        raise ValueError(f"h and margin must be > 0, got h = {h!r}, margin = {margin!r}")
    return h, margin


def _as_starts(start, n) -> list[np.ndarray]:
    if start is None:
        return []
    out = []
    for s in [start] if isinstance(start, PremeltSphere) else start:
        if len(s.rho) != n:
            raise ValueError(f"start has {len(s.rho)} nodes, this particle {n} (same h, margin)")
        out.append(np.stack([s.rho, s.solid, s.liquid]))
    return out


def premelt_sphere(
    energy: LiquidEnergy,
    q: float,
    radius: float,
    *,
    h: float | None = None,
    margin: float | None = None,
    seed: float = 0.5,
    start: PremeltSphere | Sequence[PremeltSphere] | None = None,
    dry: bool = True,
    molten: bool = True,
    gtol: float = 1e-10,
    newton: bool = True,
) -> PremeltSphere:
    r"""Equilibrium of a particle of radius ``radius`` at driving force ``q``: dry, premelted or
    molten, whichever has the lowest F (radially symmetric, 1D in r).

    The same functional as `premelt_layer` with the spherical volume element,

    .. math::
        F[\rho, \eta, l] = \int_0^{r_{max}} \Big[f_0 + \tfrac{\kappa_\rho}{2}\rho'^2
            + \tfrac{\kappa_\eta}{2}(\eta'^2 + l'^2)\Big]\,4\pi r^2\,dr,

    minimised at fixed mass ``int rho dV = (4 pi / 3) R^3`` (canonical: see `_sphere_energy`),
    all fields free, on nodes r = 0, h, ... up to ``radius + margin`` (default spacing
    `_default_spacing`, default margin 1.5 natural widths sqrt(kappa/B) of vapour). The box must
    stay small: at fixed mass the particle competes with the same mass spread as a uniform
    vapour (F = (A + B) M^2 / V for the model's vapour well), which wins over ~4 pi R^2 gamma_sv
    once ``V > (4 pi / 9) (A + B) R^4 / gamma_sv``, and the minimiser can land there; such
    (evaporated) relaxations are discarded. Even in a small box the vapour takes up some mass
    at the Laplace chemical potential, so the relaxed ``radius`` (rho = 1/2) comes out a little
    below the requested one (by ~0.1-0.6 internal units on CDSE_SEED003_PF_SHAPE; if R matters,
    start from `sphere_start_radius`).

    Starts, the lowest minimum kept: the dry particle (``dry``; l = 0 is stationary, so it stays
    dry: without wetting a seeded film can stay trapped above it), a liquid Gaussian of height
    ``seed`` at the surface (``seed > 0``), the fully molten particle (``molten``; a local
    minimum also below the melting point, since the solid must nucleate in it) and ``start``
    (relaxed profiles on the same nodes, e.g. at a nearby q; a sequence is allowed).

    radius, h, margin in internal length units; q as in `LiquidEnergy`. Returns `PremeltSphere`
    (``delta``: shell thickness of the integrated liquid volume; ``delta_area``: the volume per
    unit area).
    """
    h, margin = _check_sphere_args(energy, radius, h, margin)
    r, rho = _sphere_start(energy, radius, h, margin)
    w = _natural_width(energy)
    bump = seed * np.exp(-(((r - radius) / (2.0 * w)) ** 2))
    starts = _as_starts(start, len(r))
    if dry:
        starts.append(np.stack([rho, rho, 0.0 * rho]))
    if seed > 0.0:
        starts.append(np.stack([rho, rho * (1 - bump), bump * rho]))
    if molten:
        starts.append(np.stack([rho, 0.0 * rho, rho]))
    if not starts:
        raise ValueError("no start: give start, or allow dry, seed > 0 or molten")
    best = _relax_spheres(energy, q, h, starts, gtol, newton)
    return min(best, key=lambda s: s.energy)


@dataclasses.dataclass(frozen=True)
class SphereMelting:
    """Result of `sphere_melting_point`: the melting driving force and the two branches there.

    q_melt: the largest q at which the molten particle is the global minimum (to ``xtol``).
    solid, liquid: the relaxed particle with a solid core (premelted or dry) and the molten one,
    at the q of the last evaluation on the solid side (``solid.q``), for warm starts.
    spinodal: True if the solid branch vanished (relaxed into the melt) before F crossed, so
    q_melt is where the core stops being a local minimum.
    """

    q_melt: float
    solid: PremeltSphere
    liquid: PremeltSphere
    spinodal: bool


def sphere_start_radius(energy: LiquidEnergy, radius: float) -> float:
    """Start radius for `premelt_sphere` / `sphere_melting_point` whose relaxed particle has
    rho = 1/2 at ``radius``: one dry relaxation (q = 1e3, no liquid) measures how far the vapour's
    uptake and the diffuse profile pull the edge in, and the start is pushed out by as much."""
    dry = premelt_sphere(energy, 1e3, radius, seed=0.0, molten=False)
    return radius + (radius - dry.radius)


def melting_q_bracket(interfaces: InterfaceEnergies, radius: float) -> float:
    """An upper end q_hi for `sphere_melting_point`: 1.5 x Pawlow's 3 (gamma_sv - gamma_lv) / R
    (the dry particle's melting driving force), above which a particle keeps its solid core."""
    return 1.5 * 3.0 * (interfaces.sv - interfaces.lv) / radius


def sphere_melting_point(
    energy: LiquidEnergy,
    radius: float,
    q_hi: float,
    *,
    q_lo: float = 0.0,
    xtol: float = 1e-3,
    h: float | None = None,
    margin: float | None = None,
    start: PremeltSphere | None = None,
    gtol: float = 1e-10,
) -> SphereMelting:
    r"""Size-depressed melting point of a particle: the driving force ``q_melt`` below which the
    molten particle has the lower F than any particle with a solid core (premelted or dry).

    Root of ``g(q) = F_liquid(q) - F_solid(q)`` on [q_lo, q_hi] (Brent), g > 0 where the solid
    is preferred; where the solid branch has gone (its relaxation ends molten) g is taken as
    slightly negative. Each branch is relaxed from its own last profile (warm start) plus the
    dry and seeded particle for the solid one. ``F`` of each branch is concave in q with slope
    ``int g(rho) g(l) dV`` (the liquid amount), so g is smooth and nearly linear.
    Raises ValueError if g does not change sign on the bracket.
    """
    h, margin = _check_sphere_args(energy, radius, h, margin)
    r, rho = _sphere_start(energy, radius, h, margin)
    w = _natural_width(energy)
    bump = 0.5 * np.exp(-(((r - radius) / (2.0 * w)) ** 2))
    fresh = [np.stack([rho, rho, 0.0 * rho]), np.stack([rho, rho * (1 - bump), bump * rho])]
    warm = {"solid": _as_starts(start, len(r)), "liquid": [np.stack([rho, 0.0 * rho, rho])]}
    last, collapsed = {}, []

    def g(q):
        solid = min(_relax_spheres(energy, q, h, fresh + warm["solid"], gtol, True),
                    key=lambda s: s.energy)  # fmt: skip
        liquids = _relax_spheres(energy, q, h, warm["liquid"], gtol, True, required=False)
        if not liquids:  # the drop evaporated: at q >> B the melt is no longer a local minimum
            if solid.molten:
                return -1e-9 * abs(solid.energy)
            last.setdefault("solid", solid)
            return 1e-9 * abs(solid.energy)
        liquid = min(liquids, key=lambda s: s.energy)
        warm["liquid"] = [np.stack([liquid.rho, liquid.solid, liquid.liquid])]
        if solid.molten:
            collapsed.append(q)
            return -1e-9 * abs(liquid.energy)
        warm["solid"] = [np.stack([solid.rho, solid.solid, solid.liquid])]
        diff = liquid.energy - solid.energy
        if diff > 0.0 or not last:
            last.update(solid=solid, liquid=liquid)
        return diff

    g_hi, g_lo = g(q_hi), g(q_lo)
    if not (g_hi > 0.0 and g_lo < 0.0):
        raise ValueError(
            f"no melting point of radius {radius:g} in q in [{q_lo:g}, {q_hi:g}]: F_liquid - "
            f"F_solid = {g_lo:.4g} at q_lo, {g_hi:.4g} at q_hi (need < 0 and > 0)"
        )
    q_melt = float(scipy.optimize.brentq(g, q_lo, q_hi, xtol=xtol))
    spinodal = any(q_melt - 2.0 * xtol <= q <= q_melt + 2.0 * xtol for q in collapsed)
    return SphereMelting(q_melt, last.get("solid"), last.get("liquid"), spinodal)

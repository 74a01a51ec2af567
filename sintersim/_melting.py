r"""A liquid phase in the phase-field model: surface melting (issue 8).

The liquid is the LAST order parameter, ``l = eta[-1]``, relaxed by the same Allen-Cahn equation
as the grain fields, so the solver (`SemiImplicitFourier`) runs it unchanged. The solid grains
are ``eta[:-1]``.

Energy (`LiquidEnergy`, dimensionless, as `WangEnergy`)

.. math::
    f_0 = f_{Wang}(\rho, \eta_1..\eta_{P-1}, l)
        + 6B\,(c_{sl} - 1)\,l^2\sum_{i<P}\eta_i^2
        + q\,\phi(\bar\rho)\,\phi(\bar l) - a_l\,g(\bar l)\,\bar\rho^2(1-\bar\rho)^2,

    \phi(u) = u^3(10 - 15u + 6u^2),\qquad g(u) = 1 - (1-u)^3(1+3u) = 6u^2 - 8u^3 + 3u^4,

with ``bar u = clip(u, 0, 1)`` (phi and g have zero slope at 0 and 1, so the clipped terms are
C^1; unclipped, the quintic/quartic would make f0 unbounded below for rho or l outside [0, 1]).

* Wang's potential treats l like a grain: the liquid bulk (rho = 1, l = 1) is a minimum like a
  crystal, and a solid-liquid interface is a "grain boundary" with the pair coefficient
  ``c_sl`` (the Read-Shockley mechanism: gamma_sl falls as c_sl falls). At rho = 1, c_sl must
  exceed ``C_SL_MIN = 2^{1/3} - 1``; with rho free the bound is higher for small A (e.g.
  A = 10: c_sl = 0.27 gives a spurious phase); `bulk_minimum` checks a parameter set.
* ``q`` is the bulk driving force, free energy of liquid minus solid per volume,
  ``q = L_v (1 - T/T_m)`` in internal units (q > 0: solid stable; q < 0: above T_m). Vapour,
  solid and liquid stay stationary bulk phases (energies 0, 0, q; the liquid keeps rho = 1).
* ``a_l`` lowers the liquid-vapour energy below the solid-vapour one. With l = 1 held,
  ``f_0 = (A - a_l) rho^2 (1-rho)^2 + B (1-rho)^2``, so ``0 <= a_l <= A``. g has curvature 12
  at l = 0, which makes the dry surface linearly unstable when a_l is large: a layer forms from
  l = 0+ (no nucleation seed beyond round-off-size l is needed).

Interface energies (`interface_energies`): minima of the 1D functional at q = 0 between fixed
ends (L-BFGS, float64, as `sintersim._interfaces`): solid|vapour with l = 0 held (the dry
surface), liquid|vapour with the grains held at 0, solid|liquid at rho ~ 1. Wetting
(a premelted layer) needs ``Delta gamma = gamma_sv - gamma_sl - gamma_lv > 0``.
`solve_liquid_coefficients` finds (c_sl, a_l) for requested gamma_lv / gamma_sv and
gamma_sl / gamma_sv on a given Wang shape (A, B, kappas).

Layer thickness (`premelt_layer`): a periodic 1D solid slab in vapour, all fields free, minimised
at fixed q (non-conserved in rho: the grand-canonical equilibrium at mu = 0, where solid and
vapour coexist); ``delta = int rho l dx / 2`` (liquid amount per surface). Flat-surface Kofman
law for comparison (`sintersim._melting_theory.flat_layer_thickness`, `kofman_fit`):
``delta = xi ln(Delta gamma / (xi q))``.

Mobility (`LiquidMobility`): Wang's mobility of the solids plus ``M_liq rho l``.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from jaxtyping import Array, Float

from ._energy import WangEnergy
from ._mobility import Mobility

__all__ = [
    "C_SL_MIN",
    "bulk_minimum",
    "InterfaceEnergies",
    "LiquidEnergy",
    "LiquidMobility",
    "PremeltLayer",
    "interface_energies",
    "kofman_fit",
    "min_pair_coefficient",
    "premelt_layer",
    "solve_liquid_coefficients",
]

C_SL_MIN = 2.0 ** (1.0 / 3.0) - 1.0  # below: eta_i = l = 1/(1+c) has negative energy


def _phi(u):
    return u**3 * (10.0 - 15.0 * u + 6.0 * u**2)


def _g(u):
    return u**2 * (6.0 - 8.0 * u + 3.0 * u**2)


class LiquidEnergy(WangEnergy):
    r"""`WangEnergy` with the last order parameter as the liquid (see the module docstring).

    .. math::
        f_0 = f_{Wang}(\rho,\eta) + 6B(c_{sl}-1)\,l^2\sum_{i<P}\eta_i^2
            + q\,\phi(\bar\rho)\phi(\bar l) - a_l\,g(\bar l)\,\bar\rho^2(1-\bar\rho)^2

    c_sl: solid-liquid pair coefficient (sets gamma_sl; C_SL_MIN < c_sl; 1 = a grain boundary).
    a_l: liquid-surface reduction (sets gamma_lv; 0 <= a_l <= A).
    q: bulk driving force for melting, L_v (1 - T/T_m) in internal units (energy / volume).

    A pair matrix from a boundary law (orientations) acts only among the solids: its liquid row
    and column are ignored (the liquid has no orientation).
    """

    c_sl: Float[Array, ""] | float = 1.0
    a_l: Float[Array, ""] | float = 0.0
    q: Float[Array, ""] | float = 0.0

    def bulk(
        self,
        rho: Float[Array, "*grid"],
        eta: Float[Array, "P *grid"],
        pair: Float[Array, "P P"] | float | None = None,
    ) -> Array:
        """f0(rho, eta) pointwise; ``eta[-1]`` is the liquid, ``pair`` acts among the solids."""
        p = len(eta)
        if pair is not None and jnp.ndim(pair) == 2:
            pair = pair.at[p - 1, :].set(0.0).at[:, p - 1].set(0.0)
        elif pair is not None:  # one number for every solid pair
            mask = np.ones((p, p))
            mask[p - 1, :] = mask[:, p - 1] = 0.0
            pair = pair * jnp.asarray(mask)
        base = WangEnergy.bulk(self, rho, eta, pair)
        liq = eta[p - 1]
        solids2 = sum(eta[i] ** 2 for i in range(p - 1)) if p > 1 else 0.0
        l2 = liq**2
        base = base + 6.0 * self.B * (self.c_sl - 1.0) * l2 * solids2
        r = jnp.clip(rho, 0.0, 1.0)
        s = jnp.clip(liq, 0.0, 1.0)
        return base + self.q * _phi(r) * _phi(s) - self.a_l * _g(s) * r**2 * (1.0 - r) ** 2


class LiquidMobility(Mobility):
    r"""Wang's mobility of the solid fields plus liquid transport.

    .. math::
        M = M_{Wang}(\rho, \eta_1..\eta_{P-1}) + M_{liq}\,\rho\,l

    (grain-boundary transport ``M_gb`` among the solids only; rho and l clipped to [0, 1]).
    M_liq: diffusion through the liquid (faster than through the crystal).
    """

    M_liq: Float[Array, ""] | float = 0.0

    def __call__(self, rho: Float[Array, "*grid"], eta: Float[Array, "P *grid"]) -> Array:
        r = jnp.clip(rho, 0.0, 1.0)
        liq = jnp.clip(eta[-1], 0.0, 1.0)
        return Mobility.__call__(self, rho, eta[:-1]) + self.M_liq * r * liq

    def upper_bound(self) -> Array:
        """Wang's bound plus M_liq (rho l <= 1)."""
        return Mobility.upper_bound(self) + self.M_liq


# 1D equilibrium profiles -----------------------------------------------------------------------


def _energy_from(params) -> LiquidEnergy:
    return LiquidEnergy(
        A=params[0], B=params[1], kappa_rho=params[2], kappa_eta=params[3],
        c_sl=params[4], a_l=params[5], q=params[6],
    )  # fmt: skip


def _params(energy: LiquidEnergy, q: float | None = None):
    qq = energy.q if q is None else q
    vals = [energy.A, energy.B, energy.kappa_rho, energy.kappa_eta, energy.c_sl, energy.a_l, qq]
    return jnp.asarray([float(v) for v in vals], dtype=jnp.float64)


def _discrete_energy(z, params, h, fixed, free_idx, periodic):
    """F of a 1D profile. ``fixed``: (1 + P, n) fields (rho, eta...), ``z`` the free entries at
    the flat indices ``free_idx``. Bulk on nodes (trapezoid unless periodic), gradients on links."""
    energy = _energy_from(params)
    u = fixed.ravel().at[free_idx].set(z).reshape(fixed.shape)
    r, e = u[0], u[1:]
    f = energy.bulk(r, e)
    if periodic:
        bulk = h * jnp.sum(f)
        du = u - jnp.roll(u, 1, axis=-1)
    else:
        bulk = h * (jnp.sum(f) - 0.5 * (f[0] + f[-1]))
        du = jnp.diff(u, axis=-1)
    grad = energy.kappa_rho / 2 * jnp.sum(du[0] ** 2) / h
    grad = grad + energy.kappa_eta / 2 * jnp.sum(du[1:] ** 2) / h
    return bulk + grad


_value_and_grad = jax.jit(jax.value_and_grad(_discrete_energy), static_argnums=(5,))


def _hvp(z, v, *args):
    return jax.jvp(lambda y: jax.grad(_discrete_energy)(y, *args), (z,), (v,))[1]


_hessp = jax.jit(_hvp, static_argnums=(6,))


def _minimise(
    energy, h, fields, free, periodic=False, q=None, gtol=1e-11, maxiter=50000, newton=False
):
    """L-BFGS over the entries of ``fields`` (1 + P, n) where ``free`` is True; returns (F, u).

    newton: then polish with a trust-region Newton-Krylov method (exact Hessian-vector products),
    for the
    soft modes L-BFGS stalls on (a thick premelted layer: stiffness ~ q / xi).
    """
    with jax.enable_x64(True):
        fields = np.asarray(fields, dtype=np.float64)
        idx = np.flatnonzero(np.asarray(free).ravel())
        args = (_params(energy, q), float(h), jnp.asarray(fields), jnp.asarray(idx), periodic)

        def fun(z):
            v, g = _value_and_grad(jnp.asarray(z), *args)
            return float(v), np.asarray(g, dtype=np.float64)

        z0 = fields.ravel()[idx]
        opts = {"maxiter": maxiter, "maxfun": 4 * maxiter, "ftol": 0.0, "gtol": gtol}
        res = scipy.optimize.minimize(fun, z0, jac=True, method="L-BFGS-B", options=opts)
        if newton:

            def hessp(z, v):
                return np.asarray(_hessp(jnp.asarray(z), jnp.asarray(v), *args), np.float64)

            res = scipy.optimize.minimize(
                fun, res.x, jac=True, hessp=hessp, method="trust-krylov",
                options={"gtol": gtol, "maxiter": 2000},
            )  # fmt: skip
        u = fields.ravel().copy()
        u[idx] = res.x
        return float(res.fun), u.reshape(fields.shape)


@dataclasses.dataclass(frozen=True)
class InterfaceEnergies:
    """Excess energies per area (internal units) of the three interfaces at q = 0.

    sv: dry solid|vapour (l = 0 held); lv: liquid|vapour; sl: solid|liquid. widths: 1/max slope
    of rho (sv, lv) or of the solid field (sl).
    """

    sv: float
    lv: float
    sl: float
    width_sv: float
    width_lv: float
    width_sl: float

    @property
    def spreading(self) -> float:
        """Delta gamma = gamma_sv - gamma_sl - gamma_lv (> 0: the melt wets the solid)."""
        return self.sv - self.sl - self.lv

    @property
    def wets(self) -> bool:
        return self.spreading > 0.0


def _natural_width(energy) -> float:
    return float(np.sqrt(max(float(energy.kappa_eta), float(energy.kappa_rho)) / float(energy.B)))


def interface_energies(energy: LiquidEnergy, n: int = 801, span: float = 60.0) -> InterfaceEnergies:
    """Relax the three 1D interfaces (fixed ends, q = 0) and return their energies and widths.

    Profiles on ``n`` nodes across ``span`` natural widths sqrt(kappa/B); fields: (rho, solid,
    liquid). sv: liquid held at 0; lv: solid held at 0; sl: rho free inside (ends 1).
    """
    w = _natural_width(energy)
    x = np.linspace(-span * w / 2, span * w / 2, n)
    h = x[1] - x[0]
    step = 0.5 * (1 - np.tanh(x / w))  # 1 at x < 0
    zero = np.zeros_like(x)
    inner = np.ones_like(x, dtype=bool)
    inner[[0, -1]] = False
    no = np.zeros_like(inner)

    def width(u):
        return float(1.0 / np.max(np.abs(np.diff(u)) / h))

    g_sv, u_sv = _minimise(energy, h, [step, step, zero], [inner, inner, no], q=0.0)
    g_lv, u_lv = _minimise(energy, h, [step, zero, step], [inner, no, inner], q=0.0)
    g_sl, u_sl = _minimise(
        energy, h, [np.ones_like(x), step, 1 - step], [inner, inner, inner], q=0.0
    )
    return InterfaceEnergies(
        g_sv, g_lv, g_sl, width(u_sv[0]), width(u_lv[0]), width(u_sl[1])
    )  # fmt: skip


# Premelted layer on a flat surface -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PremeltLayer:
    """A relaxed periodic 1D slab (two surfaces) at driving force q.

    delta: layer thickness, ``int rho l dx / 2`` (liquid amount per unit surface area; the
    factor rho discards the liquid field's tail in the vapour, which carries no matter).
    energy: F of the relaxed slab. x, rho, solid, liquid: the profile.
    """

    q: float
    delta: float
    energy: float
    x: np.ndarray
    rho: np.ndarray
    solid: np.ndarray
    liquid: np.ndarray


def premelt_layer(
    energy: LiquidEnergy,
    q: float,
    *,
    n: int = 512,
    h: float | None = None,
    seed: float = 0.5,
    start: PremeltLayer | None = None,
    gtol: float = 1e-10,
    newton: bool = True,
) -> PremeltLayer:
    """Equilibrium liquid layer on a flat solid slab at driving force ``q`` (1D, periodic).

    A solid slab (rho = eta = 1) fills the middle half of ``n`` nodes of spacing ``h`` (default:
    a quarter of the natural width sqrt(kappa/B)); the liquid starts as a Gaussian of height
    ``seed`` at each surface; the dry slab (l = 0, a stationary point) and ``start`` (e.g. the
    layer at a nearby q) are relaxed too, and the lowest minimum is kept: without wetting a
    seeded layer can stay trapped as a metastable film (solid | thin liquid | vapour) above the
    dry energy. All fields are
    free; F is minimised by L-BFGS (grand canonical in rho: solid and vapour coexist at mu = 0).
    ``delta = int rho l dx / 2``.
    """
    w = _natural_width(energy)
    h = 0.25 * w if h is None else float(h)
    x = h * np.arange(n)
    length = n * h
    wi = 2.0 * w
    slab = 0.5 * (np.tanh((x - length / 4) / wi) - np.tanh((x - 3 * length / 4) / wi))
    bump = sum(np.exp(-(((x - c) / (2 * wi)) ** 2)) for c in (length / 4, 3 * length / 4))
    starts = [np.stack([slab, slab * (1 - seed * bump), seed * bump])]
    starts.append(np.stack([slab, slab, 0.0 * slab]))  # dry: stationary, F = 2 gamma_sv
    if start is not None:
        starts.append(np.stack([start.rho, start.solid, start.liquid]))
    free = np.ones_like(starts[0], dtype=bool)
    best = [
        _minimise(energy, h, s, free, periodic=True, q=q, gtol=gtol, newton=newton) for s in starts
    ]
    f, u = min(best, key=lambda item: item[0])
    delta = float(np.sum(u[0] * u[2]) * h / 2.0)
    return PremeltLayer(float(q), delta, f, x, u[0], u[1], u[2])


def kofman_fit(q: np.ndarray, delta: np.ndarray, spreading: float) -> dict:
    """Compare layer thicknesses with the flat Kofman law ``delta = xi ln(Dgamma / (xi q))``.

    xi is identified from the slope of delta vs ln q (least squares, ``delta = c - xi ln q``);
    the law is then evaluated with the measured ``spreading`` (Delta gamma) and that xi, so only
    the slope is fitted, the offset is a prediction. Returns xi, the fitted offset c, the
    predicted offset ``xi ln(Dgamma/xi)``, the law's thicknesses and relative errors, and
    ``spreading_eff = xi exp(offset / xi)``, the Dgamma a two-parameter fit would need (equal to
    Dgamma when the layer's interaction is one exponential of range xi all the way down).
    """
    q = np.asarray(q, dtype=float)
    delta = np.asarray(delta, dtype=float)
    slope, c = np.polyfit(np.log(q), delta, 1)
    xi = -slope
    law = xi * np.log(spreading / (xi * q))
    return dict(
        xi=float(xi),
        offset=float(c),
        offset_law=float(xi * np.log(spreading / xi)),
        law=law,
        rel_error=(delta - law) / law,
        spreading_eff=float(xi * np.exp(c / xi)),
    )


# Coefficients for requested interface energies ----------------------------------------------


def bulk_minimum(energy: LiquidEnergy, n: int = 41) -> float:
    """Minimum of f0 at q = 0 over (rho, solid, liquid) in [-0.1, 1.1]^3, away from the three
    bulk phases (a sampled grid, then L-BFGS from the best points). Negative: a spurious
    homogeneous phase below vapour, solid and liquid, i.e. an unusable parameter set (e.g.
    c_sl too low for this A: the bound C_SL_MIN holds at rho = 1 only)."""
    with jax.enable_x64(True):
        e = eqx.tree_at(lambda m: m.q, energy, 0.0)
        g = np.linspace(-0.1, 1.1, n)
        r, s, liq = np.meshgrid(g, g, g, indexing="ij")
        f = np.asarray(e.bulk(jnp.asarray(r), [jnp.asarray(s), jnp.asarray(liq)]))
        pts = np.stack([r.ravel(), s.ravel(), liq.ravel()], axis=1)
        bulk_phases = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
        dist = np.min(np.linalg.norm(pts[:, None] - bulk_phases[None], axis=-1), axis=1)
        f = np.where(dist > 0.15, f.ravel(), np.inf)
        fg = jax.jit(jax.value_and_grad(lambda z: e.bulk(z[0], [z[1], z[2]])))
        best = np.inf
        for i in np.argsort(f)[:20]:
            res = scipy.optimize.minimize(
                lambda z: tuple(np.asarray(v, np.float64) for v in fg(jnp.asarray(z))),
                pts[i], jac=True, method="L-BFGS-B", bounds=[(-0.1, 1.1)] * 3,
            )  # fmt: skip
            d = np.min(np.linalg.norm(res.x[None] - bulk_phases, axis=-1))
            best = min(best, float(res.fun) if d > 0.05 else f[i])
        return best


def min_pair_coefficient(energy: LiquidEnergy, tol: float = 1e-3) -> float:
    """Smallest c_sl (to ``tol``, rounded up) without a spurious bulk phase for the other
    coefficients of ``energy`` (bisection on ``bulk_minimum >= 0`` in [C_SL_MIN, 1]); it rises
    above C_SL_MIN (the rho = 1 bound) when A is small."""
    lo, hi = C_SL_MIN, 1.0
    if bulk_minimum(eqx.tree_at(lambda m: m.c_sl, energy, hi)) < 0.0:
        raise ValueError("spurious bulk phase even at c_sl = 1 (check a_l <= A)")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if bulk_minimum(eqx.tree_at(lambda m: m.c_sl, energy, mid)) < 0.0:
            lo = mid
        else:
            hi = mid
    return hi


def solve_liquid_coefficients(
    base: WangEnergy, lv_to_sv: float, sl_to_sv: float, **profile_kw
) -> tuple[LiquidEnergy, InterfaceEnergies]:
    """``LiquidEnergy`` on the shape of ``base`` (A, B, kappas) with gamma_lv / gamma_sv and
    gamma_sl / gamma_sv as requested (q = 0).

    gamma_sv does not depend on c_sl and a_l (l = 0 held), gamma_lv depends on a_l only (the
    solid is absent), gamma_sl on c_sl (and only weakly on a_l, rho ~ 1): two scalar root finds
    (brentq), a_l in [0, A] and c_sl in [c_min, 1] (`min_pair_coefficient`). Reachable:
    ``lv_to_sv`` in [gamma_lv(a_l = A) / gamma_sv, 1] and ``sl_to_sv`` in [gamma_sl(c_min) /
    gamma_sv, gamma_gb / gamma_sv]; both lower ends fall as A and kappa_rho / kappa_eta grow
    (A = 300, kappa_rho / kappa_eta = 10 reaches seed 003's 0.199 and 0.035, just). Raises
    ValueError outside that range or if the result has a spurious bulk phase.
    """
    A = float(base.A)

    def energy(c_sl, a_l):
        return LiquidEnergy(
            A=base.A, B=base.B, kappa_rho=base.kappa_rho, kappa_eta=base.kappa_eta,
            c_sl=float(c_sl), a_l=float(a_l),
        )  # fmt: skip

    sv = interface_energies(energy(1.0, 0.0), **profile_kw).sv

    def lv_res(a_l):
        return interface_energies(energy(1.0, a_l), **profile_kw).lv / sv - lv_to_sv

    lo, hi = lv_res(A), lv_res(0.0)
    if not lo <= 0.0 <= hi:
        raise ValueError(
            f"gamma_lv / gamma_sv = {lv_to_sv:.4g} is outside what this shape reaches: "
            f"[{lo + lv_to_sv:.4g}, {hi + lv_to_sv:.4g}] (raise A or kappa_rho / kappa_eta)"
        )
    a_l = scipy.optimize.brentq(lv_res, 0.0, A, xtol=1e-6 * A) if lo < 0.0 else A

    def sl_res(c):
        return interface_energies(energy(c, a_l), **profile_kw).sl / sv - sl_to_sv

    c_lo = min_pair_coefficient(energy(1.0, a_l))
    lo, hi = sl_res(c_lo), sl_res(1.0)
    if not lo <= 0.0 <= hi:
        raise ValueError(
            f"gamma_sl / gamma_sv = {sl_to_sv:.4g} is outside what this shape reaches: "
            f"[{lo + sl_to_sv:.4g}, {hi + sl_to_sv:.4g}] (raise A or kappa_rho / kappa_eta)"
        )
    c_sl = scipy.optimize.brentq(sl_res, c_lo, 1.0, xtol=1e-6) if lo < 0.0 else c_lo
    out = energy(c_sl, a_l)
    fmin = bulk_minimum(out)
    if fmin < -1e-12:
        raise ValueError(f"c_sl = {c_sl:.4g}, a_l = {a_l:.4g}: spurious bulk phase, f0 = {fmin:g}")
    return out, interface_energies(out, **profile_kw)

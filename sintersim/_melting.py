r"""A liquid phase in the phase-field model: surface melting (issue 8).

The liquid is the LAST order parameter, ``l = eta[-1]``, relaxed by the same Allen-Cahn equation
as the grain fields, so the solver (`SemiImplicitFourier`) runs it unchanged. The solid grains
are ``eta[:-1]``.

Energy (`LiquidEnergy`, dimensionless, as `WangEnergy`)

.. math::
    f_0 = f_{Wang}(\rho, \eta_1..\eta_{P-1}, l)
        + 6B\,(c_{sl} - 1)\,l^2\sum_{i<P}\eta_i^2
        + q\,g(\bar\rho)\,g(\bar l) - a_l\,g(\bar l)\,\bar\rho^2(1-\bar\rho)^2,

    g(u) = 1 - (1-u)^3(1+3u) = 6u^2 - 8u^3 + 3u^4,

with ``bar u = clip(u, 0, 1)`` (g has zero slope at 0 and 1, so the clipped terms are C^1;
unclipped, the quartic would make f0 unbounded below for rho or l outside [0, 1]).

* ``h_l = g(bar rho) g(bar l) = df0/dq`` is the local liquid share (`liquid_fraction`): the
  amount of liquid is the quantity conjugate to the driving force, ``V_l = dF/dq = int h_l dV``,
  as in the Kofman model's ``Delta G = q V_l + ...``. g rises as 6u^2 (curvature 12 at u = 0,
  where the quintic interpolation u^3(10 - 15u + 6u^2) is flat): a trace of l on a dry surface
  pays the bulk penalty at once, so below the wetting onset the surface is exactly dry (l = 0)
  rather than carrying a small liquid tail, and the onset comes later, as in seed 003's table
  (see CDSE_SEED003_PF).

* Wang's potential treats l like a grain: the liquid bulk (rho = 1, l = 1) is a minimum like a
  crystal, and a solid-liquid interface is a "grain boundary" with the pair coefficient
  ``c_sl`` (the Read-Shockley mechanism: gamma_sl falls as c_sl falls). At rho = 1, c_sl must
  exceed ``C_SL_MIN = 2^{1/3} - 1``; with rho free the bound is higher for small A (e.g.
  A = 10: c_sl = 0.27 gives a spurious phase); `bulk_minimum` checks a parameter set.
* ``q`` is the bulk driving force, free energy of liquid minus solid per volume,
  ``q = L_v (1 - T/T_m)`` in internal units (q > 0: solid stable; q < 0: above T_m). Vapour,
  solid and liquid stay stationary bulk phases (energies 0, 0, q; the liquid keeps rho = 1).
* ``a_l`` lowers the liquid-vapour energy below the solid-vapour one. With l = 1 held,
  ``f_0 = (A - a_l) rho^2 (1-rho)^2 + B (1-rho)^2 + q g(rho)``, so ``0 <= a_l <= A``. At
  l = 0 both l-terms have curvature 12: the surface term's ``-12 a_l rho^2 (1-rho)^2`` against
  the bulk penalty's ``12 q g(rho)`` (plus Wang's). Where the first wins (large a_l, small q:
  above the onset temperature) the dry surface is linearly unstable and a layer forms from
  l = 0+ (no nucleation seed beyond round-off-size l is needed); below it l = 0 is stable.

Interface energies (`interface_energies`): minima of the 1D functional at q = 0 between fixed
ends (L-BFGS, float64, as `sintersim._interfaces`): solid|vapour with l = 0 held (the dry
surface), liquid|vapour with the grains held at 0, solid|liquid at rho ~ 1. Wetting
(a premelted layer) needs ``Delta gamma = gamma_sv - gamma_sl - gamma_lv > 0``.
`solve_liquid_coefficients` finds (c_sl, a_l) for requested gamma_lv / gamma_sv and
gamma_sl / gamma_sv on a given Wang shape (A, B, kappas).

Layer thickness (`premelt_layer`): a periodic 1D solid slab in vapour, all fields free, minimised
at fixed q (non-conserved in rho: the grand-canonical equilibrium at mu = 0, where solid and
vapour coexist); ``delta = int h_l dx / 2`` (liquid amount per surface). Flat-surface Kofman
law for comparison (`sintersim._melting_theory.flat_layer_thickness`, `kofman_fit`):
``delta = xi ln(Delta gamma / (xi q))``.

Mobility (`LiquidMobility`): Wang's mobility of the solids plus ``M_liq rho phi(l)``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from jaxtyping import Array, Float

from ._energy import WangEnergy
from ._melting_theory import SurfaceMeltingParameters
from ._mobility import Mobility
from ._units import Scales

__all__ = [
    "CDSE_SEED003_PF",
    "CDSE_SEED003_PF_SHAPE",
    "C_SL_MIN",
    "bulk_minimum",
    "InterfaceEnergies",
    "LiquidEnergy",
    "LiquidMobility",
    "PhysicalLiquid",
    "PremeltLayer",
    "PremeltSphere",
    "SEED003_SHAPE",
    "SphereMelting",
    "interface_energies",
    "kofman_fit",
    "liquid_fraction",
    "measure_xi",
    "min_pair_coefficient",
    "physical_liquid",
    "premelt_layer",
    "premelt_sphere",
    "solve_liquid_coefficients",
    "melting_q_bracket",
    "sphere_melting_point",
    "sphere_start_radius",
]

C_SL_MIN = 2.0 ** (1.0 / 3.0) - 1.0  # below: eta_i = l = 1/(1+c) has negative energy


def _phi(u):
    return u**3 * (10.0 - 15.0 * u + 6.0 * u**2)


def _g(u):
    return u**2 * (6.0 - 8.0 * u + 3.0 * u**2)


def liquid_fraction(rho: Float[Array, "*grid"], liquid: Float[Array, "*grid"]) -> Array:
    """Local liquid share ``h_l = g(clip(rho)) g(clip(l))``, ``df0/dq`` of `LiquidEnergy` (1 in
    the melt, 0 in solid and vapour): ``int h_l dV`` is the liquid volume, the quantity
    conjugate to the driving force q. Works on numpy and jax arrays."""
    xp = jnp if isinstance(rho, jax.Array) or isinstance(liquid, jax.Array) else np
    return _g(xp.clip(rho, 0.0, 1.0)) * _g(xp.clip(liquid, 0.0, 1.0))


class LiquidEnergy(WangEnergy):
    r"""`WangEnergy` with the last order parameter as the liquid (see the module docstring).

    .. math::
        f_0 = f_{Wang}(\rho,\eta) + 6B(c_{sl}-1)\,l^2\sum_{i<P}\eta_i^2
            + q\,g(\bar\rho)g(\bar l) - a_l\,g(\bar l)\,\bar\rho^2(1-\bar\rho)^2

    c_sl: solid-liquid pair coefficient (sets gamma_sl; C_SL_MIN < c_sl; 1 = a grain boundary).
    a_l: liquid-surface reduction (sets gamma_lv; 0 <= a_l <= A).
    q: bulk driving force for melting, L_v (1 - T/T_m) in internal units (energy / volume).

    With orientations (``boundaries`` from `make_boundary_law`), the pair matrix acts only among
    the solids: its liquid row and column are ignored, so a solid-liquid interface has
    gamma_sl whatever the orientations; whether the melt enters a grain boundary is decided by
    gamma_gb(theta) against 2 gamma_sl (and q: in the 1D bicrystal check of
    experiments/surface_melting a boundary fills only close to melting). The anisotropic term and
    stitching also see the solids only; the liquid's orientation entry is a placeholder that
    feels no torque.
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
        # the q term through liquid_fraction: the liquid volume is df0/dq by construction
        surface = self.a_l * _g(s) * r**2 * (1.0 - r) ** 2
        return base + self.q * liquid_fraction(rho, liq) - surface

    def solid(self) -> WangEnergy:
        """The dry crystal: `WangEnergy` with this shape, boundary law and anisotropy (a
        one-field state would otherwise be read as pure liquid)."""
        return WangEnergy(
            A=self.A, B=self.B, kappa_rho=self.kappa_rho, kappa_eta=self.kappa_eta,
            boundaries=self.boundaries, anisotropy=self.anisotropy,
        )  # fmt: skip

    def crystal_count(self, n_fields: int) -> int:
        """All fields but the last, the liquid: it has no crystal frame, so it neither weights
        the anisotropic surface term nor feels a torque from it, and never stitches."""
        return n_fields - 1


class LiquidMobility(Mobility):
    r"""Wang's mobility of the solid fields plus liquid transport.

    .. math::
        M = M_{Wang}(\rho, \eta_1..\eta_{P-1}) + M_{liq}\,\rho\,\phi(l)

    (grain-boundary transport ``M_gb`` among the solids only; rho and l clipped to [0, 1]).
    M_liq: diffusion through the liquid (faster than through the crystal).
    ``phi(l) = l^3 (10 - 15 l + 6 l^2)`` switches the liquid path on only where there is a real
    layer: with a term linear in l, the trace of liquid (l ~ 0.05) on a dry surface below the
    wetting onset sped its neck growth by 25 % at M_liq = 20 M_s (experiments/surface_melting).
    """

    M_liq: Float[Array, ""] | float = 0.0

    def __call__(self, rho: Float[Array, "*grid"], eta: Float[Array, "P *grid"]) -> Array:
        r = jnp.clip(rho, 0.0, 1.0)
        liq = jnp.clip(eta[-1], 0.0, 1.0)
        return Mobility.__call__(self, rho, eta[:-1]) + self.M_liq * r * _phi(liq)

    def upper_bound(self) -> Array:
        """Wang's bound plus M_liq (rho phi(l) <= 1)."""
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


def _descend(fun, hessp, z0, gtol, maxiter, newton):
    """L-BFGS from ``z0``, then (``newton``) a trust-region Newton-Krylov polish with exact
    Hessian-vector products ``hessp``: the soft modes L-BFGS stalls on (a thick premelted layer:
    stiffness ~ q / xi). Returns scipy's result."""
    opts = {"maxiter": maxiter, "maxfun": 4 * maxiter, "ftol": 0.0, "gtol": gtol}
    res = scipy.optimize.minimize(fun, z0, jac=True, method="L-BFGS-B", options=opts)
    if newton:
        res = scipy.optimize.minimize(
            fun, res.x, jac=True, hessp=hessp, method="trust-krylov",
            options={"gtol": gtol, "maxiter": 2000},
        )  # fmt: skip
    return res


def _minimise(
    energy, h, fields, free, periodic=False, q=None, gtol=1e-11, maxiter=50000, newton=False
):
    """L-BFGS over the entries of ``fields`` (1 + P, n) where ``free`` is True; returns (F, u).

    newton: then polish with a trust-region Newton-Krylov method (exact Hessian-vector products),
    for the soft modes L-BFGS stalls on (a thick premelted layer: stiffness ~ q / xi).
    """
    with jax.enable_x64(True):
        fields = np.asarray(fields, dtype=np.float64)
        idx = np.flatnonzero(np.asarray(free).ravel())
        args = (_params(energy, q), float(h), jnp.asarray(fields), jnp.asarray(idx), periodic)

        def fun(z):
            v, g = _value_and_grad(jnp.asarray(z), *args)
            return float(v), np.asarray(g, dtype=np.float64)

        def hessp(z, v):
            return np.asarray(_hessp(jnp.asarray(z), jnp.asarray(v), *args), np.float64)

        res = _descend(fun, hessp, fields.ravel()[idx], gtol, maxiter, newton)
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

    delta: layer thickness, ``int h_l dx / 2`` with h_l = `liquid_fraction` (liquid volume per
    unit surface area, ``dF/dq / 2``; h_l vanishes in the vapour, which carries no matter).
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
    ``delta = int h_l dx / 2`` (`liquid_fraction`).
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
    delta = float(np.sum(liquid_fraction(u[0], u[2])) * h / 2.0)
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


# Premelted layer on a sphere (radially symmetric 1D) --------------------------------------


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

        res = _descend(fun, hessp, (fields * sqrt_w).ravel(), gtol, maxiter, newton)
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


def _default_spacing(energy) -> float:
    """Node spacing resolving both the natural width sqrt(kappa/B) (8 nodes) and the density
    interface, whose width scales as sqrt(kappa_rho / A) (~3 of those at A = 300: 5 nodes)."""
    w = _natural_width(energy)
    return float(min(w / 8.0, 0.5 * np.sqrt(float(energy.kappa_rho) / max(float(energy.A), 1.0))))


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


# Coefficients for requested interface energies ----------------------------------------------


# compiled once (a closure over each energy would be traced and compiled on every call)
_bulk_vg = jax.jit(jax.value_and_grad(lambda z, p: _energy_from(p).bulk(z[0], [z[1], z[2]])))


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
        p0 = _params(e, 0.0)
        best = np.inf
        for i in np.argsort(f)[:20]:
            res = scipy.optimize.minimize(
                lambda z: tuple(np.asarray(v, np.float64) for v in _bulk_vg(jnp.asarray(z), p0)),
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


# Physical units ---------------------------------------------------------------------------------

#: Wang shape (A, B, kappa_rho, kappa_eta) on which seed 003's ratios gamma_lv / gamma_sv = 0.199
#: and gamma_sl / gamma_sv = 0.035 are reachable (just: a_l comes out at ~A, c_sl near its floor).
SEED003_SHAPE = WangEnergy(A=300.0, B=1.0, kappa_rho=10.0, kappa_eta=1.0)
#: The shape of the phase-field preset CDSE_SEED003_PF (see there) and `physical_liquid`'s
#: default; reaches gamma_lv / gamma_sv down to ~0.486 only (a_l = A), not CDSE_SEED003's 0.199.
CDSE_SEED003_PF_SHAPE = WangEnergy(A=30.0, B=1.0, kappa_rho=10.0, kappa_eta=1.0)

# Profile resolution of the coefficient solve on SEED003_SHAPE: the density interface is ~0.5
# wide at A = 300, so 801 nodes over 60 natural widths (h = 0.24) would not resolve it.
_PROFILE_KW = {"n": 2001, "span": 60.0}


@functools.lru_cache(maxsize=32)
def solved_liquid(shape: tuple, lv_to_sv: float, sl_to_sv: float, profile: tuple = ()):
    """`solve_liquid_coefficients` on the shape ``(A, B, kappa_rho, kappa_eta)``, cached (runs,
    resumes and `physical_liquid` ask for the same shape repeatedly; each solve takes ~10-20 s)."""
    base = WangEnergy(*shape)
    return solve_liquid_coefficients(base, lv_to_sv, sl_to_sv, **dict(profile))


@functools.lru_cache(maxsize=32)
def _xi_cached(params: tuple, qs: tuple, n: int, h: float | None) -> dict:
    return measure_xi(_energy_from(jnp.asarray(params)), qs, n=n, h=h)


def measure_xi(
    energy: LiquidEnergy,
    qs: Sequence[float] = (0.03, 0.01, 0.003),
    *,
    n: int = 2048,
    h: float | None = None,
) -> dict:
    """Range xi of the layer's effective interaction, from the flat-slab slope (as `kofman_fit`).

    Relaxes `premelt_layer` at each q of ``qs`` (descending, each from the last), then fits
    ``delta = c - xi ln q``. The default qs are the thick-layer end, where delta(ln q) has become
    a straight line (on SEED003_SHAPE the slope is 0.50 between q = 3 and 1, 1.2 between 0.3
    and 0.1 and 1.35 over the default qs). ``h`` defaults to `_default_spacing`. Returns
    `kofman_fit`'s dict plus ``qs``, ``deltas`` and ``spreading`` (Delta gamma, internal).
    """
    h = _default_spacing(energy) if h is None else float(h)
    g = interface_energies(energy, **_PROFILE_KW) if float(energy.A) > 100 else None
    g = interface_energies(energy) if g is None else g
    if not g.wets:
        raise ValueError(f"no premelted layer: Delta gamma = {g.spreading:.4g} <= 0 (internal)")
    qs = np.sort(np.asarray(qs, dtype=float))[::-1]
    prev, deltas = None, []
    for q in qs:
        prev = premelt_layer(energy, float(q), n=n, h=h, start=prev)
        deltas.append(prev.delta)
    fit = kofman_fit(qs, np.array(deltas), g.spreading)
    fit.update(qs=qs, deltas=np.array(deltas), spreading=g.spreading)
    return fit


@dataclasses.dataclass(frozen=True)
class PhysicalLiquid:
    """A `LiquidEnergy` built from physical numbers, with the units that built it.

    energy: the model in internal units, ``q`` set for ``T_K``. scales: ``length_m`` (l0, the
    internal length unit) and ``energy_J_m3`` (E0); ``time_s`` is nan (equilibrium only: the
    kinetics come from the mobilities, `sintersim._units.nondimensionalize`). interfaces: the
    three interface energies measured on the model (internal; J/m^2 = internal x E0 l0).
    xi: the internal interaction range used for the length mapping (nan if l0 was given).
    params: the input. T_K: the temperature of ``energy``. xi_fit: `measure_xi`'s dict when xi
    was measured here (None otherwise).
    """

    energy: LiquidEnergy
    scales: Scales
    interfaces: InterfaceEnergies
    xi: float
    params: SurfaceMeltingParameters
    T_K: float
    xi_fit: dict | None = None

    def q(self, T_K) -> np.ndarray | float:
        """Internal driving force ``L_v (1 - T/T_m) / E0`` at ``T_K`` (kelvin)."""
        return self.params.q_J_m3(T_K) / self.scales.energy_J_m3

    def at(self, T_K: float) -> LiquidEnergy:
        """The same model at another temperature (only q changes)."""
        return eqx.tree_at(lambda m: m.q, self.energy, float(self.q(T_K)))

    def temperature_K(self, q) -> np.ndarray | float:
        """Temperature (K) at which the internal driving force is ``q``."""
        p = self.params
        return p.melting_point_K * (
            1.0 - np.asarray(q) * self.scales.energy_J_m3 / p.latent_heat_J_m3
        )

    def interface_energies_J_m2(self, measured: InterfaceEnergies | None = None) -> dict:
        """``{sv, lv, sl, spreading}`` in J/m^2 (``measured``: another measurement of the model)."""
        g = self.interfaces if measured is None else measured
        u = self.scales.interface_energy_J_m2
        return {"sv": g.sv * u, "lv": g.lv * u, "sl": g.sl * u, "spreading": g.spreading * u}


def _positive(name: str, v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    if not (np.isfinite(x) and x > 0.0):
        raise ValueError(f"{name} must be a finite number in (0, inf), got {v!r}")
    return x


def physical_liquid(
    params: SurfaceMeltingParameters,
    T_K: float,
    *,
    shape: WangEnergy = CDSE_SEED003_PF_SHAPE,
    length_m: float | None = None,
    interface_width_m: float | None = None,
    xi: float | None = None,
    profile: dict | None = None,
) -> PhysicalLiquid:
    r"""The phase-field liquid in internal units from SI parameters at temperature ``T_K``.

    1. Shape: (c_sl, a_l) on ``shape`` (A, B, kappas) solved for the ratios
       ``gamma_lv / gamma_sv`` and ``gamma_sl / gamma_sv`` of ``params``
       (`solve_liquid_coefficients`; its measured gammas are ``interfaces``).
    2. Length unit l0 (metres per internal unit), one of: ``length_m`` = l0 directly;
       ``interface_width_m`` = the dry surface width ``1 / max|rho'|``, so
       ``l0 = interface_width_m / width_sv``; default: the interaction range,
       ``l0 = params.xi_m / xi`` with xi the model's own (internal) range, measured from the
       flat-slab slope by `measure_xi` unless given. The last makes the model's layer grow
       with ln q at the rate of the Kofman law with ``params.xi_m``.
    3. Energy unit ``E0 = gamma_sv / (l0 gamma_sv^{int})`` (J/m^3), so every gamma is met, and
       the driving force ``q = L_v (1 - T/T_m) / E0`` (negative above T_m).

    profile: keyword arguments of `interface_energies` for the solve (default: 2001 nodes over
    60 natural widths when A > 100, else its defaults). Raises ValueError naming the field and
    the allowed range for: a temperature that is not a positive finite number; no wetting
    (``gamma_sl + gamma_lv >= gamma_sv``: no premelted layer, and xi is undefined); ratios the
    shape cannot reach; both or non-positive lengths. The coefficient solve and the xi
    measurement are cached (first call: ~20 s on A = 30, a few minutes on SEED003_SHAPE).
    """
    T_K = _positive("T_K (temperature in kelvin)", T_K)
    if not params.wets:
        raise ValueError(
            f"gamma_sl_J_m2 + gamma_lv_J_m2 = {params.gamma_sl_J_m2 + params.gamma_lv_J_m2:.4g} "
            f"must be below gamma_sv_J_m2 = {params.gamma_sv_J_m2:.4g} (the wetting condition "
            "Delta gamma > 0: without it there is no premelted layer); allowed: gamma_lv_J_m2 < "
            f"{params.gamma_sv_J_m2 - params.gamma_sl_J_m2:.4g}"
        )
    if length_m is not None and interface_width_m is not None:
        raise ValueError("give at most one of length_m and interface_width_m")
    if profile is None:
        profile = _PROFILE_KW if float(shape.A) > 100 else {}
    lv, sl = (
        params.gamma_lv_J_m2 / params.gamma_sv_J_m2,
        params.gamma_sl_J_m2 / params.gamma_sv_J_m2,
    )
    key = tuple(float(v) for v in (shape.A, shape.B, shape.kappa_rho, shape.kappa_eta))
    try:
        energy, g = solved_liquid(key, round(lv, 12), round(sl, 12), tuple(sorted(profile.items())))
    except ValueError as err:
        field = "gamma_lv_J_m2" if "gamma_lv" in str(err) else "gamma_sl_J_m2"
        raise ValueError(
            f"{field} / gamma_sv_J_m2 cannot be realised on the shape A = {key[0]:g}, "
            f"kappa_rho / kappa_eta = {key[2] / key[3]:g}: {err}"
        ) from None
    xi_int, xi_fit = float("nan"), None
    if length_m is not None:
        l0 = _positive("length_m", length_m)
    elif interface_width_m is not None:
        l0 = _positive("interface_width_m", interface_width_m) / g.width_sv
    else:
        if xi is None:
            with jax.enable_x64(True):
                key_p = tuple(float(v) for v in _params(energy, 0.0))
                xi_fit = _xi_cached(key_p, (0.03, 0.01, 0.003), 2048, None)
            xi = xi_fit["xi"]
        xi_int = _positive("xi", xi)
        l0 = params.xi_m / xi_int
    e0 = params.gamma_sv_J_m2 / (l0 * g.sv)
    scales = Scales(length_m=l0, energy_J_m3=e0, time_s=float("nan"))
    q = float(params.q_J_m3(T_K)) / e0
    energy_T = eqx.tree_at(lambda m: m.q, energy, q)
    return PhysicalLiquid(energy_T, scales, g, xi_int, params, T_K, xi_fit)


# Seed 003 preset for the phase field ---------------------------------------------------------
#
# The Kofman preset (CDSE_SEED003) has gamma_lv / gamma_sv = 0.199, gamma_sl / gamma_sv = 0.035:
# reachable only at A = 300 (SEED003_SHAPE) with a_l ~ A, where the melt has almost no density
# well (liquid-vapour width 2.8 internal vs 0.53 for the dry surface, an R = 1 nm particle is
# a sub-interface blob). On A = 30 the ratios 0.49 / 0.085 are reachable (floors 0.486 / 0.083).
#
# Fitted by experiments/surface_melting/fit_phase_field.py (out/fit_phase_field.md): minimax
# over the five seed rows, tolerances 0.1 nm and 15 K, delta = the liquid volume per
# unit surface area (int g(rho) g(l) dV / 4 pi R^2, `liquid_fraction`), "no layer at 90 C" read
# as delta <= 0.1 nm. Free: l0 (0.22-0.25 nm scanned; 0.25 is too coarse for R = 1 nm), a = L_v
# / E0 and T_m* (grid, then Nelder-Mead); gamma_sv = 0.35 J/m^2 (the CdSe guess), so L_v = a E0.
# Kept l0 = 0.23 nm, a = 2.9149, T_m* = 550.19 K: worst row 0.74 tolerances (90 C: 0.074 nm;
# 140 C: 0.246 nm; 210 C: 0.492 nm; R = 3 nm melts at 239 C, R = 1 nm at 101 C).
#
# History (same script, worst row / tolerance). With the liquid coupling q phi(rho) phi(l)
# (phi the quintic step, flat at 0) and the measure int rho l dV, the best fit scored 1.27: a
# trace of liquid covered the surface at every temperature (0.126 nm at 90 C) and the layer
# thickened too slowly; measuring that model by its own dF/dq (int phi phi dV) gave 1.12;
# q phi(rho) g(l): 1.23 (int rho l); a_l phi(l) (first-order onset): 1.14 (int rho l), 1.62
# (int phi phi); a softer liquid density well (a_l up to A + 0.95 B, gamma_lv / gamma_sv down to
# 0.444): 1.25-1.30; kappa_eta 0.5, 0.7 (all order parameters): 1.57-1.83, kappa_eta 2 at its
# floors (0.515 / 0.115): 1.43-1.59; gamma_sl / gamma_sv 0.1 with this coupling: 0.81 (l0 0.21).
# This coupling (q g(rho) g(l), g with curvature 12 at 0) makes the dry surface exactly dry up
# to a sharp onset. CLI runs whose liquid grows fast need dt_internal < 0.1 with either coupling
# (a 2D CdSe disc melting at 240 C: rho -> -0.36 at 0.1, F falls steadily at 0.01; raising the
# stepper's stabilisers S_rho x3, S_eta 30 or M_0 x2 did not cure it at 0.1).
# Measured table: experiments/surface_melting/phase_field_table.py.
CDSE_SEED003_PF = SurfaceMeltingParameters(
    latent_heat_J_m3=9.4044e8,  # = 2.9149 E0, E0 = gamma_sv / (l0 gamma_sv^int) = 3.2263e8 J/m^3
    melting_point_K=550.19,
    gamma_sv_J_m2=0.35,
    gamma_sl_J_m2=0.02975,  # 0.085 gamma_sv
    gamma_lv_J_m2=0.1715,  # 0.49 gamma_sv
    xi_m=4.4327e-10,  # l0 = 0.23 nm x xi = 1.9273 (measure_xi)
)

r"""A liquid phase in the phase-field model: surface melting (issue 8).

The liquid is the LAST order parameter, ``l = eta[-1]``, relaxed by the same Allen-Cahn equation
as the grain fields, so the solver (`SemiImplicitFourier`) runs it unchanged. The solid grains
are ``eta[:-1]``.

Energy (`Liquid`, a term added to `WangEnergy`, dimensionless)

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
ends (L-BFGS, float64, as `sintersim.calibrate._profiles`): solid|vapour with l = 0 held (the dry
surface), liquid|vapour with the grains held at 0, solid|liquid at rho ~ 1. Wetting
(a premelted layer) needs ``Delta gamma = gamma_sv - gamma_sl - gamma_lv > 0``.
`solve_liquid_coefficients` finds (c_sl, a_l) for requested gamma_lv / gamma_sv and
gamma_sl / gamma_sv on a given Wang shape (A, B, kappas).

Layer thickness (`premelt_layer`): a periodic 1D solid slab in vapour, all fields free, minimised
at fixed q (non-conserved in rho: the grand-canonical equilibrium at mu = 0, where solid and
vapour coexist); ``delta = int h_l dx / 2`` (liquid amount per surface). Flat-surface Kofman
law for comparison (`sintersim.materials._melting.flat_layer_thickness`, `kofman_fit`):
``delta = xi ln(Delta gamma / (xi q))``.

Mobility (`LiquidPath`): Wang's mobility of the solids plus ``M_liq rho phi(l)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from sintersim.model._base import AbstractLocalTerm, AbstractMobilityPath
from sintersim.model._energy import WangEnergy
from sintersim.model._mobility import Mobility
from sintersim.model._sinter import SinterModel

C_SL_MIN = 2.0 ** (1.0 / 3.0) - 1.0  # below: eta_i = l = 1/(1+c) has negative energy


def _phi(u):
    return u**3 * (10.0 - 15.0 * u + 6.0 * u**2)


def _g(u):
    return u**2 * (6.0 - 8.0 * u + 3.0 * u**2)


def liquid_fraction(
    rho: Float[Array | np.ndarray, "*grid"], liquid: Float[Array | np.ndarray, "*grid"]
) -> Float[Array | np.ndarray, "*grid"]:
    """Local liquid share ``h_l = g(clip(rho)) g(clip(l))``, ``df0/dq`` of `LiquidEnergy` (1 in
    the melt, 0 in solid and vapour): ``int h_l dV`` is the liquid volume, the quantity
    conjugate to the driving force q. Works on numpy and jax arrays."""
    xp = jnp if isinstance(rho, jax.Array) or isinstance(liquid, jax.Array) else np
    return _g(xp.clip(rho, 0.0, 1.0)) * _g(xp.clip(liquid, 0.0, 1.0))


class Liquid(AbstractLocalTerm):
    r"""The liquid's free-energy term (see the module docstring); it owns the last field.

    .. math::
        f_l = 6B(c_{sl}-1)\,l^2\sum_{i<P}\eta_i^2
            + q\,g(\bar\rho)g(\bar l) - a_l\,g(\bar l)\,\bar\rho^2(1-\bar\rho)^2

    Wang's potential treats l like one more grain (the model's boundary law acts among the
    crystals only, so a solid-liquid interface has gamma_sl whatever the orientations); B is
    the model's.

    c_sl: solid-liquid pair coefficient (sets gamma_sl; C_SL_MIN < c_sl; 1 = a grain boundary).
    a_l: liquid-surface reduction (sets gamma_lv; 0 <= a_l <= A).
    q: bulk driving force for melting, L_v (1 - T/T_m) in internal units (energy / volume).
    """

    owned_fields: ClassVar[int] = 1

    c_sl: Float[Array, ""] | float = 1.0
    a_l: Float[Array, ""] | float = 0.0
    q: Float[Array, ""] | float = 0.0

    def density(self, model, rho, eta) -> Array:
        return liquid_density(model.energy.B, self.c_sl, self.a_l, self.q, rho, eta)

    def observables(self, model, state) -> dict[str, float]:
        """``liquid_fraction``: the liquid volume (dF/dq) over the particles' volume in the same
        interpolation, int g(rho) (over int rho it exceeds 1 for a small molten particle:
        g(rho) > rho in the surface)."""
        rho, liquid = np.asarray(state.rho), np.asarray(state.eta[-1])
        body = liquid_fraction(rho, np.ones_like(rho))
        return {"liquid_fraction": float(np.sum(liquid_fraction(rho, liquid)) / np.sum(body))}


def liquid_density(B, c_sl, a_l, q, rho, eta) -> Array:
    """The liquid's density ``f_l`` (`Liquid`), ``eta[-1]`` the liquid."""
    p = len(eta)
    liq = eta[p - 1]
    solids2 = sum(eta[i] ** 2 for i in range(p - 1)) if p > 1 else 0.0
    f = 6.0 * B * (c_sl - 1.0) * liq**2 * solids2
    r = jnp.clip(rho, 0.0, 1.0)
    s = jnp.clip(liq, 0.0, 1.0)
    # the q term through liquid_fraction: the liquid volume is df0/dq by construction
    surface = a_l * _g(s) * r**2 * (1.0 - r) ** 2
    return f + q * liquid_fraction(rho, liq) - surface


class LiquidPath(AbstractMobilityPath):
    r"""Transport through the liquid, ``M_liq rho phi(l)`` (rho and l clipped to [0, 1]).

    M_liq: diffusion through the liquid (faster than through the crystal).
    ``phi(l) = l^3 (10 - 15 l + 6 l^2)`` switches the liquid path on only where there is a real
    layer: with a term linear in l, the trace of liquid (l ~ 0.05) on a dry surface below the
    wetting onset sped its neck growth by 25 % at M_liq = 20 M_s (experiments/surface_melting).
    """

    M_liq: Float[Array, ""] | float = 0.0

    def __call__(self, model, rho, eta) -> Array:
        r = jnp.clip(rho, 0.0, 1.0)
        liq = jnp.clip(eta[-1], 0.0, 1.0)
        return self.M_liq * r * _phi(liq)

    def upper_bound(self):
        """M_liq (rho phi(l) <= 1)."""
        return self.M_liq


class LiquidEnergy(eqx.Module):
    """Wang's functional with the `Liquid` term, as one object: what the 1D and radial
    calibration minimise (`sintersim.calibrate`), and a short way to build a liquid-bearing
    `SinterModel` (`model`). Not a `WangEnergy`: a model holds the two parts separately.

    A, B, kappa_rho, kappa_eta: the Wang shape. c_sl, a_l, q: the liquid (`Liquid`).
    """

    A: Float[Array, ""] | float
    B: Float[Array, ""] | float
    kappa_rho: Float[Array, ""] | float
    kappa_eta: Float[Array, ""] | float
    c_sl: Float[Array, ""] | float = 1.0
    a_l: Float[Array, ""] | float = 0.0
    q: Float[Array, ""] | float = 0.0

    @property
    def wang(self) -> WangEnergy:
        return WangEnergy(self.A, self.B, self.kappa_rho, self.kappa_eta)

    @property
    def term(self) -> Liquid:
        return Liquid(self.c_sl, self.a_l, self.q)

    def bulk(
        self,
        rho: Float[ArrayLike, "*grid"],
        eta: Float[ArrayLike, "P *grid"] | Sequence[Float[ArrayLike, "*grid"]],
        pair: Float[Array, "P P"] | Float[Array, ""] | float | None = None,
    ) -> Float[ArrayLike, "*grid"]:
        """f0(rho, eta) pointwise; ``eta[-1]`` is the liquid, ``pair`` acts among the solids."""
        p = len(eta)
        if pair is not None and jnp.ndim(pair) == 2:
            pair = pair.at[p - 1, :].set(0.0).at[:, p - 1].set(0.0)
        elif pair is not None:  # one number for every solid pair
            mask = np.ones((p, p))
            mask[p - 1, :] = mask[:, p - 1] = 0.0
            pair = pair * jnp.asarray(mask)
        f = self.wang.bulk(rho, eta, pair)
        return f + liquid_density(self.B, self.c_sl, self.a_l, self.q, rho, eta)

    def model(
        self, mobility: Mobility, L, M_liq=0.0, boundaries=None, terms=(), kinetics=()
    ) -> SinterModel:
        """A `SinterModel` with this Wang shape (and boundary law), the liquid term, the liquid
        path ``M_liq`` and any further terms / kinetics."""
        wang = WangEnergy(self.A, self.B, self.kappa_rho, self.kappa_eta, boundaries)
        return SinterModel(
            wang, mobility, L, (*terms, self.term), (LiquidPath(M_liq),), tuple(kinetics)
        )

r"""The phase-field liquid calibrated on 1D profiles (host side, float64): interface energies,
the flat premelted layer, the coefficients (c_sl, a_l) that realise requested liquid energies,
and the map from SI parameters to internal units (`physical_liquid`).

Interface energies (`interface_energies`): minima of the 1D functional at q = 0 between fixed
ends (L-BFGS, float64): solid|vapour with l = 0 held (the dry surface), liquid|vapour with the
grains held at 0, solid|liquid at rho ~ 1. Wetting (a premelted layer) needs
``Delta gamma = gamma_sv - gamma_sl - gamma_lv > 0``. `solve_liquid_coefficients` finds
(c_sl, a_l) for requested gamma_lv / gamma_sv and gamma_sl / gamma_sv on a given Wang shape.

Layer thickness (`premelt_layer`): a periodic 1D solid slab in vapour, all fields free, minimised
at fixed q (non-conserved in rho: the grand-canonical equilibrium at mu = 0, where solid and
vapour coexist); ``delta = int h_l dx / 2`` (liquid amount per surface). Flat-surface Kofman
law for comparison (`sintersim.materials.flat_layer_thickness`, `kofman_fit`):
``delta = xi ln(Delta gamma / (xi q))``.
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

from sintersim.calibrate._profiles import minimise_profile
from sintersim.calibrate._units import Scales
from sintersim.materials._melting import SurfaceMeltingParameters
from sintersim.model._energy import WangEnergy
from sintersim.model._liquid import C_SL_MIN, LiquidEnergy, liquid_fraction


def _energy_from(params) -> LiquidEnergy:
    return LiquidEnergy(
        A=params[0], B=params[1], kappa_rho=params[2], kappa_eta=params[3],
        c_sl=params[4], a_l=params[5], q=params[6],
    )  # fmt: skip


def _params(energy: LiquidEnergy, q: float | None = None):
    qq = energy.q if q is None else q
    vals = [energy.A, energy.B, energy.kappa_rho, energy.kappa_eta, energy.c_sl, energy.a_l, qq]
    return jnp.asarray([float(v) for v in vals], dtype=jnp.float64)


def _minimise(
    energy, h, fields, free, periodic=False, q=None, gtol=1e-11, maxiter=50000, newton=False
):
    """`minimise_profile` of the liquid's 1D functional at the driving force ``q`` (default the
    energy's own): L-BFGS over the entries of ``fields`` (1 + P, n) where ``free`` is True, then
    (``newton``) Newton-Krylov; returns (F, u)."""
    if q is not None:
        energy = eqx.tree_at(lambda e: e.q, energy, float(q))
    return minimise_profile(
        energy, h, fields, free, periodic=periodic, gtol=gtol, maxiter=maxiter, newton=newton
    )


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


def _default_spacing(energy) -> float:
    """Node spacing resolving both the natural width sqrt(kappa/B) (8 nodes) and the density
    interface, whose width scales as sqrt(kappa_rho / A) (~3 of those at A = 300: 5 nodes)."""
    w = _natural_width(energy)
    return float(min(w / 8.0, 0.5 * np.sqrt(float(energy.kappa_rho) / max(float(energy.A), 1.0))))


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
    kinetics come from the mobilities, `sintersim.calibrate.nondimensionalize`). interfaces: the
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


def default_spacing(energy) -> float:
    """The node spacing `measure_xi` and `premelt_sphere` use by default (8 nodes per natural
    width sqrt(kappa/B), at least 5 across the density interface)."""
    return _default_spacing(energy)

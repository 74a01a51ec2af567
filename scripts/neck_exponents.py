"""Two-particle neck-growth exponents and Herring scaling in 3D (surface, GB, volume diffusion).

Classic sintering theory predicts ``x/a ~ t^(1/n)`` for the neck radius x between two spheres of
radius a, with n = 7 (surface diffusion), 6 (grain-boundary diffusion) and 5 (volume diffusion),
and Herring's scaling law: the time to reach a given x/a grows as ``R^4`` (surface) and ``R^3``
(volume). This script measures both with the sintersim phase-field model and writes a table, a
JSON file and a PNG.

Set-up (all lengths in grid cells, dimensionless time):

* energy: `WangEnergy` with the shape from ``solve_shape(gamma_gb/gamma_s)`` (default 0.5) and the
  surface width ``w_s = --width`` cells (default 3), i.e. ``kappa_rho = k lam^2``,
  ``kappa_eta = lam^2`` with ``lam = w_s / shape.width_s``;
* one dominant transport path per mechanism (`MECHANISMS`): surface ``M_surf = 1``; grain boundary
  ``M_gb = 1`` plus ``M_surf = 0.01`` so the neck surface can still smooth; volume ``M_vol = 1``
  plus ``M_surf = 0.01``; ``M_vap = 0`` and ``L = 1`` throughout;
* grid ``(4R + m, 2R + m, 2R + m)`` (m = 8 cells of vapour between periodic images, rounded up to
  even sizes); the two touching spheres lie on the first axis;
* initial state: ``two_particles(grid, R, gap=0, width=w_s / 2)``, two touching diffuse spheres
  (``rho = max(p1, p2)``, ``eta_i = p_i``). ``--init planar_gb`` uses `initial_state` instead
  (same rho, eta split by a planar boundary profile): results agree to < 0.1 in n;
* time: `integrate` under `jax.jit` (float32 unless ``--float64``), saving the neck radius
  (`neck_size`, between the centres from `two_particle_centres`), the grain centre distance, the
  pole-to-pole length (`axial_length`, for shrinkage) and rho in the middle of the boundary
  (`centre_density`) at geometric times ``t_k = t_first (1 + rel_step)^k``. Each save interval is
  split into steps no longer than ``dt_max``, so the step is ``min(rel_step * t, dt_max)``;
  ``--dt-study R`` reruns with dt_max / 4. Doubling the vapour margin m changes n by < 0.02.

Fit windows (see the module constants):

* exponents: least squares of ``log(x/a)`` against ``log t`` over ``EXP_WINDOW`` (x/a in
  [0.55, 0.75]). A diffuse interface of width w fills the gap between the spheres wherever it is
  narrower than ~w, so the run starts (t -> 0) with a neck ``x0/a ~ sqrt(w/R)`` (0.32 at R = 16,
  w_s = 3) and the local exponent falls from >100 over a long transient; the window starts well
  after it and stops before the approach to the final two-cap shape. Local exponents
  ``n_loc = d log t / d log(x/a)`` are reported at ``LOCAL_AT``. If a run never enters the
  window (the grain-boundary case, see below), the fit uses its last decade in time instead and
  the result says so (``window_kind = "time"``).
* Herring: ``t(x/a)`` by log-log interpolation at ``HERRING_TARGETS``; the exponent is the least
  squares slope of ``log t`` against ``log R`` at ``HERRING_TARGET`` (0.65). The transient-free
  variant ``dt = t(0.65) - t(0.55)`` is reported too.

Grain-boundary case: without rigid-body motion the model has no densification mechanism, so
boundary diffusion cannot feed the neck as in Coble's model; ``--gb-evidence R`` runs the
mobility-sensitivity study that shows it (`gb_sensitivity`). ``--motion R`` runs every mechanism
with motion (`motion_study`; energy force in the fast limit, the contact relaxed first,
exponents from the growth-rate law over x/a in x0 + `RATE_WINDOW`), ~20 min at R = 12.

Usage::

    python scripts/neck_exponents.py --out out/neck --json out/neck/neck.json     # ~10 min
    python scripts/neck_exponents.py --gb-evidence 12 --dt-study 10 --json out/neck/neck.json
    python scripts/neck_exponents.py --quick --out out/neck_quick                  # smaller grids
    python scripts/neck_exponents.py --width 2 --mechanisms surface volume         # R/w_s = 8
    python scripts/neck_exponents.py --motion 12 --json out/neck/motion.json       # densification
    python scripts/neck_exponents.py --motion 8 --density-bounds 10   # DensityBounds(10)
    python scripts/neck_exponents.py --motion 8 --motion-dt-scale 0.25  # step convergence
    python scripts/neck_exponents.py --motion 8 --motion-mobility 1 --mechanisms gb  # finite m_t
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from sintersim import Grid, Mobility, SaveAt, SinterModel, State, integrate, two_particles
from sintersim.calibrate import grid_energy
from sintersim.initial import two_particle_centres
from sintersim.materials import herring_exponent, neck_exponent_classic
from sintersim.model import DensityBounds, RigidBody
from sintersim.observables import centre_distance, neck_size
from sintersim.solver import advance

_THEORY_NAME = {"surface": "surface", "gb": "grain_boundary", "volume": "volume"}
CLASSIC_N = {k: float(neck_exponent_classic(v)) for k, v in _THEORY_NAME.items()}  # 7, 6, 5
HERRING_M = {k: float(herring_exponent(_THEORY_NAME[k])) for k in ("surface", "volume")}  # 4, 3

# (M_vol, M_vap, M_surf, M_gb) per mechanism.
MECHANISMS = {
    "surface": (0.0, 0.0, 1.0, 0.0),
    "gb": (0.0, 0.0, 0.01, 1.0),
    "volume": (1.0, 0.0, 0.01, 0.0),
}

# Per mechanism, at R = 16 and w_s = 3: end time (x/a ends near 0.75 for surface and volume) and
# the largest step. t_end scales with R like Herring's law (R^4 surface and GB, R^3 volume) so every
# radius reaches a similar x/a. The stabilised scheme slows interface motion by O(dt M_0 kappa k^4),
# so the step is set by the mobility bound M_0, not by the (slow) neck: volume (M_0 = 1) needs
# ~16x smaller steps than surface (M_0 = 1/16). Surface steps grow as R^2 (the neck scale grows
# with R). `dt_study` (dt_max / 4 at R = 10) checks the choice; see the test suite for the bounds.
T_END_R16 = {"surface": 4800.0, "gb": 1600.0, "volume": 96.0}
T_END_POWER = {"surface": 4, "gb": 4, "volume": 3}
DT_MAX = {"surface": 1.0, "gb": 0.25, "volume": 1.0 / 128.0}

MOTION_FORCE = "energy"
# With motion, the contact is relaxed first (Case.relax): this long at this step, transport off.
MOTION_RELAX = 50.0
RELAX_DT = 0.25
# Fit window of the runs with motion: x/a above the relaxed contact's neck x0 (`rate_window`).
RATE_WINDOW = (0.05, 0.25)
EXP_WINDOW = (0.55, 0.75)
LOCAL_AT = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
HERRING_TARGETS = (0.55, 0.6, 0.65)
HERRING_TARGET = 0.65
HERRING_SPAN = (0.55, 0.65)


@dataclasses.dataclass(frozen=True)
class Case:
    """One two-particle run.

    mechanism: key of `MECHANISMS`. radius: R in cells. t_end: last save time.
    dt_max: largest time step. width: surface width w_s in cells. gb_ratio: gamma_gb / gamma_s.
    margin: vapour cells between periodic images (each axis). rel_step: geometric save spacing
    (and step size ``rel_step * t`` while below dt_max). t_first: first save time.
    init: "two_particles" (`sintersim.two_particles`) or "planar_gb" (`initial_state`).
    mobility: (M_vol, M_vap, M_surf, M_gb) overriding the mechanism's default.
    motion: rigid-body motion of the grains (`sintersim.model.RigidBody`, the energy force):
        the densification mechanism.
    m_t: its translational mobility (internal units); None: the fast limit.
    relax: before the clock starts, this much time of Allen-Cahn and motion with every
        transport path off (`MOTION_RELAX`, the fast limit whatever m_t): the touching diffuse
        spheres start with a density deficit at the contact that the motion closes at once;
        relaxing it first makes t = 0 the balanced contact, so the fit window sees diffusion,
        not that collapse.
    """

    mechanism: str
    radius: float
    t_end: float
    dt_max: float
    width: float = 3.0
    gb_ratio: float = 0.5
    margin: int = 8
    rel_step: float = 0.02
    t_first: float = 0.01
    init: str = "two_particles"
    mobility: tuple[float, float, float, float] | None = None
    motion: bool = False
    relax: float = 0.0
    bounds: float = 0.0
    m_t: float | None = None

    @property
    def grid(self) -> Grid:
        return make_grid(self.radius, self.margin)

    def label(self) -> str:
        m = " motion" if self.motion else ""
        return f"{self.mechanism}{m} R={self.radius:g} w={self.width:g} grid={self.grid.shape}"


def default_case(mechanism: str, radius: float, width: float = 3.0, **kw) -> Case:
    """The standard case: t_end scaled from `T_END_R16` by Herring's power of R (and by the
    slower transport of a narrower interface: surface and GB ~ w^-2, volume ~ w^-1)."""
    scale = (radius / 16.0) ** T_END_POWER[mechanism]
    scale *= (3.0 / width) ** (1 if mechanism == "volume" else 2)
    dt = DT_MAX[mechanism]
    if mechanism == "surface":
        dt = dt * (radius / 16.0) ** 2
    return Case(mechanism, float(radius), T_END_R16[mechanism] * scale, dt, width=width, **kw)


def make_grid(radius: float, margin: int = 8) -> Grid:
    n = int(math.ceil(2 * radius + margin))
    nx = int(math.ceil(4 * radius + margin))
    return Grid((nx + nx % 2, n + n % 2, n + n % 2))


def make_model(
    mechanism: str,
    width: float = 3.0,
    gb_ratio: float = 0.5,
    mobility: Sequence[float] | None = None,
    motion: bool = False,
    bounds: float = 0.0,
    m_t: float | None = None,
) -> SinterModel:
    energy = grid_energy(gb_ratio, width)
    mob = Mobility(*(MECHANISMS[mechanism] if mobility is None else mobility))
    kinetics = (RigidBody(m_t, force=MOTION_FORCE),) if motion else ()
    terms = (DensityBounds(bounds),) if bounds > 0 else ()
    return SinterModel(energy=energy, mobility=mob, L=1.0, terms=terms, kinetics=kinetics)


def initial_state(grid: Grid, radius: float, width: float = 3.0, gap: float = 0.0, dtype=None):
    """Two touching diffuse spheres as one body, ``rho = max(p1, p2)``, and a planar grain
    boundary at the contact plane: ``eta_1 = rho h``, ``eta_2 = rho (1 - h)``.

    Profiles ``p = (1 - tanh(d / w)) / 2`` with ``w = width / 2`` (so ``1/max|p'| = width``) and
    d the distance to the sphere surface; h is the same tanh across the contact plane.
    """
    w = width / 2.0
    centres = two_particle_centres(grid, radius, gap=gap)
    xs = grid.coordinates()
    dist = [
        np.sqrt(sum((x - c) ** 2 for x, c in zip(xs, cen, strict=True))) - radius for cen in centres
    ]
    rho = 0.5 * (1.0 - np.tanh(np.minimum(*dist) / w))
    x_mid = 0.5 * (centres[0][0] + centres[1][0])
    h = np.broadcast_to(0.5 * (1.0 - np.tanh((xs[0] - x_mid) / w)), grid.shape)
    dtype = dtype or jnp.result_type(float)
    eta = np.stack([rho * h, rho * (1.0 - h)])
    return State(jnp.asarray(rho, dtype), jnp.asarray(eta, dtype))


def axial_length(state: State, grid: Grid, x_lo: float, x_hi: float):
    """Pole-to-pole length of the pair along the axis through both centres (the cell line next to
    the box centre): ``(x_hi - x_lo) + int rho dx`` over the two outer caps ``x < x_lo`` and
    ``x > x_hi``. It shrinks only if the poles approach (densification); the grain centres of
    `centre_distance` move also when mass is merely redistributed into the neck.
    """
    line = state.rho[(slice(None),) + tuple(n // 2 for n in grid.shape[1:])]
    x = jnp.asarray(np.asarray(grid.coordinates()[0]).ravel())
    outer = jnp.sum(jnp.where((x < x_lo) | (x > x_hi), line, 0.0)) * grid.spacing
    return (x_hi - x_lo) + outer


def centre_density(state: State, grid: Grid):
    """rho averaged over the 2^3 cells around the box centre (the middle of the grain boundary,
    on the axis): drops below 1 if mass is drained from the boundary with nowhere to come from."""
    idx = tuple(slice(n // 2 - 1, n // 2 + 1) for n in grid.shape)
    return jnp.mean(state.rho[idx])


def save_times(case: Case) -> np.ndarray:
    n = int(math.ceil(math.log(case.t_end / case.t_first) / math.log1p(case.rel_step))) + 1
    return np.geomspace(case.t_first, case.t_end, n)


@dataclasses.dataclass(frozen=True)
class CaseResult:
    case: Case
    grid_shape: tuple[int, ...]
    t: np.ndarray
    x_over_a: np.ndarray
    centre_distance: np.ndarray
    axial_length: np.ndarray
    centre_density: np.ndarray
    x0_over_a: float
    d0: float
    length0: float
    steps: int
    runtime_s: float
    ok: bool
    dtype: str


_CACHE: dict[tuple[Case, str], CaseResult] = {}


def run_case(case: Case, verbose: bool = False) -> CaseResult:
    """Run one case; results are cached per (case, float precision) for the session."""
    key = (case, str(jnp.result_type(float)))
    if key not in _CACHE:
        _CACHE[key] = _run(case, key[1], verbose)
    elif verbose:
        print(f"  reusing {case.label()}", flush=True)
    return _CACHE[key]


def _run(case: Case, dtype: str, verbose: bool) -> CaseResult:
    grid = case.grid
    width_tanh = case.width / 2.0
    if case.init == "two_particles":
        state0 = two_particles(grid, case.radius, gap=0.0, width=width_tanh, dtype=dtype)
    elif case.init == "planar_gb":
        state0 = initial_state(grid, case.radius, case.width, dtype=dtype)
    else:
        raise ValueError(f"unknown init {case.init!r}")
    model = make_model(
        case.mechanism, case.width, case.gb_ratio, case.mobility, case.motion, case.bounds, case.m_t
    )
    if case.relax > 0:
        # the fast limit whatever m_t: every mobility starts from the same balanced contact
        fast = tuple(dataclasses.replace(k, m_t=None) for k in model.kinetics)
        frozen = SinterModel(
            model.energy, Mobility(0.0, 0.0, 0.0, 0.0), model.L, model.terms, (), fast
        )
        n_relax = int(math.ceil(case.relax / RELAX_DT))
        state0 = jax.jit(lambda s: advance(frozen, grid, s, n_relax, RELAX_DT))(state0)
    centres = two_particle_centres(grid, case.radius)
    x_lo, x_hi = centres[0][0], centres[1][0]
    ts = save_times(case)

    def observe(t, s):
        return (
            neck_size(s, grid, x_lo, x_hi),
            centre_distance(s, grid),
            axial_length(s, grid, x_lo, x_hi),
            centre_density(s, grid),
        )

    @jax.jit
    def solve(m, s):
        return integrate(
            m,
            grid,
            s,
            t0=0.0,
            dt=case.dt_max,
            saveat=SaveAt(ts=ts, fn=observe),
            differentiable=False,
        )

    if verbose:
        print(
            f"  running {case.label()} t_end={case.t_end:.4g} dt_max={case.dt_max:.4g}", flush=True
        )
    x0 = float(neck_size(state0, grid, x_lo, x_hi)) / case.radius
    d0 = float(centre_distance(state0, grid))
    l0 = float(axial_length(state0, grid, x_lo, x_hi))
    tic = time.perf_counter()
    sol = solve(model, state0)
    neck, dist, length, rho_c = jax.block_until_ready(sol.ys)
    runtime = time.perf_counter() - tic
    res = CaseResult(
        case=case,
        grid_shape=grid.shape,
        t=np.asarray(ts),
        x_over_a=np.asarray(neck, dtype=np.float64) / case.radius,
        centre_distance=np.asarray(dist, dtype=np.float64),
        axial_length=np.asarray(length, dtype=np.float64),
        centre_density=np.asarray(rho_c, dtype=np.float64),
        x0_over_a=x0,
        d0=d0,
        length0=l0,
        steps=int(np.sum(np.asarray(sol.steps))),
        runtime_s=runtime,
        ok=bool(np.all(np.asarray(sol.ok))),
        dtype=dtype,
    )
    if verbose:
        print(
            f"    done in {runtime:.1f} s, {res.steps} steps, x/a {x0:.3f} -> "
            f"{res.x_over_a[-1]:.3f}, ok={res.ok}",
            flush=True,
        )
    return res


# ----------------------------------------------------------------------------------- analysis


def local_exponents(t: np.ndarray, xa: np.ndarray, at: Sequence[float] = LOCAL_AT) -> dict:
    """``n_loc = d log t / d log(x/a)`` at the given x/a, from a 5-point-per-side least squares
    slope of the (monotone) series around each value; NaN where x/a is not reached."""
    out = {}
    lt, lx = np.log(t), np.log(xa)
    for q in at:
        i = int(np.searchsorted(xa, q)) if np.all(np.diff(xa) > 0) else int(np.argmax(xa >= q))
        if xa[-1] < q or xa[0] > q or i <= 0:
            out[f"{q:g}"] = float("nan")
            continue
        sl = slice(max(0, i - 5), min(len(t), i + 5))
        out[f"{q:g}"] = float(1.0 / np.polyfit(lt[sl], lx[sl], 1)[0])
    return out


def fit_exponent(
    t: np.ndarray, xa: np.ndarray, window: tuple[float, float] = EXP_WINDOW, min_points: int = 10
) -> dict:
    """n from a straight line through ``log(x/a)`` vs ``log t`` in the x/a window (or, if fewer
    than ``min_points`` samples fall in it, over the last decade in time)."""
    sel = (xa >= window[0]) & (xa <= window[1])
    kind = "x/a"
    if sel.sum() < min_points:
        sel = t >= t[-1] / 10.0
        kind = "time"
    p = np.polyfit(np.log(t[sel]), np.log(xa[sel]), 1)
    resid = np.log(xa[sel]) - np.polyval(p, np.log(t[sel]))
    return {
        "n": float(1.0 / p[0]),
        "window_kind": kind,
        "x_range": [float(xa[sel].min()), float(xa[sel].max())],
        "t_range": [float(t[sel].min()), float(t[sel].max())],
        "points": int(sel.sum()),
        "rms_residual": float(np.sqrt(np.mean(resid**2))),
    }


def rate_window(x0: float) -> tuple[float, float]:
    """The fit window of the runs with motion, fixed before measuring and the same for every
    mechanism: x/a from ``x0 + RATE_WINDOW[0]`` to ``x0 + RATE_WINDOW[1]`` above the relaxed
    contact's neck x0 (the growth after the contact balanced, before the late approach to one
    body)."""
    return (x0 + RATE_WINDOW[0], x0 + RATE_WINDOW[1])


def fit_rate_exponent(t: np.ndarray, xa: np.ndarray, window: tuple[float, float]) -> dict:
    r"""n from the growth-rate form of the classic law, ``dx/dt ~ x^{-(n-1)}``: one minus the
    least-squares slope of ``log(dx/dt)`` against ``log x`` in the x/a window.

    The integrated form ``x^n - x0^n ~ t`` has a finite start x0 (the diffuse contact), which a
    straight line through ``log x`` vs ``log t`` mistakes for a steeper law (its local slope
    diverges at t -> 0); the rate form does not depend on where the clock starts.
    """
    sel = (xa >= window[0]) & (xa <= window[1])
    if sel.sum() < 6:
        return {"n": float("nan"), "points": int(sel.sum()), "x_range": list(window)}
    tt, xx = t[sel], xa[sel]
    rate = np.gradient(xx, tt)
    ok = rate > 0
    p = np.polyfit(np.log(xx[ok]), np.log(rate[ok]), 1)
    return {
        "n": float(1.0 - p[0]),
        "points": int(ok.sum()),
        "x_range": [float(xx.min()), float(xx.max())],
        "t_range": [float(tt.min()), float(tt.max())],
    }


def fit_shrinkage_exponent(t: np.ndarray, approach: np.ndarray, t_range) -> dict:
    """m in ``h ~ t^m`` for the centre approach h (> 0) over the time range of the neck fit."""
    sel = (t >= t_range[0]) & (t <= t_range[1]) & (approach > 0)
    if sel.sum() < 6:
        return {"m": float("nan"), "points": int(sel.sum())}
    p = np.polyfit(np.log(t[sel]), np.log(approach[sel]), 1)
    return {
        "m": float(p[0]),
        "points": int(sel.sum()),
        "h_range": [float(approach[sel].min()), float(approach[sel].max())],
    }


def time_to_reach(t: np.ndarray, xa: np.ndarray, target: float) -> float:
    """First time x/a reaches ``target`` (log-log interpolation), NaN if never."""
    if xa[-1] < target or xa[0] >= target:
        return float("nan")
    i = int(np.argmax(xa >= target))
    f = (math.log(target) - math.log(xa[i - 1])) / (math.log(xa[i]) - math.log(xa[i - 1]))
    return float(math.exp(math.log(t[i - 1]) + f * (math.log(t[i]) - math.log(t[i - 1]))))


def herring_fit(results: Sequence[CaseResult]) -> dict:
    """Herring exponent m in ``t(x/a) ~ R^m`` at each target, plus local (pairwise) slopes."""
    radii = np.array([r.case.radius for r in results])
    out = {"radii": radii.tolist(), "targets": {}}
    for q in HERRING_TARGETS:
        ts = np.array([time_to_reach(r.t, r.x_over_a, q) for r in results])
        out["targets"][f"{q:g}"] = _power_fit(radii, ts)
    t1 = np.array([time_to_reach(r.t, r.x_over_a, HERRING_SPAN[0]) for r in results])
    t2 = np.array([time_to_reach(r.t, r.x_over_a, HERRING_SPAN[1]) for r in results])
    out["span"] = _power_fit(radii, t2 - t1)
    # Resolution dependence of the neck exponent: the same fit for every radius of the series.
    out["n_fit"] = [fit_exponent(r.t, r.x_over_a)["n"] for r in results]
    out["m"] = out["targets"][f"{HERRING_TARGET:g}"]["m"]
    return out


def _power_fit(radii: np.ndarray, ts: np.ndarray) -> dict:
    ok = np.isfinite(ts) & (ts > 0)
    m = float(np.polyfit(np.log(radii[ok]), np.log(ts[ok]), 1)[0]) if ok.sum() >= 2 else math.nan
    lr, lt = np.log(radii), np.log(np.where(ok, ts, np.nan))
    return {"t": ts.tolist(), "m": m, "local_m": (np.diff(lt) / np.diff(lr)).tolist()}


def summarize(res: CaseResult) -> dict:
    fit = fit_exponent(res.t, res.x_over_a)
    return {
        "mechanism": res.case.mechanism,
        "radius": res.case.radius,
        "width": res.case.width,
        "grid": list(res.grid_shape),
        "t_end": res.case.t_end,
        "dt_max": res.case.dt_max,
        "steps": res.steps,
        "runtime_s": res.runtime_s,
        "dtype": res.dtype,
        "ok": res.ok,
        "x0_over_a": res.x0_over_a,
        "x_end_over_a": float(res.x_over_a[-1]),
        "centre_distance_change": float(res.centre_distance[-1] - res.d0),
        "shrinkage": float((res.length0 - res.axial_length[-1]) / res.length0),
        "centre_density_min": float(res.centre_density.min()),
        "centre_density_end": float(res.centre_density[-1]),
        "fit": fit,
        "local_n": local_exponents(res.t, res.x_over_a),
        "classic_n": CLASSIC_N[res.case.mechanism],
    }


def check_criteria(exps: dict, herring: dict) -> dict:
    """The issue's acceptance criteria, evaluated on the measurements."""
    n = {k: v["fit"]["n"] for k, v in exps.items()}
    out = {}
    for k, v in n.items():
        out[f"n_{k}_within_1.5"] = bool(abs(v - CLASSIC_N[k]) <= 1.5)
    if {"surface", "gb", "volume"} <= set(n):
        out["order_volume<gb<surface"] = bool(n["volume"] < n["gb"] < n["surface"])
    if {"surface", "volume"} <= set(n):
        out["order_volume<surface"] = bool(n["volume"] < n["surface"])
    for k, v in herring.items():
        out[f"herring_{k}_within_0.5"] = bool(abs(v["m"] - HERRING_M[k]) <= 0.5)
    return out


# ---------------------------------------------------------------------------------- reporting


def _fmt(v, spec=".2f"):
    return "  -  " if v is None or not np.isfinite(v) else format(v, spec)


def print_tables(exps: dict, herring: dict, crit: dict) -> None:
    print("\nNeck growth x/a ~ t^(1/n)")
    head = f"{'mechanism':9s} {'R':>4s} {'grid':>14s} {'x0/a':>5s} {'x_end':>5s} {'n_fit':>6s} "
    head += f"{'classic':>7s} {'window':>13s} " + " ".join(f"{q:>5g}" for q in LOCAL_AT)
    print(head + f" {'steps':>6s} {'time_s':>7s}")
    for s in exps.values():
        f = s["fit"]
        win = f"{f['x_range'][0]:.2f}-{f['x_range'][1]:.2f}" + (
            "t" if f["window_kind"] == "time" else ""
        )
        loc = " ".join(_fmt(s["local_n"][f"{q:g}"], "5.2f") for q in LOCAL_AT)
        print(
            f"{s['mechanism']:9s} {s['radius']:4g} {str(tuple(s['grid'])):>14s} "
            f"{s['x0_over_a']:5.3f} {s['x_end_over_a']:5.3f} {f['n']:6.2f} {s['classic_n']:7g} "
            f"{win:>13s} {loc} {s['steps']:6d} {s['runtime_s']:7.1f}"
        )
    print(
        "  (window: x/a range fitted; a trailing 't' = last time decade, the run never entered "
        f"x/a in {EXP_WINDOW}); local n at x/a = {LOCAL_AT}"
    )
    for mech, h in herring.items():
        print(f"\nHerring scaling, {mech}: t(x/a) ~ R^m (expected m = {HERRING_M[mech]:g})")
        print(
            f"{'R':>6s} "
            + " ".join(f"t({q:g})".rjust(10) for q in HERRING_TARGETS)
            + f" {'t(' + str(HERRING_SPAN[1]) + ')-t(' + str(HERRING_SPAN[0]) + ')':>16s}"
        )
        for i, r in enumerate(h["radii"]):
            row = " ".join(_fmt(h["targets"][f"{q:g}"]["t"][i], "10.4g") for q in HERRING_TARGETS)
            print(f"{r:6g} {row} {_fmt(h['span']['t'][i], '16.4g')}")
        ms = " ".join(_fmt(h["targets"][f"{q:g}"]["m"], "10.2f") for q in HERRING_TARGETS)
        print(f"{'m':>6s} {ms} {_fmt(h['span']['m'], '16.2f')}")
        loc = ", ".join(_fmt(v) for v in h["targets"][f"{HERRING_TARGET:g}"]["local_m"])
        print(f"  local m between successive R at x/a = {HERRING_TARGET}: {loc}")
        ns = ", ".join(f"R={r:g}: {n:.2f}" for r, n in zip(h["radii"], h["n_fit"], strict=True))
        print(f"  neck exponent n_fit vs R (resolution dependence): {ns}")
    print("\nCriteria:")
    for k, v in crit.items():
        print(f"  {k:28s} {'PASS' if v else 'FAIL'}")


def plot(exps_res: dict, herring_res: dict, herring: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(16, 4.8))
    colours = {"surface": "C0", "gb": "C1", "volume": "C2"}
    for mech, res in exps_res.items():
        s = summarize(res)
        ax[0].loglog(
            res.t,
            res.x_over_a,
            color=colours[mech],
            label=f"{mech} R={res.case.radius:g}: n={s['fit']['n']:.2f}",
        )
        f = s["fit"]
        tt = np.geomspace(*f["t_range"], 20)
        x_mid = np.interp(np.log(np.sqrt(np.prod(f["t_range"]))), np.log(res.t), res.x_over_a)
        ax[0].loglog(tt, x_mid * (tt / np.sqrt(np.prod(f["t_range"]))) ** (1 / f["n"]), "k--", lw=1)
        sel = res.x_over_a > res.x_over_a[0] * 1.02
        lt, lx = np.log(res.t[sel]), np.log(res.x_over_a[sel])
        nloc = np.gradient(lt) / np.gradient(lx)
        ax[1].plot(res.x_over_a[sel], nloc, color=colours[mech], label=mech)
        ax[1].axhline(CLASSIC_N[mech], color=colours[mech], ls=":", lw=1)
    for q in EXP_WINDOW:
        ax[1].axvline(q, color="grey", lw=0.5)
    ax[0].set(xlabel="t (dimensionless)", ylabel="x/a", title="neck growth (dashed: fit)")
    ax[0].legend(fontsize=8)
    ax[1].set(
        xlabel="x/a",
        ylabel="local n = dlog t / dlog(x/a)",
        ylim=(0, 30),
        title="local exponents (dotted: classic)",
    )
    ax[1].legend(fontsize=8)
    for mech, h in herring.items():
        radii = np.array(h["radii"])
        for j, q in enumerate(HERRING_TARGETS):
            ts = np.array(h["targets"][f"{q:g}"]["t"])
            m = h["targets"][f"{q:g}"]["m"]
            ax[2].loglog(
                radii,
                ts,
                "o-",
                color=colours[mech],
                alpha=0.4 + 0.3 * j,
                label=f"{mech} x/a={q:g}: m={m:.2f}",
            )
        ref = np.array(h["targets"][f"{HERRING_TARGET:g}"]["t"])
        ax[2].loglog(radii, ref[-1] * (radii / radii[-1]) ** HERRING_M[mech], "k:", lw=1)
    ax[2].set(
        xlabel="R (cells)", ylabel="t to reach x/a", title="Herring scaling (dotted: R^4, R^3)"
    )
    if herring:
        ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------ grain-boundary evidence

GB_VARIANTS = {  # name -> (M_vol, M_vap, M_surf, M_gb)
    "base": MECHANISMS["gb"],
    "2x M_gb": (0.0, 0.0, 0.01, 2.0),
    "2x M_surf": (0.0, 0.0, 0.02, 1.0),
    "M_gb=0": (0.0, 0.0, 0.01, 0.0),
}

GB_TARGETS = (0.43, 0.47, 0.5)


def gb_sensitivity(radius: float = 12.0, width: float = 3.0, verbose: bool = True) -> dict:
    """Which mobility controls the grain-boundary case? Reruns it with M_gb and M_surf doubled and
    with M_gb = 0 (same t_end), and records the times to reach `GB_TARGETS` (and their ratios to
    the base case), the pair shrinkage and rho in the middle of the boundary.

    Classic GB-diffusion neck growth (Coble, n = 6) takes atoms out of the boundary plane and
    deposits them at the neck, so the centres approach. The model has no rigid-body motion or
    vacancy sink, so the boundary cannot be a lasting source of atoms: any deficit raises the
    bulk energy (f'' = 2(A + B) at rho = 1) and stops the flux. M_gb acts only where the boundary
    meets the neck surface, as an extra surface mobility on a ring of width ~w_gb at the neck
    root; while the neck is small that ring is the neck, and growth speeds up with M_gb, but the
    material has to come from the free surface (M_surf), so the control passes to M_surf as the
    neck widens and the growth law is far slower than Coble's.
    """
    out = {}
    for name, mob in GB_VARIANTS.items():
        if verbose:
            print(f"[gb evidence] {name}", flush=True)
        mob = None if mob == MECHANISMS["gb"] else mob
        res = run_case(default_case("gb", radius, width, mobility=mob), verbose)
        s = summarize(res)
        out[name] = {
            "mobility": mob or MECHANISMS["gb"],
            "x_end_over_a": s["x_end_over_a"],
            "growth": s["x_end_over_a"] - s["x0_over_a"],
            "n_fit": s["fit"]["n"],
            "t_reach": {f"{q:g}": time_to_reach(res.t, res.x_over_a, q) for q in GB_TARGETS},
            "shrinkage": s["shrinkage"],
            "centre_density_start": float(res.centre_density[0]),
            "centre_density_end": s["centre_density_end"],
            "runtime_s": s["runtime_s"],
        }
    base = out["base"]["t_reach"]
    for v in out.values():
        v["t_ratio"] = {q: v["t_reach"][q] / base[q] for q in base}
    return out


def print_gb_sensitivity(ev: dict) -> None:
    print("\nGrain-boundary case: sensitivity to the mobilities (same t_end); t(x/a) and its ratio")
    print(
        "to the base case; shrinkage = relative change of the pole-to-pole length; rho_c = rho in"
    )
    print("the middle of the boundary (first and last save)")
    ts = " ".join(f"t({q:g})".rjust(9) for q in GB_TARGETS)
    rs = " ".join(f"r({q:g})".rjust(6) for q in GB_TARGETS)
    print(
        f"{'variant':10s} {'x_end/a':>8s} {'n_fit':>6s} {ts} {rs} {'shrinkage':>9s} {'rho_c':>13s}"
    )
    for k, v in ev.items():
        tr = " ".join(_fmt(v["t_reach"][f"{q:g}"], "9.4g") for q in GB_TARGETS)
        rr = " ".join(_fmt(v["t_ratio"][f"{q:g}"], "6.2f") for q in GB_TARGETS)
        print(
            f"{k:10s} {v['x_end_over_a']:8.4f} {v['n_fit']:6.2f} {tr} {rr} {v['shrinkage']:9.2e} "
            f"{v['centre_density_start']:6.3f}->{v['centre_density_end']:.3f}"
        )


# ------------------------------------------------------------------------ time-step check


def dt_study(
    radius: float,
    mechanisms: Sequence[str] = ("surface", "gb", "volume"),
    factor: float = 0.25,
    width: float = 3.0,
    verbose: bool = True,
) -> dict:
    """Rerun each default case with ``dt_max * factor``; report the changes of x/a at t_end and of
    the fitted exponent (both must be small for the measurements to mean anything)."""
    out = {}
    for mech in mechanisms:
        base = default_case(mech, radius, width)
        fine = dataclasses.replace(base, dt_max=base.dt_max * factor)
        if verbose:
            print(f"[dt study] {mech} R={radius:g}: dt_max {base.dt_max:.4g} vs {fine.dt_max:.4g}")
        a, b = summarize(run_case(base, verbose)), summarize(run_case(fine, verbose))
        out[mech] = {
            "dt_max": [base.dt_max, fine.dt_max],
            "x_end_over_a": [a["x_end_over_a"], b["x_end_over_a"]],
            "n_fit": [a["fit"]["n"], b["fit"]["n"]],
            "rel_change_x_end": b["x_end_over_a"] / a["x_end_over_a"] - 1.0,
            "change_n_fit": b["fit"]["n"] - a["fit"]["n"],
            "runtime_s": [a["runtime_s"], b["runtime_s"]],
        }
    return out


def print_dt_study(ev: dict) -> None:
    print("\nTime-step convergence (default dt_max vs a finer one)")
    for k, v in ev.items():
        print(
            f"  {k:8s} dt_max {v['dt_max'][0]:.4g} -> {v['dt_max'][1]:.4g}: x_end/a "
            f"{v['x_end_over_a'][0]:.4f} -> {v['x_end_over_a'][1]:.4f} "
            f"({100 * v['rel_change_x_end']:+.2f} %), n_fit {v['n_fit'][0]:.2f} -> "
            f"{v['n_fit'][1]:.2f} ({v['change_n_fit']:+.2f})"
        )


# ---------------------------------------------------------------------------------------- CLI


def run_all(
    exp_radius: float,
    herring_radii: Sequence[float],
    mechanisms: Sequence[str] = ("surface", "gb", "volume"),
    herring_mechanisms: Sequence[str] = ("surface", "volume"),
    width: float = 3.0,
    init: str = "two_particles",
    verbose: bool = True,
):
    exps_res, herring_res = {}, {}
    for mech in mechanisms:
        if verbose:
            print(f"[exponent] {mech}", flush=True)
        exps_res[mech] = run_case(default_case(mech, exp_radius, width, init=init), verbose)
    for mech in herring_mechanisms:
        herring_res[mech] = []
        for r in herring_radii:
            if verbose:
                print(f"[herring] {mech} R={r:g}", flush=True)
            herring_res[mech].append(run_case(default_case(mech, r, width, init=init), verbose))
    exps = {k: summarize(v) for k, v in exps_res.items()}
    herring = {k: herring_fit(v) for k, v in herring_res.items()}
    return exps_res, herring_res, exps, herring


def motion_study(
    radius: float,
    mechanisms: Sequence[str],
    width: float = 3.0,
    bounds: float = 0.0,
    dt_scale: float = 1.0,
    m_t: float | None = None,
) -> dict:
    """Every mechanism at ``radius`` with rigid-body motion (energy force, fast limit), the
    contact relaxed first: the growth-rate exponent over `rate_window`, the log-log one over
    `EXP_WINDOW`, the shrinkage exponent of the centre approach over the same times, and the
    shrinkage at t_end. ``dt_scale`` multiplies the mechanism's largest step (`DT_MAX`): the
    fast limit moves the grains by ``F / (s K)`` per step whatever its length, an effective
    translational mobility ``V / (s K dt)``, so its results converge only as dt falls.
    ``m_t``: a finite translational mobility instead (internal units), which converges in dt
    but adds the motion's own time ``V / (m_t K)`` to the diffusion's."""
    out = {}
    for mech in mechanisms:
        base = default_case(mech, radius, width)
        case = Case(
            mech,
            radius,
            base.t_end,
            base.dt_max * dt_scale,
            width=width,
            motion=True,
            relax=MOTION_RELAX,
            bounds=bounds,
            m_t=m_t,
        )
        res = run_case(case, verbose=True)
        rate = fit_rate_exponent(res.t, res.x_over_a, rate_window(res.x0_over_a))
        approach = (res.length0 - res.axial_length) / 2.0
        out[mech] = {
            "x0_over_a": res.x0_over_a,
            "n_rate": rate,
            "n_loglog": fit_exponent(res.t, res.x_over_a),
            "m_shrinkage": fit_shrinkage_exponent(res.t, approach, rate.get("t_range", (0, 0))),
            "shrinkage_end": float((res.length0 - res.axial_length[-1]) / res.length0),
            "x_over_a_end": float(res.x_over_a[-1]),
            "dt_max": case.dt_max,
            "m_t": m_t,
            "steps": res.steps,
            "centre_density_end": float(res.centre_density[-1]),
            "classic_n": CLASSIC_N[mech],
            "runtime_s": res.runtime_s,
            "ok": res.ok,
        }
    return out


def print_motion_study(out: dict) -> None:
    m_t = next(iter(out.values()), {}).get("m_t")
    limit = "fast limit" if m_t is None else f"m_t = {m_t:g}"
    print(
        f"\nwith rigid-body motion ({limit}; contact relaxed; n from dx/dt ~ x^-(n-1) over "
        "x0 + 0.05..0.25)"
    )
    print(
        f"{'mechanism':<10}{'x0/a':>7}{'n rate':>9}{'classic':>9}{'n loglog':>10}{'m':>8}"
        f"{'shrink':>8}{'x/a end':>9}{'dt_max':>9}{'steps':>7}"
    )
    for mech, v in out.items():
        print(
            f"{mech:<10}{v['x0_over_a']:7.3f}{v['n_rate']['n']:9.2f}{v['classic_n']:9.0f}"
            f"{v['n_loglog']['n']:10.2f}{v['m_shrinkage']['m']:8.3f}{v['shrinkage_end']:8.3f}"
            f"{v['x_over_a_end']:9.3f}{v['dt_max']:9.4g}{v['steps']:7d}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller grids (R = 10; Herring 8-12)")
    ap.add_argument("--float64", action="store_true", help="double precision (default float32)")
    ap.add_argument("--out", type=Path, default=Path("out/neck_exponents"), help="PNG directory")
    ap.add_argument("--json", type=Path, default=None, help="write all results to this file")
    ap.add_argument("--radius", type=float, default=None, help="R for the exponents (16)")
    ap.add_argument(
        "--herring-radii",
        type=float,
        nargs="+",
        default=None,
        help="radii of the Herring series (8 10 12 16)",
    )
    ap.add_argument(
        "--mechanisms", nargs="+", default=["surface", "gb", "volume"], choices=sorted(MECHANISMS)
    )
    ap.add_argument(
        "--herring-mechanisms", nargs="*", default=["surface", "volume"], choices=sorted(HERRING_M)
    )
    ap.add_argument("--width", type=float, default=3.0, help="surface width in cells (3)")
    ap.add_argument("--init", choices=("two_particles", "planar_gb"), default="two_particles")
    ap.add_argument(
        "--gb-evidence",
        type=float,
        default=None,
        metavar="R",
        help="also run the grain-boundary mobility-sensitivity study at radius R",
    )
    ap.add_argument(
        "--dt-study",
        type=float,
        default=None,
        metavar="R",
        help="also rerun the exponent mechanisms at radius R with dt_max / 4",
    )
    ap.add_argument(
        "--motion",
        type=float,
        default=None,
        metavar="R",
        help="only the densification study: every mechanism at radius R with rigid-body motion "
        "(contact relaxed first, growth-rate exponents; `motion_study`)",
    )
    ap.add_argument(
        "--density-bounds",
        type=float,
        default=0.0,
        metavar="K",
        help="stiffen the density outside [0, 1] by K times the well's curvature "
        "(`sintersim.model.DensityBounds`; 0 = off)",
    )
    ap.add_argument(
        "--motion-dt-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="with --motion: multiply every mechanism's largest step by F (step convergence of "
        "the fast limit, whose effective mobility grows as 1/dt)",
    )
    ap.add_argument(
        "--motion-mobility",
        type=float,
        default=None,
        metavar="M",
        help="with --motion: translational mobility m_t (internal units) instead of the fast "
        "limit; converges in dt, but the motion's time V / (m_t K) then shares the rate",
    )
    args = ap.parse_args(argv)

    if args.float64:
        jax.config.update("jax_enable_x64", True)
    if args.motion:
        out = motion_study(
            args.motion,
            args.mechanisms,
            args.width,
            args.density_bounds,
            args.motion_dt_scale,
            args.motion_mobility,
        )
        print_motion_study(out)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=1, default=float))
            print(f"wrote {args.json}")
        return 0
    if args.float64:
        jax.config.update("jax_enable_x64", True)
    radius = args.radius or (10.0 if args.quick else 16.0)
    radii = args.herring_radii or ([8.0, 10.0, 12.0] if args.quick else [8.0, 10.0, 12.0, 16.0])
    print(
        f"sintersim neck exponents: R = {radius:g}, Herring R = {radii}, w_s = {args.width:g}, "
        f"{jnp.result_type(float)}, devices {jax.devices()}",
        flush=True,
    )
    tic = time.perf_counter()
    exps_res, herring_res, exps, herring = run_all(
        radius, radii, args.mechanisms, args.herring_mechanisms, args.width, args.init
    )
    crit = check_criteria(exps, herring)
    print_tables(exps, herring, crit)
    gb_ev = None
    if args.gb_evidence:
        gb_ev = gb_sensitivity(args.gb_evidence, args.width)
        print_gb_sensitivity(gb_ev)
    dt_ev = None
    if args.dt_study:
        dt_ev = dt_study(args.dt_study, args.mechanisms, width=args.width)
        print_dt_study(dt_ev)
    total = time.perf_counter() - tic
    print(f"\ntotal wall time {total:.0f} s")

    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / "neck_exponents.png"
    plot(exps_res, herring_res, herring, png)
    print(f"wrote {png}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        series = {
            f"{r.case.mechanism}_R{r.case.radius:g}": {
                "t": r.t.tolist(),
                "x_over_a": r.x_over_a.tolist(),
                "centre_distance": r.centre_distance.tolist(),
                "axial_length": r.axial_length.tolist(),
                "centre_density": r.centre_density.tolist(),
            }
            for r in [*exps_res.values(), *(x for v in herring_res.values() for x in v)]
        }
        payload = {
            "settings": {
                "width": args.width,
                "init": args.init,
                "exp_window": EXP_WINDOW,
                "herring_target": HERRING_TARGET,
                "herring_span": HERRING_SPAN,
                "mechanisms": MECHANISMS,
                "dtype": str(jnp.result_type(float)),
            },
            "exponents": exps,
            "herring": herring,
            "criteria": crit,
            "gb_sensitivity": gb_ev,
            "dt_study": dt_ev,
            "total_runtime_s": total,
            "series": series,
        }
        args.json.write_text(json.dumps(payload, indent=1, default=float))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Coverage study of the fit's reported uncertainties: do the 68 % intervals hold the truth?

    python scripts/coverage.py [--twins 20] [--seed 0] [--out DIR] [--quick]

Each twin is a synthetic neck trace made by the solver (`sintersim.fit.synthetic_trace`) at
true values drawn at random from the priors the fit itself holds, then fitted
(`sintersim.fit.fit`, ``start="match"``) from the material preset. Since the truth is drawn from
the prior, the reported (Laplace, Gauss-Newton) 68 % intervals value +- stderr should hold it
about 68 % of the time, whether the data or the prior decide a parameter.

A twin (`draw_twin`):
- a 2D pair of the preset PbSe or CdSe (alternating), radius 1-2.5 nm, cells of 0.25 nm, a grid
  just big enough for the pair, float64 (the fit forces it), at 423.15 +- 30 K;
- fitted parameters cycling through `PARAM_SETS` (2-3 each: surface diffusivity with a time
  offset, the boundary energy, the boundary diffusivity, the length scale, the temperature
  offset);
- true values: every parameter with a prior from it (the preset's value at the twin's
  temperature with the preset's sigma_log10, log-normal; the temperature offset normal
  0 +- 30 K; the length scale 1 x/ 1.03), truncated at 2 sigma; a time offset uniform within
  +-`OFFSET_FRACTION` of the first measured time (no prior: a flat one), fitted inside the
  bounds (-0.9, 3) x the trace's first time;
- 8-30 log-spaced points over the neck's growth, 2-5 % Gaussian noise: the window comes from a
  noise-free probe run at the truth (`growth_window`): it starts when the neck has grown by
  2-10 % of its growth and ends at 50-85 % of it (the growth ends where the neck stops growing:
  its plateau, or its first drop when the merged pair meets its periodic images);
- the trace is made with error-controlled steps 4x tighter (`TRUTH_TOLERANCE`) than the fit's
  default, so the fit does not fit its own discretisation (both take ``[time] adaptive =
  true``: frozen error-controlled steps; fixed steps of dt_internal = 1 are off by 3 % early in
  the growth, as much as the noise).

Per twin and parameter (`run_twin`): z = (fit - truth) / stderr (of ln p for positive
parameters, where stderr / value is the standard error of ln p), inside = |z| <= 1; whether the
data alone leave the parameter unconstrained (their standard error without the prior rows, as
`sintersim.fit.uncertainty` computes it for its "poorly constrained by the data" warning: of ln
p above its ``rse_limit`` for positive parameters, above the prior's sigma for the temperature
offset, above half its bounds' width for a time offset) and whether a warning ("poorly
constrained" or "not identifiable") names it.

Output: one table row per twin as it finishes (column free/warned, per parameter: W unconstrained
and warned, ! unconstrained and not warned, w warned although the data constrain it, . neither),
then the summary (`summarise`): the fraction of intervals holding the truth, overall and per
parameter kind, with its 95 % Clopper-Pearson interval and the 95 % range a calibrated 68.27 %
would give for as many intervals; the unconstrained parameters and how many were warned (and
the parameters warned although constrained); the wall time. ``--out DIR``: coverage.json (rows
and summary, rewritten after every twin) and coverage.png (the z of every parameter,
histograms per kind against the standard normal).

Measured (``--twins 20 --seed 0``, 2-core CPU shared with other runs, 948 s): 33 of 48
intervals hold the truth, 69 % (95 % CI 54-81 %; a calibrated 68.3 % gives 54-81 % for 48);
z mean +0.16, sd 0.84, no |z| > 2; D_s 15/20. 26 parameters unconstrained by the data (every
D_gb, 7 of 8 gamma_gb, every temperature offset and length scale, and D_s in 7 of the 8 twins
beside those two, with which it is degenerate), all 26 warned. Warned although
constrained: D_s twice by "not identifiable" with a time offset of microseconds (the condition
number of J^T J mixes ln p with seconds), D_s and gamma_gb once for a correlation of 0.99.
``--seed 1`` (the slow test's six twins) adds a miss of 3.3 standard errors: a temperature
offset (46 +- 13 K, truth 3 K) beside D_s and gamma_gb correlated at 0.993, where the loss is far
from quadratic: the truth lies only 1.5 above the optimum's loss (at most 1.7 sigma on a
profile), so the Laplace interval there is at least 1.9x too narrow.

``--quick``: tiny twins for the tests (R = 1 nm on 24 x 16 cells, 8 points, a fixed window of
2-300 time units instead of the probe); parameter sets cycle through {D_s, time offset} and
{D_s, D_gb}, and in the latter D_gb is put at the prior's lower 2-sigma edge, where boundary
diffusion cannot act: an unconstrained parameter the fit must warn about.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import sys
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import sintersim.fit as F
from sintersim.scenario import ConfigError, loads_config

PRESETS = ("PbSe", "CdSe")
T_USUAL_K = 423.15  # the presets' usual temperature (the config default, scripts/bench_fit.py)
T_SPREAD_K = 30.0
RADIUS_NM = (1.0, 2.5)
SPACING_NM = 0.25
NOISE = (0.02, 0.05)
POINTS = (8, 30)
# the window, in fractions of the neck's growth (start, end): each drawn uniformly in its range
WINDOW_START = (0.02, 0.10)
WINDOW_END = (0.50, 0.85)
OFFSET_FRACTION = 0.4  # time offset: uniform in +- this times the first (model) time
OFFSET_BOUNDS = (-0.9, 3.0)  # fitted within these times the trace's first time
TRUNCATE = 2.0  # prior draws truncated at this many sigma
TRUTH_TOLERANCE = 0.25  # the trace's error tolerance, of the fit's default one
LM_STEPS = 30
QUICK_WINDOW = (2.0, 300.0)  # internal time units: the growth of the quick twins' R = 1 nm pair

DS, DGB, GGB = "surface_diffusivity", "gb_diffusivity", "gb_energy"
TAU, SCALE, DT = "time_offset", "length_scale", "temperature_offset"
PARAM_SETS = (
    (DS, TAU),
    (DS, GGB),
    (DS, DGB),
    (DS, SCALE, TAU),
    (DS, GGB, DT),
)
QUICK_SETS = ((DS, TAU), (DS, DGB))
SHORT = {DS: "Ds", DGB: "Dgb", GGB: "ggb", TAU: "tau", SCALE: "s", DT: "dT"}
NOMINAL = math.erf(1 / math.sqrt(2))  # 0.6827: a standard normal within +-1
NAME = "twin"


def rse_limit() -> float:
    """The largest standard error of ln p the fit reports without a warning: the default of
    `sintersim.fit.uncertainty`'s ``rse_limit`` (the public face of its RSE_LIMIT)."""
    return float(inspect.signature(F.uncertainty).parameters["rse_limit"].default)


@dataclasses.dataclass(frozen=True)
class TwinSpec:
    """One synthetic twin: its pair, its data and the truth (drawn by `draw_twin`)."""

    index: int
    preset: str
    temperature_K: float
    radius_nm: float
    noise: float
    n_points: int
    params: tuple[str, ...]
    truth: dict[str, float]  # every fitted kind but the time offset (physical units)
    z_prior: dict[str, float]  # the draws (prior sigmas from the centre) behind ``truth``
    window: tuple[float, float]  # fractions of the growth, or internal times (``quick``)
    offset_fraction: float  # time offset / first model time (used when TAU is fitted)
    seed: int  # of the trace's noise
    quick: bool = False

    @property
    def label(self) -> str:
        return "+".join(SHORT[p] for p in self.params)


def config_text(spec: TwinSpec, material: dict[str, float] | None = None, time_extra="") -> str:
    """The twin's config: its pair on a grid just big enough for it (1 nm around the two discs),
    ``[time] adaptive = true``; ``material``: [material] overrides."""
    r, h = spec.radius_nm, SPACING_NM
    nx = 2 * math.ceil((4 * r + 2.0) / h / 2)
    ny = 2 * math.ceil((2 * r + 2.0) / h / 2)
    width = 0.5 if r < 1.5 else 0.75  # 2 or 3 cells: tests/test_fit.py's tiny and twin pairs
    extra = "".join(f"{k} = {v!r}\n" for k, v in (material or {}).items())
    return f"""
[material]
preset = "{spec.preset}"
temperature_K = {spec.temperature_K!r}
{extra}[model]
interface_width_nm = {width}
[grid]
shape = [{nx}, {ny}]
spacing_nm = {h}
[particles]
radius_nm = {spec.radius_nm!r}
gap_nm = 0.0
[time]
end_s = 1.0
adaptive = true
{time_extra}"""


def fit_config(spec: TwinSpec):
    """The config the fit starts from: the preset's values."""
    return loads_config(config_text(spec))


def truth_config(spec: TwinSpec, tight: bool = True):
    """The config with the true values in ``[material]`` (its time unit is the truth's), and
    error-controlled steps `TRUTH_TOLERANCE` x the default tolerance when ``tight``. Energies
    the config's shape solver cannot hold stay the preset's (the trace gets them as values)."""
    width = 0.5 if spec.radius_nm < 1.5 else 0.75
    # the default tolerance: 3e-4 interface widths (`[time] tolerance_nm`)
    tol = f"tolerance_nm = {TRUTH_TOLERANCE * 3e-4 * width!r}\n" if tight else ""
    material = {F.FITTABLE[k][1]: v for k, v in spec.truth.items() if F.FITTABLE[k][1] is not None}
    try:
        return loads_config(config_text(spec, material, tol))
    except ConfigError:
        material = {k: v for k, v in material.items() if not k.endswith("_J_m2")}
        return loads_config(config_text(spec, material, tol))


def _dummy(times=(1.0, 2.0)) -> F.Trace:
    n = len(times)
    return F.Trace(np.asarray(times, float), np.ones(n), np.ones(n), name=NAME)


def priors_of(spec_like: TwinSpec, params) -> dict[str, tuple[float, float, bool]]:
    """name -> (centre, sigma, log) of the prior the fit gives each parameter (no simulation:
    the specs of a `sintersim.fit.Problem` on a dummy trace); the time offset has none."""
    prob = F.Problem([_dummy()], fit_config(spec_like), list(params))
    return {s.kind: (*s.prior, s.log) for s in prob.specs if s.prior is not None}


def _truncated_normal(rng: np.random.Generator) -> float:
    while True:
        z = float(rng.standard_normal())
        if abs(z) <= TRUNCATE:
            return z


def draw_twin(rng: np.random.Generator, i: int, quick: bool = False) -> TwinSpec:
    """Twin ``i``: its pair, data and truth drawn with ``rng`` (module docstring); ``quick``:
    the tiny twins of the tests (R = 1 nm, 8 points, a fixed window; in the {D_s, D_gb} set
    D_gb at the prior's lower 2-sigma edge, where it cannot act)."""
    sets = QUICK_SETS if quick else PARAM_SETS
    params = sets[i % len(sets)]
    preset = "PbSe" if quick else PRESETS[i % len(PRESETS)]
    temperature = round(T_USUAL_K + rng.uniform(-T_SPREAD_K, T_SPREAD_K), 2)
    radius = 1.0 if quick else round(float(rng.uniform(*RADIUS_NM)), 2)
    noise = round(float(rng.uniform(*NOISE)), 4)
    n_points = POINTS[0] if quick else int(rng.integers(POINTS[0], POINTS[1] + 1))
    if quick:
        window = QUICK_WINDOW
    else:
        window = (float(rng.uniform(*WINDOW_START)), float(rng.uniform(*WINDOW_END)))
    offset_fraction = float(rng.uniform(-OFFSET_FRACTION, OFFSET_FRACTION))
    seed = int(rng.integers(2**31))
    spec = TwinSpec(
        i, preset, temperature, radius, noise, n_points, params, {}, {}, window,
        offset_fraction, seed, quick,
    )  # fmt: skip
    truth, z_prior = {}, {}
    for kind, (centre, sigma, log) in priors_of(spec, params).items():
        z = -TRUNCATE if quick and kind == DGB else _truncated_normal(rng)
        z_prior[kind] = z
        truth[kind] = centre * 10 ** (sigma * z) if log else centre + sigma * z
    return dataclasses.replace(spec, truth=truth, z_prior=z_prior)


def growth_window(spec: TwinSpec, cfg_truth) -> tuple[np.ndarray, dict]:
    """The twin's measurement times (s, on the model's clock) and what chose them: log-spaced
    over ``spec.window`` (fractions of the neck's growth, from a noise-free probe run at the
    truth to 1000 R^2 time units; or internal times when ``spec.quick``)."""
    prob = F.Problem([_dummy()], cfg_truth, [DS])
    unit = prob.sims[0].setup.nd.scales.time_s  # seconds per internal time unit at the truth
    info: dict = {"time_unit_s": unit}
    if spec.quick:
        t_a, t_b = spec.window
    else:
        t_probe = np.geomspace(0.1, 1000.0 * spec.radius_nm**2, 48)
        truth = {k: v for k, v in spec.truth.items()}
        x = F.synthetic_trace(
            truth_config(spec, tight=False), truth, t_probe * unit, noise=1e-9, name="probe"
        ).neck_nm
        drop = np.flatnonzero(np.diff(x) < -0.005 * x[1:])
        end = int(drop[0]) + 1 if drop.size else x.size  # growth: up to the first drop
        t_g, x_g = t_probe[:end], np.maximum.accumulate(x[:end])
        x0, growth = x_g[0], x_g[-1] - x_g[0]
        keep = np.concatenate([[True], np.diff(x_g) > 0])
        t_g, x_g = t_g[keep], x_g[keep]
        t_a, t_b = (
            float(np.exp(np.interp(x0 + f * growth, x_g, np.log(t_g)))) for f in spec.window
        )
        info.update(neck_start_nm=float(x0), neck_peak_nm=float(x0 + growth), t_peak=t_g[-1])
    info.update(t_start=t_a, t_end=t_b)
    return np.geomspace(t_a, t_b, spec.n_points) * unit, info


def data_only_sd(problem: F.Problem, q) -> np.ndarray:
    """Standard errors of the natural coordinates from the data alone at ``q``: the Jacobian of
    ``problem.residuals`` without the prior rows (appended last), J_d^T J_d regularised by
    1e-12 of its largest eigenvalue: what `sintersim.fit.uncertainty` holds against its
    limits for the "poorly constrained by the data" warning."""
    J = np.asarray(jax.jit(jax.jacfwd(problem.residuals))(jnp.asarray(q)))
    n_prior = sum(s.prior is not None for s in problem.specs)
    Jd = J[: J.shape[0] - n_prior]
    H = Jd.T @ Jd
    top = max(float(np.max(np.abs(np.linalg.eigvalsh(H)))), 1e-300)
    cov = np.linalg.inv(H + 1e-12 * top * np.eye(H.shape[0]))
    return np.sqrt(np.clip(np.diag(cov), 0, None))


def _kind(name: str) -> str:
    return name.split("[")[0]


def unconstrained(spec: F.ParamSpec, sd_data: float, limit: float) -> bool:
    """Whether the data alone leave ``spec`` unconstrained (the fit's criteria: module doc)."""
    if spec.log:
        return sd_data > limit
    if spec.prior is not None:
        return sd_data > spec.prior[1]
    return sd_data > (spec.hi - spec.lo) / 2


def warned(name: str, notes) -> bool:
    """Whether a "poorly constrained" or "not identifiable" warning names parameter ``name``."""
    return any(
        n.startswith(("poorly constrained", "not identifiable")) and name in n for n in notes
    )


def _naming(name: str, notes) -> str:
    """The short form of the first warning that names parameter ``name``."""
    return next((short_warnings([n]) for n in notes if name in n), "")


def short_warnings(notes) -> str:
    """'pc-data(ggb); ni(Ds,s)': each warning's kind and the parameters it names."""
    kinds = {
        "poorly constrained by the data": "pc-data",
        "poorly constrained": "pc",
        "not identifiable": "ni",
        "poor fit": "poor-fit",
    }
    out = []
    for n in notes:
        tag = next((v for k, v in kinds.items() if n.startswith(k)), n.split(":")[0][:12])
        named = [SHORT[k] for k in SHORT if k in n]
        out.append(f"{tag}({','.join(named)})" if named and tag != "poor-fit" else tag)
    return "; ".join(out) or "-"


def run_twin(spec: TwinSpec) -> dict:
    """Make the twin's trace, fit it, and compare: a row of the table (module docstring)."""
    t_start = time.perf_counter()
    cfg_truth = truth_config(spec)
    times, window = growth_window(spec, cfg_truth)
    truth = dict(spec.truth)
    bounds = {}
    if TAU in spec.params:
        tau = spec.offset_fraction * times[0]
        truth[f"{TAU}[{NAME}]"] = tau
        first = times[0] - tau  # the trace's first time
        bounds[TAU] = (OFFSET_BOUNDS[0] * first, OFFSET_BOUNDS[1] * first)
    # The trace on the model's clock, then shifted by the offset: `synthetic_trace` given the
    # offset would interpolate the neck from save-points spaced linearly from t = 0 (its
    # default offset bounds reach t = 0), and the early points of a trace spanning decades
    # would come out wrong by several sigma.
    made = F.synthetic_trace(
        cfg_truth, spec.truth, times, noise=spec.noise, seed=spec.seed, name=NAME
    )
    tau = truth.get(f"{TAU}[{NAME}]", 0.0)
    trace = F.Trace(made.time_s - tau, made.neck_nm, made.sigma_nm, name=NAME)
    t_fit = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = F.fit(
            [trace], fit_config(spec), list(spec.params), bounds=bounds, lm_steps=LM_STEPS,
            start="match",
        )  # fmt: skip
    fit_s = time.perf_counter() - t_fit
    sd_data = data_only_sd(res.problem, res.q)
    jac_s = time.perf_counter() - t_fit - fit_s
    limit = rse_limit()
    params = {}
    for i, s in enumerate(res.problem.specs):
        v, se, t = res.values[s.name], res.stderr[s.name], truth[s.name]
        z = math.log(v / t) / (se / v) if s.log else (v - t) / se
        free = bool(unconstrained(s, float(sd_data[i]), limit))
        params[s.name] = {
            "kind": _kind(s.name),
            "log": s.log,
            "truth": t,
            "value": v,
            "stderr": se,
            "z": z,
            "inside": bool(abs(z) <= 1.0),
            "sd_data": float(sd_data[i]),
            "prior": list(s.prior) if s.prior is not None else None,
            "unconstrained": free,
            "warned": bool(warned(s.name, res.warnings)),
        }
    jax.clear_caches()  # every twin compiles its own runs: free the old ones
    return {
        "index": spec.index,
        "preset": spec.preset,
        "temperature_K": spec.temperature_K,
        "radius_nm": spec.radius_nm,
        "noise": spec.noise,
        "n_points": spec.n_points,
        "set": spec.label,
        "z_prior": spec.z_prior,
        "window": window,
        "params": params,
        "chi2_reduced": res.chi2_reduced,
        "n_evaluations": res.n_evaluations,
        "start": {k: v for k, v in res.start.items() if k != "values"},
        "warnings": res.warnings,
        "fit_s": fit_s,
        "trace_s": t_fit - t_start,  # the probe and the trace
        "jacobian_s": jac_s,
        "total_s": time.perf_counter() - t_start,
    }


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import beta

    a = (1 - level) / 2
    lo = float(beta.ppf(a, k, n - k + 1)) if k > 0 else 0.0
    hi = float(beta.ppf(1 - a, k + 1, n - k)) if k < n else 1.0
    return lo, hi


def nominal_range(n: int, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` range of the fraction inside among ``n`` independent intervals of
    a calibrated 68.27 %: binomial quantiles over n."""
    from scipy.stats import binom

    a = (1 - level) / 2
    return float(binom.ppf(a, n, NOMINAL) / n), float(binom.ppf(1 - a, n, NOMINAL) / n)


def _coverage(entries) -> dict:
    n = len(entries)
    k = sum(e["inside"] for e in entries)
    z = np.array([e["z"] for e in entries], float)
    return {
        "n": n,
        "inside": k,
        "fraction": k / n if n else float("nan"),
        "ci95": _clopper_pearson(k, n) if n else None,
        "nominal95": nominal_range(n) if n else None,
        "z_mean": float(np.mean(z)) if n else float("nan"),
        "z_sd": float(np.std(z, ddof=1)) if n > 1 else float("nan"),
        "z_median_abs": float(np.median(np.abs(z))) if n else float("nan"),
    }


def summarise(rows) -> dict:
    """Coverage overall and per parameter kind, the unconstrained parameters and how many of
    them were warned, the failed twins and the time (see the module docstring)."""
    done = [r for r in rows if "params" in r]
    entries = [p for r in done for p in r["params"].values()]
    kinds = sorted({e["kind"] for e in entries})
    free = [
        {"twin": r["index"], "param": name, "warned": p["warned"]}
        for r in done
        for name, p in r["params"].items()
        if p["unconstrained"]
    ]
    spurious = [
        {"twin": r["index"], "param": name, "warning": _naming(name, r["warnings"])}
        for r in done
        for name, p in r["params"].items()
        if p["warned"] and not p["unconstrained"]
    ]
    return {
        "twins": len(rows),
        "failed": [{"twin": r["index"], "error": r["error"]} for r in rows if "error" in r],
        "overall": _coverage(entries),
        "per_kind": {k: _coverage([e for e in entries if e["kind"] == k]) for k in kinds},
        "unconstrained": len(free),
        "unconstrained_warned": sum(f["warned"] for f in free),
        "unconstrained_params": free,
        # warned although the data alone constrain them
        "warned_constrained": spurious,
        "poor_fits": sum(any(w.startswith("poor fit") for w in r["warnings"]) for r in done),
        "wall_s": sum(r.get("total_s", 0.0) for r in rows),
        "fit_s": sum(r.get("fit_s", 0.0) for r in done),
    }


HEADER = (
    "| # | preset | T (K) | R (nm) | noise | pts | params | truth | fit +- se | z | inside "
    "| free/warned | chi2_r | warnings | s |"
)


def table_row(r: dict) -> str:
    """One twin as a markdown table row (parameters joined with '; ')."""
    head = (
        f"| {r['index']} | {r['preset']} | {r['temperature_K']:.1f} | {r['radius_nm']:.2f} "
        f"| {100 * r['noise']:.1f}% | {r['n_points']} | {r['set']} "
    )
    if "error" in r:
        return head + f"| failed: {r['error'][:60]} |" + " |" * 7
    ps = r["params"].values()
    truth = "; ".join(f"{p['truth']:.3g}" for p in ps)
    fit = "; ".join(
        f"{p['value']:.3g} x/ {math.exp(p['stderr'] / p['value']):.3g}"
        if p["log"]
        else f"{p['value']:.3g} +- {p['stderr']:.2g}"
        for p in ps
    )
    z = "; ".join(f"{p['z']:+.2f}" for p in ps)
    inside = "".join("y" if p["inside"] else "n" for p in ps)
    free = "".join(
        ("W" if p["warned"] else "!") if p["unconstrained"] else ("w" if p["warned"] else ".")
        for p in ps
    )
    return (
        head + f"| {truth} | {fit} | {z} | {inside} | {free} | {r['chi2_reduced']:.2f} "
        f"| {short_warnings(r['warnings'])} | {r['total_s']:.0f} |"
    )


def summary_text(s: dict) -> str:
    def line(name, c):
        if not c["n"]:
            return f"{name}: no intervals"
        lo, hi = c["ci95"]
        a, b = c["nominal95"]
        return (
            f"{name}: {c['inside']}/{c['n']} = {100 * c['fraction']:.0f}% inside "
            f"(95% CI {100 * lo:.0f}-{100 * hi:.0f}%; a calibrated 68.3% gives "
            f"{100 * a:.0f}-{100 * b:.0f}% for {c['n']} intervals 95% of the time); "
            f"z mean {c['z_mean']:+.2f}, sd {c['z_sd']:.2f}, median |z| {c['z_median_abs']:.2f}"
        )

    out = [line("overall", s["overall"])]
    out += [line(f"  {k}", c) for k, c in s["per_kind"].items()]
    out.append(
        f"unconstrained by the data: {s['unconstrained']} parameters, "
        f"{s['unconstrained_warned']} of them warned"
        + "".join(
            f"; NOT warned: twin {f['twin']} {f['param']}"
            for f in s["unconstrained_params"]
            if not f["warned"]
        )
    )
    if s["warned_constrained"]:
        out.append(
            "warned although the data constrain them: "
            + ", ".join(
                f"twin {f['twin']} {f['param']} ({f['warning']})" for f in s["warned_constrained"]
            )
        )
    if s["failed"]:
        out.append(f"failed twins: {', '.join(str(f['twin']) for f in s['failed'])}")
    out.append(
        f"poor fits: {s['poor_fits']}; wall {s['wall_s']:.0f} s ({s['fit_s']:.0f} s fitting) "
        f"for {s['twins']} twins"
    )
    return "\n".join(out)


def plot(rows, path) -> None:
    """Histograms of z per parameter kind (stacked) against the standard normal density."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [p for r in rows if "params" in r for p in r["params"].values()]
    kinds = sorted({e["kind"] for e in entries})
    edges = np.linspace(-4, 4, 17)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    zs = [np.clip([e["z"] for e in entries if e["kind"] == k], -3.99, 3.99) for k in kinds]
    ax.hist(zs, bins=edges, stacked=True, label=kinds)
    x = np.linspace(-4, 4, 200)
    n = len(entries)
    ax.plot(x, n * (edges[1] - edges[0]) * np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi), "k-")
    ax.axvspan(-1, 1, color="0.9", zorder=0)
    s = summarise(rows)["overall"]
    ax.set_title(
        f"(fit - truth) / stderr, {n} parameters of {len(rows)} twins: "
        f"{100 * s['fraction']:.0f}% within 1 (nominal 68%)",
        fontsize=10,
    )
    ax.set_xlabel("z (of ln p for positive parameters; |z| > 4 at the edges)")
    ax.set_ylabel("parameters")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_study(
    n_twins: int, seed: int = 0, quick: bool = False, out: Path | None = None, echo=print
) -> tuple[list[dict], dict]:
    """Draw and run ``n_twins`` twins (a failed fit is recorded with its error); echo the table
    as it grows; write coverage.json / coverage.png to ``out``. Returns (rows, summary)."""
    rng = np.random.default_rng(seed)
    specs = [draw_twin(rng, i, quick) for i in range(n_twins)]
    rows: list[dict] = []
    echo(HEADER)
    echo("|" + "---|" * (HEADER.count("|") - 1))
    for spec in specs:
        t0 = time.perf_counter()
        try:
            row = run_twin(spec)
        except (F.FitError, ValueError, FloatingPointError) as e:
            row = {
                "index": spec.index,
                "preset": spec.preset,
                "temperature_K": spec.temperature_K,
                "radius_nm": spec.radius_nm,
                "noise": spec.noise,
                "n_points": spec.n_points,
                "set": spec.label,
                "error": f"{type(e).__name__}: {e}",
                "total_s": time.perf_counter() - t0,
            }
        rows.append(row)
        echo(table_row(row))
        if out is not None:
            _write(out, seed, quick, rows)
    summary = summarise(rows)
    if out is not None:
        _write(out, seed, quick, rows, summary)
        plot(rows, out / "coverage.png")
    return rows, summary


def _write(out: Path, seed, quick, rows, summary=None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    doc = {"seed": seed, "quick": quick, "rows": rows, "summary": summary or summarise(rows)}
    (out / "coverage.json").write_text(json.dumps(doc, indent=1, default=float))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--twins", type=int, default=20, help="number of twins (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="of the draws (default 0)")
    ap.add_argument("--out", type=Path, default=None, help="folder for coverage.json and .png")
    ap.add_argument("--quick", action="store_true", help="tiny twins (the tests')")
    a = ap.parse_args(argv)
    if a.twins < 1:
        ap.error("--twins must be >= 1")
    t0 = time.perf_counter()
    _, summary = run_study(a.twins, a.seed, a.quick, a.out, echo=lambda s: print(s, flush=True))
    print()
    print(summary_text(summary))
    print(f"total wall {time.perf_counter() - t0:.0f} s")
    if a.out is not None:
        print(f"wrote {a.out / 'coverage.json'} and {a.out / 'coverage.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

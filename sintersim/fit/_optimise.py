"""The fit itself: Adam from several starts, Levenberg-Marquardt polish, uncertainties."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from sintersim.fit._problem import FITTABLE, ParamSpec, Problem
from sintersim.fit._start import MATCHED, TRANSPORT, time_scale_factor
from sintersim.fit._traces import FitError, Trace
from sintersim.scenario._schema import ConfigError

# Largest standard error of ln p (a relative error, for positive parameters) reported without a
# "poorly constrained" warning: the value is then known within a factor e at one standard error.
# (The seed 001 fit, 3 points for one D_s, has 0.49.)
RSE_LIMIT = 1.0


# ----------------------------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class FitResult:
    """Fitted values (physical units), standard errors, correlations and diagnostics."""

    names: list[str]
    units: list[str]
    values: dict[str, float]
    stderr: dict[str, float]
    correlation: np.ndarray
    loss: float
    chi2_reduced: float
    n_data: int
    n_evaluations: int
    loss_history: list[float]
    curves: list[dict[str, np.ndarray]]
    warnings: list[str]
    # name -> (centre, sigma_log10, "preset" or "given"): the log-normal priors the loss held
    priors: dict[str, tuple[float, float, str]] = dataclasses.field(default_factory=dict)
    # The fitted problem (steps frozen at the answer), the answer in its natural coordinates
    # (log p for positive parameters, p for offsets) and their Gauss-Newton covariance: what
    # profile likelihoods and posterior sampling start from. Not written to fit.json.
    problem: Problem | None = dataclasses.field(default=None, repr=False)
    q: np.ndarray | None = dataclasses.field(default=None, repr=False)
    covariance: np.ndarray | None = dataclasses.field(default=None, repr=False)
    # How the start was chosen: {"rule": "config"} or {"rule": "matched", "factor": c, ...}
    start: dict = dataclasses.field(default_factory=lambda: {"rule": "config"})

    def to_json(self) -> dict:
        return {
            "parameters": {
                n: {"value": self.values[n], "stderr": self.stderr[n], "unit": u}
                for n, u in zip(self.names, self.units, strict=True)
            },
            "correlation": self.correlation.tolist(),
            "loss": self.loss,
            "chi2_reduced": self.chi2_reduced,
            "n_data": self.n_data,
            "n_evaluations": self.n_evaluations,
            "loss_history": self.loss_history,
            "warnings": self.warnings,
            "start": self.start,
            "priors": {
                n: {"centre": c, "sigma_log10": sg, "from": src}
                for n, (c, sg, src) in self.priors.items()
            },
        }


def residuals_and_jacobian(problem: Problem, q) -> tuple[np.ndarray, np.ndarray]:
    """The weighted residuals r(q) and their Jacobian dr/dq, from one forward-mode pass."""
    J, r = jax.jit(jax.jacfwd(_twice(problem.residuals), has_aux=True))(jnp.asarray(q))
    return np.asarray(r), np.asarray(J)


def uncertainty(
    problem: Problem,
    q: np.ndarray,
    cond_limit: float = 1e8,
    corr_limit: float = 0.99,
    jacobian: np.ndarray | None = None,
    rse_limit: float = RSE_LIMIT,
):
    """Gauss-Newton covariance of the natural coordinates at ``q`` and identifiability checks.

    Returns (covariance, correlation, warnings). A parameter combination is reported as not
    identifiable when J^T J is nearly singular (condition number above ``cond_limit``) or two
    parameters correlate beyond ``corr_limit``; a positive (log-space) parameter is reported as
    poorly constrained when the standard error of its logarithm exceeds ``rse_limit`` (the
    calibration issue's gb_energy = 0.0075 +- 0.081 J/m^2, 11x its value, went unreported).
    ``jacobian``: dr/dq at ``q`` if already known.
    """
    J = residuals_and_jacobian(problem, q)[1] if jacobian is None else np.asarray(jacobian)
    H = J.T @ J
    notes = []
    # The condition number of the correlation-scaled J^T J: independent of the units (ln p mixed
    # with seconds gave 5e8 for a time offset of microseconds beside a D_s known to 6 %).
    d = np.sqrt(np.clip(np.diag(H), 1e-300, None))
    w, V = np.linalg.eigh(H / np.outer(d, d))
    cond = w[-1] / max(w[0], 1e-300)
    names = [s.name for s in problem.specs]
    if w[0] <= 0 or cond > cond_limit:
        v = V[:, 0] / d  # back to the natural coordinates
        v = v / np.linalg.norm(v)
        combo = " ".join(
            f"{'+' if c > 0 else '-'}{abs(c):.2f}*log({n})"
            if problem.specs[i].log
            else f"{'+' if c > 0 else '-'}{abs(c):.2f}*{n}"
            for i, (n, c) in enumerate(zip(names, v, strict=True))
            if abs(c) > 0.05
        )
        notes.append(
            f"not identifiable: the data constrain almost nothing along {combo.lstrip('+')} "
            f"(condition number of J^T J = {cond:.2g}); only the orthogonal combination is "
            "determined - fix one of these parameters or add data that separate them"
        )
    cov = np.linalg.pinv(H)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    corr = cov / np.outer(np.where(sd > 0, sd, 1), np.where(sd > 0, sd, 1))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if abs(corr[i, j]) > corr_limit and not notes:
                notes.append(
                    f"not identifiable: {names[i]} and {names[j]} are correlated at "
                    f"{corr[i, j]:+.3f}; the data constrain mainly a combination of the two"
                )
    sd_data = _data_only_sd(problem, J)
    for i, spec in enumerate(problem.specs):
        if spec.log and sd[i] > rse_limit:
            notes.append(
                f"poorly constrained: {spec.name} is known only within a factor "
                f"{_factor(sd[i])} at one standard error (standard error of ln {spec.name} = "
                f"{sd[i]:.2g} > {rse_limit:g}): the data hardly determine it - fix it, give it a "
                "prior (--prior), or add data that do"
            )
        elif spec.log and spec.prior is not None and sd_data[i] > rse_limit:
            notes.append(
                f"poorly constrained by the data: {spec.name} - the data alone know it only "
                f"within a factor {_factor(sd_data[i])} (standard error of ln {spec.name} "
                f"{sd_data[i]:.2g} > {rse_limit:g}, correlations included); its interval (a "
                f"factor {_factor(sd[i])}) rests on the priors: its own ({spec.prior[0]:.3g} x/ "
                f"10^{spec.prior[1]:.2g}) and those of the parameters it trades off with"
            )
        elif not spec.log and spec.prior is not None and sd_data[i] > spec.prior[1]:
            notes.append(
                f"poorly constrained by the data: {spec.name} - the data alone know it only "
                f"within +-{sd_data[i]:.3g} {FITTABLE[spec.kind][0]} (correlations included), "
                "wider than its prior's "
                f"+-{spec.prior[1]:.3g}: its interval is mostly the prior's"
            )
    return cov, corr, notes


def _factor(sd_ln: float) -> str:
    """exp(sd_ln) for a message: '2.72', '10^9' when huge, 'of any size' when unbounded."""
    if sd_ln < 20:
        return f"{math.exp(sd_ln):.3g}"
    return f"10^{sd_ln / math.log(10):.0f}" if sd_ln < 230 else "of any size (unbounded)"


def _data_only_sd(problem: Problem, J: np.ndarray) -> np.ndarray:
    """Standard errors of the natural coordinates from the data alone (the prior rows, which
    `Problem.residuals` appends last, left out of J). A direction the data do not see at all
    gets a huge (not a pseudo-inverse's finite) error: J_d^T J_d is regularised by 1e-12 of
    its largest eigenvalue."""
    n_prior = sum(s.prior is not None for s in problem.specs)
    Jd = J[: J.shape[0] - n_prior]
    H = Jd.T @ Jd
    top = max(float(np.max(np.abs(np.linalg.eigvalsh(H)))) if H.size else 0.0, 1e-300)
    cov = np.linalg.inv(H + 1e-12 * top * np.eye(H.shape[0]))
    return np.sqrt(np.clip(np.diag(cov), 0, None))


# Levenberg-Marquardt stops when an accepted step changes every residual by less than
# LM_TOL (in units of its sigma, plus LM_TOL relative) and every unbounded coordinate by less
# than LM_TOL: far below what the data resolve. optimistix's rtol = 1e-6, atol = 1e-8 asked
# for changes the noise-free map cannot even show, so the twin fit of scripts/fit_twin.py sat
# at its optimum for 24 of its 32 iterations (measured: same values to 8 digits, 64 s -> 26 s).
LM_TOL = 1e-4
# Re-fit when the steps frozen at a round's answer outnumber those it was fitted with by this.
PLAN_GROWTH = 1.25


# Steps one evaluation of one trace may take by default (the CLI's --max-steps repeats it):
# 2 minutes per evaluation of the twin's 40 x 24 float64 pair on this project's 2-core CPU
# (0.064 ms per step measured, scripts/fit_twin.py), far beyond any fit in the project (15,724
# steps the largest, scripts/bench_fit.py) and far below the 10^8 of a start at the wrong time
# scale (the calibration issue's CsPbBr3 fit).
DEFAULT_MAX_STEPS = 2_000_000

# --start auto matches the model's time scale to the data's (`sintersim.fit._start`) when one
# evaluation of the start would take more steps than this (or than --max-steps): far above the
# project's fits (15,724 steps the largest, scripts/bench_fit.py), far below a start at the
# wrong time scale (10^8 steps, the calibration issue's CsPbBr3 trace).
MATCH_ABOVE = 100_000
START_RULES = ("auto", "match", "config")
# --start auto probes the time scale whenever a fitted diffusivity or mobility starts from the
# config (no --init), and moves the start only when it is off by more than this factor: the
# seed 001 config (the PbSe preset's D_s) is ~300x too slow, which the x100 default bounds
# cannot even reach; a start within the factor is left as the user gave it.
AUTO_TOLERATE = 3.0

# A fit whose chi^2 is this improbable for its degrees of freedom is reported as poor.
POOR_FIT_P = 1e-3


def goodness_of_fit(chi2: float, dof: int) -> list[str]:
    """A warning when ``chi2`` (the sum of squared weighted residuals) is improbable for ``dof``
    degrees of freedom (upper tail below POOR_FIT_P): the curve misses the data by more than
    their errors, so the standard errors, which assume a good fit, mean little. Measured: the
    twin of scripts/fit_twin.py with frozen adaptive steps ended in a spurious minimum at
    reduced chi^2 = 28 without a word before this check."""
    from scipy.stats import chi2 as chi2_dist

    p = float(chi2_dist.sf(chi2, dof))
    if p >= POOR_FIT_P:
        return []
    return [
        f"poor fit: reduced chi^2 = {chi2 / dof:.3g} over {dof} degrees of freedom (p = {p:.1g}): "
        "the curve misses the data by more than their errors - a local minimum (try --starts N "
        "or another start), sigma too small, or a model that cannot describe the data; the "
        "standard errors assume a good fit"
    ]


def _twice(f):
    """``v -> (f(v), f(v))`` from one evaluation (jacfwd's value and aux)."""

    def both(v):
        r = f(v)
        return r, r

    return both


def _levenberg_marquardt(problem, z0, lm_steps, history, progress) -> tuple[jax.Array, int]:
    """Polish ``z0`` (the problem's unbounded coordinates) with optimistix LM; appends losses
    to ``history``. Returns (the polished point, the number of model evaluations it took)."""
    return least_squares(
        lambda z: problem.residuals(problem.natural(z)), z0, lm_steps, history, progress
    )


def least_squares(plain, z0, lm_steps, history=None, progress=None) -> tuple[jax.Array, int]:
    """Minimise ``|plain(z)|^2 / 2`` from ``z0`` with optimistix Levenberg-Marquardt (tolerance
    `LM_TOL`, at most ``lm_steps`` steps); appends the loss of every step to ``history``.

    Returns (the polished point, the number of model evaluations it took)."""
    import optimistix as optx

    history = [] if history is None else history
    if lm_steps <= 0:
        return z0, 0

    # optimistix linearises the residuals (jax.linearize) and applies the linear map once per
    # parameter; through our while loops that re-runs the whole simulation every time. With
    # this rule the linearisation computes the Jacobian once (forward mode, all directions in
    # one vmapped pass) and the linear map is a matrix product: see docs/performance.md.
    @jax.custom_jvp
    def resid_z(z):
        return plain(z)

    @resid_z.defjvp
    def _jvp(primals, tangents):
        (z,), (dz,) = primals, tangents
        J, r = jax.jacfwd(_twice(plain), has_aux=True)(z)
        return r, J @ dz

    def resid(z, _):
        return resid_z(z)

    def record(step, loss):
        # optimistix reports a placeholder loss before the first step; at the second it reports
        # the loss at z0 (so z0 needs no evaluation of its own: one compilation less)
        if int(step) == 0:
            return
        history.append(float(loss))
        if progress:
            progress(len(history), history[-1])

    def verbose(**kw):
        # optimistix hands (label, traced value) pairs; report the loss of every LM step.
        step = kw.get("num_steps", (None, 0))[1]
        loss = kw.get("loss_last_accepted_step", (None, jnp.nan))[1]
        jax.debug.callback(record, step, loss)

    solver = optx.LevenbergMarquardt(rtol=LM_TOL, atol=LM_TOL, verbose=verbose)
    sol = optx.least_squares(resid, solver, z0, max_steps=lm_steps, throw=False)
    return sol.value, int(sol.stats.get("num_steps", lm_steps)) * (jnp.size(z0) + 1)


def _frozen(problem: Problem, q, max_steps: int | None) -> list[int]:
    """Freeze the steps at ``q`` (None: the start), refusing them over ``max_steps`` (the
    estimate was checked when ``problem`` was made)."""
    steps = problem.freeze_steps(q)
    problem.check_budget(steps, max_steps, "frozen adaptive steps")
    return steps


def _matched_start(problem: Problem, rebuild, tolerate: float = 1.0) -> tuple[Problem, dict]:
    """Scale every fitted transport parameter's start so the model runs on the data's clock
    (`sintersim.fit._start`), re-centring the configs on it (their time unit and step follow);
    a second probe refines a first estimate that unfitted mechanisms made inexact. ``rebuild``
    makes the problem for new starting values; a first factor within ``tolerate`` of 1 leaves
    the start as it was. Returns (problem, what was done)."""
    total, why = 1.0, "matched"
    for it in range(3):
        c, why = time_scale_factor(problem)
        if c is None:
            break
        if it == 0 and abs(math.log(c)) <= math.log(tolerate):
            return problem, {"rule": "config", "probe_factor": c, "note": "start on time scale"}
        vals = {}
        for s in problem.specs:
            v = s.init * c if s.kind in TRANSPORT else s.init
            vals[s.name] = float(min(max(v, s.lo), s.hi)) if s.given_bounds else float(v)
        factor = [vals[s.name] / s.init for s in problem.specs if s.kind in TRANSPORT][0]
        total *= factor
        problem = rebuild(vals, problem)
        if abs(math.log(c)) < math.log(MATCHED) or factor == 1.0:
            break
    start = {s.name: s.init for s in problem.specs if s.kind in TRANSPORT}
    return problem, {
        "rule": "matched",
        "factor": total if why == "matched" else None,
        "note": why,
        "values": start,
    }


def _widen(spec: ParamSpec, value: float) -> tuple[float, float]:
    """Bounds kept as given, but never excluding the value a re-centred problem starts from."""
    return min(spec.lo, value / 1.01), max(spec.hi, value * 1.01)


# Energies whose ratio the config's shape solver may not reach (the fit's closed-form mapping
# reaches further: the bench's gb_energy went to 0.011 gamma_s, below the solver's 0.0139).
_ENERGIES = ("surface_energy", "gb_energy")


def _recentred(values: Mapping[str, float], problem: Problem, energies: bool = True):
    """The base configs with the fitted physical values written into ``[material]`` (the
    energies too when ``energies``; otherwise they stay the fit's values, not the config's)."""
    out = []
    for k, sim in enumerate(problem.sims):
        changes: dict[str, dict[str, float]] = {}
        for s in problem.specs:
            key = FITTABLE[s.kind][1]
            if not energies and s.kind in _ENERGIES:
                continue
            if key is not None and s.trace in (None, k):
                section, _, name = key.rpartition(".")
                changes.setdefault(section or "material", {})[name] = float(values[s.name])
        out.append(sim.setup.config.replace(**changes))
    return out


def fit(
    traces: Sequence[Trace],
    configs,
    params: Sequence[str],
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    priors: Mapping[str, tuple[float, float]] | None = None,
    init: Mapping[str, float] | None = None,
    starts: int = 1,
    adam_steps: int = 0,
    adam_lr: float = 0.1,
    lm_steps: int = 30,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
    n_dense: int = 48,
    recentre: int = 3,
    per_trace: Sequence[str] = (),
    max_steps: int | None = DEFAULT_MAX_STEPS,
    preset_priors: bool = True,
    start: str = "auto",
    projection: str | None = None,
) -> FitResult:
    """Fit ``params`` to ``traces`` (see `Problem` for the arguments).

    starts: number of starting points optimised in parallel (vmap) by ``adam_steps`` Adam steps
        (the first is the given start; the others log-uniform within a factor 3 of it, inside
        the bounds). The best is then polished by Levenberg-Marquardt (``lm_steps``).
    recentre: the simulation's time unit and step come from the base config's values; when the
        fit moves a parameter by more than 1.5x, the configs are re-centred on the fitted values
        (same number of cells, step re-chosen) and Levenberg-Marquardt runs again, at most
        ``recentre`` times. Otherwise a fitted diffusivity 100x the base one would be integrated
        with an effective step 100x too long.
    preset_priors: log-normal priors from the material preset for parameters without a given
        prior (`Problem`); False: only the given ones.
    max_steps: the most time steps one evaluation of one trace may take (None: no limit); a
        fit over it is refused before the first evaluation, with the estimate (`FitError`).
    start: "match": scale the fitted transport parameters' start so the model runs on the
        data's clock, from a probe run (`sintersim.fit._start`); "config": start from the
        config's (or ``init``'s) values; "auto": match when one evaluation of the start would
        take more than `MATCH_ABOVE` steps (or ``max_steps``), or when a fitted transport
        parameter starts from the config (no ``init``) more than `AUTO_TOLERATE` off the data's
        clock; otherwise the config's.
    Returns a `FitResult`; warns (and records) when parameters are not identifiable.
    """
    import optax

    if start not in START_RULES:
        raise FitError(f"start = {start!r}: allowed: {', '.join(START_RULES)}")
    problem = Problem(
        traces,
        configs,
        params,
        bounds,
        priors,
        init,
        n_dense,
        per_trace,
        preset_priors,
        projection,
    )
    start_info: dict = {"rule": "config"}
    limit = MATCH_ABOVE if max_steps is None else min(MATCH_ABOVE, max_steps)
    given = set(init or {})
    from_config = any(
        s.kind in TRANSPORT and s.name not in given and s.kind not in given for s in problem.specs
    )
    too_long = max(problem.estimate_steps()) > limit
    if start == "match" or (start == "auto" and (too_long or from_config)):

        def rebuild(vals, old):
            rest = (params, bounds, priors, {**(init or {}), **vals}, n_dense, per_trace)
            cfgs = _recentred(vals, old, energies=False)
            return Problem(traces, cfgs, *rest, preset_priors, projection)

        # auto: a start within AUTO_TOLERATE of the data's clock stays (the config's values)
        tolerate = AUTO_TOLERATE if start == "auto" and not too_long else 1.0
        problem, start_info = _matched_start(problem, rebuild, tolerate)
    problem.check_budget(problem.estimate_steps(), max_steps, "estimated")
    start_vals = {s.name: s.init for s in problem.specs}
    z0 = problem.to_unbounded(start_vals)
    history: list[float] = []
    n_eval = 0
    rng = np.random.default_rng(seed)
    zs = [z0]
    for _ in range(starts - 1):
        v = {}
        for s in problem.specs:
            if s.log:
                v[s.name] = float(np.clip(s.init * 3.0 ** rng.uniform(-1, 1), s.lo, s.hi))
            else:
                v[s.name] = float(
                    np.clip(s.init + rng.uniform(-0.2, 0.2) * (s.hi - s.lo), s.lo, s.hi)
                )
        zs.append(problem.to_unbounded(v))
    Z = jnp.asarray(np.stack(zs))

    def loss_z(z):
        return problem.loss(problem.natural(z))

    if adam_steps > 0:
        opt = optax.adam(adam_lr)
        state = jax.vmap(opt.init)(Z)
        vg = jax.jit(jax.vmap(jax.value_and_grad(loss_z)))

        @jax.jit
        def update(Z, state, g):
            upd, state = jax.vmap(opt.update)(g, state)
            return optax.apply_updates(Z, upd), state

        for it in range(adam_steps):
            L, g = vg(Z)
            n_eval += len(zs)
            history.append(float(jnp.min(L)))
            if progress:
                progress(it, history[-1])
            Z, state = update(Z, state, g)
        L = jax.jit(jax.vmap(loss_z))(Z)
        z_best = Z[int(jnp.argmin(L))]
    else:
        z_best = Z[0]

    # Adaptive configs: steps frozen where each round starts (Problem.freeze_steps).
    planned = _frozen(problem, problem.natural(z_best), max_steps)
    z_best, n = _levenberg_marquardt(problem, z_best, lm_steps, history, progress)
    n_eval += n
    stale = lm_steps > 0  # the steps were frozen where z_best was before it moved
    for _ in range(recentre if lm_steps > 0 else 0):
        vals = {
            k: float(v) for k, v in problem.values(problem.natural(jnp.asarray(z_best))).items()
        }
        moved = [
            s
            for s in problem.specs
            if s.log
            and FITTABLE[s.kind][1] is not None  # only values the configs carry re-centre
            and abs(math.log(vals[s.name] / problem.sims[s.trace or 0].base[s.kind]))
            > math.log(1.5)
        ]
        if moved:
            bounds_now = {s.name: _widen(s, vals[s.name]) for s in problem.specs if s.log}
            bounds_now.update({s.name: (s.lo, s.hi) for s in problem.specs if not s.log})
            rest = (params, bounds_now, priors, vals, n_dense, per_trace, preset_priors, projection)
            try:
                problem = Problem(traces, _recentred(vals, problem), *rest)
            except ConfigError:  # an energy ratio the config cannot hold: keep the base ones
                problem = Problem(traces, _recentred(vals, problem, energies=False), *rest)
            problem.check_budget(problem.estimate_steps(), max_steps, "estimated")
            z_best = jnp.asarray(problem.to_unbounded(vals))
            planned = _frozen(problem, None, max_steps)
        else:
            # The steps frozen at the round's start may be too coarse at its answer (faster
            # kinetics need more of them): re-freeze there, and fit again if they grew by more
            # than PLAN_GROWTH.
            now = _frozen(problem, problem.natural(z_best), max_steps)
            stale = False
            if all(b <= PLAN_GROWTH * a for a, b in zip(planned, now, strict=True)):
                break
            planned = now
        z_best, n = _levenberg_marquardt(problem, z_best, lm_steps, history, progress)
        n_eval += n
        stale = True
    q = problem.natural(jnp.asarray(z_best))
    if stale:  # report (loss, errors, curves) with steps frozen at the answer
        problem.freeze_steps(q)
    r, J = residuals_and_jacobian(problem, q)
    final = float(0.5 * np.sum(r**2))
    history.append(final)
    if progress:
        progress(len(history), final)
    cov, corr, notes = uncertainty(problem, np.asarray(q), jacobian=J)
    n_data = sum(s.trace.time_s.size for s in problem.sims)
    dof = max(n_data - len(problem.specs), 1)
    notes += goodness_of_fit(2 * final, dof)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    vals = problem.values(q)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    values, stderr = {}, {}
    for i, s in enumerate(problem.specs):
        v = float(vals[s.name])
        values[s.name] = v
        stderr[s.name] = float(v * sd[i]) if s.log else float(sd[i])
    curves = []
    for k, sim in enumerate(problem.sims):
        t = np.linspace(sim.trace.time_s[0], sim.trace.time_s[-1], 200)
        if sim.trace.misorientation_deg is None:
            curves.append({"time_s": t, "neck_nm": np.asarray(problem.predict(k, q, t))})
        else:
            neck, mis = problem.predict(k, q, t, misorientation=True)
            curves.append(
                {"time_s": t, "neck_nm": np.asarray(neck), "misorientation_deg": np.asarray(mis)}
            )
    return FitResult(
        names=[s.name for s in problem.specs],
        units=[FITTABLE[s.kind][0] for s in problem.specs],
        values=values,
        stderr=stderr,
        correlation=corr,
        loss=final,
        chi2_reduced=2 * final / dof,
        n_data=n_data,
        n_evaluations=n_eval,
        loss_history=history,
        curves=curves,
        warnings=notes,
        priors={
            sp.name: (*sp.prior, "preset" if sp.name in problem.preset_prior_names else "given")
            for sp in problem.specs
            if sp.prior is not None
        },
        problem=problem,
        q=np.asarray(q),
        covariance=cov,
        start=start_info,
    )

r"""Posterior sampling of a fit: NUTS (blackjax), preconditioned with the Laplace covariance.

The fit reports a Gauss-Newton (Laplace) covariance: the posterior approximated by a Gaussian
at the answer. Where the model is nonlinear over the interval (a diffusivity the data bound
only from one side, a banana-shaped valley between two parameters) that Gaussian can be far
off. Here the posterior itself is sampled, in the fit's natural coordinates
:math:`q` (:math:`\log p` for positive parameters, :math:`p` for time offsets):

.. math::
    \log\pi(q) = -\tfrac12\sum_i r_i(q)^2 \quad (\log lo_i \le q_i \le \log hi_i),
    \qquad \log\pi(q) = -\infty \text{ outside},

with :math:`r` the weighted residuals of `Problem.residuals` (the data over their sigmas and
the priors the loss holds: log-normal for positive parameters, normal for linear ones). So the
prior is the fit's priors times a flat density in :math:`q` inside the bounds (log-uniform in
:math:`p` for positive parameters).

The sampler is the No-U-Turn sampler with the inverse mass matrix set to the Laplace covariance
:math:`C`: in the coordinates :math:`C^{-1/2}(q-\hat q)` a posterior near the Laplace one is
near standard normal, so one step size fits every direction and only it is adapted (dual
averaging to an acceptance of `TARGET_ACCEPT` during the warmup). Chains start from
:math:`\hat q + \mathcal N(0, C)` and run in parallel (``jax.vmap``); the sampling loop is a
``jax.lax.scan`` compiled once and run in blocks of `BLOCK` iterations so that a progress bar
can advance between them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from sintersim.fit._optimise import FitResult
from sintersim.fit._problem import FITTABLE, Problem
from sintersim.fit._traces import FitError

# Dual averaging drives the mean acceptance probability of the chains towards this (Stan's
# default): higher costs more leapfrog steps per draw, lower more divergences.
TARGET_ACCEPT = 0.8
# Most trajectory doublings per draw (2^6 = 64 leapfrog steps, each one forward-mode Jacobian
# of the simulation). Under vmap the longest chain sets the cost of every chain; with the
# Laplace metric a near-Gaussian posterior needs 1-3 doublings, so 6 only caps pathological
# draws.
MAX_DOUBLINGS = 6
# Iterations per compiled call: the progress callback runs between blocks.
BLOCK = 25
# R-hat (over split chains) above this: the chains disagree.
RHAT_LIMIT = 1.01
# Effective sample size below this: the intervals are rough (the standard error of a 16th
# percentile is then 0.15 posterior standard deviations).
ESS_LIMIT = 100
# A posterior 68 % interval whose ends differ from the Laplace interval's by more than this
# fraction of the Laplace width: the Gauss-Newton interval misrepresents the posterior.
LAPLACE_LIMIT = 0.3
# A 95 % interval that ends nearer a bound than this fraction of its own width (natural
# coordinates): the bound, not the data, limits the posterior (a half-normal piled against its
# bound ends 0.014 of its width from it).
BOUND_LIMIT = 0.05
# Fewest draws per chain: R-hat compares the two halves of every chain.
MIN_DRAWS = 4


def check_options(draws: int, warmup: int, chains: int) -> None:
    """Refuse (`FitError`) sampling options out of range, and a missing blackjax, before the
    fit runs (the CLI calls this first: a fit is not to be thrown away for a typo)."""
    if draws < MIN_DRAWS:
        raise FitError(
            f"--posterior {draws}: needs at least {MIN_DRAWS} draws per chain (R-hat compares "
            f"the halves of each chain); allowed: 0 (off) or >= {MIN_DRAWS}"
        )
    if warmup < 0:
        raise FitError(f"warmup = {warmup}: allowed: >= 0 iterations")
    if chains < 1:
        raise FitError(f"--chains {chains}: allowed: >= 1")
    try:
        import blackjax  # noqa: F401
    except ImportError as e:
        raise FitError(
            "--posterior needs the blackjax package (pip install 'blackjax>=1.2')"
        ) from e


# ----------------------------------------------------------------------------------------------
# The log density and its gradient
# ----------------------------------------------------------------------------------------------
def natural_bounds(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """The bounds in natural coordinates: (log lo, log hi) for positive parameters, (lo, hi)
    for offsets."""
    lo = np.array([math.log(s.lo) if s.log else s.lo for s in problem.specs])
    hi = np.array([math.log(s.hi) if s.log else s.hi for s in problem.specs])
    return lo, hi


def log_density(problem: Problem) -> Callable[[Float[Array, " n"]], Float[Array, ""]]:
    r"""The log posterior density :math:`\log\pi(q) = -\tfrac12\sum_i r_i(q)^2` inside the
    bounds, :math:`-\infty` outside (or where the simulation fails), differentiable in reverse
    mode.

    `Problem.residuals` runs ``jax.lax.while_loop`` s that only forward mode differentiates,
    while samplers call ``jax.value_and_grad``. So the function is a ``jax.custom_vjp``: its
    forward pass computes :math:`r` and :math:`J = \partial r/\partial q` in one ``jax.jacfwd``
    pass (n + 1 directions; cheaper than reverse mode for the 1-4 parameters of a fit) and
    stores :math:`\nabla\log\pi = -J^T r`; the backward pass scales it by the cotangent.
    Outside the bounds the simulation runs at the clipped point (its value is discarded) so
    that no evaluation meets parameters the model cannot integrate; the gradient there is 0.
    """
    lo, hi = (jnp.asarray(b) for b in natural_bounds(problem))

    def inside(q):
        return jnp.all((q >= lo) & (q <= hi))

    def twice(q):
        r = problem.residuals(q)
        return r, r

    jac = jax.jacfwd(twice, has_aux=True)

    def value_and_grad(q):
        J, r = jac(jnp.clip(q, lo, hi))
        v = -0.5 * jnp.sum(r**2)
        ok = inside(q) & jnp.isfinite(v)
        g = -(J.T @ r)
        return jnp.where(ok, v, -jnp.inf), jnp.where(ok & jnp.isfinite(g), g, 0.0)

    @jax.custom_vjp
    def logp(q):
        v = -0.5 * jnp.sum(problem.residuals(jnp.clip(q, lo, hi)) ** 2)
        return jnp.where(inside(q) & jnp.isfinite(v), v, -jnp.inf)

    def fwd(q):
        return value_and_grad(q)

    def bwd(grad, cotangent):
        return (cotangent * grad,)

    logp.defvjp(fwd, bwd)
    return logp


def _metric(cov: np.ndarray) -> np.ndarray:
    """The Laplace covariance made a usable inverse mass matrix: symmetric positive definite.

    The fit's covariance is a pseudo-inverse of J^T J: along a direction the data do not
    constrain its eigenvalue is 0 where the posterior is widest; such eigenvalues become the
    largest one (the step-size adaptation copes with the rest), and tiny ones are floored at
    1e-12 of the largest so that the Cholesky factor exists."""
    c = 0.5 * (cov + cov.T)
    w, V = np.linalg.eigh(c)
    top = w.max() if np.isfinite(w).all() and w.max() > 0 else 1.0
    w = np.where(np.isfinite(w) & (w > 1e-14 * top), w, top)
    w = np.maximum(w, 1e-12 * top)
    return (V * w) @ V.T


# ----------------------------------------------------------------------------------------------
# The result
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Posterior:
    """Posterior draws of a fit and their summaries (physical units unless named ``_q``).

    samples_q: draws after the warmup, (chains, draws, n), natural coordinates q.
    median, ci68, ci95: per parameter, physical values; the intervals are the central 68 %
        (16th-84th percentile) and 95 % (2.5th-97.5th) credible intervals, shape (n, 2).
    rhat: potential scale reduction over the split chains (1 when they agree).
    ess: effective sample size over the split chains.
    laplace68: the fit's Gauss-Newton interval, value * exp(+-sd) (positive parameters) or
        value +- sd (offsets), shape (n, 2), for comparison.
    divergences: divergent transitions after the warmup.
    acceptance: mean acceptance probability after the warmup; step_size: the adapted one.
    gradient_evaluations: leapfrog steps of all chains, warmup included (each one forward-mode
        Jacobian of the simulation).
    """

    names: list[str]
    units: list[str]
    log: list[bool]
    samples_q: Float[np.ndarray, "chains draws n"]
    median: Float[np.ndarray, " n"]
    ci68: Float[np.ndarray, "n 2"]
    ci95: Float[np.ndarray, "n 2"]
    rhat: Float[np.ndarray, " n"]
    ess: Float[np.ndarray, " n"]
    laplace68: Float[np.ndarray, "n 2"]
    q_fit: Float[np.ndarray, " n"]
    covariance: Float[np.ndarray, "n n"]
    divergences: int
    acceptance: float
    step_size: float
    warmup: int
    gradient_evaluations: int
    wall_s: float
    warnings: list[str]

    @property
    def chains(self) -> int:
        return int(self.samples_q.shape[0])

    @property
    def draws(self) -> int:
        return int(self.samples_q.shape[1])

    @property
    def samples(self) -> np.ndarray:
        """Draws in physical units, (chains, draws, n)."""
        return np.where(np.asarray(self.log), np.exp(self.samples_q), self.samples_q)

    def to_json(self) -> dict:
        """The summaries for fit.json (key "posterior"); the draws themselves are not written."""
        return {
            "sampler": "NUTS (blackjax), Laplace covariance as inverse mass matrix",
            "chains": self.chains,
            "draws": self.draws,
            "warmup": self.warmup,
            "step_size": self.step_size,
            "acceptance": self.acceptance,
            "divergences": self.divergences,
            "gradient_evaluations": self.gradient_evaluations,
            "wall_s": self.wall_s,
            "parameters": {
                n: {
                    "unit": self.units[i],
                    "median": float(self.median[i]),
                    "ci68": [float(v) for v in self.ci68[i]],
                    "ci95": [float(v) for v in self.ci95[i]],
                    "laplace68": [float(v) for v in self.laplace68[i]],
                    "rhat": _number(self.rhat[i]),
                    "ess": _number(self.ess[i]),
                }
                for i, n in enumerate(self.names)
            },
            "warnings": self.warnings,
        }


def _number(v) -> float | None:
    """A float for JSON; None for NaN (R-hat and ESS of chains that never moved)."""
    return float(v) if np.isfinite(v) else None


# ----------------------------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------------------------
def sample_posterior(
    result: FitResult,
    *,
    draws: int = 300,
    warmup: int = 150,
    chains: int = 4,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    max_doublings: int = MAX_DOUBLINGS,
) -> Posterior:
    r"""Sample the posterior :math:`\pi(q)` of a fit (`log_density`) with NUTS.

    result: what `fit` returned; its ``problem`` (steps frozen at the answer), ``q`` (the
        answer :math:`\hat q`) and ``covariance`` (:math:`C`) define the density, the metric
        and the starts.
    draws: draws per chain kept after ``warmup`` iterations of step-size adaptation.
    chains: independent chains, run in parallel (vmap), started from
        :math:`\hat q + \mathcal N(0, C)` (clipped inside the bounds).
    seed: of the starts and of the sampler.
    progress: called as ``progress(done, total)`` before the first and after every block of
        iterations (warmup included: ``total = warmup + draws``).
    max_doublings: most trajectory doublings per iteration (tree depth).
    Returns a `Posterior`; its ``warnings`` name what makes its numbers doubtful.

    Cost: each leapfrog step is one forward-mode Jacobian of every trace's simulation, for all
    chains at once; an iteration takes 2-4 of them once the step size is adapted (measured:
    docs/user-guide.md#fitting-to-a-measured-trace).
    """
    check_options(draws, warmup, chains)
    if not 1 <= max_doublings <= 12:
        raise FitError(f"max_doublings = {max_doublings}: allowed: 1 to 12")
    if result.problem is None or result.q is None or result.covariance is None:
        raise FitError(
            "sample_posterior needs the FitResult of `fit` (its problem, q and covariance); "
            "this one has none"
        )
    t_start = time.perf_counter()
    problem = result.problem
    q_hat = np.asarray(result.q, dtype=np.float64)
    cov = np.asarray(result.covariance, dtype=np.float64)
    lo, hi = natural_bounds(problem)
    mass = _metric(cov)
    # Starts: q_hat + N(0, C), strictly inside the bounds.
    rng = np.random.default_rng(seed)
    q0 = q_hat + rng.standard_normal((chains, q_hat.size)) @ np.linalg.cholesky(mass).T
    pad = 1e-6 * (hi - lo)
    q0 = np.clip(q0, lo + pad, hi - pad)
    run = _nuts(
        log_density(problem),
        q0,
        np.clip(q_hat, lo + pad, hi - pad),
        mass,
        draws=draws,
        warmup=warmup,
        seed=seed,
        progress=progress,
        max_doublings=max_doublings,
    )
    return _summarise(problem, q_hat, cov, run, warmup, time.perf_counter() - t_start)


@dataclasses.dataclass
class _Run:
    """Raw output of `_nuts`: draws after the warmup (chains, draws, n) and, per iteration
    (warmup included) and chain, divergence, acceptance probability and leapfrog steps."""

    samples_q: np.ndarray
    divergent: np.ndarray
    acceptance: np.ndarray
    steps: np.ndarray
    step_size: float


def _nuts(logp, q0, q_safe, mass, *, draws, warmup, seed, progress, max_doublings):
    """NUTS chains from the rows of ``q0`` (vmapped) with inverse mass matrix ``mass``; the
    step size is shared by the chains and adapted (dual averaging on their mean acceptance)
    during the first ``warmup`` iterations, then fixed at its running average. A start where
    the density is not finite (the simulation failed there) moves to ``q_safe``."""
    from blackjax.adaptation.step_size import dual_averaging_adaptation
    from blackjax.mcmc import nuts

    q0 = np.array(q0, dtype=np.float64)
    chains, n = q0.shape
    init = jax.jit(jax.vmap(lambda q: nuts.init(q, logp)))
    states = init(jnp.asarray(q0))
    bad = ~np.isfinite(np.asarray(states.logdensity))
    if bad.any():
        q0[bad] = q_safe
        states = init(jnp.asarray(q0))
        if not np.isfinite(np.asarray(states.logdensity)).all():
            raise FitError(
                "the posterior density is not finite at the fitted values (the simulation "
                "fails there): nothing to sample"
            )
    kernel = nuts.build_kernel()
    da_init, da_update, _ = dual_averaging_adaptation(TARGET_ACCEPT)
    # With the Laplace metric the posterior looks near standard normal, for which a step
    # about 1 suits (measured on a 2D standard normal: 1.15 after adaptation); dual averaging
    # tunes it from there (shrinking towards 10x the start, as Stan does).
    eps0 = 1.0 / n**0.25
    da = jax.tree.map(jnp.asarray, da_init(eps0))
    da = da._replace(log_step_size_avg=jnp.asarray(math.log(eps0)))  # warmup = 0: keep eps0
    total = warmup + draws
    block = min(BLOCK, total)
    key = jax.random.key(seed)
    M = jnp.asarray(mass)

    def iteration(carry, i):
        def step(carry):
            states, da = carry
            adapt = i < warmup
            eps = jnp.exp(jnp.where(adapt, da.log_step_size, da.log_step_size_avg))
            keys = jax.random.split(jax.random.fold_in(key, i), chains)
            new, info = jax.vmap(lambda k, s: kernel(k, s, logp, eps, M, max_doublings))(
                keys, states
            )
            updated = da_update(da, jnp.mean(info.acceptance_rate))
            da = jax.tree.map(lambda a, b: jnp.where(adapt, a, b), updated, da)
            acc = info.acceptance_rate.astype(new.position.dtype)
            steps = info.num_integration_steps.astype(jnp.int32)
            return (new, da), (new.position, info.is_divergent, acc, steps)

        def skip(carry):  # padding after the last iteration of the last block: no work
            pos, no = carry[0].position, jnp.zeros(chains, bool)
            return carry, (pos, no, jnp.zeros(chains, pos.dtype), jnp.zeros(chains, jnp.int32))

        return jax.lax.cond(i < total, step, skip, carry)

    @jax.jit  # one compilation: the block's first iteration is an argument
    def run_block(states, da, start):
        return jax.lax.scan(iteration, (states, da), start + jnp.arange(block))

    outs = []
    if progress:
        progress(0, total)
    for b in range(-(-total // block)):
        (states, da), out = run_block(states, da, b * block)
        outs.append(jax.tree.map(np.asarray, out))
        if progress:
            progress(min((b + 1) * block, total), total)
    pos, div, acc, steps = (np.concatenate(x)[:total] for x in zip(*outs, strict=True))
    return _Run(
        samples_q=np.transpose(pos[warmup:], (1, 0, 2)),
        divergent=div,
        acceptance=acc,
        steps=steps,
        step_size=float(np.exp(da.log_step_size_avg)),
    )


def _summarise(problem: Problem, q_hat, cov, run: _Run, warmup: int, wall_s: float) -> Posterior:
    """Percentiles, diagnostics (over split chains), the Laplace interval and the warnings."""
    from blackjax.diagnostics import effective_sample_size, potential_scale_reduction

    x = run.samples_q
    chains, draws, n = x.shape
    # Each chain's halves count as two chains: a chain still drifting disagrees with itself
    # (and a single chain has an R-hat).
    half = draws // 2
    split = jnp.asarray(np.concatenate([x[:, :half], x[:, half : 2 * half]]))
    rhat = np.atleast_1d(np.asarray(jax.jit(potential_scale_reduction)(split)))
    ess = np.atleast_1d(np.asarray(jax.jit(effective_sample_size)(split)))
    logs = np.array([s.log for s in problem.specs])

    def physical(v):  # natural coordinates (..., n) -> physical values
        return np.where(logs, np.exp(v), v)

    pct = np.percentile(x.reshape(-1, n), [50, 16, 84, 2.5, 97.5], axis=0)  # (5, n)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    laplace_q = np.stack([q_hat - sd, q_hat + sd])  # (2, n)
    names = [s.name for s in problem.specs]
    units = [FITTABLE[s.kind][0] for s in problem.specs]
    div = int(run.divergent[warmup:].sum())
    notes = _warnings(
        names,
        units,
        [bool(v) for v in logs],
        rhat,
        ess,
        div,
        chains * draws,
        physical(pct[1:3]).T,
        physical(pct[3:5]).T,
        physical(laplace_q).T,
        [(s.lo, s.hi) for s in problem.specs],
    )
    return Posterior(
        names=names,
        units=units,
        log=[bool(v) for v in logs],
        samples_q=x,
        median=physical(pct[0]),
        ci68=physical(pct[1:3]).T,
        ci95=physical(pct[3:5]).T,
        rhat=rhat,
        ess=ess,
        laplace68=physical(laplace_q).T,
        q_fit=np.asarray(q_hat),
        covariance=np.asarray(cov),
        divergences=div,
        acceptance=float(run.acceptance[warmup:].mean()),
        step_size=run.step_size,
        warmup=warmup,
        gradient_evaluations=int(run.steps.sum()),
        wall_s=wall_s,
        warnings=notes,
    )


def _warnings(names, units, logs, rhat, ess, divergences, n_draws, ci68, ci95, laplace, bounds):
    """What makes the posterior's numbers doubtful, one sentence each (intervals (n, 2) and
    bounds in physical units; interval ends compared in natural coordinates)."""

    def nat(v, i):
        return np.log(v) if logs[i] else np.asarray(v)

    def show(v, i):
        return f"{v:.3g} {units[i]}" if logs[i] else f"{v:+.3g} {units[i]}"

    notes = []
    for i, name in enumerate(names):
        if not rhat[i] <= RHAT_LIMIT:  # NaN too: chains that never moved
            notes.append(
                f"chains disagree: R-hat of {name} = {rhat[i]:.3g} > {RHAT_LIMIT} (over split "
                "chains): run longer (--posterior N)"
            )
        if not ess[i] >= ESS_LIMIT:
            notes.append(
                f"few independent draws: effective sample size of {name} = {ess[i]:.0f} < "
                f"{ESS_LIMIT}: the intervals are rough - run longer (--posterior N) or more "
                "chains (--chains K)"
            )
    if divergences:
        notes.append(
            f"{divergences} divergent transitions in {n_draws} draws: the sampler met curvature "
            "(or a bound) it could not follow, so part of the posterior may be missing from the "
            "draws - see the corner plot"
        )
    for i, name in enumerate(names):
        lo, hi = nat(bounds[i], i)
        a, b = nat(ci95[i], i)
        near = BOUND_LIMIT * (b - a)
        if a - lo < near or hi - b < near:
            bound = bounds[i][0] if a - lo < near else bounds[i][1]
            notes.append(
                f"{name}: the posterior reaches its bound {show(bound, i)} (95 % interval "
                f"[{show(ci95[i][0], i)}, {show(ci95[i][1], i)}]): the bound, not the data, "
                "limits it - widen it (--bounds) or give a prior (--prior)"
            )
        post, lap = nat(ci68[i], i), nat(laplace[i], i)
        width = lap[1] - lap[0]
        off = float(np.max(np.abs(post - lap)))
        if not off <= LAPLACE_LIMIT * width:
            rel = f"{off / width:.0%} of its width" if width > 0 else "all of its zero width"
            notes.append(
                f"{name}: the posterior 68 % interval [{show(ci68[i][0], i)}, "
                f"{show(ci68[i][1], i)}] differs from the Gauss-Newton one "
                f"[{show(laplace[i][0], i)}, {show(laplace[i][1], i)}] by {rel}: the "
                "Gauss-Newton interval is not to be trusted: see the corner plot (posterior.png)"
            )
    return notes

r"""A start on the data's time scale: one cheap probe run instead of 10^8 steps per evaluation.

Every transport coefficient multiplied by c runs the same trajectory c times faster: the neck
:math:`x(t; c D) = x(c t; D)`. So one error-controlled run at the starting values, in its own
internal time, tells when the model reaches each measured neck size, :math:`\tau(x_j)`; the
data reach it at :math:`t_j`, and

.. math::
    \log c = \operatorname{median}_j \big(\log \tau(x_j) - \log t_j\big)

over the measurements the probe's neck passes through (the median: robust to noise and to a
time offset that moves the first points). Exact when the fitted transport parameters are the
only ones (all scale together); otherwise a first estimate that a second probe refines. The
probe's cost does not depend on how far the start is off: it runs in the model's own time
(from 0 to at most 10^7 units in compiled stretches of a decade, stopping once past the
data's largest neck or once the neck has settled; steps of at most `PROBE_DT_MAX`).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from sintersim.fit._problem import Problem
from sintersim.scenario._assemble import DEFAULT_TOLERANCE_WIDTHS
from sintersim.solver._adaptive import StepController, atol_for
from sintersim.solver._integrate import SaveAt, integrate

# Parameters that set how fast things happen: scaling them all by c scales time by 1/c.
TRANSPORT = (
    "surface_diffusivity",
    "gb_diffusivity",
    "volume_diffusivity",
    "vapour_diffusivity",
    "gb_mobility",
    "translational_mobility",
)
# The probe's longest step (internal units): the schema's stability bound for the plain model.
PROBE_DT_MAX = 100.0
# The probe's stretches of internal time: ends of each (saves log-spaced inside).
PROBE_ENDS = (1e3, 1e4, 1e5, 1e6, 1e7)
# The probe stops once its neck grew less than this (relative) over a stretch: the neck has
# settled, and noise may put the data's largest value above the model's plateau.
SETTLED = 2e-3
# Matching stops once the correction is below this factor.
MATCHED = 1.2


def probe(problem: Problem, k: int, q) -> tuple[np.ndarray, np.ndarray] | None:
    """Internal times and neck sizes (nm) of trace k's model at natural coordinates ``q``,
    from an error-controlled run until the neck passes the trace's largest measured value (or
    10^7 time units). None when the model draws random numbers (thermal noise: no controller)."""
    sim, su = problem.sims[k], problem.sims[k].setup
    model = problem.model(k, problem.values(q))
    if not model.deterministic:
        return None
    width = su.config.model.interface_width_nm
    tol = su.config.time.tolerance_nm or DEFAULT_TOLERANCE_WIDTHS * width
    controller = StepController(atol=atol_for(tol, width), dt_max=PROBE_DT_MAX)

    def neck(t, state):
        return problem.neck_nm(k, state)

    target = float(np.max(sim.trace.neck_nm))
    state, t0 = su.state0, 0.0
    ts_all, xs_all = [0.0], [float(neck(0.0, su.state0))]
    for end in PROBE_ENDS:
        ts = np.geomspace(max(t0, end * 1e-3), end, 25)[1 if t0 else 0 :]
        sol = integrate(
            model,
            su.grid,
            state,
            t0=t0,
            dt=min(su.dt, PROBE_DT_MAX),
            saveat=SaveAt(ts=ts, fn=neck),
            stepper=su.stepper,
            differentiable=False,
            controller=controller,
        )
        ok = np.asarray(sol.ok)
        ys = np.asarray(sol.ys)
        n_ok = int(np.argmin(ok)) if not ok.all() else ok.size
        ts_all += list(ts[:n_ok])
        xs_all += list(ys[:n_ok])
        if n_ok < ok.size or np.max(ys[:n_ok], initial=0.0) >= target:
            break
        if ys[-1] - ys[0] < SETTLED * abs(ys[-1]):
            break
        state, t0 = sol.final, float(ts[-1])
    return np.asarray(ts_all), np.asarray(xs_all)


def time_scale_factor(problem: Problem, q=None) -> tuple[float | None, str]:
    """The factor c every fitted transport parameter should be multiplied by so that the model
    at natural coordinates ``q`` (default: the start) runs on the data's clock (module
    docstring), from all traces together; (None, why) when it cannot be found."""
    q = problem.start_point() if q is None else jnp.asarray(q)
    if not any(s.kind in TRANSPORT for s in problem.specs):
        return None, "no transport parameter (diffusivity or mobility) is fitted"
    logs = []
    for k, sim in enumerate(problem.sims):
        run = probe(problem, k, q)
        if run is None:
            return None, f"{sim.trace.name}: thermal noise on (the probe needs a controller)"
        tau, x = run
        x = np.maximum.accumulate(x)  # the neck grows: measurement noise aside
        grows = np.concatenate([[True], np.diff(x) > 0])
        tau, x = tau[grows], x[grows]
        offset = next(
            (s.init for s in problem.specs if s.kind == "time_offset" and s.trace == k), 0.0
        )
        t_int = (sim.trace.time_s + offset) / sim.setup.nd.scales.time_s
        seen = (sim.trace.neck_nm > x[0]) & (sim.trace.neck_nm < x[-1]) & (t_int > 0)
        if not seen.any():
            continue
        tau_j = np.exp(np.interp(sim.trace.neck_nm[seen], x[1:], np.log(tau[1:])))
        logs.extend(np.log(tau_j) - np.log(t_int[seen]))
    if not logs:
        return None, (
            "no measured neck lies between the model's initial neck and the largest it reached "
            f"in {PROBE_ENDS[-1]:.0e} time units"
        )
    return float(math.exp(np.median(logs))), "matched"

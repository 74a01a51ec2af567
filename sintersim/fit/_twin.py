"""Synthetic traces made by the solver, for twin experiments of the fit."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sintersim.fit._problem import Problem
from sintersim.fit._traces import Trace


def synthetic_trace(
    config,
    values: Mapping[str, float],
    times_s,
    noise: float = 0.02,
    seed: int = 1,
    name: str = "twin",
) -> Trace:
    """A trace made by the solver (for twin experiments): the neck at physical ``times_s`` with
    the parameters ``values`` (names as `FitResult.values`, e.g. ``time_offset[twin]``), plus
    Gaussian noise of relative size ``noise``; sigma_nm = noise * neck. A time offset tau shifts
    the returned times to ``times_s - tau``."""
    times_s = np.asarray(times_s, float)
    tau = values.get(f"time_offset[{name}]", 0.0)
    names = [n for n in values if not n.startswith("time_offset")]
    if tau:
        names.append("time_offset")
    n = times_s.size
    dummy = Trace(times_s - tau, np.ones(n), np.ones(n), name=name)
    prob = Problem([dummy], config, names, init=values)
    q = prob.start_point()  # the values themselves
    rng = np.random.default_rng(seed)
    if prob.sims[0].setup.model.energy.boundaries is not None:
        x, m = (np.asarray(v) for v in prob.predict(0, q, misorientation=True))
        sig, sig_m = noise * x, np.full(n, 0.5)
        return Trace(
            times_s - tau,
            x + sig * rng.standard_normal(n),
            sig,
            name,
            m + sig_m * rng.standard_normal(n),
            sig_m,
        )
    x = np.asarray(prob.predict(0, q))
    sig = noise * x
    return Trace(times_s - tau, x + sig * rng.standard_normal(n), sig, name=name)

"""Fit time and accuracy: fixed against frozen error-controlled steps on a multi-decade trace.

    python scripts/bench_fit.py [--modes fixed,adaptive] [--json FILE]

The case the calibration and time-stepping issues measured (1,186 s before either): a CdSe pair
(R = 3.1 nm, 64 x 40 cells of 0.25 nm, float64, 150 C) makes a neck trace of 30 log-spaced
points over 2.6 decades (0.05 ... 20 s) with 2 % noise, at values the presets do not hold
(D_s = 0.6 x preset, gamma_gb = 0.09 J/m^2); `sintersim.fit` recovers surface_diffusivity and
gb_energy starting from the preset values.

Modes (the same trace, made once with error-controlled steps at a tolerance 10x tighter than
the default, so neither mode fits its own discretisation):
- fixed: fixed first-order steps of the default dt_internal = 0.1 (~15,700 per evaluation);
- adaptive: ``[time] adaptive = true``: the steps of an error-controlled run at the default
  tolerance, frozen per fit round (`sintersim.fit.Problem.freeze_steps`).

Prints, per mode: steps per evaluation (at the start), Levenberg-Marquardt iterations, model
evaluations, wall time (with compilation: what a user waits for), fitted values, their errors
against the truth in standard errors, reduced chi^2 and warnings.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

import sintersim.fit as F
from sintersim.scenario import loads_config

CASE = """
[material]
preset = "CdSe"
temperature_K = 423.15
[model]
interface_width_nm = 1.0
[grid]
shape = [64, 40]
spacing_nm = 0.25
dtype = "float64"
[particles]
radius_nm = 3.1
gap_nm = -0.25
[time]
end_s = 20.0
"""
PARAMS = ["surface_diffusivity", "gb_energy"]
MODES = {
    "fixed": "adaptive = false\ndt_internal = 0.1",
    "adaptive": "adaptive = true",
    # the reference that makes the trace: 10x tighter than the default tolerance (3e-4 widths)
    "truth": "adaptive = true\ntolerance_nm = 3e-5",
}


def config(mode: str):
    return loads_config(CASE.replace("[time]\n", f"[time]\n{MODES[mode]}\n", 1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--modes", default="fixed,adaptive")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    phys = config("fixed").physical_parameters()
    truth = {"surface_diffusivity": 0.6 * phys.surface_diffusivity, "gb_energy": 0.09}
    times = np.geomspace(20.0 / 10**2.6, 20.0, 30)
    t0 = time.perf_counter()
    trace = F.synthetic_trace(config("truth"), truth, times, noise=0.02, seed=3, name="cdse")
    print(
        f"trace: {time.perf_counter() - t0:.0f} s; neck {trace.neck_nm[0]:.2f} ... "
        f"{trace.neck_nm[-1]:.2f} nm",
        flush=True,
    )
    rows = []
    for mode in a.modes.split(","):
        cfg = config(mode)
        probe = F.Problem([trace], cfg, PARAMS)
        steps = probe.freeze_steps()[0]
        iters = []
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = F.fit(
                [trace], cfg, PARAMS, lm_steps=30, progress=lambda i, L, it=iters: it.append(L)
            )
        wall = time.perf_counter() - t0
        row = {
            "mode": mode,
            "steps_per_evaluation": steps,
            "lm_iterations": len(iters),
            "evaluations": res.n_evaluations,
            "wall_s": wall,
            "values": res.values,
            "stderr": res.stderr,
            "z": {n: (res.values[n] - truth[n]) / res.stderr[n] for n in PARAMS},
            "chi2_reduced": res.chi2_reduced,
            "warnings": [str(w.message) for w in caught],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        "\n| mode | steps / evaluation | LM iterations | evaluations | wall (s) | "
        + " | ".join(f"{n} (truth {truth[n]:.3g})" for n in PARAMS)
        + " | reduced chi2 |"
    )
    print("|---" * (6 + len(PARAMS)) + "|")
    for r in rows:
        vals = " | ".join(
            f"{r['values'][n]:.3g} +- {r['stderr'][n]:.2g} ({r['z'][n]:+.1f} se)" for n in PARAMS
        )
        print(
            f"| {r['mode']} | {r['steps_per_evaluation']} | {r['lm_iterations']} | "
            f"{r['evaluations']} | {r['wall_s']:.0f} | {vals} | {r['chi2_reduced']:.2f} |"
        )
    if a.json:
        Path(a.json).write_text(json.dumps({"truth": truth, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

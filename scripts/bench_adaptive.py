"""Adaptive against fixed time steps on the two-particle Wang problem, over four decades of time.

    python scripts/bench_adaptive.py [--quick] [--json FILE]

The problem of the issue that asked for adaptive steps: two touching particles (radius 0.2 N,
gap -1 cell, width 2 cells) of the demo model (PbSe, 150 C, dimensionless coefficients) on an
N x N grid in float64, integrated to t_end in model units with log-spaced save-points from
t_end / 10^4 (four decades); the neck is measured in cells at every save-point.

1. A converged reference: ROS2 with error control at atol = 1e-5 (--quick: 1e-6); its distance
   from a run at 4 x that atol is printed: the reference's own error.
2. Fixed steps of the first-order scheme (every run took them before) and of ROS2, for a ladder
   of dt; the largest dt whose neck stays within 0.1 cell of the reference at every save-point.
3. Adaptive steps (both schemes, atol = 1e-3, 3e-4, 1e-4, dt_max = 10): steps, rejected
   steps, rate evaluations, wall time, the worst neck error, and the ratios against the largest
   passing fixed step.
4. The cost of a reverse-mode gradient through an adaptive run against the forward run (48^2;
   full: also 128^2), and its agreement with central differences.

Wall times exclude compilation (each program is compiled first, then timed once).
Full: N = 128, t_end = 5000 (about 25 minutes on 2 cores). --quick: N = 64, t_end = 1000
(about 3 minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).parent))

from bench import environment, make_model  # noqa: E402

import sintersim as ss  # noqa: E402
from sintersim.observables import neck_size  # noqa: E402
from sintersim.solver import (  # noqa: E402
    SemiImplicitFourier,
    SemiImplicitRosenbrock,
    StepController,
)

TOL_CELLS = 0.1
SCHEMES = {"euler": SemiImplicitFourier(), "ros2": SemiImplicitRosenbrock()}
# rate evaluations per accepted step: euler fixed 1, euler adaptive 3 (step doubling), ros2 2
EVALS = {("euler", False): 1, ("euler", True): 3, ("ros2", False): 2, ("ros2", True): 2}


def problem(n: int, t_end: float):
    grid = ss.Grid((n, n))
    r = 0.2 * n
    s0 = ss.two_particles(grid, r, gap=-1.0, width=2.0, dtype=jnp.float64)
    x0, x1 = (c[0] for c in ss.initial.two_particle_centres(grid, r, gap=-1.0))
    ts = np.geomspace(t_end * 1e-4, t_end, 41)
    saveat = ss.SaveAt(ts=ts, fn=lambda t, s: neck_size(s, grid, x0, x1))
    return make_model(jnp.float64), grid, s0, saveat


def run(model, grid, s0, saveat, scheme: str, dt: float, controller=None) -> dict:
    """Compile, then time one run: the neck at every save-point and the step counts."""

    def go(state):
        return ss.integrate(
            model,
            grid,
            state,
            t0=0.0,
            dt=dt,
            saveat=saveat,
            stepper=SCHEMES[scheme],
            differentiable=False,
            controller=controller,
            max_steps=10_000_000,
        )

    compiled = jax.jit(go).lower(s0).compile()
    t = time.perf_counter()
    sol = compiled(s0)
    jax.block_until_ready(sol.ys)
    wall = time.perf_counter() - t
    steps = int(np.sum(sol.steps))
    rejected = int(np.sum(sol.rejected)) if sol.rejected is not None else 0
    adaptive = controller is not None
    return {
        "scheme": scheme,
        "adaptive": adaptive,
        "dt": dt,
        "steps": steps,
        "rejected": rejected,
        "evaluations": (steps + rejected) * EVALS[(scheme, adaptive)],
        "wall_s": wall,
        "ok": bool(np.all(sol.ok)),
        "neck": np.asarray(sol.ys),
    }


def grad_cost(n: int = 48, t_end: float = 300.0, scheme: str = "ros2", frozen=False) -> dict:
    """Reverse-mode gradient of the neck at three save-points w.r.t. log M_surf against the
    forward run (compile excluded), and its agreement with central differences of the same map.

    frozen=False: through the adaptive run (checkpointed loop, step-size choices included).
    frozen=True: through the steps an adaptive run chose, frozen (`frozen_counts`, what fits
    differentiate): the forward run is the frozen one; the adaptive run that chose the steps is
    timed too (``pilot_s``)."""
    from bench import demo_parameters

    from sintersim.solver import frozen_counts

    grid = ss.Grid((n, n))
    r = 0.2 * n
    s0 = ss.two_particles(grid, r, gap=-1.0, width=2.0, dtype=jnp.float64)
    x0, x1 = (c[0] for c in ss.initial.two_particle_centres(grid, r, gap=-1.0))
    ts = (t_end * 1e-3, t_end * 1e-1, t_end)
    saveat = ss.SaveAt(ts=ts, fn=lambda t, s: neck_size(s, grid, x0, x1))
    stepper = SCHEMES[scheme]
    controller = StepController(atol=1e-3, dt_max=10.0)

    def solve(log_ms, differentiable, counts=None):
        return ss.integrate(
            make_model(jnp.float64, M_surf=jnp.exp(log_ms)),
            grid,
            s0,
            t0=0.0,
            dt=0.01,
            saveat=saveat,
            stepper=stepper,
            differentiable=differentiable,
            controller=None if counts is not None else controller,
            max_steps=20_000,
            counts=counts,
        )

    x = jnp.asarray(np.log(demo_parameters()["M_surf"]))
    pilot = jax.jit(lambda v: solve(v, False)).lower(x).compile()
    counts = None
    times = {}
    if frozen:
        jax.block_until_ready(pilot(x))
        t = time.perf_counter()
        adaptive = jax.block_until_ready(pilot(x))
        times["pilot"] = time.perf_counter() - t
        counts = frozen_counts(adaptive, stepper)
    fwd = jax.jit(lambda v: jnp.sum(solve(v, False, counts).ys)).lower(x).compile()
    grad = jax.jit(jax.grad(lambda v: jnp.sum(solve(v, True, counts).ys))).lower(x).compile()
    for name, fn in (("forward", fwd), ("gradient", grad)):
        jax.block_until_ready(fn(x))
        t = time.perf_counter()
        val = jax.block_until_ready(fn(x))
        times[name] = time.perf_counter() - t
        if name == "gradient":
            g = float(val)
    fds = {}
    for h in (1e-3, 1e-4, 1e-5):
        fds[h] = (float(fwd(x + h)) - float(fwd(x - h))) / (2 * h)
    rel = {f"{h:g}": abs(g - fd) / abs(fd) for h, fd in fds.items()}
    return {
        "n": n,
        "t_end": t_end,
        "scheme": scheme,
        "frozen": frozen,
        "steps": int(np.sum(counts)) if frozen else int(np.sum(pilot(x).steps)),
        "forward_s": times["forward"],
        "pilot_s": times.get("pilot"),
        "gradient_s": times["gradient"],
        "ratio": times["gradient"] / times["forward"],
        "grad": g,
        "finite_difference": fds[1e-4],
        "relative_difference": rel["0.0001"],  # the step "finite_difference" used
        "relative_difference_by_h": rel,
    }


def gradients(sizes) -> list[dict]:
    """Part 4 for each grid size: the adaptive ROS2 run, and the frozen steps of an adaptive
    first-order run (what fits differentiate); printed and returned."""
    grads = [
        grad_cost(g, scheme=sch, frozen=fr)
        for g in sizes
        for sch, fr in (("ros2", False), ("euler", True))
    ]
    for gc in grads:
        kind = "frozen steps of an adaptive" if gc["frozen"] else "an adaptive"
        print(
            f"gradient through {kind} {gc['scheme']} run ({gc['n']}^2, t = {gc['t_end']:g}, "
            f"{gc['steps']} steps, d sum(neck)/d log M_surf): {gc['gradient_s']:.2f} s vs "
            f"forward {gc['forward_s']:.2f} s = {gc['ratio']:.2f}x; vs central differences "
            f"(h = 1e-3, 1e-4, 1e-5): "
            + ", ".join(f"{v:.1e}" for v in gc["relative_difference_by_h"].values())
            + " relative"
            + (
                f"; the adaptive run that chose the steps: {gc['pilot_s']:.2f} s"
                if gc["frozen"]
                else ""
            )
        )
    return grads


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 64 to t = 1000 (a few minutes)")
    ap.add_argument("--json", default=None, help="write the table to this file")
    ap.add_argument("--gradients", action="store_true", help="only the gradient costs (part 4)")
    a = ap.parse_args(argv)
    sizes = (48,) if a.quick else (48, 128)
    if a.gradients:
        grads = gradients(sizes)
        if a.json:
            Path(a.json).write_text(json.dumps({"gradient": grads}, indent=2))
        return 0
    n, t_end = (64, 1000.0) if a.quick else (128, 5000.0)
    ladder = {
        "euler": [0.2, 0.1, 0.05, 0.025, 0.0125] if a.quick else [0.1, 0.05, 0.025],
        "ros2": [0.2, 0.1, 0.05] if a.quick else [0.1],
    }
    tolerances = (1e-3, 3e-4, 1e-4)
    model, grid, s0, saveat = problem(n, t_end)
    print(f"two particles, {n}^2, float64, t = {t_end * 1e-4:g} .. {t_end:g} (4 decades)")

    ref_atol = 1e-6 if a.quick else 1e-5  # the full case's 1e-6 reference takes > 30 min
    ref = run(model, grid, s0, saveat, "ros2", 1e-3, StepController(atol=ref_atol, dt_max=10.0))
    check = run(
        model, grid, s0, saveat, "ros2", 1e-3, StepController(atol=4 * ref_atol, dt_max=10.0)
    )
    ref_err = float(np.max(np.abs(check["neck"] - ref["neck"])))
    print(
        f"reference: ROS2 atol {ref_atol:g}, {ref['steps']} steps; |atol {4 * ref_atol:g} - "
        "reference| = "
        f"{ref_err:.2g} cells; neck {ref['neck'][0]:.3f} -> {ref['neck'][-1]:.3f} cells"
    )

    rows = []
    for scheme in ("euler", "ros2"):
        for dt in ladder[scheme]:
            rows.append(run(model, grid, s0, saveat, scheme, dt))
    for scheme in ("euler", "ros2"):
        for atol in tolerances:
            ctl = StepController(atol=atol, dt_max=10.0)
            rows.append(run(model, grid, s0, saveat, scheme, 0.01, ctl) | {"atol": atol})
    for r in rows:
        r["max_err_cells"] = float(np.max(np.abs(r["neck"] - ref["neck"])))
        r["meets"] = r["max_err_cells"] <= TOL_CELLS and r["ok"]

    passing = [r for r in rows if not r["adaptive"] and r["scheme"] == "euler" and r["meets"]]
    best = max(passing, key=lambda r: r["dt"]) if passing else None
    print(
        f"\n| stepping | scheme | dt | steps | rejected | rate evaluations | wall (s) | "
        f"max neck error (cells) | within {TOL_CELLS} |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        kind = "adaptive" if r["adaptive"] else "fixed"
        dt = f"atol {r['atol']:g}" if r["adaptive"] else f"{r['dt']:g}"
        print(
            f"| {kind} | {r['scheme']} | {dt} | {r['steps']} | {r['rejected']} | "
            f"{r['evaluations']} | {r['wall_s']:.2f} | {r['max_err_cells']:.3f} | "
            f"{'yes' if r['meets'] else 'no'} |"
        )
    summary = {}
    if best is None:
        print(f"\nno fixed first-order step within {TOL_CELLS} cell: extend the dt ladder")
    else:
        print(f"\nlargest fixed first-order step within {TOL_CELLS} cell: dt = {best['dt']:g}")
        for r in rows:
            if r["adaptive"]:
                s_ratio = best["steps"] / r["steps"]
                w_ratio = best["wall_s"] / r["wall_s"]
                summary[f"{r['scheme']} atol {r['atol']:g}"] = {
                    "steps_ratio": s_ratio,
                    "wall_ratio": w_ratio,
                    "meets": r["meets"],
                }
                print(
                    f"adaptive {r['scheme']} atol {r['atol']:g}: {s_ratio:.1f}x fewer steps, "
                    f"{w_ratio:.1f}x less wall time than fixed dt = {best['dt']:g}; within "
                    f"{TOL_CELLS} cell: "
                    f"{'yes' if r['meets'] else 'no'}"
                )
    grads = gradients(sizes)
    if a.json:
        out = {
            "gradient": grads,
            "environment": environment(),
            "n": n,
            "t_end": t_end,
            "reference_error_cells": ref_err,
            "rows": [{k: v for k, v in r.items() if k != "neck"} for r in rows],
            "largest_fixed_dt": None if best is None else best["dt"],
            "summary": summary,
        }
        Path(a.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

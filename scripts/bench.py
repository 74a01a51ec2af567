"""Benchmark sintersim on the current device, everything measured in one run.

    python scripts/bench.py [--quick] [--json FILE] [--out DIR] [--no-peer] [--no-grad]
    python scripts/bench.py --gpu [--quick] [--json FILE]

Sections (DESIGN.md section 5: optimise ratios measured in the same run, not absolute times):

1. step time and throughput of `SemiImplicitFourier.step` (through a jitted
   `sintersim.solver.advance`, many steps per call, compilation excluded, median of repeats) for
   2D and 3D grids, 2 and 8 grain fields, float32 and float64; next to it the FFT floor, the time
   of the real FFTs one step needs (`fft_counts`, measured with jnp.fft.rfftn / irfftn on the
   same grid and dtype), and the ratio step / floor;
2. scaling: fitted exponent of time vs cells, time vs number of fields, and a batch of 16 members
   (jax.vmap over initial states and over a model parameter) vs 16 sequential runs;
3. gradient cost: reverse-mode jax.grad of the final neck size w.r.t. M_surf through
   `sintersim.integrate(..., differentiable=True)` vs the forward run, time and peak memory (one
   subprocess per measurement; peak RSS, plus XLA's own buffer analysis), for two step counts;
4. a pitfall check: on XLA CPU a reduction over a stacked grain axis ((P, *grid) summed over
   axis 0, as in `WangEnergy.bulk` / `Mobility.__call__`) vs the same sum written out per field;
5. a peer: FiPy (scripts/fipy_peer.py) on the demo two-particle case, neck width and speed at
   matched accuracy. Skipped, with a message, when FiPy is not installed.
6. ``--gpu`` (alone; ``--gpu --quick`` for CPU-sized grids): float32 step time of the demo
   two-field model on 4096^2 and 256^3 (quick: 1024^2, 64^3) against the memory-bandwidth bound,
   the bytes a step must move at least (`min_bytes_per_step`) over the device's bandwidth
   (nominal for an H200, else a copy bandwidth measured in the same run).

float32 cases run with jax_enable_x64 off (as a float32 user runs), float64 ones with it on.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib.resources
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import sintersim as ss
from sintersim.observables import neck_size

HERE = Path(__file__).resolve().parent
CHILD_TAG = "BENCH_CHILD_RESULT "

# ----------------------------------------------------------------------------------------------
# configuration


@dataclasses.dataclass
class Plan:
    """What to measure. `full()`, `quick()` (< 3 min on 2 cores) and `tiny()` (tests)."""

    grids: list[tuple[int, ...]]
    fields: list[int]
    dtypes: list[str]
    repeats: int
    target_call_s: float  # wall time per timed call: steps per call chosen to reach it
    max_steps_per_call: int
    batch_grid: tuple[int, ...]
    batch_size: int
    batch_steps: int
    grad_grid: tuple[int, ...]
    grad_steps: tuple[int, int]
    pitfall_grid: tuple[int, ...]
    peer_t_end: float
    peer_fipy_dts: list[float]
    peer_ss_dts: list[float]
    peer_tol: float = 0.1  # cells: time-discretisation error of the neck that counts as accurate

    @classmethod
    def full(cls) -> Plan:
        return cls(
            grids=[(256, 256), (512, 512), (1024, 1024), (64, 64, 64), (128, 128, 128)],
            fields=[2, 8],
            dtypes=["float32", "float64"],
            repeats=7,
            target_call_s=0.5,
            max_steps_per_call=500,
            batch_grid=(128, 128),
            batch_size=16,
            batch_steps=20,
            # issue 6 asks for one gradient through 10^4 steps at 256^2
            grad_grid=(256, 256),
            grad_steps=(1000, 10000),
            pitfall_grid=(512, 512),
            peer_t_end=50.0,
            peer_fipy_dts=[1.0, 0.5, 0.25],
            peer_ss_dts=[0.4, 0.2, 0.1, 0.05, 0.025],
        )

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            grids=[(128, 128), (256, 256), (32, 32, 32), (64, 64, 64)],
            fields=[2, 8],
            dtypes=["float32", "float64"],
            repeats=5,
            target_call_s=0.15,
            max_steps_per_call=200,
            batch_grid=(64, 64),
            batch_size=16,
            batch_steps=10,
            grad_grid=(128, 80),
            grad_steps=(50, 200),
            pitfall_grid=(256, 256),
            peer_t_end=10.0,
            peer_fipy_dts=[1.0, 0.5],
            peer_ss_dts=[0.4, 0.2, 0.1, 0.05],
        )

    @classmethod
    def tiny(cls) -> Plan:
        return cls(
            grids=[(16, 16), (32, 32)],
            fields=[2, 3],
            dtypes=["float32"],
            repeats=2,
            target_call_s=0.01,
            max_steps_per_call=4,
            batch_grid=(16, 16),
            batch_size=3,
            batch_steps=2,
            grad_grid=(32, 20),
            grad_steps=(4, 16),
            pitfall_grid=(32, 32),
            peer_t_end=1.0,
            peer_fipy_dts=[1.0, 0.5],
            peer_ss_dts=[0.2, 0.1],
        )


# ----------------------------------------------------------------------------------------------
# helpers


def fft_counts(d: int, P: int) -> dict[str, int]:
    """Real FFTs (each over one field) in one `SemiImplicitFourier.step`, from the stepper code.

    rho: rfft(rho), rfft(df/drho), d irfft (gradient components of mu), d rfft (flux
    components), 1 irfft (the new rho). Each of the P grain fields: one rfft of the explicit
    right-hand side, 1 irfft.
    """
    return {"rfft": 2 + d + P, "irfft": d + 1 + P}


def x64_for(dtype: str):
    """float64 needs jax_enable_x64; float32 runs with it off (no silent promotion)."""
    return jax.enable_x64(dtype == "float64")


def demo_setup():
    return ss.build(ss.load_config(importlib.resources.files("sintersim") / "data" / "demo.toml"))


@functools.lru_cache(maxsize=1)
def demo_parameters() -> dict[str, float]:
    """The demo case's dimensionless coefficients (PbSe, 150 C), as Python floats."""
    m = demo_setup().model
    en, mo = m.energy, m.mobility
    names = {
        "A": en.A,
        "B": en.B,
        "kappa_rho": en.kappa_rho,
        "kappa_eta": en.kappa_eta,
        "M_vol": mo.M_vol,
        "M_vap": mo.M_vap,
        "M_surf": mo.M_surf,
        "M_gb": mo.M_gb,
        "L": m.L,
    }
    return {k: float(v) for k, v in names.items()}


def make_model(dtype, M_surf=None) -> ss.SinterModel:
    """The demo model with every coefficient an array of ``dtype`` (call inside `x64_for`)."""
    p = dict(demo_parameters())
    c = functools.partial(jnp.asarray, dtype=dtype)
    ms = c(p["M_surf"]) if M_surf is None else M_surf
    energy = ss.WangEnergy(c(p["A"]), c(p["B"]), c(p["kappa_rho"]), c(p["kappa_eta"]))
    mob = ss.Mobility(c(p["M_vol"]), c(p["M_vap"]), ms, c(p["M_gb"]))
    return ss.SinterModel(energy, mob, c(p["L"]))


def make_state(grid: ss.Grid, P: int, dtype, shift: float = 0.0) -> ss.State:
    """P touching particles on a ring around the box centre (one field each), width 2 cells."""
    n = min(grid.shape)
    R = 0.22 * n
    ring = 0.0 if P == 1 else 0.6 * R / math.sin(math.pi / P)
    ring = min(ring, 0.5 * n - R)
    centres = []
    for i in range(P):
        a = 2 * math.pi * i / P
        c = [L / 2 for L in grid.lengths]
        c[0] += ring * math.cos(a) + shift
        c[1] += ring * math.sin(a)
        centres.append(c)
    return ss.particles(grid, centres, [R] * P, width=2.0, dtype=dtype)


def median_time(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    dev = jax.devices()[0]
    return {
        "device": f"{dev.platform}:{getattr(dev, 'device_kind', '')}",
        "n_devices": jax.device_count(),
        "jax": jax.__version__,
        "jaxlib": getattr(jax.lib, "__version__", None) or _jaxlib_version(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "sintersim": ss.__version__,
    }


def _jaxlib_version() -> str:
    import jaxlib

    return getattr(jaxlib, "__version__", "?")


def fit_exponent(x, y) -> float:
    """Slope of log y vs log x (least squares)."""
    x, y = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    return float(np.polyfit(x, y, 1)[0])


# ----------------------------------------------------------------------------------------------
# 1. step time and FFT floor


def time_step(
    shape, P: int, dtype: str, *, repeats: int, target_call_s: float, max_steps: int
) -> dict:
    """Median wall time of one step (jitted `advance`, many steps per call, compile excluded)."""
    with x64_for(dtype):
        dt_ = jnp.dtype(dtype)
        grid = ss.Grid(tuple(shape))
        model = make_model(dt_)
        state = make_state(grid, P, dt_)
        n = jnp.asarray(1, jnp.int32)
        h = jnp.asarray(0.1, dt_)
        fn = jax.jit(lambda m, s, n, h: ss.solver.advance(m, grid, s, n, h))
        t0 = time.perf_counter()
        compiled = fn.lower(model, state, n, h).compile()
        compile_s = time.perf_counter() - t0
        t1 = median_time(lambda: compiled(model, state, n, h), 1)  # warm-up and estimate
        steps = int(np.clip(round(target_call_s / max(t1, 1e-6)), 1, max_steps))
        nn = jnp.asarray(steps, jnp.int32)
        t = median_time(lambda: compiled(model, state, nn, h), repeats) / steps
        out = compiled(model, state, nn, h)
        finite = bool(out.is_finite())
    cells = math.prod(shape)
    return {
        "step_s": t,
        "cell_updates_per_s": cells / t,
        "steps_per_call": steps,
        "compile_s": compile_s,
        "finite": finite,
    }


def time_fft(shape, dtype: str, *, repeats: int, target_call_s: float = 0.05) -> dict:
    """Time of one rfftn and of one irfftn of a single field: loops of transforms inside one
    jitted call (each depending on the previous, so none is hoisted), the loop length chosen so
    a call takes about ``target_call_s``."""
    with x64_for(dtype):
        dt_ = jnp.dtype(dtype)
        axes = tuple(range(len(shape)))
        x = jnp.asarray(np.random.default_rng(0).random(shape), dt_)
        y = jnp.fft.rfftn(x, axes=axes)
        tiny = jnp.asarray(1e-30, dt_)

        def rf(x, n):
            def body(i, x):
                return x + tiny * jnp.fft.rfftn(x, axes=axes)[..., :1].real

            return jax.lax.fori_loop(0, n, body, x)

        def irf(y, n):
            def body(i, y):
                return y + tiny * jnp.fft.irfftn(y, s=shape, axes=axes)[..., :1]

            return jax.lax.fori_loop(0, n, body, y)

        out = {}
        for name, f, arg in (("rfft_s", rf, x), ("irfft_s", irf, y)):
            one = jnp.asarray(1, jnp.int32)
            c = jax.jit(f).lower(arg, one).compile()
            jax.block_until_ready(c(arg, one))
            t1 = median_time(lambda c=c, arg=arg, one=one: c(arg, one), 3)
            inner = int(np.clip(round(target_call_s / max(t1, 1e-7)), 4, 2000))
            n = jnp.asarray(inner, jnp.int32)
            out[name] = median_time(lambda c=c, arg=arg, n=n: c(arg, n), repeats) / inner
    return out


def floor_time(fft: dict, d: int, P: int) -> float:
    c = fft_counts(d, P)
    return c["rfft"] * fft["rfft_s"] + c["irfft"] * fft["irfft_s"]


def bench_steps(plan: Plan, log=print) -> list[dict]:
    rows = []
    fft_cache = {}
    for dtype in plan.dtypes:
        for shape in plan.grids:
            key = (shape, dtype)
            if key not in fft_cache:
                fft_cache[key] = time_fft(
                    shape, dtype, repeats=plan.repeats, target_call_s=plan.target_call_s / 4
                )
            fft = fft_cache[key]
            for P in plan.fields:
                r = time_step(
                    shape,
                    P,
                    dtype,
                    repeats=plan.repeats,
                    target_call_s=plan.target_call_s,
                    max_steps=plan.max_steps_per_call,
                )
                d = len(shape)
                fl = floor_time(fft, d, P)
                row = {
                    "grid": "x".join(map(str, shape)),
                    "shape": list(shape),
                    "ndim": d,
                    "cells": math.prod(shape),
                    "fields": P,
                    "dtype": dtype,
                    **r,
                    **fft,
                    "fft_counts": fft_counts(d, P),
                    "floor_s": fl,
                    "step_over_floor": r["step_s"] / fl,
                }
                rows.append(row)
                log(
                    f"  {row['grid']:>11} P={P} {dtype}: step {r['step_s'] * 1e3:9.3f} ms, "
                    f"floor {fl * 1e3:8.3f} ms, ratio {row['step_over_floor']:5.2f}"
                )
    return rows


# ----------------------------------------------------------------------------------------------
# 2. scaling


def scaling_fits(rows: list[dict]) -> dict:
    """Exponent of step time (and floor) vs cells per (ndim, P, dtype) and over all grids; the
    cost of fields as t(P_max) / t(P_min) next to the floor's ratio."""
    out = {"vs_cells": [], "vs_fields": []}
    keys = sorted({(r["fields"], r["dtype"]) for r in rows})
    for P, dtype in keys:
        sel = [r for r in rows if r["fields"] == P and r["dtype"] == dtype]
        for ndim in sorted({r["ndim"] for r in sel}) + ["all"]:
            s = sel if ndim == "all" else [r for r in sel if r["ndim"] == ndim]
            if len({r["cells"] for r in s}) < 2:
                continue
            cells = [r["cells"] for r in s]
            out["vs_cells"].append(
                {
                    "fields": P,
                    "dtype": dtype,
                    "ndim": ndim,
                    "exponent_step": fit_exponent(cells, [r["step_s"] for r in s]),
                    "exponent_floor": fit_exponent(cells, [r["floor_s"] for r in s]),
                }
            )
    Ps = sorted({r["fields"] for r in rows})
    if len(Ps) >= 2:
        lo, hi = Ps[0], Ps[-1]
        for dtype in sorted({r["dtype"] for r in rows}):
            for g in sorted({r["grid"] for r in rows}, key=lambda g: (g.count("x"), len(g), g)):
                a = [r for r in rows if r["grid"] == g and r["dtype"] == dtype]
                ra = {r["fields"]: r for r in a}
                if lo in ra and hi in ra:
                    out["vs_fields"].append(
                        {
                            "grid": g,
                            "dtype": dtype,
                            "fields": [lo, hi],
                            "step_ratio": ra[hi]["step_s"] / ra[lo]["step_s"],
                            "floor_ratio": ra[hi]["floor_s"] / ra[lo]["floor_s"],
                            "step_per_extra_field_s": (ra[hi]["step_s"] - ra[lo]["step_s"])
                            / (hi - lo),
                        }
                    )
    return out


def bench_batch(plan: Plan, dtype: str = "float32") -> dict:
    """A batch of B members via jax.vmap (over initial states; over M_surf) vs B sequential
    calls of the single-member jitted run; same steps each."""
    B, n, shape = plan.batch_size, plan.batch_steps, plan.batch_grid
    with x64_for(dtype):
        dt_ = jnp.dtype(dtype)
        grid = ss.Grid(tuple(shape))
        model = make_model(dt_)
        states = [make_state(grid, 2, dt_, shift=0.5 * i / B) for i in range(B)]
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
        ms = jnp.asarray(demo_parameters()["M_surf"] * np.geomspace(0.5, 2.0, B), dt_)

        single = jax.jit(lambda m, s: ss.solver.advance(m, grid, s, n, 0.1))
        over_states = jax.jit(jax.vmap(lambda s: ss.solver.advance(model, grid, s, n, 0.1)))
        over_param = jax.jit(
            jax.vmap(
                lambda v: ss.solver.advance(make_model(dt_, M_surf=v), grid, states[0], n, 0.1)
            )
        )
        jax.block_until_ready(single(model, states[0]))
        jax.block_until_ready(over_states(stacked))
        jax.block_until_ready(over_param(ms))

        def sequential():
            return [single(model, s) for s in states]

        t_seq = median_time(sequential, plan.repeats)
        t_vs = median_time(lambda: over_states(stacked), plan.repeats)
        t_vp = median_time(lambda: over_param(ms), plan.repeats)
        finite = bool(over_states(stacked).is_finite()) and bool(over_param(ms).is_finite())
    return {
        "grid": "x".join(map(str, shape)),
        "fields": 2,
        "dtype": dtype,
        "members": B,
        "steps": n,
        "sequential_s": t_seq,
        "vmap_states_s": t_vs,
        "vmap_param_s": t_vp,
        "speedup_vmap_states": t_seq / t_vs,
        "speedup_vmap_param": t_seq / t_vp,
        "finite": finite,
    }


# ----------------------------------------------------------------------------------------------
# 3. gradient cost (one subprocess per measurement, for a clean peak-memory figure)


def _vm_hwm_kb() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_kb() -> int:
    import resource

    hwm = _vm_hwm_kb()
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def grad_problem(shape, n_steps: int, dtype: str = "float32"):
    """(forward, loss_grad, M_surf): forward(M_surf) -> final neck, loss_grad = jax.grad of it,
    integrating n_steps of dt = 0.1 of two touching particles (demo model)."""
    dt_ = jnp.dtype(dtype)
    grid = ss.Grid(tuple(shape))
    R = 0.2 * shape[0]
    s0 = ss.two_particles(grid, R, gap=-1.0, width=2.0, dtype=dt_)
    x0, x1 = (c[0] for c in ss.initial.two_particle_centres(grid, R, gap=-1.0))
    saveat = ss.SaveAt(ts=(n_steps * 0.1,), fn=lambda t, s: neck_size(s, grid, x0, x1))

    def neck(M_surf, differentiable):
        sol = ss.integrate(
            make_model(dt_, M_surf=M_surf),
            grid,
            s0,
            t0=0.0,
            dt=0.1,
            saveat=saveat,
            differentiable=differentiable,
        )
        return sol.ys[-1]

    forward = functools.partial(neck, differentiable=False)
    return (
        forward,
        jax.grad(functools.partial(neck, differentiable=True)),
        jnp.asarray(demo_parameters()["M_surf"], dt_),
    )


def grad_child(spec: dict) -> dict:
    """Runs in a fresh process: compile, reset the peak-RSS counter, run, report."""
    dtype = spec.get("dtype", "float32")
    with x64_for(dtype):
        forward, grad, ms = grad_problem(tuple(spec["shape"]), int(spec["steps"]), dtype)
        fn = jax.jit(forward if spec["kind"] == "forward" else grad)
        t0 = time.perf_counter()
        compiled = fn.lower(ms).compile()
        compile_s = time.perf_counter() - t0
        xla = {}
        try:
            ma = compiled.memory_analysis()
            xla = {
                "temp_bytes": int(ma.temp_size_in_bytes),
                "argument_bytes": int(ma.argument_size_in_bytes),
                "output_bytes": int(ma.output_size_in_bytes),
            }
        except Exception:  # memory_analysis is optional on some backends
            pass
        rss_before_kb = _peak_kb()
        reset = _reset_peak()
        base_kb = _peak_kb()
        value = float(compiled(ms))  # first run (peak memory measured over it)
        peak_kb = _peak_kb()
        t = median_time(lambda: compiled(ms), int(spec.get("repeats", 1)))
    return {
        **spec,
        "value": value,
        "run_s": t,
        "compile_s": compile_s,
        "peak_rss_mb": peak_kb / 1024,
        "rss_before_run_mb": base_kb / 1024,
        "run_rss_increase_mb": (peak_kb - base_kb) / 1024 if reset else None,
        "peak_rss_incl_compile_mb": max(rss_before_kb, peak_kb) / 1024,
        "xla_temp_mb": xla.get("temp_bytes", float("nan")) / 2**20 if xla else None,
        "state_mb": (1 + 2) * math.prod(spec["shape"]) * jnp.dtype(dtype).itemsize / 2**20,
    }


def run_child(spec: dict, timeout: float = 900) -> dict:
    env = dict(os.environ)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(spec)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    for line in p.stdout.splitlines():
        if line.startswith(CHILD_TAG):
            return json.loads(line[len(CHILD_TAG) :])
    raise RuntimeError(f"benchmark child failed ({p.returncode}):\n{p.stderr[-3000:]}")


def bench_grad(plan: Plan, dtype: str = "float32", log=print) -> dict:
    rows = []
    for n in plan.grad_steps:
        for kind in ("forward", "grad"):
            spec = {
                "kind": kind,
                "steps": n,
                "shape": list(plan.grad_grid),
                "dtype": dtype,
                # one timed repeat for long runs (10^4 steps): the run is its own average
                "repeats": plan.repeats if n < 5000 else 1,
            }
            r = run_child(spec, timeout=3600)
            rows.append(r)
            log(
                f"  {kind:7s} N={n:4d}: {r['run_s']:.3f} s, peak RSS {r['peak_rss_mb']:.0f} MB "
                f"(+{(r['run_rss_increase_mb'] or 0):.1f} MB during the run), XLA temp "
                f"{r['xla_temp_mb'] or 0:.1f} MB"
            )
    by = {(r["kind"], r["steps"]): r for r in rows}
    summary = []
    for n in plan.grad_steps:
        f, g = by[("forward", n)], by[("grad", n)]
        summary.append(
            {
                "steps": n,
                "time_ratio": g["run_s"] / f["run_s"],
                "grad_run_rss_increase_mb": g["run_rss_increase_mb"],
                "forward_run_rss_increase_mb": f["run_rss_increase_mb"],
                "grad_xla_temp_mb": g["xla_temp_mb"],
                "forward_xla_temp_mb": f["xla_temp_mb"],
                "grad_value": g["value"],
            }
        )
    n1, n2 = plan.grad_steps
    g1, g2 = by[("grad", n1)], by[("grad", n2)]
    growth = {
        "steps_ratio": n2 / n1,
        "xla_temp_ratio": (g2["xla_temp_mb"] / g1["xla_temp_mb"])
        if g1["xla_temp_mb"] and g2["xla_temp_mb"]
        else None,
        "rss_increase_ratio": (g2["run_rss_increase_mb"] / g1["run_rss_increase_mb"])
        if g1["run_rss_increase_mb"] and g2["run_rss_increase_mb"]
        else None,
        "sqrt_steps_ratio": math.sqrt(n2 / n1),
    }
    return {
        "grid": "x".join(map(str, plan.grad_grid)),
        "dtype": dtype,
        "runs": rows,
        "summary": summary,
        "memory_growth": growth,
    }


# ----------------------------------------------------------------------------------------------
# 4. pitfall check: reductions over the stacked grain axis


def time_piece(fn, st: ss.State, inner: int, repeats: int) -> float:
    """Seconds per call of ``fn(rho, eta) -> (a, b)``, called ``inner`` times in one compiled loop
    (its outputs feed back with weight 1e-30, so XLA can neither hoist nor drop the call)."""
    tiny = jnp.asarray(1e-30, st.rho.dtype)

    def run(rho, eta):
        def body(i, c):
            r, e = c
            a, b = fn(r, e)
            return r + tiny * a, e + tiny * b

        return jax.lax.fori_loop(0, inner, body, (rho, eta))

    c = jax.jit(run).lower(st.rho, st.eta).compile()
    jax.block_until_ready(c(st.rho, st.eta))
    return median_time(lambda: c(st.rho, st.eta), repeats) / inner


def bench_pitfall(plan: Plan, P: int = 2, dtype: str = "float32", inner: int = 10) -> dict:
    """Per-call time of pieces of the step on one grid: sum over a stacked (P, *grid) axis vs the
    same sum written per field; `SinterModel.bulk_derivatives`; `Mobility.__call__`."""
    shape = plan.pitfall_grid
    with x64_for(dtype):
        dt_ = jnp.dtype(dtype)
        grid = ss.Grid(tuple(shape))
        model = make_model(dt_)
        st = make_state(grid, P, dt_)

        def looped(fn):
            return time_piece(fn, st, inner, plan.repeats)

        def per_field(e):
            return functools.reduce(jnp.add, [e[i] * e[i] for i in range(e.shape[0])])

        res = {
            "grid": "x".join(map(str, shape)),
            "fields": P,
            "dtype": dtype,
            "baseline_s": looped(lambda r, e: (r, e)),
            "sum_stacked_axis0_s": looped(lambda r, e: (jnp.sum(e * e, axis=0), e)),
            "sum_per_field_s": looped(lambda r, e: (per_field(e), e)),
            "bulk_derivatives_s": looped(lambda r, e: model.bulk_derivatives(r, e)),
            "mobility_s": looped(lambda r, e: (model.mobility(r, e), e)),
            "rfft_rho_s": looped(lambda r, e: (jnp.fft.rfftn(r)[..., :1].real, e)),
        }
    res["stacked_over_per_field"] = res["sum_stacked_axis0_s"] / res["sum_per_field_s"]
    return res


def bench_profile(plan: Plan, dtype: str = "float32", inner: int = 10) -> list[dict]:
    """Where a step's time goes (2 and 8 fields on the pitfall grid): the whole step next to the
    same FFTs alone, the bulk derivatives (autodiff), the mobility; the remainder is the other
    pointwise work (spectral multiplies and divisions, flux products, casts)."""
    shape = plan.pitfall_grid
    rows = []
    with x64_for(dtype):
        dt_ = jnp.dtype(dtype)
        grid = ss.Grid(tuple(shape))
        model = make_model(dt_)
        d = grid.ndim
        tiny = jnp.asarray(1e-30, dt_)
        for P in (2, 8):
            st = make_state(grid, P, dt_)

            def looped(fn, st=st):
                return time_piece(fn, st, inner, plan.repeats)

            def ffts(r, e):
                # The step's transforms (fft_counts): rho-sized 2 + d forward, d + 1 inverse;
                # one forward and one inverse per grain field.
                hs = [grid.rfft(r + i * tiny) for i in range(2 + d)]
                acc = r
                for i in range(d + 1):
                    acc = acc + tiny * grid.irfft(hs[i])
                return acc, grid.irfft(grid.rfft(e))

            def step(r, e):
                s = ss.SemiImplicitFourier().step(model, grid, ss.State(r, e), 0.1)
                return s.rho, s.eta

            row = {
                "grid": "x".join(map(str, shape)),
                "fields": P,
                "dtype": dtype,
                "baseline_s": looped(lambda r, e: (r, e)),
                "step_s": looped(step),
                "ffts_s": looped(ffts),
                "bulk_derivatives_s": looped(lambda r, e: model.bulk_derivatives(r, e)),
                "mobility_s": looped(lambda r, e: (model.mobility(r, e), e)),
            }
            row["other_s"] = (
                row["step_s"] - row["ffts_s"] - row["bulk_derivatives_s"] - row["mobility_s"]
            )
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------
# 5. FiPy peer


def bench_peer(plan: Plan, log=print) -> dict:
    sys.path.insert(0, str(HERE))
    import fipy_peer

    if not fipy_peer.fipy_available():
        msg = "FiPy is not installed (pip install fipy, or pip install -e '.[bench]'): skipped"
        log(f"  {msg}")
        return {"skipped": msg}
    setup = demo_setup()
    T = plan.peer_t_end
    x0, x1 = setup.centres[0][0], setup.centres[1][0]
    dtype = str(setup.state0.rho.dtype)

    ss_runs = []
    with x64_for(dtype):
        model = make_model(jnp.dtype(dtype))
        s0 = setup.state0.astype(jnp.dtype(dtype))
        for h in plan.peer_ss_dts:
            n = max(1, int(math.ceil(T / h - 1e-9)))
            fn = jax.jit(lambda m, s, h=h, n=n: ss.solver.advance(m, setup.grid, s, n, T / n))
            t0 = time.perf_counter()
            out = jax.block_until_ready(fn(model, s0))
            first = time.perf_counter() - t0
            t = median_time(lambda fn=fn: fn(model, s0), plan.repeats)
            neck = float(neck_size(out, setup.grid, x0, x1))
            ss_runs.append({"dt": h, "steps": n, "neck": neck, "run_s": t, "first_call_s": first})
    fi_runs = []
    for h in plan.peer_fipy_dts:
        res, neck = fipy_peer.run_from_setup(setup, t_end=T, dt=h)
        fi_runs.append(
            {"dt": h, "steps": res.steps, "neck": neck, "run_s": res.wall_s, "setup_s": res.setup_s}
        )
        log(f"  FiPy dt={h:g}: neck {neck:.3f} cells, {res.wall_s:.2f} s")

    def with_errors(runs):
        """First-order Richardson estimate of each run's time error: for runs a, b (dt_a > dt_b),
        n(dt) = n* + c dt gives c = (n_a - n_b) / (dt_a - dt_b) and error(dt) = |c| dt; the last
        run uses the pair before it. Returns the coarsest run within tolerance (else the finest)."""
        for i, r in enumerate(runs):
            if len(runs) < 2:
                r["err_est"] = None
                continue
            a, b = (runs[i], runs[i + 1]) if i + 1 < len(runs) else (runs[i - 1], runs[i])
            r["err_est"] = abs(a["neck"] - b["neck"]) / (a["dt"] - b["dt"]) * r["dt"]
        ok = [r for r in runs if r["err_est"] is not None and r["err_est"] <= plan.peer_tol]
        return ok[0] if ok else runs[-1]

    best_ss, best_fi = with_errors(ss_runs), with_errors(fi_runs)
    for r in ss_runs:
        log(f"  sintersim dt={r['dt']:g}: neck {r['neck']:.3f} cells, {r['run_s'] * 1e3:.1f} ms")
    diff = abs(best_ss["neck"] - best_fi["neck"])
    return {
        "case": "demo.toml (PbSe, 2D two particles)",
        "grid": "x".join(map(str, setup.grid.shape)),
        "t_end": T,
        "dtype_sintersim": dtype,
        "tolerance_cells": plan.peer_tol,
        "sintersim": ss_runs,
        "fipy": fi_runs,
        "matched": {
            "sintersim_dt": best_ss["dt"],
            "fipy_dt": best_fi["dt"],
            "sintersim_neck": best_ss["neck"],
            "fipy_neck": best_fi["neck"],
            "neck_diff_cells": diff,
            "within_one_cell": diff <= 1.0,
            "both_within_tolerance": all(
                r["err_est"] is not None and r["err_est"] <= plan.peer_tol
                for r in (best_ss, best_fi)
            ),
            "speed_ratio": best_fi["run_s"] / best_ss["run_s"],
            "speed_ratio_incl_compile": best_fi["run_s"] / best_ss["first_call_s"],
        },
    }


# ----------------------------------------------------------------------------------------------
# 6. device section (--gpu): float32 step time against the memory-bandwidth bound

# Nominal peak memory bandwidth (B/s) by device kind; anything else uses the copy bandwidth
# measured in the same run.
NOMINAL_BANDWIDTH = {"H200": 4.8e12}
GPU_SHAPES = {"full": [(4096, 4096), (256, 256, 256)], "quick": [(1024, 1024), (64, 64, 64)]}


def nominal_bandwidth() -> tuple[float | None, str]:
    dev = jax.devices()[0]
    kind = getattr(dev, "device_kind", "") or ""
    if dev.platform != "cpu":
        for name, bw in NOMINAL_BANDWIDTH.items():
            if name.lower() in kind.lower():
                return bw, f"nominal {name} ({bw:.3g} B/s)"
    return None, ""


def copy_bandwidth(n_bytes: int, repeats: int = 5) -> dict:
    """Bytes per second of a jitted ``x * c`` over a float32 array of ``n_bytes`` (it reads and
    writes every byte once: 2 n_bytes per call), median of ``repeats`` calls."""
    n = n_bytes // 4
    x = jnp.ones((n,), jnp.float32)
    f = jax.jit(lambda x: x * jnp.float32(1.0001))
    jax.block_until_ready(f(x))
    t = median_time(lambda: f(x), repeats)
    return {"array_bytes": 4 * n, "copy_s": t, "bytes_per_s": 2 * 4 * n / t}


def min_bytes_per_step(shape, P: int, itemsize: int) -> dict:
    """A lower bound on the device-memory traffic of one `SemiImplicitFourier.step`.

    Each of the step's real FFTs (`fft_counts`) is a library call that XLA cannot fuse with the
    pointwise work around it, so it reads its input (a real field) from device memory and writes
    its output (the half spectrum, n_last/2 + 1 complex values per line) back at least once:
    one full-field pass each. Not counted (so the bound stays a bound): the pointwise fusions
    that write the FFT inputs and read their outputs, FFT libraries' own extra passes for large
    grids, and the mobility / bulk-derivative passes. The state itself (1 + P fields read and
    written once, ``state_rw_bytes``) is a weaker floor, reported next to it.
    """
    cells = math.prod(shape)
    real_b = cells * itemsize
    cplx_b = cells // shape[-1] * (shape[-1] // 2 + 1) * 2 * itemsize
    c = fft_counts(len(shape), P)
    n_fft = c["rfft"] + c["irfft"]
    return {
        "transforms": n_fft,
        "field_passes": 2 * n_fft,  # read + write per transform
        "bytes": n_fft * (real_b + cplx_b),
        "state_rw_bytes": 2 * (1 + P) * real_b,
    }


def bench_gpu(quick: bool, *, P: int = 2, repeats: int = 5, log=print) -> dict:
    """float32 step of the standard two-field (demo) model on the device section's grids, next
    to the FFT floor and to the memory-bandwidth bound (`min_bytes_per_step` / bandwidth)."""
    on_cpu = jax.default_backend() == "cpu"
    shapes = GPU_SHAPES["quick" if quick else "full"]
    copy = copy_bandwidth(2**28 if on_cpu else 2**31)
    nominal, note = nominal_bandwidth()
    bw = nominal if nominal is not None else copy["bytes_per_s"]
    source = note or "measured copy bandwidth (x * c over a large float32 array)"
    log(
        f"  bandwidth {bw:.3g} B/s ({source}); measured copy {copy['bytes_per_s']:.3g} B/s "
        f"over {copy['array_bytes'] / 2**20:.0f} MiB"
    )
    rows = []
    for shape in shapes:
        r = time_step(
            shape,
            P,
            "float32",
            repeats=repeats,
            target_call_s=0.3 if on_cpu else 0.2,
            max_steps=200 if on_cpu else 2000,
        )
        fft = time_fft(shape, "float32", repeats=repeats, target_call_s=0.1)
        mb = min_bytes_per_step(shape, P, 4)
        bound = mb["bytes"] / bw
        row = {
            "grid": "x".join(map(str, shape)),
            "shape": list(shape),
            "fields": P,
            "dtype": "float32",
            **r,
            **fft,
            "fft_floor_s": floor_time(fft, len(shape), P),
            **{f"min_{k}": v for k, v in mb.items()},
            "bandwidth_B_per_s": bw,
            "bandwidth_bound_s": bound,
            "state_rw_bound_s": mb["state_rw_bytes"] / bw,
            "step_over_bound": r["step_s"] / bound,
            "achieved_B_per_s": mb["bytes"] / r["step_s"],
        }
        row["step_over_fft_floor"] = r["step_s"] / row["fft_floor_s"]
        rows.append(row)
        log(
            f"  {row['grid']:>13} P={P} float32: step {r['step_s'] * 1e3:9.3f} ms, FFT floor "
            f"{row['fft_floor_s'] * 1e3:8.3f} ms, bandwidth bound {bound * 1e3:8.3f} ms "
            f"({mb['field_passes']} field passes, {mb['bytes'] / 2**20:.0f} MiB), "
            f"step / bound {row['step_over_bound']:5.2f}"
        )
    return {
        "bandwidth_B_per_s": bw,
        "bandwidth_source": source,
        "copy": copy,
        "bound_definition": " ".join(min_bytes_per_step.__doc__.split()),
        "rows": rows,
    }


def gpu_report(res: dict) -> str:
    env, g = res["environment"], res["gpu"]
    lines = [
        f"# sintersim device section ({res['mode']})",
        "",
        f"device {env['device']} ({env['n_devices']}), jax {env['jax']}",
        "",
        f"bandwidth {g['bandwidth_B_per_s']:.3g} B/s: {g['bandwidth_source']}; copy measured "
        f"in this run {g['copy']['bytes_per_s']:.3g} B/s.",
        "",
        "bound = bytes / bandwidth, bytes = (n_rfft + n_irfft) x (real field + half spectrum): "
        "each FFT reads its input and writes its output once (a lower bound; see "
        "`min_bytes_per_step`). state r+w = (1 + P) fields read and written once.",
        "",
    ]
    lines.append(
        md_table(
            [
                "grid",
                "P",
                "step ms",
                "FFT floor ms",
                "field passes",
                "MiB/step",
                "bound ms",
                "state r+w ms",
                "step / bound",
                "achieved GB/s",
            ],
            [
                [
                    r["grid"],
                    r["fields"],
                    f"{r['step_s'] * 1e3:.3f}",
                    f"{r['fft_floor_s'] * 1e3:.3f}",
                    r["min_field_passes"],
                    f"{r['min_bytes'] / 2**20:.0f}",
                    f"{r['bandwidth_bound_s'] * 1e3:.3f}",
                    f"{r['state_rw_bound_s'] * 1e3:.3f}",
                    f"{r['step_over_bound']:.2f}",
                    f"{r['achieved_B_per_s'] / 1e9:.1f}",
                ]
                for r in g["rows"]
            ],
        )
    )
    lines += ["", f"total {res['total_s']:.0f} s", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# report


def md_table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def report(res: dict) -> str:
    env = res["environment"]
    lines = [
        f"# sintersim benchmark ({res['mode']})",
        "",
        f"device {env['device']} ({env['n_devices']}), jax {env['jax']}, jaxlib {env['jaxlib']}, "
        f"CPU {env['cpu']} x {env['cpu_count']}, Python {env['python']}"
        + (f", XLA_FLAGS={env['xla_flags']}" if env["xla_flags"] else ""),
        "",
        "## Step time vs FFT floor",
        "",
        "floor = n_rfft t_rfft + n_irfft t_irfft, n_rfft = 2 + d + P, n_irfft = d + 1 + P; "
        "cell updates/s = grid cells / step time.",
        "",
    ]
    rows = [
        [
            r["grid"],
            r["fields"],
            r["dtype"],
            f"{r['step_s'] * 1e3:.3f}",
            f"{r['cell_updates_per_s'] / 1e6:.2f}",
            f"{r['rfft_s'] * 1e3:.3f} / {r['irfft_s'] * 1e3:.3f}",
            f"{r['fft_counts']['rfft']} / {r['fft_counts']['irfft']}",
            f"{r['floor_s'] * 1e3:.3f}",
            f"{r['step_over_floor']:.2f}",
            f"{r['compile_s']:.1f}",
        ]
        for r in res["steps"]
    ]
    lines.append(
        md_table(
            [
                "grid",
                "P",
                "dtype",
                "step ms",
                "Mcell-upd/s",
                "rfft/irfft ms",
                "#rfft/#irfft",
                "floor ms",
                "step/floor",
                "compile s",
            ],
            rows,
        )
    )
    sc = res["scaling"]
    lines += [
        "",
        "## Scaling",
        "",
        "Time vs cells (fitted exponent of step time and of floor):",
        "",
    ]
    lines.append(
        md_table(
            ["P", "dtype", "dims", "exponent step", "exponent floor"],
            [
                [
                    s["fields"],
                    s["dtype"],
                    s["ndim"],
                    f"{s['exponent_step']:.2f}",
                    f"{s['exponent_floor']:.2f}",
                ]
                for s in sc["vs_cells"]
            ],
        )
    )
    if sc["vs_fields"]:
        lines += ["", "Time vs number of fields:", ""]
        lines.append(
            md_table(
                ["grid", "dtype", "P", "step ratio", "floor ratio", "ms per extra field"],
                [
                    [
                        s["grid"],
                        s["dtype"],
                        f"{s['fields'][0]} -> {s['fields'][1]}",
                        f"{s['step_ratio']:.2f}",
                        f"{s['floor_ratio']:.2f}",
                        f"{s['step_per_extra_field_s'] * 1e3:.3f}",
                    ]
                    for s in sc["vs_fields"]
                ],
            )
        )
    b = res.get("batch")
    if b:
        lines += [
            "",
            f"Batch of {b['members']} ({b['grid']}, P={b['fields']}, {b['dtype']}, "
            f"{b['steps']} steps each):",
            "",
            md_table(
                [
                    "16 sequential s",
                    "vmap states s",
                    "vmap M_surf s",
                    "speedup states",
                    "speedup M",
                ],
                [
                    [
                        f"{b['sequential_s']:.3f}",
                        f"{b['vmap_states_s']:.3f}",
                        f"{b['vmap_param_s']:.3f}",
                        f"{b['speedup_vmap_states']:.2f}",
                        f"{b['speedup_vmap_param']:.2f}",
                    ]
                ],
            ).replace("16 sequential", f"{b['members']} sequential"),
        ]
    g = res.get("grad")
    if g and "skipped" in g:
        lines += ["", f"## Gradient cost: skipped ({g['skipped']})"]
    elif g:
        lines += [
            "",
            f"## Gradient cost (d neck / d M_surf, {g['grid']}, {g['dtype']}, one process each)",
            "",
        ]
        lines.append(
            md_table(
                ["run", "steps", "time s", "peak RSS MB", "RSS rise in run MB", "XLA temp MB"],
                [
                    [
                        r["kind"],
                        r["steps"],
                        f"{r['run_s']:.3f}",
                        f"{r['peak_rss_mb']:.0f}",
                        "n/a"
                        if r["run_rss_increase_mb"] is None
                        else f"{r['run_rss_increase_mb']:.1f}",
                        "n/a" if r["xla_temp_mb"] is None else f"{r['xla_temp_mb']:.1f}",
                    ]
                    for r in g["runs"]
                ],
            )
        )
        mg = g["memory_growth"]
        ratios = ", ".join(f"N={s['steps']}: {s['time_ratio']:.2f}" for s in g["summary"])
        lines += [
            "",
            f"grad / forward time: {ratios}. Steps x{mg['steps_ratio']:.0f} -> grad XLA temp "
            f"memory x{mg['xla_temp_ratio'] or float('nan'):.2f}, RSS rise "
            f"x{mg['rss_increase_ratio'] or float('nan'):.2f} "
            f"(sqrt(steps) would be x{mg['sqrt_steps_ratio']:.2f}).",
        ]
    prof = res.get("profile")
    if prof:
        lines += [
            "",
            f"## Where a step's time goes ({prof[0]['grid']}, {prof[0]['dtype']}, per step)",
            "",
            md_table(
                ["P", "step ms", "its FFTs ms", "bulk_derivatives ms", "Mobility ms", "other ms"],
                [
                    [
                        r["fields"],
                        f"{r['step_s'] * 1e3:.3f}",
                        f"{r['ffts_s'] * 1e3:.3f}",
                        f"{r['bulk_derivatives_s'] * 1e3:.3f}",
                        f"{r['mobility_s'] * 1e3:.3f}",
                        f"{r['other_s'] * 1e3:.3f}",
                    ]
                    for r in prof
                ],
            ),
            "",
            "other = step - FFTs - bulk derivatives - mobility: spectral multiplies and divisions, "
            "flux products, casts (pieces timed alone do not fuse as they do inside the step, so "
            "the split is indicative).",
        ]
    p = res.get("pitfall")
    if p:
        lines += [
            "",
            f"## Pitfall check ({p['grid']}, P={p['fields']}, {p['dtype']}, per call)",
            "",
            md_table(
                [
                    "sum over stacked axis 0",
                    "same sum per field",
                    "ratio",
                    "bulk_derivatives",
                    "Mobility()",
                    "one rfft",
                ],
                [
                    [
                        f"{p['sum_stacked_axis0_s'] * 1e3:.3f} ms",
                        f"{p['sum_per_field_s'] * 1e3:.3f} ms",
                        f"{p['stacked_over_per_field']:.1f}",
                        f"{p['bulk_derivatives_s'] * 1e3:.3f} ms",
                        f"{p['mobility_s'] * 1e3:.3f} ms",
                        f"{p['rfft_rho_s'] * 1e3:.3f} ms",
                    ]
                ],
            ),
        ]
    peer = res.get("peer")
    if peer is not None:
        lines += ["", "## Peer: FiPy", ""]
        if "skipped" in peer:
            lines.append(peer["skipped"])
        else:
            m = peer["matched"]
            lines.append(
                f"{peer['case']}, grid {peer['grid']}, t = {peer['t_end']:g} (internal units); "
                f"accurate = neck time-error estimate <= {peer['tolerance_cells']} cell."
            )
            lines.append("")
            trs = [
                ["sintersim " + peer["dtype_sintersim"], r["dt"], r["steps"], f"{r['neck']:.3f}"]
                + [
                    "-" if r["err_est"] is None else f"{r['err_est']:.3f}",
                    f"{r['run_s']:.4f}",
                ]
                for r in peer["sintersim"]
            ]
            trs += [
                ["FiPy float64", r["dt"], r["steps"], f"{r['neck']:.3f}"]
                + ["-" if r["err_est"] is None else f"{r['err_est']:.3f}", f"{r['run_s']:.3f}"]
                for r in peer["fipy"]
            ]
            lines.append(
                md_table(["code", "dt", "steps", "neck (cells)", "est. time error", "run s"], trs)
            )
            lines += [
                "",
                f"matched: sintersim dt={m['sintersim_dt']:g} neck {m['sintersim_neck']:.3f}, "
                f"FiPy dt={m['fipy_dt']:g} neck {m['fipy_neck']:.3f}: difference "
                f"{m['neck_diff_cells']:.3f} cells "
                f"({'within' if m['within_one_cell'] else 'NOT within'} one cell). "
                f"FiPy / sintersim time: {m['speed_ratio']:.0f}x "
                f"({m['speed_ratio_incl_compile']:.1f}x counting sintersim's compilation)"
                + ("." if m["both_within_tolerance"] else "; NOT both within tolerance."),
            ]
    lines += ["", f"total bench time {res['total_s']:.0f} s", ""]
    return "\n".join(lines)


def plot_scaling(res: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 5))
    rows = res["steps"]
    keys = sorted({(r["fields"], r["dtype"]) for r in rows})
    for i, (P, dtype) in enumerate(keys):
        color = f"C{i}"
        for ndim, marker in ((2, "o"), (3, "s")):
            s = sorted(
                (r for r in rows if (r["fields"], r["dtype"], r["ndim"]) == (P, dtype, ndim)),
                key=lambda r: r["cells"],
            )
            if not s:
                continue
            x = [r["cells"] for r in s]
            lab = f"P={P} {dtype} {ndim}D"
            ax.loglog(x, [r["step_s"] for r in s], marker + "-", color=color, label=lab)
            ax.loglog(
                x, [r["floor_s"] for r in s], marker + "--", color=color, mfc="none", alpha=0.6
            )
    ax.set_xlabel("grid cells")
    ax.set_ylabel("time per step (s)")
    ax.set_title(
        f"sintersim step (solid) vs FFT floor (dashed)\n{res['environment']['cpu']}, "
        f"jax {res['environment']['jax']}",
        fontsize=9,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "bench_scaling.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------


def run_all(plan: Plan, mode: str, *, peer=True, grad=True, log=print) -> dict:
    t0 = time.perf_counter()
    res = {"mode": mode, "environment": environment(), "plan": dataclasses.asdict(plan)}
    log("step time vs FFT floor ...")
    res["steps"] = bench_steps(plan, log=log)
    res["scaling"] = scaling_fits(res["steps"])
    log("batch ...")
    res["batch"] = bench_batch(plan)
    log("pitfall check ...")
    res["pitfall"] = bench_pitfall(plan)
    log("profile of one step ...")
    res["profile"] = bench_profile(plan)
    if grad:
        log("gradient cost ...")
        res["grad"] = bench_grad(plan, log=log)
    else:
        res["grad"] = {"skipped": "--no-grad"}
    if peer:
        log("FiPy peer ...")
        res["peer"] = bench_peer(plan, log=log)
    else:
        res["peer"] = {"skipped": "--no-peer"}
    res["total_s"] = time.perf_counter() - t0
    return res


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="sintersim benchmark (see the module docstring).")
    ap.add_argument("--quick", action="store_true", help="smaller grids, fewer repeats (< 3 min)")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests
    ap.add_argument("--json", type=Path, help="write every figure to this JSON file")
    ap.add_argument("--out", type=Path, help="write bench_scaling.png here")
    ap.add_argument("--no-peer", action="store_true", help="skip the FiPy peer")
    ap.add_argument("--no-grad", action="store_true", help="skip the gradient-cost section")
    ap.add_argument(
        "--gpu",
        action="store_true",
        help="only the device section: float32 step vs memory-bandwidth bound (4096^2, 256^3; "
        "with --quick 1024^2, 64^3)",
    )
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        print(CHILD_TAG + json.dumps(_jsonable(grad_child(json.loads(a._child)))), flush=True)
        return 0
    if a.gpu:
        t0 = time.perf_counter()
        mode = "gpu-quick" if a.quick else "gpu"
        res = {"mode": mode, "environment": environment()}
        print("device section: step time vs memory-bandwidth bound ...", file=sys.stderr)
        res["gpu"] = bench_gpu(a.quick, log=lambda m: print(m, file=sys.stderr, flush=True))
        res["total_s"] = time.perf_counter() - t0
        print(gpu_report(res))
        if a.json:
            a.json.parent.mkdir(parents=True, exist_ok=True)
            a.json.write_text(json.dumps(_jsonable(res), indent=1))
        return 0
    mode = "tiny" if a.tiny else "quick" if a.quick else "full"
    plan = {"tiny": Plan.tiny, "quick": Plan.quick, "full": Plan.full}[mode]()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    res = run_all(plan, mode, peer=not a.no_peer, grad=not a.no_grad, log=log)
    if a.out:
        res["plot"] = str(plot_scaling(res, a.out))
    text = report(res)
    print(text)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(_jsonable(res), indent=1))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())

"""Memory estimate (`sintersim.solver._memory.estimate_memory`) against the measured peak.

    python scripts/bench_memory.py [--quick] [--json FILE] [--case 2048x2048:4:float32 ...]
    python scripts/bench_memory.py --calibrate [--json FILE]

Each case runs in a fresh process (`measure_peak`) that does what a run does: compile the jitted
`advance` and observables passes (from shapes, nothing allocated), build the initial fields with
`sintersim.initial.particles` (numpy float64, then the run dtype), keep that initial state, and
take a few steps, observing and copying the state to the host (a checkpoint) after each call.
Measured: on the CPU the process's peak RSS above its RSS after ``import jax, sintersim``
(``ru_maxrss``; and the peak of the run alone, with the kernel's counter reset after compiling);
on a GPU the device's ``peak_bytes_in_use`` and the host's peak RSS. Printed next to each: the
estimate and estimate / measured (target: within 20 %; RSS on the CPU varies by some 10 %
from run to run with what malloc keeps of freed buffers under its 32 MiB mmap ceiling).

``--calibrate``: XLA's work space per cell (`xla_work`, from `Compiled.memory_analysis`, nothing
allocated) for 2D and 3D grids, P = 1..32 and the [noise] / [orientation] features, next to the
lines fitted in `sintersim.solver._memory.COEFFICIENTS` for the current platform.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
from pathlib import Path

CHILD_TAG = "BENCH_MEMORY_RESULT "
FULL = ["4096x4096:4:float32", "256x256x256:6:float32"]  # buffers over 32 MiB: no malloc slack
QUICK = ["2048x2048:4:float32", "128x128x128:6:float32"]


def bench_model():
    """The model of the benchmarks (`scripts/bench_packing.py`)."""
    import sintersim as ss

    return ss.SinterModel(
        ss.WangEnergy(A=5.0, B=1.0, kappa_rho=3.0, kappa_eta=3.0),
        ss.Mobility(M_vol=0.0, M_vap=0.0, M_surf=1.0, M_gb=0.1),
        1.0,
    )


def _rss_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


def _child(shape: tuple[int, ...], n_fields: int, dtype: str, calls: int, steps: int) -> dict:
    """In a fresh process: the measurement itself (see the module docstring)."""
    import jax

    jax.config.update("jax_enable_x64", dtype == "float64")
    import jax.numpy as jnp
    import numpy as np

    import sintersim as ss
    from sintersim.observables import two_particle_observables
    from sintersim.solver import estimate_memory

    jnp.zeros(1).block_until_ready()  # the backend is up
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dev = jax.devices()[0]
    model = bench_model()
    grid = ss.Grid(shape, 1.0)
    dt = jnp.dtype(dtype)
    spec = (jax.ShapeDtypeStruct(shape, dt), jax.ShapeDtypeStruct((n_fields, *shape), dt))
    n0 = shape[0]

    def step(r, e):
        return ss.solver.advance(model, grid, ss.State(r, e), steps, 0.1)

    def observe(r, e):
        return two_particle_observables(ss.State(r, e), grid, model, 0.25 * n0, 0.75 * n0)

    adv = jax.jit(step).lower(*spec).compile()
    obs = jax.jit(observe).lower(*spec).compile()
    xla = {
        name: {k: int(getattr(m, f"{k}_size_in_bytes")) for k in ("argument", "output", "temp")}
        for name, m in (("advance", adv.memory_analysis()), ("observe", obs.memory_analysis()))
    }
    compiled_kb = _rss_kb("VmRSS")
    try:  # reset the kernel's peak-RSS counter: the run's own peak, without compiling
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    # one particle per field, on a diagonal, radius an eighth of the smallest side
    rng = np.random.default_rng(0)
    centres = rng.uniform(0.2, 0.8, (n_fields, len(shape))) * np.asarray(shape)
    radius = min(shape) / 8
    state0 = ss.initial.particles(grid, centres, [radius] * n_fields, 1.5, dtype=dt)
    s = state0
    for _ in range(calls):
        s = adv(s.rho, s.eta)
        jax.device_get(obs(s.rho, s.eta))
        np.asarray(s.rho), np.asarray(s.eta)  # a checkpoint (run.h5)
    ok = bool(jnp.isfinite(s.rho).all())
    stats = dev.memory_stats() or {}
    out = {
        "shape": list(shape),
        "n_fields": n_fields,
        "dtype": dtype,
        "platform": dev.platform,
        "jax": jax.__version__,
        "finite": ok,
        "xla": xla,
        "peak_rss_over_import": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_kb)
        * 1024,
        "compiled_rss_over_import": (compiled_kb - base_kb) * 1024,
        "run_peak_rss": (_rss_kb("VmHWM") - compiled_kb) * 1024 if reset else None,
        "device_peak": stats.get("peak_bytes_in_use"),
    }
    est = estimate_memory(shape, n_fields, dt)
    out["estimate"] = {
        "device": est.device_bytes,
        "host": est.host_bytes,
        "total": est.total_on(dev.platform),
        "breakdown": est.breakdown,
    }
    return out


def measure_peak(
    shape: tuple[int, ...], n_fields: int, dtype: str = "float32", calls: int = 5, steps: int = 1
) -> dict:
    """Estimate and measured peak memory of stepping a state of ``shape`` with ``n_fields``
    order parameters in ``dtype`` (``calls`` jitted `advance` calls of ``steps`` steps), in a
    fresh process. ``ratio``: estimate / measured (the device peak on a GPU, peak RSS over the
    import baseline on the CPU); ``ratio_run``: the same against the run alone (CPU)."""
    spec = json.dumps([list(shape), n_fields, str(dtype), calls, steps])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", spec]
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=1800)
    row = None
    for line in p.stdout.splitlines():
        if line.startswith(CHILD_TAG):
            row = json.loads(line[len(CHILD_TAG) :])
    if row is None:
        raise RuntimeError(f"measurement child failed ({p.returncode}):\n{p.stderr[-3000:]}")
    est = row["estimate"]
    if row["platform"] == "cpu":
        row["measured"] = row["peak_rss_over_import"]
        run = row["run_peak_rss"]
        row["ratio_run"] = est["total"] / run if run else None
    else:
        row["measured"] = row["device_peak"]
        row["ratio_host"] = est["host"] / max(1, row["peak_rss_over_import"])
    row["ratio"] = est["total"] / row["measured"] if row["measured"] else None
    a, o = row["xla"]["advance"], row["xla"]["observe"]
    state = a["argument"]
    # what XLA says a run holds at its peak: the kept initial state + argument + result + the
    # larger work space (a step's or an observation's)
    row["xla_total"] = state + a["argument"] + a["output"] + max(a["temp"], o["temp"])
    b = est["breakdown"]
    row["ratio_xla"] = (est["device"] - b["constants and FFT plans"] - b["runtime"]) / row[
        "xla_total"
    ]
    return row


def _feature_setup(kind: str, ndim: int, dtype: str):
    """(model, stepper) of a two-particle config with ``kind`` (plain, noise, orientation)."""
    import sintersim as ss

    if kind == "plain":
        return bench_model(), ss.solver.DEFAULT_STEPPER
    toml = (
        f"[grid]\nshape = {[32] * ndim}\nspacing_nm = 0.5\ndtype = '{dtype}'\n"
        "[particles]\nradius_nm = 3.0\n[time]\nend_s = 0.01\nn_saves = 3\n"
    )
    toml += {
        "noise": "[noise]\nenabled = true\n",
        "orientation": "[orientation]\nenabled = true\nmisorientation_deg = 10.0\n"
        "rotational_mobility_m3_Js = 1e-20\n",
    }[kind]
    setup = ss.scenario.build(ss.scenario.loads_config(toml))
    return setup.model, setup.stepper


def xla_work(shape: tuple[int, ...], p: int, dtype: str = "float32", kind: str = "plain") -> dict:
    """XLA's buffer analysis (nothing allocated) of the jitted `advance` and observables
    passes, per cell in units of the itemsize: the work spaces the estimate's lines fit."""
    import jax
    import jax.numpy as jnp

    import sintersim as ss
    from sintersim.observables import two_particle_observables

    model, stepper = _feature_setup(kind, len(shape), dtype)
    grid, dt = ss.Grid(shape, 1.0), jnp.dtype(dtype)
    o = None
    if kind == "orientation":
        o = jax.ShapeDtypeStruct((p,) if len(shape) == 2 else (p, 4), dt)
    spec = (jax.ShapeDtypeStruct(shape, dt), jax.ShapeDtypeStruct((p, *shape), dt), o)

    def step(r, e, o):
        return ss.solver.advance(model, grid, ss.State(r, e, o), 3, 0.1, stepper)

    def observe(r, e, o):
        return two_particle_observables(ss.State(r, e, o), grid, model, 4.0, 12.0)

    unit = math.prod(shape) * dt.itemsize
    a = jax.jit(step).lower(*spec).compile().memory_analysis()
    b = jax.jit(observe).lower(*spec).compile().memory_analysis()
    return {
        "shape": list(shape),
        "n_fields": p,
        "dtype": dtype,
        "kind": kind,
        "state": a.argument_size_in_bytes / unit,
        "step_work": a.temp_size_in_bytes / unit,
        "observe_work": b.temp_size_in_bytes / unit,
    }


def calibrate(log=print) -> list[dict]:
    """`xla_work` over 2D/3D grids, P = 1..32 and the features, next to the fitted lines of the
    current platform; ``fit_ratio``: what the estimate counts of the run's buffers (the state
    FIELD_COPIES times and the fitted work space) over what XLA says they are."""
    import jax

    import sintersim.solver as m

    platform = "cpu" if jax.devices()[0].platform == "cpu" else "gpu"
    rows = []
    log(f"{platform}: work space per cell, in itemsizes (P fields + rho = P + 1)")
    log(f"{'kind':>12} {'shape':>10} {'P':>3} {'step':>7} {'observe':>7} {'fit':>7} {'fit/XLA':>7}")
    for kind in ("plain", "noise", "orientation"):
        for shape in ((128, 128), (32, 32, 32)):
            for p in (1, 2, 4, 8, 12, 16, 24, 32):
                r = xla_work(shape, p, "float32", kind)
                est = m.estimate_memory(
                    shape, p, "float32", noise=kind == "noise", orientation=kind == "orientation"
                )
                r["fit"] = est.breakdown["FFT work space"] / (math.prod(shape) * 4)
                held = m.FIELD_COPIES * r["state"] + max(r["step_work"], r["observe_work"])
                r["fit_ratio"] = (m.FIELD_COPIES * r["state"] + r["fit"]) / held
                rows.append(r)
                log(
                    f"{kind:>12} {'x'.join(map(str, shape)):>10} {p:3d} {r['step_work']:7.2f} "
                    f"{r['observe_work']:7.2f} {r['fit']:7.2f} {r['fit_ratio']:7.3f}",
                )
    return rows


def _parse_case(text: str) -> tuple[tuple[int, ...], int, str]:
    shape, p, dtype = text.split(":")
    return tuple(int(n) for n in shape.split("x")), int(p), dtype


def _num(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _mib(b) -> str:
    return "-" if b is None else f"{b / 2**20:9.1f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="two small cases")
    ap.add_argument("--case", action="append", help="SHAPE:FIELDS:DTYPE, e.g. 2048x2048:4:float32")
    ap.add_argument("--json", type=Path, help="write the rows here")
    ap.add_argument(
        "--calibrate", action="store_true", help="XLA's work space per cell vs the fitted lines"
    )
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        shape, p, dtype, calls, steps = json.loads(a._child)
        row = _child(tuple(shape), p, dtype, calls, steps)
        print(CHILD_TAG + json.dumps(row), flush=True)
        return 0
    if a.calibrate:
        rows = calibrate()
        if a.json:
            a.json.write_text(json.dumps(rows, indent=1))
        return 0
    cases = a.case or (QUICK if a.quick else FULL)
    rows = []
    print(
        f"{'case':>24} {'estimate MiB':>12} {'measured MiB':>12} {'ratio':>6} "
        f"{'run-only':>8} {'XLA MiB':>9} {'est/XLA':>7} {'within 20 %':>11}"
    )
    for c in cases:
        row = measure_peak(*_parse_case(c))
        rows.append(row)
        ratio, run = row["ratio"], row.get("ratio_run")
        ok = ratio is not None and 0.8 <= ratio <= 1.2
        print(
            f"{c:>24} {_mib(row['estimate']['total']):>12} {_mib(row['measured']):>12} "
            f"{_num(ratio):>6} {_num(run):>8} {_mib(row['xla_total']):>9} "
            f"{row['ratio_xla']:7.3f} {'yes' if ok else 'NO':>11}",
            flush=True,
        )
        if a.json:  # after every case: a run cut short keeps what it measured
            a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

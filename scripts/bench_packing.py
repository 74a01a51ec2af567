"""Many-particle benchmark: step time vs number of particles at a fixed number of fields, vs grid
size, and the throughput of a sweep.

    python scripts/bench_packing.py [--quick] [--json FILE] [--sections a,b,...]

Sections (all by default):

particles2d  Fixed grid (1024^2; --quick 512^2) and fixed number of order parameters P, 2D
             hexagonal monolayers of 2 .. > 1000 particles: the step costs the same for every
             count (it only sees fields, not particles); max / min step time should be ~1.
particles3d  The same in 3D: random packings of 2 .. 100 spheres (8.1 +- 1.2 nm at 0.5 nm per
             cell, as in issue 9) on a fixed 128^3 grid (--quick: 64^3, radius 4 cells), float32.
             The largest count also reports its peak memory (host RSS; device peak where the
             backend reports it).
             In both, P = 8 (or the largest colouring over the counts, if more), the colouring at
             a run's default safety distance (4 interface widths plus the largest radius).
grid         Fixed particle size, growing box (more particles and more cells): time per cell.
sweep        N members (8; --quick 4) of a small pair config (the demo, N values of the second
             radius) run as one vmapped program by `run_sweep` vs one after another through
             `simulate(build(member.config))`: seconds per member with and without compilation
             (jax's compile events during each part are summed and subtracted) and the speed-up.
sweep_noise  The same with thermal noise on, N noise seeds.

Every figure comes from this run; step times are medians over repeated calls of one jitted
`advance` per grid (the number of steps per call is a traced argument, so each grid compiles once).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.resources
import json
import math
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import sintersim as ss

ENERGY = ss.WangEnergy(A=5.0, B=1.0, kappa_rho=3.0, kappa_eta=3.0)
MODEL = ss.SinterModel(ENERGY, ss.Mobility(M_vol=0.0, M_vap=0.0, M_surf=1.0, M_gb=0.1), 1.0)
SECTIONS = ("particles2d", "particles3d", "grid", "sweep", "sweep_noise")


# ----------------------------------------------------------------------------------------------
# helpers


@functools.lru_cache(maxsize=8)
def _advance_for(grid: ss.Grid):
    return jax.jit(lambda s, n: ss.solver.advance(MODEL, grid, s, n, 0.1))


def step_time(grid, state, n=None, repeats=5, target_call_s=0.3, max_steps=200) -> tuple:
    """(median seconds per step, steps per call). ``n`` None: steps per call chosen so a call
    takes about ``target_call_s`` (from one timed call of 2 steps)."""
    run = _advance_for(grid)
    if n is None:
        two = jnp.asarray(2, jnp.int32)
        jax.block_until_ready(run(state, two))  # compile
        t0 = time.perf_counter()
        jax.block_until_ready(run(state, two))
        t2 = (time.perf_counter() - t0) / 2
        n = int(np.clip(round(target_call_s / max(t2, 1e-6)), 2, max_steps))
    nn = jnp.asarray(n, jnp.int32)
    jax.block_until_ready(run(state, nn))
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(run(state, nn))
        ts.append((time.perf_counter() - t0) / n)
    return statistics.median(ts), n


def pad_fields(state: ss.State, p: int) -> ss.State:
    extra = p - state.eta.shape[0]
    if extra < 0:
        raise ValueError(f"the packing needs {state.eta.shape[0]} fields > {p}")
    eta = jnp.concatenate([state.eta, jnp.zeros((extra, *state.rho.shape), state.eta.dtype)])
    return ss.State(state.rho, eta)


def packing_state(grid, pk: ss.packing.Packing, width, safety=None, dtype=jnp.float32):
    """(state, number of fields the colouring needs) of ``pk`` placed on ``grid`` (periodic in
    the grid's box; the packing's own box may be smaller). ``safety`` None: the default of
    `Packing.to_state` and of a run, 4 widths plus the largest radius."""
    on_grid = ss.packing.Packing(pk.centres, pk.radii, pk.orientations, tuple(grid.lengths))
    if safety is None:
        safety = 4.0 * width + float(np.max(pk.radii))
    fields = on_grid.assign_fields(safety)
    n_fields = int(fields.max()) + 1
    st = ss.particles(grid, pk.centres, pk.radii, width, fields, n_fields, dtype=dtype)
    return st, n_fields


def subset(pk: ss.packing.Packing, n: int) -> ss.packing.Packing:
    return ss.packing.Packing(pk.centres[:n], pk.radii[:n], pk.orientations[:n], pk.box)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_peak_mb() -> float | None:
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:
        return None
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 2**20


def _vs_count(grid, full, counts, width, safety, p_min, what, log, repeats) -> list[dict]:
    """Step time of the first ``n`` particles of ``full`` on ``grid`` for each count, all padded
    to the same number of fields (the largest colouring, at least ``p_min``). The counts are
    timed in interleaved rounds (one call of each per round, median over rounds), so a change
    of background load hits every count alike."""
    built = []
    for n in counts:
        t0 = time.perf_counter()
        st, need = packing_state(grid, subset(full, n), width, safety)
        built.append((n, st, need, time.perf_counter() - t0))
    P = max(p_min, *(b[2] for b in built))
    states = [pad_fields(b[1], P) for b in built]
    built = [(n, need, build_s) for n, _, need, build_s in built]
    _, n_steps = step_time(grid, states[0], repeats=1)  # compile; steps per call
    run, nn = _advance_for(grid), jnp.asarray(n_steps, jnp.int32)
    times: list[list[float]] = [[] for _ in states]
    for _ in range(repeats):
        for k, st in enumerate(states):
            t0 = time.perf_counter()
            jax.block_until_ready(run(st, nn))
            times[k].append((time.perf_counter() - t0) / n_steps)
    rows = []
    for (n, need, build_s), ts in zip(built, times, strict=True):
        t = statistics.median(ts)
        rows.append(
            {
                "particles": n,
                "fields": P,
                "fields_needed": need,
                "grid": list(grid.shape),
                "step_ms": t * 1e3,
                "step_ms_min": min(ts) * 1e3,
                "steps_per_call": n_steps,
                "rounds": repeats,
                "build_s": build_s,
                "state_mb": (1 + P) * grid.size * 4 / 2**20,
            }
        )
        log(
            f"  {what} {n:5d} particles ({need} fields needed), P = {P}, {grid.shape}: "
            f"{t * 1e3:9.3f} ms/step (median of {repeats}; min {min(ts) * 1e3:.3f})"
        )
    return rows


def flatness(rows: list[dict]) -> float:
    times = [r["step_ms"] for r in rows]
    return max(times) / min(times)


# ----------------------------------------------------------------------------------------------
# sections


def vs_particles(quick: bool, p_fields: int = 8, log=print) -> list[dict]:
    """2D: a fixed grid (1024^2, radius 8; quick 512^2, radius 6) and P = ``p_fields`` (or the
    colouring's need if larger); the first n sites of one hexagonal monolayer (gap 2 cells)."""
    if quick:
        side, radius, counts = 512, 6.0, (2, 100, 1000, 1500)
    else:
        side, radius, counts = 1024, 8.0, (2, 100, 1000, 3500)
    grid = ss.Grid((side, side))
    gap = 2.0
    a = 2 * radius + gap
    cols = int(side // a)
    rows_ = int(side // (a * math.sqrt(3) / 2)) // 2 * 2
    full = ss.packing.hex_monolayer(rows_, cols, radius, gap)  # box <= the grid
    counts = tuple(c for c in counts if c <= full.n)
    return _vs_count(grid, full, counts, 1.0, None, p_fields, "2D", log, repeats=7)


def vs_particles_3d(quick: bool, p_fields: int = 8, log=print) -> list[dict]:
    """3D: random packings (first n of one packing of 100) on 128^3 (quick 64^3), float32."""
    if quick:
        side, radius, spread, counts = 64, 4.0, 0.6, (2, 25, 100)
    else:  # 8.1 +- 1.2 nm diameters at 0.5 nm per cell
        side, radius, spread, counts = 128, 8.1 / 2 / 0.5, 1.2 / 2 / 0.5, (2, 10, 50, 100)
    grid = ss.Grid((side,) * 3)
    full = ss.packing.random_packing(
        max(counts), [float(side)] * 3, radius, size_spread=spread, min_gap=-1.0, seed=0
    )
    rows = _vs_count(grid, full, counts, 1.5, None, p_fields, "3D", log, repeats=5)
    rows[-1]["peak_rss_mb"] = peak_rss_mb()
    rows[-1]["device_peak_mb"] = device_peak_mb()
    return rows


def vs_grid(quick: bool, p_fields: int = 8, log=print) -> list[dict]:
    rows = []
    sizes = ((4, 4), (8, 8), (16, 16)) if not quick else ((4, 4), (8, 8))
    for nr, nc in sizes:
        pk = ss.packing.hex_monolayer(nr, nc, 6.0, 2.0)
        grid = pk.grid()
        state, _ = pk.to_state(grid, width=1.0, safety=4.0)
        st = pad_fields(state, p_fields)
        t, _ = step_time(grid, st)
        rows.append(
            {
                "particles": pk.n,
                "grid": list(grid.shape),
                "cells": grid.size,
                "step_ms": t * 1e3,
                "ns_per_cell": t / grid.size * 1e9,
            }
        )
        log(
            f"  {pk.n:4d} particles on {grid.shape}: {t * 1e3:.2f} ms/step, "
            f"{t / grid.size * 1e9:.1f} ns per cell"
        )
    return rows


# ---- sweep throughput


class CompileClock:
    """Seconds jax spends tracing, lowering and compiling (its monitoring events), summed."""

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        self.total = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, name, secs, **_):
        if name in self.EVENTS:
            self.total += secs

    @contextlib.contextmanager
    def measure(self, out: dict):
        c0, t0 = self.total, time.perf_counter()
        yield
        out["total_s"] = time.perf_counter() - t0
        out["compile_s"] = self.total - c0
        out["run_s"] = out["total_s"] - out["compile_s"]


_CLOCK: CompileClock | None = None


def _clock() -> CompileClock:
    global _CLOCK
    if _CLOCK is None:
        _CLOCK = CompileClock()
    return _CLOCK


SWEEPS = {
    # swept key, its values for n members, extra config text
    "radius2": ("particles.radius2_nm", lambda n: np.linspace(3.1, 2.5, n).round(3).tolist(), ""),
    "noise": (
        "noise.seed",
        lambda n: list(range(n)),
        "\n[noise]\nenabled = true\nscale = 0.2\n",
    ),
}


def sweep_config(members: int, end_s: float, n_saves: int, kind: str = "radius2"):
    """The demo pair (PbSe, 64 x 40, 423 K), no field output (observables only), ``members``
    values of the second particle's radius (kind "radius2") or, with thermal noise (scale 0.2),
    ``members`` noise seeds (kind "noise"). Both keep the same steps for every member (a
    temperature sweep would change the time unit and so the number of steps, and the vmapped
    loop runs until the longest member is done)."""
    from sintersim.scenario import loads_config

    key, values, extra = SWEEPS[kind]
    text = (importlib.resources.files("sintersim") / "data" / "demo.toml").read_text()
    text = text.replace("end_s = 1.0", f"end_s = {end_s}").replace(
        "n_saves = 40", f"n_saves = {n_saves}"
    )
    text += (
        "\n[output]\nfields = false\n" + extra + f'\n[sweep]\nparameters = {{ "{key}" = '
        f"{json.dumps(values(members))} }}\n"
    )
    cfg = loads_config(text)
    if cfg.time.end_s != end_s or cfg.time.n_saves != n_saves:
        raise RuntimeError("the demo config changed: adapt sweep_config")
    return cfg


@contextlib.contextmanager
def _timed_plot_sweep():
    """Wraps `sintersim.plot.plot_sweep` (looked up by `run_sweep` at call time) to record how
    long each call takes (the list yielded gets one entry per call)."""
    import sintersim.plot as plot

    orig, times = plot.plot_sweep, []

    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            times.append(time.perf_counter() - t0)

    plot.plot_sweep = timed
    try:
        yield times
    finally:
        plot.plot_sweep = orig


def bench_sweep(quick: bool, kind: str = "radius2", log=print) -> dict:
    from sintersim.scenario import build, plan_chunks, run_sweep, simulate, sweep_members
    from sintersim.solver import plan_steps

    n_members, end_s, n_saves = (4, 0.05, 5) if quick else (8, 0.2, 10)
    cfg = sweep_config(n_members, end_s, n_saves, kind)
    key = SWEEPS[kind][0]
    members = sweep_members(cfg)
    clock = _clock()

    def steps_of(setup) -> int:
        return sum(
            int(plan_steps(a, np.asarray([b]), setup.step_at(T))[0][0])
            for chunk in plan_chunks(setup)
            for a, b, T in chunk
        )

    steps = [steps_of(build(m.config)) for m in members]
    res: dict = {
        "config": "demo pair (PbSe, 64 x 40, float32, 423 K), output.fields = false"
        + (", noise scale 0.2" if kind == "noise" else ""),
        "members": n_members,
        "swept": {key: [m.values[key] for m in members]},
        "end_s": end_s,
        "n_saves": n_saves,
        "steps_per_member": steps,
        "devices": [str(d) for d in jax.devices()],
    }
    silent = lambda *a, **k: None  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        first: dict = {}
        with clock.measure(first):  # compiles the single-run program and the observables
            st = simulate(build(members[0].config), tmp / "first", log=silent).status
        res["first_single_run"] = {**first, "status": st}
        seq: dict = {}
        with clock.measure(seq):
            status = [
                simulate(build(m.config), tmp / "seq" / m.name, log=silent).status for m in members
            ]
        res["sequential"] = {**seq, "status": status}
        with _timed_plot_sweep() as plot_s:
            sw: dict = {}
            with clock.measure(sw):
                r = run_sweep(cfg, tmp / "sweep", log=silent)
            res["sweep"] = {**sw, "status": r.status, "groups": len(r.groups), "plot_s": plot_s[0]}
            # the sweep compiles its vmapped program on every call: a second call shows the rest
            sw2: dict = {}
            with clock.measure(sw2):
                r = run_sweep(cfg, tmp / "sweep2", log=silent)
            res["sweep_second_call"] = {**sw2, "status": r.status, "plot_s": plot_s[1]}
        for part in ("sweep", "sweep_second_call"):  # sweep.png is extra work of the sweep only
            res[part]["run_excl_plot_s"] = res[part]["run_s"] - res[part]["plot_s"]
    for part in ("sequential", "sweep", "sweep_second_call"):
        d = res[part]
        d["s_per_member"] = d["total_s"] / n_members
        d["s_per_member_excl_compile"] = d["run_s"] / n_members
        d["member_steps_per_s"] = sum(steps) / d["run_s"]
    # sequential in a fresh process: the same runs plus the single-run program's compilation
    seq_incl = res["sequential"]["total_s"] + res["first_single_run"]["compile_s"]
    res["sequential"]["total_incl_first_compile_s"] = seq_incl
    res["speedup_excl_compile"] = res["sequential"]["run_s"] / res["sweep"]["run_s"]
    res["speedup_excl_compile_and_plot"] = (
        res["sequential"]["run_s"] / res["sweep"]["run_excl_plot_s"]
    )
    res["speedup_incl_compile"] = seq_incl / res["sweep"]["total_s"]
    log(
        f"  {n_members} members ({key}) x {steps[0]} steps: sequential "
        f"{res['sequential']['s_per_member_excl_compile']:.3f} s/member, sweep "
        f"{res['sweep']['s_per_member_excl_compile']:.3f} s/member (compile excluded): "
        f"speed-up {res['speedup_excl_compile']:.2f}; including compile "
        f"{seq_incl:.2f} s vs {res['sweep']['total_s']:.2f} s: {res['speedup_incl_compile']:.2f}"
    )
    log(
        f"  compile: first single run {res['first_single_run']['compile_s']:.2f} s, sweep "
        f"{res['sweep']['compile_s']:.2f} s (second call "
        f"{res['sweep_second_call']['compile_s']:.2f} s); sweep.png {res['sweep']['plot_s']:.2f} "
        f"s, without it speed-up {res['speedup_excl_compile_and_plot']:.2f}; second sweep call "
        f"{res['sweep_second_call']['run_excl_plot_s'] / n_members:.3f} s/member (excl. compile, "
        "plot)"
    )
    return res


# ----------------------------------------------------------------------------------------------


def _table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    head = "  " + " ".join(f"{h:>{w}}" for h, _, w in cols)
    lines = [head]
    for r in rows:
        cells = []
        for _, key, w in cols:
            v = r.get(key)
            cells.append(f"{v:>{w}.3f}" if isinstance(v, float) else f"{v!s:>{w}}")
        lines.append("  " + " ".join(cells))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller cases (a few minutes on 2 cores)")
    ap.add_argument("--json", default=None, help="write every figure to this file")
    ap.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    args = ap.parse_args(argv)
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = sorted(set(wanted) - set(SECTIONS))
    if bad:
        ap.error(f"unknown sections {bad}; allowed: {SECTIONS}")

    def log(msg):
        print(msg, flush=True)

    t_start = time.perf_counter()
    log(f"jax {jax.__version__}, devices {jax.devices()}")
    res: dict = {
        "mode": "quick" if args.quick else "full",
        "devices": [str(d) for d in jax.devices()],
    }

    def save():
        res["total_s"] = time.perf_counter() - t_start
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            with open(args.json, "w") as fh:
                json.dump(res, fh, indent=2)

    cols = [
        ("particles", "particles", "9"),
        ("P", "fields", "3"),
        ("needed", "fields_needed", "6"),
        ("grid", "grid", "16"),
        ("ms/step", "step_ms", "10"),
        ("build s", "build_s", "8"),
    ]
    if "particles2d" in wanted:
        log("2D: step time vs number of particles (fixed grid and fields):")
        a = vs_particles(args.quick, log=log)
        res["vs_particles"] = a
        res["flatness"] = flatness(a)
        log(_table(a, cols))
        log(f"  max / min step time over particle counts (2D): {res['flatness']:.3f}")
        save()
    if "particles3d" in wanted:
        log("3D: step time vs number of particles (fixed grid and fields, float32):")
        c = vs_particles_3d(args.quick, log=log)
        res["vs_particles_3d"] = c
        res["flatness_3d"] = flatness(c)
        log(_table(c, cols))
        last = c[-1]
        dev = last["device_peak_mb"]
        log(
            f"  max / min step time over particle counts (3D): {res['flatness_3d']:.3f}; "
            f"{last['particles']} particles: state {last['state_mb']:.0f} MB, peak RSS "
            f"{last['peak_rss_mb']:.0f} MB" + (f", device peak {dev:.0f} MB" if dev else "")
        )
        save()
    if "grid" in wanted:
        log("step time vs grid size (hexagonal monolayers, P = 8):")
        res["vs_grid"] = vs_grid(args.quick, log=log)
        save()
    if "sweep" in wanted:
        log("sweep throughput: run_sweep (one vmapped program) vs sequential simulate:")
        res["sweep"] = bench_sweep(args.quick, "radius2", log=log)
        save()
    if "sweep_noise" in wanted:
        log("sweep throughput with thermal noise (noise seeds):")
        res["sweep_noise"] = bench_sweep(args.quick, "noise", log=log)
        save()
    save()
    log(f"total {res['total_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

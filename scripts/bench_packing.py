"""Many-particle benchmark: step time vs number of particles and vs grid size, and a 3D packing.

    python scripts/bench_packing.py [--quick] [--json FILE]

1. Fixed grid and fixed number of order parameters (P), a 2D hexagonal monolayer with more and
   more particles: the step costs the same (it only sees fields, not particles).
2. Fixed particle size, growing box (more particles and more cells): time per cell.
3. A 3D random packing (100 particles of 8.1 +- 1.2 nm at 0.5 nm per cell) on 128^3, float32,
   fields assigned by colouring: peak memory and step time (issue 9's size check).
Each figure comes from this run; timings are medians over repeated calls of a jitted advance.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import jax
import jax.numpy as jnp

import sintersim as ss

ENERGY = ss.WangEnergy(A=5.0, B=1.0, kappa_rho=3.0, kappa_eta=3.0)
MODEL = ss.SinterModel(ENERGY, ss.Mobility(M_vol=0.0, M_vap=0.0, M_surf=1.0, M_gb=0.1), 1.0)


def step_time(grid, state, n=20, repeats=5) -> float:
    run = jax.jit(lambda s: ss.solver.advance(MODEL, grid, s, n, 0.1))
    jax.block_until_ready(run(state))
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(run(state))
        ts.append((time.perf_counter() - t0) / n)
    return statistics.median(ts)


def pad_fields(state: ss.State, p: int) -> ss.State:
    extra = p - state.eta.shape[0]
    if extra < 0:
        raise ValueError(f"the packing needs {state.eta.shape[0]} fields > {p}")
    eta = jnp.concatenate([state.eta, jnp.zeros((extra, *state.rho.shape), state.eta.dtype)])
    return ss.State(state.rho, eta)


def vs_particles(quick: bool, p_fields: int = 8) -> list[dict]:
    """Same 256 x 224 box (float32), 2..~200 particles of radius 6 on P = 8 fields."""
    rows = []
    grid = ss.Grid((256, 224))
    full = ss.packing.hex_monolayer(16, 18, 6.0, 2.0)  # 288 sites; a fixed box for all counts
    counts = (2, 32, 128, 288) if not quick else (2, 128)
    for n in counts:
        sub = ss.packing.Packing(full.centres[:n], full.radii[:n], full.orientations[:n], full.box)
        # Fill the 256 x 224 grid (the lattice box, 224 x 222, sits inside; vapour around it).
        state, fields = sub.to_state(sub.grid(), width=1.0, safety=4.0)
        rho = jnp.zeros(grid.shape).at[: state.rho.shape[0], : state.rho.shape[1]].set(state.rho)
        eta = jnp.zeros((state.eta.shape[0], *grid.shape))
        eta = eta.at[:, : state.rho.shape[0], : state.rho.shape[1]].set(state.eta)
        st = pad_fields(ss.State(rho, eta), p_fields)
        t = step_time(grid, st)
        rows.append(
            {"particles": n, "fields": p_fields, "grid": list(grid.shape), "step_ms": t * 1e3}
        )
        print(
            f"  {n:4d} particles, P = {p_fields}, {grid.shape}: {t * 1e3:.2f} ms/step", flush=True
        )
    return rows


def vs_grid(quick: bool, p_fields: int = 8) -> list[dict]:
    rows = []
    sizes = ((4, 4), (8, 8), (16, 16)) if not quick else ((4, 4), (8, 8))
    for nr, nc in sizes:
        pk = ss.packing.hex_monolayer(nr, nc, 6.0, 2.0)
        grid = pk.grid()
        state, _ = pk.to_state(grid, width=1.0, safety=4.0)
        st = pad_fields(state, p_fields)
        t = step_time(grid, st)
        rows.append(
            {
                "particles": pk.n,
                "grid": list(grid.shape),
                "cells": grid.size,
                "step_ms": t * 1e3,
                "ns_per_cell": t / grid.size * 1e9,
            }
        )
        print(
            f"  {pk.n:4d} particles on {grid.shape}: {t * 1e3:.2f} ms/step, "
            f"{t / grid.size * 1e9:.1f} ns per cell",
            flush=True,
        )
    return rows


def packing_3d(quick: bool) -> dict:
    """Random packing of 100 spheres of 8.1 +- 1.2 nm (0.5 nm cells) on 128^3 in float32."""
    n_cells = 64 if quick else 128
    spacing = 0.5
    box = (n_cells * spacing,) * 3
    n = 4 if quick else 100  # 100 spheres: 11 % of the box, many in contact
    pk = ss.packing.random_packing(
        n,
        [b / spacing for b in box],
        8.1 / 2 / spacing,
        size_spread=1.2 / 2 / spacing,
        min_gap=-1.0,
        seed=0,
    )
    grid = pk.grid()
    t0 = time.perf_counter()
    state, fields = pk.to_state(grid, width=1.5, safety=3.0, dtype=jnp.float32)
    build_s = time.perf_counter() - t0
    t = step_time(grid, state, n=5, repeats=3)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "grid": list(grid.shape),
        "particles": pk.n,
        "fields": int(state.eta.shape[0]),
        "state_mb": (1 + state.eta.shape[0]) * grid.size * 4 / 2**20,
        "step_ms": t * 1e3,
        "peak_rss_mb": peak_mb,
        "build_s": build_s,
    }
    print(
        f"  3D {grid.shape}, {pk.n} particles on {out['fields']} fields (float32): "
        f"{t * 1e3:.0f} ms/step, state {out['state_mb']:.0f} MB, peak RSS {peak_mb:.0f} MB",
        flush=True,
    )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller cases (about a minute)")
    ap.add_argument("--json", default=None, help="write every figure to this file")
    args = ap.parse_args(argv)
    print(f"jax {jax.__version__}, devices {jax.devices()}")
    print("step time vs number of particles (fixed grid and fields):")
    a = vs_particles(args.quick)
    times = [r["step_ms"] for r in a]
    print(f"  max / min step time over particle counts: {max(times) / min(times):.3f}")
    print("step time vs grid size (hexagonal monolayers, P = 8):")
    b = vs_grid(args.quick)
    print("3D packing:")
    c = packing_3d(args.quick)
    res = {"vs_particles": a, "flatness": max(times) / min(times), "vs_grid": b, "packing_3d": c}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

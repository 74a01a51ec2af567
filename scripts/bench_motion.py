"""Cost of rigid-body motion per step: a packing-like state (8 fields, 4 grains each in 2D, 2 in
3D), the plain step vs the step with `RigidBody` (energy force, fast limit; its grains solved
together, and relaxed alone, ``coupled=False``), and the motion's parts (device labelling, force
density, per-grain sums, the whole velocity field). Ratios are measured in one run on one
device.

    python scripts/bench_motion.py            # 256^2 and 64^3, float32
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import sintersim as ss
from sintersim.model import RigidBody


def _state(grid: ss.Grid, fields: int, per_field: int, radius: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, grid.shape[0], (fields * per_field, grid.ndim))
    prof = [ss.initial.particle_profile(grid, c, radius, 1.5) for c in centres]
    rho = np.clip(np.max(prof, axis=0), 0, 1)
    eta = np.zeros((fields, *grid.shape))
    for k, p in enumerate(prof):
        eta[k % fields] = np.maximum(eta[k % fields], p)
    return ss.State(jnp.asarray(rho, jnp.float32), jnp.asarray(eta, jnp.float32))


def _time(fn, *args, repeat: int = 5) -> float:
    fn = jax.jit(fn)
    jax.block_until_ready(fn(*args))
    tic = time.perf_counter()
    for _ in range(repeat):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - tic) / repeat


def bench(shape, fields=8, per_field=4, radius=10.0, steps=10) -> dict:
    grid = ss.Grid(shape)
    state = _state(grid, fields, per_field, radius)
    energy = ss.calibrate.grid_energy(1 / 3, 3.0)
    body = RigidBody(None, max_grains=ss.model.grain_slots(state.eta))
    alone = RigidBody(None, coupled=False)  # each grain relaxed alone: no contact integrals
    plain = ss.SinterModel(energy, ss.Mobility(0, 0, 0.1, 1.0), 1.0)
    moving = ss.SinterModel(energy, plain.mobility, 1.0, kinetics=(body,))
    moving_alone = ss.SinterModel(energy, plain.mobility, 1.0, kinetics=(alone,))
    out = {}
    cases = (("step_plain", plain), ("step_motion", moving), ("step_uncoupled", moving_alone))
    for name, m in cases:
        out[name] = _time(lambda s, m=m: ss.solver.advance(m, grid, s, steps, 0.1), state) / steps
    labels = ss.model.label_components
    out["labels"] = _time(lambda e: labels(e > body.threshold, grid.ndim), state.eta)
    out["force"] = _time(lambda s: body.force_density(plain, grid, s), state)
    out["grains"] = _time(lambda s: body.grains(plain, grid, s).force, state)
    out["velocity"] = _time(lambda s: body.velocity_field(plain, grid, s, 0.1), state)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="128^2 and 32^3")
    args = ap.parse_args()
    cases = (
        [((128, 128), 4, 10.0), ((32, 32, 32), 2, 6.0)]
        if args.quick
        else [
            ((256, 256), 4, 10.0),
            ((64, 64, 64), 2, 7.0),
        ]
    )
    print(f"devices {jax.devices()}")
    for shape, per_field, radius in cases:
        r = bench(shape, per_field=per_field, radius=radius)
        ms = {k: 1e3 * v for k, v in r.items()}
        print(
            f"{shape}: plain {ms['step_plain']:.1f} ms/step, with motion "
            f"{ms['step_motion']:.1f} ms/step (x{r['step_motion'] / r['step_plain']:.1f}; "
            f"grains relaxed alone {ms['step_uncoupled']:.1f}); "
            f"labels {ms['labels']:.1f}, force {ms['force']:.1f}, grains {ms['grains']:.1f}, "
            f"velocity field {ms['velocity']:.1f} ms"
        )


if __name__ == "__main__":
    main()

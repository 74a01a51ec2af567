"""Host-side driver: a validated config -> model, grid, initial state -> a run with outputs.

The time loop is one compiled `advance` (a while loop of steps on the device), called once per
save-point; the host only syncs there to record observables, write files and update progress.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ._grid import Grid
from ._initial import two_particle_centres, two_particles
from ._integrate import advance, plan_steps, state_ok
from ._model import SinterModel
from ._observables import two_particle_observables
from ._state import State
from ._units import NM, Nondimensional, nondimensionalize
from .config import RunConfig


@dataclasses.dataclass
class Setup:
    """Everything a run needs, built from a config."""

    config: RunConfig
    nd: Nondimensional
    grid: Grid
    state0: State
    centres: list[list[float]]
    t_end: float  # internal units
    dt: float  # internal units
    save_times: np.ndarray  # internal units

    @property
    def model(self) -> SinterModel:
        return self.nd.model


def build(config: RunConfig) -> Setup:
    dtype = jnp.float64 if config["grid"]["dtype"] == "float64" else jnp.float32
    if dtype == jnp.float64:
        jax.config.update("jax_enable_x64", True)
    nd = nondimensionalize(config.physical_parameters())
    dx_nm = config["grid"]["spacing_nm"]
    grid = Grid(tuple(config["grid"]["shape"]), 1.0)
    p = config["particles"]
    r1 = p["radius_nm"] / dx_nm
    r2 = (p["radius2_nm"] or p["radius_nm"]) / dx_nm
    gap = p["gap_nm"] / dx_nm
    # tanh(x/w) has w_s = 2w: start from the requested surface width (relaxes in a few steps).
    w = 0.5 * config["model"]["interface_width_nm"] / dx_nm
    state0 = two_particles(grid, r1, r2, gap, width=w, dtype=dtype)
    centres = two_particle_centres(grid, r1, r2, gap)
    tm = config["time"]
    t_end = float(nd.scales.to_internal_time(tm["end_s"]))
    dt = float(nd.scales.to_internal_time(tm["dt_s"])) if tm["dt_s"] else tm["dt_internal"]
    n = tm["n_saves"]
    if tm["save_spacing"] == "log":
        save = np.geomspace(t_end * 1e-3, t_end, n)
    else:
        save = t_end * np.arange(1, n + 1) / n
    return Setup(config, nd, grid, state0, centres, t_end, dt, save)


def observables_row(setup: Setup, t: float, state: State) -> dict[str, float]:
    """Observables at one save-point, in physical units."""
    obs = _observe(setup.model, setup.grid, state, setup.centres[0][0], setup.centres[1][0])
    obs = jax.device_get(obs)
    L = setup.nd.scales.length_m
    e_unit = setup.nd.scales.energy_J_m3 * L**setup.grid.ndim
    d0 = abs(setup.centres[1][0] - setup.centres[0][0])
    neck_key = "neck_width_nm" if setup.grid.ndim == 2 else "neck_radius_nm"
    vol = "nm2" if setup.grid.ndim == 2 else "nm3"
    row = {
        "time_s": float(setup.nd.scales.to_seconds(t)),
        neck_key: float(obs["neck"]) * L / NM,
        "centre_distance_nm": float(obs["centre_distance"]) * L / NM,
        "shrinkage": 1.0 - float(obs["centre_distance"]) / d0,
        "free_energy_J": float(obs["free_energy"]) * e_unit,
        f"mass_{vol}": float(obs["mass"]) * (L / NM) ** setup.grid.ndim,
    }
    for i, v in enumerate(np.atleast_1d(obs["grain_volume"])):
        row[f"grain{i + 1}_volume_{vol}"] = float(v) * (L / NM) ** setup.grid.ndim
    return row


@jax.jit
def _observe(model, grid, state, x_lo, x_hi):
    return two_particle_observables(state, grid, model, x_lo, x_hi)


@jax.jit
def _advance(model, grid, state, n, dt):
    s = advance(model, grid, state, n, dt)
    return s, state_ok(s)


class Unstable(RuntimeError):
    """A step went non-finite or out of bounds; ``state`` is the last good state."""

    def __init__(self, state: State, message: str):
        super().__init__(message)
        self.state = state


def run(setup: Setup, out: Path, progress=None, on_save=None) -> tuple[list[dict], State]:
    """Integrate to the end, recording observables at every save-point.

    progress: optional callable ``(t_internal) -> None`` for a progress display.
    on_save: optional callable ``(index, t, state, row) -> None`` (writers).
    Returns the observables rows and the final state. Raises `Unstable` (keeping what was
    written) if a state goes non-finite or out of bounds; ``exc.state`` is the last good state.
    """
    out.mkdir(parents=True, exist_ok=True)
    n, h = plan_steps(0.0, setup.save_times, setup.dt)
    state, t = setup.state0, 0.0
    rows = [observables_row(setup, 0.0, state)]
    if on_save:
        on_save(0, 0.0, state, rows[0])
    for i, (n_i, h_i, t_i) in enumerate(zip(n, h, setup.save_times, strict=True), start=1):
        new, ok = _advance(setup.model, setup.grid, state, int(n_i), float(h_i))
        if not bool(ok):
            raise Unstable(
                state,
                f"the state became non-finite or left [−0.5, 1.5] between t = "
                f"{setup.nd.scales.to_seconds(t):.4g} s and {setup.nd.scales.to_seconds(t_i):.4g}"
                f" s (dt = {setup.nd.scales.to_seconds(h_i):.3g} s); reduce time.dt_s",
            )
        state, t = new, float(t_i)
        row = observables_row(setup, t, state)
        rows.append(row)
        if on_save:
            on_save(i, t, state, row)
        if progress:
            progress(t)
    return rows, state


def timed(fn, *a, **k):
    t = time.perf_counter()
    r = fn(*a, **k)
    return r, time.perf_counter() - t

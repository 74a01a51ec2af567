"""Host-side driver: config -> model, grid, initial state -> a run with outputs, and resume.

The time loop is one compiled `advance` (a while loop of steps on the device), called once per
save-point; the host syncs only there, to check the state, record observables, write files and
update progress.

A temperature schedule (``[temperature]``) splits each save interval into chunks at the
schedule's steps, and a ramp further into chunks over which T changes by at most
``max_change_K``. Each chunk runs the same compiled `advance` with the model rebuilt at the chunk's
mid-point temperature (`model_at`): a pytree of the same structure with new coefficient values, so
nothing recompiles. The internal time unit stays that of the start temperature throughout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from sintersim._version import __version__
from sintersim.io import RunFile, RunFileError, read_run, write_csv, write_grains_csv, write_xdmf
from sintersim.model._density_bounds import soft_density_hint
from sintersim.packing._layouts import Packing
from sintersim.packing._reassign import ReassignError, reassign
from sintersim.packing._tracking import GrainTracker
from sintersim.scenario._assemble import (
    MAX_DT_INTERNAL,
    Setup,
    build,
    extend_schedule,
    plan_chunks,
)
from sintersim.scenario._config import RunConfig, loads_config
from sintersim.scenario._observe import (
    crystal_state,
    energy_row,
    grain_statistics,
    history_columns,
    packing_row,
    pair_row,
)
from sintersim.scenario._schema import ConfigError
from sintersim.solver._adaptive import Controlled, advance_adaptive
from sintersim.solver._integrate import advance, plan_steps, state_ok
from sintersim.state import State

H5_NAME = "run.h5"


def observables_row(setup: Setup, t: float, state: State) -> dict[str, float]:
    """Observables at one save-point, in physical units: the pair's row (`pair_row`), or for a
    packing the energy and mass (its full row needs the grain tracker: `packing_row`)."""
    return pair_row(setup, t, state) if setup.is_pair else energy_row(setup, t, state)


@jax.jit
def _advance(model, grid, stepper, state, n, dt, step0):
    s = advance(model, grid, state, n, dt, stepper, step0=step0)
    return s, state_ok(s)


@jax.jit
def _advance_adaptive(model, grid, stepper, controller, state, ctrl, span, step0):
    s, ctrl, prog = advance_adaptive(
        model, grid, state, span, ctrl, stepper, controller, max_steps=MAX_ATTEMPTS, step0=step0
    )
    return s, ctrl, prog, state_ok(s)


# Attempts (accepted + rejected steps) per chunk before an adaptive run gives up: a step that
# small is a run going wrong, not a run to finish.
MAX_ATTEMPTS = 10_000_000


def chunk_steps(setup: Setup, chunk: tuple[float, float, float]) -> tuple[int, float]:
    """(number of steps, step) of one chunk ``(t_a, t_b, T_K)``: equal steps no longer than the
    step at its temperature."""
    a, b, T = chunk
    n, h = plan_steps(a, np.asarray([b]), setup.step_at(T))
    return int(n[0]), float(h[0])


def no_free_field(e: ReassignError) -> str:
    """Why a run stops when a re-assignment finds no free order parameter."""
    return (
        f"{e} (grains of one order parameter came closer than particles.safety_nm and no field "
        "is free: raise particles.spare_fields)"
    )


@dataclasses.dataclass
class Stepped:
    """What one save interval took: the state, whether every chunk stayed healthy, accepted
    and rejected steps, the last step (internal units) and the controller's state after it
    (adaptive runs; None with fixed steps)."""

    state: State
    ok: jax.Array | np.bool_ | bool
    steps: int
    rejected: int
    dt: float
    ctrl: Controlled | None
    reached: bool = True  # False: the step controller gave up short of the interval's end


def _advance_interval(
    setup: Setup,
    state: State,
    chunks: list[tuple[float, float, float]],
    step0: int,
    refine: int,
    ctrl: Controlled | None = None,
) -> Stepped:
    """Advance over one save interval, chunk by chunk (one compiled call each, dispatched without
    waiting for the device), each with the model of its temperature.

    refine: split every chunk's steps this many times finer (a retry after an instability; for
    adaptive steps: bounds / refine, tolerance / refine^2).
    ctrl: the step controller's state at the interval's start (adaptive runs).
    """
    if setup.controller is not None:
        return _advance_interval_adaptive(setup, state, chunks, step0, refine, ctrl)
    ok, taken, h_last = jnp.asarray(True), 0, np.inf
    for chunk in chunks:
        n, h = chunk_steps(setup, chunk)
        n_c, h_c = n * refine, h / refine
        model = setup.model_at(chunk[2])
        state, ok_c = _advance(model, setup.grid, setup.stepper, state, n_c, h_c, step0 + taken)
        ok, taken, h_last = ok & ok_c, taken + n_c, h_c
    return Stepped(state, ok, taken, 0, h_last, None)


def _advance_interval_adaptive(setup, state, chunks, step0, refine, ctrl) -> Stepped:
    real = state.rho.dtype
    if ctrl is None:
        ctrl = Controlled.start(setup.dt, real)
    if refine > 1:  # a retry starts over from a step that much shorter
        ctrl = Controlled(jnp.asarray(ctrl.dt / refine, real), ctrl.ratio)
    ok, reached, taken, rejected = jnp.asarray(True), jnp.asarray(True), jnp.asarray(step0), 0
    h_last = None
    for a, b, T in chunks:
        model, controller = setup.model_at(T), setup.controller_at(T, refine)
        state, ctrl, prog, ok_c = _advance_adaptive(
            model, setup.grid, setup.stepper, controller, state, ctrl, b - a, taken
        )
        ok, reached = ok & ok_c & prog.reached, reached & prog.reached
        taken, rejected, h_last = taken + prog.accepted, rejected + prog.rejected, prog.dt_last
    return Stepped(state, ok, int(taken) - step0, int(rejected), float(h_last), ctrl, bool(reached))


# Relative rise of F over one isothermal save interval beyond which the step counts as unstable:
# a gradient flow only lowers F, and round-off moves it by ~1e-6. Seen without this check: a
# [melting] run at dt_internal = 0.1 whose rho drifted to -0.27 in the vapour while F grew by
# ~1 % per save, all inside the [-0.5, 1.5] bounds.
ENERGY_RISE_TOL = 1e-3


def _energy_rose(setup: Setup, chunks, before: dict, after: dict) -> bool:
    """True if F rose by more than ``ENERGY_RISE_TOL`` over an interval that is a pure gradient
    flow at one temperature: every kinetics term of the model says it keeps the gradient flow
    (noise, sinks and advection do not), and the interval's chunks are at the temperature of
    the previous save (after a step or on a ramp F is evaluated with other coefficients)."""
    if not setup.model.gradient_flow:
        return False
    T0, f0, f1 = (
        before.get("temperature_K"),
        before.get("free_energy_J"),
        after.get("free_energy_J"),
    )
    if T0 is None or f0 is None or f1 is None:  # a file from an older version
        return False
    if not all(np.isclose(T, T0, rtol=1e-9, atol=0.0) for *_, T in chunks):
        return False
    return bool(f1 - f0 > ENERGY_RISE_TOL * max(abs(f0), abs(f1)))


class Unstable(RuntimeError):
    """A step went non-finite or out of bounds; ``state`` is the last good state."""

    def __init__(self, state: State, message: str):
        super().__init__(message)
        self.state = state


@dataclasses.dataclass
class Outcome:
    status: str  # "complete", "stopped", or "failed: ..."
    rows: list[dict[str, float]]
    state: State
    frames: int


def _attrs(setup: Setup) -> dict:
    sc = setup.nd.scales
    return {
        "config": setup.config.to_toml(),
        "version": __version__,
        "dx_nm": setup.config.grid.spacing_nm,
        "length_m": sc.length_m,
        "energy_J_m3": sc.energy_J_m3,
        "time_s": sc.time_s,
        "dt_internal": setup.dt,
        "temperature_K": setup.temperature.start_K,
        "temperature_schedule": setup.temperature.to_json(),
    }


def _crystal_eta(setup: Setup, state: State) -> np.ndarray:
    return np.asarray(crystal_state(setup, state).eta)


def _reassign(setup: Setup, state: State) -> tuple[State, int]:
    """Separate grains of one field that came within the safety distance (a packing; the crystal
    fields only: a liquid's field is not a grain's). Raises `ReassignError` when no field is
    free."""
    if setup.is_pair:
        return state, 0
    crystals = crystal_state(setup, state)
    k = crystals.eta.shape[0]
    moved, moves = reassign(crystals, setup.safety, max_fields=k)
    if not moves:
        return state, 0
    eta = jnp.concatenate([jnp.asarray(moved.eta), state.eta[k:]]).astype(state.eta.dtype)
    ori = None
    if crystals.orientation is not None:
        ori = jnp.concatenate([jnp.asarray(moved.orientation), state.orientation[k:]])
        ori = ori.astype(state.orientation.dtype)
    return State(state.rho, eta, ori), len(moves)


def _record(
    setup: Setup,
    t: float,
    state: State,
    tracker: GrainTracker,
    moved: int,
    frame: int,
    checked: dict[str, float] | None = None,
):
    """(row, grain history rows) at one save-point (the tracker already updated).

    checked: the row the stability check made of this very state (`observables_row`): the pair's
    row, or a packing's energy and mass, not computed again."""
    if setup.is_pair:
        _, hist = grain_statistics(setup, t, state, tracker)
        row = checked if checked is not None else pair_row(setup, t, state)
    else:
        row, hist = packing_row(setup, t, state, tracker, moved, base=checked)
    hist[:, 0] = frame
    return row, hist


def _particles(setup: Setup) -> dict[str, np.ndarray]:
    pk, dx = setup.packing, setup.config.grid.spacing_nm
    return {
        "centres_nm": pk.centres * dx,
        "radii_nm": pk.radii * dx,
        "orientations": np.asarray(pk.orientations, float),
        "field": np.asarray(setup.particle_fields, int),
        "box_nm": np.asarray(pk.box) * dx,
    }


class RunWriter:
    """The outputs of one run directory: run.h5 (fields, grain ids, observables, checkpoint),
    run.xmf, observables.csv and, at the end, grains.csv; and the grain tracker.

    Used by `simulate` and by every member of a sweep. ``start`` as in `simulate`.
    """

    def __init__(self, setup: Setup, out: Path, start: tuple | None = None):
        out.mkdir(parents=True, exist_ok=True)
        self.setup, self.out = setup, out
        h5 = out / H5_NAME
        self.save_fields = bool(setup.config.output.fields)
        self.precision = 8 if setup.dtype == jnp.float64 else 4
        self.keep: set[str] | None = None  # columns of an older file being continued
        self.ctrl: Controlled | None = None
        self.rejected = 0
        if start is None:
            index, t, state, steps = 0, 0.0, setup.state0, 0
            self.steps = 0
            self.tracker = GrainTracker.start(_crystal_eta(setup, state), setup.packing.centres)
            row0, hist = _record(setup, 0.0, state, self.tracker, 0, 0)
            row0.update(self._stepping(0.0))
            self.rows = [row0]
            self.rf = RunFile.create(
                h5,
                shape=setup.grid.shape,
                n_fields=state.n_grains,
                dtype=setup.dtype,
                columns=list(row0),
                attrs=_attrs(setup),
                schedule=setup.schedule,
                save_fields=self.save_fields,
                orientation_shape=None if state.orientation is None else state.orientation.shape,
                history_columns=history_columns(setup),
                particles=_particles(setup),
            )
            self._append(0, 0.0, state, 0, row0, hist)
        else:
            index, t, state, steps, *rest = start
            tracker = rest[0] if rest and rest[0] is not None else None
            record = rest[1] if len(rest) > 1 else None
            if record is not None:
                self.rejected = int(record[2])
                if np.isfinite(record[0]) and setup.controller is not None:
                    real = state.rho.dtype
                    self.ctrl = Controlled(
                        jnp.asarray(record[0], real), jnp.asarray(record[1], real)
                    )
            if tracker is None:  # a file from an older version: ids from the checkpoint's grains
                tracker = GrainTracker.start(_crystal_eta(setup, state), setup.packing.centres)
            self.tracker = tracker
            prev = read_run(h5)["observables"]
            self.rows = [{k: float(v[i]) for k, v in prev.items()} for i in range(index + 1)]
            self.keep = set(prev)  # an older file may lack a column (temperature_K)
            self.rf = RunFile.reopen(h5, index + 1, schedule=setup.schedule, attrs=_attrs(setup))
        self.index, self.t, self.state, self.steps = index, t, state, steps
        self.columns = list(self.rows[0])
        self.times = [r["time_s"] for r in self.rows]
        self.publish()

    def check_row(self, t: float, state: State) -> dict[str, float]:
        """The row the stability check compares (`observables_row`)."""
        row = observables_row(self.setup, t, state)
        return row if self.keep is None else {k: v for k, v in row.items() if k in self.keep}

    def unstable(self, chunks, row: dict[str, float] | None, reached: bool = True) -> str | None:
        """Why the interval ending in ``row`` is not accepted (None: it is)."""
        if not reached:
            shortest = self.setup.nd.scales.to_seconds(self.setup.controller.dt_min)
            return (
                f"the error control needed steps below {shortest:.3g} s to hold "
                "time.tolerance_nm (the dynamics became stiff or unstable)"
            )
        if row is None:
            hint = soft_density_hint(self.setup.model)
            return "the fields became non-finite or left [-0.5, 1.5]" + (
                f"; {hint}" if hint else ""
            )
        if _energy_rose(self.setup, chunks, self.rows[-1], row):
            return (
                f"the free energy rose from {self.rows[-1]['free_energy_J']:.6g} J to "
                f"{row['free_energy_J']:.6g} J at constant temperature (a gradient flow can only "
                "lower it)"
            )
        return None

    def accept(self, i: int, t: float, st: Stepped, checked: dict[str, float] | None) -> State:
        """Record save-point ``i`` (1-based frame) after a healthy interval ``st``: re-assign
        grains (a packing; `ReassignError` when no field is free), update the grain ids, append
        the frame. ``checked``: the `check_row` of the state (reused unless grains moved).
        Returns the state the run continues from."""
        setup = self.setup
        state, moved = _reassign(setup, st.state)
        self.tracker.update(_crystal_eta(setup, state), float(setup.nd.scales.to_seconds(t)))
        full, hist = _record(setup, t, state, self.tracker, moved, i, None if moved else checked)
        self.steps += st.steps
        self.rejected += st.rejected
        self.ctrl = st.ctrl
        full.update(self._stepping((t - self.t) / max(st.steps, 1)))
        row = {k: full[k] for k in self.columns if k in full}
        self.rows.append(row)
        self.times.append(row["time_s"])
        self.index, self.t, self.state = i, t, state
        self._append(i, t, state, self.steps, row, hist)
        self.publish()
        return state

    def _stepping(self, dt: float) -> dict[str, float]:
        """The step columns of observables.csv: the interval's mean step ``dt`` (internal
        units, shown in s), and the accepted and rejected steps so far."""
        return {
            "step_s": float(self.setup.nd.scales.to_seconds(dt)),
            "steps": float(self.steps),
            "rejected_steps": float(self.rejected),
        }

    def _controller_record(self) -> np.ndarray:
        """[next step, last error ratio, rejected steps]: what a resume needs to continue the
        controller exactly (NaN step: fixed steps)."""
        c = self.ctrl
        if c is None:
            return np.asarray([np.nan, np.nan, self.rejected], np.float64)
        return np.asarray([float(c.dt), float(c.ratio), self.rejected], np.float64)

    def _append(self, i, t, state, steps, row, hist) -> None:
        self.rf.append(
            i,
            t,
            row,
            np.asarray(state.rho),
            np.asarray(state.eta),
            steps,
            _np(state),
            grain_id=self.tracker.id_map,
            grain_table=self.tracker.to_json(),
            history=hist,
            controller=self._controller_record(),
        )

    def publish(self) -> None:
        write_csv(self.out / "observables.csv", self.rows)
        if self.save_fields:
            write_xdmf(
                self.out / "run.xmf",
                H5_NAME,
                self.times,
                self.setup.grid.shape,
                self.state.n_grains,
                self.setup.config.grid.spacing_nm,
                self.precision,
                grain_ids=True,
            )

    def close(self, status: str) -> None:
        self.rf.close(status)
        write_grains_csv(self.out)


def simulate(
    setup: Setup,
    out: Path,
    *,
    start: tuple | None = None,
    progress: Callable[[float], None] | None = None,
    stop_after: int | None = None,
    retries: int = 0,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Run (or continue) ``setup`` writing run.h5, run.xmf, observables.csv and grains.csv in
    ``out``. Every layout, pair or packing, goes through here.

    start: (frame index, t_internal, state, steps taken[, grain tracker]) to continue from a
        checkpoint (resume); None starts at frame 0 with the initial state.
    stop_after: stop cleanly after this many new save-points (testing interruption).
    retries: on an unstable interval, halve dt and retry up to this many times.
    A failure never discards what was written: the last good state stays as checkpoint.
    Between save-points a packing re-assigns grains that came close on one field
    (`sintersim.packing.reassign`); the grain tracker keeps their ids.
    """
    w = RunWriter(setup, out, start)
    plan = plan_chunks(setup)
    status, done = "complete", 0
    sc = setup.nd.scales
    try:
        for i in range(w.index, len(setup.schedule)):
            if stop_after is not None and done >= stop_after:
                status = "stopped"
                break
            t_new = float(setup.schedule[i])
            attempt = 0
            while True:
                st = _advance_interval(setup, w.state, plan[i], w.steps, 2**attempt, w.ctrl)
                row = w.check_row(t_new, st.state) if bool(st.ok) else None
                why = w.unstable(plan[i], row, st.reached)
                if why is None or attempt >= retries:
                    break
                attempt += 1
                log(
                    f"interval {i + 1}: unstable ({why.split(' (')[0]}), retrying with "
                    + (
                        f"dt = {sc.to_seconds(st.dt / 2):.3g} s"
                        if setup.controller is None
                        else f"steps and tolerance / {2**attempt}, {4**attempt}"
                    )
                )
            if why is None:
                try:
                    w.accept(i + 1, t_new, st, row)
                except ReassignError as e:
                    why = no_free_field(e)
            if why is not None:
                raise Unstable(w.state, _failure(why, out, sc, w.t, t_new, st.dt))
            done += 1
            if progress:
                progress(t_new)
    except Unstable as e:
        w.close(f"failed: {e}")
        return Outcome(f"failed: {e}", w.rows, e.state, len(w.rows))
    except KeyboardInterrupt:
        w.close("interrupted")
        raise
    w.close(status)
    return Outcome(status, w.rows, w.state, len(w.rows))


def _failure(why: str, out: Path, sc, t: float, t_new: float, h: float) -> str:
    """The message of a run stopped by an instability, with the command that continues it with
    fixed steps a quarter of the last one."""
    return (
        f"{why} between t = {sc.to_seconds(t):.4g} s and {sc.to_seconds(t_new):.4g} s (dt = "
        f"{sc.to_seconds(h):.3g} s). The last good state (t = {sc.to_seconds(t):.4g} s) is "
        f"saved; continue with a smaller step: sintersim resume {out} --dt-s "
        f"{sc.to_seconds(h) / 4:.3g}"
    )


def load_for_resume(
    out: Path, end_s: float | None = None, dt_s: float | None = None
) -> tuple[Setup, tuple[int, float, State, int, GrainTracker | None, np.ndarray | None]]:
    """Rebuild the setup of the run in ``out`` and its checkpoint, optionally with a new end
    time and (fixed, from then on) time step: ``(setup, (frame index, t_internal, state, steps,
    grain tracker, step-controller record))``."""
    info = read_run(out / H5_NAME)
    cfg = loads_config(info["attrs"]["config"])
    setup = build(cfg, packing=_stored_packing(info, cfg))
    setup.schedule = info["schedule"]
    setup.dt = float(info["attrs"].get("dt_internal", setup.dt))
    if dt_s is not None:
        setup.dt = float(setup.nd.scales.to_internal_time(dt_s))
        if setup.dt > MAX_DT_INTERNAL:
            raise ConfigError(
                f"--dt-s {dt_s:g} s is {setup.dt:.3g} internal units; allowed: <= "
                f"{setup.nd.scales.to_seconds(MAX_DT_INTERNAL):.3g} s"
            )
    if end_s is not None:
        new_end = float(setup.nd.scales.to_internal_time(end_s))
        if new_end <= info["t_internal"]:
            raise ValueError(
                f"--end-s {end_s:g} s is not later than the checkpoint "
                f"({setup.nd.scales.to_seconds(info['t_internal']):.4g} s)"
            )
        setup.schedule = extend_schedule(setup.schedule, new_end, cfg.time.save_spacing)
        setup.config = _with_time(setup.config, end_s=end_s)
    if dt_s is not None:  # a chosen step: fixed steps from here on
        setup.config = _with_time(setup.config, dt_s=dt_s, adaptive=False)
        setup.controller = None
    if info["checkpoint"] is None:
        raise ValueError(f"{out / H5_NAME} has no checkpoint to resume from")
    rho, eta, orient = info["checkpoint"]
    want = setup.state0
    if rho.shape != want.rho.shape or eta.shape != want.eta.shape:
        raise RunFileError(
            f"{out / H5_NAME}: the checkpoint's fields {rho.shape}, {eta.shape} do not match its "
            f"config's grid {want.rho.shape} and {want.eta.shape[0]} order parameters"
        )
    if not (np.all(np.isfinite(rho)) and np.all(np.isfinite(eta))):
        raise RunFileError(f"{out / H5_NAME}: the checkpoint holds non-finite values")
    if orient is not None:
        orient = jnp.asarray(orient)
    state = State(jnp.asarray(rho), jnp.asarray(eta), orient)
    index = info["n_frames"] - 1
    tracker = None
    if "grain_table" in info:
        tracker = GrainTracker.from_json(info["grain_table"], info["grain_id"])
    return setup, (index, info["t_internal"], state, info["steps"], tracker, info.get("controller"))


def _stored_packing(info: dict, cfg: RunConfig) -> Packing | None:
    """The particles the run started from (a CSV may have moved or changed since)."""
    p = info.get("particles")
    if not p or "centres_nm" not in p:
        return None
    dx = cfg.grid.spacing_nm
    return Packing(
        p["centres_nm"] / dx, p["radii_nm"] / dx, p["orientations"], tuple(p["box_nm"] / dx)
    )


def _np(state: State):
    return None if state.orientation is None else np.asarray(state.orientation)


def _with_time(cfg: RunConfig, **changes) -> RunConfig:
    return cfg.replace(time=changes)

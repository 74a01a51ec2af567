"""Sweeps: many members of one config as one vmapped program, sharded over the devices.

``[sweep]`` lists values of any config field (``'section.key' = [...]`` or a range); the
members are their product or their zip. Each member is built exactly as its own run would be
(`build` of the member's config: its own units, time step and schedule), so a member of a sweep
is the run ``sintersim run`` would make of its config. Members whose programs agree (grid,
dtype, the structure of model and state, the number of save-points and chunks) form a group;
a group runs as one compiled program: the models and states are stacked on a leading axis,
`jax.vmap` maps the step, and with several devices the member axis is sharded over them
(`jax.sharding.NamedSharding`, each member whole on one device, so no FFT crosses devices).
Members of one group may take different numbers of steps (a vmapped while loop runs until the
last member is done and holds the others). Groups run one after another.

Every member writes its own run directory (``member_000/``: run.h5, observables.csv, ...);
``summary.csv`` has one row per member (its swept values, status, final observables and the
times at which the neck first reaches ``sweep.neck_nm``), ``sweep.png`` compares the members.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sintersim.io import write_csv
from sintersim.packing._reassign import ReassignError
from sintersim.scenario._assemble import Setup, build, check_memory, plan_chunks
from sintersim.scenario._config import RunConfig
from sintersim.scenario._run import (
    MAX_ATTEMPTS,
    RunWriter,
    Stepped,
    _failure,
    chunk_steps,
    no_free_field,
)
from sintersim.scenario._schema import ConfigError
from sintersim.solver._adaptive import Controlled, advance_adaptive
from sintersim.solver._batch import stack
from sintersim.solver._integrate import advance, state_ok


@dataclasses.dataclass
class Member:
    """One member: its index, the swept values (``'section.key'`` -> value), its config."""

    index: int
    values: dict[str, Any]
    config: RunConfig

    @property
    def name(self) -> str:
        return f"member_{self.index:03d}"

    def label(self) -> str:
        return ", ".join(
            f"{k.split('.')[-1]} = {v:g}" if isinstance(v, float) else f"{k.split('.')[-1]} = {v}"
            for k, v in self.values.items()
        )


def sweep_members(config: RunConfig) -> list[Member]:
    """The members of ``config``'s ``[sweep]``, each config validated (a member that cannot run
    is refused by name before anything runs)."""
    sw = config.sweep
    if sw.parameters is None:
        raise ConfigError("the config has no [sweep] parameters; add sweep.parameters")
    names = list(sw.parameters)
    lists = [sw.parameters[n] for n in names]
    combos = zip(*lists, strict=True) if sw.mode == "zip" else itertools.product(*lists)
    members = []
    for i, combo in enumerate(combos):
        values = dict(zip(names, combo, strict=True))
        changes: dict[str, dict[str, Any]] = {"sweep": {"parameters": None, "neck_nm": None}}
        for name, v in values.items():
            section, _, key = name.partition(".")
            changes.setdefault(section, {})[key] = v
        try:
            cfg = config.replace(**changes)
        except ConfigError as e:
            desc = ", ".join(f"{k} = {v}" for k, v in values.items())
            raise ConfigError(f"sweep member {i} ({desc}): {e}") from None
        members.append(Member(i, values, cfg))
    return members


def param_lists(items: Sequence[str]) -> dict[str, list]:
    """``SECTION.KEY=V1,V2,...`` (the ``--param`` option) -> ``{'SECTION.KEY': [V1, V2, ...]}``;
    integers and numbers are parsed, anything else stays a string (checked with the config)."""
    out = {}
    for item in items:
        name, sep, rest = item.partition("=")
        if not sep or not rest:
            raise ConfigError(f"--param {item!r}: expected SECTION.KEY=V1,V2,...")
        values: list = []
        for v in rest.split(","):
            try:
                values.append(int(v) if v.strip().lstrip("-").isdigit() else float(v))
            except ValueError:
                values.append(v.strip())
        out[name.strip()] = values
    return out


def _signature(setup: Setup) -> tuple:
    """What members must share to run as one program."""
    leaves, tree = jax.tree.flatten((setup.model, setup.state0))
    shapes = tuple((np.shape(x), str(jnp.result_type(x))) for x in leaves)
    chunks = tuple(len(c) for c in plan_chunks(setup))
    stepping = (type(setup.stepper).__name__, setup.controller is None)
    return (tuple(setup.grid.shape), str(setup.dtype), str(tree), shapes, chunks, stepping)


def group_members(setups: Sequence[Setup]) -> list[list[int]]:
    """Indices of members that can share a compiled program, in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(setups):
        groups.setdefault(_signature(s), []).append(i)
    return list(groups.values())


@functools.lru_cache(maxsize=16)
def _batched_advance(grid, stepper):
    """One compiled, vmapped advance per (grid, stepper): a later sweep reuses it."""

    def one(model, state, n, dt, step0):
        s = advance(model, grid, state, n, dt, stepper, step0=step0)
        return s, state_ok(s)

    return jax.jit(jax.vmap(one))


@functools.lru_cache(maxsize=16)
def _batched_adaptive(grid, stepper):
    """The adaptive counterpart: each member takes its own steps (`advance_adaptive` under
    vmap runs until the last member has reached its end)."""

    def one(model, controller, state, ctrl, span, step0):
        s, ctrl, prog = advance_adaptive(
            model,
            grid,
            state,
            span,
            ctrl,
            stepper,
            controller,
            max_steps=MAX_ATTEMPTS,
            step0=step0,
        )
        return s, ctrl, prog, state_ok(s)

    return jax.jit(jax.vmap(one))


@dataclasses.dataclass
class SweepResult:
    members: list[Member]
    status: list[str]
    rows: list[list[dict[str, float]]]
    groups: list[list[int]]
    summary: list[dict[str, Any]]


def run_sweep(
    config: RunConfig,
    out: Path,
    *,
    devices: Sequence[jax.Device] | None = None,
    progress: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> SweepResult:
    """Run every member of ``config``'s sweep (see the module docstring) into ``out``."""
    members = sweep_members(config)
    setups = [build(m.config) for m in members]
    groups = group_members(setups)
    devices = list(jax.devices() if devices is None else devices)
    for idx in groups:  # a group holds its members together: ceil(n / devices) per device
        s = setups[idx[0]]
        per_device = -(-len(idx) // len(devices))
        check_memory(
            s.config,
            s.grid,
            s.model.n_crystals(s.state0.eta.shape[0]),
            s.dtype,
            batch=per_device,
            what=f"sweep members {idx[0]}..{idx[-1]} ({per_device} per device), grid.shape",
        )
    out.mkdir(parents=True, exist_ok=True)
    status = ["complete"] * len(members)
    rows: list[list[dict[str, float]]] = [[] for _ in members]
    total = sum(len(s.schedule) for s in setups)
    done = 0
    for g, idx in enumerate(groups):
        log(
            f"group {g + 1}/{len(groups)}: {len(idx)} member(s) on "
            f"{min(len(devices), len(idx))} device(s)"
        )
        # a group's files are open while it runs, closed (status set) before the next
        writers = [RunWriter(setups[i], out / members[i].name) for i in idx]
        try:
            group = [setups[i] for i in idx]
            done = _run_group(group, writers, idx, status, devices, done, total, progress)
        except KeyboardInterrupt:
            for w in writers:  # every save so far stays readable
                w.close("interrupted")
            raise
        for w, i in zip(writers, idx, strict=True):
            w.close(status[i])
            rows[i] = w.rows
    neck_nm = list(config.sweep.neck_nm or [])
    summary = [
        _summary_row(m, st, r, neck_nm) for m, st, r in zip(members, status, rows, strict=True)
    ]
    write_csv(out / "summary.csv", _uniform(summary))
    from sintersim.plot import plot_sweep

    plot_sweep(members, rows, out / "sweep.png", neck_nm)
    return SweepResult(members, status, rows, groups, summary)


def _shard(tree, devices, n: int):
    """Pad the member axis to a multiple of the device count (copies of the last member, dropped
    later) and shard it over the devices."""
    k = len(devices)
    pad = (-n) % k
    if pad:
        tree = jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]), tree)
    if k > 1:
        mesh = Mesh(np.asarray(devices), ("member",))
        tree = jax.device_put(tree, NamedSharding(mesh, PartitionSpec("member")))
    return tree


def _run_group(setups, writers, idx, status, devices, done, total, progress) -> int:
    n = len(setups)
    devices = devices[: max(1, min(len(devices), n))]
    plans = [plan_chunks(s) for s in setups]
    ref = setups[0]
    states = _shard(stack([w.state for w in writers]), devices, n)
    alive = [True] * n
    for i in range(len(ref.schedule)):
        if ref.controller is None:
            states, results = _fixed_interval(setups, writers, plans, i, states, devices)
        else:
            states, results = _adaptive_interval(setups, writers, plans, i, states, devices)
        changed = False
        for m in range(n):
            if not alive[m]:
                continue
            s, w, st = setups[m], writers[m], results[m]
            t_new = float(s.schedule[i])
            row = w.check_row(t_new, st.state) if bool(st.ok) else None
            why = w.unstable(plans[m][i], row, st.reached)
            if why is None:
                try:
                    new = w.accept(i + 1, t_new, st, row)
                    changed |= new is not st.state
                except ReassignError as e:
                    why = no_free_field(e)
            if why is not None:
                alive[m] = False
                status[idx[m]] = "failed: " + _failure(why, w.out, s.nd.scales, w.t, t_new, st.dt)
        if changed:  # a re-assignment moved grains: continue from the recorded states
            states = _shard(stack([w.state for w in writers]), devices, n)
        done += n
        if progress:
            progress(done, total)
    return done


def _member(tree, m: int):
    return jax.tree.map(lambda x: x[m], tree)


def _fixed_interval(setups, writers, plans, i, states, devices):
    """Interval ``i`` of every member with fixed steps: (states, per-member `Stepped`)."""
    n, ref = len(setups), setups[0]
    run = _batched_advance(ref.grid, ref.stepper)
    # per member, (steps, step) of every chunk of this interval
    steps = [[chunk_steps(s, ch) for ch in p[i]] for s, p in zip(setups, plans, strict=True)]
    for c in range(len(plans[0][i])):
        models = [s.model_at(p[i][c][2]) for s, p in zip(setups, plans, strict=True)]
        # the global index of a member's first step here selects its noise, as in its run
        step0 = [w.steps + sum(k for k, _ in st[:c]) for w, st in zip(writers, steps, strict=True)]
        batch = (
            stack(models),
            jnp.asarray([st[c][0] for st in steps], jnp.int32),
            jnp.asarray([st[c][1] for st in steps], ref.dtype),
            jnp.asarray(step0, jnp.int32),
        )
        m_, n_, h_, s0_ = _shard(batch, devices, n)
        states, ok = run(m_, states, n_, h_, s0_)
    ok = np.asarray(ok)[:n]
    results = [
        Stepped(_member(states, m), ok[m], sum(k for k, _ in steps[m]), 0, steps[m][-1][1], None)
        for m in range(n)
    ]
    return states, results


def _adaptive_interval(setups, writers, plans, i, states, devices):
    """Interval ``i`` of every member with its own error-controlled steps."""
    n, ref = len(setups), setups[0]
    run = _batched_adaptive(ref.grid, ref.stepper)
    ctrl = stack(
        [
            w.ctrl if w.ctrl is not None else Controlled.start(s.dt, s.dtype)
            for s, w in zip(setups, writers, strict=True)
        ]
    )
    ctrl = _shard(ctrl, devices, n)
    taken = jnp.asarray([w.steps for w in writers], jnp.int32)
    acc = jnp.zeros(n, jnp.int32)
    rej = jnp.zeros(n, jnp.int32)
    ok = jnp.ones(n, bool)
    reached = jnp.ones(n, bool)
    for c in range(len(plans[0][i])):
        chunk = [p[i][c] for p in plans]
        batch = (
            stack([s.model_at(T) for s, (_, _, T) in zip(setups, chunk, strict=True)]),
            stack([s.controller_at(T) for s, (_, _, T) in zip(setups, chunk, strict=True)]),
            jnp.asarray([b - a for a, b, _ in chunk], ref.dtype),
            taken + acc,
        )
        m_, c_, span, s0 = _shard(batch, devices, n)
        states, ctrl, prog, ok_c = run(m_, c_, states, ctrl, span, s0)
        acc, rej = acc + prog.accepted[:n], rej + prog.rejected[:n]
        reached = reached & prog.reached[:n]
        ok = ok & ok_c[:n] & prog.reached[:n]
        last = prog.dt_last[:n]
    acc, rej, ok, last, reached = (np.asarray(x) for x in (acc, rej, ok, last, reached))
    results = [
        Stepped(
            _member(states, m),
            ok[m],
            int(acc[m]),
            int(rej[m]),
            float(last[m]),
            _member(ctrl, m),
            bool(reached[m]),
        )
        for m in range(n)
    ]
    return states, results


def _neck_key(row: dict[str, float]) -> str:
    for k in ("neck_width_nm", "neck_radius_nm", "neck_mean_nm"):
        if k in row:
            return k
    raise KeyError("no neck column")


def time_to_reach(rows: list[dict[str, float]], key: str, target: float) -> float:
    """First time (s) the column ``key`` reaches ``target``, linear between save-points (NaN if
    it never does)."""
    t = np.asarray([r["time_s"] for r in rows])
    x = np.asarray([r[key] for r in rows])
    if x[0] >= target:
        return float(t[0])
    above = np.nonzero(x >= target)[0]
    if not above.size:
        return float("nan")
    j = int(above[0])
    return float(t[j - 1] + (target - x[j - 1]) * (t[j] - t[j - 1]) / (x[j] - x[j - 1]))


def _summary_row(member: Member, status: str, rows, neck_nm) -> dict[str, Any]:
    row: dict[str, Any] = {"member": member.index}
    for k, v in member.values.items():
        row[k] = v
    row["status"] = status.split(":")[0]
    last = rows[-1]
    row.update({f"final_{k}": v for k, v in last.items()})
    key = _neck_key(last)
    for target in neck_nm:
        row[f"time_to_{key[:-3]}_{target:g}nm_s"] = time_to_reach(rows, key, target)
    return row


def _uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Same columns in every row (members of different layouts report different columns)."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    return [{k: r.get(k, float("nan")) for k in cols} for r in rows]

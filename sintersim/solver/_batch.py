"""Batches of simulations: one compiled program over many parameter sets / initial states.

``run_batch`` stacks the members on a leading axis, integrates them with ``jax.vmap`` and, when
several devices are given (or visible), shards the batch axis over them with ``jax.sharding``:
each member lives whole on one device, so its FFTs never cross devices and XLA inserts no
communication. The batch is padded to a multiple of the device count with copies of the last
member, which are dropped from the result.

Several hosts: start every process with ``jax.distributed.initialize()`` (see the README,
"Batches on several devices and hosts"); ``jax.devices()`` then lists the devices of all hosts and
the same call shards across them. There is no scheduler of our own.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sintersim.grid import Grid
from sintersim.model._sinter import SinterModel
from sintersim.solver._adaptive import StepController
from sintersim.solver._integrate import DEFAULT_STEPPER, SaveAt, Solution, integrate
from sintersim.solver._stepper import Stepper
from sintersim.state import State


def stack(members: Sequence) -> object:
    """Stack pytrees of equal structure on a new leading (batch) axis."""
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *members)


def _broadcast(members, n: int, what: str) -> list:
    if not isinstance(members, list | tuple):
        members = [members]
    if len(members) == 1:
        members = list(members) * n
    if len(members) != n:
        raise ValueError(f"{what}: give 1 or {n} members, got {len(members)}")
    return list(members)


def run_batch(
    models: SinterModel | Sequence[SinterModel],
    grid: Grid,
    states: State | Sequence[State],
    *,
    t0: float,
    dt: float,
    saveat: SaveAt,
    stepper: Stepper | Sequence[Stepper] = DEFAULT_STEPPER,
    devices: Sequence[jax.Device] | None = None,
    gather: bool = False,
    controller: StepController | None = None,
) -> Solution:
    """Integrate every (model, state) member; a single model or state is shared by all.

    stepper: one stepper for all members, or one per member: e.g. `ThermalNoise` with a
        different key per member, so each member of a noisy batch draws its own noise (one
        shared stepper gives every member the same random numbers).
    devices: the devices to shard the batch over (default: all of ``jax.devices()``); one
        device means plain vmap.
    gather: in a multi-process run (``jax.distributed``), copy the whole result to every
        process (``process_allgather``); otherwise each process can read only its own members.
    controller: error-controlled steps (`StepController`, ``dt`` the first step): each member
        takes its own steps (``Solution.steps`` per member).
    Returns a `Solution` whose arrays have the batch as leading axis.
    """
    n = max(len(x) if isinstance(x, list | tuple) else 1 for x in (models, states, stepper))
    batch_models = stack(_broadcast(models, n, "models"))
    batch_states = stack(_broadcast(states, n, "states"))
    # One stepper stays a closure constant (its Python floats keep the fields' dtype); a
    # sequence is stacked and mapped like the models.
    per_member = isinstance(stepper, list | tuple)
    batch_steppers = stack(_broadcast(stepper, n, "stepper")) if per_member else None
    devices = list(jax.devices() if devices is None else devices)
    k = len(devices)
    pad = (-n) % k

    def padded(tree):
        return jax.tree.map(
            lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x, tree
        )

    batch_models, batch_states = padded(batch_models), padded(batch_states)
    batch_steppers = padded(batch_steppers) if per_member else None

    def one(model, state, member_stepper):
        return integrate(
            model,
            grid,
            state,
            t0=t0,
            dt=dt,
            saveat=saveat,
            stepper=member_stepper if per_member else stepper,
            differentiable=False,
            controller=controller,
        )

    fn = jax.vmap(one, in_axes=(0, 0, 0 if per_member else None))
    if k > 1:
        mesh = Mesh(np.asarray(devices), ("batch",))
        shard = NamedSharding(mesh, PartitionSpec("batch"))
        batch_models = jax.device_put(batch_models, shard)
        batch_states = jax.device_put(batch_states, shard)
        if per_member:
            batch_steppers = jax.device_put(batch_steppers, shard)
        fn = jax.jit(fn, out_shardings=shard)
    else:
        fn = jax.jit(fn)
    sol = jax.tree.map(lambda x: x[:n], fn(batch_models, batch_states, batch_steppers))
    if gather and jax.process_count() > 1:
        from jax.experimental import multihost_utils

        sol = jax.tree.map(jnp.asarray, multihost_utils.process_allgather(sol, tiled=True))
    return sol


__all__ = ["run_batch", "stack"]

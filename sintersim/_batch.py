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

from ._grid import Grid
from ._integrate import DEFAULT_STEPPER, SaveAt, Solution, integrate
from ._model import SinterModel
from ._state import State
from ._stepper import SemiImplicitFourier


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
    stepper: SemiImplicitFourier = DEFAULT_STEPPER,
    devices: Sequence[jax.Device] | None = None,
    gather: bool = False,
) -> Solution:
    """Integrate every (model, state) member; a single model or state is shared by all.

    devices: the devices to shard the batch over (default: all of ``jax.devices()``); one
        device means plain vmap.
    gather: in a multi-process run (``jax.distributed``), copy the whole result to every
        process (``process_allgather``); otherwise each process can read only its own members.
    Returns a `Solution` whose arrays have the batch as leading axis.
    """
    n = max(
        len(models) if isinstance(models, list | tuple) else 1,
        len(states) if isinstance(states, list | tuple) else 1,
    )
    batch_models = stack(_broadcast(models, n, "models"))
    batch_states = stack(_broadcast(states, n, "states"))
    devices = list(jax.devices() if devices is None else devices)
    k = len(devices)
    pad = (-n) % k

    def padded(tree):
        return jax.tree.map(
            lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x, tree
        )

    batch_models, batch_states = padded(batch_models), padded(batch_states)

    def one(model, state):
        return integrate(
            model, grid, state, t0=t0, dt=dt, saveat=saveat, stepper=stepper, differentiable=False
        )

    fn = jax.vmap(one)
    if k > 1:
        mesh = Mesh(np.asarray(devices), ("batch",))
        shard = NamedSharding(mesh, PartitionSpec("batch"))
        batch_models = jax.device_put(batch_models, shard)
        batch_states = jax.device_put(batch_states, shard)
        fn = jax.jit(fn, out_shardings=shard)
    else:
        fn = jax.jit(fn)
    sol = jax.tree.map(lambda x: x[:n], fn(batch_models, batch_states))
    if gather and jax.process_count() > 1:
        from jax.experimental import multihost_utils

        sol = jax.tree.map(jnp.asarray, multihost_utils.process_allgather(sol, tiled=True))
    return sol


__all__ = ["run_batch", "stack"]

"""Driver for many-particle runs: compiled chunks of steps, field re-assignment in between.

Each chunk is one jitted `advance` (no host sync inside); between chunks the host re-assigns
grains that came within the safety distance of another grain on their field (`reassign`), reads
particle identities back (`fields_at`) and records packing observables. The field count can grow
(up to ``max_fields``); jit then compiles the chunk once more for the new shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import numpy as np

from sintersim.grid import Grid
from sintersim.model._density_bounds import soft_density_hint
from sintersim.model._sinter import SinterModel
from sintersim.observables._fields import mass
from sintersim.observables._packing import PackingObservables, packing_observables
from sintersim.packing._layouts import Packing
from sintersim.packing._reassign import fields_at, reassign, touching_pairs_share_field
from sintersim.solver._integrate import advance, state_ok
from sintersim.state import State


class PackingRunError(RuntimeError):
    """The run went unstable (the last good state is attached as ``.state``)."""

    def __init__(self, msg: str, state: State):
        super().__init__(msg)
        self.state = state


@dataclasses.dataclass
class PackingHistory:
    """Per save-point: time (internal units), observables, fields of every particle, moves."""

    times: list[float]
    observables: list[PackingObservables]
    particle_fields: list[np.ndarray]
    n_fields: list[int]
    moves: list[int]
    mass: list[float]
    shared_touching: list[int]  # touching grain pairs on one field (must stay 0)
    final: State


def run_packing(
    model: SinterModel,
    grid: Grid,
    state: State,
    packing: Packing,
    *,
    t_end: float,
    dt: float,
    n_saves: int,
    safety: float,
    gb_integral: float,
    max_fields: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PackingHistory:
    """Integrate to ``t_end`` (internal units) with ``n_saves`` equal chunks.

    safety: grains of one field closer than this (cells, core to core) are separated.
    gb_integral: the model's flat-boundary ``int sum eta_i eta_j dn`` in length units (neck sizes).
    packing: gives the particles (identity = index; positions track the initial centres).
    """
    steps = max(1, int(round(t_end / n_saves / dt)))
    h = t_end / n_saves / steps

    # One compiled chunk; jit recompiles by itself when a move adds a field (new shape).
    run = jax.jit(lambda s: advance(model, grid, s, steps, h))
    hist = PackingHistory([], [], [], [], [], [], [], state)

    def record(t, st, n_moves):
        hist.times.append(t)
        hist.observables.append(
            packing_observables(
                st, grid, gb_integral, positions=packing.centres, orientations=packing.orientations
            )
        )
        hist.particle_fields.append(fields_at(st, packing.centres, grid.spacing))
        hist.n_fields.append(int(st.eta.shape[0]))
        hist.moves.append(n_moves)
        hist.mass.append(float(mass(st, grid)))
        hist.shared_touching.append(len(touching_pairs_share_field(np.asarray(st.eta))))

    record(0.0, state, 0)
    for k in range(n_saves):
        new = run(state)
        if not bool(state_ok(new)):
            hint = soft_density_hint(model)
            raise PackingRunError(
                f"the run went unstable in chunk {k + 1} of {n_saves} (NaN/Inf or fields far "
                f"outside [0, 1]); lower dt{f', or: {hint}' if hint else ''}",
                state,
            )
        state, moves = reassign(new, safety, max_fields=max_fields)
        record((k + 1) * steps * h, state, len(moves))
        if progress:
            progress(k + 1, n_saves)
    hist.final = state
    return hist


__all__ = ["PackingHistory", "PackingRunError", "run_packing"]

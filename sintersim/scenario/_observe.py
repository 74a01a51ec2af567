"""What a run records at every save-point, in physical units: the pair's neck row, a packing's
statistics, and every grain's history (by grain id).

Pair (``particles.layout = "pair"``): neck, centre distance, shrinkage, free energy, mass, grain
volumes, liquid share and misorientation, as since the first version.

Packing (any other layout), over the grains (cores ``eta > 1/2``, see
`sintersim.observables.packing_observables`) and their contacts:

* ``relative_density``: the densification of a free cluster, its solid over the volume of its
  convex envelope, ``int rho dV / V_hull`` (`sintersim.observables.envelope_density`; NaN when
  the solid spans the periodic box along an axis, a film or a box-filling packing);
  ``box_fraction``: solid fraction of the box, ``int rho dV / V_box`` (a periodic box of fixed
  size: it changes only with mass sources such as sublimation); ``dense_fraction``: the share of
  the box with ``rho > 1/2``.
* ``shrinkage``: ``1 - sum d(t) / sum d(0)`` over the grain pairs that touched at the start,
  ``d`` their centre distance, pairs followed by grain id; a pair is dropped once one of its
  grains has ended or changed volume by more than 30 % (it absorbed a neighbour: its centre
  moved by the merger). NaN when no pair is left.
* ``grain_count``, ``mean_grain_size_nm`` (equivalent diameter), ``coordination_mean``,
  ``contacts``; neck sizes (width in 2D, radius in 3D) mean and quartiles; misorientation of the
  contacts (symmetry-reduced, degrees) mean and quartiles: the grains' own orientations with
  ``[orientation]`` enabled, else the nominal ones of their particles.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from sintersim.constants import NM
from sintersim.materials._presets import get_material
from sintersim.observables._fields import (
    free_energy,
    mass,
    orientation_observables,
    two_particle_observables,
)
from sintersim.observables._packing import packing_observables
from sintersim.orientation import misorientation
from sintersim.packing._tracking import GrainTracker
from sintersim.scenario._assemble import Setup
from sintersim.state import State


def _vol_unit(setup: Setup) -> str:
    return "nm2" if setup.grid.ndim == 2 else "nm3"


def crystal_state(setup: Setup, state: State) -> State:
    """The crystal fields (a term may own fields that are not crystals: a liquid)."""
    k = setup.model.n_crystals(state.eta.shape[0])
    ori = None if state.orientation is None else state.orientation[:k]
    return State(state.rho, state.eta[:k], ori)


def pair_row(setup: Setup, t: float, state: State) -> dict[str, float]:
    """Observables of a pair at one save-point, in physical units."""
    obs = _observe(setup.model, setup.grid, state, setup.centres[0][0], setup.centres[1][0])
    obs = jax.device_get(obs)
    L = setup.nd.scales.length_m
    e_unit = setup.nd.scales.energy_J_m3 * L**setup.grid.ndim
    d0 = abs(setup.centres[1][0] - setup.centres[0][0])
    neck_key = "neck_width_nm" if setup.grid.ndim == 2 else "neck_radius_nm"
    vol = _vol_unit(setup)
    t_s = float(setup.nd.scales.to_seconds(t))
    row = {
        "time_s": t_s,
        "temperature_K": setup.temperature(t_s),
        neck_key: float(obs["neck"]) * L / NM,
        "centre_distance_nm": float(obs["centre_distance"]) * L / NM,
        "shrinkage": 1.0 - float(obs["centre_distance"]) / d0,
        "free_energy_J": float(obs["free_energy"]) * e_unit,
        f"mass_{vol}": float(obs["mass"]) * (L / NM) ** setup.grid.ndim,
    }
    k = setup.model.n_crystals(state.eta.shape[0])
    volumes = np.atleast_1d(obs["grain_volume"])[:k]
    for term in setup.model.terms:  # what each term reports of itself (a liquid: its share)
        row.update(term.observables(setup.model, state))
    for i, v in enumerate(volumes):
        row[f"grain{i + 1}_volume_{vol}"] = float(v) * (L / NM) ** setup.grid.ndim
    if state.orientation is not None and setup.model.energy.boundaries is not None:
        ori = jax.device_get(
            _observe_orientation(setup.model, setup.grid, crystal_state(setup, state))
        )
        area = "boundary_length_nm" if setup.grid.ndim == 2 else "boundary_area_nm2"
        # NaN once one grain is gone (stitched, or consumed by boundary migration): no pair.
        row["misorientation_deg"] = float(ori["misorientation_deg"][0, 1])
        row["grain_count"] = float(ori["grain_count"])
        row[area] = float(ori["total_boundary_area"]) * (L / NM) ** (setup.grid.ndim - 1)
    return row


@jax.jit
def _observe_orientation(model, grid, state):
    return orientation_observables(state, grid, model)


@jax.jit
def _observe(model, grid, state, x_lo, x_hi):
    return two_particle_observables(state, grid, model, x_lo, x_hi)


@jax.jit
def _energy_mass(model, grid, state):
    return free_energy(state, grid, model), mass(state, grid)


def energy_row(setup: Setup, t: float, state: State) -> dict[str, float]:
    """Time, temperature, free energy and mass: what the stability check compares."""
    L = setup.nd.scales.length_m
    f, m = jax.device_get(_energy_mass(setup.model, setup.grid, state))
    t_s = float(setup.nd.scales.to_seconds(t))
    return {
        "time_s": t_s,
        "temperature_K": setup.temperature(t_s),
        "free_energy_J": float(f) * setup.nd.scales.energy_J_m3 * L**setup.grid.ndim,
        f"mass_{_vol_unit(setup)}": float(m) * (L / NM) ** setup.grid.ndim,
    }


def _quartiles(prefix: str, unit: str, x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        q = [np.nan] * 4
    else:
        q = [float(np.mean(x)), *np.quantile(x, [0.25, 0.5, 0.75]).tolist()]
    return {
        f"{prefix}_{s}{unit}": v for s, v in zip(("mean", "q25", "median", "q75"), q, strict=True)
    }


def grain_orientations(setup: Setup, state: State, fields: dict[int, int]) -> dict[int, Any]:
    """Orientation of every live grain: its field's with ``[orientation]`` (the model rotates
    fields), else the nominal one of the particle it started as (NaN for a grain born later)."""
    pk = setup.packing
    if state.orientation is not None and setup.config.orientation.enabled:
        ori = np.asarray(state.orientation, float)
        return {i: ori[f] for i, f in fields.items()}
    nan = np.full(np.shape(pk.orientations[0]), np.nan)
    return {i: (pk.orientations[i] if i < pk.n else nan) for i in fields}


def grain_statistics(
    setup: Setup, t: float, state: State, tracker: GrainTracker
) -> tuple[dict[str, float], np.ndarray]:
    """(statistics, history): the grain and contact statistics of a packing row (relative
    density to misorientation quartiles, see the module docstring) and one history row per live
    grain (`history_columns`). Records the initial contacts in ``tracker`` at t = 0."""
    L_nm = setup.nd.scales.length_m / NM
    d = setup.grid.ndim
    crystals = crystal_state(setup, state)
    obs = packing_observables(crystals, setup.grid, setup.gb_integral)
    ids = np.asarray(tracker.ids_of(obs.grains, crystals.eta.shape[1:]), int)
    fields = {int(i): int(f) for i, (f, _) in zip(ids, obs.grains, strict=True) if i >= 0}
    centre_of = {int(i): obs.centres[g] for g, i in enumerate(ids) if i >= 0}
    box = np.asarray(setup.grid.lengths)

    def dist(a: int, b: int) -> float:
        v = centre_of[a] - centre_of[b]
        v = v - box * np.round(v / box)
        return float(np.sqrt(np.sum(v**2)))

    pairs = [(int(ids[a]), int(ids[b])) for a, b in obs.contacts if ids[a] >= 0 and ids[b] >= 0]
    vol_of = {int(i): float(obs.volumes[g]) for g, i in enumerate(ids) if i >= 0}
    if "contacts0" not in tracker.extra:
        tracker.extra["contacts0"] = [[a, b, dist(a, b), vol_of[a], vol_of[b]] for a, b in pairs]
    # pairs whose grains are still the grains they were (alive, volume within 30 %): a grain that
    # absorbed a neighbour (stitching) has moved its centre by the merger, not by shrinkage
    ref = [
        (a, b, d0)
        for a, b, d0, va, vb in tracker.extra["contacts0"]
        if a in vol_of and b in vol_of and _same(vol_of[a], va) and _same(vol_of[b], vb)
    ]
    shrink = 1.0 - sum(dist(a, b) for a, b, _ in ref) / sum(d0 for *_, d0 in ref) if ref else np.nan
    ori = grain_orientations(setup, state, fields)
    symmetry = get_material(setup.config.material.preset).symmetry
    mis = np.asarray(
        [float(misorientation(ori[a], ori[b], symmetry)) for a, b in pairs], float
    ).reshape(-1)
    unit = 1.0 / np.pi if d == 2 else 3.0 / (4.0 * np.pi)
    sizes = 2.0 * (obs.volumes * unit) ** (1.0 / d) * L_nm
    stats = {
        "relative_density": obs.relative_density,
        "box_fraction": obs.box_fraction,
        "dense_fraction": obs.dense_fraction,
        "shrinkage": float(shrink),
        "grain_count": float(obs.grain_count),
        "mean_grain_size_nm": float(np.mean(sizes)) if sizes.size else np.nan,
        "coordination_mean": float(np.mean(obs.coordination)) if obs.grain_count else np.nan,
        "contacts": float(len(obs.contacts)),
    }
    stats.update(_quartiles("neck", "_nm", np.asarray(obs.necks) * L_nm))
    stats.update(_quartiles("misorientation", "_deg", mis))
    # history: frame filled in by the driver
    t_s = float(setup.nd.scales.to_seconds(t))
    hist = []
    for g, i in enumerate(ids):
        if i < 0:
            continue
        o = np.atleast_1d(ori[int(i)]).astype(float)
        o = np.degrees(o) if o.size == 1 else o
        vol = obs.volumes[g] * L_nm**d
        hist.append([0.0, t_s, float(i), float(fields[int(i)]), vol, *(obs.centres[g] * L_nm), *o])
    width = len(history_columns(setup))
    hist = np.asarray(hist, float).reshape(-1, width)
    return stats, hist[np.argsort(hist[:, 2], kind="stable")]  # by grain id


def packing_row(
    setup: Setup,
    t: float,
    state: State,
    tracker: GrainTracker,
    moved: int = 0,
    base: dict[str, float] | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """(row, history): a packing's row of the module docstring and the grain history rows.

    base: `energy_row` of this state when the caller has it already (the stability check)."""
    L_nm = setup.nd.scales.length_m / NM
    stats, hist = grain_statistics(setup, t, state, tracker)
    row = dict(base) if base is not None else energy_row(setup, t, state)
    mass_key = f"mass_{_vol_unit(setup)}"
    row.pop(mass_key)
    row.update(stats)
    rho_sum = float(np.sum(np.asarray(state.rho, float)))
    row[mass_key] = rho_sum * setup.grid.cell_volume * L_nm**setup.grid.ndim
    row["fields_moved"] = float(moved)
    for term in setup.model.terms:
        row.update(term.observables(setup.model, state))
    return row, hist


def _same(v: float, v0: float) -> bool:
    return abs(v - v0) <= 0.3 * v0


def history_columns(setup: Setup) -> list[str]:
    d = setup.grid.ndim
    ori = ["angle_deg"] if d == 2 else ["qw", "qx", "qy", "qz"]
    return [
        "frame",
        "time_s",
        "grain_id",
        "field",
        f"volume_{_vol_unit(setup)}",
        *["x_nm", "y_nm", "z_nm"][:d],
        *ori,
    ]

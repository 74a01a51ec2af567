"""Grain tracking and order-parameter re-assignment for many-particle runs (host side).

Particles that never touch may share one order parameter (see `_packing`). As a run proceeds,
two grains on the same field may approach each other; before they meet, one of them is moved to
another field. A move swaps the values of two fields inside a region around the grain, so in
every cell the set of order-parameter values stays the same and the bulk free energy (symmetric
in the fields) is unchanged to round-off. The region ends half a safety distance from the grain
(and at the Voronoi boundary towards the other grains of its field), where both fields are down
to their tails, so the gradient energy changes only by those tails, plus the non-local ringing of
the spectral derivative between grains that shared a field; both shrink as the safety distance
grows.

Runs between moves stay inside one compiled program; `reassign` runs on the host between chunks.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sintersim.observables._labels import (
    nearest_label,
    periodic_centroid,
    periodic_distance,
    periodic_label,
)
from sintersim.state import State


class ReassignError(RuntimeError):
    """No free order parameter is left and adding one is not allowed."""


@dataclasses.dataclass(frozen=True)
class Move:
    """One grain moved from ``source`` to ``target`` field; ``centre`` in cells (its centroid)."""

    source: int
    target: int
    centre: tuple[float, ...]
    distance: float  # to the nearest grain on the source field, in cells


def close_pairs(eta: np.ndarray, safety: float, threshold: float = 0.5):
    """Per field, pairs of distinct grains (components of ``eta_f > threshold``, the grain
    cores) closer than ``safety`` cells: a list of (field, label_a, label_b, distance, labels).

    Cores, not tails: at a low threshold the tails of two nearby grains join and they would be
    taken for one grain. Candidates come from one distance transform per field: two grains are
    within ``safety`` only if their Voronoi cells meet where the two distances add up to less
    than ``safety`` plus a cell; only those pairs get the exact grain-to-grain distance, so a
    packing of a thousand grains costs a few transforms, not one per grain."""
    out = []
    for f in range(eta.shape[0]):
        labels, n = periodic_label(eta[f] > threshold)
        if n < 2:
            continue
        for a, b in _candidates(labels, safety):
            d = periodic_distance(labels == a, safety)
            dist = float(d[labels == b].min())
            if dist < safety:
                out.append((f, a, b, dist, labels))
    return out


def _candidates(labels: np.ndarray, safety: float) -> list[tuple[int, int]]:
    """Label pairs whose Voronoi cells touch where both are nearer than ``(safety + 2) / 2``."""
    from scipy import ndimage

    reach = int(np.ceil(safety)) + 2
    pad = [(min(reach, n), min(reach, n)) for n in labels.shape]
    padded = np.pad(labels, pad, mode="wrap")
    dist, idx = ndimage.distance_transform_edt(padded == 0, return_indices=True)
    near = padded[tuple(idx)]
    crop = tuple(slice(p, p + n) for (p, _), n in zip(pad, labels.shape, strict=True))
    near, dist = near[crop], dist[crop]
    found = set()
    for ax in range(labels.ndim):
        nb, db = np.roll(near, -1, axis=ax), np.roll(dist, -1, axis=ax)
        m = (near != nb) & (near > 0) & (nb > 0) & (dist + db < safety + 2.0)
        for a, b in zip(near[m].tolist(), nb[m].tolist(), strict=True):
            found.add((min(a, b), max(a, b)))
    return sorted(found)


def reassign(
    state: State,
    safety: float,
    *,
    threshold: float = 0.5,
    max_fields: int | None = None,
) -> tuple[State, list[Move]]:
    """Move grains so that no two grains closer than ``safety`` cells share a field.

    For every close pair on one field the smaller grain moves to the field that is farthest from
    it (at least ``safety`` away); when no field qualifies a new (empty) field is appended, unless
    that would exceed ``max_fields`` (then `ReassignError` says what to raise). Returns the new
    state and the moves made (empty list: the state is returned unchanged).

    With orientations (``state.orientation``), a field carries one crystal orientation, so a
    grain only moves to a field with the same orientation or to an empty one, which takes the
    grain's orientation; a grain's crystal never changes in a move.
    """
    eta = np.array(state.eta)
    orient = None if state.orientation is None else np.array(state.orientation)
    moves: list[Move] = []
    for _ in range(4 * eta.shape[0] + 16):  # each pass fixes one pair; bounded, never spins
        pairs = close_pairs(eta, safety, threshold)
        if not pairs:
            break
        f, a, b, dist, labels = pairs[0]
        small = a if np.sum(labels == a) <= np.sum(labels == b) else b
        grain = labels == small
        d_grain = periodic_distance(grain, 2 * safety)
        # The grain's Voronoi cell among the cores of its field (it holds the grain's tails),
        # no farther than safety/2 from it, so no core of the target field lies inside.
        region = (nearest_label(labels) == small) & (d_grain < 0.5 * safety)
        best, best_d = None, -1.0
        for g in range(eta.shape[0]):
            if g == f:
                continue
            occupied = eta[g] > threshold
            if orient is not None and occupied.any() and not np.array_equal(orient[g], orient[f]):
                continue  # another crystal lives on g
            dg = float(d_grain[occupied].min()) if occupied.any() else np.inf
            if dg >= safety and dg > best_d:
                best, best_d = g, dg
        if best is None:
            if max_fields is not None and eta.shape[0] >= max_fields:
                raise ReassignError(
                    f"max_fields = {max_fields}: no order parameter is free near the grain at "
                    f"{periodic_centroid(grain)} (cells); raise max_fields or lower the safety "
                    "distance"
                )
            eta = np.concatenate([eta, np.zeros_like(eta[:1])])
            if orient is not None:
                orient = np.concatenate([orient, orient[f : f + 1]])
            best = eta.shape[0] - 1
        if orient is not None:
            orient[best] = orient[f]  # same value, or an empty field taking the grain's crystal
        # Swap the two fields inside the region: every cell keeps the same set of values, so
        # the (field-symmetric) bulk energy is unchanged to round-off.
        eta[f], eta[best] = (
            np.where(region, eta[best], eta[f]),
            np.where(region, eta[f], eta[best]),
        )
        moves.append(Move(f, best, periodic_centroid(grain), dist))
    else:
        raise ReassignError("re-assignment did not settle; lower the safety distance")
    if not moves:
        return state, moves
    dtype = np.asarray(state.eta).dtype
    if orient is not None:
        orient = np.asarray(orient, dtype=np.asarray(state.orientation).dtype)
    return State(state.rho, np.asarray(eta, dtype=dtype), orient), moves


def fields_at(state: State, positions: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """The field each particle now lives on: the largest order parameter at its position.

    Particle identity (and with it its orientation) is the particle index; a move relabels the
    field of a grain, so this is re-read after every `reassign`. positions: (N, d) in length
    units (e.g. `Packing.centres`).
    """
    eta = np.asarray(state.eta)
    idx = np.floor(np.asarray(positions) / spacing).astype(int) % np.array(eta.shape[1:])
    values = eta[(slice(None), *idx.T)]  # (P, N)
    return np.argmax(values, axis=0)


def touching_pairs_share_field(eta: np.ndarray, threshold: float = 0.5) -> list[tuple[int, float]]:
    """Fields on which two distinct grains touch (within one cell at level ``threshold``)."""
    return [(f, d) for f, _a, _b, d, _ in close_pairs(np.asarray(eta), 1.5, threshold)]

r"""Observables of many-particle states (host side, NumPy): grains, contacts, necks, density.

A grain is a connected region of one order parameter above one half (fields are shared by
distant particles, so a field holds several grains). Two grains touch when they share a grain
boundary; its size comes from the boundary's own integral,

.. math::
    \ell_{ab} = \frac{\int \eta_a\eta_b\,dV}{\tfrac12 I_{gb}},\qquad
    I_{gb} = \int\sum_{i\ne j}\eta_i\eta_j\,dn\quad\text{(flat boundary)},

the boundary length in 2D (the neck width) or area in 3D (neck radius ``sqrt(area / pi)``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._grid import Grid
from ._reassign import _centroid, nearest_label, periodic_label
from ._state import State


@dataclasses.dataclass
class PackingObservables:
    """grains: (field, label) of every grain; centres (G, d) in length units; volumes (G,).
    contacts: (a, b) grain-index pairs with a boundary; necks: their neck width (2D) / radius
    (3D) in length units; coordination: contacts per grain; relative_density: solid fraction of
    the box, ``int rho dV / V_box``; dense_fraction: fraction of the box with rho > 1/2."""

    grains: list[tuple[int, int]]
    centres: np.ndarray
    volumes: np.ndarray
    contacts: list[tuple[int, int]]
    necks: np.ndarray
    coordination: np.ndarray
    relative_density: float
    dense_fraction: float

    @property
    def grain_count(self) -> int:
        return len(self.grains)

    def neck_histogram(self, bins=10):
        """(counts, edges) of the neck sizes."""
        return np.histogram(self.necks, bins=bins)

    def mean_contact_distance(self) -> float:
        """Mean centre-to-centre distance of touching grains (its relative change is the
        shrinkage of the packing)."""
        if not self.contacts:
            return float("nan")
        return float(np.mean([self._dist(a, b) for a, b in self.contacts]))

    box: tuple[float, ...] = ()

    def _dist(self, a: int, b: int) -> float:
        d = self.centres[a] - self.centres[b]
        box = np.asarray(self.box)
        d = d - box * np.round(d / box)
        return float(np.sqrt(np.sum(d**2)))


def packing_observables(
    state: State, grid: Grid, gb_integral: float, min_neck: float | None = None
) -> PackingObservables:
    """Grains, contacts and neck sizes of ``state`` (see the module docstring).

    gb_integral: ``I_gb`` of the model in length units (`grain_boundary_profile(...).gb_integral`
        times the length scale of that profile).
    min_neck: smallest boundary counted as a contact (default one grid spacing).
    """
    eta = np.asarray(state.eta, float)
    rho = np.asarray(state.rho, float)
    dv = grid.cell_volume
    h = grid.spacing
    min_neck = h if min_neck is None else min_neck
    grains, centres, volumes, masks = [], [], [], []
    for f in range(eta.shape[0]):
        core, n = periodic_label(eta[f] > 0.5)
        if n == 0:
            continue
        # Each grain's reach: the part of its field's tails (eta > 1e-2) nearer to it than to
        # any other grain of the same field (a periodic Voronoi cell).
        near = nearest_label(core)
        tails = eta[f] > 1e-2
        for a in range(1, n + 1):
            m = core == a
            grains.append((f, a))
            centres.append(np.asarray(_centroid(m)) * h)
            volumes.append(float(np.sum(eta[f][m]) * dv))
            masks.append((f, tails & (near == a)))
    contacts, necks = [], []
    for i in range(len(grains)):
        fi, mi = masks[i]
        for j in range(i + 1, len(grains)):
            fj, mj = masks[j]
            if fi == fj:
                continue
            both = mi & mj
            if not both.any():
                continue
            size = float(np.sum(eta[fi][both] * eta[fj][both]) * dv / (0.5 * gb_integral))
            if grid.ndim == 3:
                size = float(np.sqrt(size / np.pi))
            if size >= min_neck:
                contacts.append((i, j))
                necks.append(size)
    z = np.zeros(len(grains), int)
    for a, b in contacts:
        z[a] += 1
        z[b] += 1
    box_volume = grid.size * dv
    return PackingObservables(
        grains=grains,
        centres=np.asarray(centres).reshape(-1, grid.ndim),
        volumes=np.asarray(volumes),
        contacts=contacts,
        necks=np.asarray(necks),
        coordination=z,
        relative_density=float(np.sum(rho) * dv / box_volume),
        dense_fraction=float(np.mean(rho > 0.5)),
        box=tuple(grid.lengths),
    )


__all__ = ["PackingObservables", "packing_observables"]

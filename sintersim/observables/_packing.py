r"""Observables of many-particle states (host side, NumPy): grains, contacts, necks, density.

A grain is a connected region of one order parameter above one half (fields are shared by
distant particles, so a field holds several grains). Two grains touch when they share a grain
boundary at least ``min_neck`` long, measured by the boundary's own integral,

.. math::
    \ell_{ab} = \frac{\int \eta_a\eta_b\,dV}{\tfrac12 I_{gb}},\qquad
    I_{gb} = \int\sum_{i\ne j}\eta_i\eta_j\,dn\quad\text{(flat boundary)},

the boundary length in 2D or area in 3D. The neck of a contact is then measured like the
two-particle neck: the material cross-section of the plane through the boundary, normal to the
line between the two grain centres (width in 2D, radius ``sqrt(area / pi)`` in 3D); the boundary
integral alone reads about one interface width short, because the boundary fades where it meets
the free surface.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from sintersim.grid import Grid
from sintersim.observables._labels import nearest_label, periodic_centroid, periodic_label
from sintersim.state import State


@dataclasses.dataclass
class PackingObservables:
    """grains: (field, label) of every grain; centres (G, d) in length units; volumes (G,).
    contacts: (a, b) grain-index pairs with a boundary; necks: their neck width (2D) / radius
    (3D) in length units; coordination: contacts per grain; relative_density: solid fraction of
    the box, ``int rho dV / V_box``; dense_fraction: fraction of the box with rho > 1/2;
    misorientations: per contact, the symmetry-reduced misorientation (degrees) of the particles
    the two grains hold (the first particle of a merged grain); grain_particles: particle indices
    per grain."""

    grains: list[tuple[int, int]]
    centres: np.ndarray
    volumes: np.ndarray
    contacts: list[tuple[int, int]]
    necks: np.ndarray
    coordination: np.ndarray
    misorientations: np.ndarray  # per contact, degrees (nan without particle orientations)
    grain_particles: list[list[int]]  # particles whose centre lies in each grain
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


def _section(rho, pair, total, both, prod, ca, cb, volume, grid: Grid) -> float:
    """Neck of one contact: the material cross-section of the plane through the boundary's
    centroid, normal to the line between the grain centres; only material of the pair counts
    (rho times the pair's share of the grain fields). Width in 2D, radius sqrt(A/pi) in 3D: the
    same quantity as the two-particle `neck_size`."""
    h = grid.spacing
    box = np.asarray(grid.lengths)
    n = cb - ca
    n = n - box * np.round(n / box)
    n = n / np.linalg.norm(n)
    # Boundary centroid, unwrapped around grain a's centre.
    idx = np.nonzero(both)
    pts = (np.stack(idx, axis=-1) + 0.5) * h
    d = pts - ca
    d = d - box * np.round(d / box)
    w = prod[idx]
    x_gb = ca + np.sum(d * w[:, None], axis=0) / np.sum(w)
    # Orthonormal directions spanning the plane.
    basis = np.linalg.svd(n[None, :])[2][1:]
    reach = (volume / (np.pi if grid.ndim == 2 else 4.0 / 3.0 * np.pi)) ** (1.0 / grid.ndim)
    s = np.arange(-reach, reach + 1e-9, h / 2)
    mesh = np.meshgrid(*([s] * (grid.ndim - 1)), indexing="ij")
    q = x_gb + sum(m.reshape(-1, 1) * b for m, b in zip(mesh, basis, strict=True))
    coords = (q / h - 0.5).T  # array index coordinates of the sample points

    def sample(f):
        return ndimage.map_coordinates(f, coords, order=1, mode="grid-wrap")

    share = np.clip(sample(pair) / np.maximum(sample(total), 1e-12), 0.0, 1.0)
    area = float(np.sum(sample(rho) * share) * (h / 2) ** (grid.ndim - 1))
    return area if grid.ndim == 2 else float(np.sqrt(area / np.pi))


def packing_observables(
    state: State,
    grid: Grid,
    gb_integral: float,
    min_neck: float | None = None,
    positions: np.ndarray | None = None,
    orientations: np.ndarray | None = None,
) -> PackingObservables:
    """Grains, contacts and neck sizes of ``state`` (see the module docstring).

    gb_integral: ``I_gb`` of the model in length units (`grain_boundary_profile(...).gb_integral`
        times the length scale of that profile).
    min_neck: smallest boundary counted as a contact (default one grid spacing).
    positions, orientations: particle centres (length units) and orientations (`Packing`): they
        tie grains to particles and give each contact's misorientation.
    """
    eta = np.asarray(state.eta, float)
    rho = np.asarray(state.rho, float)
    dv = grid.cell_volume
    h = grid.spacing
    min_neck = h if min_neck is None else min_neck
    grains, centres, volumes, masks, members = [], [], [], [], []
    cells = None
    if positions is not None:
        cells = tuple((np.floor(np.asarray(positions) / h).astype(int) % np.array(grid.shape)).T)
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
            centres.append(np.asarray(periodic_centroid(m)) * h)
            volumes.append(float(np.sum(eta[f][m]) * dv))
            masks.append((f, tails & (near == a)))
            members.append([] if cells is None else np.nonzero(core[cells] == a)[0].tolist())
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
            gb = float(np.sum(eta[fi][both] * eta[fj][both]) * dv / (0.5 * gb_integral))
            if grid.ndim == 3:
                gb = float(np.sqrt(gb / np.pi))
            if gb >= min_neck:
                contacts.append((i, j))
                pair = np.where(mi, eta[fi], 0.0) + np.where(mj, eta[fj], 0.0)
                necks.append(
                    _section(
                        rho,
                        pair,
                        eta.sum(0),
                        both,
                        eta[fi] * eta[fj],
                        centres[i],
                        centres[j],
                        volumes[i] + volumes[j],
                        grid,
                    )
                )
    mis = np.full(len(contacts), np.nan)
    if orientations is not None and cells is not None:
        from sintersim.orientation import misorientation

        ori = np.asarray(orientations)
        for k, (a, b) in enumerate(contacts):
            if members[a] and members[b]:
                mis[k] = float(misorientation(ori[members[a][0]], ori[members[b][0]]))
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
        misorientations=mis,
        grain_particles=members,
        relative_density=float(np.sum(rho) * dv / box_volume),
        dense_fraction=float(np.mean(rho > 0.5)),
        box=tuple(grid.lengths),
    )


__all__ = ["PackingObservables", "packing_observables"]
